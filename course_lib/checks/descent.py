"""Checkers for lesson 02: ``check_gradient_descent_step(fn)`` and
``check_largest_stable_lr(fn)``.

Each runs the learner's function on a few cases (features far from 0 and on
different scales, correlated features, a single feature, a single example) and
compares with ``course_lib.descent``. When a result is wrong it tries the typical
mistakes below and names the one that reproduces it.
"""

from __future__ import annotations

import numpy as np

from ..descent import gradient_descent_step, largest_stable_lr
from ._core import DEFAULT_TIMEOUT, Case, CheckResult, Mistake, check_against_reference

__all__ = ["check_gradient_descent_step", "check_largest_stable_lr"]


def _data(seed: int, m: int, center, spread, corr: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((m, len(center)))
    if len(center) > 1:
        Z[:, 1] = corr * Z[:, 0] + np.sqrt(1 - corr**2) * Z[:, 1]
    return np.asarray(center) + np.asarray(spread) * Z


# --------------------------------------------------------------------------- one GD step
def _residual(X, y, w, b):
    return X @ w + b - y


def _step_mistakes() -> list[Mistake]:
    m_ = lambda X: X.shape[0]  # noqa: E731

    def sign(X, y, w, b, lr):
        r = _residual(X, y, w, b)
        return w + lr * X.T @ r / m_(X), b + lr * r.mean()

    def no_mean(X, y, w, b, lr):
        r = _residual(X, y, w, b)
        return w - lr * X.T @ r, b - lr * r.sum()

    def sequential(X, y, w, b, lr):
        r = _residual(X, y, w, b)
        w_new = w - lr * X.T @ r / m_(X)
        return w_new, b - lr * _residual(X, y, w_new, b).mean()

    def twice(X, y, w, b, lr):
        r = _residual(X, y, w, b)
        return w - 2 * lr * X.T @ r / m_(X), b - 2 * lr * r.mean()

    def no_bias_in_prediction(X, y, w, b, lr):
        r = X @ w - y
        return w - lr * X.T @ r / m_(X), b - lr * r.mean()

    def b_not_updated(X, y, w, b, lr):
        r = _residual(X, y, w, b)
        return w - lr * X.T @ r / m_(X), b

    def no_lr(X, y, w, b, lr):
        r = _residual(X, y, w, b)
        return w - X.T @ r / m_(X), b - r.mean()

    def over_n(X, y, w, b, lr):
        r = _residual(X, y, w, b)
        return w - lr * X.T @ r / X.shape[1], b - lr * r.mean()

    return [
        Mistake(
            "sign error: the step went uphill. Gradient descent subtracts: "
            "w - lr * dw, b - lr * db with dw = (1/m) X^T (ŷ - y) (residual ŷ - y, not y - ŷ)",
            sign,
        ),
        Mistake(
            "forgot the 1/m: J is the average of the losses, so dw = (1/m) X^T (ŷ - y) and "
            "db = (1/m) Σ(ŷ - y) (use .mean(), or divide the sums by m = X.shape[0])",
            no_mean,
        ),
        Mistake(
            "b's gradient was computed with the new w: compute dw and db both at the old "
            "(w, b) first, then update both (a simultaneous update)",
            sequential,
        ),
        Mistake(
            "the gradient is twice too large: that is the derivative of L = (ŷ - y)²; this "
            "course's loss is L = ½(ŷ - y)², whose derivative is (ŷ - y), no factor 2",
            twice,
        ),
        Mistake(
            "b is missing from the prediction: ŷ = X w + b (the residual is X w + b - y)",
            no_bias_in_prediction,
        ),
        Mistake(
            "b was not updated: return b - lr * db with db = mean(ŷ - y)",
            b_not_updated,
        ),
        Mistake(
            "the learning rate is missing: the step is lr times the gradient",
            no_lr,
        ),
        Mistake(
            "divided by n (features) instead of m (examples): rows are examples, m = X.shape[0]",
            over_n,
        ),
    ]


def gradient_step_cases() -> list[Case]:
    X1 = _data(11, 6, (5.0, 2.0), (2.5, 0.5))
    y1 = X1 @ np.array([2.0, -3.0]) + 1.0 + 0.3 * np.random.default_rng(12).standard_normal(6)
    X2 = _data(21, 9, (-1.0, 4.0, 0.5), (1.0, 3.0, 0.2), corr=0.6)
    y2 = np.random.default_rng(22).standard_normal(9) * 2.0 + 1.0
    X3 = _data(31, 4, (3.0,), (1.5,))
    y3 = np.array([1.0, -2.0, 0.5, 4.0])
    X4 = np.array([[2.0, -1.0, 0.5]])
    return [
        Case(
            "X (6, 2), y (6,), w = [0.5, -1.0], b = 0.7, lr = 0.05",
            (X1, y1, np.array([0.5, -1.0]), 0.7, 0.05),
        ),
        Case(
            "X (9, 3) with correlated features, w = [1, 0.2, -2], b = -0.4, lr = 0.01",
            (X2, y2, np.array([1.0, 0.2, -2.0]), -0.4, 0.01),
        ),
        Case(
            "one feature: X (4, 1), w = [0], b = 0 (the first step), lr = 0.1",
            (X3, y3, np.zeros(1), 0.0, 0.1),
        ),
        Case(
            "a single example: X (1, 3), y = [3], w = [1, 1, 1], b = 2, lr = 0.2",
            (X4, np.array([3.0]), np.ones(3), 2.0, 0.2),
        ),
    ]


def check_gradient_descent_step(fn, *, timeout: float = DEFAULT_TIMEOUT) -> CheckResult:
    """Check ``fn(X, y, w, b, lr) -> (w_new, b_new)``: one gradient-descent step on
    J(w, b) = (1/m) Σ ½(x_i·w + b - y_i)², against ``course_lib.descent.gradient_descent_step``.

    Never raises; returns a CheckResult (truthy when all cases pass) that shows
    the failing case and a hint naming the mistake. timeout: seconds per call.
    """
    return check_against_reference(
        "gradient_descent_step",
        fn,
        gradient_step_cases(),
        gradient_descent_step,
        _step_mistakes(),
        output_names=("w_new", "b_new"),
        arg_names=("X", "y", "w", "b", "lr"),
        timeout=timeout,
    )


# --------------------------------------------------------------------------- 2 / lambda_max
def _with_ones(X: np.ndarray) -> np.ndarray:
    return np.hstack([X, np.ones((X.shape[0], 1))])


def _hessian(X: np.ndarray) -> np.ndarray:
    X1 = _with_ones(X)
    return X1.T @ X1 / X.shape[0]


def _lr_mistakes() -> list[Mistake]:
    def eig(H):
        return np.linalg.eigvalsh(H)

    return [
        Mistake(
            "you used λ_min: the bound comes from the steepest direction. Every direction "
            "needs |1 - lr·λ| < 1, and the largest eigenvalue λ_max is the strictest: 2/λ_max",
            lambda X: 2.0 / eig(_hessian(X))[0],
        ),
        Mistake(
            "the factor 2 is missing: 1/λ_max is the step that lands exactly on the minimum "
            "along the steepest direction; steps up to 2/λ_max still converge (they "
            "overshoot, then come back). (1/λ_max is also what you get from the Hessian of "
            "L = (ŷ - y)² without the ½, which is twice as large.)",
            lambda X: 1.0 / eig(_hessian(X))[-1],
        ),
        Mistake(
            "forgot the 1/m: the Hessian of J = (1/m) Σ L is (1/m) X̃ᵀX̃, not X̃ᵀX̃",
            lambda X: 2.0 / eig(_hessian(X) * X.shape[0])[-1],
        ),
        Mistake(
            "the column of ones for b is missing: gradient descent updates b too, so the "
            "Hessian is (1/m) X̃ᵀX̃ with X̃ = [X, 1] (np.hstack([X, np.ones((m, 1))]))",
            lambda X: 2.0 / eig(X.T @ X / X.shape[0])[-1],
        ),
        Mistake(
            "you centred X (used the covariance matrix): that is the Hessian with b held at "
            "its optimum; gradient descent on (w, b) sees the uncentred (1/m) X̃ᵀX̃, "
            "X̃ = [X, 1], whose λ_max is larger when the features are far from 0",
            lambda X: 2.0 / eig(np.cov(X.T, bias=True).reshape(X.shape[1], X.shape[1]))[-1],
        ),
        Mistake(
            "you took a square root somewhere: λ_max is an eigenvalue of the Hessian "
            "(1/m) X̃ᵀX̃, not a singular value of X̃/√m (that is √λ_max)",
            lambda X: 2.0 / np.sqrt(eig(_hessian(X))[-1]),
        ),
        Mistake(
            "you used singular values of X̃: they are the square roots of the eigenvalues "
            "of X̃ᵀX̃ (no 1/m); use the eigenvalues of the Hessian (1/m) X̃ᵀX̃",
            lambda X: 2.0 / np.linalg.svd(_with_ones(X), compute_uv=False)[0],
        ),
        Mistake(
            "you used the largest diagonal entry of the Hessian (the largest E[x_j²]): "
            "λ_max also counts the off-diagonal coupling; take the largest eigenvalue "
            "(np.linalg.eigvalsh(H)[-1])",
            lambda X: 2.0 / np.max(np.diag(_hessian(X))),
        ),
    ]


def stable_lr_cases() -> list[Case]:
    return [
        Case(
            "X (30, 2): features away from 0, on different scales",
            (_data(41, 30, (5.0, 2.0), (2.5, 0.5)),),
        ),
        Case(
            "X (50, 3) with correlated features",
            (_data(51, 50, (1.0, -2.0, 0.3), (3.0, 1.0, 0.5), corr=0.8),),
        ),
        Case("one feature: X (6, 1)", (_data(61, 6, (-4.0,), (2.0,)),)),
        Case("a single example: X (1, 2)", (np.array([[3.0, -1.0]]),)),
    ]


def check_largest_stable_lr(fn, *, timeout: float = DEFAULT_TIMEOUT) -> CheckResult:
    """Check ``fn(X) -> float``: the learning-rate bound 2/λ_max of the Hessian
    (1/m) X̃ᵀX̃, X̃ = [X, 1], of J(w, b) = (1/m) Σ ½(ŷ - y)², against
    ``course_lib.descent.largest_stable_lr``.

    Never raises; returns a CheckResult (truthy when all cases pass) that shows
    the failing case and a hint naming the mistake. timeout: seconds per call.
    """
    return check_against_reference(
        "largest_stable_lr",
        fn,
        stable_lr_cases(),
        largest_stable_lr,
        _lr_mistakes(),
        output_names=("the learning rate",),
        arg_names=("X",),
        rtol=1e-6,
        timeout=timeout,
    )
