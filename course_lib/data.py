"""Data sets of the course: a synthetic 2-feature set shaped like the notes' figure,
and scikit-learn's bundled real data (breast cancer, digits; no download needed).

Every loader is seeded and returns a ``Split``: rows are examples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    """A train/test split. X_*: (m, n) float64, y_*: (m,); names: one per feature."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple[str, ...]
    name: str

    def __repr__(self) -> str:
        return (
            f"Split({self.name!r}: train {self.X_train.shape}, test {self.X_test.shape}, "
            f"{len(self.feature_names)} features)"
        )


def two_feature_data(
    m_train: int = 200,
    m_test: int = 100,
    *,
    center: tuple[float, float] = (5.0, 2.0),
    spread: tuple[float, float] = (2.5, 0.5),
    correlation: float = 0.0,
    noise: float = 0.5,
    seed: int = 0,
) -> Split:
    """Synthetic 2-D inputs like the notes' first figure: x1 spread widely, x2 narrowly,
    the cloud away from the origin; target y = 2 x1 - 3 x2 + 1 + noise (for lesson 02).

    center, spread: per-feature mean and standard deviation of the generating normal.
    correlation: correlation of x1 and x2 in that normal, in (-1, 1); 0 by default.
    Train and test come from the same distribution, drawn with one seeded generator.
    For a given seed the underlying standard-normal draws are the same whatever
    center, spread and correlation are, so changing them deforms one fixed cloud
    (this is what the lesson's widget relies on).
    """
    if m_train < 2 or m_test < 1:
        raise ValueError(f"need m_train >= 2 and m_test >= 1, got {m_train}, {m_test}")
    center_a = np.asarray(center, dtype=np.float64)
    spread_a = np.asarray(spread, dtype=np.float64)
    if center_a.shape != (2,) or not np.all(np.isfinite(center_a)):
        raise ValueError(f"center must be two finite numbers, got {center!r}")
    if spread_a.shape != (2,) or not np.all(np.isfinite(spread_a)) or np.any(spread_a <= 0):
        raise ValueError(f"spread must be two positive numbers, got {spread!r}")
    if not -1.0 < correlation < 1.0:
        raise ValueError(f"correlation must be in (-1, 1), got {correlation!r}")
    rng = np.random.default_rng(seed)
    m = m_train + m_test
    z = rng.standard_normal(size=(m, 2))
    # Correlate the second coordinate with the first (Cholesky factor of [[1, r], [r, 1]]);
    # with r = 0 this is z itself, bit for bit.
    z[:, 1] = correlation * z[:, 0] + np.sqrt(1.0 - correlation**2) * z[:, 1]
    X = center_a + spread_a * z
    y = X @ np.array([2.0, -3.0]) + 1.0 + noise * rng.normal(size=m)
    return Split(X[:m_train], y[:m_train], X[m_train:], y[m_train:], ("x1", "x2"), "two features")


def breast_cancer(test_size: float = 0.25, seed: int = 0) -> Split:
    """scikit-learn's Wisconsin breast-cancer data: 569 examples, 30 features, y = 1 for
    benign. Stratified, seeded split.

    The features live on wildly different scales: standard deviations run from about
    0.002 (fractal dimension error) to about 580 (worst area), a ratio of about 2.5e5,
    and values from 0 to about 4250. Bundled with scikit-learn: no download.
    """
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    data = load_breast_cancer()
    X_tr, X_te, y_tr, y_te = train_test_split(
        data.data, data.target, test_size=test_size, random_state=seed, stratify=data.target
    )
    return Split(X_tr, y_tr, X_te, y_te, tuple(data.feature_names), "breast cancer")


def digits(test_size: float = 0.25, seed: int = 0) -> Split:
    """scikit-learn's 8x8 handwritten digits: 1797 examples, 64 pixel features in
    0..16, y in 0..9. Stratified, seeded split (the test part serves as validation)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    X_tr, X_te, y_tr, y_te = train_test_split(
        data.data, data.target, test_size=test_size, random_state=seed, stratify=data.target
    )
    names = tuple(f"pixel_{r}_{c}" for r in range(8) for c in range(8))
    return Split(X_tr, y_tr, X_te, y_te, names, "digits")
