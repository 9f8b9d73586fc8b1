"""Static copies of the live widgets, for pages and slides that have no Python kernel.

A live widget of the course (``Lesson.make_widget()``) is a tree of ipywidgets:
controls (sliders, drop-downs) and what they redraw (``Image`` and ``HTML``
widgets), each control redrawing synchronously when its ``value`` changes. This
module drives such a widget as a learner would, with no knowledge of the lesson:

1. ``controls(root)`` finds the controls and, for each, the positions ("stops") the
   static copy offers: every value of the live slider, or at most ``FrameSpec.stops``
   of them spread evenly, always with the start value and both ends;
2. ``render_frames(root, spec)`` moves one control at a time through its stops (the
   others at their start values) and, for the two controls named in ``spec.grid``,
   through every combination of their stops; after each move it captures what the
   widget shows: the bytes of every ``Image`` (re-encoded as a compact palette PNG)
   and the HTML of every ``HTML`` widget.

The result (``Frames``) is what the site and the decks show with a small HTML/JS
slider (``scripts/build_site.py``): a state is the tuple of stop indices, one per
control, and every state the static copy can reach has its frame.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class FrameSpec:
    """How a lesson's live widget is pre-rendered (set per lesson in ``lessons.py``).

    grid: the descriptions (labels) of two controls that interact: every combination
        of their stops is drawn, so the static copy lets the reader move both.
    stops: the most stops per control (a slider with more values gets this many,
        evenly spread, with its start value and both ends).
    alt: one sentence saying what the widget's picture shows (the static copy adds
        the controls' values to it).
    """

    grid: tuple[str, str] | None = None
    stops: int = 9
    alt: str = ""

    def __post_init__(self) -> None:
        if self.stops < 2:
            raise ValueError(f"stops must be at least 2, got {self.stops}")
        if self.grid is not None and (len(self.grid) != 2 or self.grid[0] == self.grid[1]):
            raise ValueError(f"grid must name two different controls, got {self.grid!r}")


@dataclass
class Control:
    """One control of a live widget as the static copy offers it."""

    label: str  # the live control's description
    kind: str  # "range" (a slider) or "select" (a drop-down, toggle buttons, a check box)
    values: list  # the live value at each stop
    readouts: list[str]  # what the live widget shows at each stop
    default: int  # index of the start value in ``values``
    widget: object = field(repr=False, compare=False)
    option_index: list[int] | None = None  # a selection's option index at each stop

    def set(self, stop: int) -> None:
        """Move the live control to ``stop`` (the widget redraws)."""
        if self.option_index is not None:
            self.widget.index = self.option_index[stop]
        else:
            self.widget.value = self.values[stop]


@dataclass
class Frames:
    """Every frame of a static copy: ``states[k]`` shows ``images[k]`` and ``html[k]``."""

    controls: list[Control]
    grid: tuple[int, int] | None  # indices of the two grid controls
    states: list[tuple[int, ...]]
    images: list[list[bytes]]  # per state: one PNG per Image widget, in tree order
    html: list[list[str]]  # per state: the value of each HTML widget, in tree order
    image_sizes: list[tuple[int, int]]  # (width, height) of each Image widget's picture

    def total_bytes(self) -> int:
        """Bytes of the distinct images (what the site stores)."""
        seen = {hashlib.sha256(b).digest(): len(b) for frame in self.images for b in frame}
        return sum(seen.values())


# ------------------------------------------------------------------ the widget tree


def walk(widget):
    """The widget and all its descendants (children of boxes), depth first."""
    yield widget
    for child in getattr(widget, "children", ()) or ():
        yield from walk(child)


def _kinds():
    import ipywidgets as w
    from ipywidgets.widgets import widget_bool, widget_float, widget_int, widget_selection

    controls = (
        widget_int._BoundedInt,
        widget_float._BoundedFloat,
        widget_float._BoundedLogFloat,
        widget_selection._Selection,
        widget_bool._Bool,
    )
    shown = (w.Image, w.HTML, w.HTMLMath, w.Label, w.IntProgress, w.FloatProgress, w.Output)
    unsupported = (
        widget_int._IntRange,
        widget_float._FloatRange,
        widget_selection._MultipleSelection,
    )
    return w, controls, shown, unsupported


def controls(root, stops: int = 9) -> list[Control]:
    """The controls of the widget ``root``, each with at most ``stops`` stops.

    Raises ValueError for a control the static copy cannot drive (a range slider, a
    multiple selection, a text field or any other input whose values cannot be listed).
    """
    w, control_types, shown, unsupported = _kinds()
    found = []
    for widget in walk(root):
        if isinstance(widget, shown) or isinstance(widget, w.Box):
            continue
        if isinstance(widget, unsupported) or not isinstance(widget, control_types):
            if isinstance(widget, w.ValueWidget) and not getattr(widget, "disabled", False):
                raise ValueError(
                    f"root: the static copy cannot drive a {type(widget).__name__} "
                    f"({getattr(widget, 'description', '')!r}); expected sliders, "
                    "drop-downs, toggle buttons or check boxes"
                )
            continue
        if getattr(widget, "disabled", False):
            continue
        found.append(_control(widget, stops))
    return found


def _control(widget, stops: int) -> Control:
    from ipywidgets.widgets import widget_bool, widget_float, widget_selection

    label = str(getattr(widget, "description", "") or type(widget).__name__)
    if isinstance(widget, widget_selection._Selection):
        labels = [str(x) for x in widget._options_labels]
        picks = _spread(len(labels), widget.index, stops)
        values = [widget._options_values[i] for i in picks]
        kind = "range" if "Slider" in type(widget).__name__ else "select"
        readouts = [labels[i] for i in picks]
        return Control(label, kind, values, readouts, picks.index(widget.index), widget, picks)
    if isinstance(widget, widget_bool._Bool):
        values = [False, True]
        return Control(
            label, "select", values, ["off", "on"], values.index(bool(widget.value)), widget
        )
    # numeric sliders: the values the live slider can take, min to max by step
    log = isinstance(widget, widget_float._BoundedLogFloat)
    lo, hi = float(widget.min), float(widget.max)
    step = float(widget.step or 1)
    count = int(math.floor((hi - lo) / step + 1e-9)) + 1
    grid = [lo + k * step for k in range(count)]
    start = math.log(widget.value, widget.base) if log else float(widget.value)
    nearest = int(np.argmin([abs(g - start) for g in grid]))
    if not math.isclose(grid[nearest], start, rel_tol=1e-9, abs_tol=1e-12):
        grid.insert(nearest + (grid[nearest] < start), start)  # an off-grid start value
        nearest = grid.index(start)
    picks = _spread(len(grid), nearest, stops)
    exps = [grid[i] for i in picks]
    if log:
        values = [float(widget.base) ** e for e in exps]
    elif isinstance(widget.value, int):
        values = [int(round(e)) for e in exps]
    else:
        decimals = max(0, -int(math.floor(math.log10(step)))) + 2 if step < 1 else 6
        values = [round(e, decimals) for e in exps]
    values[picks.index(nearest)] = widget.value
    fmt = getattr(widget, "readout_format", "") or ("d" if isinstance(widget.value, int) else "")
    return Control(
        label, "range", values, [_readout(v, fmt) for v in values], picks.index(nearest), widget
    )


def _spread(count: int, keep: int, stops: int) -> list[int]:
    """Up to ``stops`` indices of ``range(count)``, evenly spread, with both ends and
    ``keep``; all of them when there are no more than ``stops``."""
    if count <= stops:
        return list(range(count))
    picks = {int(round(x)) for x in np.linspace(0, count - 1, stops)}
    if keep not in picks:  # the start value replaces the nearest inner stop
        inner = sorted(p for p in picks if p not in (0, count - 1))
        if inner:
            picks.discard(min(inner, key=lambda p: abs(p - keep)))
        picks.add(keep)
    return sorted(picks)


def _readout(value, fmt: str) -> str:
    """The value as the live slider's readout shows it (ipywidgets' d3 format codes
    mostly match Python's)."""
    try:
        return format(value, fmt.lstrip("~")) if fmt else f"{value:g}"
    except (ValueError, TypeError):
        return str(value)


# ------------------------------------------------------------------ frames


def compress_png(data: bytes, colors: int = 256) -> bytes:
    """A PNG with at most ``colors`` colours (median cut, no dithering), optimized:
    about a third of the widget's quickly encoded PNG, indistinguishable for plots."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        pal = im.convert("RGB").quantize(
            colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    out = io.BytesIO()
    pal.save(out, format="png", optimize=True)
    return out.getvalue()


def states(ctrls: list[Control], grid: tuple[int, int] | None) -> list[tuple[int, ...]]:
    """Every state the static copy can reach: the start state, each control moved alone,
    and every combination of the two grid controls (others at their start values)."""
    start = tuple(c.default for c in ctrls)
    found = [start]
    for i, c in enumerate(ctrls):
        for k in range(len(c.values)):
            found.append(start[:i] + (k,) + start[i + 1 :])
    if grid is not None:
        a, b = grid
        for ka in range(len(ctrls[a].values)):
            for kb in range(len(ctrls[b].values)):
                s = list(start)
                s[a], s[b] = ka, kb
                found.append(tuple(s))
    return list(dict.fromkeys(found))


def _outputs(root):
    w, _, _, _ = _kinds()
    images = [x for x in walk(root) if isinstance(x, w.Image)]
    html = [x for x in walk(root) if isinstance(x, w.HTML | w.HTMLMath)]
    return images, html


def _grid_indices(ctrls: list[Control], spec: FrameSpec) -> tuple[int, int] | None:
    if spec.grid is None:
        return None
    labels = [c.label for c in ctrls]
    missing = [g for g in spec.grid if g not in labels]
    if missing:
        raise ValueError(f"spec.grid names {missing}, the widget's controls are {labels}")
    return labels.index(spec.grid[0]), labels.index(spec.grid[1])


def render_frames(root, spec: FrameSpec | None = None) -> Frames:
    """Drive the live widget ``root`` through every state of its static copy and capture
    each frame (see the module's docstring). The widget is left in its start state.

    Raises ValueError if the widget has no control or no Image, or if it does not draw
    the same start frame again at the end (a widget that is not a function of its
    controls cannot have a static copy).
    """
    spec = spec or FrameSpec()
    ctrls = controls(root, spec.stops)
    if not ctrls:
        raise ValueError("root: the widget has no control to move")
    images, html = _outputs(root)
    if not images:
        raise ValueError("root: the widget has no Image widget to capture")
    grid = _grid_indices(ctrls, spec)
    encoded: dict[bytes, bytes] = {}

    def capture() -> tuple[list[bytes], list[str]]:
        pngs = []
        for img in images:
            raw = bytes(img.value)
            key = hashlib.sha256(raw).digest()
            if key not in encoded:
                encoded[key] = compress_png(raw)
            pngs.append(encoded[key])
        return pngs, [str(h.value) for h in html]

    current = [c.default for c in ctrls]
    first = capture()
    all_states = states(ctrls, grid)
    frames_img, frames_html = [], []
    for state in all_states:
        for i, k in enumerate(state):
            if current[i] != k:
                ctrls[i].set(k)
                current[i] = k
        pngs, texts = capture()
        frames_img.append(pngs)
        frames_html.append(texts)
    for i, c in enumerate(ctrls):  # back to the start
        if current[i] != c.default:
            c.set(c.default)
    if capture() != first or (frames_img[0], frames_html[0]) != first:
        raise ValueError("root: the widget draws a different picture for the same values")
    sizes = []
    for png in frames_img[0]:
        from PIL import Image

        with Image.open(io.BytesIO(png)) as im:
            sizes.append(im.size)
    return Frames(ctrls, grid, all_states, frames_img, frames_html, sizes)
