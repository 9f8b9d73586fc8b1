"""Checkers for lesson 05: ``update_running_stats`` and ``batchnorm_inference``.

Each runs the learner's function on a few cases against the course_lib reference
and, when a case fails, tries the typical mistakes of this lesson so that the
hint names the mistake. They never raise (see ``_core``).
"""

from __future__ import annotations

import numpy as np

from ..batchnorm import batchnorm_inference as _ref_inference
from ..batchnorm import update_running_stats as _ref_update
from ._core import DEFAULT_TIMEOUT, Advice, Case, CheckResult, Mistake, check_against_reference

ADVICE_UPDATE = Advice(
    shapes="z is (m, n), one row per example; running_mean, running_var and the batch "
    "statistics are (n,), one per unit",
)
ADVICE_INFERENCE = Advice(
    shapes="z is (m, n), one row per example; gamma, beta, running_mean and running_var "
    "are (n,), one per unit",
)

# ------------------------------------------------------------------ update_running_stats

_UPDATE_ARGS = ("running_mean", "running_var", "z")


def _ddof(unbiased: bool) -> int:
    return 1 if unbiased else 0


def _ewa(old, new, beta):
    return beta * old + (1.0 - beta) * new


def _update_mistakes() -> list[Mistake]:
    def beta_on_new(rm, rv, z, beta=0.9, unbiased=True):
        return (
            _ewa(rm, z.mean(0), 1.0 - beta),
            _ewa(rv, z.var(0, ddof=_ddof(unbiased)), 1.0 - beta),
        )

    def biased_when_unbiased(rm, rv, z, beta=0.9, unbiased=True):
        return _ewa(rm, z.mean(0), beta), _ewa(rv, z.var(0), beta)

    def unbiased_when_biased(rm, rv, z, beta=0.9, unbiased=True):
        return _ewa(rm, z.mean(0), beta), _ewa(rv, z.var(0, ddof=1), beta)

    def sigma_not_var(rm, rv, z, beta=0.9, unbiased=True):
        return _ewa(rm, z.mean(0), beta), _ewa(rv, z.std(0, ddof=_ddof(unbiased)), beta)

    def no_average(rm, rv, z, beta=0.9, unbiased=True):
        return z.mean(0), z.var(0, ddof=_ddof(unbiased))

    def swapped(rm, rv, z, beta=0.9, unbiased=True):
        mean, var = _ref_update(rm, rv, z, beta=beta, unbiased=unbiased)
        return var, mean

    def about_running_mean(rm, rv, z, beta=0.9, unbiased=True):
        m = z.shape[0]
        var = ((z - rm) ** 2).sum(0) / (m - _ddof(unbiased))
        return _ewa(rm, z.mean(0), beta), _ewa(rv, var, beta)

    def about_new_running_mean(rm, rv, z, beta=0.9, unbiased=True):
        new_mean = _ewa(rm, z.mean(0), beta)
        m = z.shape[0]
        var = ((z - new_mean) ** 2).sum(0) / (m - _ddof(unbiased))
        return new_mean, _ewa(rv, var, beta)

    def no_one_minus_beta(rm, rv, z, beta=0.9, unbiased=True):
        return beta * rm + z.mean(0), beta * rv + z.var(0, ddof=_ddof(unbiased))

    def beta_fixed(rm, rv, z, beta=0.9, unbiased=True):
        return _ref_update(rm, rv, z, beta=0.9, unbiased=unbiased)

    ewa = "running = β·running + (1 − β)·batch_statistic, for the mean and the variance"
    return [
        Mistake(
            "you gave the weight β to the new batch statistic. In this course β is the "
            "weight of the old running value, its memory; the new batch statistic gets the "
            "small weight 1 − β",
            beta_on_new,
            f"{ewa}. (PyTorch's momentum = 1 − β is the weight of the new value; Keras's "
            "momentum is β.)",
        ),
        Mistake(
            "with unbiased=True, store the unbiased batch variance (dividing by m − 1), which "
            "estimates the variance of the whole population; you stored the batch's own "
            "variance (dividing by m)",
            biased_when_unbiased,
            "the unbiased variance is m/(m − 1)·σ²_B: z.var(axis=0, ddof=1)",
        ),
        Mistake(
            "with unbiased=False, store the batch's own variance (dividing by m, as Keras "
            "does); you stored the unbiased one (dividing by m − 1). Let the unbiased "
            "argument choose",
            unbiased_when_biased,
            "ddof = 1 when unbiased is True, else 0",
        ),
        Mistake(
            "you stored the standard deviation σ: the running variance must store the "
            "variance σ², its square",
            sigma_not_var,
            "average z.var over the batches, not z.std",
        ),
        Mistake(
            "you returned this batch's statistics alone: the running values average them "
            "with the old running values, so that they remember earlier batches",
            no_average,
            ewa,
        ),
        Mistake(
            "the outputs are swapped: return the running mean first, then the running variance",
            swapped,
            "the function returns (running_mean, running_var), in this order",
        ),
        Mistake(
            "the batch variance was measured around the running mean: measure it around "
            "this batch's own mean",
            about_running_mean,
            "z.var(axis=0, ...) centres on the batch mean z.mean(axis=0) by itself",
        ),
        Mistake(
            "the batch variance was measured around the just-updated running mean: measure "
            "it around this batch's own mean",
            about_new_running_mean,
            "z.var(axis=0, ...) centres on the batch mean z.mean(axis=0) by itself",
        ),
        Mistake(
            "the new value's weight 1 − β is missing: the two weights must add up to 1, or "
            "the running values grow from batch to batch",
            no_one_minus_beta,
            ewa,
        ),
        Mistake(
            "the beta argument was ignored: the function must use the β it is given (0.9 "
            "only when none is passed)",
            beta_fixed,
            f"use beta, not a fixed 0.9: {ewa}",
        ),
    ]


def _update_cases() -> list[Case]:
    rng = np.random.default_rng(50)

    def batch(m, n, loc=2.0, scale=1.5):
        return rng.normal(loc, scale, size=(m, n))

    rm, rv = rng.normal(0.0, 1.0, 4), rng.uniform(0.5, 2.0, 4)
    return [
        Case(
            "the first update from the start values (mean 0, var 1), 6 examples × 3 units, "
            "default beta and unbiased",
            (np.zeros(3), np.ones(3), batch(6, 3)),
        ),
        Case(
            "running values already away from the start, beta=0.8, unbiased=True",
            (rm, rv, batch(5, 4, loc=-1.0)),
            {"beta": 0.8, "unbiased": True},
        ),
        Case(
            "a batch of 2 examples (m/(m−1) = 2), beta=0.9, unbiased=True",
            (rm, rv, batch(2, 4, scale=3.0)),
            {"beta": 0.9, "unbiased": True},
        ),
        Case(
            "the Keras convention: beta=0.99, unbiased=False",
            (rm, rv, batch(4, 4, loc=5.0, scale=2.0)),
            {"beta": 0.99, "unbiased": False},
        ),
        Case(
            "beta=0 (no memory: the batch statistics themselves), unbiased=False",
            (rm, rv, batch(3, 4)),
            {"beta": 0.0, "unbiased": False},
        ),
    ]


def check_update_running_stats(fn, *, timeout: float = DEFAULT_TIMEOUT) -> CheckResult:
    """Check ``fn(running_mean, running_var, z, beta=0.9, unbiased=True)``.

    It must return the new (running_mean, running_var), each (n,), from
    running = beta * running + (1 - beta) * batch_statistic with the unbiased
    (ddof=1) or biased (ddof=0) batch variance, without modifying its inputs.
    """
    return check_against_reference(
        "update_running_stats",
        fn,
        _update_cases(),
        _ref_update,
        _update_mistakes(),
        output_names=("running_mean", "running_var"),
        arg_names=_UPDATE_ARGS,
        timeout=timeout,
        advice=ADVICE_UPDATE,
    )


# ------------------------------------------------------------------ batchnorm_inference

_INFERENCE_ARGS = ("z", "gamma", "beta", "running_mean", "running_var")


def _inference_mistakes() -> list[Mistake]:
    def batch_stats(z, gamma, beta, rm, rv, eps=1e-5):
        return gamma * (z - z.mean(0)) / np.sqrt(z.var(0) + eps) + beta

    def no_eps(z, gamma, beta, rm, rv, eps=1e-5):
        return gamma * (z - rm) / np.sqrt(rv) + beta

    def eps_outside(z, gamma, beta, rm, rv, eps=1e-5):
        return gamma * (z - rm) / (np.sqrt(rv) + eps) + beta

    def eps_fixed(z, gamma, beta, rm, rv, eps=1e-5):
        return gamma * (z - rm) / np.sqrt(rv + 1e-5) + beta

    def by_variance(z, gamma, beta, rm, rv, eps=1e-5):
        return gamma * (z - rm) / (rv + eps) + beta

    def var_as_sigma_squared(z, gamma, beta, rm, rv, eps=1e-5):
        return gamma * (z - rm) / np.sqrt(rv**2 + eps) + beta

    def swapped_gamma_beta(z, gamma, beta, rm, rv, eps=1e-5):
        return beta * (z - rm) / np.sqrt(rv + eps) + gamma

    def no_scale_shift(z, gamma, beta, rm, rv, eps=1e-5):
        return (z - rm) / np.sqrt(rv + eps)

    def not_centred(z, gamma, beta, rm, rv, eps=1e-5):
        return gamma * z / np.sqrt(rv + eps) + beta

    formula = (
        "out = γ·x̂ + β with x̂ = (z − running_mean)/√(running_var + ε), the same for every example"
    )
    return [
        Mistake(
            "you normalized with the mean and variance of z itself: at test time use the "
            "running statistics passed in. With the batch's own statistics a prediction "
            "depends on the other examples in the batch, and a single example always gives β",
            batch_stats,
            formula,
        ),
        Mistake(
            "ε is missing: the denominator must include it, as in training (a running "
            "variance of 0 would divide by 0)",
            no_eps,
            formula,
        ),
        Mistake(
            "ε is outside the square root: add it to the running variance, then take the root",
            eps_outside,
            f"√(running_var + ε), not √running_var + ε: {formula}",
        ),
        Mistake(
            "the eps argument was ignored: use the ε the function is given",
            eps_fixed,
            f"use eps, not a fixed 1e-5: {formula}",
        ),
        Mistake(
            "you divided by the variance: the denominator is the standard deviation, a square root",
            by_variance,
            formula,
        ),
        Mistake(
            "running_var already holds σ² (the variance): squaring it again gives σ⁴",
            var_as_sigma_squared,
            formula,
        ),
        Mistake(
            "γ and β are swapped: γ scales the normalized value, β shifts it",
            swapped_gamma_beta,
            formula,
        ),
        Mistake(
            "you returned the normalized value: scale it by γ and shift it by β, as in training",
            no_scale_shift,
            formula,
        ),
        Mistake(
            "the running mean was not subtracted: normalizing first centres each unit",
            not_centred,
            formula,
        ),
    ]


def _inference_cases() -> list[Case]:
    rng = np.random.default_rng(51)

    def params(n):
        return rng.uniform(0.5, 2.0, n), rng.normal(0.0, 1.0, n)

    g3, b3 = params(3)
    g2, b2 = params(2)
    return [
        Case(
            "4 examples × 3 units, running statistics unlike the batch's, default eps",
            (rng.normal(1.0, 2.0, (4, 3)), g3, b3, rng.normal(0.0, 0.5, 3), rng.uniform(0.5, 3, 3)),
        ),
        Case(
            "a single example (m = 1), default eps",
            (rng.normal(1.0, 2.0, (1, 3)), g3, b3, rng.normal(0.0, 0.5, 3), rng.uniform(0.5, 3, 3)),
        ),
        Case(
            "eps=0.1 with small running variances",
            (rng.normal(0.0, 1.0, (5, 2)), g2, b2, rng.normal(0.0, 0.5, 2), np.array([0.02, 0.3])),
            {"eps": 0.1},
        ),
        Case(
            "6 examples × 2 units, a running variance of 0 (a unit that never varied)",
            (rng.normal(0.0, 1.0, (6, 2)), g2, b2, np.array([0.5, -0.5]), np.array([0.0, 4.0])),
            {"eps": 1e-3},
        ),
    ]


def check_batchnorm_inference(fn, *, timeout: float = DEFAULT_TIMEOUT) -> CheckResult:
    """Check ``fn(z, gamma, beta, running_mean, running_var, eps=1e-5)``.

    It must return gamma * (z - running_mean) / sqrt(running_var + eps) + beta,
    shape (m, n), for any m >= 1, without modifying its inputs.
    """
    return check_against_reference(
        "batchnorm_inference",
        fn,
        _inference_cases(),
        _ref_inference,
        _inference_mistakes(),
        output_names=("out",),
        arg_names=_INFERENCE_ARGS,
        timeout=timeout,
        advice=ADVICE_INFERENCE,
    )
