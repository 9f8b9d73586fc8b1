"""Checkers for lesson 01: ``check_fit_normalizer(fn)``, ``check_normalize(fn)`` and
``check_fold_normalization(fn)``.

Each runs the learner's function on a few cases (a small hand-made set, a
tall training set, a square one where the wrong axis still gives the right
shape, a constant feature, a test set whose statistics differ from the
training set's, a single example; for the folding, weights on features of very
different scales) and compares with ``course_lib.normalization``.
When a result is wrong it tries the typical mistakes below and names the one
that reproduces it.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..normalization import (
    ConstantFeatureWarning,
    fit_normalizer,
    fold_normalization,
    normalize,
)
from ._core import DEFAULT_TIMEOUT, Case, CheckResult, Mistake, check_against_reference

__all__ = ["check_fit_normalizer", "check_normalize", "check_fold_normalization"]


def _reference(fn):
    """The reference without its constant-feature warning (the learner needn't see it),
    for building the cases (outside the checker, which silences warnings itself)."""

    def quiet(*args):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConstantFeatureWarning)
            return fn(*args)

    return quiet


def _cases_data() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2024)
    # Exactly representable values: the constant column's std is exactly 0, so a
    # learner's `sigma == 0` test finds it.
    small = np.array([[1.0, 10.0], [2.0, 30.0], [4.0, 20.0], [5.0, 60.0]])
    tall = rng.normal([5.0, -2.0, 100.0], [2.0, 0.5, 30.0], size=(40, 3))
    square = rng.normal([3.0, -1.0, 8.0], [1.0, 4.0, 0.3], size=(3, 3))
    constant = np.column_stack([rng.normal(2.0, 3.0, 12), np.full(12, 4.0), rng.normal(-5, 1, 12)])
    return {"small": small, "tall": tall, "square": square, "constant": constant}


# --------------------------------------------------------------------------- fit_normalizer
def _fit_mistakes() -> list[Mistake]:
    def with_constant_rule(mu, sigma):
        return mu, np.where(sigma == 0, 1.0, sigma)

    return [
        Mistake(
            "sigma uses ddof=1 (divides by m - 1): the course, like the notes, divides by m "
            "(np.std's default ddof=0)",
            lambda X: with_constant_rule(X.mean(0), X.std(0, ddof=1)),
        ),
        Mistake(
            "you returned the variance σ² instead of the standard deviation σ: take the "
            "square root (normalizing then divides by σ, not by σ² as the notes wrongly say)",
            lambda X: with_constant_rule(X.mean(0), X.var(0)),
        ),
        Mistake(
            "sigma was computed without centring first: σ = sqrt(mean(X²)) is the spread "
            "around 0, not around μ; use sqrt(mean((X - μ)²)) (or X.std(axis=0))",
            lambda X: with_constant_rule(X.mean(0), np.sqrt((X**2).mean(0))),
        ),
        Mistake(
            "statistics over the wrong axis: rows are examples, so average over them "
            "with axis=0 (one μ and one σ per feature, i.e. per column)",
            lambda X: with_constant_rule(X.mean(1), X.std(1)),
        ),
        Mistake(
            "μ and σ are swapped: return (mu, sigma) in this order",
            lambda X: with_constant_rule(X.mean(0), X.std(0))[::-1],
        ),
        Mistake(
            "a constant feature kept σ = 0: normalizing would divide by zero; give it "
            "σ = 1 (e.g. np.where(sigma == 0, 1.0, sigma)), as scikit-learn does",
            lambda X: (X.mean(0), X.std(0)),
        ),
        Mistake(
            "σ is the range max - min (min-max scaling), not the standard deviation",
            lambda X: with_constant_rule(X.mean(0), X.max(0) - X.min(0)),
        ),
        Mistake(
            "one μ and σ for the whole matrix: compute them per feature with axis=0",
            lambda X: with_constant_rule(
                np.full(X.shape[1], X.mean()), np.full(X.shape[1], X.std())
            ),
        ),
    ]


def fit_normalizer_cases() -> list[Case]:
    d = _cases_data()
    return [
        Case("a small training set X of shape (4, 2)", (d["small"],)),
        Case("a training set X of shape (40, 3) with very different feature scales", (d["tall"],)),
        Case("a square training set X of shape (3, 3)", (d["square"],)),
        Case("X of shape (12, 3) whose 2nd feature is constant (all 4.0)", (d["constant"],)),
    ]


def check_fit_normalizer(fn, *, timeout: float = DEFAULT_TIMEOUT) -> CheckResult:
    """Check ``fn(X) -> (mu, sigma)`` against ``course_lib.normalization.fit_normalizer``.

    Never raises; returns a CheckResult (truthy when all cases pass) that shows
    the failing case and a hint naming the mistake. timeout: seconds per call.
    """
    return check_against_reference(
        "fit_normalizer",
        fn,
        fit_normalizer_cases(),
        fit_normalizer,  # its constant-feature warning is silenced there
        _fit_mistakes(),
        output_names=("mu", "sigma"),
        arg_names=("X",),
        timeout=timeout,
    )


# --------------------------------------------------------------------------- normalize
def _normalize_mistakes() -> list[Mistake]:
    def own(X):
        mu, sd = X.mean(0), X.std(0)
        return (X - mu) / np.where(sd == 0, 1.0, sd)

    return [
        Mistake(
            "divided by σ² (the notes' error): dividing by the variance leaves feature j "
            "with variance 1/σ_j²; divide by σ",
            lambda X, mu, sigma: (X - mu) / sigma**2,
        ),
        Mistake(
            "the data were normalized with their own mean and standard deviation, not "
            "with the mu and sigma passed in: a test set must be normalized with the "
            "training set's μ and σ",
            lambda X, mu, sigma: own(X),
        ),
        Mistake(
            "forgot to centre: subtract mu before dividing, (X - mu) / sigma",
            lambda X, mu, sigma: X / sigma,
        ),
        Mistake(
            "forgot to scale: after X - mu, divide by sigma",
            lambda X, mu, sigma: X - mu,
        ),
        Mistake(
            "order of operations: X / sigma - mu is not (X - mu) / sigma; subtract first",
            lambda X, mu, sigma: X / sigma - mu,
        ),
        Mistake(
            "multiplied by sigma instead of dividing: (X - mu) / sigma",
            lambda X, mu, sigma: (X - mu) * sigma,
        ),
        Mistake(
            "mu and sigma are used the wrong way round: subtract mu, divide by sigma",
            lambda X, mu, sigma: (X - sigma) / mu,
        ),
    ]


def normalize_cases() -> list[Case]:
    d = _cases_data()
    rng = np.random.default_rng(7)
    small_mu, small_sigma = _reference(fit_normalizer)(d["small"])
    tall_mu, tall_sigma = _reference(fit_normalizer)(d["tall"])
    sq_mu, sq_sigma = _reference(fit_normalizer)(d["square"])
    c_mu, c_sigma = _reference(fit_normalizer)(d["constant"])
    # A test set from a shifted, wider distribution than the training set.
    test = rng.normal([8.0, -1.0, 60.0], [3.0, 1.0, 50.0], size=(15, 3))
    # The constant training feature varies in the test set: it must only be centred.
    c_test = np.column_stack(
        [rng.normal(2.0, 3.0, 6), [4.0, 5.0, 3.0, 4.0, 6.0, 4.5], rng.normal(-5, 1, 6)]
    )
    return [
        Case(
            "the training set X (4, 2) with its own mu, sigma",
            (d["small"], small_mu, small_sigma),
        ),
        Case(
            "a test set X (15, 3) whose mean and spread differ from the training set's "
            "(mu, sigma come from the training set)",
            (test, tall_mu, tall_sigma),
        ),
        Case("a square X (3, 3) with its own mu, sigma", (d["square"], sq_mu, sq_sigma)),
        Case(
            "a test set X (6, 3) whose 2nd feature was constant in training (sigma = 1)",
            (c_test, c_mu, c_sigma),
        ),
        Case("a single test example X of shape (1, 3)", (test[:1], tall_mu, tall_sigma)),
    ]


def check_normalize(fn, *, timeout: float = DEFAULT_TIMEOUT) -> CheckResult:
    """Check ``fn(X, mu, sigma) -> X_norm`` against ``course_lib.normalization.normalize``.

    Never raises; returns a CheckResult (truthy when all cases pass) that shows
    the failing case and a hint naming the mistake. timeout: seconds per call.
    """
    return check_against_reference(
        "normalize",
        fn,
        normalize_cases(),
        normalize,
        _normalize_mistakes(),
        output_names=("X_norm",),
        arg_names=("X", "mu", "sigma"),
        timeout=timeout,
    )


# --------------------------------------------------------------------------- fold_normalization
def _fold_mistakes() -> list[Mistake]:
    def shift(w, mu, sigma):
        return (mu / sigma) @ w  # what the normalization's centring adds up to

    return [
        Mistake(
            "w_raw is w multiplied by σ: normalizing divides each input by its σ, so on "
            "raw inputs each weight has to take over that division, not undo it",
            lambda w, b, mu, sigma: (w * sigma, b - shift(w, mu, sigma)),
            more="Normalized input j is (x_j − μ_j)/σ_j, so x_j enters the prediction "
            "with the factor w_j/σ_j: w_raw = w / sigma.",
        ),
        Mistake(
            "w_raw is w itself: a raw feature is σ_j times its normalized value (after "
            "centring), so its weight has to change with σ_j for the prediction to stay",
            lambda w, b, mu, sigma: (w, b - shift(w, mu, sigma)),
            more="w_raw = w / sigma, one division per feature.",
        ),
        Mistake(
            "w_raw divides by σ²: the normalization divides each input once by σ (not by "
            "σ², the notes' error), and the weight takes over exactly that",
            lambda w, b, mu, sigma: (w / sigma**2, b - shift(w, mu, sigma)),
            more="w_raw = w / sigma.",
        ),
        Mistake(
            "b_raw is still b: the normalization subtracts μ, and on raw inputs that shift "
            "is no longer done for you, so the bias has to absorb it",
            lambda w, b, mu, sigma: (w / sigma, b),
            more="Expand Σ_j w_j (x_j − μ_j)/σ_j + b. The terms without x add up to "
            "b − Σ_j w_j μ_j / σ_j: that is b_raw.",
        ),
        Mistake(
            "the bias moved the wrong way: the normalization subtracts μ, so the part of "
            "the prediction that does not depend on x goes down, not up",
            lambda w, b, mu, sigma: (w / sigma, b + shift(w, mu, sigma)),
            more="b_raw = b − Σ_j w_j μ_j / σ_j (a minus sign).",
        ),
        Mistake(
            "the bias shift uses μ without dividing by σ: in the normalized model every "
            "input, μ included, is divided by σ before it meets the weights",
            lambda w, b, mu, sigma: (w / sigma, b - mu @ w),
            more="b_raw = b − Σ_j w_j μ_j / σ_j, or equally b − Σ_j w_raw_j μ_j.",
        ),
        Mistake(
            "the bias shift divides by σ twice: use the normalized weights with μ/σ, or "
            "the raw weights with μ, not the raw weights with μ/σ",
            lambda w, b, mu, sigma: (w / sigma, b - shift(w / sigma, mu, sigma)),
            more="b_raw = b − Σ_j (w_j/σ_j) μ_j: one division by σ_j per term.",
        ),
        Mistake(
            "the weights were normalized like inputs: w is not data; find the raw model "
            "that gives the same prediction for every x instead",
            lambda w, b, mu, sigma: ((w - mu) / sigma, b - shift(w, mu, sigma)),
            more="Write the prediction Σ_j w_j (x_j − μ_j)/σ_j + b as Σ_j (…) x_j + (…) "
            "and read off the two brackets.",
        ),
    ]


def fold_normalization_cases() -> list[Case]:
    rng = np.random.default_rng(11)
    n = 4
    w4, b4 = rng.normal(0.0, 2.0, n), 1.7
    mu4 = rng.uniform(-50.0, 50.0, n)
    sigma4 = 10 ** rng.uniform(-2.0, 2.0, n)
    return [
        Case(
            "w = [2.0, -1.5], b = 0.5, mu = [5.0, 2.0], sigma = [2.5, 0.5]",
            (np.array([2.0, -1.5]), 0.5, np.array([5.0, 2.0]), np.array([2.5, 0.5])),
        ),
        Case(
            "4 features whose spreads run from 0.01 to 100 (w (4,), b = 1.7)",
            (w4, b4, mu4, sigma4),
        ),
        Case(
            "3 features, the 2nd constant in training (mu = 4.0, sigma = 1), b = -2.0",
            (
                np.array([0.8, -0.3, 1.2]),
                -2.0,
                np.array([10.0, 4.0, -3.0]),
                np.array([4.0, 1.0, 0.2]),
            ),
        ),
        Case(
            "one feature: w = [3.0], b = 0.0, mu = [-2.0], sigma = [0.5]",
            (np.array([3.0]), 0.0, np.array([-2.0]), np.array([0.5])),
        ),
    ]


def check_fold_normalization(fn, *, timeout: float = DEFAULT_TIMEOUT) -> CheckResult:
    """Check ``fn(w, b, mu, sigma) -> (w_raw, b_raw)``, the raw-input weights of a linear
    model trained on normalized inputs, against ``course_lib.normalization.fold_normalization``.

    Never raises; returns a CheckResult (truthy when all cases pass) that shows
    the failing case and a hint naming the mistake. timeout: seconds per call.
    """
    return check_against_reference(
        "fold_normalization",
        fn,
        fold_normalization_cases(),
        fold_normalization,
        _fold_mistakes(),
        output_names=("w_raw", "b_raw"),
        arg_names=("w", "b", "mu", "sigma"),
        timeout=timeout,
    )
