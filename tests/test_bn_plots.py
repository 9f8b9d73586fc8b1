"""Lesson 03's figures and widget: the numbers they show, and that they draw."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib import bn_plots


@pytest.mark.parametrize("shape", bn_plots.SHAPES)
def test_input_sample_has_batch_mean_0_and_variance_1(shape):
    u = bn_plots.input_sample(shape, m=100, seed=3)
    assert u.shape == (100,)
    assert abs(u.mean()) < 1e-12 and abs(u.var() - 1.0) < 1e-12
    np.testing.assert_array_equal(u, bn_plots.input_sample(shape, m=100, seed=3))


def test_input_sample_shapes_differ_and_unknown_shape_is_an_error():
    skews = {s: float((bn_plots.input_sample(s, 2000) ** 3).mean()) for s in bn_plots.SHAPES}
    assert skews["skewed"] > 1.5 and abs(skews["normal"]) < 0.3
    with pytest.raises(ValueError, match="shape must be one of"):
        bn_plots.input_sample("uniform")


@pytest.mark.parametrize("eps", [1e-5, 1e-2])
def test_batch_statistics_follow_the_formulas(eps):
    z = 3.0 + 0.2 * bn_plots.input_sample("skewed", 64)
    stats = bn_plots.batch_statistics(z, gamma=1.5, beta=-0.5, eps=eps)
    assert stats["mu"] == pytest.approx(3.0)
    assert stats["var"] == pytest.approx(0.04)
    assert stats["denominator"] == pytest.approx(np.sqrt(0.04 + eps))
    assert stats["out_mean"] == pytest.approx(-0.5, abs=1e-12)
    assert stats["out_std"] == pytest.approx(1.5 * 0.2 / np.sqrt(0.04 + eps), rel=1e-9)
    assert stats["expected_out_std"] == pytest.approx(stats["out_std"], rel=1e-9)


def test_gradcheck_errors_form_a_v_with_its_bottom_near_1e_5():
    steps = np.array([1e-11, 1e-8, 1e-5, 1e-2])
    errors = bn_plots.gradcheck_errors(steps)
    assert errors[2] < 1e-8  # the recommended step gives a tiny error
    assert errors[0] > 100 * errors[2]  # rounding dominates
    assert errors[3] > 100 * errors[2]  # truncation dominates


@pytest.mark.parametrize(
    "make",
    [
        bn_plots.plot_batch_histograms,
        bn_plots.plot_computational_graph,
        bn_plots.plot_gradcheck_steps,
        bn_plots.plot_eps_effect,
    ],
)
def test_plot_functions_return_figures(make):
    fig = make()
    assert isinstance(fig, matplotlib.figure.Figure) and fig.axes
    plt.close(fig)


def test_assets_are_listed_with_the_lesson_prefix():
    assert set(bn_plots.ASSETS) and all(k.startswith("03_") for k in bn_plots.ASSETS)


def test_explorer_redraws_on_every_slider_and_prints_statistics():
    box = bn_plots.batchnorm_explorer(m=128)
    image = box.children[1]
    table = box.children[0].children[-1]
    assert set(box.sliders) == {"gamma", "beta", "eps", "mean", "spread", "shape"}
    assert image.value[:4] == b"\x89PNG"
    for name, value in (
        ("gamma", 0.5),
        ("beta", 1.5),
        ("eps", 1e-2),
        ("mean", -7.0),
        ("spread", 0.01),
        ("shape", "two bumps"),
    ):
        before = (image.value, table.value)
        box.sliders[name].value = value
        assert (image.value, table.value) != before, f"{name} did not redraw"
    # spread 0.01 (sigma^2 = 1e-4) against eps = 1e-2: the output std is damped, and said so
    assert "-7" in table.value and "damps" in table.value
    box.sliders["eps"].value = 1e-8
    assert "ε ≪ σ²" in table.value and "damps" not in table.value


def test_explorer_frames_look_like_a_full_redraw_of_the_same_state():
    # The explorer draws axes and titles once and only the histograms and lines per frame
    # (blitting); the frame must show what a full draw of the same state shows.
    import io

    from matplotlib.figure import Figure
    from PIL import Image

    from course_lib._widgets import figure_png

    box = bn_plots.batchnorm_explorer(m=256, seed=0)
    settings = {"gamma": 2.0, "beta": -1.5, "eps": 1e-2, "mean": -12.0, "spread": 0.2}
    for name, value in settings.items():
        box.sliders[name].value = value
    box.sliders["shape"].value = "two bumps"
    frame = np.asarray(Image.open(io.BytesIO(box.children[1].value)).convert("RGB"), float)

    fig = Figure(figsize=(7.2, 2.6), dpi=72)  # the explorer's figure, drawn in full
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.2, top=0.88, wspace=0.08)
    view = bn_plots._HistogramsView(tuple(fig.subplots(1, 2)))
    z = settings["mean"] + settings["spread"] * bn_plots.input_sample("two bumps", 256, 0)
    view.update(z, bn_plots._bn_column(z, settings["gamma"], settings["beta"], settings["eps"]))
    full = np.asarray(Image.open(io.BytesIO(figure_png(fig))).convert("RGB"), float)

    assert frame.shape == full.shape
    differ = np.abs(frame - full).max(axis=2) > 8
    assert differ.mean() < 0.002, f"{differ.sum()} pixels differ"  # only where lines cross ticks
