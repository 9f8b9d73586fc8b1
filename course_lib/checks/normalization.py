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
from ._core import DEFAULT_TIMEOUT, Advice, Case, CheckResult, Mistake, check_against_reference

_SHAPES = "X is (m, n), one row per example; mu and sigma are (n,), one value per feature"
ADVICE_FIT = Advice(shapes=_SHAPES)
ADVICE_NORMALIZE = Advice(
    shapes=_SHAPES,
    broadcast=(
        "X is (m, n) and mu, sigma are (n,): numpy lines them up with the last axis of X, "
        "one value per feature (column). An array of shape (m,), one value per example, "
        "does not fit: a mean or standard deviation over the wrong axis?"
    ),
    broadcast_more=(
        "use the mu and sigma passed in, as they are: (m, n) − (n,) subtracts μ_j from "
        "column j of every row"
    ),
)
ADVICE_FOLD = Advice(
    shapes="w, mu and sigma are (n,), one value per feature; b and b_raw are numbers; "
    "w_raw is (n,)",
    statistics=False,
    broadcast=(
        "An element-wise operation combined arrays whose shapes do not fit: w, mu and sigma "
        "all have one value per feature, (n,), so they combine element by element"
    ),
    broadcast_more="w / sigma is (n,) / (n,) → (n,), one raw weight per feature",
    matmul=(
        "b_raw is one number: the shift collects one term per feature, a sum over the n "
        "features (a dot product of two (n,) vectors)"
    ),
    matmul_more="(n,) @ (n,) gives a number: mu @ w_raw = Σ_j μ_j w_raw_j",
)

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

    formula = "σ_j = √((1/m) Σ_i (x_ij − μ_j)²), one per feature; np.std computes it"
    return [
        Mistake(
            "σ was computed with ddof=1, dividing by m − 1 (the estimate of a population's "
            "spread). The course, like the notes, divides by m: the spread of these m "
            "examples themselves",
            lambda X: with_constant_rule(X.mean(0), X.std(0, ddof=1)),
            "np.std divides by m by default (ddof=0): leave ddof out",
        ),
        Mistake(
            "you returned the variance σ² instead of the standard deviation σ: σ is the "
            "square root of the variance (normalizing divides by σ, not by σ² as the "
            "notes wrongly say)",
            lambda X: with_constant_rule(X.mean(0), X.var(0)),
            f"{formula}; np.var gives σ², without the root",
        ),
        Mistake(
            "σ was computed without centring: the spread must be measured around the mean "
            "μ of each feature, not around 0",
            lambda X: with_constant_rule(X.mean(0), np.sqrt((X**2).mean(0))),
            f"{formula}: subtract μ_j before squaring (√(mean of x²) is the spread around 0)",
        ),
        Mistake(
            "statistics over the wrong axis: you averaged across the features of each "
            "example. Rows are examples, so average down each column: one μ and one σ per "
            "feature",
            lambda X: with_constant_rule(X.mean(1), X.std(1)),
            "axis=0 runs over the rows (the examples): the result has shape (n,), one value "
            "per column",
        ),
        Mistake(
            "μ and σ are swapped: return the mean first, then the standard deviation",
            lambda X: with_constant_rule(X.mean(0), X.std(0))[::-1],
            "the function returns the pair (mu, sigma), in this order",
        ),
        Mistake(
            "a constant feature kept σ = 0, so normalizing would divide by zero. Give such "
            "a feature σ = 1 instead (it is then only centred), as scikit-learn does",
            lambda X: (X.mean(0), X.std(0)),
            "after computing sigma, replace its zeros by 1: np.where(sigma == 0, 1.0, sigma)",
        ),
        Mistake(
            "σ here is the range (max − min): that is min-max scaling. Standardization "
            "divides by the standard deviation",
            lambda X: with_constant_rule(X.mean(0), X.max(0) - X.min(0)),
            formula,
        ),
        Mistake(
            "one μ and one σ for the whole matrix: each feature needs its own μ and σ, "
            "computed over the examples",
            lambda X: with_constant_rule(
                np.full(X.shape[1], X.mean()),
                np.full(X.shape[1], X.std()),
            ),
            "pass axis=0 to the mean and the standard deviation: one value per column, shape (n,)",
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
        advice=ADVICE_FIT,
    )


# --------------------------------------------------------------------------- normalize
def _normalize_mistakes() -> list[Mistake]:
    def own(X):
        mu, sd = X.mean(0), X.std(0)
        return (X - mu) / np.where(sd == 0, 1.0, sd)

    formula = "X_norm = (X − μ) / σ, with the mu and sigma passed in"
    given = (
        "the data were normalized with their own statistics, not with the mu and sigma "
        "passed in. A test set must go through the training set's transformation: its μ "
        "and its σ"
    )
    given_more = "use the arguments mu and sigma as they are; compute nothing from X itself"
    return [
        Mistake(
            "you divided by σ² (the notes' slip): dividing by the variance leaves feature j "
            "with variance 1/σ_j², not 1. Divide by the standard deviation σ",
            lambda X, mu, sigma: (X - mu) / sigma**2,
            f"{formula} (sigma, not its square)",
        ),
        Mistake(given, lambda X, mu, sigma: own(X), given_more),
        Mistake(
            f"{given} (the mean, here)",
            lambda X, mu, sigma: (X - X.mean(0)) / sigma,
            given_more,
        ),
        Mistake(
            f"{given} (the standard deviation, here)",
            lambda X, mu, sigma: (X - mu) / np.where(X.std(0) == 0, 1.0, X.std(0)),
            given_more,
        ),
        Mistake(
            "operator precedence: division binds tighter than subtraction, so only μ was "
            "divided by σ. The whole difference X − μ must be divided",
            lambda X, mu, sigma: X - mu / sigma,
            "put brackets around the difference: (X − μ) / σ; without them Python reads "
            "X − (μ / σ)",
        ),
        Mistake(
            "the mean was not subtracted: normalizing first centres each feature, then scales it",
            lambda X, mu, sigma: X / sigma,
            formula,
        ),
        Mistake(
            "the features were centred but not scaled: after subtracting the mean, divide "
            "by the standard deviation",
            lambda X, mu, sigma: X - mu,
            formula,
        ),
        Mistake(
            "the steps are in the wrong order: you scaled first and then subtracted μ, which "
            "shifts by the wrong amount. Centre first, then scale",
            lambda X, mu, sigma: X / sigma - mu,
            f"X / σ − μ is not (X − μ) / σ: {formula}",
        ),
        Mistake(
            "you took the square root of sigma: sigma already is the standard deviation "
            "(fit_normalizer returns σ, not σ²). Divide by it as it is",
            lambda X, mu, sigma: (X - mu) / np.sqrt(sigma),
            f"{formula}, no square root",
        ),
        Mistake(
            "you multiplied by σ instead of dividing: scaling to unit variance divides by "
            "the spread",
            lambda X, mu, sigma: (X - mu) * sigma,
            formula,
        ),
        Mistake(
            "mu and sigma play each other's role: μ is what you subtract, σ what you divide by",
            lambda X, mu, sigma: (X - sigma) / mu,
            formula,
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
        advice=ADVICE_NORMALIZE,
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
        advice=ADVICE_FOLD,
    )
