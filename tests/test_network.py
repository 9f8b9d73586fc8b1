"""Lesson 04's network: gradients, Batch Norm inside it, modes, optimizers, training."""

from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import batchnorm as bn
from course_lib.gradcheck import relative_error
from course_lib.network import (
    MLP,
    Adam,
    Momentum,
    backprop_and_numerical_grads,
    batches,
    bn_layer_forward,
    bn_network,
    bn_predict,
    bn_train_step,
    make_optimizer,
    one_blas_thread,
    sigmoid,
    softmax,
    train,
    train_step,
)

SMALL = (5, 6, 7, 4)


def _data(m=8, n=5, classes=4, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, n)), rng.integers(0, classes, m)


CONFIGS = [
    {"batchnorm": False},
    {"batchnorm": True},
    {"batchnorm": True, "bn_position": "after"},
    {"batchnorm": True, "activation": "tanh"},
    {"batchnorm": True, "activation": "relu"},
    {"batchnorm": True, "hidden_bias": True},
    {"batchnorm": False, "activation": "relu", "init_scale": 3.0},
]


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{v}" for v in c.values()))
def test_whole_network_gradient_matches_finite_differences(config):
    model = MLP(SMALL, seed=3, dtype=np.float64, **config)
    X, y = _data()
    p0 = model.flat_params()
    analytic, numeric = backprop_and_numerical_grads(model, X, y)
    np.testing.assert_array_equal(model.flat_params(), p0)  # left as found
    assert relative_error(analytic, numeric) < 1e-7
    # and entry by entry where the gradient is not tiny
    big = np.abs(numeric) > 1e-4
    assert relative_error(analytic[big], numeric[big], per_element=True) < 1e-5


def test_deeper_bn_network_gradient_in_float64():
    model = MLP((6, 8, 8, 8, 8, 3), batchnorm=True, seed=7, dtype=np.float64, init_scale=2.0)
    X, y = _data(m=10, n=6, classes=3, seed=2)
    analytic, numeric = backprop_and_numerical_grads(model, X, y)
    assert relative_error(analytic, numeric) < 1e-7


def test_grads_mapping_has_the_shapes_of_params():
    model = MLP(SMALL, batchnorm=True)
    X, y = _data()
    loss, grads = model.loss_and_grads(X, y)
    assert np.isfinite(loss)
    assert (
        list(grads)
        == list(model.params)
        == [
            "W1",
            "gamma1",
            "beta1",
            "W2",
            "gamma2",
            "beta2",
            "W3",
            "b3",
        ]
    )
    for name, g in grads.items():
        assert g.shape == model.params[name].shape
    assert model.params["gamma1"].shape == (6,) and model.params["beta2"].shape == (7,)


# ------------------------------------------------------------------ Batch Norm inside
def test_fast_and_reference_batchnorm_give_the_same_training():
    X, y = _data(m=40, seed=5)
    hist = []
    models = []
    for impl in ("fast", "reference"):
        model = MLP(SMALL, batchnorm=True, seed=1, bn_impl=impl)
        hist.append(train(model, X, y, lr=0.3, steps=15, batch_size=8, optimizer="momentum"))
        models.append(model)
    np.testing.assert_allclose(hist[0].loss, hist[1].loss, rtol=1e-10)
    np.testing.assert_allclose(models[0].flat_params(), models[1].flat_params(), rtol=1e-9)
    for l in range(2):
        np.testing.assert_allclose(models[0].running_mean[l], models[1].running_mean[l], rtol=1e-9)
        np.testing.assert_allclose(models[0].running_var[l], models[1].running_var[l], rtol=1e-9)
    np.testing.assert_allclose(models[0].predict_proba(X), models[1].predict_proba(X), rtol=1e-9)


@pytest.mark.parametrize("position", ["before", "after"])
def test_ghost_batches_fast_equals_reference_and_gradients_check(position):
    X, y = _data(m=12, seed=7)
    runs = []
    for impl in ("fast", "reference"):
        model = MLP(
            SMALL, batchnorm=True, seed=2, ghost_batch=4, bn_position=position, bn_impl=impl
        )
        loss, _ = model.loss_and_grads(X, y)
        runs.append((loss, model.flat_grads(), model.running_mean[1], model.running_var[1]))
    for a, b in zip(*runs, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-15)
    model = MLP(SMALL, batchnorm=True, seed=2, ghost_batch=4, bn_position=position)
    analytic, numeric = backprop_and_numerical_grads(model, X, y)
    assert relative_error(analytic, numeric) < 1e-7


def test_ghost_batches_normalize_each_group_on_its_own():
    model = MLP((5, 6, 3), batchnorm=True, ghost_batch=3, seed=0)
    X, _ = _data(m=9)
    z = model.layer_values(X, training=True)[0]["z"]
    for k in range(3):
        np.testing.assert_allclose(z[3 * k : 3 * k + 3].mean(0), 0.0, atol=1e-12)
    alone = model.layer_values(X[3:6], training=True)[0]["z"]
    np.testing.assert_allclose(z[3:6], alone, rtol=1e-12)
    with pytest.raises(ValueError, match="multiple"):
        model.loss_and_grads(X[:8], np.zeros(8, int))
    with pytest.raises(ValueError, match="ghost_batch"):
        MLP(SMALL, batchnorm=True, ghost_batch=1)


def test_running_stats_follow_update_running_stats_of_lesson_03():
    model = MLP(SMALL, batchnorm=True, seed=2)
    X, y = _data(m=12)
    means = [np.zeros(6), np.zeros(7)]
    variances = [np.ones(6), np.ones(7)]
    for k in range(3):
        rows = slice(4 * k, 4 * k + 4)
        z_pre = [v["z_pre"] for v in model.layer_values(X[rows], training=True)]
        for l in range(2):
            means[l], variances[l] = bn.update_running_stats(
                means[l], variances[l], z_pre[l], beta=0.9, unbiased=True
            )
        model.loss_and_grads(X[rows], y[rows])
    for l in range(2):
        np.testing.assert_allclose(model.running_mean[l], means[l], rtol=1e-12)
        np.testing.assert_allclose(model.running_var[l], variances[l], rtol=1e-12)


def test_inference_uses_batchnorm_inference_with_the_running_stats():
    model = MLP(SMALL, batchnorm=True, seed=4)
    X, y = _data(m=30)
    train(model, X, y, lr=0.5, steps=10, batch_size=10)
    values = model.layer_values(X, training=False)
    z_pre, W1 = values[0]["z_pre"], model.params["W1"]
    np.testing.assert_allclose(z_pre, X @ W1)
    expected = bn.batchnorm_inference(
        z_pre,
        model.params["gamma1"],
        model.params["beta1"],
        model.running_mean[0],
        model.running_var[0],
    )
    np.testing.assert_allclose(values[0]["z"], expected, rtol=1e-12)
    np.testing.assert_allclose(values[0]["a"], sigmoid(expected), rtol=1e-12)


def test_training_mode_hidden_inputs_are_normalized_per_unit():
    model = MLP((5, 9, 9, 3), batchnorm=True, seed=0)
    model.params["gamma2"][...] = 2.0
    model.params["beta2"][...] = -1.0
    X, _ = _data(m=50)
    values = model.layer_values(X, training=True)[1]
    z, var_pre = values["z"], values["z_pre"].var(0)
    np.testing.assert_allclose(z.mean(0), -1.0, atol=1e-12)
    np.testing.assert_allclose(z.std(0), 2.0 * np.sqrt(var_pre / (var_pre + 1e-5)), rtol=1e-10)


def test_bias_before_batchnorm_is_redundant():
    """b[l] before BN: zero gradient, and changing it changes nothing in training mode."""
    model = MLP(SMALL, batchnorm=True, hidden_bias=True, seed=3)
    X, y = _data(m=16)
    loss, grads = model.loss_and_grads(X, y, update_stats=False)
    assert np.abs(grads["b1"]).max() < 1e-15 and np.abs(grads["b2"]).max() < 1e-15
    assert np.abs(grads["W1"]).max() > 1e-4
    logits = model.forward(X, training=True, update_stats=False)
    model.params["b1"][...] = 3.0
    model.params["b2"][...] = np.linspace(-5, 5, 7)
    np.testing.assert_allclose(
        model.forward(X, training=True, update_stats=False), logits, atol=1e-12
    )


def test_bias_after_activation_placement_matters():
    model = MLP(SMALL, batchnorm=True, bn_position="after", seed=3)
    X, y = _data(m=16)
    assert "b1" in model.params
    _, grads = model.loss_and_grads(X, y, update_stats=False)
    assert np.abs(grads["b1"]).max() > 1e-6  # the bias is before the nonlinearity


def test_batch_of_one_in_training_mode_is_an_error():
    model = MLP(SMALL, batchnorm=True)
    X, y = _data(m=1)
    with pytest.raises(ValueError, match="at least 2"):
        model.loss_and_grads(X, y)
    assert model.predict(X[0]) in range(4)  # inference mode works for one example


# ------------------------------------------------------------------ against PyTorch
@pytest.mark.parametrize("position", ["before", "after"])
def test_loss_gradients_and_running_stats_agree_with_pytorch(position):
    torch = pytest.importorskip("torch")
    model = MLP(SMALL, batchnorm=True, seed=5, bn_position=position, dtype=np.float64)
    rng = np.random.default_rng(0)
    model.params["gamma1"][...] = rng.uniform(0.5, 2, 6)
    model.params["beta2"][...] = rng.normal(size=7)
    X, y = _data(m=12)
    nn = torch.nn
    layers = []
    for l in (1, 2):
        n_in, n_out = SMALL[l - 1], SMALL[l]
        lin = nn.Linear(n_in, n_out, bias=position == "after").double()
        bnl = nn.BatchNorm1d(n_out, momentum=0.1, eps=1e-5).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(model.params[f"W{l}"].T.copy()))
            if position == "after":
                lin.bias.copy_(torch.from_numpy(model.params[f"b{l}"]))
            bnl.weight.copy_(torch.from_numpy(model.params[f"gamma{l}"]))
            bnl.bias.copy_(torch.from_numpy(model.params[f"beta{l}"]))
        layers += [lin, bnl, nn.Sigmoid()] if position == "before" else [lin, nn.Sigmoid(), bnl]
    out = nn.Linear(7, 4).double()
    with torch.no_grad():
        out.weight.copy_(torch.from_numpy(model.params["W3"].T.copy()))
        out.bias.copy_(torch.from_numpy(model.params["b3"]))
    net = nn.Sequential(*layers, out).train()
    loss_t = nn.functional.cross_entropy(net(torch.from_numpy(X)), torch.from_numpy(y))
    loss_t.backward()
    loss, grads = model.loss_and_grads(X, y)
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    lin_layers = [m for m in net if isinstance(m, nn.Linear)]
    bn_layers = [m for m in net if isinstance(m, nn.BatchNorm1d)]
    for l in (1, 2, 3):
        np.testing.assert_allclose(grads[f"W{l}"], lin_layers[l - 1].weight.grad.numpy().T)
    for l in (1, 2):
        np.testing.assert_allclose(grads[f"gamma{l}"], bn_layers[l - 1].weight.grad.numpy())
        np.testing.assert_allclose(grads[f"beta{l}"], bn_layers[l - 1].bias.grad.numpy())
        np.testing.assert_allclose(model.running_mean[l - 1], bn_layers[l - 1].running_mean)
        np.testing.assert_allclose(model.running_var[l - 1], bn_layers[l - 1].running_var)
    net.eval()
    with torch.no_grad():
        p_t = torch.softmax(net(torch.from_numpy(X)), 1).numpy()
    np.testing.assert_allclose(model.predict_proba(X), p_t, rtol=1e-10)


# ------------------------------------------------------------------ inference mode
def test_predict_on_one_example_equals_its_row():
    model = MLP((5, 8, 8, 4), batchnorm=True, seed=1)
    X, y = _data(m=40)
    train(model, X, y, lr=0.5, steps=20, batch_size=10)
    all_rows = model.predict(X)
    proba = model.predict_proba(X)
    for i in (0, 7, 39):
        assert model.predict(X[i]) == all_rows[i]
        np.testing.assert_allclose(model.predict_proba(X[i]), proba[i], rtol=1e-12)
    assert all_rows.shape == (40,) and np.ndim(model.predict(X[0])) == 0


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31), st.integers(2, 30))
def test_inference_does_not_depend_on_the_other_rows(seed, m):
    model = MLP((5, 6, 4), batchnorm=True, seed=seed % 7)
    model.running_mean[0] = np.linspace(-1, 1, 6)
    model.running_var[0] = np.linspace(0.5, 2, 6)
    X, _ = _data(m=m, seed=seed)
    perm = np.random.default_rng(seed).permutation(m)
    np.testing.assert_allclose(
        model.predict_proba(X)[perm], model.predict_proba(X[perm]), rtol=1e-12
    )
    np.testing.assert_allclose(model.predict_proba(X[:1]), model.predict_proba(X)[:1], rtol=1e-12)


def test_training_mode_does_depend_on_the_batch_and_inference_does_not_update():
    model = MLP(SMALL, batchnorm=True, seed=2)
    X, _ = _data(m=20)
    before = [r.copy() for r in model.running_mean]
    a = model.forward(X[:10], training=True, update_stats=False)
    b = model.forward(np.vstack([X[:5], X[10:15]]), training=True, update_stats=False)
    assert not np.allclose(a[:5], b[:5])
    model.predict(X)
    model.forward(X, training=False)
    for r0, r1 in zip(before, model.running_mean, strict=True):
        np.testing.assert_array_equal(r0, r1)


# ------------------------------------------------------------------ determinism
def test_same_seed_gives_identical_history_and_weights():
    X, y = _data(m=60, seed=3)
    runs = []
    for _ in range(2):
        model = MLP(SMALL, batchnorm=True, seed=11)
        h = train(
            model,
            X,
            y,
            lr=0.2,
            steps=25,
            batch_size=12,
            optimizer="adam",
            seed=4,
            X_val=X[:20],
            y_val=y[:20],
            eval_every=5,
            monitor=lambda m: m.running_var[0],
        )
        runs.append((h, model.flat_params()))
    (h1, p1), (h2, p2) = runs
    for field in ("loss", "eval_steps", "train_acc", "train_loss", "val_acc", "val_loss"):
        np.testing.assert_array_equal(getattr(h1, field), getattr(h2, field))
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(np.array(h1.monitor), np.array(h2.monitor))
    other = train(MLP(SMALL, batchnorm=True, seed=12), X, y, lr=0.2, steps=25, batch_size=12)
    assert not np.array_equal(other.loss, h1.loss)


def test_weights_depend_only_on_the_seed_not_on_global_random_state():
    saved = np.random.get_state()  # noqa: NPY002 - the legacy global state, on purpose
    try:
        np.random.seed(0)  # noqa: NPY002
        a = MLP(SMALL, seed=3).flat_params()
        np.random.seed(1)  # noqa: NPY002
        b = MLP(SMALL, seed=3).flat_params()
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, MLP(SMALL, seed=4).flat_params())


def test_init_scale_and_statistics_of_the_weights():
    model = MLP((400, 300, 10), seed=0, init_scale=2.0)
    W = model.params["W1"]
    assert W.std() == pytest.approx(2.0 / np.sqrt(400), rel=0.02)
    assert abs(W.mean()) < 0.01
    bn_model = MLP((4, 5, 3), batchnorm=True)
    np.testing.assert_array_equal(bn_model.params["gamma1"], 1.0)
    np.testing.assert_array_equal(bn_model.params["beta1"], 0.0)
    np.testing.assert_array_equal(bn_model.running_var[0], 1.0)


# ------------------------------------------------------------------ optimizers
def test_optimizers_follow_their_formulas():
    rng = np.random.default_rng(0)
    p0, g1, g2 = rng.normal(size=(3, 6))
    sgd = make_optimizer("sgd", 0.1)
    p = p0.copy()
    sgd.step(p, g1)
    np.testing.assert_allclose(p, p0 - 0.1 * g1)
    mom = make_optimizer("momentum", 0.1, beta=0.8)
    p = p0.copy()
    mom.step(p, g1)
    mom.step(p, g2)
    v1 = 0.2 * g1
    v2 = 0.8 * v1 + 0.2 * g2
    np.testing.assert_allclose(p, p0 - 0.1 * v1 - 0.1 * v2)
    adam = make_optimizer("adam", 0.01)
    p = p0.copy()
    adam.step(p, g1)  # first step: bias correction makes it lr * g / (|g| + eps)
    np.testing.assert_allclose(p, p0 - 0.01 * g1 / (np.abs(g1) + 1e-8))
    adam.step(p, g2)
    m = (0.9 * 0.1 * g1 + 0.1 * g2) / (1 - 0.9**2)
    s = (0.999 * 0.001 * g1**2 + 0.001 * g2**2) / (1 - 0.999**2)
    np.testing.assert_allclose(
        p, p0 - 0.01 * g1 / (np.abs(g1) + 1e-8) - 0.01 * m / (np.sqrt(s) + 1e-8)
    )


def test_adam_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    p0 = rng.normal(size=5)
    grads = rng.normal(size=(4, 5))
    p = p0.copy()
    ours = Adam(0.05)
    t = torch.tensor(p0, requires_grad=True)
    theirs = torch.optim.Adam([t], lr=0.05)
    for g in grads:
        ours.step(p, g)
        t.grad = torch.from_numpy(g.copy())
        theirs.step()
    np.testing.assert_allclose(p, t.detach().numpy(), rtol=1e-12)


def test_momentum_is_pytorch_momentum_with_a_scaled_learning_rate():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    p0, grads = rng.normal(size=4), rng.normal(size=(5, 4))
    p = p0.copy()
    ours = Momentum(0.1, beta=0.9)
    t = torch.tensor(p0, requires_grad=True)
    theirs = torch.optim.SGD([t], lr=0.1 * (1 - 0.9), momentum=0.9)
    for g in grads:
        ours.step(p, g)
        t.grad = torch.from_numpy(g.copy())
        theirs.step()
    np.testing.assert_allclose(p, t.detach().numpy(), rtol=1e-12)


def test_train_step_updates_W_gamma_and_beta_with_the_optimizer():
    model = MLP(SMALL, batchnorm=True, seed=0)
    X, y = _data(m=10)
    reference = model.copy()
    loss_ref, grads = reference.loss_and_grads(X, y)
    expected = {k: reference.params[k] - 0.3 * g for k, g in grads.items()}
    loss = train_step(model, make_optimizer("sgd", 0.3), X, y)
    assert loss == loss_ref
    for k, v in expected.items():
        np.testing.assert_allclose(model.params[k], v, rtol=1e-13)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_each_optimizer_trains_the_bn_network(name):
    X, y = _data(m=80, classes=3, seed=6)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    model = MLP((5, 16, 16, 3), batchnorm=True, seed=0)
    lr = {"sgd": 1.0, "momentum": 1.0, "adam": 0.02}[name]
    h = train(model, X, y, lr=lr, steps=300, batch_size=20, optimizer=name)
    assert h.loss[-10:].mean() < 0.4 * h.loss[:10].mean()
    assert h.final_train_acc > 0.9


# ------------------------------------------------------------------ train()
def test_train_history_layout_and_inputs_untouched():
    X, y = _data(m=50)
    X0, y0 = X.copy(), y.copy()
    model = MLP(SMALL, batchnorm=True)
    h = train(
        model,
        X,
        y,
        lr=0.1,
        steps=23,
        batch_size=10,
        X_val=X[:9],
        y_val=y[:9],
        eval_every=10,
        monitor=lambda m: 1,
    )
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    assert h.loss.shape == (23,)
    np.testing.assert_array_equal(h.eval_steps, [0, 10, 20, 23])
    assert h.monitor == [1, 1, 1, 1] and h.val_acc.shape == (4,)
    assert model.training  # the mode is restored
    assert "History(23 steps" in repr(h)
    assert h.steps_to(0.0) == 0 and h.steps_to(1.01) is None


def test_train_without_validation_data_records_nan():
    X, y = _data(m=20)
    h = train(MLP(SMALL), X, y, lr=0.1, steps=3, batch_size=5)
    assert np.isnan(h.val_acc).all() and np.isfinite(h.train_acc).all()


def test_batches_cover_each_epoch_once_and_drop_the_rest():
    got = list(batches(23, 5, steps=9, seed=1))
    assert len(got) == 9 and all(len(b) == 5 for b in got)
    epoch1 = np.concatenate(got[:4])
    assert len(set(epoch1)) == 20  # 4 full batches of one permutation, 3 rows dropped
    assert [list(b) for b in got] == [list(b) for b in batches(23, 5, steps=9, seed=1)]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sizes": (5,)}, "sizes"),
        ({"sizes": (5, 0, 3)}, "sizes"),
        ({"sizes": (5, 4, 1)}, "classes"),
        ({"activation": "softplus"}, "activation"),
        ({"bn_position": "middle"}, "bn_position"),
        ({"init_scale": 0}, "init_scale"),
        ({"running_beta": 1.0}, "running_beta"),
        ({"dtype": np.int32}, "dtype"),
        ({"bn_impl": "cuda"}, "bn_impl"),
    ],
)
def test_bad_settings_raise_value_errors(kwargs, match):
    kwargs = {"sizes": SMALL, **kwargs}
    with pytest.raises(ValueError, match=match):
        MLP(**kwargs)


def test_bad_data_raise_value_errors():
    model = MLP(SMALL, batchnorm=True)
    X, y = _data()
    with pytest.raises(ValueError, match="5 columns"):
        model.predict(X[:, :4])
    with pytest.raises(ValueError, match="class labels"):
        model.loss_and_grads(X, y + 10)
    with pytest.raises(ValueError, match="shape"):
        model.loss_and_grads(X, y[:3])
    with pytest.raises(ValueError, match="NaN"):
        model.predict(np.full((2, 5), np.nan))
    with pytest.raises(ValueError, match="batch_size"):
        train(model, X, y, lr=0.1, steps=2, batch_size=1)
    with pytest.raises(ValueError, match="X_val"):
        train(model, X, y, lr=0.1, steps=2, batch_size=4, X_val=X)
    with pytest.raises(ValueError, match="lr"):
        train(model, X, y, lr=-1, steps=2, batch_size=4)
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer("rmsprop", 0.1)


# ------------------------------------------------------------------ odds and ends
def test_copy_and_pickle_keep_parameters_linked_to_the_buffer():
    model = MLP(SMALL, batchnorm=True, seed=0)
    X, y = _data(m=20)
    for clone in (model.copy(), pickle.loads(pickle.dumps(model))):
        train(clone, X, y, lr=0.5, steps=5, batch_size=5)
        assert not np.array_equal(clone.params["W1"], model.params["W1"])
        np.testing.assert_array_equal(clone.flat_params()[:30], clone.params["W1"].ravel())
    np.testing.assert_array_equal(model.flat_params(), MLP(SMALL, batchnorm=True).flat_params())


def test_params_mapping_is_read_only_but_values_are_writable():
    model = MLP(SMALL)
    with pytest.raises(TypeError):
        model.params["W1"] = np.zeros((5, 6))
    model.params["W1"][...] = 0.0
    assert np.all(model.flat_params()[:30] == 0)
    with pytest.raises(ValueError, match="shape"):
        model.set_flat_params(np.zeros(3))


@settings(max_examples=40, deadline=None)
@given(st.floats(-700, 700))
def test_sigmoid_is_the_logistic_function(z):
    # oracle: the two textbook forms, each used where it cannot overflow
    expected = 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))
    assert sigmoid(np.array([z]))[0] == pytest.approx(expected, rel=1e-14, abs=0)


def test_sigmoid_saturates_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = sigmoid(np.array([-1e4, -40.0, 0.0, 1e4]))
    assert s[0] < 1e-300 and s[1] == pytest.approx(math.exp(-40), rel=1e-14)
    np.testing.assert_array_equal(s[2:], [0.5, 1.0])
    # float32 overflows from e^88.8 on: a float32 network saturates quietly too
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s32 = sigmoid(np.array([-1e4, -100.0, -20.0, 0.0, 100.0], dtype=np.float32))
    assert s32.dtype == np.float32
    assert 0.0 < s32[0] == s32[1] < 1e-37
    assert s32[2] == pytest.approx(math.exp(-20), rel=1e-6)
    np.testing.assert_array_equal(s32[3:], [0.5, 1.0])


def test_bn_layer_forward_is_sigmoid_of_batchnorm_of_the_product():
    rng = np.random.default_rng(0)
    A, W = rng.normal(size=(7, 4)), rng.normal(size=(4, 3))
    gamma, beta = rng.uniform(0.5, 2, 3), rng.normal(size=3)
    z = A @ W
    z_hat = (z - z.mean(0)) / np.sqrt(z.var(0) + 1e-5)
    np.testing.assert_allclose(
        bn_layer_forward(A, W, gamma, beta), 1 / (1 + np.exp(-(gamma * z_hat + beta)))
    )
    with pytest.raises(ValueError, match="W must have shape"):
        bn_layer_forward(A, W.T, gamma, beta)


def test_one_blas_thread_restores_the_thread_count():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    with one_blas_thread():
        inside = [
            i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"
        ]
        assert all(n == 1 for n in inside)
    after = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert after == before


def test_float32_model_trains_and_keeps_its_dtype():
    X, y = _data(m=40)
    model = MLP(SMALL, batchnorm=True, dtype=np.float32)
    h = train(model, X, y, lr=0.3, steps=20, batch_size=10)
    assert model.flat_params().dtype == np.float32 and np.isfinite(h.loss).all()
    assert model.predict_proba(X).dtype == np.float32
    assert "float" not in repr(model) and "MLP(5-6-7-4" in repr(model)


def test_progress_bar_option_does_not_change_the_history():
    pytest.importorskip("tqdm")
    X, y = _data(m=20)
    quiet = train(MLP(SMALL), X, y, lr=0.1, steps=5, batch_size=5)
    shown = train(MLP(SMALL), X, y, lr=0.1, steps=5, batch_size=5, progress=True)
    np.testing.assert_array_equal(quiet.loss, shown.loss)


def test_history_records_what_the_model_scores_at_the_end():
    X, y = _data(m=40)
    model = MLP(SMALL, batchnorm=True, seed=3)
    h = train(model, X, y, lr=0.3, steps=12, batch_size=10, X_val=X[:15], y_val=y[:15])
    assert h.final_train_acc == model.accuracy(X, y)
    assert h.final_val_acc == model.accuracy(X[:15], y[:15])
    assert h.val_loss[-1] == pytest.approx(model.loss(X[:15], y[:15]), rel=1e-12)
    assert h.train_loss[-1] == pytest.approx(model.loss(X, y), rel=1e-12)


# ------------------------------------------------------------------ the exercise's training step
def _perturbed_network(sizes, seed):
    rng = np.random.default_rng(seed)
    params, running = bn_network(sizes, seed=seed)
    params = {k: v + rng.normal(0, 0.3, v.shape) for k, v in params.items()}
    running = {k: v + rng.uniform(0.1, 0.5, v.shape) for k, v in running.items()}
    return params, running


def _mlp_from(sizes, params, running, seed=0):
    model = MLP(sizes, batchnorm=True, seed=seed)
    for k, v in params.items():
        model.params[k][...] = v
    for l in range(len(sizes) - 2):
        model.running_mean[l] = running[f"mean{l + 1}"].copy()
        model.running_var[l] = running[f"var{l + 1}"].copy()
    return model


def test_softmax_rows_sum_to_one_and_large_logits_do_not_overflow():
    p = softmax(np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, -1000.0]]))
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(p[1], [0.5, 0.5, 0.0], atol=1e-300)
    np.testing.assert_allclose(p[0], np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum())


@pytest.mark.parametrize("sizes, m", [((5, 4, 3), 2), ((6, 5, 4, 3), 7), ((4, 3, 5, 3, 4), 12)])
def test_bn_train_step_is_the_networks_sgd_step(sizes, m):
    """The exercise's reference (written with course_lib.batchnorm, dicts) against the
    fused MLP path (one flat buffer, its own BN code): the same loss, gradients and
    running statistics (MLP.loss_and_grads is itself checked against PyTorch)."""
    params, running = _perturbed_network(sizes, seed=m)
    rng = np.random.default_rng(m)
    X, y = rng.normal(size=(m, sizes[0])), rng.integers(0, sizes[-1], m)
    loss, new_params, new_running = bn_train_step(params, running, X, y, lr=0.2, eps=1e-3)
    model = _mlp_from(sizes, params, running)
    model.eps = 1e-3
    ref_loss, grads = model.loss_and_grads(X, y)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert set(new_params) == set(params)
    for k in params:
        np.testing.assert_allclose(
            new_params[k], params[k] - 0.2 * grads[k], rtol=1e-10, atol=1e-13
        )
    for l in range(len(sizes) - 2):
        np.testing.assert_allclose(new_running[f"mean{l + 1}"], model.running_mean[l], rtol=1e-12)
        np.testing.assert_allclose(new_running[f"var{l + 1}"], model.running_var[l], rtol=1e-12)


def test_bn_train_step_gradients_match_central_differences():
    sizes, m = (4, 5, 3, 3), 6
    params, running = _perturbed_network(sizes, seed=2)
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(m, 4)), rng.integers(0, 3, m)
    lr = 1.0
    _, new_params, _ = bn_train_step(params, running, X, y, lr)
    names = list(params)
    flat = np.concatenate([params[k].ravel() for k in names])

    def loss_at(vector):
        p, start = {}, 0
        for k in names:
            p[k] = vector[start : start + params[k].size].reshape(params[k].shape)
            start += params[k].size
        return np.asarray(bn_train_step(p, running, X, y, lr)[0])

    from course_lib.gradcheck import numerical_gradient

    numeric = numerical_gradient(loss_at, flat, np.float64(1.0))
    analytic = np.concatenate([(params[k] - new_params[k]).ravel() / lr for k in names])
    assert relative_error(analytic, numeric) < 1e-7


def test_bn_train_step_keeps_its_inputs_and_uses_the_running_beta():
    sizes = (3, 4, 2)
    params, running = _perturbed_network(sizes, seed=5)
    before = ({k: v.copy() for k, v in params.items()}, {k: v.copy() for k, v in running.items()})
    X, y = np.random.default_rng(0).normal(size=(5, 3)), np.array([0, 1, 0, 1, 1])
    _, _, new_running = bn_train_step(params, running, X, y, 0.1, running_beta=0.5)
    for d, d0 in zip((params, running), before, strict=True):
        assert all(np.array_equal(d[k], d0[k]) for k in d0)
    z = X @ params["W1"]
    np.testing.assert_allclose(new_running["mean1"], 0.5 * running["mean1"] + 0.5 * z.mean(0))
    np.testing.assert_allclose(new_running["var1"], 0.5 * running["var1"] + 0.5 * z.var(0, ddof=1))


def test_bn_train_step_refuses_a_hidden_bias_and_bad_batches():
    params, running = bn_network((3, 4, 2))
    X, y = np.ones((4, 3)), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="no bias"):
        bn_train_step({**params, "b1": np.zeros(4)}, running, X, y, 0.1)
    with pytest.raises(ValueError, match="missing"):
        bn_train_step({k: v for k, v in params.items() if k != "gamma1"}, running, X, y, 0.1)
    with pytest.raises(ValueError, match="at least 2"):
        bn_train_step(params, running, X[:1], y[:1], 0.1)
    with pytest.raises(ValueError, match="integer labels"):
        bn_train_step(params, running, X, y.astype(float), 0.1)


def test_bn_network_and_bn_predict_agree_with_the_mlp():
    sizes = (6, 5, 4, 3)
    params, running = bn_network(sizes, seed=4)
    model = MLP(sizes, batchnorm=True, seed=4)
    for k, v in model.params.items():
        np.testing.assert_array_equal(params[k], v)
    assert set(running) == {"mean1", "var1", "mean2", "var2"}
    params, running = _perturbed_network(sizes, seed=4)
    X = np.random.default_rng(1).normal(size=(9, 6))
    np.testing.assert_array_equal(
        bn_predict(params, running, X), _mlp_from(sizes, params, running).predict(X)
    )


def test_training_with_the_step_learns_the_digits():
    from course_lib.experiments import digits_data

    d = digits_data()
    params, running = bn_network((64, 32, 32, 10), seed=0)
    for idx in batches(d.X_train.shape[0], 50, 150, seed=0):
        _, params, running = bn_train_step(params, running, d.X_train[idx], d.y_train[idx], 0.5)
    assert np.mean(bn_predict(params, running, d.X_val) == d.y_val) > 0.93


# ------------------------------------------------------------------ train: stopping and scoring
def test_train_stops_at_the_target_and_scores_the_training_set_only_at_the_end():
    X, _ = _data(m=60, seed=3)
    y = (X[:, 0] > 0).astype(int)  # learnable
    model = MLP(SMALL, batchnorm=True, seed=0)
    h = train(
        model,
        X,
        y,
        lr=0.5,
        steps=400,
        batch_size=20,
        X_val=X,
        y_val=y,
        eval_every=10,
        eval_train=False,
        stop_at=0.6,
    )
    assert h.val_acc[-1] >= 0.6 and (h.val_acc[:-1] < 0.6).all()
    assert len(h.loss) == h.eval_steps[-1] < 400
    assert np.isnan(h.train_acc[:-1]).all() and np.isfinite(h.train_acc[-1])
    with pytest.raises(ValueError, match="stop_at"):
        train(model, X, y, lr=0.5, steps=10, stop_at=0.9)


def test_train_stops_when_the_loss_overflows():
    from course_lib.experiments import digits_data

    d = digits_data()
    model = MLP((64, 100, 100, 100, 10), activation="relu", init_scale=math.sqrt(2), seed=0)
    with np.errstate(all="ignore"):
        h = train(model, d.X_train, d.y_train, lr=10.0, steps=200, stop_if_diverged=True)
    assert len(h.loss) < 200 and not np.isfinite(h.loss[-1])
    assert h.eval_steps[-1] == len(h.loss)
