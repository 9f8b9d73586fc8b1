"""Lesson 01: input normalization (输入归一化).

Two steps, statistics from the training set only:

1. zero mean (零均值):             mu = (1/m) sum_i x_i,           X := X - mu
2. normalize the variance (归一化方差): sigma^2 = (1/m) sum_i (x_i - mu)^2,  X := X / sigma

(The notes write ``X / sigma^2``: that is an error; dividing by the variance
leaves each feature with variance 1/sigma^2, not 1.)

Shapes: ``X`` is (m, n), rows are examples; ``mu`` and ``sigma`` are (n,).
"""

from __future__ import annotations

import warnings

import numpy as np

from ._validation import as_matrix, as_vector


class ConstantFeatureWarning(UserWarning):
    """A feature has zero spread in the training set; it is centred but not scaled."""


def fit_normalizer(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation of a training set.

    X: (m, n) training examples in rows.
    Returns (mu, sigma), each (n,): the mean and the biased (ddof=0) standard
    deviation of every column. A feature with sigma = 0 (constant in the training
    set) gets sigma = 1, so that normalizing only centres it (as scikit-learn's
    StandardScaler does), and a ConstantFeatureWarning names it.
    """
    X = as_matrix(X, "X")
    mu = X.mean(axis=0)
    sigma = X.std(axis=0)  # ddof=0: the notes' 1/m
    constant = sigma == 0
    if constant.any():
        cols = np.flatnonzero(constant).tolist()
        warnings.warn(
            f"feature(s) {cols} are constant in the training set (sigma = 0); "
            "they are centred and keep scale 1",
            ConstantFeatureWarning,
            stacklevel=2,
        )
        sigma = np.where(constant, 1.0, sigma).astype(X.dtype)
    return mu, sigma


def normalize(X: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Normalize X with statistics fitted on the training set: (X - mu) / sigma.

    X: (m, n) any examples (training, validation or test) in rows.
    mu, sigma: (n,) from ``fit_normalizer`` on the *training* set.
    Returns a new (m, n) array; X is not modified.
    """
    X = as_matrix(X, "X")
    n = X.shape[1]
    mu = as_vector(mu, "mu", n)
    sigma = as_vector(sigma, "sigma", n)
    if np.any(sigma <= 0):
        raise ValueError(
            "sigma must be > 0 for every feature (fit_normalizer gives 1 for constants)"
        )
    return ((X - mu) / sigma).astype(X.dtype, copy=False)
