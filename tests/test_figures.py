"""``course_lib.figures``: one sentence of alt text per figure, stored with the picture, and
the size of the smallest text drawn (what the slide tests check for readability). The
path through a real kernel into a stored output is tested on the site-features fixture."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from course_lib import figures


def _figure(dpi: float) -> Figure:
    fig = Figure(figsize=(4, 3), dpi=dpi)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1])
    ax.set_title("title", fontsize=20)
    ax.tick_params(labelsize=9)
    ax.set_xlabel("x", fontsize=12)
    return fig


@pytest.mark.parametrize("dpi", [72, 100, 150])
def test_min_font_px_is_the_smallest_text_in_pixels(dpi):
    # the tick labels (9 pt) are the smallest text: 9 pt = 9/72 inch = 9 * dpi / 72 px
    assert figures.min_font_px(_figure(dpi)) == pytest.approx(9 * dpi / 72, abs=0.01)


def test_hidden_and_empty_texts_do_not_count():
    fig = _figure(72)
    ax = fig.axes[0]
    ax.text(0.5, 0.5, "tiny but hidden", fontsize=3, visible=False)
    ax.text(0.5, 0.5, "   ", fontsize=2)
    ax.set_xticks([])  # no tick labels drawn: the x label (12 pt) ...
    ax.set_yticks([])
    assert figures.min_font_px(fig) == pytest.approx(12.0)
    assert figures.min_font_px(Figure()) is None


def test_the_recorder_restores_matplotlib():
    from matplotlib.text import Text

    original = Text.draw
    with pytest.raises(RuntimeError), figures.recording_text_sizes():
        raise RuntimeError("inside")
    assert Text.draw is original


@pytest.mark.parametrize("alt", ["", "   ", None, 3, "x" * 401])
def test_alt_must_be_one_sentence(alt):
    with pytest.raises(ValueError, match="alt"):
        figures.check_alt(alt)


def test_alt_white_space_is_normalized():
    assert figures.check_alt("  two\n lines ") == "two lines"


def test_show_outside_ipython_is_plt_show():
    fig = plt.figure()
    plt.plot([0, 1])
    figures.show("A rising line.")  # Agg: shows nothing, raises nothing
    plt.close(fig)
