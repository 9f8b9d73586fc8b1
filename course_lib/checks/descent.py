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
from ._core import DEFAULT_TIMEOUT, Advice, Case, CheckResult, Mistake, check_against_reference

ADVICE_STEP = Advice(
    shapes="X is (m, n); y, ŷ and the residual ŷ − y are (m,), one per example; w is (n,), "
    "one per feature; b and lr are numbers",
    statistics=False,
    broadcast=(
        "An element-wise operation combined arrays whose shapes do not fit: X is (m, n), "
        "the residual is (m,), w is (n,). Turning the m residuals into n gradient entries, "
        "one per feature, takes a matrix product, not an element-wise one"
    ),
    broadcast_more="dw = Xᵀ(ŷ − y)/m: (n, m) @ (m,) gives (n,)",
    matmul=(
        "X is (m, n), w is (n,) and the residual ŷ − y is (m,): write down the shapes of "
        "each product and check that they chain"
    ),
    matmul_more="ŷ = X w + b is (m, n) @ (n,) → (m,); dw = Xᵀ(ŷ − y)/m is (n, m) @ (m,) → (n,)",
)
ADVICE_LR = Advice(
    shapes="X is (m, n); X̃ = [X, 1] is (m, n + 1); the Hessian (1/m) X̃ᵀX̃ is (n + 1, n + 1)",
    statistics=False,
    matmul=(
        "X̃ is (m, n + 1): the Hessian (1/m) X̃ᵀX̃ multiplies the transpose (n + 1, m) by X̃ (m, n + 1)"
    ),
    matmul_more="H = X1.T @ X1 / m with X1 = [X, 1] of shape (m, n + 1)",
)

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

    step = (
        "w_new = w − lr·dw and b_new = b − lr·db, with dw = (1/m) Xᵀ(ŷ − y) and "
        "db = (1/m) Σ(ŷ − y), ŷ = X w + b"
    )
    return [
        Mistake(
            "sign error: your step went uphill, so the cost grows. Gradient descent moves "
            "against the gradient, and the residual is the prediction minus the target",
            sign,
            step,
        ),
        Mistake(
            "the step is m times too large: the cost J is the average of the m losses, so "
            "its gradient is an average over the examples too, not a sum",
            no_mean,
            f"{step}; m is the number of examples (rows of X)",
        ),
        Mistake(
            "b's gradient was computed with the already updated w: both gradients must be "
            "taken at the old (w, b), then both parameters updated (a simultaneous update)",
            sequential,
            "compute the residual ŷ − y once, from the old w and b; derive dw and db from "
            "it; then return both new values",
        ),
        Mistake(
            "the gradient is twice too large: that is the derivative of the loss (ŷ − y)². "
            "This course's loss is ½(ŷ − y)², whose ½ cancels the 2",
            twice,
            f"dL/dŷ = ŷ − y, with no factor 2: {step}",
        ),
        Mistake(
            "b is missing from the prediction: the model predicts with the weights and the "
            "bias, so the residual must include b",
            no_bias_in_prediction,
            "ŷ = X w + b, and the residual is ŷ − y",
        ),
        Mistake(
            "b was not updated: gradient descent moves every parameter by its own "
            "gradient, the bias too",
            b_not_updated,
            "b_new = b − lr·db with db = (1/m) Σ(ŷ − y), the mean of the residual",
        ),
        Mistake(
            "the learning rate is missing: each step is the gradient scaled by lr",
            no_lr,
            step,
        ),
        Mistake(
            "you divided by the number of features n instead of the number of examples m: "
            "the cost averages over the examples, the rows of X",
            over_n,
            f"{step}; m = X.shape[0]",
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
        advice=ADVICE_STEP,
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

    def unsorted(H):
        return np.real(np.linalg.eig(H)[0])

    bound = "lr_max = 2/λ_max, λ_max the largest eigenvalue of H = (1/m) X̃ᵀX̃, X̃ = [X, 1]"
    unsorted_hint = (
        "np.linalg.eig returns the eigenvalues in no particular order, so the one you "
        "picked is not necessarily the largest. The bound needs the largest eigenvalue "
        "λ_max"
    )
    unsorted_more = (
        "take the largest of them (.max()), or use np.linalg.eigvalsh, made for symmetric "
        "matrices like this Hessian: it returns them sorted, smallest first"
    )
    return [
        Mistake(
            "the eigenvalue you used is the smallest one, λ_min: the bound comes from the "
            "steepest direction, the one with the largest eigenvalue λ_max. (np.linalg.eig "
            "returns the eigenvalues in no particular order; np.linalg.eigvalsh sorts them, "
            "smallest first.)",
            lambda X: 2.0 / eig(_hessian(X))[0],
            "along an eigenvector, one step multiplies the error by 1 − lr·λ, which needs "
            f"|1 − lr·λ| < 1 for every λ; the largest λ is the strictest: {bound}. Take the "
            "largest eigenvalue: the maximum of eig's, or the last of eigvalsh's",
        ),
        Mistake(unsorted_hint, lambda X: 2.0 / unsorted(_hessian(X))[-1], unsorted_more),
        Mistake(unsorted_hint, lambda X: 2.0 / unsorted(_hessian(X))[0], unsorted_more),
        Mistake(
            "the factor 2 is missing: 1/λ_max is the step that lands exactly on the minimum "
            "along the steepest direction. Larger steps still converge (they overshoot, then "
            "come back), up to twice that",
            lambda X: 1.0 / eig(_hessian(X))[-1],
            f"{bound}. (1/λ_max also comes from the Hessian of (ŷ − y)² without the ½, "
            "which is twice as large.)",
        ),
        Mistake(
            "the Hessian is m times too large: J averages the losses over the m examples, "
            "so its Hessian is an average too",
            lambda X: 2.0 / eig(_hessian(X) * X.shape[0])[-1],
            f"H = (1/m) X̃ᵀX̃, not X̃ᵀX̃: {bound}",
        ),
        Mistake(
            "the bias b is missing from the Hessian: gradient descent also updates b, so "
            "the curvature is that of J over (w, b). Give b its own feature, one that is "
            "always 1",
            lambda X: 2.0 / eig(X.T @ X / X.shape[0])[-1],
            f"X̃ = [X, 1] appends a column of ones: np.hstack([X, np.ones((m, 1))]); {bound}",
        ),
        Mistake(
            "you centred X (the covariance matrix): that is the Hessian when b is held at "
            "its optimum. Gradient descent moves b too and sees the uncentred matrix, whose "
            "λ_max is larger when the features are far from 0",
            lambda X: 2.0 / eig(np.cov(X.T, bias=True).reshape(X.shape[1], X.shape[1]))[-1],
            f"no mean is subtracted: {bound}",
        ),
        Mistake(
            "you took a square root: the bound uses an eigenvalue of the Hessian itself, not "
            "a singular value (the square root of one)",
            lambda X: 2.0 / np.sqrt(eig(_hessian(X))[-1]),
            f"the largest singular value of X̃/√m is √λ_max: {bound}",
        ),
        Mistake(
            "you used a singular value of X̃: it is the square root of an eigenvalue of "
            "X̃ᵀX̃, without the 1/m. The bound needs the largest eigenvalue of the Hessian",
            lambda X: 2.0 / np.linalg.svd(_with_ones(X), compute_uv=False)[0],
            f"σ_max(X̃)²/m is λ_max of (1/m) X̃ᵀX̃: {bound}",
        ),
        Mistake(
            "you used the largest diagonal entry of the Hessian (the largest mean of x_j²): "
            "λ_max also counts how the features are coupled (the off-diagonal entries), so "
            "it can be larger",
            lambda X: 2.0 / np.max(np.diag(_hessian(X))),
            f"{bound}: np.linalg.eigvalsh(H)[-1] is λ_max",
        ),
    ]


def stable_lr_cases() -> list[Case]:
    return [
        # first: np.linalg.eig's last eigenvalue here is neither the smallest nor the
        # largest, so taking it gets its own hint, apart from taking the smallest
        Case(
            "X (50, 3) with correlated features",
            (_data(51, 50, (1.0, -2.0, 0.3), (3.0, 1.0, 0.5), corr=0.8),),
        ),
        Case(
            "X (30, 2): features away from 0, on different scales",
            (_data(41, 30, (5.0, 2.0), (2.5, 0.5)),),
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
        advice=ADVICE_LR,
    )
