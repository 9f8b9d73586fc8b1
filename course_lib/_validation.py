"""Input checks shared by the public functions: one clear ValueError per problem.

Every message names the argument and says what was expected, so that a learner
reading a traceback knows what to fix.
"""

from __future__ import annotations

import numpy as np


def real_array(x: object, name: str) -> np.ndarray:
    """``np.asarray(x)`` after checking it holds real numbers (or booleans): text,
    objects and complex numbers (whose imaginary part would be dropped) are refused."""
    arr = np.asarray(x)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ValueError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr


def as_matrix(x: object, name: str, *, min_rows: int = 1, check_finite: bool = True) -> np.ndarray:
    """Return ``x`` as a finite 2-D float array of shape (m, n) with m >= min_rows.

    Float32 stays float32; integers and everything else become float64. The
    result may share memory with ``x``: callers must not write into it.
    """
    arr = real_array(x, name)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D with shape (m examples, n features), got ndim={arr.ndim} "
            f"(shape {arr.shape}); reshape a single feature with x.reshape(-1, 1)"
        )
    m, n = arr.shape
    if m == 0 or n == 0:
        raise ValueError(
            f"{name} is empty (shape {arr.shape}): need at least 1 example and 1 feature"
        )
    if m < min_rows:
        raise ValueError(f"{name} has {m} example(s), at least {min_rows} are needed")
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    elif arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    # One summing pass, no (m, n) boolean temporary: a NaN or inf makes the sum
    # non-finite (so can an overflow of huge values; the exact count decides then).
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: no warning, just NaN
        total = arr.sum() if check_finite else 0.0
    if not np.isfinite(total) and not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return arr


def as_vector(x: object, name: str, n: int, *, dtype: np.dtype | None = None) -> np.ndarray:
    """Return ``x`` as a finite 1-D float array of length ``n`` (one value per feature).

    A (1, n) row is accepted and flattened, since broadcasting code often keeps one.
    """
    arr = real_array(x, name)
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"{name} must have shape ({n},), one value per feature, got shape {arr.shape}"
        )
    target = dtype if dtype is not None else np.float64
    if not np.issubdtype(arr.dtype, np.floating) or dtype is not None:
        arr = arr.astype(target)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def check_beta(
    value: object, name: str = "beta", hint: str = "the weight of the old value"
) -> float:
    """Return ``value`` as a float after checking 0 <= value < 1: the weight of the old
    value in an exponentially weighted average (``hint`` is added to the message)."""
    try:
        b = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1), got {value!r}") from None
    if not 0.0 <= b < 1.0:  # also rejects NaN
        raise ValueError(f"{name} must be in [0, 1) ({hint}), got {value!r}")
    return b


def check_positive(value: float, name: str) -> float:
    """Return ``value`` as a float after checking it is a finite number > 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return v


def as_feature_maps(x: object, name: str) -> np.ndarray:
    """Return ``x`` as a finite 4-D float array of shape (N, C, H, W), none of them 0.

    N examples, C channels (feature maps), H x W positions: the layout of a
    convolutional layer's output in PyTorch ("NCHW"). Float32 stays float32;
    integers and everything else become float64. The result may share memory with
    ``x``: callers must not write into it.
    """
    arr = real_array(x, name)
    if arr.ndim != 4:
        raise ValueError(
            f"{name} must be 4-D with shape (N examples, C channels, H, W), got ndim={arr.ndim} "
            f"(shape {arr.shape})"
        )
    if 0 in arr.shape:
        raise ValueError(f"{name} is empty (shape {arr.shape}): every dimension must be >= 1")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return arr
