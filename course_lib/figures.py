"""Showing a lesson's figure with its description (alt text), for every reader.

A notebook shows a figure with ``plt.show()``; the stored output then holds the
picture and nothing that says what it shows, so a screen reader, the site and the
slides can only say "image". ``show("one sentence")`` in place of ``plt.show()``
stores the sentence with the picture:

    scatter.plot_raw(X_train)
    show("The raw training set: a long cloud, x1 spread about five times wider than x2.")

The output is the picture ``plt.show()`` gives (the inline backend draws it), with
``{"image/png": {"alt": ..., "course_min_font_px": ...}}`` in the output's metadata:
``alt`` is the field nbconvert reads for the ``alt`` attribute (the slide decks) and
the site's builder reads it too; ``course_min_font_px`` is the size of the smallest
text drawn, in pixels of the stored PNG, so the slide tests can check that a figure
stays readable at the size it is shown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from matplotlib.figure import Figure
from matplotlib.text import Text

ALT_KEY = "alt"
MIN_FONT_KEY = "course_min_font_px"
MAX_ALT_CHARS = 400


def check_alt(alt: object) -> str:
    """``alt`` with its white space normalized; a ValueError unless it is a non-empty
    sentence of at most MAX_ALT_CHARS characters."""
    if not isinstance(alt, str) or not alt.strip():
        raise ValueError(f"alt must be one sentence saying what the figure shows, got {alt!r}")
    text = " ".join(alt.split())
    if len(text) > MAX_ALT_CHARS:
        raise ValueError(
            f"alt must be one sentence of at most {MAX_ALT_CHARS} characters, got {len(text)}"
        )
    return text


@contextlib.contextmanager
def recording_text_sizes() -> Iterator[list[float]]:
    """Within the block, the size in pixels of every text matplotlib draws is appended
    to the yielded list (tick labels only for the ticks drawn, mathtext included)."""
    sizes: list[float] = []
    original = Text.draw

    def draw(self: Text, renderer) -> None:
        if renderer is not None and self.get_visible() and self.get_text().strip():
            sizes.append(float(renderer.points_to_pixels(self.get_fontsize())))
        return original(self, renderer)

    Text.draw = draw
    try:
        yield sizes
    finally:
        Text.draw = original


def min_font_px(fig: Figure) -> float | None:
    """The smallest text of ``fig`` in pixels when drawn at its dpi (None: no text)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    with recording_text_sizes() as sizes:
        canvas.draw()
    return round(min(sizes), 2) if sizes else None


def show(alt: str, fig: Figure | None = None) -> None:
    """Show ``fig`` (default: pyplot's current figure) as ``plt.show()`` would, and store
    ``alt``, one sentence saying what it shows, with the picture.

    Outside IPython (a script) this is ``plt.show()``. The figure is closed after it is
    shown, as the inline backend does, so that it does not show up twice.
    """
    import matplotlib.pyplot as plt

    text = check_alt(alt)
    fig = plt.gcf() if fig is None else fig
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        plt.show()
        return
    if get_ipython() is None:
        plt.show()
        return
    from IPython.display import display

    meta: dict = {ALT_KEY: text}
    with recording_text_sizes() as sizes:
        # The formatter (the inline backend's) draws the figure here, at the dpi of
        # the stored PNG; the metadata goes out with that same display message, so
        # the picture is formatted first and then displayed with it.
        bundle, md = get_ipython().display_formatter.format(fig)
    if sizes:
        meta[MIN_FONT_KEY] = round(min(sizes), 2)
    md = dict(md)
    md["image/png"] = {**md.get("image/png", {}), **meta}
    display(bundle, metadata=md, raw=True)
    plt.close(fig)
