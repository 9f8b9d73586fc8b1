"""Checker for lesson 04: ``bn_layer_forward``, one hidden layer with Batch Norm.

The learner writes A = sigmoid(BN(A_prev @ W)) for a mini-batch in training mode
(no bias: BN cancels it). The checker compares with ``course_lib.network``'s
reference on several layers (a square W, the smallest batch, a large eps, a call
without eps) and names the typical mistakes of the lesson; it never raises.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..network import bn_layer_forward as _reference
from ..network import sigmoid as _sigmoid
from ._core import DEFAULT_TIMEOUT, Advice, Case, CheckResult, Mistake, check_against_reference

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
