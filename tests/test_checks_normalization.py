"""The lesson-01 checkers: correct functions pass, every typical mistake is rejected
with a hint that names it, and the learner's function runs in a child process.
Hostile functions (raising, looping, exiting, ...): tests/test_checks_hostile.py."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

from course_lib.checks import CheckResult
from course_lib.checks.normalization import (
    check_fit_normalizer,
    check_fold_normalization,
    check_normalize,
)
from course_lib.normalization import fit_normalizer, fold_normalization, normalize


# --------------------------------------------------------------------------- correct code
def fit_plain(X):
    mu = X.mean(axis=0)
    sigma = X.std(axis=0)
    sigma = np.where(sigma == 0, 1.0, sigma)
    return mu, sigma


def fit_loops(X):
    m, n = X.shape
    mu = np.zeros(n)
    for j in range(n):
        mu[j] = sum(X[i, j] for i in range(m)) / m
    var = np.zeros(n)
    for j in range(n):
        var[j] = sum((X[i, j] - mu[j]) ** 2 for i in range(m)) / m
    sigma = np.sqrt(var)
    sigma[sigma == 0] = 1.0  # a new array of its own: fine to write into
    return mu, sigma


def fit_sklearn(X):
    s = StandardScaler().fit(X)
    return s.mean_, s.scale_


def normalize_plain(X, mu, sigma):
    return (X - mu) / sigma


def normalize_copy_then_inplace(X, mu, sigma):
    Z = X.copy()
    Z -= mu
    Z /= sigma
    return Z


@pytest.mark.parametrize("fn", [fit_normalizer, fit_plain, fit_loops, fit_sklearn])
def test_correct_fit_normalizer_passes(fn):
    result = check_fit_normalizer(fn)
    assert isinstance(result, CheckResult) and result, str(result)
    assert result.cases_run == 4
    assert result.assert_ok() is result
    assert "passed" in str(result) and "✔" in result._repr_html_()


@pytest.mark.parametrize("fn", [normalize, normalize_plain, normalize_copy_then_inplace])
def test_correct_normalize_passes(fn):
    result = check_normalize(fn)
    assert result, str(result)
    assert result.cases_run == 5


# --------------------------------------------------------------------------- typical mistakes
def _const1(sigma):
    return np.where(sigma == 0, 1.0, sigma)


def fit_ddof1(X):
    return X.mean(0), _const1(X.std(0, ddof=1))


def fit_variance(X):
    return X.mean(0), _const1(X.var(0))


def fit_uncentred(X):
    return X.mean(0), _const1(np.sqrt(np.mean(X**2, axis=0)))


def fit_wrong_axis(X):
    return X.mean(1), _const1(X.std(1))


def fit_wrong_axis_transposed(X):
    # the notes' column layout applied to row data: same shape only for square X
    return X.T.mean(0), _const1(X.T.std(0))


def fit_constant_left_zero(X):
    return X.mean(0), X.std(0)


def fit_swapped(X):
    return _const1(X.std(0)), X.mean(0)


def fit_range(X):
    return X.mean(0), _const1(X.max(0) - X.min(0))


def fit_whole_matrix(X):
    return X.mean(), X.std()


def fit_keepdims(X):
    return X.mean(0, keepdims=True), _const1(X.std(0, keepdims=True))


def fit_mutates(X):
    mu = X.mean(0)
    X -= mu  # centres the caller's data in place
    return mu, _const1(np.sqrt((X**2).mean(0)))


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (fit_ddof1, ["ddof=1"]),
        (fit_variance, ["variance σ²", "square root of the variance"]),
        (fit_uncentred, ["without centring"]),
        (fit_wrong_axis, ["wrong axis", "axis=0"]),
        (fit_wrong_axis_transposed, ["wrong axis", "axis=0"]),
        (fit_constant_left_zero, ["constant feature", "σ = 1"]),
        (fit_swapped, ["swapped"]),
        (fit_range, ["range", "min-max"]),
        (fit_whole_matrix, ["whole matrix", "axis=0"]),
        (fit_keepdims, ["keepdims"]),
        (fit_mutates, ["modified its input X"]),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_fit_normalizer_mistakes_are_named(fn, words):
    result = check_fit_normalizer(fn)
    assert not result
    for w in words:
        assert w in result.hint, result.hint
    with pytest.raises(AssertionError, match="Hint"):
        result.assert_ok()


def norm_sigma_squared(X, mu, sigma):
    return (X - mu) / sigma**2


def norm_own_statistics(X, mu, sigma):
    return (X - X.mean(0)) / X.std(0)


def norm_own_mean(X, mu, sigma):
    return (X - X.mean(0)) / sigma


def norm_precedence(X, mu, sigma):
    return X - mu / sigma


def norm_sqrt_sigma(X, mu, sigma):
    return (X - mu) / np.sqrt(sigma)


def norm_no_centring(X, mu, sigma):
    return X / sigma


def norm_no_scaling(X, mu, sigma):
    return X - mu


def norm_wrong_order(X, mu, sigma):
    return X / sigma - mu


def norm_multiplies(X, mu, sigma):
    return (X - mu) * sigma


def norm_args_swapped(X, mu, sigma):
    return (X - sigma) / mu


def norm_mutates(X, mu, sigma):
    X -= mu
    X /= sigma
    return X


def norm_mutates_sigma(X, mu, sigma):
    sigma *= 1.0 + (sigma > 0)  # doubles sigma in the caller's array
    return (X - mu) / (sigma / 2)


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (norm_sigma_squared, ["σ²", "notes' slip", "1/σ_j²"]),
        (norm_own_statistics, ["their own statistics", "training set's transformation"]),
        (norm_own_mean, ["their own statistics", "(the mean, here)"]),
        (norm_precedence, ["operator precedence", "only μ was divided by σ"]),
        (norm_sqrt_sigma, ["square root of sigma", "already is the standard deviation"]),
        (norm_no_centring, ["mean was not subtracted"]),
        (norm_no_scaling, ["centred but not scaled"]),
        (norm_wrong_order, ["wrong order", "Centre first, then scale"]),
        (norm_multiplies, ["multiplied by σ instead of dividing"]),
        (norm_args_swapped, ["each other's role"]),
        (norm_mutates, ["modified its input X"]),
        (norm_mutates_sigma, ["modified its input sigma"]),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_normalize_mistakes_are_named(fn, words):
    result = check_normalize(fn)
    assert not result
    for w in words:
        assert w in result.hint, result.hint
    if fn is norm_own_statistics:
        # It agrees on the training set (its own statistics are the right ones) and
        # is caught where the test set's statistics differ.
        assert result.cases_run == 1 and "test set" in result.case


def test_single_example_own_statistics_points_at_division_by_zero():
    """A normalize that only goes wrong for one example (its own σ = 0) is caught."""

    def own_only_for_singletons(X, mu, sigma):
        if len(X) == 1:
            return (X - X.mean(0)) / X.std(0)
        return (X - mu) / sigma

    result = check_normalize(own_only_for_singletons)
    assert not result and "single test example" in result.case
    assert "division by zero" in result.hint


# --------------------------------------------------------------------------- fold_normalization
def fold_plain(w, b, mu, sigma):
    w_raw = w / sigma
    return w_raw, b - mu @ w_raw


def fold_loops(w, b, mu, sigma):
    w_raw = [w[j] / sigma[j] for j in range(len(w))]
    b_raw = b
    for j in range(len(w)):
        b_raw -= w[j] * mu[j] / sigma[j]
    return np.array(w_raw), b_raw


def fold_by_predictions(w, b, mu, sigma):
    """Read the raw model off its predictions: at x = 0 and at the unit vectors."""
    n = len(w)
    points = np.vstack([np.zeros(n), np.eye(n)])
    z = (points - mu) / sigma @ w + b
    return z[1:] - z[0], z[0]


@pytest.mark.parametrize("fn", [fold_normalization, fold_plain, fold_loops, fold_by_predictions])
def test_correct_fold_normalization_passes(fn):
    result = check_fold_normalization(fn)
    assert result, str(result)
    assert result.cases_run == 4


def fold_w_times_sigma(w, b, mu, sigma):
    return w * sigma, b - (mu / sigma) @ w


def fold_w_unchanged(w, b, mu, sigma):
    return w, b - (mu / sigma) @ w


def fold_w_over_variance(w, b, mu, sigma):
    return w / sigma**2, b - (mu / sigma) @ w


def fold_b_unchanged(w, b, mu, sigma):
    return w / sigma, b


def fold_b_sign(w, b, mu, sigma):
    return w / sigma, b + (mu / sigma) @ w


def fold_b_without_sigma(w, b, mu, sigma):
    return w / sigma, b - mu @ w


def fold_b_sigma_twice(w, b, mu, sigma):
    w_raw = w / sigma
    return w_raw, b - (mu / sigma) @ w_raw


def fold_normalizes_weights(w, b, mu, sigma):
    return (w - mu) / sigma, b - (mu / sigma) @ w


def fold_b_per_feature(w, b, mu, sigma):
    return w / sigma, b - mu * w / sigma  # forgot to add the terms up


def fold_mutates(w, b, mu, sigma):
    w /= sigma
    return w, b - mu @ w


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (fold_w_times_sigma, ["multiplied by σ"]),
        (fold_w_unchanged, ["w_raw is w itself"]),
        (fold_w_over_variance, ["σ²"]),
        (fold_b_unchanged, ["b_raw is still b", "bias"]),
        (fold_b_sign, ["wrong way"]),
        (fold_b_without_sigma, ["without dividing by σ"]),
        (fold_b_sigma_twice, ["twice"]),
        (fold_normalizes_weights, ["normalized like inputs"]),
        (fold_b_per_feature, ["b_raw has shape (2,)"]),
        (fold_mutates, ["modified its input w"]),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_fold_normalization_mistakes_are_named(fn, words):
    result = check_fold_normalization(fn)
    assert not result
    for w in words:
        assert w in result.hint, result.hint
    first = str(result)
    for line in ("w / sigma", "mu @ w", "(mu / sigma)"):  # no line of a solution at level 1
        assert line not in first, first


def test_fold_normalization_second_level_gives_the_formula():
    result = check_fold_normalization(fold_b_unchanged)
    assert "b − Σ_j w_j μ_j / σ_j" in str(result.more())
    assert "b − Σ_j w_j μ_j / σ_j" not in str(result)


# --------------------------------------------------------------------------- the caller's process
def test_checker_leaves_the_callers_process_alone():
    """The learner's function runs in a child process: its side effects stay there."""
    state = {"calls": 0}

    def counts(X):
        state["calls"] += 1
        return fit_plain(X)

    assert check_fit_normalizer(counts)
    assert state["calls"] == 0
