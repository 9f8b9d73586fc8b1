"""``course_lib.torch_bridge``: lesson 04's MLP in PyTorch and back, the same numbers.

The round trip copies every number; training-mode and inference-mode outputs agree to
round-off; 200 SGD steps of the lesson-04 network in both libraries, from the same
weights on the same mini-batches, give the same loss curve, weights and running
statistics to 1e-10 (float64). Skipped, with lesson 07, where PyTorch is missing.
"""

from __future__ import annotations

import numpy as np
import pytest

from course_lib.lessons import skip_reason

torch = pytest.importorskip("torch", reason=skip_reason("07_batch_norm_in_pytorch"))

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from course_lib import experiments as ex  # noqa: E402
from course_lib.network import MLP, batches, train  # noqa: E402
from course_lib.torch_bridge import mlp_to_torch, torch_to_mlp  # noqa: E402

SIZES = [64, 100, 100, 100, 10]


@pytest.fixture(autouse=True)
def _one_thread():
    """PyTorch on one thread, as in the lesson (a busy machine stalls a thread pool)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


CONFIGS = {
    "BN before, sigmoid (lesson 04)": dict(activation="sigmoid", batchnorm=True),
    "BN after, relu": dict(activation="relu", batchnorm=True, bn_position="after"),
    "BN before with hidden biases, tanh": dict(activation="tanh", batchnorm=True, hidden_bias=True),
    "no BN, sigmoid": dict(activation="sigmoid", batchnorm=False),
    "no BN, no hidden bias, relu": dict(activation="relu", batchnorm=False, hidden_bias=False),
    "BN, beta 0.99, eps 1e-3": dict(
        activation="sigmoid", batchnorm=True, running_beta=0.99, eps=1e-3
    ),
}


def _model(config: str, seed: int = 3, sizes=(6, 5, 4, 3)) -> MLP:
    model = MLP(list(sizes), seed=seed, **CONFIGS[config])
    rng = np.random.default_rng(seed)
    for name, p in model.params.items():  # move γ, β and biases away from 1 and 0
        if not name.startswith("W"):
            p[...] = rng.normal(0.5, 0.3, p.shape)
    if model.batchnorm:
        model.running_mean = [rng.normal(size=v.shape) for v in model.running_mean]
        model.running_var = [rng.uniform(0.5, 2.0, v.shape) for v in model.running_var]
    return model


def _numpy(t) -> np.ndarray:
    return t.detach().numpy()


@pytest.mark.parametrize("config", CONFIGS)
def test_round_trip_keeps_every_number(config):
    model = _model(config)
    back = torch_to_mlp(mlp_to_torch(model))
    assert back.sizes == model.sizes and back.activation == model.activation
    assert back.batchnorm == model.batchnorm and back.hidden_bias == model.hidden_bias
    if model.batchnorm:
        assert back.bn_position == model.bn_position
        assert back.eps == model.eps and back.running_beta == model.running_beta
    assert list(back.params) == list(model.params)
    for name, p in model.params.items():
        assert np.array_equal(back.params[name], p), name
    for a, b in zip(
        back.running_mean + back.running_var, model.running_mean + model.running_var, strict=True
    ):
        assert np.array_equal(a, b)
    assert back.training == model.training


@pytest.mark.parametrize("config", CONFIGS)
def test_layers_and_conventions(config):
    model = _model(config)
    net = mlp_to_torch(model)
    kinds = [type(m).__name__ for m in net]
    act = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "ReLU"}[model.activation]
    if not model.batchnorm:
        assert kinds == ["Linear", act, "Linear", act, "Linear"]
    elif model.bn_position == "before":
        assert kinds == ["Linear", "BatchNorm1d", act] * 2 + ["Linear"]
    else:
        assert kinds == ["Linear", act, "BatchNorm1d"] * 2 + ["Linear"]
    assert all(p.dtype == torch.float64 for p in net.parameters())
    first = net[0]
    assert np.array_equal(_numpy(first.weight), model.params["W1"].T)  # (out, in) = W.T
    for norm in (m for m in net if isinstance(m, nn.BatchNorm1d)):
        assert norm.momentum == pytest.approx(1 - model.running_beta, abs=1e-15)
        assert norm.eps == model.eps
    assert net.training == model.training


def test_default_momentum_prints_as_point_one():
    net = mlp_to_torch(MLP(SIZES, "sigmoid", batchnorm=True))
    assert "momentum=0.1," in repr(net)  # not 0.09999999999999998
    assert torch_to_mlp(net).running_beta == 0.9


def test_nothing_is_shared():
    model = _model("BN before, sigmoid (lesson 04)")
    net = mlp_to_torch(model)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(2.0)
        net[1].running_mean.add_(1.0)
    assert np.array_equal(torch_to_mlp(mlp_to_torch(model)).params["W1"], model.params["W1"])
    back = torch_to_mlp(net)
    back.params["W1"][...] = 0.0
    assert float(net[0].weight.detach().abs().sum()) > 0


@pytest.mark.parametrize("config", CONFIGS)
def test_training_and_inference_outputs_agree(config):
    model = _model(config)
    net = mlp_to_torch(model)
    X = np.random.default_rng(1).normal(size=(9, 6))
    with torch.no_grad():
        train_out = _numpy(net.train()(torch.tensor(X)))
        eval_out = _numpy(net.eval()(torch.tensor(X)))
    ours_train = model.forward(X, training=True)  # updates the running statistics too
    ours_eval = model.forward(X, training=False)
    assert np.abs(train_out - ours_train).max() < 1e-12
    assert np.abs(eval_out - ours_eval).max() < 1e-12
    back = torch_to_mlp(net)
    for a, b in zip(
        back.running_mean + back.running_var, model.running_mean + model.running_var, strict=True
    ):
        assert np.abs(a - b).max() < 1e-14


@pytest.mark.parametrize("config", CONFIGS)
def test_gradients_agree(config):
    model = _model(config)
    net = mlp_to_torch(model)
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(7, 6)), rng.integers(0, 3, 7)
    _, grads = model.loss_and_grads(X, y, update_stats=False)
    F.cross_entropy(net.train()(torch.tensor(X)), torch.tensor(y)).backward()
    with torch.no_grad():  # the gradients, read back as an MLP's "parameters"
        for p in net.parameters():
            p.copy_(p.grad)
    back = torch_to_mlp(net)
    for name, g in grads.items():
        assert np.abs(back.params[name] - g).max() < 1e-12, name


def test_200_sgd_steps_of_the_lesson_04_network_agree_to_1e_10():
    data = ex.digits_data()
    model = MLP(SIZES, "sigmoid", batchnorm=True, seed=0)
    net = mlp_to_torch(model)
    history = train(model, data.X_train, data.y_train, lr=0.5, steps=200, batch_size=60, seed=0)
    X, y = torch.tensor(np.array(data.X_train)), torch.tensor(np.array(data.y_train))
    opt = torch.optim.SGD(net.parameters(), lr=0.5)
    losses = []
    net.train()
    for idx in batches(len(X), 60, 200, seed=0):
        idx = torch.from_numpy(idx)
        opt.zero_grad()
        loss = F.cross_entropy(net(X[idx]), y[idx])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    back = torch_to_mlp(net)
    assert np.abs(history.loss - np.array(losses)).max() < 1e-10
    assert np.abs(back.flat_params() - model.flat_params()).max() < 1e-10
    for ours, theirs in zip(
        model.running_mean + model.running_var, back.running_mean + back.running_var, strict=True
    ):
        assert np.abs(ours - theirs).max() < 1e-10
    assert history.loss[-1] < 0.5 * history.loss[0]  # it did train
    # The same predictions, in inference mode.
    assert np.array_equal(back.predict(data.X_val), model.predict(data.X_val))


def test_float32_and_bad_input():
    model = MLP([4, 3, 2], "relu", batchnorm=True)
    net32 = mlp_to_torch(model, dtype=torch.float32)
    assert all(p.dtype == torch.float32 for p in net32.parameters())
    with pytest.raises(ValueError, match="ghost_batch"):
        mlp_to_torch(MLP([4, 3, 2], batchnorm=True, ghost_batch=2))
    with pytest.raises(ValueError, match="must be a course_lib.network.MLP"):
        mlp_to_torch(net32)
    with pytest.raises(ValueError, match="dtype"):
        mlp_to_torch(model, dtype=torch.int64)


@pytest.mark.parametrize(
    ("net", "words"),
    [
        (lambda: nn.Linear(3, 2), "must be an nn.Sequential"),
        (
            lambda: nn.Sequential(nn.Linear(3, 4), nn.Dropout(), nn.Linear(4, 2)),
            "net[1] is Dropout",
        ),
        (lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.ReLU()), "output layer"),
        (lambda: nn.Sequential(nn.Linear(3, 2)), "no hidden layer"),
        (
            lambda: nn.Sequential(
                nn.Linear(3, 4), nn.BatchNorm1d(4, momentum=None), nn.ReLU(), nn.Linear(4, 2)
            ),
            "momentum=None",
        ),
        (
            lambda: nn.Sequential(
                nn.Linear(3, 4), nn.BatchNorm1d(4, affine=False), nn.ReLU(), nn.Linear(4, 2)
            ),
            "affine=True",
        ),
        (
            lambda: nn.Sequential(
                nn.Linear(3, 4),
                nn.BatchNorm1d(4),
                nn.ReLU(),
                nn.Linear(4, 4),
                nn.ReLU(),
                nn.Linear(4, 2),
            ),
            "Batch Norm position",
        ),
        (
            lambda: nn.Sequential(
                nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2)
            ),
            "activation",
        ),
        (lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(5, 2)), "output nn.Linear"),
    ],
)
def test_torch_to_mlp_refuses_what_an_mlp_cannot_hold(net, words):
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("(", r"\(")):
        torch_to_mlp(net())


def test_a_plain_pytorch_network_of_the_right_form_converts():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(5, 8, bias=False, dtype=torch.float64),
        nn.BatchNorm1d(8, momentum=0.05, dtype=torch.float64),
        nn.Tanh(),
        nn.Linear(8, 3, dtype=torch.float64),
    ).eval()
    model = torch_to_mlp(net)
    assert model.running_beta == pytest.approx(0.95) and not model.training
    X = np.random.default_rng(0).normal(size=(4, 5))
    with torch.no_grad():
        assert np.abs(_numpy(net(torch.tensor(X))) - model.forward(X)).max() < 1e-12
