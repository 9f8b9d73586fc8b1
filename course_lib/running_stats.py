"""Lesson 05: the statistics Batch Norm uses at test time (测试时的 Batch Norm).

In training a BN layer normalizes with the statistics of the current mini-batch.
At test time examples may come one at a time, so fixed estimates of each unit's
mean and variance are needed. Three ways to get them, all here:

1. during training, an exponentially weighted average (EWA) of the batch
   statistics (``update_running_stats`` in ``batchnorm.py``; what the frameworks do):
       running = beta * running + (1 - beta) * batch_statistic,  mean from 0, var from 1;
2. after training, the paper's Algorithm 2 (Ioffe & Szegedy 2015): pass training
   mini-batches of size m through the frozen network and average,
       E[x] = E_B[mu_B],   Var[x] = m/(m-1) * E_B[sigma^2_B];
3. after training, one pass over the whole training set (mean and variance of all of it).

Conventions differ between this course, PyTorch and Keras 3 in what "momentum"
means and which variance is stored; ``CONVENTIONS`` and the converters below
say it once, precisely.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ._validation import as_matrix, check_beta
from .batchnorm import update_running_stats
from .ema import bias_correct
from .network import batches

# ------------------------------------------------------------------ conventions


@dataclass(frozen=True)
class Convention:
    """How one source keeps Batch Norm's statistics for inference."""

    source: str
    momentum: str  # what its momentum-like parameter means
    default: str  # its default value, as this course's beta (weight of the old value)
    stored_variance: str  # which variance ends up in the running estimate
    eps: str
    batch_of_one: str  # a single example in training mode


CONVENTIONS = {
    "course": Convention(
        "this course (course_lib)",
        "β = weight of the OLD value: v = β v + (1 − β) θ",
        "β = 0.9",
        "EWA of the unbiased batch variance m/(m−1)·σ²_B (switch: unbiased=False)",
        "1e-5",
        "ValueError (the variance of one example is 0)",
    ),
    "paper": Convention(
        "Ioffe & Szegedy 2015, Algorithm 2",
        "none: a plain average over training mini-batches after training",
        "—",
        "m/(m−1) · E_B[σ²_B] (unbiased)",
        "unspecified",
        "needs m > 1",
    ),
    "pytorch": Convention(
        "PyTorch BatchNorm1d/2d",
        "momentum = weight of the NEW value: v = (1 − momentum) v + momentum θ",
        "momentum = 0.1, i.e. β = 0.9 (momentum=None: cumulative average)",
        "EWA of the unbiased batch variance",
        "1e-5",
        "ValueError: Expected more than 1 value per channel when training",
    ),
    "keras": Convention(
        "Keras 3 BatchNormalization",
        "momentum = weight of the OLD value: v = momentum v + (1 − momentum) θ",
        "momentum = 0.99, i.e. β = 0.99",
        "EWA of the biased batch variance σ²_B (1/m)",
        "1e-3",
        "no error: every output equals the shift β (the variance is 0)",
    ),
}


def _momentum(value: float, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    return v


def beta_from_pytorch_momentum(momentum: float) -> float:
    """This course's beta for PyTorch's ``momentum`` (weight of the new value): 1 - momentum.

    momentum in (0, 1]; PyTorch's ``momentum=None`` (a cumulative average, every
    batch weighted equally) has no fixed beta: use ``population_statistics``.
    """
    if momentum is None:
        raise ValueError(
            "momentum=None is PyTorch's cumulative average (weights 1/t, not a fixed beta); "
            "its result is the plain average of the batch statistics: population_statistics"
        )
    mom = _momentum(momentum, "momentum")
    if not 0.0 < mom <= 1.0:
        raise ValueError(
            f"PyTorch's momentum must be in (0, 1] (weight of the new value), got {mom}"
        )
    return 1.0 - mom


def pytorch_momentum_from_beta(beta: float) -> float:
    """PyTorch's ``momentum`` for this course's beta: 1 - beta (0.9 -> 0.1)."""
    return 1.0 - check_beta(beta)


def beta_from_keras_momentum(momentum: float) -> float:
    """This course's beta for Keras's ``momentum`` (weight of the old value): the same number."""
    mom = _momentum(momentum, "momentum")
    if not 0.0 <= mom < 1.0:
        raise ValueError(f"Keras's momentum must be in [0, 1) (weight of the old value), got {mom}")
    return mom


def keras_momentum_from_beta(beta: float) -> float:
    """Keras's ``momentum`` for this course's beta: beta itself (Keras's default is 0.99)."""
    return check_beta(beta)


def unbiased_from_biased(var: np.ndarray | float, m: int) -> np.ndarray:
    """m/(m-1) * var: the unbiased estimate from a batch's own (1/m) variance; m >= 2."""
    m = _batch_size(m)
    return np.asarray(var, dtype=float) * (m / (m - 1))


def biased_from_unbiased(var: np.ndarray | float, m: int) -> np.ndarray:
    """(m-1)/m * var: back from the unbiased (1/(m-1)) variance to the batch's own; m >= 2."""
    m = _batch_size(m)
    return np.asarray(var, dtype=float) * ((m - 1) / m)


def _batch_size(m: object) -> int:
    if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 2:
        raise ValueError(f"m must be an integer batch size >= 2, got {m!r}")
    return int(m)


# ------------------------------------------------------------------ estimates


def ema_statistics(
    batches: Iterable[np.ndarray],
    beta: float = 0.9,
    unbiased: bool = True,
    bias_correction: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Running mean and variance after a sequence of mini-batches, as in training.

    batches: mini-batches z, each (m_k, n) with m_k >= 2, in training order.
    Starts at mean 0 and variance 1 and applies ``update_running_stats`` per batch.
    bias_correction: also remove the start values' share beta^t, i.e. return
    (v_t - beta^t v_0) / (1 - beta^t) (v_0 = 0 for the mean, 1 for the variance);
    the frameworks do not do this, the lesson shows what it would change.
    Returns (running_mean, running_var), each (n,).
    """
    beta = check_beta(beta)
    mean = var = None
    t = 0
    for z in batches:
        z = as_matrix(z, f"batches[{t}]")
        if mean is None:
            mean, var = np.zeros(z.shape[1]), np.ones(z.shape[1])
        mean, var = update_running_stats(mean, var, z, beta=beta, unbiased=unbiased)
        t += 1
    if mean is None:
        raise ValueError("batches is empty: need at least one mini-batch")
    if bias_correction:
        mean = bias_correct(mean, beta, t, v0=0.0)
        var = bias_correct(var, beta, t, v0=1.0)
    return mean, var


def batch_statistics(batches: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and biased (1/m) variance of every mini-batch.

    batches: each (m_k, n). Returns means (k, n), variances (k, n), sizes (k,).
    """
    means, variances, sizes = [], [], []
    for i, z in enumerate(batches):
        z = as_matrix(z, f"batches[{i}]")
        if variances and z.shape[1] != means[0].shape[0]:
            raise ValueError(
                f"batches[{i}] has {z.shape[1]} units, the first batch {means[0].shape[0]}"
            )
        means.append(z.mean(axis=0))
        variances.append(z.var(axis=0))
        sizes.append(z.shape[0])
    if not means:
        raise ValueError("batches is empty: need at least one mini-batch")
    return np.array(means), np.array(variances), np.array(sizes)


def population_statistics(batches: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The inference statistics of the paper's Algorithm 2 (Ioffe & Szegedy 2015).

    batches: training mini-batches z, each (m_k, n), m_k >= 2, computed with the
    trained (frozen) network. Returns (mean, var), each (n,):

        E[x]   = average of the batch means
        Var[x] = m/(m-1) * average of the batch (1/m) variances

    For batches of different sizes each batch variance gets its own m_k/(m_k - 1)
    (the average of the unbiased batch variances; the same number when all m_k = m).
    This is also what PyTorch keeps with momentum=None (a cumulative average).
    """
    means, variances, sizes = batch_statistics(batches)
    if np.any(sizes < 2):
        k = int(np.flatnonzero(sizes < 2)[0])
        raise ValueError(f"batches[{k}] has 1 example: Algorithm 2 needs m >= 2 (m/(m-1))")
    unbiased = variances * (sizes / (sizes - 1))[:, None]
    return means.mean(axis=0), unbiased.mean(axis=0)


def whole_set_statistics(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of every unit over the whole training set, in one pass.

    z: (N, n), the layer's pre-activations for all N training examples. Returns
    (mean, var), each (n,), var with 1/N: the population's own variance (for
    N in the thousands m/(m-1) changes it by less than 0.1 %).
    """
    z = as_matrix(z, "z")
    return z.mean(axis=0), z.var(axis=0)


# ------------------------------------------------------------------ on a network
# These work on lesson 04's ``course_lib.network.MLP`` (Batch Norm before the
# activation): they read ``layer_values``/``forward`` and set ``running_mean``/
# ``running_var``; nothing else of the network is assumed.


def _bn_model(model) -> None:
    if not getattr(model, "batchnorm", False):
        raise ValueError("model has no Batch Norm layers (build it with batchnorm=True)")
    if getattr(model, "bn_position", "before") != "before":
        raise ValueError("model must have Batch Norm before the activation (bn_position='before')")


def training_batches(m: int, batch_size: int, seed: int = 0) -> list[np.ndarray]:
    """Row indices of one epoch: a seeded permutation of 0..m-1 cut into batches of
    ``batch_size`` (the smaller remainder dropped, so every batch has size m_B)."""
    if int(batch_size) != batch_size or not 2 <= batch_size <= m:
        raise ValueError(f"batch_size must be an integer in 2 .. {m}, got {batch_size!r}")
    batch_size = int(batch_size)
    return list(batches(m, batch_size, m // batch_size, seed))


def recalibrated(
    model, X: np.ndarray, method: str = "population", batch_size: int = 60, seed: int = 0
):
    """A copy of a trained model with new inference statistics for every BN layer.

    model: an ``MLP`` with batchnorm=True; X: (N, n[0]) training inputs.
    method:
      "population": the paper's Algorithm 2, one epoch of training mini-batches of
          ``batch_size`` through the frozen network in training mode (each layer
          normalized by its batch statistics, as in training), then
          mean = average of batch means, var = m/(m-1) * average of batch variances;
      "whole": one pass over all of X as a single batch: each layer's mean and
          (1/N) variance over the whole training set, lower layers normalized by
          theirs (exactly the statistics of the network used in inference).
    The model itself is not changed (its weights, mode and running statistics stay).
    """
    _bn_model(model)
    X = as_matrix(X, "X")
    new = model.copy()
    if method == "whole":
        values = model.layer_values(X, training=True)
        stats = [whole_set_statistics(v["z_pre"]) for v in values]
    elif method == "population":
        per_layer: list[list[np.ndarray]] = [[] for _ in range(model.n_hidden)]
        for idx in training_batches(X.shape[0], batch_size, seed):
            for l, v in enumerate(model.layer_values(X[idx], training=True)):
                per_layer[l].append(v["z_pre"])
        stats = [population_statistics(zs) for zs in per_layer]
    else:
        raise ValueError(f"method must be 'population' or 'whole', got {method!r}")
    dtype = model.running_mean[0].dtype
    new.running_mean = [mean.astype(dtype) for mean, _ in stats]
    new.running_var = [var.astype(dtype) for _, var in stats]
    return new


@dataclass(frozen=True)
class BatchDependence:
    """One example's prediction when it shares a batch with different examples.

    probs: (trials, classes) its class probabilities in training mode, one row per
    batch; classes: (trials,) the predicted class in each; inference: (classes,)
    its probabilities in inference mode (the same in any batch).
    """

    probs: np.ndarray
    classes: np.ndarray
    inference: np.ndarray


def batch_dependence(
    model, X: np.ndarray, index: int, batch_size: int = 8, trials: int = 20, seed: int = 0
) -> BatchDependence:
    """Put example ``index`` of X into ``trials`` random batches of ``batch_size`` and
    record its prediction in training mode (batch statistics) and inference mode.

    Nothing is updated: the running statistics stay as they are.
    """
    _bn_model(model)
    X = as_matrix(X, "X")
    if int(batch_size) != batch_size or not 2 <= batch_size <= X.shape[0]:
        raise ValueError(f"batch_size must be an integer in 2 .. {X.shape[0]}, got {batch_size!r}")
    if not 0 <= index < X.shape[0]:
        raise ValueError(f"index must be a row of X (0 .. {X.shape[0] - 1}), got {index!r}")
    rng = np.random.default_rng(seed)
    others = np.delete(np.arange(X.shape[0]), index)
    probs = []
    for _ in range(int(trials)):
        rows = np.concatenate([[index], rng.choice(others, batch_size - 1, replace=False)])
        logits = model.forward(X[rows], training=True, update_stats=False)[0]
        p = np.exp(logits - logits.max())
        probs.append(p / p.sum())
    probs = np.array(probs)
    return BatchDependence(probs, probs.argmax(axis=1), model.predict_proba(X[index]))


def training_mode_accuracy(
    model, X: np.ndarray, y: np.ndarray, batch_size: int, sort_by_label: bool = False
) -> float:
    """Accuracy when a model is (wrongly) left in training mode for evaluation.

    X is cut into consecutive batches of ``batch_size`` (in the given order, or sorted
    by label so that each batch holds mostly one class) and each batch is normalized
    by its own statistics; the running statistics are not updated. A last batch of
    one example is joined to the previous batch (training mode cannot take it).
    """
    _bn_model(model)
    X = as_matrix(X, "X")
    y = np.asarray(y)
    order = np.argsort(y, kind="stable") if sort_by_label else np.arange(X.shape[0])
    starts = list(range(0, X.shape[0], int(batch_size)))
    if len(starts) > 1 and X.shape[0] - starts[-1] < 2:
        starts.pop()
    ends = starts[1:] + [X.shape[0]]
    correct = 0
    for s, e in zip(starts, ends, strict=True):
        rows = order[s:e]
        logits = model.forward(X[rows], training=True, update_stats=False)
        correct += int(np.sum(logits.argmax(axis=1) == y[rows]))
    return correct / X.shape[0]


def plot_accuracy_by_beta(histories: dict, recalibrated_acc=None, window_steps: bool = True):
    """Validation accuracy in inference mode over training, one line per beta.

    histories: {beta: History} from ``course_lib.network.train`` with validation data
    (same seed, so the same weights: only the running statistics differ);
    recalibrated_acc: optional (k,) accuracies at the same evaluation steps with
    statistics recomputed from the training set (e.g. ``History.monitor``).
    window_steps: mark each beta's effective window 1/(1-beta) when inside the run.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    last = 0
    for beta, h in histories.items():
        (line,) = ax.plot(h.eval_steps, h.val_acc, marker=".", label=f"running stats, β = {beta:g}")
        last = max(last, int(h.eval_steps[-1]))
        k = 1.0 / (1.0 - beta)
        if window_steps and k < h.eval_steps[-1]:
            ax.axvline(k, color=line.get_color(), ls=":", lw=1)
    if recalibrated_acc is not None:
        steps = next(iter(histories.values())).eval_steps
        ax.plot(steps, recalibrated_acc, "k--", lw=1.2, label="statistics recomputed (whole set)")
    ax.set_xlim(0, last)
    ax.set_ylim(0, 1)
    ax.set_xlabel("training step")
    ax.set_ylabel("validation accuracy (inference mode)")
    ax.set_title("Same weights, different running statistics", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
