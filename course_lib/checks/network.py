"""Checker for lesson 04: ``bn_layer_forward``, one hidden layer with Batch Norm.

The learner writes A = sigmoid(BN(A_prev @ W)) for a mini-batch in training mode
(no bias: BN cancels it). The checker compares with ``course_lib.network``'s
reference on several layers (a square W, the smallest batch, a large eps, a call
without eps) and names the typical mistakes of the lesson; it never raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import network as _network
from ..network import bn_layer_forward as _reference
from ..network import sigmoid as _sigmoid
from ._core import (
    DEFAULT_TIMEOUT,
    Advice,
    Case,
    CheckResult,
    Mistake,
    Outcome,
    call_safely,
    check_against_reference,
    describe_value,
    failed,
    learner_parameters,
    outcome_hint,
    passed,
    printed_details,
    returned_none_hint,
    run_check,
    to_array,
)

NAME = "bn_layer_forward"
_ARGS = ("A_prev", "W", "gamma", "beta", "eps")
ADVICE = Advice(
    shapes="A_prev is (m, n_prev), one row per example; W is (n_prev, n); z and A are (m, n); "
    "gamma, beta, μ and σ² are (n,), one per unit",
    matmul=(
        "A_prev is (m, n_prev) and W is (n_prev, n). Which order of the two fits, and "
        "gives one row of n units per example, (m, n)?"
    ),
    matmul_more=(
        "z = A_prev @ W: (m, n_prev) @ (n_prev, n) → (m, n). W @ A_prev would need n = m "
        "(rows are examples, so the examples come first)"
    ),
)


def _e(eps: float | None) -> float:
    return 1e-5 if eps is None else eps


def _bn(z, gamma, beta, eps, axis=0, ddof=0):
    mu = z.mean(axis=axis, keepdims=True)
    var = z.var(axis=axis, keepdims=True, ddof=ddof)
    return gamma * (z - mu) / np.sqrt(var + eps) + beta


def _mistakes() -> list[Mistake]:
    def no_activation(A, W, g, b, eps=None):
        return _bn(A @ W, g, b, _e(eps))

    def bn_after_activation(A, W, g, b, eps=None):
        return _bn(_sigmoid(A @ W), g, b, _e(eps))

    def no_scale_shift(A, W, g, b, eps=None):
        return _sigmoid(_bn(A @ W, 1.0, 0.0, _e(eps)))

    def swapped(A, W, g, b, eps=None):
        return _sigmoid(_bn(A @ W, b, g, _e(eps)))

    def per_example(A, W, g, b, eps=None):
        return _sigmoid(_bn(A @ W, g, b, _e(eps), axis=1))

    def unbiased(A, W, g, b, eps=None):
        return _sigmoid(_bn(A @ W, g, b, _e(eps), ddof=1))

    def eps_outside(A, W, g, b, eps=None):
        z = A @ W
        return _sigmoid(g * (z - z.mean(0)) / (z.std(0) + _e(eps)) + b)

    def by_variance(A, W, g, b, eps=None):
        z = A @ W
        return _sigmoid(g * (z - z.mean(0)) / (z.var(0) + _e(eps)) + b)

    def not_centred(A, W, g, b, eps=None):
        z = A @ W
        return _sigmoid(g * z / np.sqrt(z.var(0) + _e(eps)) + b)

    def transposed(A, W, g, b, eps=None):
        return _sigmoid(_bn(A @ W.T, g, b, _e(eps)))

    def normalizes_inputs(A, W, g, b, eps=None):
        return _sigmoid(_bn(A, g, b, _e(eps)) @ W)

    def tanh(A, W, g, b, eps=None):
        return np.tanh(_bn(A @ W, g, b, _e(eps)))

    def relu(A, W, g, b, eps=None):
        return np.maximum(_bn(A @ W, g, b, _e(eps)), 0.0)

    def no_eps(A, W, g, b, eps=None):
        return _sigmoid(_bn(A @ W, g, b, 0.0))

    def eps_ignored(A, W, g, b, eps=None):
        if eps is None:
            raise ValueError("only for calls with an explicit eps")
        return _sigmoid(_bn(A @ W, g, b, 1e-5))

    layer = (
        "A = sigmoid(z̃), z̃ = γ·ẑ + β, ẑ = (z − μ)/√(σ² + ε), z = A_prev @ W, with μ and "
        "σ² = (1/m) Σ (z − μ)² per unit (axis=0) and sigmoid(t) = 1/(1 + e^(−t))"
    )
    return [
        Mistake(
            "the activation is missing: the layer's output is the sigmoid of the "
            "normalized, scaled and shifted value",
            no_activation,
            layer,
        ),
        Mistake(
            "Batch Norm comes before the activation (the notes, the paper): normalize the "
            "pre-activation z, then apply the sigmoid",
            bn_after_activation,
            f"A = sigmoid(BN(A_prev @ W)), not BN(sigmoid(A_prev @ W)): {layer}",
        ),
        Mistake(
            "γ and β are missing: after normalizing, scale by γ and shift by β, so that the "
            "layer can still give each unit any mean and spread",
            no_scale_shift,
            layer,
        ),
        Mistake("γ and β are swapped: γ scales, β shifts", swapped, layer),
        Mistake(
            "statistics over the wrong axis: you normalized each example across its units. "
            "Batch Norm normalizes each unit across the examples of the batch",
            per_example,
            "axis=0, down the rows: one μ and one σ² per unit, shape (n,)",
        ),
        Mistake(
            "you used the unbiased variance (dividing by m − 1): in training mode Batch Norm "
            "normalizes with the batch's own variance, dividing by m",
            unbiased,
            "σ² = (1/m) Σ_i (z_i − μ)², np.var's default (ddof=0)",
        ),
        Mistake(
            "ε is outside the square root: add it to the variance, then take the root",
            eps_outside,
            f"divide by √(σ² + ε), not by σ + ε: {layer}",
        ),
        Mistake(
            "you divided by the variance: the denominator is the standard deviation, a square root",
            by_variance,
            layer,
        ),
        Mistake(
            "the batch mean was not subtracted: normalizing first centres each unit",
            not_centred,
            layer,
        ),
        Mistake(
            "W was transposed: with rows as examples, A_prev is (m, n_prev) and W is "
            "(n_prev, n), so their product needs no transpose",
            transposed,
            "z = A_prev @ W: (m, n_prev) @ (n_prev, n) → (m, n)",
        ),
        Mistake(
            "you normalized the layer's input A_prev: Batch Norm normalizes z, the input of "
            "the activation (as the notes say, strictly it is z that is normalized, not a)",
            normalizes_inputs,
            f"compute z = A_prev @ W first, then normalize z: {layer}",
        ),
        Mistake(
            "you used tanh as the activation: this layer's activation is the sigmoid (their "
            "ranges differ: (0, 1) and (−1, 1))",
            tanh,
            "sigmoid(t) = 1/(1 + e^(−t))",
        ),
        Mistake(
            "you used ReLU as the activation: this layer's activation is the sigmoid, which "
            "squashes z̃ into (0, 1)",
            relu,
            "sigmoid(t) = 1/(1 + e^(−t))",
        ),
        Mistake(
            "ε is missing: without it a unit whose values are nearly equal in the batch is "
            "divided by almost zero. Add ε to the variance before taking the root",
            no_eps,
            f"divide by √(σ² + ε), not by √σ²: {layer}",
        ),
        Mistake(
            "the eps argument was ignored: the function must use the ε it is given",
            eps_ignored,
            "use eps, not a fixed 1e-5, inside √(σ² + ε)",
        ),
    ]


def _case(label: str, m: int, n_prev: int, n: int, seed: int, eps: float | None) -> Case:
    rng = np.random.default_rng(seed)
    A = rng.uniform(0.0, 1.0, (m, n_prev))  # activations of a sigmoid layer: in (0, 1)
    W = rng.normal(0.0, 2.0 / np.sqrt(n_prev), (n_prev, n))
    gamma = rng.uniform(0.5, 2.0, n)
    beta = rng.uniform(-1.5, 1.5, n)
    beta[0] = -abs(beta[0]) - 0.4  # gamma and beta clearly different
    return Case(label, (A, W, gamma, beta), {} if eps is None else {"eps": eps})


def _cases() -> list[Case]:
    return [
        # square W first: a transposed W or a normalized A_prev still runs there, so the
        # hint can name the mistake (elsewhere they fail on the shapes)
        _case("5 examples, a square W (3 -> 3 units), eps=1e-5", 5, 3, 3, 42, 1e-5),
        _case(
            "6 examples, 4 inputs -> 3 units, called without eps (default 1e-5)", 6, 4, 3, 41, None
        ),
        _case("2 examples (the smallest batch), 4 -> 2 units, eps=0.3", 2, 4, 2, 43, 0.3),
        _case("8 examples, 5 -> 6 units, a large eps=0.5 (where ε goes matters)", 8, 5, 6, 44, 0.5),
        _case("60 examples, 10 -> 4 units, eps=1e-3", 60, 10, 4, 45, 1e-3),
    ]


def check_bn_layer_forward(fn: Callable, *, timeout: float = DEFAULT_TIMEOUT) -> CheckResult:
    """Check ``fn(A_prev, W, gamma, beta, eps=1e-5) -> A``: one hidden layer in training
    mode, A = sigmoid(gamma * (z - mu) / sqrt(var + eps) + beta) with z = A_prev @ W and
    the batch's per-unit mean and (1/m) variance; A_prev (m, n_prev), W (n_prev, n),
    gamma and beta (n,), A (m, n). Never raises."""
    return check_against_reference(
        NAME,
        fn,
        _cases(),
        _reference,
        _mistakes(),
        output_names=("A",),
        arg_names=_ARGS,
        timeout=timeout,
        advice=ADVICE,
        # The exercise is to write the layer: calling the course_lib BN forward is refused.
        forbid=("batchnorm_forward",),
    )


# ================================================================== bn_train_step
# The lesson's core exercise: one training step of a network with BN in every hidden
# layer (forward in training mode, backward through BN, the update of W, gamma, beta,
# b and of the running statistics). The learner's function takes and returns dicts;
# it runs in a child process, where its result is turned into plain data (tuples of
# arrays in a fixed order) before it comes back.
STEP = "bn_train_step"
_STEP_CALL = "bn_train_step(params, running, X, y, lr, eps=..., running_beta=...)"
# Names of the child call's arguments, for "modified its input ...".
_STEP_ARGS = ("bn_train_step", "params", "running", "X", "y", "lr")
GRAD_TOLERANCE = 1e-6  # relative error of an implied gradient (float64; round-off ~1e-14)
TRAIN_SIZES = (64, 32, 32, 10)  # the network trained on the digits by the last check
TRAIN_STEPS, TRAIN_LR, TRAIN_BATCH, TRAIN_TARGET = 150, 0.5, 50, 0.90
TRAIN_TIMEOUT = 20.0  # seconds for the whole training (a plain numpy step: ~0.2 s in all)


def _param_names(L: int) -> tuple[str, ...]:
    names = [f"{k}{l}" for l in range(1, L) for k in ("W", "gamma", "beta")]
    return (*names, f"W{L}", f"b{L}")


def _running_names(L: int) -> tuple[str, ...]:
    return tuple(f"{k}{l}" for l in range(1, L) for k in ("mean", "var"))


@dataclass
class _StepCase:
    label: str
    params: dict
    running: dict
    X: np.ndarray
    y: np.ndarray
    lr: float
    kwargs: dict

    @property
    def L(self) -> int:
        return len(self.params) // 3 + 1 if len(self.params) % 3 == 2 else 0

    @property
    def eps(self) -> float:
        return self.kwargs.get("eps", 1e-5)

    @property
    def running_beta(self) -> float:
        return self.kwargs.get("running_beta", 0.9)


def _step_case(label: str, sizes: tuple, m: int, seed: int, lr: float, **kwargs) -> _StepCase:
    """Random parameters (gamma and beta away from 1 and 0), running statistics away
    from their initial 0 and 1, and a batch whose labels are not all equal."""
    rng = np.random.default_rng(seed)
    L = len(sizes) - 1
    params, running = {}, {}
    for l in range(1, L + 1):
        params[f"W{l}"] = rng.normal(0.0, 1.5 / np.sqrt(sizes[l - 1]), (sizes[l - 1], sizes[l]))
        if l < L:
            params[f"gamma{l}"] = rng.uniform(0.5, 2.0, sizes[l])
            params[f"beta{l}"] = rng.uniform(-1.0, 1.0, sizes[l])
            running[f"mean{l}"] = rng.normal(0.0, 1.0, sizes[l])
            running[f"var{l}"] = rng.uniform(0.5, 2.0, sizes[l])
    params[f"b{L}"] = rng.normal(0.0, 0.5, sizes[L])
    X = rng.normal(0.0, 1.0, (m, sizes[0]))
    y = rng.permutation(np.arange(m) % sizes[L])
    order = _param_names(L)
    return _StepCase(label, {k: params[k] for k in order}, running, X, y, lr, kwargs)


def _step_cases() -> list[_StepCase]:
    return [
        _step_case(
            "2 hidden layers (5 -> 4 -> 3 units, 3 classes), 6 examples", (5, 4, 3, 3), 6, 51, 0.1
        ),
        _step_case(
            "1 hidden layer (4 -> 6 units, 3 classes), 2 examples (the smallest batch), "
            "eps=0.1, running_beta=0.8",
            (4, 6, 3),
            2,
            52,
            0.5,
            eps=0.1,
            running_beta=0.8,
        ),
        _step_case(
            "3 hidden layers (6 -> 5 -> 5 -> 4 units, 4 classes), 12 examples, eps=1e-3",
            (6, 5, 5, 4, 4),
            12,
            53,
            0.2,
            eps=1e-3,
        ),
    ]


def _step_variant(params, running, X, y, lr, eps=1e-5, running_beta=0.9, **wrong):
    """A training step with one typical mistake switched on (``wrong``: flags below);
    with no flag it is the right step (the tests check it against the reference).

    Returns (loss, new params, new running) as plain tuples in the checker's order."""
    L = len(params) // 3 + 1
    m = X.shape[0]
    a, caches, new_running = X, [], {}
    for l in range(1, L):
        z = a @ params[f"W{l}"]
        mu, var = z.mean(axis=0), z.var(axis=0)
        if wrong.get("inference_forward"):
            mu, var = running[f"mean{l}"], running[f"var{l}"]
        inv_std = 1.0 / np.sqrt(var + eps)
        x_hat = (z - mu) * inv_std
        z_tilde = params[f"gamma{l}"] * x_hat + params[f"beta{l}"]
        stats = z_tilde if wrong.get("running_of_z_tilde") else z
        batch_mean = stats.mean(axis=0)
        batch_var = stats.var(axis=0, ddof=0 if wrong.get("running_biased") else 1)
        old = running_beta
        if wrong.get("running_beta_swapped"):
            old = 1.0 - running_beta
        if wrong.get("running_kept"):
            old = 1.0
        new_running[f"mean{l}"] = old * running[f"mean{l}"] + (1.0 - old) * batch_mean
        new_running[f"var{l}"] = old * running[f"var{l}"] + (1.0 - old) * batch_var
        a_next = _sigmoid(z_tilde)
        caches.append((a, x_hat, inv_std, a_next))
        a = a_next
    logits = a @ params[f"W{L}"] + params[f"b{L}"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(m)
    loss = float(-log_p[rows, y].mean())
    dlogits = np.exp(log_p)
    dlogits[rows, y] -= 1.0
    if wrong.get("summed_loss"):
        loss *= m  # the sum over the batch, and its gradient
    elif not wrong.get("no_one_over_m"):
        dlogits /= m
    grads = {f"W{L}": a.T @ dlogits, f"b{L}": dlogits.sum(axis=0)}
    W_used = dict(params)
    sign = -1.0 if wrong.get("ascent") else 1.0
    if wrong.get("stale_weights"):  # each W updated before backpropagating through it
        W_used[f"W{L}"] = params[f"W{L}"] - sign * lr * grads[f"W{L}"]
    da = dlogits @ W_used[f"W{L}"].T
    for l in range(L - 1, 0, -1):
        a_prev, x_hat, inv_std, a_l = caches[l - 1]
        dz_tilde = da if wrong.get("no_sigmoid_derivative") else da * a_l * (1.0 - a_l)
        gamma = params[f"gamma{l}"]
        dbeta = dz_tilde.sum(axis=0)
        dgamma = (dz_tilde * x_hat).sum(axis=0)
        if wrong.get("statistics_constant"):
            dz = gamma * inv_std * dz_tilde
        elif wrong.get("no_variance_path"):
            dz = gamma * inv_std * (dz_tilde - dbeta / m)
        else:
            dz = gamma * inv_std * (dz_tilde - dbeta / m - x_hat * dgamma / m)
        grads[f"gamma{l}"], grads[f"beta{l}"] = dgamma, dbeta
        grads[f"W{l}"] = a_prev.T @ dz
        if wrong.get("stale_weights"):
            W_used[f"W{l}"] = params[f"W{l}"] - sign * lr * grads[f"W{l}"]
        da = dz @ W_used[f"W{l}"].T
    frozen = set()
    if wrong.get("gamma_beta_frozen"):
        frozen = {n for n in params if n.startswith(("gamma", "beta"))}
    if wrong.get("output_bias_frozen"):
        frozen.add(f"b{L}")
    new = {n: p if n in frozen else p - sign * lr * grads[n] for n, p in params.items()}
    return (
        loss,
        tuple(new[n] for n in _param_names(L)),
        tuple(new_running[n] for n in _running_names(L)),
    )


def _step_mistake(hint: str, more: str, **flag) -> Mistake:
    def produce(params, running, X, y, lr, eps=1e-5, running_beta=0.9):
        return _step_variant(params, running, X, y, lr, eps, running_beta, **flag)

    return Mistake(hint, produce, more)


_BN_BACKWARD_MORE = (
    "per unit, with r = 1/√(σ² + ε) and means over the batch: "
    "dz = γ·r·(dz̃ − mean(dz̃) − x̂·mean(dz̃·x̂)); dγ = Σ dz̃·x̂, dβ = Σ dz̃. "
    "Or call lesson 03's batchnorm_backward(dz̃, cache) with the cache of the forward pass"
)
_RUNNING_MORE = (
    "for each hidden layer, with z = a_prev @ W before BN: "
    "mean_new = running_beta·mean_old + (1 − running_beta)·z.mean(axis=0); "
    "var_new = running_beta·var_old + (1 − running_beta)·z.var(axis=0, ddof=1)"
)


def _train_step_mistakes() -> list[Mistake]:
    return [
        _step_mistake(
            "the loss is right but the gradients of the hidden layers are not: your backward "
            "pass through Batch Norm treats the batch mean and variance as constants. They "
            "are computed from the whole batch, so moving one example's z moves them too, "
            "and their paths belong in the backward pass (lesson 03)",
            _BN_BACKWARD_MORE,
            statistics_constant=True,
        ),
        _step_mistake(
            "the backward pass through Batch Norm has the mean's path but not the "
            "variance's: z also changes σ², which divides every example (lesson 03)",
            _BN_BACKWARD_MORE,
            no_variance_path=True,
        ),
        _step_mistake(
            "the forward pass normalized with the running statistics, as in inference mode. "
            "A training step normalizes each layer with this batch's own mean and variance "
            "(training mode, 训练模式); the running statistics are only updated",
            "μ = z.mean(axis=0), σ² = z.var(axis=0) (1/m) for the normalization; the "
            "running averages are returned, updated, and not used in this step",
            inference_forward=True,
        ),
        _step_mistake(
            "your running averages give the new batch statistic the large weight. It is the "
            "other way round: running_beta (0.9) is the weight of the old average, and the "
            "batch's statistic gets only 1 − running_beta",
            _RUNNING_MORE,
            running_beta_swapped=True,
        ),
        _step_mistake(
            "the running variance stores the batch's own variance (dividing by m). The "
            "course stores the unbiased estimate (无偏估计), which divides by m − 1, as the "
            "paper and PyTorch do",
            _RUNNING_MORE,
            running_biased=True,
        ),
        _step_mistake(
            "the running statistics follow the output z̃ of Batch Norm, whose batch mean is β "
            "by construction. They must follow its input z, the layer's linear output before "
            "the normalization: that is what inference mode normalizes",
            _RUNNING_MORE,
            running_of_z_tilde=True,
        ),
        _step_mistake(
            "the running statistics came back unchanged: a training step also folds this "
            "batch's mean and variance of z into them",
            _RUNNING_MORE,
            running_kept=True,
        ),
        _step_mistake(
            "the gradients are m times too large: the loss is the mean over the m examples "
            "of the batch, so its gradient carries a factor 1/m",
            "dlogits = (softmax(logits) − one_hot(y)) / m, where one_hot(y) has a 1 in "
            "column y[i] of row i",
            no_one_over_m=True,
        ),
        _step_mistake(
            "the loss and the gradients are m times too large: you summed the cross-entropy "
            "over the batch. The loss of a mini-batch is the mean over its examples",
            "loss = −mean_i log softmax(logits)[i, y[i]]; "
            "dlogits = (softmax(logits) − one_hot(y)) / m",
            summed_loss=True,
        ),
        _step_mistake(
            "W and b were updated but γ and β were not: they are learnable parameters "
            "(学习参数) like W, and take a step with the same learning rate",
            "gamma_l − lr·dgamma_l and beta_l − lr·dbeta_l, with dgamma, dbeta from the "
            "backward pass through Batch Norm",
            gamma_beta_frozen=True,
        ),
        _step_mistake(
            "the output layer's bias was not updated: it is a parameter like the weights",
            "b_L − lr·db_L with db_L = dlogits summed over the batch (axis=0)",
            output_bias_frozen=True,
        ),
        _step_mistake(
            "every parameter moved uphill: gradient descent subtracts the learning rate "
            "times the gradient",
            "p_new = p − lr·dL/dp for every parameter",
            ascent=True,
        ),
        _step_mistake(
            "the lower layers' gradients were computed with weights that were already "
            "updated. Backpropagate with the weights of the forward pass, then update",
            "compute da_prev = dz @ W.T with the old W; update W (into new arrays) only "
            "after the backward pass, or at least after using the old W",
            stale_weights=True,
        ),
        _step_mistake(
            "the sigmoid's derivative is missing in the backward pass: between a and z̃ the "
            "gradient is multiplied by the slope of the sigmoid at z̃",
            "dz̃ = da · a · (1 − a), since σ'(t) = σ(t)(1 − σ(t)) and a = σ(z̃)",
            no_sigmoid_derivative=True,
        ),
    ]


# ------------------------------------------------------------------ run in the child
def _flatten_step(out: Any, L: int) -> tuple:
    """The learner's (loss, new_params, new_running) in the checker's order, run in the
    child: ("ok", loss, params tuple, running tuple); ("none",) for None; ("bad", what is
    wrong, loss) when the dicts are not right (the loss goes along, so that the parent
    can name a problem of the loss first: it comes first in what was returned); or
    ("bad", what is wrong, None, the value) when it is not three values at all."""
    if out is None:
        return ("none",)
    if type(out) not in (tuple, list) or len(out) != 3:
        # ``out`` goes along as it is: turned into plain data like any returned value
        return (
            "bad",
            f"return three values (loss, new_params, new_running), got {describe_value(out)}",
            None,
            out,
        )
    loss, new_params, new_running = out
    found = []
    for what, d, names in (
        ("new_params", new_params, _param_names(L)),
        ("new_running", new_running, _running_names(L)),
    ):
        if not isinstance(d, Mapping):
            return (
                "bad",
                f"the function returned {describe_value(out)} whose {what} is "
                f"{describe_value(d)}: {what} must be a dict like the one it received",
                loss,
            )
        missing = [n for n in names if n not in d]
        if missing:
            return (
                "bad",
                f"{what} has no {missing[0]!r}: return a dict with the same keys as the "
                f"one received ({', '.join(names)})",
                loss,
            )
        found.append(tuple(d[n] for n in names))
    return ("ok", loss, *found)


def _call_step(fn, params, running, X, y, lr, kwargs):
    """Run in the child: one call of the learner's step, its result reduced to plain data."""
    L = len(params) // 3 + 1
    return _flatten_step(fn(params, running, X, y, lr, **kwargs), L)


def _train_digits(fn, sizes, steps, lr, batch, seed):
    """Run in the child: train a BN network on the digits with the learner's step from
    ``bn_network(sizes, seed)``; returns its final (params, running) as plain tuples."""
    from ..experiments import digits_data

    data = digits_data()
    X, y = data.X_train, data.y_train
    params, running = _network.bn_network(sizes, seed)
    L = len(sizes) - 1
    for idx in _network.batches(X.shape[0], batch, steps, seed):
        out = fn(params, running, X[idx], y[idx], lr)
        flat = _flatten_step(out, L)
        if flat[0] != "ok":
            return flat
        params = dict(zip(_param_names(L), flat[2], strict=True))
        running = dict(zip(_running_names(L), flat[3], strict=True))
    return (
        "ok",
        0.0,
        tuple(params[n] for n in _param_names(L)),
        tuple(running[n] for n in _running_names(L)),
    )


# ------------------------------------------------------------------ comparing steps
def _relative(a: np.ndarray, b: np.ndarray) -> float:
    scale = float(np.max(np.abs(a) + np.abs(b), initial=0.0))
    return float(np.max(np.abs(a - b), initial=0.0)) / max(scale, 1e-300)


def _step_differences(got: tuple, expected: tuple, case: _StepCase) -> list[tuple[str, float]]:
    """What differs between two steps (loss, params tuple, running tuple): a list of
    (quantity, relative error) above the tolerances, in the order a learner should
    look at them (the loss, the output layer's gradients, then down the layers, then
    the running statistics)."""
    L = case.L
    loss, params, running = got
    e_loss, e_params, e_running = expected
    out = []
    if abs(loss - e_loss) > 1e-8 * (1.0 + abs(e_loss)):
        out.append(("loss", abs(loss - e_loss) / max(abs(e_loss), 1e-300)))
    old = case.params
    named = dict(zip(_param_names(L), zip(params, e_params, strict=True), strict=True))
    for name in (
        f"W{L}",
        f"b{L}",
        *[f"{k}{l}" for l in range(L - 1, 0, -1) for k in ("gamma", "beta", "W")],
    ):
        new, e_new = named[name]
        err = _relative((old[name] - new) / case.lr, (old[name] - e_new) / case.lr)
        if err > GRAD_TOLERANCE:
            out.append((name, err))
    for name, r, e in zip(_running_names(L), running, e_running, strict=True):
        if not np.allclose(r, e, rtol=1e-8, atol=1e-10):
            out.append((name, _relative(r, e)))
    return out


def _step_arrays(value: Any, case: _StepCase) -> tuple[tuple | None, str | None]:
    """The learner's step as (loss, params, running) of float arrays with the right
    shapes, or why not (the first problem, in the order of the returned values)."""
    if type(value) is not tuple or not value or value[0] not in ("ok", "bad", "none"):
        return None, f"the function returned {describe_value(value)}"
    if value[0] == "none":
        return None, returned_none_hint(("loss", "new_params", "new_running"))
    loss = value[1] if value[0] == "ok" else value[2]
    if value[0] == "ok" or loss is not None:
        loss_arr, why = to_array(loss, (), "the loss (the first value returned)", np.float64)
        if why:
            return None, why
    if value[0] == "bad":
        return None, str(value[1])
    _, _, params, running = value
    arrays: list[list[np.ndarray]] = [[], []]
    p_names, r_names = _param_names(case.L), _running_names(case.L)
    groups = (
        ("new_params", params, p_names, [case.params[n].shape for n in p_names]),
        ("new_running", running, r_names, [case.running[n].shape for n in r_names]),
    )
    for k, (what, values, names, shapes) in enumerate(groups):
        for name, v, shape in zip(names, values, shapes, strict=True):
            arr, why = to_array(v, shape, f"{what}[{name!r}]", np.float64, STEP_ADVICE)
            if why:
                return None, why
            arrays[k].append(arr)
    return (float(loss_arr), tuple(arrays[0]), tuple(arrays[1])), None


STEP_ADVICE = Advice(
    shapes="X is (m, n[0]); W[l] is (n[l-1], n[l]); gamma[l], beta[l], mean[l], var[l] and "
    "b[L] are (n[l],); z[l] and a[l] are (m, n[l])",
    statistics=False,
    matmul="with rows as examples, each product must give the shape of what it computes: "
    "a gradient of W has the shape of W, a gradient of a layer's input the shape of that input",
    matmul_more="dW = a_prev.T @ dz: (n_prev, m) @ (m, n) → (n_prev, n), the shape of W; "
    "da_prev = dz @ W.T: (m, n) @ (n, n_prev) → (m, n_prev)",
    call=_STEP_CALL,
)

_KEY_ERROR = re.compile(r"KeyError: '([a-z]+)(\d+)'")


def _step_error_hint(error: str, case: _StepCase) -> tuple[str, str] | None:
    """A hint for a KeyError on the dicts (a hidden bias, or a key of another name)."""
    key = _KEY_ERROR.search(error)
    if not key:
        return None
    kind, l = key.group(1), int(key.group(2))
    if kind == "b" and l < case.L:
        return (
            f"the function looked for params['b{l}']: with Batch Norm the hidden layers have "
            "no bias (section 2: BN subtracts the batch mean, so β takes the bias's role). "
            f"Only the output layer has one, b{case.L}",
            f"z = a_prev @ W{l}, then Batch Norm with gamma{l} and beta{l}; the output layer: "
            f"logits = a @ W{case.L} + b{case.L}",
        )
    return (
        f"the function looked for a key {key.group(0)[10:]} that the dicts do not have",
        f"params holds {', '.join(_param_names(case.L))}; running holds "
        f"{', '.join(_running_names(case.L))}",
    )


def _step_mutation_hint(outcome: Outcome) -> tuple[str, str] | None:
    changed = [_STEP_ARGS[i] for i in outcome.mutated if 0 < i < len(_STEP_ARGS)]
    if not changed:
        return None
    what = changed[0]
    example = (
        f"{what}[name] - lr * grad"
        if what == "params"
        else f"running_beta * {what}[name] + (1 - running_beta) * ..."
    )
    return (
        f"the function modified its input {what} (an array inside the dict, or the dict "
        "itself). A step returns new dicts and leaves the caller's as they were, so that "
        "the old values are still there to compare with",
        f"build new dicts: new_{what} = {{}}, then new_{what}[name] = {example} (an "
        f"expression makes a new array; {what}[name] -= ... writes into the caller's)",
    )


_DIFFERS = {
    "loss": (
        "the loss differs from the reference, so the forward pass is not right yet: each "
        "hidden layer multiplies by its W, normalizes with the batch's own statistics, "
        "scales and shifts, then applies the sigmoid; the output layer adds its bias and the "
        "softmax follows; the loss is the mean cross-entropy of the batch, before the update",
        "loss = −mean_i log softmax(logits)[i, y[i]], logits = a @ W_L + b_L; compute it "
        "before changing any parameter",
    ),
    "output": (
        "the output layer's update differs from the reference while the loss is right: "
        "look at the gradient of the softmax cross-entropy and at dW, db of the output layer",
        "dlogits = (softmax(logits) − one_hot(y)) / m; dW_L = a.T @ dlogits; "
        "db_L = dlogits.sum(axis=0)",
    ),
    "hidden": (
        "the update of {name} differs from the reference while the layers above it are "
        "right: look at the backward pass of layer {layer} (the sigmoid's derivative, "
        "Batch Norm's backward pass, then the gradient of the product with W)",
        _BN_BACKWARD_MORE,
    ),
    "running": (
        "the parameters are right but the running statistic {name} is not",
        _RUNNING_MORE,
    ),
}


def _differs_hint(diffs: list[tuple[str, float]], L: int) -> tuple[str, str]:
    name, err = diffs[0]
    if name == "loss":
        hint, more = _DIFFERS["loss"]
    elif name in (f"W{L}", f"b{L}"):
        hint, more = _DIFFERS["output"]
    elif name.startswith(("mean", "var")):
        hint, more = _DIFFERS["running"]
    else:
        hint, more = _DIFFERS["hidden"]
    layer = "".join(c for c in name if c.isdigit())
    return hint.format(name=name, layer=layer) + f" (relative error {err:.1e})", more


def check_bn_train_step(fn: Callable, *, timeout: float = DEFAULT_TIMEOUT) -> CheckResult:
    """Check ``fn(params, running, X, y, lr, eps=1e-5, running_beta=0.9) ->
    (loss, new_params, new_running)``: one training step of a sigmoid network with
    Batch Norm in every hidden layer (see ``course_lib.network.bn_train_step``).

    Three cases with random parameters and running statistics: the loss, the gradient
    each new parameter implies, (old - new) / lr, and the new running statistics are
    compared with the reference; then the function trains a 64-32-32-10 network on the
    digits (150 steps, batches of 50, lr 0.5), which must reach 90 % validation
    accuracy in inference mode within the time limit. Never raises."""
    _warm_up()  # before the clock starts: loading is not the learner's time
    return run_check(STEP, lambda: _check_step(fn, timeout), 5 * timeout)


def _check_step(fn, timeout):
    if not callable(fn):
        return failed(
            STEP, 0, "the argument", f"pass your function itself, got {describe_value(fn)}"
        )
    params = ("bn_train_step", *learner_parameters(fn))
    mistakes = _train_step_mistakes()
    cases = _step_cases()
    for k, case in enumerate(cases):
        args = (case.params, case.running, case.X, case.y, case.lr)
        out = call_safely(_call_step, fn, *args, case.kwargs, timeout=timeout)
        problem = _step_error_hint(out.error, case) if out.error else None
        if problem is None and not out.timed_out and not out.error:
            problem = _step_mutation_hint(out)
        if problem is None:
            problem = outcome_hint(out, _STEP_ARGS, timeout, STEP_ADVICE, params)
        if problem:
            hint, more = problem
            return failed(STEP, k, case.label, hint, *printed_details(out), more=more)
        got, why = _step_arrays(out.value, case)
        if why:
            return failed(STEP, k, case.label, why, *printed_details(out))
        ref_loss, ref_params, ref_running = _network.bn_train_step(*args, **case.kwargs)
        expected = (
            ref_loss,
            tuple(ref_params[n] for n in _param_names(case.L)),
            tuple(ref_running[n] for n in _running_names(case.L)),
        )
        diffs = _step_differences(got, expected, case)
        if not diffs:
            continue
        for mistake in mistakes:
            try:
                wrong = mistake.produce(*args, **case.kwargs)
            except Exception:  # noqa: BLE001 - a mistake that does not apply here
                continue
            if not _step_differences(got, wrong, case):
                return failed(STEP, k, case.label, mistake.hint, more=mistake.more)
        hint, more = _differs_hint(diffs, case.L)
        return failed(STEP, k, case.label, hint, more=more)
    # The step is right on every case: it must also train a network, in reasonable time.
    label = (
        f"training a {'-'.join(map(str, TRAIN_SIZES))} network on the digits "
        f"({TRAIN_STEPS} steps, batches of {TRAIN_BATCH}, lr {TRAIN_LR:g})"
    )
    out = call_safely(
        _train_digits,
        fn,
        TRAIN_SIZES,
        TRAIN_STEPS,
        TRAIN_LR,
        TRAIN_BATCH,
        0,
        timeout=4 * timeout,
    )
    if out.timed_out:
        return failed(
            STEP,
            len(cases),
            label,
            f"the training did not finish within the time limit ({4 * timeout:g} s at most; "
            "a numpy step takes about a millisecond here): look for loops over examples or "
            "units, which numpy's whole-array operations replace",
        )
    problem = outcome_hint(out, ("bn_train_step",), timeout, STEP_ADVICE, params)
    if problem:
        return failed(STEP, len(cases), label, problem[0], *printed_details(out), more=problem[1])
    value = out.value
    if type(value) is not tuple or not value or value[0] != "ok":
        if type(value) is tuple and value and value[0] == "none":
            why = returned_none_hint(("loss", "new_params", "new_running"))
        elif type(value) is tuple and len(value) >= 3 and value[0] == "bad":
            why = str(value[1])
        else:
            why = f"the function returned {describe_value(value)}"
        return failed(STEP, len(cases), label, f"during training: {why}")
    try:
        L = len(TRAIN_SIZES) - 1
        trained = dict(zip(_param_names(L), map(np.asarray, value[2]), strict=True))
        stats = dict(zip(_running_names(L), map(np.asarray, value[3]), strict=True))
        from ..experiments import digits_data

        data = digits_data()
        accuracy = float(np.mean(_network.bn_predict(trained, stats, data.X_val) == data.y_val))
    except Exception as exc:  # noqa: BLE001 - e.g. arrays of the wrong shape after training
        return failed(
            STEP, len(cases), label, f"the trained network could not be used ({type(exc).__name__})"
        )
    if not accuracy >= TRAIN_TARGET:
        return failed(
            STEP,
            len(cases),
            label,
            f"the step is right on the small cases, but training with it reached "
            f"{accuracy:.0%} validation accuracy, below {TRAIN_TARGET:.0%}: does the step "
            "depend on something other than its arguments (a global variable, a fixed "
            "learning rate)?",
        )
    return passed(STEP, len(cases) + 1)


def _warm_up() -> None:
    """Load in this process what every child would otherwise load again: the digits
    and the compiled Batch Norm backward pass (numba) a learner may call. Never raises."""
    try:
        from .. import batchnorm
        from ..experiments import digits_data

        digits_data()
        z = np.arange(6.0).reshape(3, 2)
        cache = batchnorm.batchnorm_forward(z, np.ones(2), np.zeros(2))[1]
        batchnorm.batchnorm_backward(z, cache)
    except Exception:  # noqa: BLE001 - the checks themselves will say what is wrong
        pass
