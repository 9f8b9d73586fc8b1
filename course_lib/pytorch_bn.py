"""Lesson 07: Batch Norm in PyTorch, and the mistakes people make with it.

What the lesson measures, one function each:

* the lesson-04 network in PyTorch (``lesson_network``, through ``torch_bridge``), its
  training loop (``train_sgd``) and accuracy in inference mode (``accuracy``);
* predictions in training mode against batch composition (``grouped_logits``,
  ``training_mode_accuracy``, ``composition_accuracy``, the figure and the live widget);
* fine-tuning with a "frozen" body (``finetune_head``);
* several devices' batches with and without synchronized statistics (``device_batch_norm``);
* the conventions of the paper, PyTorch and Keras (``convert_bn_state``, graded exercise);
* a training and evaluation script with the pitfalls planted (``broken_train_and_predict``)
  and its fixed version (``train_and_predict``, graded exercise).

PyTorch stays optional: this module imports without it (``convert_bn_state`` needs only
numpy); the functions that need it import it when called and say how to install it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ._validation import as_vector, check_beta, real_array

TORCH_MISSING = (
    "PyTorch is not installed: lesson 07 needs it. `make torch` installs its CPU build "
    "into .venv (the README says how on Linux, macOS and Windows)."
)


def torch_available() -> bool:
    """True when PyTorch can be imported (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def _torch():
    try:
        import torch
    except ModuleNotFoundError:
        raise ModuleNotFoundError(TORCH_MISSING) from None
    return torch


def below(value: float, limit: float) -> str:
    """How a round-off difference is printed: "below 1e-12" when ``value < limit`` (the
    digits of round-off differ from machine to machine), else the value itself."""
    value = float(value.detach()) if hasattr(value, "detach") else float(value)
    return f"below {limit:g}" if value < limit else f"{value:.2e}, NOT below {limit:g}"


# ------------------------------------------------------------------ the lesson's network
LESSON_SIZES = (64, 100, 100, 100, 10)


def lesson_network(seed: int = 0, momentum: float | None = 0.1):
    """Lesson 04's network (64-100-100-100-10, sigmoid, BN before each activation) as
    an ``nn.Sequential`` in float64, from ``MLP(..., seed=seed)`` through
    ``torch_bridge.mlp_to_torch``; every BatchNorm1d gets this ``momentum``."""
    from .network import MLP
    from .torch_bridge import mlp_to_torch

    net = mlp_to_torch(MLP(LESSON_SIZES, "sigmoid", batchnorm=True, seed=seed))
    for layer in batchnorm_layers(net):
        layer.momentum = momentum
    return net


def batchnorm_layers(net) -> list:
    """The Batch Norm layers (``nn.BatchNorm1d``, ``2d``, ``3d``, ``SyncBatchNorm``) of a
    network, in order."""
    nn = _torch().nn
    kinds = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)
    return [m for m in net.modules() if isinstance(m, kinds)]


def as_tensors(*arrays: np.ndarray) -> list:
    """Copies of numpy arrays as tensors: floats as float64, integers as int64."""
    torch = _torch()
    out = []
    for a in arrays:
        a = np.asarray(a)
        dtype = torch.int64 if np.issubdtype(a.dtype, np.integer) else torch.float64
        out.append(torch.tensor(np.array(a), dtype=dtype))
    return out


def train_sgd(
    net,
    X,
    y,
    *,
    lr: float = 0.5,
    steps: int = 200,
    batch_size: int = 60,
    seed: int = 0,
    params: Iterable | None = None,
) -> np.ndarray:
    """The PyTorch training loop of the lesson: ``steps`` SGD updates on the mini-batches of
    ``course_lib.network.batches(len(X), batch_size, steps, seed)`` (those of lesson 04's
    ``train``), in training mode, mean cross-entropy. X: (m, n) float64 tensor, y: (m,)
    int64 tensor; params: what SGD updates (default: every parameter). Returns the
    mini-batch losses (steps,) before each update. The net is left in training mode."""
    torch = _torch()
    import torch.nn.functional as F

    from .network import batches

    opt = torch.optim.SGD(net.parameters() if params is None else params, lr=lr)
    losses = np.empty(int(steps))
    net.train()
    for step, idx in enumerate(batches(len(X), batch_size, steps, seed)):
        idx = torch.from_numpy(idx)
        opt.zero_grad()
        loss = F.cross_entropy(net(X[idx]), y[idx])
        loss.backward()
        opt.step()
        losses[step] = loss.item()
    return losses


def accuracy(net, X, y) -> float:
    """Fraction of rows of X classified as y, in inference mode (``net.eval()``), without
    gradients; the net's mode is restored afterwards."""
    torch = _torch()
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            return float((net(X).argmax(dim=1) == y).double().mean())
    finally:
        net.train(was_training)


def plot_training_curves(course_losses: np.ndarray, torch_losses: np.ndarray):
    """Left: the mini-batch losses of the same training in course_lib and in PyTorch,
    overlaid; right: their absolute difference per step (log scale; an exact 0 is drawn
    at 1e-17)."""
    import matplotlib.pyplot as plt

    course_losses = np.asarray(course_losses, dtype=float)
    torch_losses = np.asarray(torch_losses, dtype=float)
    if course_losses.shape != torch_losses.shape or course_losses.ndim != 1:
        raise ValueError(
            f"the two loss curves must be 1-D of equal length, got {course_losses.shape} "
            f"and {torch_losses.shape}"
        )
    steps = np.arange(1, len(course_losses) + 1)
    fig, (ax, ax_d) = plt.subplots(1, 2, figsize=(9.0, 3.3))
    ax.plot(steps, course_losses, lw=3, color="C0", alpha=0.5, label="course_lib (numpy)")
    ax.plot(steps, torch_losses, lw=1, color="C3", ls="--", label="PyTorch")
    ax.set_xlabel("training step")
    ax.set_ylabel("mini-batch loss")
    ax.set_title("The same training, two libraries", fontsize=10)
    ax.legend(fontsize=8)
    diff = np.maximum(np.abs(course_losses - torch_losses), 1e-17)
    ax_d.semilogy(steps, diff, ".", ms=3, color="C2")
    ax_d.set_ylim(1e-18, 1e-6)
    ax_d.set_xlabel("training step")
    ax_d.set_ylabel("|difference| of the losses")
    ax_d.set_title("Round-off only", fontsize=10)
    fig.tight_layout()
    return fig


def without_running_stats(net):
    """A copy of ``net`` whose BatchNorm1d layers were built with
    ``track_running_stats=False`` (same γ, β, eps): no running statistics, so the batch's
    own statistics are used in training AND in inference mode."""
    import copy

    torch = _torch()
    nn = torch.nn
    out = copy.deepcopy(net)
    for i, layer in enumerate(out):
        if isinstance(layer, nn.BatchNorm1d):
            new = nn.BatchNorm1d(
                layer.num_features,
                eps=layer.eps,
                momentum=layer.momentum,
                track_running_stats=False,
                dtype=layer.weight.dtype,
            )
            with torch.no_grad():
                new.weight.copy_(layer.weight)
                new.bias.copy_(layer.bias)
            out[i] = new
    return out


def prune_weights(net, fraction: float):
    """A copy of ``net`` with the ``fraction`` of smallest-magnitude weights of every
    ``nn.Linear`` set to 0 (magnitude pruning, layer by layer; biases and BN kept)."""
    import copy

    torch = _torch()
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"fraction must be in [0, 1), got {fraction!r}")
    pruned = copy.deepcopy(net)
    with torch.no_grad():
        for layer in pruned.modules():
            if isinstance(layer, torch.nn.Linear):
                w = layer.weight
                k = int(fraction * w.numel())
                if k:
                    threshold = w.abs().flatten().kthvalue(k).values
                    w[w.abs() <= threshold] = 0.0
    return pruned


def relative_variance_gap(net, reference) -> float:
    """The largest relative difference |v / v_ref - 1| between the running variances of
    two networks with the same BatchNorm layers."""
    gaps = [
        float((a.running_var / b.running_var - 1.0).abs().max())
        for a, b in zip(batchnorm_layers(net), batchnorm_layers(reference), strict=True)
    ]
    return max(gaps)


# ------------------------------------------------------------------ training-mode predictions
def grouped_logits(net, X_groups):
    """Training-mode outputs of many batches at once: each batch normalized by its own
    statistics, as ``net.train(); net(batch)`` would, but nothing updated.

    net: a Sequential of Linear, BatchNorm1d and elementwise activation layers (as
    ``torch_bridge.mlp_to_torch`` builds); X_groups: (k, b, n) tensor, k batches of b >= 2
    rows. Returns (k, b, classes) logits, without gradients."""
    torch = _torch()
    nn = torch.nn
    if X_groups.ndim != 3 or X_groups.shape[1] < 2:
        raise ValueError(f"X_groups must have shape (k, b >= 2, n), got {tuple(X_groups.shape)}")
    h = X_groups
    with torch.no_grad():
        for layer in net:
            if isinstance(layer, nn.BatchNorm1d):
                mean = h.mean(dim=1, keepdim=True)
                var = h.var(dim=1, unbiased=False, keepdim=True)
                h = (h - mean) / torch.sqrt(var + layer.eps) * layer.weight + layer.bias
            elif isinstance(layer, nn.Linear | nn.Sigmoid | nn.Tanh | nn.ReLU):
                h = layer(h)
            else:
                raise ValueError(f"grouped_logits cannot run a {type(layer).__name__} layer")
    return h


def _group_accuracy(net, X, y, rows: np.ndarray) -> float:
    """Accuracy over rows (k, b) of indices, each row one training-mode batch."""
    torch = _torch()
    idx = torch.from_numpy(rows)
    logits = grouped_logits(net, X[idx])
    return float((logits.argmax(dim=2) == y[idx]).double().mean())


def training_mode_accuracy(net, X, y, batch_size: int, sort_by_label: bool = False) -> float:
    """Accuracy when the net is (wrongly) evaluated in training mode.

    X is cut into consecutive batches of ``batch_size`` (in the given order, or sorted by
    label: each batch then holds mostly one class) and each batch is normalized by its own
    statistics; nothing is updated. The rows that do not fill a last batch are left out
    (a batch of one cannot run in training mode). Returns the accuracy over the rest."""
    m = len(y)
    b = int(batch_size)
    if not 2 <= b <= m:
        raise ValueError(f"batch_size must be an integer in 2 .. {m}, got {batch_size!r}")
    order = np.argsort(np.asarray(y), kind="stable") if sort_by_label else np.arange(m)
    k = m // b
    return _group_accuracy(net, X, y, order[: k * b].reshape(k, b))


def composition_batches(
    y: np.ndarray, batch_size: int, share: float, n_batches: int = 45, seed: int = 0
) -> np.ndarray:
    """Row indices (n_batches, batch_size) of batches with a chosen composition: in each
    batch round(share * batch_size) rows come from one class (a different class for each
    batch, in turn) and the others are drawn at random from the other classes.

    share = 0: random batches (no class favoured); share = 1: every batch is one class."""
    y = np.asarray(y)
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"share must be in [0, 1], got {share!r}")
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    b = int(batch_size)
    same = int(round(share * b))
    rows = np.empty((n_batches, b), dtype=np.intp)
    for i in range(n_batches):
        c = classes[i % len(classes)]
        inside = np.flatnonzero(y == c)
        outside = np.flatnonzero(y != c)
        if same:
            rows[i, :same] = rng.choice(inside, same, replace=same > len(inside))
        if b - same:
            pool = np.arange(len(y)) if same == 0 else outside
            rows[i, same:] = rng.choice(pool, b - same, replace=False)
    return rows


def composition_accuracy(net, X, y, batch_size: int, share: float, seed: int = 0) -> float:
    """Training-mode accuracy over batches built by ``composition_batches``."""
    return _group_accuracy(
        net, X, y, composition_batches(np.asarray(y), batch_size, share, seed=seed)
    )


SHARES = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))


def composition_curves(net, X, y, batch_sizes: Sequence[int], shares=SHARES) -> dict:
    """{batch size: training-mode accuracy for each share} (the same batches for a size)."""
    return {
        int(b): np.array([composition_accuracy(net, X, y, b, s) for s in shares])
        for b in batch_sizes
    }


def plot_batch_composition(net, X, y, batch_sizes=(4, 16, 60), shares=SHARES, ax=None):
    """Accuracy in training mode against the share of one class in each batch, one line per
    batch size, and the inference-mode accuracy (which depends on neither)."""
    import matplotlib.pyplot as plt

    curves = composition_curves(net, X, y, batch_sizes, shares)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
    else:
        fig = ax.figure
    _draw_composition(ax, shares, curves, accuracy(net, X, y))
    fig.tight_layout()
    return fig


def _draw_composition(ax, shares, curves: dict, eval_acc: float):
    lines = []
    for b, acc in curves.items():
        (line,) = ax.plot(shares, acc, marker=".", label=f"training mode, batches of {b}")
        lines.append(line)
    ax.axhline(eval_acc, color="k", ls="--", lw=1.2, label="inference mode (net.eval())")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("share of one class in each batch")
    ax.set_ylabel("validation accuracy")
    ax.set_title("The same network, two modes", fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    return lines


@functools.cache
def _default_network():
    """The lesson's network after 200 SGD steps (the widget's default), and its data."""
    from .experiments import digits_data

    torch = _torch()
    torch.manual_seed(0)
    d = digits_data()
    X, y, Xv, yv = as_tensors(d.X_train, d.y_train, d.X_val, d.y_val)
    net = lesson_network()
    train_sgd(net, X, y, lr=0.5, steps=200)
    net.eval()
    return net, Xv, yv


BATCH_SIZES = (2, 4, 8, 16, 32, 64)


def mode_explorer(net=None, X=None, y=None):
    """The lesson's widget: batch size and the share of one class per batch as sliders;
    the figure shows the training-mode accuracy against the share for that batch size,
    the inference-mode accuracy, and the current setting. Without arguments it uses the
    lesson's network trained for 200 steps on the digits.

    Returns an ipywidgets HBox with ``.sliders`` (name -> slider); redraws synchronously."""
    import ipywidgets as widgets
    from matplotlib.figure import Figure

    from ._widgets import explorer_box, figure_png

    if net is None:
        net, X, y = _default_network()
    eval_acc = accuracy(net, X, y)
    cache: dict[int, np.ndarray] = {}
    fig = Figure(figsize=(6.0, 3.4), dpi=80)
    ax = fig.subplots()
    (line,) = ax.plot(SHARES, np.zeros(len(SHARES)), marker=".", color="C0")
    (point,) = ax.plot([0.0], [0.0], "o", color="C3", ms=9)
    ax.axhline(eval_acc, color="k", ls="--", lw=1.2, label="inference mode")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("share of one class in each batch")
    ax.set_ylabel("validation accuracy")
    ax.legend(fontsize=8, loc="lower left")
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.15, top=0.9)

    style = {"description_width": "120px"}
    layout = widgets.Layout(width="380px")
    sliders = {
        "batch size": widgets.SelectionSlider(
            options=BATCH_SIZES, value=16, description="batch size", style=style, layout=layout
        ),
        "share of one class": widgets.SelectionSlider(
            options=[float(s) for s in SHARES],
            value=0.5,
            description="share of one class",
            style=style,
            layout=layout,
        ),
    }
    image = widgets.Image(format="png")
    text = widgets.HTML()

    def redraw(_change=None) -> None:
        b = sliders["batch size"].value
        s = sliders["share of one class"].value
        if b not in cache:
            cache[b] = composition_curves(net, X, y, [b])[b]
        acc = cache[b]
        k = SHARES.index(round(s, 2))
        line.set_ydata(acc)
        line.set_label(f"training mode, batches of {b}")
        point.set_data([s], [acc[k]])
        ax.set_title(f"batches of {b}, {s:.0%} of each from one class", fontsize=10)
        image.value = figure_png(fig)
        text.value = (
            f"<p style='font-size:13px'>training mode: accuracy <b>{acc[k]:.3f}</b><br>"
            f"inference mode: accuracy <b>{eval_acc:.3f}</b> for any batch</p>"
        )

    return explorer_box(sliders, text, image, redraw)


# ------------------------------------------------------------------ fine-tuning
def finetune_head(net, X, y, *, steps: int = 100, lr: float = 0.1, freeze: str = "requires_grad"):
    """Fine-tune the last layer (the head) of ``net`` in place on (X, y); everything before
    it (the body) is meant to stay frozen.

    freeze: "requires_grad" sets requires_grad=False on the body's parameters (the common
    mistake: its BatchNorm layers still run in training mode and update their running
    statistics); "eval" also puts the body in inference mode after every ``net.train()``
    (PyTorch's equivalent of Keras's ``trainable=False`` for BN). SGD, mini-batches of 60
    of ``network.batches(len(X), 60, steps, seed=1)``. Returns the mini-batch losses."""
    torch = _torch()
    import torch.nn.functional as F

    from .network import batches

    if freeze not in ("requires_grad", "eval"):
        raise ValueError(f"freeze must be 'requires_grad' or 'eval', got {freeze!r}")
    body, head = net[:-1], net[-1]
    for p in body.parameters():
        p.requires_grad_(False)
    opt = torch.optim.SGD(head.parameters(), lr=lr)
    losses = np.empty(int(steps))
    for step, idx in enumerate(batches(len(X), 60, steps, seed=1)):
        net.train()
        if freeze == "eval":
            body.eval()
        idx = torch.from_numpy(idx)
        opt.zero_grad()
        loss = F.cross_entropy(net(X[idx]), y[idx])
        loss.backward()
        opt.step()
        losses[step] = loss.item()
    return losses


def max_buffer_change(before, after) -> float:
    """The largest change of any BatchNorm running mean or variance between two copies
    of a network (0.0 when nothing moved)."""
    changes = [0.0]
    for a, b in zip(batchnorm_layers(before), batchnorm_layers(after), strict=True):
        for name in ("running_mean", "running_var"):
            changes.append(float((getattr(a, name) - getattr(b, name)).abs().max()))
    return max(changes)


# ------------------------------------------------------------------ several devices
def device_batch_norm(x, weight, bias, devices: int, sync: bool, eps: float = 1e-5):
    """Batch Norm in training mode of a mini-batch split over ``devices`` devices,
    simulated on one CPU.

    x: (m, n) tensor, m a multiple of ``devices``; each device gets m/devices consecutive
    rows. sync=False: every device normalizes its rows with its own batch statistics (plain
    BatchNorm under data parallelism); sync=True: as SyncBatchNorm, the devices add up
    their counts, sums and sums of squares (one all-reduce) and all normalize with the
    statistics of the whole mini-batch. weight, bias: (n,) γ and β. Returns
    (out (m, n), means (devices, n), variances (devices, n)): the (biased) statistics each
    device normalized with. Differentiable: gradients flow back as through SyncBatchNorm."""
    torch = _torch()
    m = x.shape[0]
    if devices < 1 or m % devices:
        raise ValueError(f"the batch of {m} rows must split evenly over devices={devices}")
    shards = x.reshape(devices, m // devices, -1)
    if sync:
        count = torch.tensor(float(m), dtype=x.dtype)
        total = shards.sum(dim=1).sum(dim=0)  # the all-reduce: each device's sums, added
        total_sq = (shards * shards).sum(dim=1).sum(dim=0)
        mean = total / count
        var = total_sq / count - mean * mean
        means = mean.expand(devices, -1)
        variances = var.expand(devices, -1)
    else:
        means = shards.mean(dim=1)
        variances = shards.var(dim=1, unbiased=False)
    out = (shards - means[:, None]) / torch.sqrt(variances[:, None] + eps) * weight + bias
    return out.reshape(m, -1), means, variances


def devices_accuracy(per_device: int | None, seeds: Sequence[int] = (0, 1, 2)) -> np.ndarray:
    """Validation accuracy of the lesson-04 network trained (200 SGD steps, lr 0.5,
    mini-batches of 60) as data parallelism trains it: without SyncBatchNorm each device
    normalizes its own ``per_device`` rows (``MLP(ghost_batch=per_device)``: the gradient
    still averages all 60 rows, as the devices' all-reduce does); ``per_device=None``: one
    set of statistics for all 60 rows (SyncBatchNorm, or one device). The running
    statistics average whole mini-batches in both. One accuracy per seed (weights and
    batch order)."""
    from .experiments import digits_data
    from .network import MLP, train

    d = digits_data()
    out = []
    for seed in seeds:
        model = MLP(LESSON_SIZES, "sigmoid", batchnorm=True, seed=seed, ghost_batch=per_device)
        train(
            model, d.X_train, d.y_train, lr=0.5, steps=200, batch_size=60, seed=seed, eval_every=200
        )
        out.append(model.accuracy(d.X_val, d.y_val))
    return np.array(out)


# ------------------------------------------------------------------ conventions (exercise)
CONVENTION_NAMES = ("paper", "pytorch", "keras")
# The variance each convention stores: True = the unbiased m/(m-1) batch variance.
_STORES_UNBIASED = {"paper": True, "pytorch": True, "keras": False}


def _convention(value: object, name: str) -> str:
    if value not in CONVENTION_NAMES:
        raise ValueError(f"{name} must be one of {CONVENTION_NAMES}, got {value!r}")
    return str(value)


def beta_of(momentum: float, convention: str) -> float:
    """The weight of the OLD value (the notes' β) of a convention's momentum parameter.

    "paper": this course's β itself (the notes' exponentially weighted average with the
    paper's unbiased variance); "pytorch": β = 1 - momentum (momentum in (0, 1], the
    weight of the new value); "keras": β = momentum (in [0, 1))."""
    convention = _convention(convention, "convention")
    if convention == "pytorch":
        try:
            mom = float(momentum)
        except (TypeError, ValueError):
            raise ValueError(f"momentum must be a number, got {momentum!r}") from None
        if not 0.0 < mom <= 1.0:
            raise ValueError(
                f"PyTorch's momentum must be in (0, 1] (weight of the new value), got {momentum!r}"
            )
        return 1.0 - mom
    return check_beta(
        momentum, "momentum", f"{convention}'s momentum is the weight of the old value"
    )


def momentum_of(beta: float, convention: str) -> float:
    """A convention's momentum parameter for the weight of the old value β."""
    convention = _convention(convention, "convention")
    beta = check_beta(beta)
    return 1.0 - beta if convention == "pytorch" else beta


def _vector(x: object, name: str) -> np.ndarray:
    arr = real_array(x, name)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must have shape (n,), one value per unit, got shape {arr.shape}")
    return as_vector(arr, name, arr.shape[0])


def convert_bn_state(
    running_mean: np.ndarray,
    running_var: np.ndarray,
    momentum: float,
    batch_size: int,
    steps: int,
    source: str,
    target: str,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Batch Norm's running statistics and momentum, from one convention to another.

    running_mean, running_var: (n,) what ``source`` stored after ``steps`` updates with
    mini-batches of ``batch_size`` (>= 2), from the start values 0 and 1; momentum: the
    source's parameter. source, target: "paper" (the notes' β, weight of the old value;
    the unbiased variance of the paper's Algorithm 2), "pytorch" (momentum = 1 - β;
    unbiased variance), "keras" (momentum = β; biased variance).
    Returns (running_mean, running_var, momentum) as ``target`` would hold them after
    the same batches: the same average with the target's momentum; the mean unchanged;
    the variance's part built from batch variances (all but β^steps, the start value's
    weight) scaled by m/(m-1) from biased to unbiased, by (m-1)/m the other way.
    The inputs are not modified.
    """
    source = _convention(source, "source")
    target = _convention(target, "target")
    running_mean = _vector(running_mean, "running_mean")
    running_var = as_vector(running_var, "running_var", running_mean.shape[0])
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 2:
        raise ValueError(f"batch_size must be an integer >= 2, got {batch_size!r}")
    if isinstance(steps, bool) or int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    m, t = int(batch_size), int(steps)
    beta = beta_of(momentum, source)
    start_weight = beta**t  # the weight still on the start value 1 of the variance
    var = running_var.copy()
    if _STORES_UNBIASED[source] != _STORES_UNBIASED[target]:
        factor = m / (m - 1) if _STORES_UNBIASED[target] else (m - 1) / m
        var = start_weight + (running_var - start_weight) * factor
    return running_mean.copy(), var, momentum_of(beta, target)


# ------------------------------------------------------------------ the script (exercise)
BUGS = ("keras_momentum", "last_batch", "frozen_bn_updates", "train_mode_predictions")
SCRIPT_BATCH = 16
SCRIPT_HIDDEN = 32
SCRIPT_HEAD = 16
SCRIPT_CHUNK = 64
SCRIPT_EPOCHS = 3
SCRIPT_LR = 0.1


def broken_train_and_predict(X_train, y_train, X_new, y_new, X_test, seed=0, bugs=BUGS):
    """The exercise's script with any of its planted problems (``bugs``, a subset of
    ``BUGS``); ``bugs=()`` is the fixed script, ``train_and_predict``. With "last_batch"
    an incomplete last batch is used, except a batch of one row (which PyTorch refuses in
    training mode); add "crash" to use that too, as the colleague's script does.

    The specification: a body Linear(n, 32, bias=False) -> BatchNorm1d(32) -> ReLU and a
    head Linear(32, 16, bias=False) -> BatchNorm1d(16) -> ReLU -> Linear(16, classes),
    float64, built in this order right after ``torch.manual_seed(seed)``; running averages
    with the notes' β = 0.9; 3 epochs of SGD (lr 0.1) over X_train in mini-batches of 16
    consecutive rows (an incomplete last batch is skipped); then 3 epochs on (X_new, y_new),
    the same way, where only the head learns and the body (its BN included) stays exactly
    as trained: it computes what it computes at test time; finally the class
    probabilities of X_test (computed 64 rows at a time), each row independent of the others.
    X_*: (m, n) float arrays, y_*: (m,) integer labels 0 .. classes-1 (all in y_train).
    Returns (len(X_test), classes) probabilities."""
    torch = _torch()
    unknown = set(bugs) - set(BUGS) - {"crash"}
    if unknown:
        raise ValueError(f"bugs must be taken from {BUGS}, got {sorted(unknown)}")
    X_train, y_train, X_new, y_new, X_test = as_tensors(X_train, y_train, X_new, y_new, X_test)
    with torch.random.fork_rng(devices=[]):  # the caller's random state is left as it was
        return _script(torch, X_train, y_train, X_new, y_new, X_test, seed, set(bugs))


def _script(torch, X_train, y_train, X_new, y_new, X_test, seed, bugs):
    import torch.nn.functional as F

    nn = torch.nn
    torch.manual_seed(seed)
    n, classes = X_train.shape[1], int(y_train.max()) + 1
    momentum = 0.9 if "keras_momentum" in bugs else 0.1
    body = nn.Sequential(
        nn.Linear(n, SCRIPT_HIDDEN, bias=False, dtype=torch.float64),
        nn.BatchNorm1d(SCRIPT_HIDDEN, momentum=momentum, dtype=torch.float64),
        nn.ReLU(),
    )
    head = nn.Sequential(
        nn.Linear(SCRIPT_HIDDEN, SCRIPT_HEAD, bias=False, dtype=torch.float64),
        nn.BatchNorm1d(SCRIPT_HEAD, momentum=momentum, dtype=torch.float64),
        nn.ReLU(),
        nn.Linear(SCRIPT_HEAD, classes, dtype=torch.float64),
    )
    model = nn.Sequential(body, head)

    def batches(X, y):
        left = len(X) % SCRIPT_BATCH
        # "last_batch": the incomplete batch is used; a batch of one row, which PyTorch
        # refuses in training mode, is what makes the colleague's script crash.
        stop = len(X) if "last_batch" in bugs and left != 1 else len(X) - left
        if "last_batch" in bugs and left == 1 and "crash" in bugs:
            stop = len(X)
        for start in range(0, stop, SCRIPT_BATCH):
            yield X[start : start + SCRIPT_BATCH], y[start : start + SCRIPT_BATCH]

    opt = torch.optim.SGD(model.parameters(), lr=SCRIPT_LR)
    for _ in range(SCRIPT_EPOCHS):
        model.train()
        for xb, yb in batches(X_train, y_train):
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
    for p in body.parameters():
        p.requires_grad = False
    opt = torch.optim.SGD(head.parameters(), lr=SCRIPT_LR)
    for _ in range(SCRIPT_EPOCHS):
        model.train()
        if "frozen_bn_updates" not in bugs:
            body.eval()
        for xb, yb in batches(X_new, y_new):
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
    if "train_mode_predictions" not in bugs:
        model.eval()
    with torch.no_grad():  # in chunks of 64 rows, as a script does for a large test set
        chunks = [model(X_test[i : i + SCRIPT_CHUNK]) for i in range(0, len(X_test), SCRIPT_CHUNK)]
        return F.softmax(torch.cat(chunks), dim=1).numpy()


def train_and_predict(X_train, y_train, X_new, y_new, X_test, seed=0):
    """The exercise's script, fixed (the reference): see ``broken_train_and_predict``."""
    return broken_train_and_predict(X_train, y_train, X_new, y_new, X_test, seed=seed, bugs=())


def exercise_data(seed: int = 0) -> dict[str, Any]:
    """The notebook's data for the script: the digits (normalized), 1297 training rows
    (81 batches of 16 and one row left over), the last 50 training rows as the new
    labelled data, and the validation set sorted by label as the test set (as a file
    exported from a database often is)."""
    from .experiments import digits_data

    d = digits_data(seed)
    order = np.argsort(d.y_val, kind="stable")
    return {
        "X_train": np.array(d.X_train[:1297]),
        "y_train": np.array(d.y_train[:1297]),
        "X_new": np.array(d.X_train[1297:]),
        "y_new": np.array(d.y_train[1297:]),
        "X_test": np.array(d.X_val[order]),
        "y_test": np.array(d.y_val[order]),
    }
