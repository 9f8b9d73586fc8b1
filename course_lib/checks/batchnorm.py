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
from ..gradcheck import (
    BUG_ABOVE,
    CORRECT_BELOW,
    describe_error,
    numerical_gradients,
    relative_error,
    verdict,
)
from ._core import (
    BUDGET_FACTOR,
    DEFAULT_TIMEOUT,
    DIFFERS_MORE,
    Advice,
    CheckResult,
    Mistake,
    call_safely,
    close,
    describe_value,
    failed,
    first_difference,
    learner_parameters,
    matching_mistake,
    outcome_hint,
    outcome_problem,
    passed,
    printed_details,
    returned_none_hint,
    run_check,
    to_array,
)
from ._sandbox import note_returned

FORWARD = "batchnorm_forward"
BACKWARD = "batchnorm_backward"
# The gradient check reads the relative error with the lesson's yardstick
# (course_lib.gradcheck: below 1e-7 correct, above 1e-4 a bug). On the cases below a
# correct backward gives 5e-9 at most, every mistake in _backward_mistakes 4e-3 or more,
# a backward without ε 5e-6 to 1e-5 ("look closer").
FD_TOLERANCE = CORRECT_BELOW
# Names of the arguments of the child calls, for "modified its input ..." messages.
_FORWARD_ARGS = ("forward_fn", "z", "gamma", "beta", "eps")
_BACKWARD_ARGS = ("forward_fn", "backward_fn", "z", "gamma", "beta", "kwargs", "dout")
_NUMERICAL_ARGS = ("forward_fn", "z", "gamma", "beta", "kwargs", "dout")
ADVICE_FORWARD = Advice(
    shapes="z is (m, n), one row per example; gamma, beta, μ and σ² are (n,), one per feature",
    call="batchnorm_forward(z, gamma, beta, eps=...) and, once, batchnorm_forward(z, gamma, beta)",
)
ADVICE_BACKWARD = Advice(
    shapes="dout, x̂ and dz are (m, n); dγ, dβ and the sums over the batch (axis=0) are (n,)",
    call="batchnorm_backward(dout, cache), with the cache your batchnorm_forward returned",
)


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

    x_hat = "x̂ = (z − μ)/√(σ² + ε) with μ and σ² = (1/m) Σ (z − μ)² per feature (axis=0)"
    return [
        Mistake(
            "ε is outside the square root: it must be added to the variance, before the "
            "root is taken",
            eps_outside,
            f"divide by √(σ² + ε), not by √σ² + ε: {x_hat}",
        ),
        Mistake(
            "the default of eps was changed: called without eps, the function must use "
            "1e-5, as the exercise's def line says",
            default_eps_changed,
            "keep the def line as given: def batchnorm_forward(z, gamma, beta, eps=1e-5)",
        ),
        Mistake(
            "ε is missing: the denominator must include it, so that a constant feature "
            "(variance 0) does not divide 0 by 0",
            no_eps,
            x_hat,
        ),
        Mistake(
            "you used the unbiased variance (dividing by m − 1): Batch Norm normalizes each "
            "batch with its own variance, dividing by m",
            unbiased,
            "σ² = (1/m) Σ_i (z_i − μ)², which is np.var's default (ddof=0)",
        ),
        Mistake(
            "statistics over the wrong axis: you averaged over the features of each "
            "example, which is Layer Normalization. Batch Norm averages over the examples "
            "of the batch: one μ and one σ² per feature",
            layer_norm,
            "axis=0 runs over the rows (the examples): μ and σ² have shape (n,)",
        ),
        Mistake(
            "statistics over the wrong axis: you took one μ per example (and, for a square "
            "batch, numpy silently lined it up with the features). Batch Norm averages "
            "over the examples: one μ and one σ² per feature",
            layer_norm_no_keepdims,
            "axis=0 runs over the rows (the examples): μ and σ² have shape (n,)",
        ),
        Mistake(
            "μ and σ² were computed over the whole batch at once: Batch Norm keeps one μ "
            "and one σ² per feature, each over the examples",
            whole_array,
            "pass axis=0 to the mean and the variance: shape (n,)",
        ),
        Mistake(
            "γ and β are swapped: γ scales the normalized value and β shifts it",
            swapped,
            "out = z̃ = γ·x̂ + β: γ multiplies x̂, β is added",
        ),
        Mistake(
            "you returned the normalized value x̂: the last step scales it by γ and shifts it by β",
            no_scale_shift,
            "out = z̃ = γ·x̂ + β",
        ),
        Mistake(
            "you divided by the variance (plus ε) instead of the standard deviation (the "
            "notes' slip from lesson 01): the denominator is a square root",
            by_variance,
            x_hat,
        ),
        Mistake(
            "the mean was not subtracted: normalizing first centres each feature on its batch mean",
            not_centred,
            x_hat,
        ),
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

    boxed = (
        "the boxed formula: dz_i = γ/√(σ² + ε)·(dz̃_i − dβ/m − x̂_i·dγ/m), "
        "with dβ = Σ_i dz̃_i, dγ = Σ_i dz̃_i·x̂_i and dz̃ = dout"
    )
    return [
        Mistake(
            "the mean path is missing: μ depends on every z_i of the batch, so each z_i "
            "also reaches the loss through μ. Walk node (1) of the graph back: dμ is a sum "
            "over the batch, and each dz_i receives its share dμ/m",
            no_mean_term,
            f"the mean path adds −γ/√(σ² + ε)·dβ/m to every dz_i: {boxed}",
        ),
        Mistake(
            "the variance path is missing: σ² depends on every z_i of the batch, so each z_i "
            "also reaches the loss through σ². Walk nodes (6) to (3) back: dσ² is a sum over "
            "the batch, and node (3) sends it to each z_i in proportion to z_i − μ",
            no_var_term,
            f"the variance path adds −γ/√(σ² + ε)·x̂_i·dγ/m to dz_i: {boxed}",
        ),
        Mistake(
            "μ and σ² were treated as constants: both depend on every z_i of the batch, so "
            "dz_i has three parts, the direct one and one through each statistic. Derive the "
            "mean path (node 1) and the variance path (nodes 3 to 6) on the graph",
            constants,
            f"the direct part is γ/√(σ² + ε)·dz̃_i; the two paths subtract dβ/m and "
            f"x̂_i·dγ/m inside the bracket: {boxed}",
        ),
        Mistake(
            "dγ and dβ are swapped: β is added to every output, so its gradient is the plain "
            "sum of dz̃ over the batch; γ multiplies x̂, so its gradient weighs dz̃ by x̂",
            swapped,
            "dβ = Σ_i dz̃_i and dγ = Σ_i dz̃_i·x̂_i, sums over the batch (axis=0)",
        ),
        Mistake(
            "γ is missing from dz: the output is γ·x̂ + β, so the gradient that reaches x̂ "
            "is dz̃ scaled by γ",
            no_gamma,
            f"dx̂_i = γ·dz̃_i: {boxed}",
        ),
        Mistake(
            "dz is m times too large: μ and σ² are averages over the batch, so the paths "
            "through them carry a factor 1/m",
            no_one_over_m,
            boxed,
        ),
        Mistake(
            "sign error in the variance path: a larger σ² makes every x̂_i smaller in size, "
            "so that path enters dz with a minus sign",
            var_sign,
            f"… − x̂_i·dγ/m inside the bracket: {boxed}",
        ),
        Mistake(
            "ε is missing in the backward pass: the forward divided by √(σ² + ε), so the "
            "backward must use that same number, not 1/σ (keep it in the cache)",
            no_eps,
            f"store 1/√(σ² + ε) in the cache and use it: {boxed}",
        ),
        Mistake(
            "dγ weighs dz̃ by the wrong array: γ multiplies the normalized value x̂, not the input z",
            dgamma_with_z,
            "dγ = Σ_i dz̃_i·x̂_i",
        ),
        Mistake(
            "dγ weighs dz̃ by the output z̃: γ multiplies the normalized value x̂, before β is added",
            dgamma_with_out,
            "dγ = Σ_i dz̃_i·x̂_i",
        ),
        Mistake(
            "dγ and dβ are averages over the batch: every example uses γ and β, so their "
            "gradients add up over the batch (sums, not means)",
            mean_not_sum,
            "dβ = Σ_i dz̃_i and dγ = Σ_i dz̃_i·x̂_i, sums over axis=0",
        ),
    ]


# ------------------------------------------------------------------ helpers
def _call_forward(forward_fn, z, gamma, beta, kwargs):
    """Run in the child: the learner's forward, keeping only ``out`` of (out, cache).

    Returns (True, out) for a pair, else (False, the value itself): the cache (which may
    hold anything) stays in the child."""
    value = forward_fn(z, gamma, beta, **kwargs)
    note_returned(value)
    if isinstance(value, tuple | list) and len(value) == 2:
        return True, value[0]
    return False, value


def _forward_output(returned: Any, shape: tuple[int, int], who: str) -> tuple[Any, str | None]:
    """The ``out`` of a forward's return value (out, cache), or why there is none."""
    if type(returned) is not tuple or len(returned) != 2 or type(returned[0]) is not bool:
        return None, f"{who} returned an object that is not a pair (out, cache)"
    pair, value = returned
    if pair:
        return to_array(value, shape, "out", advice=ADVICE_FORWARD)
    if value is None:
        return None, returned_none_hint(("out", "cache"))
    if type(value) is np.ndarray:
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
        arr, why = to_array(v, shape, what, advice=ADVICE_BACKWARD)
        if why:
            return None, why
        arrays.append(arr)
    return arrays, None


def _run_forward_backward(forward_fn, backward_fn, z, gamma, beta, kwargs, dout):
    """Run in the child: the learner's backward on the learner's own cache."""
    _, cache = forward_fn(z, gamma, beta, **kwargs)
    grads = backward_fn(dout, cache)
    note_returned(grads)
    return grads


def _numerical(forward_fn, z, gamma, beta, kwargs, dout):
    """Run in the child: central differences of the learner's forward."""

    def f(z_, g_, b_):
        return np.asarray(forward_fn(z_, g_, b_, **kwargs)[0], dtype=np.float64)

    return numerical_gradients(f, (z, gamma, beta), dout)


def _nan_hint(case: _BNCase, why: str) -> str:
    if case.constant_feature and "NaN" in why:
        return (
            "a constant feature (every example equal, σ² = 0) gave NaN or inf: 0/0. With ε "
            "added to the variance inside the square root, the denominator is never 0"
        )
    return why


def _fd_note(errors: list[float]) -> str:
    """The gradient check of the learner's backward, in the lesson's words and yardstick."""
    said = "; ".join(
        f"{name} {describe_error(e)}" for name, e in zip(("dz", "dγ", "dβ"), errors, strict=True)
    )
    return (
        f"gradient check against central differences of your forward (relative error): "
        f"{said} (below {CORRECT_BELOW:.0e}: correct; above {BUG_ABOVE:.0e}: a bug)"
    )


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
    params = ("forward_fn", *learner_parameters(fn))
    for k, case in enumerate(cases):
        call = (fn, case.z, case.gamma, case.beta, case.kwargs)
        outcome = call_safely(_call_forward, *call, timeout=timeout)
        problem = outcome_hint(outcome, _FORWARD_ARGS, timeout, ADVICE_FORWARD, params)
        if problem:
            hint, more = problem
            return failed(FORWARD, k, case.label, hint, *printed_details(outcome), more=more)
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
            more=DIFFERS_MORE,
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
    fwd_params, bwd_params = learner_parameters(forward_fn), learner_parameters(backward_fn)
    fwd_forward_params = ("forward_fn", *fwd_params)
    # the learner's names of z, gamma, beta and dout, at their places in _BACKWARD_ARGS
    params = _BACKWARD_ARGS
    if len(fwd_params) >= 3 and bwd_params:
        params = ("forward_fn", "backward_fn", *fwd_params[:3], "kwargs", bwd_params[0])
    for k, case in enumerate(cases):
        m, n = case.z.shape
        inputs = (case.z, case.gamma, case.beta)
        # 1. The learner's forward must be right first: its cache feeds the backward.
        fwd = call_safely(_call_forward, forward_fn, *inputs, case.kwargs, timeout=timeout)
        problem = outcome_hint(fwd, _FORWARD_ARGS, timeout, ADVICE_FORWARD, fwd_forward_params)
        problem = problem[0] if problem else None  # level 1 only: said in brackets below
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
        bwd = call_safely(_run_forward_backward, *args, timeout=timeout)
        problem = outcome_hint(bwd, _BACKWARD_ARGS, timeout, ADVICE_BACKWARD, params)
        if problem:
            hint, more = problem
            return failed(BACKWARD, k, case.label, hint, *printed_details(bwd), more=more)
        grads, why = _grad_arrays(bwd.value, m, n)
        if why:
            return failed(BACKWARD, k, case.label, _nan_hint(case, why), *printed_details(bwd))
        # 3. Numerical gradients of the learner's forward (in a child too: it is their code).
        num = call_safely(
            _numerical, forward_fn, *inputs, case.kwargs, case.dout, timeout=timeout * 4
        )
        if not num.ok or num.value is None:
            why = outcome_problem(num, _NUMERICAL_ARGS, timeout * 4) or "it returned nothing"
            return failed(
                BACKWARD,
                k,
                case.label,
                "your batchnorm_forward failed while the checker computed finite differences "
                f"of it (it calls the forward twice per entry of z, γ and β): {why}",
            )
        fd_errors = [relative_error(g, nv) for g, nv in zip(grads, num.value, strict=True)]
        expected = _ref_backward(case.dout, ref_cache)
        if close(grads, list(expected)) and all(verdict(e) == "correct" for e in fd_errors):
            continue
        fd_note = _fd_note(fd_errors)
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
