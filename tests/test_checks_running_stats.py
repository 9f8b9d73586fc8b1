"""The lesson-05 checkers: correct code passes, each typical mistake gets its own hint.
Whatever the learner's function does, the checker returns a result and never raises:
see tests/test_checks_hostile.py.

The wrong functions below are written the way a learner would write them, not
taken from the checker's list of mistakes.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from course_lib import checks
from course_lib.batchnorm import batchnorm_inference, update_running_stats

TIMEOUT = 1.0  # seconds; the correct functions take milliseconds


def check_update(fn):
    return checks.check_update_running_stats(fn, timeout=TIMEOUT)


def check_inference(fn):
    return checks.check_batchnorm_inference(fn, timeout=TIMEOUT)


# Each typical mistake is checked once; its hint is asserted, then compared with the others'.
checked_update = functools.cache(check_update)
checked_inference = functools.cache(check_inference)


# ------------------------------------------------------------------ correct solutions
def test_references_pass():
    assert check_update(update_running_stats)
    assert check_inference(batchnorm_inference)


def test_other_correct_styles_pass():
    def update_loops(running_mean, running_var, z, beta=0.9, unbiased=True):
        m = z.shape[0]
        mu = np.sum(z, axis=0) / m
        var = np.sum((z - mu) ** 2, axis=0) / (m - 1 if unbiased else m)
        rm = running_mean.copy()
        rm *= beta
        rm += (1 - beta) * mu
        return rm, beta * running_var + (1 - beta) * var

    def inference_explicit(z, gamma, beta, running_mean, running_var, eps=1e-5):
        z_norm = (z - running_mean) / np.sqrt(running_var + eps)
        return gamma * z_norm + beta

    r1, r2 = check_update(update_loops), check_inference(inference_explicit)
    assert r1, str(r1)
    assert r2, str(r2)
    assert "passed" in str(r1) and r1.cases_run >= 5


# ------------------------------------------------------------------ update_running_stats mistakes
def beta_on_new_value(running_mean, running_var, z, beta=0.9, unbiased=True):
    var = z.var(axis=0, ddof=1 if unbiased else 0)
    return beta * z.mean(axis=0) + (1 - beta) * running_mean, beta * var + (1 - beta) * running_var


def always_biased(running_mean, running_var, z, beta=0.9, unbiased=True):
    return (
        beta * running_mean + (1 - beta) * np.mean(z, axis=0),
        beta * running_var + (1 - beta) * np.var(z, axis=0),
    )


def always_unbiased(running_mean, running_var, z, beta=0.9, unbiased=True):
    return (
        beta * running_mean + (1 - beta) * np.mean(z, axis=0),
        beta * running_var + (1 - beta) * np.var(z, axis=0, ddof=1),
    )


def stores_sigma(running_mean, running_var, z, beta=0.9, unbiased=True):
    sigma = z.std(axis=0, ddof=1 if unbiased else 0)
    return beta * running_mean + (1 - beta) * z.mean(0), beta * running_var + (1 - beta) * sigma


def no_averaging(running_mean, running_var, z, beta=0.9, unbiased=True):
    return z.mean(0), z.var(0, ddof=int(unbiased))


def swapped_outputs(running_mean, running_var, z, beta=0.9, unbiased=True):
    mean = beta * running_mean + (1 - beta) * z.mean(0)
    var = beta * running_var + (1 - beta) * z.var(0, ddof=int(unbiased))
    return var, mean


def variance_about_running_mean(running_mean, running_var, z, beta=0.9, unbiased=True):
    m = z.shape[0]
    var = np.sum((z - running_mean) ** 2, axis=0) / (m - 1 if unbiased else m)
    return beta * running_mean + (1 - beta) * z.mean(0), beta * running_var + (1 - beta) * var


def forgets_one_minus_beta(running_mean, running_var, z, beta=0.9, unbiased=True):
    return beta * running_mean + z.mean(0), beta * running_var + z.var(0, ddof=int(unbiased))


def ignores_beta(running_mean, running_var, z, beta=0.9, unbiased=True):
    b = 0.9
    return b * running_mean + (1 - b) * z.mean(0), b * running_var + (1 - b) * z.var(
        0, ddof=int(unbiased)
    )


UPDATE_MISTAKES = [
    (beta_on_new_value, "β is the weight of the old running value"),
    (always_biased, "unbiased=True"),
    (always_unbiased, "unbiased=False"),
    (stores_sigma, "stored the standard deviation σ"),
    (no_averaging, "this batch's statistics alone"),
    (swapped_outputs, "swapped"),
    (variance_about_running_mean, "measured around the running mean"),
    (forgets_one_minus_beta, "weight 1 − β is missing"),
    (ignores_beta, "beta argument was ignored"),
]


@pytest.mark.parametrize(("fn", "words"), UPDATE_MISTAKES, ids=lambda x: getattr(x, "__name__", ""))
def test_update_mistake_gets_its_hint(fn, words):
    result = checked_update(fn)
    assert not result
    assert words in result.hint, result.hint


def test_update_hints_are_all_different():
    hints = [checked_update(fn).hint for fn, _ in UPDATE_MISTAKES]
    assert len(set(hints)) == len(hints)


# ------------------------------------------------------------------ batchnorm_inference mistakes
def batch_statistics(z, gamma, beta, running_mean, running_var, eps=1e-5):
    mu, var = z.mean(axis=0), z.var(axis=0)
    return gamma * (z - mu) / np.sqrt(var + eps) + beta


def eps_forgotten(z, gamma, beta, running_mean, running_var, eps=1e-5):
    return gamma * (z - running_mean) / np.sqrt(running_var) + beta


def eps_outside_sqrt(z, gamma, beta, running_mean, running_var, eps=1e-5):
    return gamma * (z - running_mean) / (np.sqrt(running_var) + eps) + beta


def eps_hard_coded(z, gamma, beta, running_mean, running_var, eps=1e-5):
    return gamma * (z - running_mean) / np.sqrt(running_var + 0.00001) + beta


def divides_by_variance(z, gamma, beta, running_mean, running_var, eps=1e-5):
    return gamma * (z - running_mean) / (running_var + eps) + beta


def squares_the_variance(z, gamma, beta, running_mean, running_var, eps=1e-5):
    sigma2 = running_var**2
    return gamma * (z - running_mean) / np.sqrt(sigma2 + eps) + beta


def gamma_beta_swapped(z, gamma, beta, running_mean, running_var, eps=1e-5):
    return beta * (z - running_mean) / np.sqrt(running_var + eps) + gamma


def no_scale_and_shift(z, gamma, beta, running_mean, running_var, eps=1e-5):
    return (z - running_mean) / np.sqrt(running_var + eps)


def mean_not_subtracted(z, gamma, beta, running_mean, running_var, eps=1e-5):
    return gamma * z / np.sqrt(running_var + eps) + beta


INFERENCE_MISTAKES = [
    (batch_statistics, "mean and variance of z itself"),
    (eps_forgotten, "ε is missing"),
    (eps_outside_sqrt, "outside the square root"),
    (eps_hard_coded, "eps argument was ignored"),
    (divides_by_variance, "divided by the variance"),
    (squares_the_variance, "squaring it again"),
    (gamma_beta_swapped, "γ scales"),
    (no_scale_and_shift, "scale it by γ and shift it by β"),
    (mean_not_subtracted, "running mean was not subtracted"),
]


@pytest.mark.parametrize(
    ("fn", "words"), INFERENCE_MISTAKES, ids=lambda x: getattr(x, "__name__", "")
)
def test_inference_mistake_gets_its_hint(fn, words):
    result = checked_inference(fn)
    assert not result
    assert words in result.hint, result.hint


def test_inference_hints_are_all_different():
    hints = [checked_inference(fn).hint for fn, _ in INFERENCE_MISTAKES]
    assert len(set(hints)) == len(hints)


def test_batch_statistics_on_one_example_is_caught_too():
    """A function that handles a batch of one specially still uses batch statistics."""

    def half_right(z, gamma, beta, running_mean, running_var, eps=1e-5):
        if z.shape[0] > 1:
            return batchnorm_inference(z, gamma, beta, running_mean, running_var, eps)
        return np.broadcast_to(beta, z.shape).copy()  # what batch statistics give for m = 1

    result = check_inference(half_right)
    assert not result and "single example" in result.hint and "m = 1" in result.case


def test_assert_ok():
    check_update(update_running_stats).assert_ok()
    with pytest.raises(AssertionError, match="Hint"):
        checked_inference(eps_forgotten).assert_ok()
