"""Lesson 03: checking a backward pass against finite differences (gradient checking).

A layer maps arrays to an array, ``out = f(x)``. Its backward pass receives an
upstream gradient ``dout = dL/dout`` and returns ``dL/dx``. To test it without
knowing L, take the scalar

    L(x) = sum(f(x) * dout)        (so that dL/dout is exactly dout)

and differentiate it numerically, one entry of x at a time, by central differences:

    dL/dx_k ~ (L(x + h e_k) - L(x - h e_k)) / (2 h)      error O(h^2)

Use a *random* dout (``upstream_gradient``). A dout of ones is a trap for
normalization layers: Batch Norm's output has, per unit, a sum that does not
depend on z (it is m * beta), so with dout = 1 the true dz is 0 everywhere, and
every backward pass that returns roughly 0 (including wrong ones) "passes".

``relative_error`` compares the analytic and numerical gradients, and one
yardstick reads it (``verdict``; the lesson's text, ``report`` and the checker of
lesson 03 all use it): in float64 with h = 1e-5,

    below 1e-7 (CORRECT_BELOW): correct;
    above 1e-4 (BUG_ABOVE):     a bug;
    between:                    look closer.

Why these numbers: the two errors of central differences, truncation (about
h^2 = 1e-10 times the third derivative) and rounding (about 1e-16 |L| / h =
1e-11 |L|), leave a correct backward at 1e-11 to 1e-9 on well-scaled inputs;
measured worst case 5e-8 over 200 random batches with nearly constant units
(std 3e-3) and eps up to 0.1, hence 1e-7 with a margin. A wrong formula
changes a whole term of the gradient: every mistake in the lesson-03 checker
gives 4e-3 or more. In between sit the small terms: a backward without the eps
of the forward is off by about eps / sigma^2 (1e-5 for unit-variance data), and
inputs near a kink or computed in float32 land there too: look closer. So does a
correct backward whose true gradient is tiny next to dout (Batch Norm on a batch of
two with a small eps, where x̂ = ±1 almost exactly and dz is ~1e-5 of dout): the
finite differences' own error is then no longer small next to it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ._validation import check_positive

DEFAULT_H = 1e-5
CORRECT_BELOW = 1e-7  # relative error of a gradient check (float64, h = 1e-5): correct
BUG_ABOVE = 1e-4  # above this: a bug; between the two: look closer


def verdict(error: float) -> str:
    """What a relative error of a gradient check says: "correct", "look closer" or
    "a bug" (see the module docstring), or "not a number" for NaN or inf."""
    error = float(error)
    if not np.isfinite(error):
        return "not a number"
    if error < CORRECT_BELOW:
        return "correct"
    if error > BUG_ABOVE:
        return "a bug"
    return "look closer"


def describe_error(error: float) -> str:
    """The relative error as it is reported: "below 1e-7: correct" (round-off is not
    printed as digits), "3.2e-01: a bug", "5.0e-06: look closer"."""
    said = verdict(error)
    if said == "correct":
        return f"below {CORRECT_BELOW:.0e}: correct"
    if said == "not a number":
        return "NaN or inf: the gradient or the function is not finite"
    return f"{float(error):.1e}: {said}"


def report(errors: dict[str, float]) -> None:
    """Print one line per gradient: "  dz      relative error below 1e-7: correct"."""
    for name, error in errors.items():
        print(f"  {name:7s} relative error {describe_error(error)}")


def upstream_gradient(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """A random upstream gradient dout of the given shape (standard normal, float64).

    Random, not ones: see the module docstring.
    """
    return np.random.default_rng(seed).standard_normal(shape)


def numerical_gradient(
    f: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    dout: np.ndarray,
    h: float = DEFAULT_H,
) -> np.ndarray:
    """Central-difference gradient of L(x) = sum(f(x) * dout) with respect to x.

    f: function of one array returning an array of dout's shape.
    x: array of any shape; dout: upstream gradient, shape of f(x).
    h: step; the error is O(h^2) (truncation) plus about 1e-16 * |f| / h (rounding),
    so h = 1e-5 balances the two for values of order 1.
    Returns an array of x's shape, float64. x is copied to float64 first: in
    float32, rounding (~1e-7) divided by h would swamp the result. x is not modified.
    """
    return numerical_gradients(f, (x,), dout, h)[0]


def numerical_gradients(
    f: Callable[..., np.ndarray],
    inputs: Sequence[np.ndarray],
    dout: np.ndarray,
    h: float = DEFAULT_H,
) -> list[np.ndarray]:
    """Numerical gradients of L = sum(f(*inputs) * dout) with respect to every input.

    f(*inputs) returns one array of dout's shape (for a layer returning (out, cache),
    pass ``lambda *a: layer(*a)[0]``). Returns one float64 array per input, of
    that input's shape. Costs 2 calls of f per entry of every input: use small arrays.
    """
    h = check_positive(h, "h")
    base = [np.array(a, dtype=np.float64) for a in inputs]  # copies: inputs stay untouched
    dout = np.asarray(dout, dtype=np.float64)
    out0 = np.asarray(f(*base))
    if out0.shape != dout.shape:
        raise ValueError(f"dout must have the shape of f's output {out0.shape}, got {dout.shape}")
    grads = []
    for j, x in enumerate(base):
        grad = np.zeros_like(x)
        for k in np.ndindex(x.shape):
            args = list(base)
            plus, minus = x.copy(), x.copy()
            plus[k] += h
            minus[k] -= h
            args[j] = plus
            f_plus = np.asarray(f(*args), dtype=np.float64)
            args[j] = minus
            f_minus = np.asarray(f(*args), dtype=np.float64)
            # Difference first, then weight: entries f did not change cancel exactly.
            grad[k] = np.sum((f_plus - f_minus) * dout) / (2.0 * h)
        grads.append(grad)
    return grads


def relative_error(
    a: np.ndarray, b: np.ndarray, *, per_element: bool = False, floor: float = 1e-300
) -> float:
    """How far two gradients are apart, relative to their size (0 = identical).

    Default (one number for the whole array, insensitive to entries near 0):

        max_k |a_k - b_k| / max( max_k (|a_k| + |b_k|), floor )

    per_element=True (stricter, as in many course notes):

        max_k  |a_k - b_k| / max( |a_k| + |b_k|, floor )

    which is large when some entry is close to 0 in both, where rounding noise
    is relatively big: use it only when no entry is expected to be near 0.
    The result lies in [0, 1]; a and b must have the same shape.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    diff = np.abs(a - b)
    size = np.abs(a) + np.abs(b)
    if per_element:
        return float(np.max(diff / np.maximum(size, floor)))
    return float(np.max(diff) / max(float(np.max(size)), floor))
