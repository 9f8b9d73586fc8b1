"""What every lesson's live widget shares."""

from __future__ import annotations

import io
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping

import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox


def figure_png(fig: Figure) -> bytes:
    """The figure as PNG bytes for an ``ipywidgets.Image``.

    Light compression: encoding is a large part of a redraw, and the bytes only
    travel from the kernel to the browser.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", pil_kwargs={"compress_level": 1})
    return buf.getvalue()


def rgba_png(rgba: np.ndarray) -> bytes:
    """An (h, w, 4) uint8 image (opaque) as PNG bytes: RGB, light compression."""
    from PIL import Image

    h, w = rgba.shape[:2]
    image = Image.frombuffer("RGBA", (w, h), np.ascontiguousarray(rgba), "raw", "RGBA", 0, 1)
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


class Blitter:
    """Redraw a widget's figure by drawing only what moves (matplotlib "blitting").

    A figure is split into regions (e.g. one per panel); each region's still parts
    (axes, ticks, labels, contour lines, ...) depend on a key the caller computes
    from the sliders. The first time a key is seen the whole figure is drawn without
    the moving artists (``animated=True``) and each region's pixels are kept; later
    the kept pixels are restored and only the moving artists are drawn on top.
    Text is the slowest thing matplotlib draws, so a redraw that skips the ticks and
    titles is several times faster than a full one.

    fig: the widget's Figure (no pyplot); regions: name -> Bbox in figure pixels,
    or None for the whole figure; keep: how many keys to keep per region.
    """

    def __init__(
        self, fig: Figure, regions: Mapping[str, Bbox | None] | None = None, keep: int = 16
    ) -> None:
        self.fig = fig
        self.canvas = FigureCanvasAgg(fig)
        self.regions = dict(regions or {"figure": None})
        self.keep = keep
        self._kept: dict[str, OrderedDict] = {name: OrderedDict() for name in self.regions}
        self.full_draws = 0  # how many times the whole figure was drawn (for tests)

    def _bbox(self, name: str) -> Bbox:
        return self.regions[name] or self.fig.bbox

    def render(
        self,
        keys: Mapping[str, Hashable],
        moving: Iterable[Artist],
        set_still: Callable[[], None] | None = None,
    ) -> np.ndarray:
        """Draw the current state; returns the canvas pixels, (h, w, 4) uint8 (a view).

        keys: region name -> key of its still parts. The caller sets every cheap
        state (axis limits: the moving artists are drawn with them) before calling;
        set_still(), when given, sets the costly still parts (e.g. contour lines)
        and is called only when the figure has to be drawn in full.
        """
        missing = [n for n in self.regions if keys[n] not in self._kept[n]]
        if missing:
            if set_still is not None:
                set_still()
            self.canvas.draw()  # animated artists are left out
            self.full_draws += 1
            for name in self.regions:
                kept = self._kept[name]
                kept[keys[name]] = self.canvas.copy_from_bbox(self._bbox(name))
                while len(kept) > self.keep:
                    kept.popitem(last=False)
        else:
            for name in self.regions:
                self._kept[name].move_to_end(keys[name])
                self.canvas.restore_region(self._kept[name][keys[name]])
        renderer = self.canvas.get_renderer()
        for artist in moving:
            artist.draw(renderer)
        return np.asarray(self.canvas.buffer_rgba())

    def png(self, keys, moving, set_still=None) -> bytes:
        """``render`` encoded as PNG bytes for an ``ipywidgets.Image``."""
        return rgba_png(self.render(keys, moving, set_still))


def explorer_box(sliders: dict, side, image, redraw: Callable[..., None]):
    """The layout of lessons 01-03's explorers: the sliders above ``side`` (a table or
    text), ``image`` to their right. Every slider calls ``redraw``, which runs once now.

    Returns an ipywidgets HBox; ``box.sliders`` maps the names to the sliders (the
    benchmarks and the tests move them).
    """
    import ipywidgets as widgets

    for slider in sliders.values():
        slider.observe(redraw, names="value")
    redraw()
    box = widgets.HBox([widgets.VBox([*sliders.values(), side]), image])
    box.sliders = sliders
    return box
