"""Lesson 06's experiments, figures and widget: what they compute is what they claim."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from course_lib import norm_experiments as nx
from course_lib import norm_plots, norms


# ------------------------------------------------------------------ data
def test_digit_images_share_one_mean_and_scale_for_all_pixels():
    data = nx.digit_images()
    assert data.X_train.shape == (1347, 64) and data.X_val.shape == (450, 64)
    assert abs(data.X_train.mean()) < 1e-12 and abs(data.X_train.std() - 1.0) < 1e-12
    assert not data.X_train.flags.writeable
    # one affine map for every pixel: the order of the pixel values is kept within an image
    from course_lib.data import digits

    raw = digits(seed=0).X_train
    np.testing.assert_allclose(data.X_train * data.sigma + data.mu, raw / 16.0, atol=1e-12)


# ------------------------------------------------------------------ the sweep
@pytest.fixture(scope="module")
def small_sweep():
    return nx.batch_size_experiment(sizes=(2, 8, 16), seeds=(0, 1), batch=16, epochs=0.5)


def test_the_sweep_has_one_row_per_size_and_one_column_per_seed(small_sweep):
    r = small_sweep
    assert r.sizes == (2, 8, 16) and r.seeds == (0, 1)
    for norm in nx.NORMS:
        assert r.val_acc[norm].shape == (3, 2)
        assert np.all((r.val_acc[norm] >= 0) & (r.val_acc[norm] <= 1))
    for norm in nx.NORMS[1:]:  # trained once: the same for every B
        assert np.all(r.val_acc[norm] == r.val_acc[norm][0])
    assert r.bn_train_mode.shape == (3, 2)
    assert sorted(r.bn_models) == [2, 8, 16] and r.bn_models[8].ghost_batch == 8
    assert r.bn_models[16].ghost_batch is None  # B = the mini-batch: no split
    text = r.table()
    assert "swings" in text and text.count("the same for every B") == 3


def test_the_sweep_is_reproducible_and_its_accuracies_are_the_models(small_sweep):
    data = nx.digit_images()
    model = small_sweep.bn_models[8]
    np.testing.assert_array_equal(
        model.accuracy(data.X_val, data.y_val), small_sweep.val_acc["batch"][1]
    )
    again = nx.batch_size_experiment(sizes=(8,), seeds=(0, 1), batch=16, epochs=0.5)
    np.testing.assert_array_equal(again.val_acc["batch"][0], small_sweep.val_acc["batch"][1])
    with pytest.raises(ValueError, match="every size must divide batch=16"):
        nx.batch_size_experiment(sizes=(3,), seeds=(0,), batch=16, epochs=0.1)


def test_ghost_batches_of_b_normalize_like_separate_batches_of_b():
    data = nx.digit_images()
    split = nx.make_convnet("batch", 0, ghost_batch=4)
    whole = nx.make_convnet("batch", 0)
    X = data.X_val[:16]
    together = split.forward(X, training=True, update_stats=False)
    apart = np.concatenate(
        [whole.forward(X[i : i + 4], training=True, update_stats=False) for i in range(0, 16, 4)]
    )
    np.testing.assert_allclose(together, apart, rtol=1e-12, atol=1e-12)


def test_dense_layer_x_hat_of_pairs_is_plus_or_minus_one():
    data = nx.digit_images()
    model = nx.make_convnet("batch", 0, ghost_batch=2)
    nx._fit(model, 16, 0.2, nx.LR, data)
    pairs, inference = nx.dense_layer_x_hat(model, data.X_val[:40], batch_size=2)
    assert pairs.shape == inference.shape == (40 * nx.HIDDEN,)
    # two values normalize to ±sigma/sqrt(sigma^2 + eps): ±1 unless they nearly coincide
    assert np.mean(np.abs(np.abs(pairs) - 1.0) < 0.05) > 0.9
    assert np.mean(np.abs(np.abs(inference) - 1.0) < 0.05) < 0.5
    with pytest.raises(ValueError, match="Batch Norm network with a dense hidden layer"):
        nx.dense_layer_x_hat(nx.make_convnet("group", 0), data.X_val[:4], 2)


def test_small_batches_and_sensitivity_run():
    result = nx.small_batch_experiment(batch=4, norms=("batch", "group"), seeds=(0,), epochs=0.1)
    assert result.val_acc["batch"].shape == (1,) and result.bn_train_mode.shape == (1,)
    assert result.settings["lr"] == pytest.approx(nx.LR * 4 / nx.BATCH)
    # Group Norm forgets a nudge at round-off level (a short run: a few updates)
    assert nx.sensitivity("group", epochs=0.5) < 1e-9


# ------------------------------------------------------------------ the figures
def test_statistic_groups_figure_colors_what_shares_statistics():
    fig = norm_plots.plot_statistic_groups(n=3, c=4, hw=5, groups=2, channel=1)
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["Batch Norm", "Layer Norm", "Instance Norm", "Group Norm (2 groups)"]
    # Batch Norm: the cells of channel 1 are blue on the front face (example 0)
    front = fig.axes[0].collections[0]
    colors = front.get_facecolors()
    blue = np.array([0x4C / 255, 0x72 / 255, 0xB0 / 255, 1.0])
    shared = [np.allclose(col, blue) for col in colors]
    expected = [ci == 1 for ci in range(4) for _ in range(5)]
    assert shared == expected


def test_batch_size_and_feature_map_figures(small_sweep):
    assert isinstance(norm_plots.plot_batch_size(small_sweep), Figure)
    data = nx.digit_images()
    maps = nx.make_convnet(None, 0).feature_maps(data.X_val[:3])
    fig = norm_plots.plot_feature_maps(data.X_val[:3].reshape(-1, 8, 8), maps)
    assert len(fig.axes) == 3 * (maps.shape[1] + 1)


# ------------------------------------------------------------------ the widget
@pytest.mark.parametrize("kind", ["batch", "layer", "instance", "group"])
def test_explorer_statistics_are_those_of_the_blue_values(kind):
    batch_maps, pop_mean, pop_var = norm_plots._explorer_maps()
    n, groups, channel = 4, 2, 5
    stats = norm_plots.explorer_statistics(kind, n, groups, channel)
    x = batch_maps[:n]
    ids = norms.statistic_groups(kind, x.shape, groups)
    shared = x[ids == ids[0, channel, 0, 0]]
    assert stats["count"] == shared.size == norms.values_per_statistic(kind, x.shape, groups)
    assert stats["mean"] == pytest.approx(shared.mean()) and stats["var"] == pytest.approx(
        shared.var()
    )
    if kind == "batch":
        assert stats["count"] == n * 64 and stats["population_mean"] == pytest.approx(
            pop_mean[channel]
        )
    else:  # per-example statistics: the same for every batch size
        for other in (1, 2, 8):
            again = norm_plots.explorer_statistics(kind, other, groups, channel)
            assert again["mean"] == stats["mean"] and again["var"] == stats["var"]


def test_the_explorer_redraws_when_a_slider_moves():
    box = norm_plots.normalization_explorer()
    assert set(box.sliders) == {"norm", "N", "groups", "channel"}
    image = box.children[1]
    first = bytes(image.value)
    assert first.startswith(b"\x89PNG")
    box.sliders["norm"].value = "layer"
    assert bytes(image.value) != first
    title = box.children[0].children[-1].children[0]
    assert "Layer Norm" in title.value
    box.sliders["N"].value = 1
    box.sliders["norm"].value = "group"
    box.sliders["groups"].value = 8  # G = C: Instance Norm's sets
    table = box.children[0].children[-1].children[1].value
    assert "(C/G)·H·W = 1·64 = 64" in table
