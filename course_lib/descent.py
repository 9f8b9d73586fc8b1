"""Lesson 02: the cost function (代价函数), gradient descent (梯度下降) and why
normalized inputs let it take larger steps.

Models, for X (m, n) with examples in rows, w (n,), b a number:

    linear regression      y_hat = X w + b
    logistic regression    y_hat = sigmoid(X w + b),  y in [0, 1]

Cost J(w, b) = (1/m) sum_i L(y_hat_i, y_i), with the loss L of one example

    squared error   L = 1/2 (y_hat - y)^2       (this course keeps the 1/2)
    logistic        L = -y log y_hat - (1 - y) log(1 - y_hat)

With these two losses the gradients have the same form:

    dJ/dw = (1/m) X^T (y_hat - y)        dJ/db = (1/m) sum_i (y_hat_i - y_i)

The squared-error cost is a quadratic in theta = (w, b). Its Hessian is

    H = (1/m) X1^T X1,      X1 = [X, 1]  (a column of ones for b),

and one step of gradient descent with learning rate (学习率) alpha multiplies the
error along the i-th eigenvector of H by (1 - alpha * lambda_i). So gradient
descent converges iff alpha < 2 / lambda_max; the slowest direction then shrinks
by at best (kappa - 1) / (kappa + 1) per step, kappa = lambda_max / lambda_min the
condition number: about kappa/4 * ln(1/tol) steps to cut the cost by a factor tol.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from . import gradcheck
from ._validation import as_matrix, as_vector, check_positive, real_array
from .normalization import fit_normalizer, normalize

__all__ = [
    "sigmoid",
    "squared_error_cost",
    "squared_error_gradients",
    "logistic_cost",
    "logistic_gradients",
    "numerical_gradients",
    "gradient_descent_step",
    "DescentPath",
    "gradient_descent",
    "least_squares",
    "logistic_minimum",
    "squared_error_hessian",
    "condition_number",
    "stable_lr_bound",
    "optimal_lr",
    "largest_stable_lr",
    "iterations_to_tolerance",
    "iterations_bound",
    "quadratic_iterations",
    "normalization_condition_numbers",
    "Run",
    "SpeedupTable",
    "compare_iterations",
]

Loss = Literal["squared", "logistic"]
LOSSES = ("squared", "logistic")
DIVERGED = 1e12  # a cost this many times its start (plus 1) counts as diverged


# ------------------------------------------------------------------ input checks
def _float_matrix(X: object, name: str = "X") -> np.ndarray:
    # float64 whatever comes in: descent runs thousands of steps, float32 drifts.
    return as_matrix(X, name).astype(np.float64, copy=False)


def _targets(y: object, m: int, loss: str = "squared") -> np.ndarray:
    arr = real_array(y, "y")
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1 or arr.shape[0] != m:
        raise ValueError(f"y must have shape ({m},), one target per example, got {arr.shape}")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError("y contains NaN or infinite values")
    if loss == "logistic" and (arr.min() < 0 or arr.max() > 1):
        raise ValueError("y must lie in [0, 1] for logistic regression (labels 0 and 1)")
    return arr


def _bias(b: object) -> float:
    try:
        v = float(np.asarray(b, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        raise ValueError(f"b must be a single number, got {b!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"b must be finite, got {v}")
    return v


def _loss_name(loss: str) -> str:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    return loss


def _model_inputs(X, y, w, b, loss="squared"):
    X = _float_matrix(X)
    m, n = X.shape
    return X, _targets(y, m, loss), as_vector(w, "w", n, dtype=np.float64), _bias(b)


# ------------------------------------------------------------------ costs and gradients
def _softplus_sigmoid(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log(1 + e^z) and 1 / (1 + e^-z), element-wise, from one exp(-|z|).

    Neither forms exp of a large number, and both keep full relative precision
    (np.logaddexp gives the first too, but about 20 times slower).
    """
    e = np.exp(-np.abs(z))  # in (0, 1]
    softplus = np.maximum(z, 0.0) + np.log1p(e)
    sig = np.where(z >= 0, 1.0, e) / (1.0 + e)
    return softplus, sig


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-z)), element-wise, without overflow and to full relative precision.

    For z < 0 it is computed as e^z / (1 + e^z), so 1 / (1 + np.exp(-z)) never
    overflows (which it does, with a warning, for z < -709).
    """
    return _softplus_sigmoid(np.asarray(z, dtype=np.float64))[1]


def squared_error_cost(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> float:
    """J(w, b) = (1/m) sum_i 1/2 (x_i . w + b - y_i)^2.

    X: (m, n), y: (m,), w: (n,), b: number. Returns a float.
    """
    X, y, w, b = _model_inputs(X, y, w, b)
    r = X @ w + b - y
    return float(0.5 * np.mean(r * r))


def squared_error_gradients(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float
) -> tuple[np.ndarray, float]:
    """(dJ/dw, dJ/db) of the squared-error cost: ((1/m) X^T r, mean(r)), r = X w + b - y.

    X: (m, n), y: (m,), w: (n,), b: number. Returns dw (n,) and db (float).
    """
    X, y, w, b = _model_inputs(X, y, w, b)
    r = X @ w + b - y
    return X.T @ r / X.shape[0], float(r.mean())


def _l2(l2: object) -> float:
    try:
        v = float(l2)
    except (TypeError, ValueError):
        raise ValueError(f"l2 must be a number >= 0, got {l2!r}") from None
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
    return v


def _penalty(l2: object, loss: str) -> float:
    v = _l2(l2)
    if v and loss != "logistic":
        raise ValueError("l2 is the penalty of the logistic cost; use l2=0 with 'squared'")
    return v


def logistic_cost(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, l2: float = 0.0) -> float:
    """Cross-entropy cost of logistic regression, J = (1/m) sum_i L(sigmoid(z_i), y_i),
    plus the L2 penalty (l2/2) ||w||^2 when l2 > 0 (b is not penalized).

    X: (m, n), y: (m,) in [0, 1], w: (n,), b: number, l2 >= 0; z = X w + b. Uses the
    identity L = log(1 + e^z) - y z, computed without overflow: exact for any z,
    where log(sigmoid(z)) would round to log(0) for z < -40.
    scikit-learn's LogisticRegression(C) minimizes m x this cost with l2 = 1/(C m).
    """
    X, y, w, b = _model_inputs(X, y, w, b, "logistic")
    z = X @ w + b
    return float(np.mean(_softplus_sigmoid(z)[0] - y * z)) + 0.5 * _l2(l2) * float(w @ w)


def logistic_gradients(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, l2: float = 0.0
) -> tuple[np.ndarray, float]:
    """(dJ/dw, dJ/db) of the logistic cost: ((1/m) X^T r + l2 w, mean(r)),
    r = sigmoid(X w + b) - y.

    X: (m, n), y: (m,) in [0, 1], w: (n,), b: number, l2 >= 0 (the penalty's weight).
    Returns dw (n,) and db (float).
    """
    X, y, w, b = _model_inputs(X, y, w, b, "logistic")
    r = sigmoid(X @ w + b) - y
    return X.T @ r / X.shape[0] + _l2(l2) * w, float(r.mean())


_GRADIENTS = {"squared": squared_error_gradients, "logistic": logistic_gradients}


def numerical_gradients(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    b: float,
    loss: Loss = "squared",
    h: float = 1e-6,
    l2: float = 0.0,
) -> tuple[np.ndarray, float]:
    """Central-difference estimate of (dJ/dw, dJ/db), for checking the formulas.

    dJ/dtheta_k ~ (J(theta + h e_k) - J(theta - h e_k)) / (2h), error O(h^2), one
    coordinate at a time (2(n+1) cost evaluations). Shapes as ``*_gradients``;
    l2: the logistic cost's penalty weight.
    """
    loss = _loss_name(loss)
    l2 = _penalty(l2, loss)
    X, y, w, b = _model_inputs(X, y, w, b, loss)

    def cost(w_, b_):
        if loss == "logistic":
            return np.float64(logistic_cost(X, y, w_, float(b_), l2))
        return np.float64(squared_error_cost(X, y, w_, float(b_)))

    dw, db = gradcheck.numerical_gradients(cost, (w, np.float64(b)), np.float64(1.0), h)
    return dw, float(db)


def gradient_descent_step(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, lr: float, loss: Loss = "squared"
) -> tuple[np.ndarray, float]:
    """One step of gradient descent: w - lr * dJ/dw, b - lr * dJ/db.

    X: (m, n), y: (m,), w: (n,), b: number, lr > 0; loss "squared" (J with
    L = 1/2 (y_hat - y)^2) or "logistic". Both gradients are taken at the old
    (w, b). Returns the new w (n,) and b (float); the inputs are not modified.
    """
    lr = check_positive(lr, "lr")
    dw, db = _GRADIENTS[_loss_name(loss)](X, y, w, b)
    w = as_vector(w, "w", len(dw), dtype=np.float64)  # a (1, n) row comes back as (n,)
    return w - lr * dw, _bias(b) - lr * db


# ------------------------------------------------------------------ gradient descent
@dataclass(frozen=True)
class DescentPath:
    """Every iterate of a gradient-descent run, the start included.

    w: (k+1, n), b: (k+1,), cost: (k+1,) with cost[t] = J(w[t], b[t]);
    diverged: the run stopped because the cost overflowed or grew past
    1e12 x (J0 + 1); reached: the run stopped because the cost fell to the target.
    """

    w: np.ndarray
    b: np.ndarray
    cost: np.ndarray
    lr: float
    diverged: bool = False
    reached: bool = False

    @property
    def steps(self) -> int:
        """Number of steps taken (len(cost) - 1)."""
        return len(self.cost) - 1

    def __repr__(self) -> str:
        end = "diverged" if self.diverged else f"J = {self.cost[-1]:.4g}"
        return (
            f"DescentPath({self.steps} steps, lr = {self.lr:.4g}, J0 = {self.cost[0]:.4g}, {end})"
        )


def gradient_descent(
    X: np.ndarray,
    y: np.ndarray,
    lr: float,
    steps: int,
    *,
    loss: Loss = "squared",
    w0: np.ndarray | None = None,
    b0: float = 0.0,
    target_cost: float | None = None,
    l2: float = 0.0,
) -> DescentPath:
    """Batch gradient descent on J(w, b), keeping the whole path.

    X: (m, n), y: (m,); lr > 0; steps >= 0: at most this many updates.
    loss: "squared" or "logistic"; w0: (n,) start (zeros by default), b0: start of b;
    l2: the logistic cost's penalty (l2/2) ||w||^2 (0: none).
    target_cost: stop as soon as J <= target_cost (``reached``). The run also stops
    when the cost overflows or exceeds 1e12 x (J0 + 1) (``diverged``): with
    lr above 2/lambda_max that happens in a few dozen steps.
    Returns a DescentPath; the inputs are not modified.
    """
    loss = _loss_name(loss)
    l2 = _penalty(l2, loss)
    lr = check_positive(lr, "lr")
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    X = _float_matrix(X)
    m, n = X.shape
    y = _targets(y, m, loss)
    w = np.zeros(n) if w0 is None else as_vector(w0, "w0", n, dtype=np.float64).copy()
    b = _bias(b0)
    ws, bs, costs = np.empty((steps + 1, n)), np.empty(steps + 1), np.empty(steps + 1)
    limit = None
    diverged = reached = False
    t = 0
    with np.errstate(over="ignore", invalid="ignore"):
        while True:
            z = X @ w + b
            if loss == "squared":
                r = z - y
                cost = 0.5 * float(r @ r) / m
            else:
                softplus, p = _softplus_sigmoid(z)
                cost = float(np.mean(softplus - y * z)) + 0.5 * l2 * float(w @ w)
                r = p - y
            ws[t], bs[t], costs[t] = w, b, cost
            if limit is None:
                limit = DIVERGED * (abs(cost) + 1.0)
            if not math.isfinite(cost) or cost > limit:
                diverged = True
                break
            if target_cost is not None and cost <= target_cost:
                reached = True
                break
            if t == steps:
                break
            # Both gradients at the old (w, b), then both updates.
            w = w - lr * ((X.T @ r) / m + l2 * w)
            b = b - lr * float(r.mean())
            t += 1
    k = t + 1
    return DescentPath(ws[:k].copy(), bs[:k].copy(), costs[:k].copy(), lr, diverged, reached)


# ------------------------------------------------------------------ the quadratic's geometry
def least_squares(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The minimum of the squared-error cost: (w* (n,), b*, J_min).

    X: (m, n), y: (m,). Solved on centred data (b* = mean(y) - mean(X) . w*),
    which is better conditioned than the raw normal equations.
    """
    X = _float_matrix(X)
    y = _targets(y, X.shape[0])
    mu, y_bar = X.mean(axis=0), y.mean()
    w, *_ = np.linalg.lstsq(X - mu, y - y_bar, rcond=None)
    b = float(y_bar - mu @ w)
    r = X @ w + b - y
    return w, b, float(0.5 * np.mean(r * r))


def logistic_minimum(
    X: np.ndarray, y: np.ndarray, l2: float, max_iter: int = 100
) -> tuple[np.ndarray, float, float]:
    """The minimum of the penalized logistic cost (``logistic_cost`` with l2 > 0):
    (w* (n,), b*, J*), by Newton's method.

    X: (m, n), y: (m,) in [0, 1], l2 > 0. With l2 > 0 the cost is strictly convex and
    has exactly one minimum, even on separable data (where without the penalty it has
    none: the cost keeps falling as w grows). Newton's method uses the exact Hessian,
    (1/m) X1^T diag(p (1 - p)) X1 + l2 on the w block, so it converges in a few
    dozen steps however badly the features are scaled; each step is halved until
    the cost does not rise. Raises ValueError if it has not converged.
    """
    l2 = _l2(l2)
    if l2 <= 0:
        raise ValueError("l2 must be > 0: without a penalty the minimum may not exist")
    X = _float_matrix(X)
    m, n = X.shape
    y = _targets(y, m, "logistic")
    X1 = np.hstack([X, np.ones((m, 1))])
    penalty = np.full(n + 1, l2)
    penalty[-1] = 0.0  # b is not penalized

    def cost(theta: np.ndarray) -> float:
        z = X1 @ theta
        return float(np.mean(_softplus_sigmoid(z)[0] - y * z)) + 0.5 * l2 * float(
            theta[:n] @ theta[:n]
        )

    theta = np.zeros(n + 1)
    j = cost(theta)
    for _ in range(max_iter):
        p = _softplus_sigmoid(X1 @ theta)[1]
        grad = X1.T @ (p - y) / m + penalty * theta
        H = (X1 * (p * (1.0 - p))[:, None]).T @ X1 / m + np.diag(penalty)
        step = np.linalg.solve(H, grad)
        t = 1.0
        while True:
            new = theta - t * step
            j_new = cost(new)
            if j_new <= j or t < 1e-10:
                break
            t *= 0.5
        theta, j_old, j = new, j, j_new
        # Newton's decrement: how far the quadratic model says the minimum still is.
        if float(grad @ step) <= 1e-28 * max(1.0, abs(j)) or j_old - j <= 0:
            return theta[:n], float(theta[n]), j
    raise ValueError(f"Newton's method did not converge in {max_iter} steps")


def squared_error_hessian(X: np.ndarray, *, fit_intercept: bool = True) -> np.ndarray:
    """Hessian of the squared-error cost J (with L = 1/2 (y_hat - y)^2).

    X: (m, n). With fit_intercept, the Hessian with respect to theta = (w, b):
    (1/m) X1^T X1 with X1 = [X, 1], shape (n+1, n+1), the last row/column for b.
    Without, the Hessian with respect to w alone: (1/m) X^T X, shape (n, n).
    It does not depend on y, w or b: the cost is a quadratic.
    (With L = (y_hat - y)^2 and no 1/2, every entry doubles.)
    """
    X = _float_matrix(X)
    if fit_intercept:
        X = np.hstack([X, np.ones((X.shape[0], 1))])
    return X.T @ X / X.shape[0]


def _eigenvalues(H: np.ndarray) -> np.ndarray:
    H = _float_matrix(H, "H")
    if H.shape[0] != H.shape[1]:
        raise ValueError(f"H must be a square matrix, got shape {H.shape}")
    if not np.allclose(H, H.T, rtol=1e-10, atol=1e-12 * np.abs(H).max()):
        raise ValueError("H must be symmetric (a Hessian is)")
    return np.linalg.eigvalsh(H)  # ascending


def condition_number(H: np.ndarray) -> float:
    """kappa = lambda_max / lambda_min of a symmetric positive semi-definite H (p, p).

    inf when lambda_min <= 0 (a flat direction: the minimum is not unique).
    """
    lam = _eigenvalues(H)
    if lam[-1] <= 0:
        raise ValueError("H has no positive eigenvalue: not the Hessian of a bowl")
    if lam[0] <= lam[-1] * 1e-15:
        return math.inf
    return float(lam[-1] / lam[0])


def stable_lr_bound(H: np.ndarray) -> float:
    """2 / lambda_max(H): gradient descent on a quadratic with Hessian H (p, p)
    converges for every learning rate below this bound and diverges above it."""
    lam = _eigenvalues(H)
    if lam[-1] <= 0:
        raise ValueError("H has no positive eigenvalue: not the Hessian of a bowl")
    return float(2.0 / lam[-1])


def optimal_lr(H: np.ndarray) -> float:
    """2 / (lambda_min + lambda_max): the fixed learning rate that makes the worst
    per-step contraction factor, max_i |1 - lr lambda_i| = (kappa-1)/(kappa+1), smallest."""
    lam = _eigenvalues(H)
    if lam[-1] <= 0:
        raise ValueError("H has no positive eigenvalue: not the Hessian of a bowl")
    return float(2.0 / (max(lam[0], 0.0) + lam[-1]))


def largest_stable_lr(X: np.ndarray) -> float:
    """The learning-rate bound 2 / lambda_max for linear regression on X (m, n),
    squared error with the 1/2, fitting w and b: H = (1/m) [X, 1]^T [X, 1]."""
    return stable_lr_bound(squared_error_hessian(X))


def iterations_to_tolerance(costs: np.ndarray, j_min: float, tol: float = 1e-6) -> int | None:
    """First t with J_t - J_min <= tol * (J_0 - J_min), or None if never reached.

    costs: (k+1,) the costs along a path, costs[0] the start; j_min: the minimum.
    """
    costs = np.asarray(costs, dtype=np.float64)
    if costs.ndim != 1 or costs.size == 0:
        raise ValueError(f"costs must be a non-empty 1-D array, got shape {costs.shape}")
    tol = check_positive(tol, "tol")
    gap = costs - j_min
    hit = np.flatnonzero(gap <= tol * gap[0])
    return int(hit[0]) if hit.size else None


def iterations_bound(kappa: float, tol: float = 1e-6) -> int:
    """Steps that certainly cut J - J_min by the factor tol on a quadratic with
    condition number kappa, at the learning rate 2/(lambda_min + lambda_max).

    Every eigen-component of the error shrinks by at most q = (kappa-1)/(kappa+1)
    per step, so J - J_min shrinks by at most q^2: t = ceil(ln(1/tol) / (2 ln(1/q))),
    about kappa/4 * ln(1/tol) for large kappa.
    """
    kappa = check_positive(kappa, "kappa")
    tol = check_positive(tol, "tol")
    if kappa < 1:
        raise ValueError(f"kappa must be >= 1, got {kappa}")
    if tol >= 1:
        return 0
    if kappa == 1:
        return 1
    if math.isinf(kappa):
        raise ValueError("kappa is infinite: gradient descent never reaches the tolerance")
    q = (kappa - 1.0) / (kappa + 1.0)
    return math.ceil(math.log(tol) / (2.0 * math.log(q)) - 1e-12)


def quadratic_iterations(
    H: np.ndarray, e0: np.ndarray, lr: float, tol: float = 1e-6, max_iter: int = 10**7
) -> int | None:
    """Exact number of gradient-descent steps to reach J - J_min <= tol (J0 - J_min) on
    the quadratic J(theta) = J_min + 1/2 e^T H e, e = theta - theta*, without running it.

    H: (p, p) symmetric positive definite; e0: (p,) the start's error theta0 - theta*;
    lr > 0. In H's eigenbasis (H = V diag(lambda) V^T, c = V^T e0) gradient descent
    gives J_t - J_min = 1/2 sum_i lambda_i c_i^2 (1 - lr lambda_i)^(2t), a decreasing
    function of t when every |1 - lr lambda_i| < 1: found by bisection.
    None when it is never reached (lr >= 2/lambda_max along a direction the start
    has a component in) or not within max_iter.
    """
    lam, V = np.linalg.eigh(_float_matrix(H, "H"))
    if lam[0] <= 0:
        raise ValueError("H must be positive definite")
    c = V.T @ as_vector(e0, "e0", len(lam), dtype=np.float64)
    lr = check_positive(lr, "lr")
    tol = check_positive(tol, "tol")
    weight = 0.5 * lam * c * c
    live = weight > 0
    if not live.any() or tol >= 1:
        return 0
    weight, log_q = weight[live], np.log(np.abs(1.0 - lr * lam[live]) + 1e-300)
    target = tol * weight.sum()

    def gap(t: int) -> float:
        return float(np.sum(weight * np.exp(2.0 * t * log_q)))

    if np.any(log_q >= 0):
        return None
    if gap(max_iter) > target:
        return None
    lo, hi = 0, max_iter  # gap(lo) > target >= gap(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if gap(mid) <= target:
            hi = mid
        else:
            lo = mid
    return hi


def normalization_condition_numbers(X: np.ndarray) -> dict[str, float]:
    """Condition number of the squared-error Hessian (w and b) after each step of
    lesson 01: {"raw", "centred", "scaled", "normalized"}.

    X: (m, n) training set. "centred" is X - mu, "scaled" is X / sigma (no
    centring), "normalized" is (X - mu) / sigma. Centring decouples b from w
    (the off-diagonal block (1/m) X^T 1 becomes 0); scaling evens out the
    diagonal. Correlations between features are not removed by either.
    """
    X = _float_matrix(X)
    mu, sigma = fit_normalizer(X)
    versions = {
        "raw": X,
        "centred": X - mu,
        "scaled": X / sigma,
        "normalized": normalize(X, mu, sigma),
    }
    return {k: condition_number(squared_error_hessian(v)) for k, v in versions.items()}


# ------------------------------------------------------------------ the measurement
@dataclass(frozen=True)
class Run:
    """The best run of one version of the data (raw or normalized).

    condition_number: of (1/m) X1^T X1 (the squared-error Hessian; for the
    logistic cost, its Hessian at w = 0, b = 0 is this matrix / 4, plus l2 on w);
    lr_bound: 2/lambda_max of the cost's Hessian (squared error), or the step
    2/L with L = lambda_max/4 + l2 that never lets the logistic cost rise;
    lr: the best learning rate found, lr_factor = lr / lr_bound;
    iterations: steps to meet the criterion at lr (None: not within max_iter);
    gap_at_end: when iterations is None and the criterion is relative to a minimum,
    (J - J_min) / (J0 - J_min) after max_iter steps (the best of the rates tried);
    tried: every (factor, iterations or None) of the search.
    """

    data: str
    condition_number: float
    lr_bound: float
    lr: float
    lr_factor: float
    iterations: int | None
    tried: tuple[tuple[float, int | None], ...]
    gap_at_end: float | None = None


@dataclass(frozen=True)
class SpeedupTable:
    """Iterations to converge, raw vs normalized, each at its own best learning rate."""

    dataset: str
    loss: str
    criterion: str
    raw: Run
    normalized: Run
    max_iter: int

    @property
    def ratio(self) -> float:
        """raw iterations / normalized iterations (a lower bound if raw did not finish)."""
        raw = self.raw.iterations if self.raw.iterations is not None else self.max_iter
        if self.normalized.iterations is None:
            return math.nan
        return raw / max(self.normalized.iterations, 1)

    @property
    def ratio_is_lower_bound(self) -> bool:
        return self.raw.iterations is None

    @property
    def ratio_text(self) -> str:
        """The ratio for printing: "516", "3.5", ">= 34" (two significant digits below 100)."""
        r = self.ratio
        text = f"{r:.0f}" if r >= 100 else f"{r:.2g}"
        return (">= " if self.ratio_is_lower_bound else "") + text

    def __str__(self) -> str:
        def its(r: Run) -> str:
            return f"> {self.max_iter}" if r.iterations is None else str(r.iterations)

        head = f"{self.dataset}, {self.loss} loss; converged when {self.criterion}"
        rows = [
            f"{'data':<11}{'kappa(H)':>10}{'lr bound':>11}{'best lr':>11}{'= bound x':>11}"
            f"{'iterations':>12}"
        ]
        for r in (self.raw, self.normalized):
            rows.append(
                f"{r.data:<11}{r.condition_number:>10.2g}{r.lr_bound:>11.3g}{r.lr:>11.3g}"
                f"{r.lr_factor:>11.3g}{its(r):>12}"
            )
        for r in (self.raw, self.normalized):
            if r.gap_at_end is not None:
                rows.append(
                    f"{r.data} did not converge: after {self.max_iter} steps its gap"
                    f" (J - J_min)/(J0 - J_min) was still {r.gap_at_end:.2g}"
                )
        tail = f"ratio raw / normalized iterations: {self.ratio_text}"
        return "\n".join([head, *rows, tail])

    __repr__ = __str__


SQUARED_FACTORS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
LOGISTIC_FACTORS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)


def _iterations_for_lrs(
    X: np.ndarray,
    y: np.ndarray,
    lrs: np.ndarray,
    loss: str,
    target: float,
    max_iter: int,
    l2: float = 0.0,
) -> tuple[list[int | None], np.ndarray]:
    """Steps until J <= target for several learning rates at once, from w = 0, b = 0.

    The same iteration as ``gradient_descent``, one column of W per learning rate
    (a matrix product costs little more than a matrix-vector one); a column stops
    when it reaches the target or diverges. Returns, per learning rate, the steps
    (None: not reached within max_iter) and the last cost (inf: diverged).
    """
    m, n = X.shape
    k = len(lrs)
    W, B = np.zeros((n, k)), np.zeros(k)
    lr = np.asarray(lrs, dtype=np.float64)
    cols = np.arange(k)  # which learning rates are still running
    result: list[int | None] = [None] * k
    last = np.full(k, np.inf)
    limit = None
    yc = y[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(max_iter + 1):
            Z = X @ W + B
            if loss == "squared":
                R = Z - yc
                J = 0.5 * np.mean(R * R, axis=0)
            else:
                softplus, P = _softplus_sigmoid(Z)
                J = np.mean(softplus - yc * Z, axis=0) + 0.5 * l2 * np.sum(W * W, axis=0)
                R = P - yc
            if limit is None:
                limit = DIVERGED * (np.abs(J) + 1.0)
            last[cols] = np.where(np.isfinite(J) & (J <= limit[cols]), J, np.inf)
            done = J <= target
            for c in cols[done]:
                result[c] = t
            keep = ~done & np.isfinite(J) & (J <= limit[cols])
            if not keep.all():
                cols, W, B, R, lr = cols[keep], W[:, keep], B[keep], R[:, keep], lr[keep]
            if cols.size == 0 or t == max_iter:
                break
            W = W - lr * ((X.T @ R) / m + l2 * W)
            B = B - lr * R.mean(axis=0)
    return result, last


def _best_run(
    data: str,
    X: np.ndarray,
    y: np.ndarray,
    loss: str,
    target: float,
    factors: tuple[float, ...],
    max_iter: int,
    l2: float = 0.0,
    minimum: tuple[float, float] | None = None,
) -> Run:
    H = squared_error_hessian(X)
    # Squared error: H is the Hessian itself. Logistic: its Hessian is
    # (1/m) X1^T diag(p(1-p)) X1 + l2 <= H/4 + l2 = L, so 2/L never lets the cost rise.
    lam_max = float(np.linalg.eigvalsh(H)[-1])
    bound = 2.0 / lam_max if loss == "squared" else 2.0 / (lam_max / 4.0 + l2)
    lrs = np.array(factors) * bound
    its, last = _iterations_for_lrs(X, y, lrs, loss, target, max_iter, l2)
    tried = tuple(zip(factors, its, strict=True))
    done = [(i, f) for f, i in tried if i is not None]
    gap = None
    if done:
        iterations, factor = min(done)  # fewest steps; on a tie the smaller rate
    else:
        k = int(np.argmin(last))  # the lowest cost reached; on a tie the smaller rate
        iterations, factor = None, factors[k]
        if minimum is not None and np.isfinite(last[k]):
            j0, j_min = minimum
            gap = float((last[k] - j_min) / (j0 - j_min))
    return Run(data, condition_number(H), bound, factor * bound, factor, iterations, tried, gap)


def compare_iterations(
    X: np.ndarray,
    y: np.ndarray,
    *,
    loss: Loss = "squared",
    tol: float = 1e-6,
    target_cost: float | None = None,
    l2: float = 0.0,
    factors: tuple[float, ...] | None = None,
    max_iter: int = 100_000,
    dataset: str = "data",
) -> SpeedupTable:
    """Measure gradient descent's iterations to converge on raw and on normalized X.

    X: (m, n) training set, y: (m,). The normalized version is (X - mu)/sigma with
    mu, sigma from ``fit_normalizer(X)``. Both runs start from w = 0, b = 0, which
    is the same model in both versions, so both start at the same cost J0.

    Criterion: J - J_min <= tol (J0 - J_min), J_min the version's minimum:
    loss "squared": from ``least_squares`` (the same in both versions: normalizing is
    an invertible change of w and b); loss "logistic" with a penalty l2 > 0: from
    ``logistic_minimum`` (each version its own: the penalty acts on the weights that
    version trains, as scikit-learn's would). Or, with ``target_cost``: J <= target_cost
    (the only criterion without a penalty: on separable data the unpenalized logistic
    cost has no minimum, only an infimum 0).

    Learning-rate search, done the same way for both versions: learning rates
    lr = factor x bound, bound = 2/lambda_max of the squared-error Hessian
    (factors 0.1 ... 0.99 by default, all stable), or for the logistic cost
    bound = 2/L, L = lambda_max/4 + l2, the step that never lets the cost rise
    (factors 1, 2, 4, ... 64, since the true curvature is usually well below L).
    The run with the fewest iterations wins; runs that diverge or do not finish
    within max_iter lose (if none finishes, the one with the lowest cost is reported,
    with its gap to the minimum).
    """
    loss = _loss_name(loss)
    l2 = _penalty(l2, loss)
    X = _float_matrix(X)
    y = _targets(y, X.shape[0], loss)
    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer) or max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    if factors is None:
        factors = SQUARED_FACTORS if loss == "squared" else LOGISTIC_FACTORS
    factors = tuple(check_positive(f, "factors") for f in factors)
    if not factors:
        raise ValueError("factors must not be empty")
    mu, sigma = fit_normalizer(X)
    versions = (("raw", X), ("normalized", normalize(X, mu, sigma)))
    if loss == "squared" and target_cost is None:
        j_min_squared = least_squares(X, y)[2]  # the same minimum in both versions
    runs = []
    for name, A in versions:
        minimum = None
        if target_cost is not None:
            if loss != "logistic":
                raise ValueError("target_cost is for the logistic loss; the squared loss uses tol")
            target = check_positive(target_cost, "target_cost")
            criterion = f"J <= {target:g} (J0 = ln 2 = 0.693)"
        else:
            tol = check_positive(tol, "tol")
            if loss == "squared":
                j_min = j_min_squared
                j0 = float(0.5 * np.mean(y * y))  # w = 0, b = 0 predicts 0
            elif l2 > 0:
                j_min = logistic_minimum(A, y, l2)[2]
                j0 = math.log(2.0)  # w = 0, b = 0 predicts 1/2 for every example
            else:
                raise ValueError(
                    "the logistic loss needs l2 > 0 (a minimum to converge to) or a target_cost"
                )
            target = j_min + tol * (j0 - j_min)
            minimum = (j0, j_min)
            criterion = f"J - J_min <= {tol:g} (J0 - J_min)"
        runs.append(_best_run(name, A, y, loss, target, factors, max_iter, l2, minimum))
    if loss == "logistic" and l2 > 0 and target_cost is None:
        criterion += f", J with the penalty {l2:.3g}/2 ||w||², J_min each version's own"
    return SpeedupTable(dataset, loss, criterion, runs[0], runs[1], int(max_iter))
