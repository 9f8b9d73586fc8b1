"""Lesson 06's convolutional network: its layers, gradients, modes and training.

Oracles: explicit loops over positions (convolution, pooling), central differences
(every layer and the whole network, for every normalization), PyTorch's Conv2d,
BatchNorm2d/1d, GroupNorm, MaxPool2d, Linear and cross_entropy with autograd (where
torch is installed), and networks trained side by side against the same networks
trained alone.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from course_lib import convnet
from course_lib.convnet import ConvNet, train
from course_lib.gradcheck import numerical_gradients, relative_error
from course_lib.network import backprop_and_numerical_grads

NORMS = ["batch", "group", "layer", "instance", None]


def _data(m=6, seed=0, classes=10):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, 64)), rng.integers(0, classes, m)


# ------------------------------------------------------------------ the layers
def _conv_by_loops(x, W, b):
    r, c, n, h, w = x.shape
    f, k = W.shape[1], W.shape[3]
    p = k // 2
    out = np.zeros((r, f, n, h, w))
    for rr in range(r):
        for i in range(h):
            for j in range(w):
                for di in range(k):
                    for dj in range(k):
                        ii, jj = i + di - p, j + dj - p
                        if 0 <= ii < h and 0 <= jj < w:  # zero padding outside
                            out[rr, :, :, i, j] += W[rr, :, :, di, dj] @ x[rr, :, :, ii, jj]
        out[rr] += b[rr][:, None, None, None]
    return out


def test_conv_forward_equals_the_sum_over_the_patch():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 2, 3, 5, 4))  # (R, C, N, H, W)
    W, b = rng.normal(size=(2, 4, 2, 3, 3)), rng.normal(size=(2, 4))
    out, cols = convnet.conv_forward(x, W, b)
    np.testing.assert_allclose(out, _conv_by_loops(x, W, b), rtol=1e-12, atol=1e-12)
    assert cols.shape == (2, 2 * 9, 3 * 5 * 4) and out.flags.c_contiguous
    assert not np.shares_memory(cols, x)


def test_conv_backward_agrees_with_central_differences():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(1, 3, 2, 4, 4))
    W, b = rng.normal(size=(1, 2, 3, 3, 3)), rng.normal(size=(1, 2))
    dout = rng.normal(size=(1, 2, 2, 4, 4))
    _, cols = convnet.conv_forward(x, W, b)
    dx, dW, db = convnet.conv_backward(dout, cols, W)
    num = numerical_gradients(lambda *a: convnet.conv_forward(*a)[0], (x, W, b), dout)
    for got, want in zip((dx, dW, db), num, strict=True):
        assert relative_error(got, want) < 1e-9
    assert convnet.conv_backward(dout, cols, W, need_dx=False)[0] is None


def test_maxpool_takes_the_largest_of_each_block_and_the_first_on_a_tie():
    x = np.arange(3 * 2 * 4 * 4, dtype=float).reshape(1, 3, 2, 4, 4) % 7  # (R, C, N, H, W)
    out, where = convnet.maxpool_forward(x)
    for c in range(3):
        for n in range(2):
            for i in range(2):
                for j in range(2):
                    block = x[0, c, n, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
                    assert out[0, c, n, i, j] == block.max()
                    assert where[0, c, n, i, j] == block.ravel().argmax()  # the first maximum
    ties = np.zeros((1, 1, 1, 2, 2))
    assert convnet.maxpool_forward(ties)[1].ravel().tolist() == [0]
    dx = convnet.maxpool_backward(np.ones((1, 1, 1, 1, 1)), convnet.maxpool_forward(ties)[1])
    assert dx.ravel().tolist() == [1.0, 0.0, 0.0, 0.0]  # all to the first of four equal values


def test_maxpool_backward_agrees_with_central_differences_away_from_ties():
    rng = np.random.default_rng(3)
    x = rng.permutation(2 * 2 * 4 * 6).reshape(1, 2, 2, 4, 6) * 0.1  # distinct values
    dout = rng.normal(size=(1, 2, 2, 2, 3))
    _, where = convnet.maxpool_forward(x)
    dx = convnet.maxpool_backward(dout, where)
    num = numerical_gradients(lambda a: convnet.maxpool_forward(a)[0], (x,), dout)[0]
    assert relative_error(dx, num) < 1e-9


# ------------------------------------------------------------------ the whole network
CONFIGS = [
    {"channels": (4, 4)},
    {"channels": (4, 4, 4)},
    {"channels": (4, 6), "hidden": 6},
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c['channels']}-{c.get('hidden')}")
@pytest.mark.parametrize("norm", NORMS)
def test_network_gradient_agrees_with_central_differences(norm, config):
    if norm == "instance" and config.get("hidden"):
        pytest.skip("instance norm has no dense hidden layer")
    model = ConvNet(norm=norm, groups=2, seed=1, eps=1e-3, **config)
    X, y = _data()
    p0 = model.flat_params()
    analytic, numeric = backprop_and_numerical_grads(model, X, y)
    np.testing.assert_array_equal(model.flat_params(), p0)
    assert relative_error(analytic, numeric) < 1e-7


def test_the_parameters_and_their_shapes():
    model = ConvNet((8, 16), norm="group", hidden=32, seed=0)
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes == {
        "W1": (8, 1, 3, 3),
        "gamma1": (8,),
        "beta1": (8,),
        "W2": (16, 8, 3, 3),
        "gamma2": (16,),
        "beta2": (16,),
        "W3": (64, 32),
        "gamma3": (32,),
        "beta3": (32,),
        "W4": (32, 10),
        "b4": (10,),
    }
    plain = ConvNet((8, 16), norm=None, seed=0)
    assert list(plain.params) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    # He initialization for the layers followed by a ReLU: std sqrt(2 / fan_in)
    big = ConvNet((64, 64), norm=None, seed=0)
    assert abs(big.params["W2"].std() - np.sqrt(2 / (64 * 9))) < 0.01 * np.sqrt(2 / (64 * 9)) * 5
    assert (
        "ConvNet(conv 8 - pool - conv 16 - pool - dense 32 - dense 10, group norm (4 groups)"
        in repr(model)
    )


# ------------------------------------------------------------------ PyTorch
def _torch_net(model: ConvNet, torch):
    """The same network in PyTorch (float64, NCHW), with the model's weights."""
    nn = torch.nn
    p = {k: torch.tensor(v) for k, v in model.params.items()}
    layers, c_in = [], 1

    def norm_layer(c, dense):
        if model.norm == "batch":
            cls = nn.BatchNorm1d if dense else nn.BatchNorm2d
            return cls(c, eps=model.eps, momentum=1 - model.running_beta)
        groups = {"group": model.groups, "layer": 1, "instance": c}[model.norm]
        return nn.GroupNorm(groups, c, eps=model.eps)

    def load(layer, weight, bias):
        with torch.no_grad():
            layer.weight.copy_(weight)
            if bias is not None:
                layer.bias.copy_(bias)

    h, w = model.image_shape
    for l, c in enumerate(model.channels, start=1):
        conv = nn.Conv2d(c_in, c, 3, padding=1, bias=model.norm is None).double()
        load(conv, p[f"W{l}"], p.get(f"b{l}"))
        layers.append(conv)
        if model.norm is not None:
            norm = norm_layer(c, False).double()
            load(norm, p[f"gamma{l}"], p[f"beta{l}"])
            layers.append(norm)
        layers += [nn.ReLU(), nn.MaxPool2d(2)]
        c_in, h, w = c, h // 2, w // 2
    layers.append(nn.Flatten())  # (c, h, w) order, as our dense layer's rows
    out = model.n_layers + 1
    if model.hidden:
        dense = nn.Linear(h * w * c_in, model.hidden, bias=model.norm is None).double()
        load(dense, p[f"W{out - 1}"].T, p.get(f"b{out - 1}"))
        layers.append(dense)
        if model.norm is not None:
            norm = norm_layer(model.hidden, True).double()
            load(norm, p[f"gamma{out - 1}"], p[f"beta{out - 1}"])
            layers.append(norm)
        layers.append(nn.ReLU())
        last = nn.Linear(model.hidden, model.classes).double()
    else:
        last = nn.Linear(h * w * c_in, model.classes).double()
    load(last, p[f"W{out}"].T, p[f"b{out}"])
    layers.append(last)
    return nn.Sequential(*layers)


@pytest.mark.parametrize("hidden", [None, 8])
@pytest.mark.parametrize("norm", NORMS)
def test_network_equals_pytorch_loss_gradients_running_stats_and_inference(norm, hidden):
    torch = pytest.importorskip(
        "torch", reason="PyTorch is optional: the oracle runs where it is installed"
    )
    if norm == "instance" and hidden:
        pytest.skip("instance norm has no dense hidden layer")
    model = ConvNet((4, 8), norm=norm, groups=2, hidden=hidden, seed=4)
    net = _torch_net(model, torch)
    X, y = _data(m=7, seed=5)
    loss, grads = model.loss_and_grads(X, y)
    net.train()
    xt = torch.tensor(X).reshape(-1, 1, 8, 8)
    loss_t = torch.nn.functional.cross_entropy(net(xt), torch.tensor(y))
    loss_t.backward()
    assert abs(loss - loss_t.item()) < 1e-12
    named = dict(zip(model.params, _torch_parameters(net), strict=True))
    for name, t in named.items():
        g = torch.tensor(grads[name])
        if t.grad.ndim == 2:  # nn.Linear stores (out, in), our W is (in, out)
            g = g.T
        np.testing.assert_allclose(g.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
    if norm == "batch":  # one forward pass in training mode updated the running statistics
        bns = [m for m in net if "BatchNorm" in type(m).__name__]
        for l, bn in enumerate(bns):
            np.testing.assert_allclose(model.running_mean[l], bn.running_mean.numpy(), rtol=1e-12)
            np.testing.assert_allclose(model.running_var[l], bn.running_var.numpy(), rtol=1e-12)
    net.eval()
    with torch.no_grad():
        logits_t = net(xt).numpy()
    np.testing.assert_allclose(model.forward(X, training=False), logits_t, rtol=1e-10, atol=1e-12)


def _torch_parameters(net):
    """PyTorch's parameters in our order: per layer weight (then bias or gamma, beta)."""
    out = []
    for layer in net:
        for attr in ("weight", "bias"):
            t = getattr(layer, attr, None)
            if t is not None:
                out.append(t)
    return out


# ------------------------------------------------------------------ side by side
@pytest.mark.parametrize("norm", ["batch", "group", None])
def test_networks_trained_side_by_side_equal_networks_trained_alone(norm):
    X, y = _data(m=40, seed=6)
    kw = {"lr": 0.05, "steps": 12, "batch_size": 4, "optimizer": "momentum", "eval_every": 6}
    many = ConvNet((4, 8), norm=norm, hidden=8, seed=(3, 4))
    histories = train(many, X, y, X_val=X[:10], y_val=y[:10], **kw)
    assert isinstance(histories, list) and len(histories) == 2
    for k, seed in enumerate((3, 4)):
        one = ConvNet((4, 8), norm=norm, hidden=8, seed=seed)
        history = train(one, X, y, X_val=X[:10], y_val=y[:10], **kw)
        np.testing.assert_allclose(one.flat_params(), many._flat.reshape(2, -1)[k], rtol=1e-12)
        np.testing.assert_allclose(history.loss, histories[k].loss, rtol=1e-12)
        np.testing.assert_allclose(history.val_loss, histories[k].val_loss, rtol=1e-12)
        if norm == "batch":
            for a, b in zip(one.running_var, many.running_var, strict=True):
                np.testing.assert_allclose(a, b[k], rtol=1e-12)
    assert many.params["W1"].shape == (2, 4, 1, 3, 3)
    assert many.predict(X).shape == (2, 40) and many.accuracy(X, y).shape == (2,)


# ------------------------------------------------------------------ modes
def test_batch_norm_in_inference_treats_each_example_alone():
    X, y = _data(m=20, seed=7)
    model = ConvNet((4, 8), norm="batch", hidden=8, seed=0)
    train(model, X, y, lr=0.05, steps=5, batch_size=10)
    alone = np.stack([model.forward(X[i : i + 1], training=False)[0] for i in range(4)])
    np.testing.assert_allclose(model.forward(X[:4], training=False), alone, rtol=1e-12)
    other = X.copy()
    other[1:4] *= 3.0  # in training mode, example 0 depends on the rest of its batch
    a = model.forward(X[:4], training=True, update_stats=False)[0]
    b = model.forward(other[:4], training=True, update_stats=False)[0]
    assert not np.allclose(a, b)
    with pytest.raises(ValueError, match="needs a mini-batch of at least 2"):
        model.forward(X[:1], training=True)


@pytest.mark.parametrize("norm", ["group", "layer", "instance"])
def test_per_example_norms_are_the_same_in_both_modes_and_for_one_example(norm):
    X, _ = _data(m=5, seed=8)
    model = ConvNet((4, 8), norm=norm, groups=2, seed=0)
    train_mode = model.forward(X, training=True)
    np.testing.assert_allclose(train_mode, model.forward(X, training=False), rtol=1e-12)
    np.testing.assert_allclose(model.forward(X[:1], training=True), train_mode[:1], rtol=1e-12)


def test_accuracy_in_training_mode_on_mini_batches():
    X, y = _data(m=11, seed=9)
    model = ConvNet((4, 8), norm="batch", hidden=8, seed=0)
    whole = model.accuracy(X, y, training=True)
    pairs = model.accuracy(X, y, training=True, batch_size=2)  # 5 pairs, the last row left out
    by_hand = np.mean(
        [
            model.forward(X[i : i + 2], training=True, update_stats=False).argmax(1) == y[i : i + 2]
            for i in range(0, 10, 2)
        ]
    )
    assert pairs == by_hand and 0.0 <= whole <= 1.0
    np.testing.assert_array_equal(model.running_mean[0], 0.0)  # nothing was updated
    with pytest.raises(ValueError, match="batch_size must be in 1 .. 11"):
        model.accuracy(X, y, training=True, batch_size=12)


# ------------------------------------------------------------------ training
def test_training_on_digits_learns_and_is_reproducible():
    from course_lib.data import digits

    split = digits(seed=0)
    X, y = split.X_train[:300] / 16.0, split.y_train[:300]
    Xv, yv = split.X_test[:100] / 16.0, split.y_test[:100]
    runs = []
    for _ in range(2):
        model = ConvNet((4, 8), norm="group", groups=2, seed=0)
        runs.append(
            train(model, X, y, lr=0.1, steps=60, batch_size=16, optimizer="momentum",
                  X_val=Xv, y_val=yv, eval_every=30)
        )  # fmt: skip
    np.testing.assert_array_equal(runs[0].loss, runs[1].loss)
    h = runs[0]
    assert list(h.eval_steps) == [0, 30, 60] and h.val_acc[-1] > h.val_acc[0] + 0.3
    assert h.loss[-10:].mean() < h.loss[:10].mean()
    quiet = train(ConvNet((4, 8), norm=None, seed=0), X, y, lr=0.1, steps=5, eval_every=None,
                  eval_train=False)  # fmt: skip
    assert list(quiet.eval_steps) == [5] and np.isnan(quiet.train_acc[0])


def test_copy_and_pickle_keep_everything():
    X, y = _data(m=12, seed=10)
    model = ConvNet((4, 8), norm="batch", seed=0)
    train(model, X, y, lr=0.05, steps=3, batch_size=4)
    for clone in (model.copy(), pickle.loads(pickle.dumps(model))):
        np.testing.assert_array_equal(clone.predict_proba(X), model.predict_proba(X))
        clone.params["W1"][...] = 0.0
        assert np.any(model.params["W1"] != 0.0)


def test_float32_model():
    X, y = _data(m=8, seed=11)
    model = ConvNet((4, 8), norm="group", groups=2, seed=0, dtype=np.float32)
    loss, grads = model.loss_and_grads(X, y)
    assert np.isfinite(loss) and grads["W1"].dtype == np.float32
    assert model.predict_proba(X).dtype == np.float32


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"norm": "batchnorm"}, "norm must be one of"),
        ({"channels": ()}, "channels must list positive"),
        ({"channels": (8, 16, 32, 64)}, "image_shape must be multiples of 16"),
        ({"norm": "group", "groups": 3}, "groups must divide"),
        ({"norm": "instance", "hidden": 16}, "cannot normalize the dense hidden layer"),
        ({"hidden": 1}, "hidden must be None or a width"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"seed": ()}, "seed must be an integer"),
        ({"dtype": np.int32}, "dtype must be float32 or float64"),
        ({"classes": 1}, "classes must be"),
    ],
)
def test_bad_settings_are_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConvNet(**kwargs)


def test_bad_data_is_a_value_error():
    model = ConvNet((4, 8), norm="batch", seed=0)
    X, y = _data(m=4)
    with pytest.raises(ValueError, match="X must have 64 columns"):
        model.predict(X[:, :10])
    with pytest.raises(ValueError, match=r"X must have shape \(m, 8, 8\)"):
        model.predict(np.zeros((2, 4, 4)))
    np.testing.assert_array_equal(model.predict(X.reshape(4, 8, 8)), model.predict(X))
    with pytest.raises(ValueError, match="class labels in 0 .. 9"):
        model.loss_and_grads(X, y + 10)
    with pytest.raises(ValueError, match="at least 2"):
        model.loss_and_grads(X[:1], y[:1])
    with pytest.raises(ValueError, match="batch_size must be >= 2 with Batch Norm"):
        train(model, X, y, lr=0.1, steps=1, batch_size=1)
