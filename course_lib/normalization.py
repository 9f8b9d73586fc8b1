"""Lesson 01: input normalization (输入归一化).

Two steps, statistics from the training set only:

1. zero mean (零均值):                  mu = (1/m) sum_i x_i,              X := X - mu
2. normalize the variance (归一化方差): sigma^2 = (1/m) sum_i (x_i - mu)^2,  X := X / sigma

The notes write ``X / sigma^2``: that is an error; dividing by the variance
leaves each feature with variance 1/sigma^2, not 1.

The same mu and sigma, fitted on the training set, transform the training set,
the test set and every single example seen later (as scikit-learn's
``StandardScaler``: ``fit`` on train, ``transform`` on anything).

A linear model trained on normalized inputs is a linear model of the raw inputs
too: ``fold_normalization`` gives its weights and bias in raw units.

Shapes: ``X`` is (m, n), rows are examples; ``mu`` and ``sigma`` are (n,).
"""

from __future__ import annotations

import warnings

import numpy as np

from ._validation import as_matrix, as_vector

__all__ = [
    "ConstantFeatureWarning",
    "fit_normalizer",
    "normalize",
    "fold_normalization",
    "constant_features",
]


class ConstantFeatureWarning(UserWarning):
    """A feature has no spread in the training set; it is centred but not scaled."""


def constant_features(var: np.ndarray, mu: np.ndarray, m: int) -> np.ndarray:
    """Which features are constant up to round-off: boolean (n,).

    var, mu: (n,) variance and mean computed in float64 from m examples.
    A computed variance below the rounding error of the two-pass algorithm,
    m*eps*var + (m*eps*mu)^2 (Chan, Golub & LeVeque 1983), cannot be told apart
    from 0: dividing by its square root would only amplify round-off. This is
    the rule scikit-learn's StandardScaler uses, so the two agree on such data.
    """
    eps = np.finfo(np.float64).eps
    return var <= m * eps * var + (m * eps * mu) ** 2


def fit_normalizer(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation of a training set.

    X: (m, n) training examples in rows (not modified).
    Returns (mu, sigma), each (n,) in X's float dtype: the mean and the biased
    (ddof=0, the notes' 1/m) standard deviation of every column.

    A feature that is constant in the training set (sigma = 0, up to round-off)
    gets sigma = 1, so that ``normalize`` only centres it instead of dividing by
    zero (as scikit-learn's StandardScaler does); a ConstantFeatureWarning names it.
    """
    X = as_matrix(X, "X")
    m = X.shape[0]
    X64 = X.astype(np.float64, copy=False)  # accumulate in float64 even for float32 data
    mu = X64.mean(axis=0)
    var = ((X64 - mu) ** 2).mean(axis=0)  # ddof=0: divide by m, as the notes do
    sigma = np.sqrt(var)
    constant = constant_features(var, mu, m)
    if constant.any():
        # An exactly constant column is centred to exact zeros: its mean is its value.
        exact = np.all(X64 == X64[0], axis=0)
        mu = np.where(exact, X64[0], mu)
        sigma = np.where(constant, 1.0, sigma)
        cols = np.flatnonzero(constant).tolist()
        warnings.warn(
            f"feature(s) {cols} are constant in the training set (sigma = 0); "
            "they are centred and keep scale 1",
            ConstantFeatureWarning,
            stacklevel=2,
        )
    return mu.astype(X.dtype, copy=False), sigma.astype(X.dtype, copy=False)


def normalize(X: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Normalize X with statistics fitted on the training set: (X - mu) / sigma.

    X: (m, n) any examples (training, validation, test, or a single (1, n) example).
    mu, sigma: (n,) from ``fit_normalizer`` on the *training* set; sigma > 0.
    Returns a new (m, n) array in X's float dtype; X, mu and sigma are not modified.
    """
    X = as_matrix(X, "X")
    n = X.shape[1]
    mu = as_vector(mu, "mu", n)
    sigma = as_vector(sigma, "sigma", n)
    if np.any(sigma <= 0):
        bad = np.flatnonzero(sigma <= 0).tolist()
        raise ValueError(
            f"sigma must be > 0 for every feature, got sigma <= 0 for feature(s) {bad} "
            "(fit_normalizer gives constant features sigma = 1)"
        )
    return ((X - mu) / sigma).astype(X.dtype, copy=False)


def fold_normalization(
    w: np.ndarray, b: float | np.ndarray, mu: np.ndarray, sigma: np.ndarray
) -> tuple[np.ndarray, float | np.ndarray]:
    """The weights and bias of a linear model on normalized inputs, moved onto raw inputs.

    The model z = ((x - mu) / sigma) . w + b is the same function of x as
    z = x . w_raw + b_raw with

        w_raw = w / sigma,        b_raw = b - sum_j mu_j w_j / sigma_j

    ("folding" the normalization into the weights: a deployed model can then take
    raw inputs, and every prediction stays the same).

    w: (n,), or (n, k) for k outputs (a layer); b: a number, or (k,).
    mu, sigma: (n,) from ``fit_normalizer``; sigma > 0.
    Returns (w_raw, b_raw): w_raw of w's shape, b_raw a float (or (k,)); the
    arguments are not modified.
    """
    w_arr = np.asarray(w)
    if w_arr.ndim not in (1, 2):
        raise ValueError(f"w must have shape (n,) or (n, k), got shape {w_arr.shape}")
    n = w_arr.shape[0]
    W = as_matrix(w_arr.reshape(n, -1), "w").astype(np.float64, copy=False)
    mu = as_vector(mu, "mu", n).astype(np.float64, copy=False)
    sigma = as_vector(sigma, "sigma", n).astype(np.float64, copy=False)
    if np.any(sigma <= 0):
        raise ValueError("sigma must be > 0 for every feature (fit_normalizer gives it)")
    k = W.shape[1]
    b_arr = np.asarray(b, dtype=np.float64)
    if b_arr.shape not in ((), (k,)):
        raise ValueError(f"b must be a number or have shape ({k},), got shape {b_arr.shape}")
    if not np.all(np.isfinite(b_arr)):
        raise ValueError("b must be finite")
    W_raw = W / sigma[:, None]
    b_raw = b_arr - (mu / sigma) @ W
    if w_arr.ndim == 1:
        return W_raw[:, 0], float(b_raw.reshape(-1)[0])
    return W_raw, b_raw
