"""Lesson 04's experiments (course_lib.experiments) and their figures (network_plots)."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_lib import experiments as ex
from course_lib import network_plots as npl
from course_lib.network import train


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
    # the percentiles of Figure 1: the plain network's median input moves, BN's stays put
    pct_plain, pct_bn = c.plain.probes["pct"][:, 1], c.bn.probes["pct"][:, 1]
    assert np.ptp(pct_plain) > 5 * np.ptp(pct_bn)


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


def test_probe_monitor_records_percentiles_histograms_and_statistics(data):
    model = ex.make_mlp(True, seed=3)
    record = ex.ProbeMonitor(data.X_val, layer=-1, unit=5)(model)
    z = [v["z"] for v in model.layer_values(data.X_val, training=True)]
    np.testing.assert_allclose(record["pct"], np.percentile(z[-1][:, 5], [15, 50, 85]))
    assert record["hist"].shape == (3, len(ex.HIST_EDGES) - 1)
    np.testing.assert_array_equal(record["hist"].sum(axis=1), [450 * 100] * 3)
    np.testing.assert_allclose(record["mean"][1], z[1].mean(0))
    np.testing.assert_allclose(record["std"][2], z[2].std(0))
    # with BN in training mode each unit's input has mean beta = 0 and spread gamma = 1
    np.testing.assert_allclose(record["mean"], 0.0, atol=1e-10)
    assert np.all((record["saturated"] >= 0) & (record["saturated"] <= 1))


def test_layer_drift_is_mean_change_over_current_spread():
    run = ex.Run("x", None, None, {"mean": np.zeros((3, 3, 2)), "std": np.ones((3, 3, 2))})
    run.probes["mean"][1, -1] = [1.0, 3.0]
    run.probes["std"][1, -1] = [2.0, 2.0]
    # step 0 -> 1: (|1| + |3|) / 2 / 2 = 1; step 1 -> 2: (1 + 3) / 2 / 1 = 2
    np.testing.assert_allclose(ex.layer_drift(run), [1.0, 2.0])


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
    for d in (why.drift, why.coupling, why.loss_range, why.grad_change):
        assert d["plain"].shape == d["bn"].shape == (4,)
    # the notes' view: BN's layer inputs hardly move
    assert why.drift["bn"].mean() < 0.1 * why.drift["plain"].mean()
    assert "input drift" in why.table()


# ------------------------------------------------------------------ sweeps and the rest
def test_lr_sweep_layout_and_a_divergent_run_does_not_warn():
    s = ex.lr_sweep((0.1, 30.0), steps=40)
    assert s.values.tolist() == [0.1, 30.0] and s.plain_acc.shape == (2,)
    assert s.bn_acc[0] > s.plain_acc[0]
    text = s.table()
    assert "lr" in text and len(text.splitlines()) == 3
    plain_ok, bn_ok = s.good_range(0.0)
    assert plain_ok == bn_ok == [0.1, 30.0]


def test_init_sweep_changes_only_the_weight_scale():
    s = ex.init_sweep((0.1, 10.0), steps=30)
    assert s.setting == "init scale" and s.bn_acc.shape == (2,)


def test_bn_position_comparison_trains_both_placements():
    (res,) = ex.bn_position_comparison(seeds=(0,), steps=30)
    assert set(res.histories) == {"before", "after"}
    assert "before" in res.summary() and "after" in res.summary()


def test_bn_batch_gap_uses_ghost_batches():
    gap = ex.bn_batch_gap((4, 60), steps=30, seeds=(0, 1))
    assert gap.rows.shape == (2, 4) and gap.per_seed.shape == (2, 2, 4)
    np.testing.assert_allclose(gap.rows, gap.per_seed.mean(axis=0))
    np.testing.assert_allclose(gap.loss_gap, gap.rows[:, 3] - gap.rows[:, 2])
    np.testing.assert_allclose(gap.accuracy_gap, gap.rows[:, 0] - gap.rows[:, 1])
    assert "60" in gap.table()
    fig = npl.plot_bn_batch(gap, (4, 16), np.array([0.5, 0.25]))
    assert len(fig.axes) == 2


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
    assert r.output_change < 1e-10
    assert "dL/db" in str(r)


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
        npl.plot_sweep(
            ex.Sweep(
                "lr",
                np.array([0.1, 1.0]),
                np.array([0.2, 0.9]),
                np.array([0.9, 0.95]),
                np.ones(2),
                np.ones(2),
                10,
            )
        ),
    ]
    for fig in figures:
        assert isinstance(fig, matplotlib.figure.Figure)
        fig.canvas.draw()
    lines = figures[2].axes[1].get_lines()
    np.testing.assert_allclose(lines[1].get_ydata(), small.bn.probes["pct"][:, 1])
    assert len(figures[3].axes) == 6


def test_percentile_figure_uses_the_recorded_steps(small):
    fig = npl.plot_percentiles(small)
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_xdata(), [0, 20, 40, 60])


def test_activation_explorer_redraws_when_the_slider_moves(small):
    box = npl.activation_explorer(small)
    image = box.children[1]
    first = image.value
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    box.slider.value = 60
    assert image.value != first
    box.slider.value = 0
    assert image.value == first  # cached frame
    assert box.slider.max == 60 and box.slider.step == 20


def test_assets_are_listed():
    assert set(npl.ASSETS) == {
        "04_bn_network_diagram.png",
        "04_sigmoid_input_percentiles.png",
        "04_training_with_without_bn.png",
    }
