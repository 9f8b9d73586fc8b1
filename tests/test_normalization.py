"""course_lib.normalization against independent oracles: scikit-learn's StandardScaler,
a re-derivation with Python's statistics module, and properties (hypothesis)."""

from __future__ import annotations

import statistics
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.preprocessing import StandardScaler

from course_lib.data import breast_cancer, two_feature_data
from course_lib.normalization import (
    ConstantFeatureWarning,
    fit_normalizer,
    fold_normalization,
    normalize,
)


def fit_quiet(X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantFeatureWarning)
        return fit_normalizer(X)


# --------------------------------------------------------------------------- oracles
def test_matches_statistics_module_on_a_small_matrix():
    X = np.array([[1.0, -2.0, 10.0], [4.0, 0.5, 30.0], [2.5, 3.0, 20.0], [7.0, -1.0, 0.0]])
    mu, sigma = fit_normalizer(X)
    cols = [X[:, j].tolist() for j in range(X.shape[1])]
    assert np.allclose(mu, [statistics.fmean(c) for c in cols], rtol=0, atol=1e-14)
    # pstdev: the population (1/m) standard deviation, the notes' definition
    assert np.allclose(sigma, [statistics.pstdev(c) for c in cols], rtol=1e-14, atol=0)
    expected = [
        [(X[i, j] - statistics.fmean(cols[j])) / statistics.pstdev(cols[j]) for j in range(3)]
        for i in range(4)
    ]
    assert np.allclose(normalize(X, mu, sigma), expected, rtol=0, atol=1e-14)


def test_agrees_with_standard_scaler_on_breast_cancer():
    split = breast_cancer()
    mu, sigma = fit_normalizer(split.X_train)
    scaler = StandardScaler().fit(split.X_train)
    np.testing.assert_allclose(mu, scaler.mean_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sigma, scaler.scale_, rtol=1e-12, atol=1e-12)
    for X in (split.X_train, split.X_test):
        assert np.max(np.abs(normalize(X, mu, sigma) - scaler.transform(X))) <= 1e-12


@pytest.mark.parametrize("value", [4.0, 0.1, -123.456, 0.0])
def test_agrees_with_standard_scaler_with_a_constant_column(value):
    rng = np.random.default_rng(1)
    X = rng.normal([3.0, 0.0, -50.0], [2.0, 1.0, 40.0], size=(37, 3))
    X[:, 1] = value
    X_test = rng.normal([3.0, 0.0, -50.0], [2.0, 1.0, 40.0], size=(9, 3))
    with pytest.warns(ConstantFeatureWarning, match=r"\[1\]"):
        mu, sigma = fit_normalizer(X)
    scaler = StandardScaler().fit(X)
    assert sigma[1] == 1.0 and scaler.scale_[1] == 1.0
    np.testing.assert_allclose(mu, scaler.mean_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sigma, scaler.scale_, rtol=1e-12, atol=1e-12)
    for data in (X, X_test):
        assert np.max(np.abs(normalize(data, mu, sigma) - scaler.transform(data))) <= 1e-12
    # An exactly constant feature is centred to exact zeros (its mean is its value).
    assert np.all(normalize(X, mu, sigma)[:, 1] == 0.0)
    # In the test set the same feature is only centred, never divided by ~0.
    np.testing.assert_allclose(normalize(X_test, mu, sigma)[:, 1], X_test[:, 1] - value)


def test_round_off_spread_counts_as_constant_like_standard_scaler():
    # A column that is constant but for one ulp: its computed sigma is pure round-off.
    X = np.column_stack([np.linspace(0.0, 1.0, 50), np.full(50, 1e8)])
    X[7, 1] = np.nextafter(1e8, 2e8)
    with pytest.warns(ConstantFeatureWarning):
        mu, sigma = fit_normalizer(X)
    scaler = StandardScaler().fit(X)
    assert sigma[1] == 1.0 == scaler.scale_[1]
    assert np.max(np.abs(normalize(X, mu, sigma) - scaler.transform(X))) <= 1e-12


def test_test_set_uses_the_training_statistics():
    split = two_feature_data()
    mu, sigma = fit_normalizer(split.X_train)
    shifted = split.X_test + np.array([3.0, 0.0])
    np.testing.assert_allclose(normalize(shifted, mu, sigma), (shifted - mu) / sigma)
    # the shift survives: 3 / sigma_1 in normalized units
    moved = normalize(shifted, mu, sigma).mean(0) - normalize(split.X_test, mu, sigma).mean(0)
    np.testing.assert_allclose(moved, [3.0 / sigma[0], 0.0], atol=1e-12)


def test_single_example_and_round_trip():
    split = two_feature_data()
    mu, sigma = fit_normalizer(split.X_train)
    one = split.X_test[:1]
    assert normalize(one, mu, sigma).shape == (1, 2)
    np.testing.assert_allclose(normalize(one, mu, sigma) * sigma + mu, one, rtol=1e-13)


def test_a_single_training_example_is_all_constant():
    with pytest.warns(ConstantFeatureWarning, match=r"\[0, 1, 2\]"):
        mu, sigma = fit_normalizer(np.array([[1.0, 2.0, 3.0]]))
    np.testing.assert_array_equal(mu, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(sigma, [1.0, 1.0, 1.0])


def test_no_warning_without_constant_features():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_normalizer(two_feature_data().X_train)


def test_dtypes():
    X32 = two_feature_data().X_train.astype(np.float32)
    mu, sigma = fit_normalizer(X32)
    assert mu.dtype == sigma.dtype == np.float32
    assert normalize(X32, mu, sigma).dtype == np.float32
    Xi = np.array([[1, 2], [3, 5], [6, 4]])
    mu, sigma = fit_normalizer(Xi)
    assert mu.dtype == np.float64
    np.testing.assert_allclose(normalize(Xi, mu, sigma).std(0), 1.0)
    # a (1, n) row for mu and sigma is accepted, as broadcasting code often keeps one
    np.testing.assert_allclose(normalize(Xi, mu[None], sigma[None]), normalize(Xi, mu, sigma))


# --------------------------------------------------------------------------- never mutates
def test_inputs_never_modified():
    rng = np.random.default_rng(3)
    X = rng.normal(2.0, 5.0, size=(20, 4))
    X[:, 2] = 7.0
    X_test = rng.normal(size=(5, 4))
    copies = X.copy(), X_test.copy()
    mu, sigma = fit_quiet(X)
    mu_c, sigma_c = mu.copy(), sigma.copy()
    out = normalize(X, mu, sigma)
    out_test = normalize(X_test, mu, sigma)
    np.testing.assert_array_equal(X, copies[0])
    np.testing.assert_array_equal(X_test, copies[1])
    np.testing.assert_array_equal(mu, mu_c)
    np.testing.assert_array_equal(sigma, sigma_c)
    for a in (mu, sigma, out, out_test):
        assert not np.shares_memory(a, X) and not np.shares_memory(a, X_test)


def test_read_only_inputs_work():
    X = two_feature_data().X_train.copy()
    X.setflags(write=False)
    mu, sigma = fit_normalizer(X)
    mu.setflags(write=False)
    sigma.setflags(write=False)
    assert normalize(X, mu, sigma).shape == X.shape


# --------------------------------------------------------------------------- errors
GOOD = np.arange(12.0).reshape(4, 3) ** 1.5


@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.arange(5.0), r"X must be 2-D .* ndim=1"),
        (np.ones((2, 3, 4)), r"X must be 2-D .* ndim=3"),
        (np.float64(3.0), r"X must be 2-D .* ndim=0"),
        (np.ones((0, 3)), r"X is empty"),
        (np.ones((3, 0)), r"X is empty"),
        (np.array([[1.0, np.nan], [2.0, 3.0]]), r"X contains 1 NaN or infinite"),
        (np.array([[1.0, np.inf], [2.0, -np.inf]]), r"X contains 2 NaN or infinite"),
        (np.array([["a", "b"], ["c", "d"]]), r"X must be a numeric array"),
        ([[1.0, None], [2.0, 3.0]], r"X must be a numeric array"),
        (np.array([[1.0, 2j], [2.0, 3.0]]), r"X must hold real numbers, got dtype complex128"),
    ],
)
def test_fit_normalizer_errors(X, match):
    with pytest.raises(ValueError, match=match):
        fit_normalizer(X)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((GOOD[0], np.zeros(3), np.ones(3)), r"X must be 2-D .* ndim=1"),
        ((GOOD[None], np.zeros(3), np.ones(3)), r"X must be 2-D .* ndim=3"),
        ((np.ones((0, 3)), np.zeros(3), np.ones(3)), r"X is empty"),
        ((np.where(GOOD > 5, np.nan, GOOD), np.zeros(3), np.ones(3)), r"X contains .* NaN"),
        ((GOOD, np.zeros(2), np.ones(3)), r"mu must have shape \(3,\).* got shape \(2,\)"),
        ((GOOD, np.zeros(3), np.ones(4)), r"sigma must have shape \(3,\).* got shape \(4,\)"),
        ((GOOD, np.zeros((2, 3)), np.ones(3)), r"mu must have shape \(3,\)"),
        ((GOOD, np.zeros((3, 1)), np.ones(3)), r"mu must have shape \(3,\)"),
        ((GOOD, np.array([0.0, np.nan, 0.0]), np.ones(3)), r"mu contains NaN"),
        ((GOOD, np.zeros(3), np.array([1.0, np.inf, 1.0])), r"sigma contains NaN or infinite"),
        ((GOOD, np.zeros(3), np.array([1.0, 0.0, 1.0])), r"sigma must be > 0 .* \[1\]"),
        ((GOOD, np.zeros(3), np.array([-1.0, 1.0, 1.0])), r"sigma must be > 0 .* \[0\]"),
        ((GOOD, np.zeros(3), "one"), r"sigma must be a numeric array"),
    ],
)
def test_normalize_errors(args, match):
    with pytest.raises(ValueError, match=match):
        normalize(*args)


# --------------------------------------------------------------------------- properties
@st.composite
def training_sets(draw):
    """(m, n) data whose features sit at different offsets and scales (10^-3 ... 10^3)."""
    m = draw(st.integers(2, 40))
    n = draw(st.integers(1, 5))
    base = draw(
        arrays(
            np.float64,
            (m, n),
            elements=st.floats(-100, 100, allow_nan=False, allow_subnormal=False),
        )
    )
    scale = 10.0 ** draw(arrays(np.float64, n, elements=st.floats(-3, 3)))
    offset = draw(arrays(np.float64, n, elements=st.floats(-1e3, 1e3)))
    return base * scale + offset


def well_conditioned(X):
    """Features whose spread is far above the round-off of their mean (the rest are,
    numerically, constants: their 'std 1' would be amplified noise)."""
    return X.std(0) > 1e-4 * np.maximum(1.0, np.abs(X.mean(0)))


@settings(max_examples=60, deadline=None)
@given(training_sets())
def test_property_mean_0_std_1_per_non_constant_feature(X):
    mu, sigma = fit_quiet(X)
    Xn = normalize(X, mu, sigma)
    ok = well_conditioned(X)
    np.testing.assert_allclose(Xn.mean(0)[ok], 0.0, atol=1e-9)
    np.testing.assert_allclose(Xn.std(0)[ok], 1.0, rtol=1e-9)
    # exactly constant features are centred to zeros, never blown up
    exact = np.all(X == X[0], axis=0)
    assert np.all(Xn[:, exact] == 0.0)
    assert np.all(np.isfinite(Xn))


@settings(max_examples=40, deadline=None)
@given(training_sets())
def test_property_agrees_with_standard_scaler(X):
    ok = well_conditioned(X)
    mu, sigma = fit_quiet(X)
    scaler = StandardScaler().fit(X)
    np.testing.assert_allclose(mu, scaler.mean_, rtol=1e-12, atol=1e-9)
    Xn, Xs = normalize(X, mu, sigma), scaler.transform(X)
    np.testing.assert_allclose(Xn[:, ok], Xs[:, ok], rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(training_sets(), st.floats(0.01, 100), st.floats(-1e3, 1e3))
def test_property_invariant_to_unit_and_offset(X, a, b):
    """Changing units and origin of every feature (a > 0) changes nothing after normalizing."""
    ok = well_conditioned(X) & well_conditioned(a * X + b)
    Xn = normalize(X, *fit_quiet(X))
    Yn = normalize(a * X + b, *fit_quiet(a * X + b))
    np.testing.assert_allclose(Yn[:, ok], Xn[:, ok], atol=1e-6)


# ---------------------------------------------------------------------- folding into raw weights
def test_fold_normalization_matches_a_model_fitted_on_raw_inputs():
    """Oracle: scikit-learn's least squares on standardized inputs, folded, equals
    least squares on the raw inputs (the same family of models, the same minimum)."""
    from sklearn.linear_model import LinearRegression

    split = breast_cancer()
    X, y = split.X_train, split.y_train.astype(float)
    scaler = StandardScaler().fit(X)
    on_normalized = LinearRegression().fit(scaler.transform(X), y)
    on_raw = LinearRegression().fit(X, y)
    w_raw, b_raw = fold_normalization(
        on_normalized.coef_, on_normalized.intercept_, scaler.mean_, scaler.scale_
    )
    np.testing.assert_allclose(X @ w_raw + b_raw, on_raw.predict(X), atol=1e-8)
    np.testing.assert_allclose(w_raw, on_raw.coef_, rtol=1e-5, atol=1e-9 * np.abs(w_raw).max())
    assert isinstance(b_raw, float)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 3),
    st.integers(0, 2**32 - 1),
)
def test_property_folded_model_gives_the_same_predictions(n, k, seed):
    rng = np.random.default_rng(seed)
    mu = rng.uniform(-100, 100, n)
    sigma = 10 ** rng.uniform(-3, 3, n)
    X = mu + sigma * rng.normal(size=(7, n))
    W, b = rng.normal(size=(n, k)), rng.normal(size=k)
    W_raw, b_raw = fold_normalization(W, b, mu, sigma)
    scale = np.abs(normalize(X, mu, sigma) @ W).max() + np.abs(b).max() + 1.0
    np.testing.assert_allclose(
        X @ W_raw + b_raw,
        normalize(X, mu, sigma) @ W + b,
        atol=1e-9 * scale * np.abs(mu / sigma).max() + 1e-12,
    )
    w_raw, b1 = fold_normalization(W[:, 0], b[0], mu, sigma)  # one output: (n,) and a float
    np.testing.assert_allclose(w_raw, W_raw[:, 0])
    assert b1 == pytest.approx(b_raw[0])


def test_fold_normalization_leaves_its_inputs_and_rejects_bad_ones():
    w, mu, sigma = np.array([1.0, -2.0]), np.array([3.0, 4.0]), np.array([0.5, 2.0])
    frozen = [a.copy() for a in (w, mu, sigma)]
    for a in (w, mu, sigma):
        a.flags.writeable = False
    w_raw, b_raw = fold_normalization(w, 1.0, mu, sigma)
    np.testing.assert_allclose(w_raw, [2.0, -1.0])
    assert b_raw == pytest.approx(1.0 - (6.0 - 4.0))
    for a, b in zip((w, mu, sigma), frozen, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        fold_normalization(w, 1.0, mu, np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"mu must have shape \(2,\)"):
        fold_normalization(w, 1.0, mu[:1], sigma)
    with pytest.raises(ValueError, match="b must be a number or have shape"):
        fold_normalization(w, np.ones(3), mu, sigma)
    with pytest.raises(ValueError, match=r"w must have shape \(n,\) or \(n, k\)"):
        fold_normalization(np.ones((2, 2, 2)), 1.0, mu, sigma)


# --------------------------------------------------------------------------- figures, widget
# (course_lib.scatter draws lesson 01's figures; what they show is checked through the
# data of their artists, since nbval does not compare images.)
@pytest.fixture
def close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def _offsets(ax, k=0):
    return np.asarray(ax.collections[k].get_offsets())


def test_scatter_steps_and_one_frame(close_figures):
    from course_lib import scatter

    X = two_feature_data().X_train
    mu, sigma = fit_normalizer(X)
    s = scatter.steps(X)
    np.testing.assert_array_equal(s["raw"], X)
    np.testing.assert_allclose(s["centred"], X - mu)
    np.testing.assert_allclose(s["scaled"], (X - mu) / sigma)
    fig = scatter.plot_three_steps(X)
    fig.canvas.draw()
    axes = fig.axes
    assert len(axes) == 3
    for ax, key in zip(axes, ["raw", "centred", "scaled"], strict=True):
        np.testing.assert_allclose(_offsets(ax), s[key])
        np.testing.assert_allclose(
            [ax.get_xlim(), ax.get_ylim()], [axes[0].get_xlim(), axes[0].get_ylim()]
        )
    x0, x1 = axes[0].get_xlim()
    y0, y1 = axes[0].get_ylim()
    every = np.vstack([*s.values(), [[0.0, 0.0]]])
    assert x0 <= every[:, 0].min() and every[:, 0].max() <= x1
    assert y0 <= every[:, 1].min() and every[:, 1].max() <= y1
    for plot, key in [
        (scatter.plot_raw, "raw"),
        (scatter.plot_centred, "centred"),
        (scatter.plot_scaled, "scaled"),
    ]:
        np.testing.assert_allclose(_offsets(plot(X).axes[0]), s[key])


def test_scatter_titles_print_the_statistics(close_figures):
    from course_lib import scatter

    assert scatter.stats_line(np.array([[1.0, -1e-17], [3.0, 1e-18]])) == (
        "μ = (2.00, 0.00)   σ = (1.00, 0.00)"
    )
    X = two_feature_data().X_train
    fig = scatter.plot_variance_error(X)
    wrong, right = (_offsets(ax) for ax in fig.axes)
    np.testing.assert_allclose(wrong.var(0), 1 / X.var(0))
    np.testing.assert_allclose(right.var(0), 1.0)
    assert "σ² = (0.17, 3.95)" in fig.axes[0].get_title()


def test_scatter_test_statistics(close_figures):
    from course_lib import scatter

    split = two_feature_data()
    mu, sigma = fit_normalizer(split.X_train)
    batch = split.X_test[:30] + np.array([3.0, 0.0])
    fig = scatter.plot_test_statistics(split.X_train, batch)
    right, own = (_offsets(ax, 1) for ax in fig.axes)
    np.testing.assert_allclose(right, (batch - mu) / sigma)
    np.testing.assert_allclose(own.mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(own.std(0), 1.0)
    with pytest.raises(ValueError, match="at least 2 examples"):
        scatter.plot_test_statistics(split.X_train, batch[:1])


def test_scatter_feature_scales(close_figures):
    from course_lib import scatter

    split = breast_cancer()
    fig = scatter.plot_feature_scales(split.X_train, split.X_test, split.feature_names)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    sd = split.X_train.std(0)
    assert labels == [split.feature_names[j] for j in np.argsort(sd)]
    np.testing.assert_allclose(_offsets(fig.axes[0])[:, 0], np.sort(sd))
    assert "2.5e+05" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="feature_names must have 30 names"):
        scatter.plot_feature_scales(split.X_train, None, ["a"])
    with pytest.raises(ValueError, match="X_test must have 30 features"):
        scatter.plot_feature_scales(split.X_train, split.X_test[:, :3])


def test_normalization_explorer_redraws_on_slider_change():
    import ipywidgets as widgets

    from course_lib.lessons import LESSONS

    box = LESSONS[0].make_widget()
    assert isinstance(box, widgets.Box)
    image = next(w for w in box.children if isinstance(w, widgets.Image))
    html = box.children[0].children[-1]
    first_png, first_html = image.value, html.value
    assert first_png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "4.755" in first_html  # the training mean of x1 for the default data
    box.sliders["mean1"].value = -3.0
    assert image.value != first_png
    split = two_feature_data(center=(-3.0, 2.0))
    assert _fmt3(split.X_train[:, 0].mean()) in html.value
    box.sliders["corr"].value = 0.7
    r = np.corrcoef(two_feature_data(center=(-3.0, 2.0), correlation=0.7).X_train.T)[0, 1]
    assert f"{r:.2f} before and after" in html.value
    assert html.value.count(">1.000<") == 2  # std after: 1 for both features


def _pixels(png: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def full_drawing(blitter, moving) -> np.ndarray:
    """The figure drawn in full, the moving artists included, as an RGB array."""
    for artist in moving:
        artist.set_animated(False)
    try:
        blitter.canvas.draw()
        return np.asarray(blitter.canvas.buffer_rgba())[..., :3].astype(int)
    finally:
        for artist in moving:
            artist.set_animated(True)


def assert_same_picture(png: bytes, full: np.ndarray) -> None:
    """The widget's image equals the full drawing (pixels may differ only where a moving
    artist crosses a tick mark: a full drawing puts the ticks on top)."""
    got = _pixels(png)
    assert got.shape == full.shape
    differ = np.any(np.abs(got - full) > 2, axis=-1)
    assert differ.mean() < 0.002, f"{differ.sum()} pixels differ"


def test_normalization_explorer_redraws_only_the_clouds_and_shows_what_a_full_drawing_shows():
    from course_lib.scatter import FRAME_SIZES, live_frame, normalization_explorer, steps

    box = normalization_explorer()
    view = box.view
    image = box.children[1]
    draws = view.blitter.full_draws
    moves = [("mean1", -3.0), ("corr", 0.5), ("spread2", 1.5), ("mean1", 5.0), ("corr", 0.0)]
    for name, value in moves:
        box.sliders[name].value = value
        X = two_feature_data(
            center=(box.sliders["mean1"].value, box.sliders["mean2"].value),
            spread=(box.sliders["spread1"].value, box.sliders["spread2"].value),
            correlation=box.sliders["corr"].value,
        ).X_train
        s = steps(X)
        h = live_frame(list(s.values()), view.aspect)
        assert view.half_width == h and h in FRAME_SIZES
        for ax, P in zip(view.axes, s.values(), strict=True):
            np.testing.assert_allclose(ax.collections[0].get_offsets(), P)
            assert ax.get_xlim() == (-h, h)
            assert np.all(np.abs(P[:, 1]) <= h * view.aspect)  # every point in the frame
        assert_same_picture(image.value, full_drawing(view.blitter, view.moving))
    # Moves that keep the frame redraw only the clouds: fewer full drawings than moves.
    assert view.blitter.full_draws - draws < len(moves)


def _fmt3(v):
    return f"{round(float(v), 3) + 0.0:.3f}"
