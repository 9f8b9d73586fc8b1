"""course_lib.contours: the cost drawn over (w1, w2) is min over b of J, its paths are
gradient descent, the figures and the widget are built from them and react at once."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from course_lib import contours as C
from course_lib import descent as D
from course_lib.data import two_feature_data
from course_lib.lessons import LESSONS
from course_lib.normalization import fit_normalizer, normalize


@pytest.fixture(scope="module")
def split():
    return two_feature_data()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_profile_cost_is_the_minimum_over_b(split):
    X, y = split.X_train, split.y_train
    cost = C.ProfileCost.from_data(X, y)
    rng = np.random.default_rng(0)
    for w in rng.normal([2.0, -3.0], 3.0, size=(5, 2)):
        b_best = y.mean() - X.mean(0) @ w
        j = D.squared_error_cost(X, y, w, b_best)
        assert cost(w[0], w[1]) == pytest.approx(j, rel=1e-10)
        # any other b costs more: b_best is the minimum over b
        for b in b_best + np.array([-0.5, -0.01, 0.01, 0.5]):
            assert D.squared_error_cost(X, y, w, b) > j
    assert cost.j0 == pytest.approx(0.5 * y.var(), rel=1e-10)  # w = 0: predict mean(y)
    assert cost.j_min == pytest.approx(D.least_squares(X, y)[2], rel=1e-12)
    np.testing.assert_allclose(cost.S, np.cov(X.T, bias=True), rtol=1e-12)


def test_descend_is_gradient_descent_on_the_centred_problem(split):
    X, y = split.X_train, split.y_train
    cost = C.ProfileCost.from_data(X, y)
    lr = 0.9 * cost.lr_bound
    path, costs = cost.descend(lr, 30)
    # b starts at 0 on centred data and its gradient mean(Xc w - yc) stays 0.
    ref = D.gradient_descent(X - X.mean(0), y - y.mean(), lr, 30)
    np.testing.assert_allclose(path, ref.w, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(ref.b, 0.0, atol=1e-12)
    np.testing.assert_allclose(costs, ref.cost, rtol=1e-9)


def test_descend_stops_when_diverging(split):
    cost = C.ProfileCost.from_data(split.X_train, split.y_train)
    path, costs = cost.descend(1.5 * cost.lr_bound, 10_000)
    assert len(path) < 200 and np.all(np.isfinite(costs))


def test_rescaled_equals_the_cost_of_rescaled_data(split):
    X, y = split.X_train, split.y_train
    base = C.ProfileCost.from_data(X, y)
    direct = C.ProfileCost.from_data(X * np.array([3.0, 0.5]), y)
    scaled = base.rescaled((3.0, 0.5))
    np.testing.assert_allclose(scaled.S, direct.S, rtol=1e-12)
    np.testing.assert_allclose(scaled.w_star, direct.w_star, rtol=1e-10)
    assert scaled.j_min == pytest.approx(direct.j_min, rel=1e-10)
    assert scaled.j0 == pytest.approx(direct.j0, rel=1e-10)


def test_raw_contours_are_elongated_normalized_ones_round(split):
    X, y = split.X_train, split.y_train
    mu, sigma = fit_normalizer(X)
    raw = C.ProfileCost.from_data(X, y)
    nrm = C.ProfileCost.from_data(normalize(X, mu, sigma), y)
    # kappa of the covariance ~ (2.5 / 0.5)^2 = 25 raw; the correlation matrix's after
    assert 15 < raw.kappa < 40
    r = np.corrcoef(X.T)[0, 1]
    assert nrm.kappa == pytest.approx((1 + abs(r)) / (1 - abs(r)), rel=1e-9)
    assert nrm.kappa < 1.3
    # The same model class: same minimum and start cost after normalizing.
    assert nrm.j_min == pytest.approx(raw.j_min, rel=1e-9)
    assert nrm.j0 == pytest.approx(raw.j0, rel=1e-9)


def test_frame_holds_the_start_contour_with_the_requested_shape(split):
    cost = C.ProfileCost.from_data(split.X_train, split.y_train)
    x0, x1, y0, y1 = cost.frame(aspect=1.3)
    assert (y1 - y0) / (x1 - x0) == pytest.approx(1.3)
    assert x0 < 0 < x1 and y0 < 0 < y1  # the start w = 0
    # Points of the J0 contour (an ellipse) all lie inside.
    lam, V = np.linalg.eigh(cost.S)
    t = np.linspace(0, 2 * np.pi, 200)
    radius = np.sqrt(2 * (cost.j0 - cost.j_min) / lam)
    pts = cost.w_star + (V @ (radius[:, None] * np.array([np.cos(t), np.sin(t)]))).T
    np.testing.assert_allclose(cost(pts[:, 0], pts[:, 1]), cost.j0, rtol=1e-9)
    assert np.all((pts[:, 0] > x0) & (pts[:, 0] < x1) & (pts[:, 1] > y0) & (pts[:, 1] < y1))


def test_side_by_side_figure(split):
    X, y = split.X_train.copy(), split.y_train.copy()
    fig = C.plot_raw_vs_normalized(X, y, steps=12)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    raw_ax, nrm_ax = fig.axes
    mu, sigma = fit_normalizer(X)
    raw = C.ProfileCost.from_data(X, y)
    nrm = C.ProfileCost.from_data(normalize(X, mu, sigma), y)
    assert raw_ax.get_title().startswith(f"raw: κ(S) = {raw.kappa:.3g}, lr = {raw.lr_optimal:.3g}")
    assert nrm_ax.get_title().startswith(f"normalized: κ(S) = {nrm.kappa:.3g}")
    for ax in fig.axes:
        path = ax.lines[1]  # [optimum star, path, start]
        assert len(path.get_xdata()) == 13 and path.get_xdata()[0] == 0.0
        assert ax.get_aspect() == 1.0
    np.testing.assert_array_equal(X, split.X_train)  # not modified
    fig2 = C.plot_raw_vs_normalized(X, y, steps=5, lr_factor=0.5)
    assert f"lr = {0.5 * raw.lr_bound:.3g}" in fig2.axes[0].get_title()


def test_convergence_figure(split):
    fig = C.plot_convergence(split.X_train, split.y_train, steps=50)
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    kappas = D.normalization_condition_numbers(split.X_train)
    assert labels[0].startswith(f"raw: κ(H) = {kappas['raw']:.3g}") and "> 50 steps" in labels[0]
    assert labels[1].startswith(f"normalized: κ(H) = {kappas['normalized']:.3g}")
    # With the measured table: the same learning rates and iteration counts as the table.
    table = D.compare_iterations(split.X_train, split.y_train)
    fig = C.plot_convergence(split.X_train, split.y_train, table, steps=2000)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[0].endswith(f"after {table.raw.iterations} steps"), labels[0]
    assert labels[1].endswith(f"after {table.normalized.iterations} steps"), labels[1]
    assert f"lr = {table.raw.lr_factor:g} × 2/λmax" in labels[0]


def test_contour_functions_reject_bad_input(split):
    X3 = np.column_stack([split.X_train, split.X_train[:, 0]])
    with pytest.raises(ValueError, match="exactly 2 features"):
        C.ProfileCost.from_data(X3, split.y_train)
    cost = C.ProfileCost.from_data(split.X_train, split.y_train)
    with pytest.raises(ValueError, match="lr must be a positive"):
        cost.descend(0.0, 5)
    with pytest.raises(ValueError, match="scale must be positive"):
        cost.rescaled((1.0, -2.0))


def test_explorer_updates_synchronously_on_every_slider():
    box = C.contour_explorer()
    assert LESSONS[1].widget == "course_lib.contours:contour_explorer"
    image = box.children[1]
    html = box.children[0].children[-1]
    assert set(box.sliders) == {"scale", "lr", "steps"}
    assert bytes(image.value).startswith(b"\x89PNG")
    base = C._explorer_base()
    for name, value in (("scale", 10.0), ("lr", 0.5), ("steps", 7)):
        before_img, before_html = image.value, html.value
        box.sliders[name].value = value
        assert image.value != before_img and html.value != before_html, name
    kappa = base.rescaled((10.0, 1.0)).kappa
    assert f"κ(S) = λmax/λmin = {kappa:.4g}" in html.value
    assert "after 7 steps" in html.value and "converges" in html.value
    box.sliders["lr"].value = 1.1
    assert "diverges" in html.value and "never" in html.value
    box.sliders["lr"].value = 1.0
    assert "oscillates forever" in html.value


def test_explorer_redraws_only_the_path_and_shows_what_a_full_drawing_shows():
    from test_normalization import assert_same_picture, full_drawing

    box = C.contour_explorer()
    live = box.view
    image = box.children[1]
    # Every scale and every step axis was drawn when the widget was built ...
    built = live.blitter.full_draws
    assert built == max(len(C.SCALES), len(C.STEP_AXES))
    for name, value in (
        ("scale", 10.0),
        ("lr", 0.99),
        ("steps", 120),
        ("scale", 1.0),
        ("steps", 3),
        ("lr", 1.02),
    ):
        box.sliders[name].value = value
        scale, steps = box.sliders["scale"].value, box.sliders["steps"].value
        cost = C._explorer_base().rescaled((scale, 1.0))
        path, _ = cost.descend(box.sliders["lr"].value * cost.lr_bound, steps)
        np.testing.assert_allclose(np.column_stack(live.view.path.get_data()), path)
        assert live.view.ax_cost.get_xlim() == (0, C.step_axis(steps))
        live.view.draw_contours(scale)  # kept as pixels by the widget, drawn here in full
        assert_same_picture(image.value, full_drawing(live.blitter, live.moving))
    # ... so no slider move draws the whole figure again.
    assert live.blitter.full_draws == built
    assert [C.step_axis(s) for s in (1, 5, 6, 40, 150)] == [5, 5, 10, 50, 150]


def test_explorer_reports_the_exact_iteration_count():
    box = C.contour_explorer(scale=3.0, lr_factor=0.9, steps=150)
    html = box.children[0].children[-1].value
    cost = C._explorer_base().rescaled((3.0, 1.0))
    lr = 0.9 * cost.lr_bound
    path, costs = cost.descend(lr, 2000)
    gap = (costs - cost.j_min) / (cost.j0 - cost.j_min)
    measured = int(np.flatnonzero(gap <= 1e-6)[0])
    assert f"steps to reach 1e-6: {measured}<" in html


def test_static_fallback_and_assets():
    fig = C.explorer_figure(scale=2.0, lr_factor=0.5, steps=10)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    assert (
        fig.axes[0].get_title()
        == "x₁ scaled by 2: κ(S) = " + f"{C._explorer_base().rescaled((2.0, 1.0)).kappa:.3g}"
    )
    assert set(C.ASSETS) == {"02_contours_raw_vs_normalized.png", "02_convergence.png"}
    for make in C.ASSETS.values():
        assert isinstance(make(), Figure)
