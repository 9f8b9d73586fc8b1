"""Lesson 05: exponentially weighted averages, their figures and the widget.

Oracle: the unrolled sum v_t = (1 - beta) sum_k beta^(t-k) theta_k + beta^t v_0,
written out here term by term.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import ema
from course_lib.batchnorm import update_running_stats


def unrolled(theta, beta, v0=0.0):
    """v_t for t = 1..T from the closed form, with math.fsum."""
    out = []
    for t in range(1, len(theta) + 1):
        terms = [(1 - beta) * beta ** (t - k) * theta[k - 1] for k in range(1, t + 1)]
        out.append(math.fsum([*terms, beta**t * v0]))
    return np.array(out)


@settings(max_examples=40, deadline=None)
@given(
    theta=st.lists(st.floats(-100, 100), min_size=1, max_size=30),
    beta=st.floats(0.0, 0.999),
    v0=st.floats(-5, 5),
)
def test_recursion_equals_unrolled_sum(theta, beta, v0):
    got = ema.exponentially_weighted_average(theta, beta, v0)
    np.testing.assert_allclose(got, unrolled(theta, beta, v0), rtol=1e-9, atol=1e-9)


def test_two_dimensional_series_is_column_by_column():
    rng = np.random.default_rng(0)
    theta = rng.normal(size=(25, 3))
    v0 = np.array([0.0, 1.0, -2.0])
    got = ema.exponentially_weighted_average(theta, 0.8, v0)
    for j in range(3):
        np.testing.assert_allclose(got[:, j], unrolled(theta[:, j], 0.8, v0[j]))
    assert not np.shares_memory(got, theta)


def test_weights_sum_to_one_minus_beta_power_t():
    for beta, t in [(0.9, 1), (0.9, 10), (0.98, 50), (0.0, 3)]:
        w = ema.ema_weights(beta, t)
        assert w.shape == (t,)
        assert w[-1] == pytest.approx(1 - beta)  # the newest value
        assert w.sum() == pytest.approx(1 - beta**t)
        np.testing.assert_allclose(w[:-1], beta * w[1:])  # each older value beta times less


def test_weights_reproduce_the_average():
    rng = np.random.default_rng(1)
    theta = rng.normal(size=12)
    v = ema.exponentially_weighted_average(theta, 0.7)
    assert v[-1] == pytest.approx(ema.ema_weights(0.7, 12) @ theta)


def test_effective_window():
    assert ema.effective_window(0.9) == pytest.approx(10)
    assert ema.effective_window(0.98) == pytest.approx(50)
    # a value 1/(1-beta) steps old weighs about 1/e of the newest: the meaning of the window
    for beta in (0.9, 0.99, 0.999):
        k = round(ema.effective_window(beta))
        assert beta**k == pytest.approx(1 / math.e, rel=0.06)


@settings(max_examples=40, deadline=None)
@given(c=st.floats(-50, 50), beta=st.floats(0.0, 0.999), t=st.integers(1, 200), v0=st.floats(-3, 3))
def test_bias_correction_is_exact_for_a_constant_series(c, beta, t, v0):
    v = ema.exponentially_weighted_average([c] * t, beta, v0)
    assert ema.bias_correct(v[-1], beta, t, v0) == pytest.approx(c, rel=1e-6, abs=1e-6)


def test_bias_corrected_average_is_the_normalized_weighted_mean():
    rng = np.random.default_rng(2)
    theta = rng.normal(3, 1, size=40)
    got = ema.bias_corrected_average(theta, 0.95)
    for t in (1, 5, 40):
        w = ema.ema_weights(0.95, t)
        assert got[t - 1] == pytest.approx(w @ theta[:t] / w.sum())
    assert got[0] == pytest.approx(theta[0])  # right from the first step
    raw = ema.exponentially_weighted_average(theta, 0.95)
    assert raw[0] == pytest.approx(0.05 * theta[0])  # the zero start's bias


def test_bias_corrected_average_two_dimensional():
    theta = np.random.default_rng(3).normal(size=(10, 2))
    got = ema.bias_corrected_average(theta, 0.9)
    np.testing.assert_allclose(got[:, 1], ema.bias_corrected_average(theta[:, 1], 0.9))


def test_same_as_update_running_stats():
    """The running mean is the EWA of the batch means from 0, the running variance the
    EWA of the unbiased batch variances from 1."""
    rng = np.random.default_rng(4)
    batches = rng.normal(2, 3, size=(15, 6, 2))
    mean, var = np.zeros(2), np.ones(2)
    for z in batches:
        mean, var = update_running_stats(mean, var, z, beta=0.9)
    ewa_mean = ema.exponentially_weighted_average(batches.mean(1), 0.9, 0.0)[-1]
    ewa_var = ema.exponentially_weighted_average(batches.var(1, ddof=1), 0.9, 1.0)[-1]
    np.testing.assert_allclose(mean, ewa_mean, rtol=1e-12)
    np.testing.assert_allclose(var, ewa_var, rtol=1e-12)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ema.exponentially_weighted_average([1.0], 1.0), "beta"),
        (lambda: ema.exponentially_weighted_average([1.0], -0.2), "beta"),
        (lambda: ema.exponentially_weighted_average([1.0], "x"), "beta"),
        (lambda: ema.exponentially_weighted_average([], 0.9), "non-empty"),
        (lambda: ema.exponentially_weighted_average(np.ones((2, 2, 2)), 0.9), "shape"),
        (lambda: ema.exponentially_weighted_average([1.0, np.nan], 0.9), "NaN"),
        (lambda: ema.bias_correct(1.0, 0.9, 0), "t must"),
        (lambda: ema.ema_weights(0.9, 0), "t must"),
        (lambda: ema.ema_weights(0.9, 2.5), "t must"),
        (lambda: ema.effective_window(1.0), "beta"),
        (lambda: ema.batch_stream(1), "batch_size"),
        (lambda: ema.batch_stream(4, steps=0), "steps"),
    ],
)
def test_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_batch_stream():
    s = ema.batch_stream(5, steps=400, seed=1)
    assert s.means.shape == s.var_unbiased.shape == s.var_biased.shape == (400,)
    np.testing.assert_allclose(s.var_unbiased, s.var_biased * 5 / 4)
    again = ema.batch_stream(5, steps=400, seed=1)
    np.testing.assert_array_equal(s.means, again.means)
    # sampling: batch means scatter with sd sigma/sqrt(m) around the population mean
    assert abs(s.means.mean() - ema.POP_MEAN) < 4 * ema.POP_STD / math.sqrt(5 * 400)
    assert np.std(s.means) == pytest.approx(ema.POP_STD / math.sqrt(5), rel=0.15)
    assert s.var_unbiased.mean() == pytest.approx(ema.POP_STD**2, rel=0.1)


@pytest.mark.parametrize(
    "make",
    [
        ema.plot_ema_weights,
        ema.plot_smoothing,
        ema.plot_bias_correction,
        ema.plot_running_estimates,
    ],
)
def test_figures(make):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    fig = make()
    assert isinstance(fig, Figure) and fig.axes
    plt.close(fig)


def test_assets_are_lesson_05():
    assert ema.ASSETS and all(name.startswith("05_") for name in ema.ASSETS)


def _controls(box):
    sliders = box.children[0].children[0].children
    return sliders, box.children[0].children[1], box.children[1]


def test_explorer_redraws_and_reports_the_estimates():
    import ipywidgets as widgets

    box = ema.ema_explorer()
    assert isinstance(box, widgets.VBox)
    (beta_s, m_s, steps_s), numbers, image = _controls(box)
    assert isinstance(image, widgets.Image) and image.value[:4] == b"\x89PNG"
    first_png, first_html = image.value, numbers.value
    beta_s.value, m_s.value, steps_s.value = 0.99, 2, 100
    assert image.value != first_png and numbers.value != first_html
    # the numbers shown are the EWAs of the same stream, computed here directly
    s = ema.batch_stream(2, ema.MAX_STEPS)
    mean = ema.exponentially_weighted_average(s.means[:100], 0.99)[-1]
    biased = ema.exponentially_weighted_average(s.var_biased[:100], 0.99, 1.0)[-1]
    assert f"{mean:.3f} / {mean / (1 - 0.99**100):.3f}" in numbers.value
    assert f"{biased:.3f}" in numbers.value
    assert "100 steps" in numbers.value and "2.000" in numbers.value  # (m-1)/m * 4


def test_line_renderer_matches_a_full_redraw():
    """The widget redraws only the lines over a cached background: same picture."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    fig = Figure(figsize=ema._FIGSIZE, dpi=60)
    fig.subplots_adjust(**ema._MARGINS)
    plot = ema._RunningEstimatesPlot(*fig.subplots(1, 2), xmax=ema.MAX_STEPS)
    render = ema._LineRenderer(fig, plot.lines)
    plot.update(ema.batch_stream(4, ema.MAX_STEPS), 0.95, 150)
    fast = np.asarray(Image.open(io.BytesIO(render.png())).convert("RGB"), dtype=int)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    full = np.asarray(canvas.buffer_rgba())[..., :3].astype(int)
    assert fast.shape == full.shape
    differing = np.any(np.abs(fast - full) > 40, axis=-1).mean()
    assert differing < 0.01  # only where a moving line crosses the dashed population line
    blank = np.asarray(Image.open(io.BytesIO(render.png())).convert("RGB"))
    assert np.array_equal(blank, fast.astype(np.uint8))  # redraws are repeatable
