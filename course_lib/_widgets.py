"""What every lesson's live widget shares."""

from __future__ import annotations

import io

from matplotlib.figure import Figure


def figure_png(fig: Figure) -> bytes:
    """The figure as PNG bytes for an ``ipywidgets.Image``.

    Light compression: encoding is a large part of a redraw, and the bytes only
    travel from the kernel to the browser.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", pil_kwargs={"compress_level": 1})
    return buf.getvalue()
