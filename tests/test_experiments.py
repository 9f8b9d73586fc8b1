"""Lesson 04's experiments (course_lib.experiments) and their figures (network_plots)."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib import experiments as ex
from course_lib import network_plots as npl
from course_lib.network import History, train


@pytest.fixture(scope="module")
def data():
    return ex.digits_data()


@pytest.fixture(scope="module")
def small():
    """A short comparison, enough to exercise every recorder and figure."""
    return ex.compare_bn(steps=60, eval_every=20)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ------------------------------------------------------------------ the acceptance claim
def test_bn_reaches_95_percent_while_the_plain_network_is_clearly_behind():
    c = ex.compare_bn(steps=600, eval_every=20)
    plain, bn = c.accuracy_at(600)
    assert bn >= 0.95
    assert bn - plain >= 0.04, (plain, bn)
    plain_steps, bn_steps = c.steps_to(0.95)
    assert bn_steps is not None and bn_steps <= 200
    assert plain_steps is None or plain_steps >= 3 * bn_steps
    # inside (inference mode, from step 100 on, once the running averages follow the
    # batches): the last hidden layer's units move and widen without BN, stay with BN
    plain_d, _, bn_d = ex.distribution_drift(c, layer=3, start=100).rows.values()
    assert plain_d[0] > 5 * bn_d[0] and plain_d[1] > 3 * bn_d[1]


def test_comparisons_are_deterministic(small):
    again = ex.compare_bn(steps=60, eval_every=20)
    for a, b in ((small.plain, again.plain), (small.bn, again.bn)):
        np.testing.assert_array_equal(a.history.loss, b.history.loss)
        np.testing.assert_array_equal(a.probes["hist"], b.probes["hist"])


# ------------------------------------------------------------------ data and recorders
def test_digits_are_normalized_with_training_statistics_and_read_only(data):
    assert data.X_train.shape == (1347, 64) and data.X_val.shape == (450, 64)
    varying = data.sigma != 1.0
    np.testing.assert_allclose(data.X_train.mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(data.X_train[:, varying].std(0), 1.0, rtol=1e-12)
    np.testing.assert_allclose(data.X_val, (data.raw_val - data.mu) / data.sigma)
    with pytest.raises(ValueError):
        data.X_train[0, 0] = 1.0
    assert ex.digits_data() is data  # cached


def test_probe_monitor_records_inference_mode_statistics(data):
    model = ex.make_mlp(True, seed=3)
    model.running_mean = [np.full(100, 0.3 * l) for l in range(3)]  # not the batch's
    model.running_var = [np.full(100, 2.0 + l) for l in range(3)]
    record = ex.ProbeMonitor(data.X_val, layer=-1, unit=5, y_probe=data.y_val)(model)
    values = model.layer_values(data.X_val, training=False)
    z = [v["z"] for v in values]
    np.testing.assert_allclose(record["pct"], np.percentile(z[-1][:, 5], [15, 50, 85]))
    assert record["hist"].shape == (3, len(ex.HIST_EDGES) - 1)
    np.testing.assert_array_equal(record["hist"].sum(axis=1), [450 * 100] * 3)
    np.testing.assert_allclose(record["mean"][1], z[1].mean(0))
    np.testing.assert_allclose(record["std"][2], z[2].std(0))
    np.testing.assert_allclose(record["pre_mean"][0], values[0]["z_pre"].mean(0))
    np.testing.assert_allclose(record["pre_std"][2], values[2]["z_pre"].std(0))
    # inference mode: nothing forces the mean to beta = 0 (training mode would)
    assert np.abs(record["mean"]).max() > 0.1
    assert record["acc"] == pytest.approx(model.accuracy(data.X_val, data.y_val))
    assert record["loss"] == pytest.approx(model.loss(data.X_val, data.y_val))


def test_probe_monitor_without_bn_has_no_separate_pre_bn_values(data):
    record = ex.ProbeMonitor(data.X_val)(ex.make_mlp(False, seed=1))
    np.testing.assert_array_equal(record["pre_mean"], record["mean"])
    assert "acc" not in record


def test_histogram_counts_like_numpy_with_the_ends_clipped():
    z = np.random.default_rng(0).normal(0.0, 3.0, (450, 100))
    expected = np.histogram(np.clip(z, -5.0, 5.0), ex.HIST_EDGES)[0]
    np.testing.assert_array_equal(ex._histogram(z), expected)


def test_compare_bn_scores_the_validation_set_with_the_probe(small, data):
    for run in (small.plain, small.bn):
        h = run.history
        assert h.eval_steps.tolist() == [0, 20, 40, 60]
        assert np.isnan(h.train_acc[:-1]).all() and np.isfinite(h.train_acc[-1])
        assert h.val_acc[-1] == pytest.approx(run.model.accuracy(data.X_val, data.y_val))
        assert "acc" not in run.probes


def test_distribution_drift_reads_the_probes():
    steps = np.array([0, 100, 200])
    probes = {k: np.ones((3, 2, 4)) for k in ("mean", "std", "pre_mean", "pre_std")}
    probes["mean"] = np.zeros((3, 2, 4))
    probes["mean"][2, 1] = [1.0, 2.0, 3.0, 4.0]  # layer 2 moves by 1..4 spreads
    probes["std"][2, 1] = 3.0
    history = History(np.zeros(200), steps, *[np.zeros(3)] * 4)
    run = ex.Run("x", None, history, probes)
    drift = ex.distribution_drift(ex.Comparison(run, run, 0.3, 200), layer=2, start=100)
    moved, factor, path = drift.rows["without BN: z[2]"]
    assert (moved, factor, path) == (2.5, 3.0, 2.5)
    assert drift.start == 100 and drift.end == 200
    assert "2.50" in drift.table() and "3.00" in drift.table()


# ------------------------------------------------------------------ Santurkar's probes
def test_gradient_coupling_is_zero_for_the_first_layer_and_leaves_the_model(data):
    model = ex.make_mlp(True, seed=0)
    X, y = data.X_train[:60], data.y_train[:60]
    before = model.flat_params()
    assert ex.gradient_coupling(model, X, y, lr=0.3, layer=1) == 0.0
    later = ex.gradient_coupling(model, X, y, lr=0.3)
    assert later > 0.0
    np.testing.assert_array_equal(model.flat_params(), before)


def test_along_gradient_matches_a_first_order_taylor_step(data):
    model = ex.make_mlp(False, seed=0)
    X, y = data.X_train[:60], data.y_train[:60]
    before = model.flat_params()
    loss0, grads = model.loss_and_grads(X, y, update_stats=False)
    g2 = float(np.sum(model.flat_grads() ** 2))
    eta = 1e-4
    loss_range, change = ex.along_gradient(model, X, y, [0.0, eta])
    # L(theta - eta g) = L - eta |g|^2 + O(eta^2)
    assert loss_range == pytest.approx(eta * g2, rel=1e-2)
    assert 0 < change < 1e-2
    np.testing.assert_array_equal(model.flat_params(), before)
    assert ex.along_gradient(model, X, y, [0.0]) == (0.0, 0.0)


def test_why_bn_works_measures_both_views():
    why = ex.why_bn_works(steps=100, every=25)
    assert why.steps.tolist() == [25, 50, 75, 100]
    for d in (why.coupling, why.loss_range, why.grad_change):
        assert d["plain"].shape == d["bn"].shape == (4,)
    assert "gradient coupling" in why.table() and len(why.table().splitlines()) == 4


# ------------------------------------------------------------------ sweeps and the rest
def test_seeds_run_reports_steps_to_target_per_seed():
    r = ex.seeds_run(ex.RELU_BN, 0.3, seeds=(0, 1, 2), target=0.8, steps=100)
    assert len(r.steps) == 3 and all(s is not None and s % 10 == 0 for s in r.steps)
    assert r.all_reached and r.median == sorted(r.steps)[1]
    assert all(b >= 0.8 for b in r.best)
    never = ex.seeds_run(ex.RELU, 0.3, seeds=(0,), target=0.8, steps=50, init_factor=10.0)
    assert never.steps == (None,) and never.median is None and not never.all_reached


def test_a_cached_run_answers_shorter_requests_exactly():
    long = ex.seeds_run(ex.SIGMOID, 0.3, seeds=(3,), target=0.9, steps=60)
    short = ex.seeds_run(ex.SIGMOID, 0.3, seeds=(3,), target=0.9, steps=30)
    ex._RUNS.clear()
    fresh = ex.seeds_run(ex.SIGMOID, 0.3, seeds=(3,), target=0.9, steps=30)
    assert short == fresh and long.cap == 60


def test_a_diverging_run_stops_early_and_does_not_warn():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        at, acc = ex._curve(ex.RELU, 10.0, 0, 300, 0.9)
    assert at[-1] < 300 and acc.max() < 0.5  # NaN loss: stopped, accuracy counted as 0


def test_speed_table_and_grids_layout():
    t = ex.speed_table((ex.RELU, ex.RELU_BN), lr=0.3, seeds=(0, 1, 2), target=0.8, steps=100)
    text = t.table()
    assert "median" in text and ex.RELU.label in text and len(text.splitlines()) == 3
    assert t.median(ex.RELU_BN) == t.rows[ex.RELU_BN.label].median
    g = ex.lr_sweep((ex.RELU, ex.RELU_BN), lrs=(0.3, 10.0), seeds=(0, 1, 2), target=0.8, steps=60)
    assert g.values == (0.3, 10.0) and len(g.table().splitlines()) == 4
    assert g.reliable(ex.RELU) == [0.3]  # lr 10 diverges
    value, steps = g.fastest(ex.RELU_BN)
    assert value == 0.3 and steps == g.cells[ex.RELU_BN.label][0].median
    i = ex.init_sweep((ex.RELU_BN,), factors=(1.0, 10.0), seeds=(0,), target=0.8, steps=60)
    assert i.lr == 0.3 and i.setting == "init scale x"
    fig = npl.plot_grids(g, i)
    assert len(fig.axes) == 2


def test_overfitting_trains_to_the_small_set_and_scores_validation():
    X, y = ex.small_training_set(30, seed=1)
    assert X.shape == (30, 64) and np.bincount(y).tolist() == [3] * 10
    settings = (
        ex.Setting("plain", ex.RELU, 0.1, 10, 40),
        ex.Setting("BN, ghost batches", ex.RELU_BN, 0.1, 30, 20, ghost_batch=10),
    )
    r = ex.overfitting(settings, n_train=30, seeds=(0, 1))
    assert set(r.rows) == {"plain", "BN, ghost batches"}
    assert r.rows["plain"].shape == (2, 4)
    assert np.all(r.rows["plain"][:, 0] > 0.5)  # it learns the small set
    assert "30 training digits" in r.table() and "BN, ghost batches" in r.table()
    with pytest.raises(ValueError, match="multiple of 10"):
        ex.small_training_set(25)


def test_bn_position_networks_differ_only_in_the_placement():
    before, after = ex.SIGMOID_BN.model(0), ex.SIGMOID_BN_AFTER.model(0)
    assert (before.bn_position, after.bn_position) == ("before", "after")
    assert after.hidden_bias and not before.hidden_bias


def test_batch_statistics_noise_shrinks_like_one_over_root_b(small, data):
    noise = ex.batch_statistics_noise(small.bn.model, data.X_val, (4, 16, 64), trials=40)
    assert noise[0] > noise[1] > noise[2] > 0
    assert 2.5 < noise[0] / noise[2] < 6.0  # sqrt(64 / 4) = 4


def test_shifted_inputs_and_restimated_statistics(small, data):
    raw = data.raw_val
    np.testing.assert_array_equal(ex.shifted_inputs(raw, "none"), raw)
    assert ex.shifted_inputs(raw, "brighter").max() <= 16.0
    np.testing.assert_array_equal(ex.shifted_inputs(raw, "fainter"), raw * 0.5)
    moved = ex.shifted_inputs(raw, "moved").reshape(-1, 8, 8)
    np.testing.assert_array_equal(moved[:, :, 1:], raw.reshape(-1, 8, 8)[:, :, :-1])
    with pytest.raises(ValueError, match="kind"):
        ex.shifted_inputs(raw, "rotated")
    bn = small.bn.model
    old = [r.copy() for r in bn.running_mean]
    new = ex.restimated(bn, data.X_val)
    z = new.layer_values(data.X_val, training=True)[0]["bn_input"]
    np.testing.assert_allclose(new.running_mean[0], z.mean(0))
    np.testing.assert_allclose(new.running_var[0], z.var(0))
    np.testing.assert_array_equal(bn.running_mean[0], old[0])
    table = ex.distribution_shift(small.plain.model, bn, kinds=("none", "brighter"))
    assert "brighter" in table and len(table.splitlines()) == 3


def test_bias_before_bn_is_redundant_in_the_lesson_network():
    r = ex.bias_redundancy()
    assert r.max_grad_b < 1e-12 < 1e-4 < r.max_grad_W
    assert r.output_change < 1e-10 < 1 < r.max_output
    text = str(r)
    assert "dL/db" in text and "below 1e-12" in text
    assert f"{r.max_grad_b:.1e}" not in text  # round-off is reported as a bound only


def test_bounds_and_the_gradient_check_verdict():
    assert ex._bound(3e-17) == "1e-12" and ex._bound(3e-9) == "1e-08"
    assert ex.gradient_check_text(3e-10, 12).endswith("relative error below 1e-07: correct")
    assert ex.gradient_check_text(0.02, 12).endswith("2.0e-02: a bug")


def test_optimizer_comparison_records_gamma_and_beta():
    r = ex.optimizer_comparison(steps=20, units=(0, 1))
    assert set(r.histories) == {"sgd", "momentum", "adam"}
    for name in r.histories:
        assert r.gamma[name].shape == r.beta[name].shape == (2, 2)
        np.testing.assert_array_equal(r.gamma[name][0], 1.0)  # recorded before step 1
    assert not np.allclose(r.gamma["sgd"][-1], r.gamma["adam"][-1])
    assert "adam" in r.table()


def test_the_monitor_sees_the_model_that_train_updates(data):
    model = ex.make_mlp(True, seed=0)
    seen = []
    train(
        model,
        data.X_train,
        data.y_train,
        lr=0.3,
        steps=10,
        eval_every=5,
        monitor=lambda m: seen.append(m.params["gamma1"][0]),
    )
    assert len(seen) == 3 and seen[0] == 1.0 and seen[-1] == model.params["gamma1"][0]


# ------------------------------------------------------------------ figures and the widget
def test_static_figures_are_drawn(small):
    figures = [
        npl.plot_network_diagram(),
        npl.plot_training_curves(small),
        npl.plot_percentiles(small),
        npl.plot_activation_histograms(small, step=40),
    ]
    for fig in figures:
        assert isinstance(fig, matplotlib.figure.Figure)
        fig.canvas.draw()
    lines = figures[2].axes[1].get_lines()
    np.testing.assert_allclose(lines[1].get_ydata(), small.bn.probes["pct"][:, 1])
    assert len(figures[3].axes) == 6
    assert "step 40" in figures[3]._suptitle.get_text()


def test_percentile_figure_uses_the_recorded_steps(small):
    fig = npl.plot_percentiles(small)
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_xdata(), [0, 20, 40, 60])


def test_activation_explorer_redraws_when_the_slider_moves(small):
    box = npl.activation_explorer(small)
    assert box.sliders == {"step": box.slider}
    text, image = box.children[1], box.children[2]
    first, first_text = image.value, text.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    assert "step 0" in first_text and "layer 3" in first_text
    box.slider.value = 60
    assert image.value != first and "step 60" in text.value
    box.slider.value = 0
    assert image.value == first and text.value == first_text  # cached frame
    assert box.slider.max == 60 and box.slider.step == 20


def test_the_blitted_frame_equals_a_full_drawing_of_the_histograms(small):
    """The widget draws only the histograms over a kept background: the pixels are those
    of the same figure drawn in full (up to antialiasing at a few edge pixels)."""
    import io

    from matplotlib.figure import Figure
    from PIL import Image

    def frame(blit: bool) -> np.ndarray:
        fig = Figure(figsize=(9.5, 4.0), dpi=72)
        grid = npl._HistogramGrid(fig, small)
        if blit:
            renderer = npl._BlitPNG(fig, grid.artists)
            grid.set_step(2)
            png = renderer.png()
        else:
            grid.set_step(2)
            buf = io.BytesIO()
            fig.savefig(buf, format="png")
            png = buf.getvalue()
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=int)

    blitted, full = frame(True), frame(False)
    assert blitted.shape == full.shape
    assert np.mean(np.abs(blitted - full).max(axis=2) > 8) < 1e-3


def test_assets_are_listed():
    assert set(npl.ASSETS) == {
        "04_bn_network_diagram.png",
        "04_sigmoid_input_percentiles.png",
        "04_training_with_without_bn.png",
    }
