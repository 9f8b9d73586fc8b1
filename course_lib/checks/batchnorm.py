"""Checkers for lesson 03: ``batchnorm_forward`` and ``batchnorm_backward``.

The learner's forward returns ``(out, cache)`` with a cache of their own design,
so only ``out`` is compared with the reference. The learner's backward receives
the learner's own cache (forward and backward run together in one child
process) and its gradients are compared twice: with the reference gradients and
with the numerical gradients (central differences) of the learner's own forward,
always with a random upstream gradient (a ``dout`` of ones makes the true dz zero
and hides most bugs). When a case fails, the typical mistakes of the lesson are
tried so that the hint names the mistake. The checkers never raise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..batchnorm import batchnorm_backward as _ref_backward
from ..batchnorm import batchnorm_forward as _ref_forward
from ..gradcheck import numerical_gradients, relative_error
from ._core import (
    BUDGET_FACTOR,
    DEFAULT_TIMEOUT,
    CheckResult,
    Mistake,
    call_safely,
    close,
    describe_value,
    failed,
    first_difference,
    matching_mistake,
    outcome_problem,
    passed,
    printed_details,
    returned_none_hint,
    run_check,
    to_array,
)

FORWARD = "batchnorm_forward"
BACKWARD = "batchnorm_backward"
# A correct backward agrees with central differences (h = 1e-5, float64) to ~1e-9
# on the cases below; a wrong one is off by 1e-2 or more.
FD_TOLERANCE = 1e-6
# Names of the arguments of the child calls, for "modified its input ..." messages.
_FORWARD_ARGS = ("forward_fn", "z", "gamma", "beta", "eps")


# ------------------------------------------------------------------ the cases
@dataclass
class _BNCase:
    label: str
    z: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    eps: float | None  # None: call without eps (the default, 1e-5, must be used)
    dout: np.ndarray
    constant_feature: bool = False
    kwargs: dict = field(init=False)

    def __post_init__(self) -> None:
        self.kwargs = {} if self.eps is None else {"eps": self.eps}

    @property
    def eps_value(self) -> float:
        return 1e-5 if self.eps is None else self.eps


def _case(label: str, m: int, n: int, seed: int, eps: float | None, const: int | None = None):
    rng = np.random.default_rng(seed)
    z = rng.normal(rng.uniform(-2, 2, n), rng.uniform(0.7, 2.5, n), size=(m, n))
    if const is not None:
        z[:, const] = 1.5  # every example has the same value: sigma^2 = 0
    gamma = rng.uniform(0.5, 2.0, n) * rng.choice([-1.0, 1.0], n)
    gamma[0] = abs(gamma[0]) + 0.5  # keep gamma and beta clearly different
    beta = rng.uniform(-1.5, 1.5, n)
    beta[0] = -abs(beta[0]) - 0.3
    dout = rng.standard_normal((m, n))
    return _BNCase(label, z, gamma, beta, eps, dout, constant_feature=const is not None)


def _cases() -> list[_BNCase]:
    return [
        _case("a 4×3 batch, eps=1e-5", 4, 3, 301, 1e-5),
        _case("a 5×5 batch (as many examples as features), eps=1e-5", 5, 5, 302, 1e-5),
        _case("a 6×2 batch with a large eps=0.5 (where ε goes matters)", 6, 2, 303, 0.5),
        _case("a 2×3 batch (the smallest training batch), eps=0.5", 2, 3, 304, 0.5),
        _case("a 4×3 batch whose feature 1 is constant (σ² = 0), eps=1e-3", 4, 3, 305, 1e-3, 1),
        _case("a 7×4 batch, called without eps (the default 1e-5)", 7, 4, 306, None),
    ]


# ------------------------------------------------------------------ typical mistakes
def _e(eps: float | None) -> float:
    return 1e-5 if eps is None else eps


def _stats(z, axis=0, keepdims=False, ddof=0):
    mu = z.mean(axis=axis, keepdims=keepdims)
    var = z.var(axis=axis, keepdims=keepdims, ddof=ddof)
    return mu, var


def _forward_mistakes() -> list[Mistake]:
    # Each takes (z, gamma, beta, eps) with eps None when the case uses the default.
    def eps_outside(z, g, b, eps=None):
        mu, var = _stats(z)
        return g * (z - mu) / (np.sqrt(var) + _e(eps)) + b

    def no_eps(z, g, b, eps=None):
        mu, var = _stats(z)
        return g * (z - mu) / np.sqrt(var) + b

    def unbiased(z, g, b, eps=None):
        mu, var = _stats(z, ddof=1)
        return g * (z - mu) / np.sqrt(var + _e(eps)) + b

    def layer_norm(z, g, b, eps=None):
        mu, var = _stats(z, axis=1, keepdims=True)
        return g * (z - mu) / np.sqrt(var + _e(eps)) + b

    def layer_norm_no_keepdims(z, g, b, eps=None):
        mu, var = _stats(z, axis=1)  # broadcasts only for a square batch
        return g * (z - mu) / np.sqrt(var + _e(eps)) + b

    def whole_array(z, g, b, eps=None):
        mu, var = z.mean(), z.var()
        return g * (z - mu) / np.sqrt(var + _e(eps)) + b

    def swapped(z, g, b, eps=None):
        return _ref_forward(z, b, g, _e(eps))[0]

    def no_scale_shift(z, g, b, eps=None):
        return _ref_forward(z, np.ones_like(g), np.zeros_like(b), _e(eps))[0]

    def by_variance(z, g, b, eps=None):
        mu, var = _stats(z)
        return g * (z - mu) / (var + _e(eps)) + b

    def not_centred(z, g, b, eps=None):
        _, var = _stats(z)
        return g * z / np.sqrt(var + _e(eps)) + b

    def default_eps_changed(z, g, b, eps=None):
        if eps is not None:
            raise ValueError("applies only to a call without eps")
        return _ref_forward(z, g, b, 1e-8)[0]

    return [
        Mistake(
            "ε is outside the square root: divide by √(σ² + ε), not by √σ² + ε",
            eps_outside,
        ),
        Mistake(
            "the default of eps must stay 1e-5: `def batchnorm_forward(z, gamma, beta, eps=1e-5)`",
            default_eps_changed,
        ),
        Mistake(
            "ε is missing: divide by √(σ² + ε), not by √σ² = σ. Without ε a constant "
            "feature (σ² = 0) divides 0 by 0 and gives NaN",
            no_eps,
        ),
        Mistake(
            "that is the unbiased variance (1/(m−1), ddof=1): Batch Norm normalizes with the "
            "batch's own variance σ² = (1/m) Σ (z − μ)², np.var's default ddof=0",
            unbiased,
        ),
        Mistake(
            "statistics over the wrong axis: axis=1 averages over the features of each "
            "example, which is Layer Normalization. Batch Norm averages over the examples "
            "of the mini-batch: axis=0, one μ and σ² per feature",
            layer_norm,
        ),
        Mistake(
            "statistics over the wrong axis: axis=1 gives one μ per example (and, for a "
            "square batch, broadcasts silently against the features). Batch Norm averages "
            "over the examples: axis=0, one μ and σ² per feature",
            layer_norm_no_keepdims,
        ),
        Mistake(
            "μ and σ² were computed over the whole array (no axis): Batch Norm keeps one μ "
            "and one σ² per feature, over the examples (axis=0)",
            whole_array,
        ),
        Mistake("γ and β are swapped: z̃ = γ·z_norm + β (γ scales, β shifts)", swapped),
        Mistake(
            "that is z_norm: the last step scales and shifts it, z̃ = γ·z_norm + β",
            no_scale_shift,
        ),
        Mistake(
            "divided by the variance σ² + ε instead of the standard deviation √(σ² + ε) "
            "(the notes' slip from lesson 01)",
            by_variance,
        ),
        Mistake("the mean was not subtracted: z_norm = (z − μ) / √(σ² + ε)", not_centred),
    ]


def _backward_mistakes() -> list[Mistake]:
    # Each returns (dz, dgamma, dbeta) for a case's (z, gamma, beta, eps, dout).
    def parts(z, g, b, eps, dout):
        _, cache = _ref_forward(z, g, b, eps)
        dz, dg, db = _ref_backward(dout, cache)
        return cache.x_hat, cache.inv_std, dz, dg, db

    def no_mean_term(z, g, b, eps, dout):
        xh, r, _, dg, db = parts(z, g, b, eps, dout)
        m = z.shape[0]
        return g * r * (dout - xh * dg / m), dg, db

    def no_var_term(z, g, b, eps, dout):
        xh, r, _, dg, db = parts(z, g, b, eps, dout)
        m = z.shape[0]
        return g * r * (dout - db / m), dg, db

    def constants(z, g, b, eps, dout):
        xh, r, _, dg, db = parts(z, g, b, eps, dout)
        return g * r * dout, dg, db

    def swapped(z, g, b, eps, dout):
        _, _, dz, dg, db = parts(z, g, b, eps, dout)
        return dz, db, dg

    def no_gamma(z, g, b, eps, dout):
        xh, r, _, dg, db = parts(z, g, b, eps, dout)
        m = z.shape[0]
        return r * (dout - db / m - xh * dg / m), dg, db

    def no_one_over_m(z, g, b, eps, dout):
        _, _, dz, dg, db = parts(z, g, b, eps, dout)
        return z.shape[0] * dz, dg, db

    def var_sign(z, g, b, eps, dout):
        xh, r, _, dg, db = parts(z, g, b, eps, dout)
        m = z.shape[0]
        return g * r * (dout - db / m + xh * dg / m), dg, db

    def no_eps(z, g, b, eps, dout):
        # 1/sqrt(var) in the backward, with the forward's x_hat (which has eps)
        xh, _, _, dg, db = parts(z, g, b, eps, dout)
        m = z.shape[0]
        return g / z.std(axis=0) * (dout - db / m - xh * dg / m), dg, db

    def dgamma_with_z(z, g, b, eps, dout):
        _, _, dz, _, db = parts(z, g, b, eps, dout)
        return dz, (dout * z).sum(axis=0), db

    def dgamma_with_out(z, g, b, eps, dout):
        out, _ = _ref_forward(z, g, b, eps)
        _, _, dz, _, db = parts(z, g, b, eps, dout)
        return dz, (dout * out).sum(axis=0), db

    def mean_not_sum(z, g, b, eps, dout):
        _, _, dz, dg, db = parts(z, g, b, eps, dout)
        m = z.shape[0]
        return dz, dg / m, db / m

    return [
        Mistake(
            "the mean term is missing: μ depends on every z_i, so dz needs the term "
            "−(1/m)·Σ_j dx̂_j (compact form: dz = (1/m)·(σ²+ε)^(−1/2)·(m·dx̂ − Σ dx̂ − "
            "x̂·Σ(dx̂·x̂)), with dx̂ = dout·γ)",
            no_mean_term,
        ),
        Mistake(
            "the variance term is missing: σ² depends on every z_i, so dz needs the term "
            "−(1/m)·x̂·Σ_j (dx̂_j·x̂_j)",
            no_var_term,
        ),
        Mistake(
            "both the mean and the variance terms are missing (μ and σ² were treated as "
            "constants): dz = (1/m)·(σ²+ε)^(−1/2)·(m·dx̂ − Σ dx̂ − x̂·Σ(dx̂·x̂))",
            constants,
        ),
        Mistake("dγ and dβ are swapped: dβ = Σ dout, dγ = Σ dout·x̂", swapped),
        Mistake("γ is missing from dz: the gradient reaching x̂ is dx̂ = dout·γ", no_gamma),
        Mistake(
            "dz is m times too large: the factor 1/m of the mean and variance is missing",
            no_one_over_m,
        ),
        Mistake(
            "sign error in the variance term: dz = (1/m)·(σ²+ε)^(−1/2)·(m·dx̂ − Σ dx̂ − "
            "x̂·Σ(dx̂·x̂)), with a minus before x̂",
            var_sign,
        ),
        Mistake(
            "ε is missing in the backward pass: use 1/√(σ² + ε) from the forward pass "
            "(keep it in the cache), not 1/σ",
            no_eps,
        ),
        Mistake("dγ = Σ dout·x̂ (the normalized value), not Σ dout·z", dgamma_with_z),
        Mistake("dγ = Σ dout·x̂ (the normalized value), not Σ dout·out", dgamma_with_out),
        Mistake(
            "dγ and dβ are sums over the batch, not means: dβ = Σ_i dout_i, dγ = Σ_i dout_i·x̂_i",
            mean_not_sum,
        ),
    ]


# ------------------------------------------------------------------ helpers
@dataclass
class _Returned:
    """A forward's return value reduced, in the child, to what is needed and picklable:
    ``out`` when it returned a pair (out, cache) (the cache may hold anything),
    else the value itself."""

    pair: bool
    value: Any


def _call_forward(forward_fn, z, gamma, beta, kwargs):
    """Run in the child: the learner's forward, keeping only ``out`` of (out, cache)."""
    value = forward_fn(z, gamma, beta, **kwargs)
    if isinstance(value, tuple | list) and len(value) == 2:
        return _Returned(True, value[0])
    return _Returned(False, value)


def _forward_output(returned: Any, shape: tuple[int, int], who: str) -> tuple[Any, str | None]:
    """The ``out`` of a forward's return value (out, cache), or why there is none."""
    if not isinstance(returned, _Returned):
        return None, f"{who} returned an object that is not a pair (out, cache)"
    if returned.pair:
        return to_array(returned.value, shape, "out")
    value = returned.value
    if value is None:
        return None, returned_none_hint(("out", "cache"))
    if isinstance(value, np.ndarray):
        return None, f"{who} returned only {describe_value(value)}: return the pair (out, cache)"
    return None, f"{who} must return the pair (out, cache), got {describe_value(value)}"


def _grad_arrays(value: Any, m: int, n: int) -> tuple[list[np.ndarray] | None, str | None]:
    if value is None:
        return None, returned_none_hint(("dz", "dgamma", "dbeta"))
    if not isinstance(value, tuple | list) or len(value) != 3:
        return None, f"return 3 values (dz, dgamma, dbeta), got {describe_value(value)}"
    arrays = []
    for v, what, shape in zip(value, ("dz", "dgamma", "dbeta"), ((m, n), (n,), (n,)), strict=True):
        if what != "dz" and np.shape(v) == (m, n):
            return None, (
                f"{what} has shape {(m, n)}: sum over the examples of the batch "
                "(axis=0), one value per feature"
            )
        arr, why = to_array(v, shape, what)
        if why:
            return None, why
        arrays.append(arr)
    return arrays, None


def _run_forward_backward(forward_fn, backward_fn, z, gamma, beta, kwargs, dout):
    """Run in the child: the learner's backward on the learner's own cache."""
    _, cache = forward_fn(z, gamma, beta, **kwargs)
    return backward_fn(dout, cache)


def _numerical(forward_fn, z, gamma, beta, kwargs, dout):
    """Run in the child: central differences of the learner's forward."""

    def f(z_, g_, b_):
        return np.asarray(forward_fn(z_, g_, b_, **kwargs)[0], dtype=np.float64)

    return numerical_gradients(f, (z, gamma, beta), dout)


def _nan_hint(case: _BNCase, why: str) -> str:
    if case.constant_feature and "NaN" in why:
        return (
            "a constant feature (every example equal, σ² = 0) gave NaN or inf: 0/0. "
            "ε belongs inside the square root, √(σ² + ε), so the denominator is never 0"
        )
    return why


# ------------------------------------------------------------------ the checkers
def check_batchnorm_forward(fn: Callable, *, timeout: float = DEFAULT_TIMEOUT) -> CheckResult:
    """Check a learner's ``batchnorm_forward(z, gamma, beta, eps=1e-5) -> (out, cache)``.

    Compares ``out`` with the reference on several batches (including m = 2, a
    square batch, a large eps and a constant feature); never raises.
    """
    return run_check(FORWARD, lambda: _check_forward(fn, timeout), BUDGET_FACTOR * timeout)


def _check_forward(fn, timeout):
    if not callable(fn):
        return failed(FORWARD, 0, "the argument", f"pass your function, got {describe_value(fn)}")
    mistakes = _forward_mistakes()
    cases = _cases()
    for k, case in enumerate(cases):
        call = (fn, case.z, case.gamma, case.beta, case.kwargs)
        outcome = call_safely(_call_forward, *call, timeout=timeout)
        problem = outcome_problem(outcome, _FORWARD_ARGS, timeout)
        if problem:
            return failed(FORWARD, k, case.label, problem, *printed_details(outcome))
        expected = _ref_forward(case.z, case.gamma, case.beta, case.eps_value)[0]
        out, why = _forward_output(outcome.value, expected.shape, FORWARD)
        if why:
            return failed(FORWARD, k, case.label, _nan_hint(case, why), *printed_details(outcome))
        if close(out, expected):
            continue
        mistake = matching_mistake(out, mistakes, (case.z, case.gamma, case.beta, case.eps))
        if mistake is not None:
            return failed(FORWARD, k, case.label, mistake.hint, more=mistake.more)
        return failed(
            FORWARD,
            k,
            case.label,
            "out differs from the expected value: compare step by step with the four formulas",
            first_difference(out, expected),
        )
    return passed(FORWARD, len(cases))


def check_batchnorm_backward(
    forward_fn: Callable, backward_fn: Callable, *, timeout: float = DEFAULT_TIMEOUT
) -> CheckResult:
    """Check a learner's ``batchnorm_backward(dout, cache) -> (dz, dgamma, dbeta)``.

    forward_fn is the learner's ``batchnorm_forward``: its cache is what
    ``backward_fn`` receives. For every case (random dout), the gradients must
    agree with the reference and with central differences of ``forward_fn``;
    never raises.
    """
    # The backward check makes several calls per case (finite differences included).
    return run_check(
        BACKWARD,
        lambda: _check_backward(forward_fn, backward_fn, timeout),
        2 * BUDGET_FACTOR * timeout,
    )


def _check_backward(forward_fn, backward_fn, timeout):
    for fn, what in ((forward_fn, "forward_fn"), (backward_fn, "backward_fn")):
        if not callable(fn):
            return failed(
                BACKWARD, 0, "the arguments", f"{what} must be a function, got {describe_value(fn)}"
            )
    mistakes = _backward_mistakes()
    cases = _cases()
    for k, case in enumerate(cases):
        m, n = case.z.shape
        inputs = (case.z, case.gamma, case.beta)
        # 1. The learner's forward must be right first: its cache feeds the backward.
        fwd = call_safely(_call_forward, forward_fn, *inputs, case.kwargs, timeout=timeout)
        problem = outcome_problem(fwd, _FORWARD_ARGS, timeout)
        details = printed_details(fwd)
        expected_out, ref_cache = _ref_forward(*inputs, case.eps_value)
        if not problem:
            out, problem = _forward_output(fwd.value, (m, n), FORWARD)
            if not problem and not close(out, expected_out):
                problem, details = "its output differs from the expected one", []
        if problem:
            return failed(
                BACKWARD,
                k,
                case.label,
                f"batchnorm_forward must work first ({problem}): run "
                "checks.check_batchnorm_forward on it",
                *details,
            )
        # 2. The learner's backward on the learner's own cache.
        args = (forward_fn, backward_fn, *inputs, case.kwargs, case.dout)
        names = ("forward_fn", "backward_fn", "z", "gamma", "beta", "kwargs", "dout")
        bwd = call_safely(_run_forward_backward, *args, timeout=timeout)
        problem = outcome_problem(bwd, names, timeout)
        if problem:
            return failed(BACKWARD, k, case.label, problem, *printed_details(bwd))
        grads, why = _grad_arrays(bwd.value, m, n)
        if why:
            return failed(BACKWARD, k, case.label, _nan_hint(case, why), *printed_details(bwd))
        # 3. Numerical gradients of the learner's forward (in a child too: it is their code).
        num = call_safely(
            _numerical, forward_fn, *inputs, case.kwargs, case.dout, timeout=timeout * 4
        )
        if not num.ok or num.value is None:
            return failed(
                BACKWARD, k, case.label, "batchnorm_forward failed under finite differences"
            )
        fd_errors = [relative_error(g, nv) for g, nv in zip(grads, num.value, strict=True)]
        expected = _ref_backward(case.dout, ref_cache)
        if close(grads, list(expected)) and max(fd_errors) < FD_TOLERANCE:
            continue
        fd_note = (
            "relative error vs finite differences of your forward: "
            + ", ".join(
                f"{w} {e:.1e}" for w, e in zip(("dz", "dgamma", "dbeta"), fd_errors, strict=True)
            )
            + f" (a correct backward gives < {FD_TOLERANCE:.0e})"
        )
        mistake = matching_mistake(grads, mistakes, (*inputs, case.eps_value, case.dout))
        if mistake is not None:
            return failed(BACKWARD, k, case.label, mistake.hint, fd_note, more=mistake.more)
        for g, e, what in zip(grads, expected, ("dz", "dgamma", "dbeta"), strict=True):
            if not close(g, e):
                extra = " (it is zero everywhere)" if not np.any(g) else ""
                return failed(
                    BACKWARD,
                    k,
                    case.label,
                    f"{what} differs from the expected gradient{extra}",
                    first_difference(g, np.asarray(e, dtype=float)),
                    fd_note,
                )
        return failed(
            BACKWARD,
            k,
            case.label,
            "the gradients match the course's but not the finite differences of your forward",
            fd_note,
        )
    return passed(BACKWARD, len(cases))
