"""What every lesson's live widget shares."""

from __future__ import annotations

import io
from collections.abc import Callable

from matplotlib.figure import Figure


def figure_png(fig: Figure) -> bytes:
    """The figure as PNG bytes for an ``ipywidgets.Image``.

    Light compression: encoding is a large part of a redraw, and the bytes only
    travel from the kernel to the browser.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", pil_kwargs={"compress_level": 1})
    return buf.getvalue()


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
