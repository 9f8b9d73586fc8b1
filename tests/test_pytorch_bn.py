"""``course_lib.pytorch_bn``: what lesson 07 measures, checked against PyTorch itself and
against lesson 05's conventions. ``convert_bn_state`` needs only numpy; the rest is
skipped, with lesson 07, where PyTorch is missing."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest

from course_lib import pytorch_bn as pbn
from course_lib import running_stats as rs
from course_lib.lessons import skip_reason

NEEDS_TORCH = pytest.mark.skipif(
    not pbn.torch_available(), reason=str(skip_reason("07_batch_norm_in_pytorch"))
)


# ------------------------------------------------------------------ conventions (numpy only)
def _batches(m: int, t: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(2.0, 1.5, size=(m, 3)) for _ in range(t)]


def _stored(convention: str, beta: float, batches) -> tuple[np.ndarray, np.ndarray]:
    """What a convention stores after these batches: lesson 05's ema_statistics."""
    if not batches:
        return np.zeros(3), np.ones(3)
    unbiased = convention != "keras"
    return rs.ema_statistics(batches, beta=beta, unbiased=unbiased)


@pytest.mark.parametrize(
    ("source", "target"), list(itertools.product(pbn.CONVENTION_NAMES, repeat=2))
)
@pytest.mark.parametrize(
    ("m", "t", "beta"), [(2, 3, 0.9), (5, 0, 0.7), (16, 40, 0.99), (3, 1, 0.0)]
)
def test_convert_bn_state_gives_what_the_target_would_have_stored(source, target, m, t, beta):
    """The oracle: run the same batches through each convention's update rule."""
    batches = _batches(m, t)
    mean, var = _stored(source, beta, batches)
    momentum = pbn.momentum_of(beta, source)
    got_mean, got_var, got_momentum = pbn.convert_bn_state(
        mean, var, momentum, m, t, source, target
    )
    want_mean, want_var = _stored(target, beta, batches)
    assert np.allclose(got_mean, want_mean, rtol=1e-12, atol=1e-14)
    assert np.allclose(got_var, want_var, rtol=1e-12, atol=1e-14)
    assert pbn.beta_of(got_momentum, target) == pytest.approx(beta, abs=1e-15)


def test_convert_bn_state_by_hand():
    """Keras -> PyTorch, m = 4, 2 steps, momentum 0.5: start weight 0.25, factor 4/3."""
    mean, var, mom = pbn.convert_bn_state(
        np.array([1.0]), np.array([2.0]), 0.5, 4, 2, "keras", "pytorch"
    )
    assert mean[0] == 1.0 and mom == 0.5
    assert var[0] == pytest.approx(0.25 + (2.0 - 0.25) * 4 / 3)
    assert pbn.convert_bn_state(np.zeros(1), np.ones(1), 0.1, 8, 5, "pytorch", "paper")[2] == 0.9


def test_convert_bn_state_leaves_its_inputs_alone():
    mean, var = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    out = pbn.convert_bn_state(mean, var, 0.99, 8, 10, "keras", "paper")
    assert np.array_equal(mean, [1.0, 2.0]) and np.array_equal(var, [3.0, 4.0])
    same = pbn.convert_bn_state(mean, var, 0.3, 8, 10, "paper", "pytorch")
    assert same[0] is not mean and same[1] is not var and out[0] is not mean


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((np.zeros(2), np.ones(2), 0.9, 4, 3, "tf", "keras"), "source must be one of"),
        ((np.zeros(2), np.ones(2), 0.9, 4, 3, "keras", "jax"), "target must be one of"),
        ((np.zeros(2), np.ones(3), 0.9, 4, 3, "keras", "paper"), "running_var must have shape"),
        (
            (np.zeros((2, 2)), np.ones(2), 0.9, 4, 3, "keras", "paper"),
            "running_mean must have shape",
        ),
        ((np.zeros(2), np.ones(2), 0.9, 1, 3, "keras", "paper"), "batch_size must be"),
        ((np.zeros(2), np.ones(2), 0.9, 4, -1, "keras", "paper"), "steps must be"),
        ((np.zeros(2), np.ones(2), 0.0, 4, 3, "pytorch", "paper"), "PyTorch's momentum"),
        ((np.zeros(2), np.ones(2), 1.0, 4, 3, "keras", "paper"), "momentum must be in"),
        ((np.zeros(2), np.array([1.0, np.nan]), 0.5, 4, 3, "keras", "paper"), "NaN"),
    ],
)
def test_convert_bn_state_names_bad_input(args, words):
    with pytest.raises(ValueError, match=words):
        pbn.convert_bn_state(*args)


def test_beta_and_momentum_of_each_convention():
    assert pbn.beta_of(0.1, "pytorch") == pytest.approx(0.9)
    assert pbn.beta_of(0.99, "keras") == 0.99 and pbn.beta_of(0.9, "paper") == 0.9
    assert pbn.momentum_of(0.9, "pytorch") == pytest.approx(0.1)
    assert pbn.momentum_of(0.99, "keras") == 0.99


def test_below():
    assert pbn.below(3e-13, 1e-12) == "below 1e-12"
    assert pbn.below(2e-12, 1e-12) == "2.00e-12, NOT below 1e-12"


# ------------------------------------------------------------------ with PyTorch
@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch", reason=skip_reason("07_batch_norm_in_pytorch"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained(torch):
    """The lesson's network after 200 steps, and the validation data (tensors)."""
    from course_lib import experiments as ex

    d = ex.digits_data()
    X, y, Xv, yv = pbn.as_tensors(d.X_train, d.y_train, d.X_val, d.y_val)
    net = pbn.lesson_network()
    losses = pbn.train_sgd(net, X, y, lr=0.5, steps=200)
    return net, X, y, Xv, yv, losses


def test_the_lesson_network_trains(trained):
    net, _, _, Xv, yv, losses = trained
    assert losses.shape == (200,) and losses[-1] < 0.3 * losses[0]
    assert pbn.accuracy(net, Xv, yv) > 0.95
    assert net.training  # accuracy() restores the mode


def test_grouped_logits_equal_training_mode_batches(trained, torch):
    net, _, _, Xv, _, _ = trained
    groups = Xv[:48].reshape(6, 8, -1)
    got = pbn.grouped_logits(net, groups)
    copy_ = copy.deepcopy(net).train()
    before = [b.running_mean.clone() for b in pbn.batchnorm_layers(net)]
    with torch.no_grad():
        want = torch.stack([copy_(g) for g in groups])
    assert (got - want).abs().max() < 1e-12
    assert all(
        torch.equal(a, b.running_mean)
        for a, b in zip(before, pbn.batchnorm_layers(net), strict=True)
    )
    with pytest.raises(ValueError, match="b >= 2"):
        pbn.grouped_logits(net, Xv[:4].reshape(4, 1, -1))


def test_training_mode_accuracy_against_a_plain_loop(trained, torch):
    net, _, _, Xv, yv, _ = trained
    for size, sort in ((16, False), (30, True)):
        order = torch.argsort(yv, stable=True) if sort else torch.arange(len(yv))
        k = len(yv) // size
        copy_ = copy.deepcopy(net).train()
        correct = 0
        with torch.no_grad():
            for i in range(k):
                rows = order[i * size : (i + 1) * size]
                correct += int((copy_(Xv[rows]).argmax(1) == yv[rows]).sum())
        assert pbn.training_mode_accuracy(net, Xv, yv, size, sort) == pytest.approx(
            correct / (k * size)
        )
    assert pbn.training_mode_accuracy(net, Xv, yv, 450, True) == pytest.approx(
        pbn.accuracy(net, Xv, yv), abs=0.02
    )
    with pytest.raises(ValueError, match="batch_size"):
        pbn.training_mode_accuracy(net, Xv, yv, 1)


@pytest.mark.parametrize(("size", "share"), [(8, 0.0), (8, 0.5), (16, 1.0), (5, 0.4)])
def test_composition_batches_have_the_asked_share(size, share):
    y = np.repeat(np.arange(10), 45)
    rows = pbn.composition_batches(y, size, share, n_batches=30, seed=1)
    assert rows.shape == (30, size)
    same = round(share * size)
    for i, r in enumerate(rows):
        labels = y[r]
        assert np.all(labels[:same] == i % 10)
        if same:
            assert not np.any(labels[same:] == i % 10)
        assert len(set(r[same:])) == size - same  # drawn without replacement
    with pytest.raises(ValueError, match="share"):
        pbn.composition_batches(y, 4, 1.5)


def test_composition_accuracy_falls_with_the_share(trained):
    net, _, _, Xv, yv, _ = trained
    curves = pbn.composition_curves(net, Xv, yv, [16])
    acc = curves[16]
    assert acc[0] > 0.9 and acc[-1] < 0.5 and acc[0] > acc[5] > acc[-1]


def test_finetune_head_frozen_two_ways(trained, torch):
    net, X, y, _, _, _ = trained
    params = [p.clone() for p in net[:-1].parameters()]
    moved = {}
    for freeze in ("requires_grad", "eval"):
        tuned = copy.deepcopy(net)
        losses = pbn.finetune_head(tuned, 0.5 * X + 1.0, y, steps=20, freeze=freeze)
        assert losses.shape == (20,)
        assert all(torch.equal(a, b) for a, b in zip(params, tuned[:-1].parameters(), strict=True))
        assert not torch.equal(tuned[-1].weight, net[-1].weight)  # the head learned
        moved[freeze] = pbn.max_buffer_change(net, tuned)
    assert moved["eval"] == 0.0 and moved["requires_grad"] > 0.5
    with pytest.raises(ValueError, match="freeze"):
        pbn.finetune_head(copy.deepcopy(net), X, y, freeze="no")


def test_without_running_stats_uses_batch_statistics_in_eval_mode(trained, torch):
    net, _, _, Xv, _, _ = trained
    stateless = pbn.without_running_stats(net).eval()
    assert all(b.running_mean is None for b in pbn.batchnorm_layers(stateless))
    with torch.no_grad():
        got = stateless(Xv[:20])
    assert (got - pbn.grouped_logits(net, Xv[:20][None])[0]).abs().max() < 1e-12
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        stateless(Xv[:1])


def test_update_bn_is_algorithm_2_of_lesson_05(trained, torch):
    from torch.optim.swa_utils import update_bn

    from course_lib import experiments as ex
    from course_lib.torch_bridge import torch_to_mlp

    net, X, _, _, _, _ = trained
    pruned = pbn.prune_weights(net, 0.5)
    w = pruned[0].weight
    assert float((w == 0).double().mean()) == pytest.approx(0.5, abs=0.01)
    assert float((net[0].weight == 0).double().mean()) == 0.0  # the original is untouched
    alg2 = rs.recalibrated(
        torch_to_mlp(pruned), ex.digits_data().X_train, "population", batch_size=60
    )
    update_bn([X[torch.from_numpy(i)] for i in rs.training_batches(len(X), 60)], pruned)
    for layer, mean, var in zip(
        pbn.batchnorm_layers(pruned), alg2.running_mean, alg2.running_var, strict=True
    ):
        assert np.abs(layer.running_mean.numpy() - mean).max() < 1e-12
        assert np.abs(layer.running_var.numpy() - var).max() < 1e-12
    assert pbn.relative_variance_gap(pruned, pruned) == 0.0
    with pytest.raises(ValueError, match="fraction"):
        pbn.prune_weights(net, 1.0)


@pytest.mark.parametrize("devices", [1, 2, 4])
def test_device_batch_norm(torch, devices):
    import torch.nn.functional as F

    rng = np.random.default_rng(devices)
    x = torch.tensor(rng.normal(1.0, 2.0, size=(8, 3)), requires_grad=True)
    w = torch.tensor(rng.uniform(0.5, 2.0, 3))
    b = torch.tensor(rng.normal(size=3))
    up = torch.tensor(rng.normal(size=(8, 3)))
    whole = F.batch_norm(x, None, None, w, b, training=True)
    (g_whole,) = torch.autograd.grad((whole * up).sum(), x)
    synced, means, variances = pbn.device_batch_norm(x, w, b, devices, sync=True)
    (g_sync,) = torch.autograd.grad((synced * up).sum(), x)
    assert (synced - whole).abs().max() < 1e-12 and (g_sync - g_whole).abs().max() < 1e-12
    assert means.shape == (devices, 3) and torch.allclose(variances[0], x.var(0, unbiased=False))
    alone, _, _ = pbn.device_batch_norm(x, w, b, devices, sync=False)
    shards = [F.batch_norm(s, None, None, w, b, training=True) for s in x.split(8 // devices)]
    assert (alone - torch.cat(shards)).abs().max() < 1e-12
    if devices > 1:
        assert (alone - whole).abs().max() > 0.01
    with pytest.raises(ValueError, match="split evenly"):
        pbn.device_batch_norm(x, w, b, 3, sync=True)


def test_devices_accuracy_is_the_ghost_batch_mlp():
    from course_lib import experiments as ex
    from course_lib.network import MLP, train

    d = ex.digits_data()
    model = MLP(pbn.LESSON_SIZES, "sigmoid", batchnorm=True, seed=1, ghost_batch=4)
    train(model, d.X_train, d.y_train, lr=0.5, steps=200, batch_size=60, seed=1)
    assert pbn.devices_accuracy(4, seeds=[1])[0] == model.accuracy(d.X_val, d.y_val)


def test_exercise_script_and_its_problems(torch):
    data = pbn.exercise_data()
    assert len(data["X_train"]) % pbn.SCRIPT_BATCH == 1  # the broken script must stumble
    assert np.all(np.diff(data["y_test"]) >= 0)  # the test file is sorted by label
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(37, 4)), np.arange(37) % 3
    X[np.arange(37), y] += 2.0
    Xn, yn = rng.normal(1.0, 1.0, size=(20, 4)), np.arange(20) % 3
    Xt = X[np.argsort(y, kind="stable")]
    args = (X, y, Xn, yn, Xt)
    state = torch.get_rng_state()
    fixed = pbn.train_and_predict(*args)
    assert torch.equal(state, torch.get_rng_state())  # the caller's random state is kept
    assert fixed.shape == (37, 3) and np.allclose(fixed.sum(1), 1.0)
    assert np.array_equal(fixed, pbn.broken_train_and_predict(*args, bugs=()))
    outputs = {}
    for k in range(1, len(pbn.BUGS) + 1):
        for bugs in itertools.combinations(pbn.BUGS, k):
            outputs[bugs] = pbn.broken_train_and_predict(*args, bugs=bugs)
            assert np.abs(outputs[bugs] - fixed).max() > 1e-3, bugs  # every set is visible
    assert not np.allclose(pbn.train_and_predict(*args, seed=1), fixed)
    X49 = np.vstack([X, X[:12]])  # 49 rows: 3 batches of 16 and 1 row left over
    y49 = np.concatenate([y, y[:12]])
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        pbn.broken_train_and_predict(X49, y49, Xn, yn, Xt, bugs=("last_batch", "crash"))
    # without "crash", the one row is skipped: the same training as the fixed script there
    fixed49 = pbn.train_and_predict(X49, y49, Xn[:16], yn[:16], Xt)
    same = pbn.broken_train_and_predict(X49, y49, Xn[:16], yn[:16], Xt, bugs=("last_batch",))
    assert np.array_equal(same, fixed49)
    with pytest.raises(ValueError, match="bugs must be taken from"):
        pbn.broken_train_and_predict(*args, bugs=("typo",))


def test_mode_explorer_interface_and_redraw(trained):
    net, _, _, Xv, yv, _ = trained
    box = pbn.mode_explorer(net, Xv, yv)
    assert set(box.sliders) == {"batch size", "share of one class"}
    image = box.children[1]
    first = bytes(image.value)
    assert first.startswith(b"\x89PNG")
    box.sliders["batch size"].value = 4
    second = bytes(image.value)
    assert second != first
    box.sliders["share of one class"].value = 1.0
    assert bytes(image.value) != second


def test_figures(trained):
    import matplotlib.pyplot as plt

    net, _, _, Xv, yv, losses = trained
    fig = pbn.plot_batch_composition(net, Xv, yv, batch_sizes=(4, 60))
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 3
    fig2 = pbn.plot_training_curves(losses, losses + 1e-16)
    assert len(fig2.axes) == 2
    with pytest.raises(ValueError, match="equal length"):
        pbn.plot_training_curves(losses, losses[:-1])
    plt.close("all")


@NEEDS_TORCH
def test_torch_available_and_the_message():
    assert pbn.torch_available()
    assert "make torch" in pbn.TORCH_MISSING
