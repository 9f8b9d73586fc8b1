"""The lesson-02 checkers: correct functions pass, every typical mistake is rejected
with a hint that names it. Hostile functions (raising, looping, exiting, ...):
tests/test_checks_hostile.py."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib.checks import CheckResult
from course_lib.checks.descent import check_gradient_descent_step, check_largest_stable_lr
from course_lib.descent import gradient_descent_step, largest_stable_lr


# --------------------------------------------------------------------------- correct code
def step_plain(X, y, w, b, lr):
    m = X.shape[0]
    r = X @ w + b - y
    return w - lr * (X.T @ r) / m, b - lr * r.sum() / m


def step_loops(X, y, w, b, lr):
    m, n = X.shape
    r = [sum(X[i, j] * w[j] for j in range(n)) + b - y[i] for i in range(m)]
    dw = [sum(X[i, j] * r[i] for i in range(m)) / m for j in range(n)]
    db = sum(r) / m
    return np.array([w[j] - lr * dw[j] for j in range(n)]), b - lr * db


def step_augmented(X, y, w, b, lr):
    # theta = (w, b) with a column of ones: one matrix product for both gradients
    X1 = np.hstack([X, np.ones((X.shape[0], 1))])
    theta = np.append(w, b)
    theta = theta - lr * X1.T @ (X1 @ theta - y) / len(y)
    return theta[:-1], theta[-1]


def lr_plain(X):
    m = X.shape[0]
    X1 = np.hstack([X, np.ones((m, 1))])
    return 2 / np.linalg.eigvalsh(X1.T @ X1 / m)[-1]


def lr_svd(X):
    # singular values of X1 / sqrt(m) squared are the Hessian's eigenvalues
    X1 = np.column_stack([X, np.ones(len(X))]) / np.sqrt(len(X))
    return 2 / np.linalg.svd(X1, compute_uv=False)[0] ** 2


def lr_eig_unsorted(X):
    X1 = np.c_[X, np.ones(len(X))]
    return 2 / max(np.linalg.eig(X1.T @ X1 / len(X))[0].real)


@pytest.mark.parametrize("fn", [gradient_descent_step, step_plain, step_loops, step_augmented])
def test_correct_step_passes(fn):
    result = check_gradient_descent_step(fn)
    assert isinstance(result, CheckResult) and result, str(result)
    assert result.cases_run == 4 and result.assert_ok() is result


@pytest.mark.parametrize("fn", [largest_stable_lr, lr_plain, lr_svd, lr_eig_unsorted])
def test_correct_lr_passes(fn):
    result = check_largest_stable_lr(fn)
    assert result, str(result)
    assert result.cases_run == 4


# --------------------------------------------------------------------------- typical mistakes
def step_sign(X, y, w, b, lr):
    r = y - (X @ w + b)  # y - y_hat, then still subtracted
    return w - lr * X.T @ r / len(y), b - lr * r.mean()


def step_no_mean(X, y, w, b, lr):
    r = X @ w + b - y
    return w - lr * X.T @ r, b - lr * r.sum()


def step_sequential(X, y, w, b, lr):
    m = len(y)
    w = w - lr * X.T @ (X @ w + b - y) / m
    b = b - lr * np.mean(X @ w + b - y)  # uses the new w
    return w, b


def step_factor_two(X, y, w, b, lr):
    r = X @ w + b - y
    return w - lr * 2 * X.T @ r / len(y), b - lr * 2 * r.mean()


def step_no_bias(X, y, w, b, lr):
    r = X @ w - y
    return w - lr * X.T @ r / len(y), b - lr * r.mean()


def step_b_frozen(X, y, w, b, lr):
    r = X @ w + b - y
    return w - lr * X.T @ r / len(y), b


def step_no_lr(X, y, w, b, lr):
    r = X @ w + b - y
    return w - X.T @ r / len(y), b - r.mean()


def step_over_n(X, y, w, b, lr):
    r = X @ w + b - y
    return w - lr * X.T @ r / X.shape[1], b - lr * r.mean()


def step_in_place(X, y, w, b, lr):
    r = X @ w + b - y
    w -= lr * X.T @ r / len(y)  # writes into the caller's w
    return w, b - lr * r.mean()


def step_only_w(X, y, w, b, lr):
    return w - lr * X.T @ (X @ w + b - y) / len(y)


def step_elementwise(X, y, w, b, lr):
    r = X @ w + b - y
    return w - lr * (X * r).mean(axis=0), b - lr * r.mean()  # (m, n) * (m,): no fit


def step_transposed(X, y, w, b, lr):
    r = X @ w + b - y
    return w - lr * X @ r / len(y), b - lr * r.mean()  # fails on shapes


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (step_sign, ["sign error", "against the gradient"]),
        (step_no_mean, ["m times too large", "average"]),
        (step_sequential, ["already updated w", "old (w, b)"]),
        (step_factor_two, ["twice", "½(ŷ − y)²"]),
        (step_no_bias, ["b is missing from the prediction"]),
        (step_b_frozen, ["b was not updated"]),
        (step_no_lr, ["learning rate is missing"]),
        (step_over_n, ["number of features n instead of the number of examples m"]),
        (step_in_place, ["modified its input w"]),
        (step_only_w, ["return 2 values"]),
        (step_transposed, ["raised ValueError", "A has 2 columns but B has 6 rows"]),
        (step_elementwise, ["could not be broadcast", "takes a matrix product"]),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_step_mistakes_are_named(fn, words):
    result = check_gradient_descent_step(fn)
    assert not result
    for w in words:
        assert w in result.hint, result.hint
    if fn in CAUGHT_ON_THE_FIRST_CASE:
        assert result.cases_run == 0
    with pytest.raises(AssertionError, match="Hint"):
        result.assert_ok()


def _h(X):
    X1 = np.hstack([X, np.ones((len(X), 1))])
    return X1.T @ X1 / len(X)


def lr_lambda_min(X):
    return 2 / np.linalg.eigvalsh(_h(X))[0]


def lr_eig_unsorted(X):
    return 2 / np.linalg.eig(_h(X))[0][-1]  # eig does not sort: not always the largest


def lr_no_two(X):
    return 1 / np.linalg.eigvalsh(_h(X))[-1]


def lr_no_half_in_loss(X):
    # Hessian of (1/m) sum (y_hat - y)^2: twice as large
    return 2 / np.linalg.eigvalsh(2 * _h(X))[-1]


def lr_no_mean(X):
    X1 = np.hstack([X, np.ones((len(X), 1))])
    return 2 / np.linalg.eigvalsh(X1.T @ X1)[-1]


def lr_no_ones(X):
    return 2 / np.linalg.eigvalsh(X.T @ X / len(X))[-1]


def lr_covariance(X):
    Xc = X - X.mean(0)
    return 2 / np.linalg.eigvalsh(Xc.T @ Xc / len(X))[-1]


def lr_sqrt(X):
    return 2 / np.sqrt(np.linalg.eigvalsh(_h(X))[-1])


def lr_singular_values(X):
    return 2 / np.linalg.svd(np.c_[X, np.ones(len(X))], compute_uv=False)[0]


def lr_diagonal(X):
    return 2 / _h(X).diagonal().max()


def lr_all_eigenvalues(X):
    return 2 / np.linalg.eigvalsh(_h(X))  # an array instead of the bound


# The first cases are built so that each of these mistakes differs from the answer.
CAUGHT_ON_THE_FIRST_CASE = {
    *(step_sign, step_no_mean, step_sequential, step_factor_two, step_no_lr),
    *(lr_lambda_min, lr_no_two, lr_no_ones, lr_covariance, lr_diagonal),
}


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (lr_lambda_min, ["λ_min", "steepest direction"]),
        (lr_eig_unsorted, ["np.linalg.eig returns the eigenvalues in no particular order"]),
        (lr_no_two, ["factor 2 is missing"]),
        (lr_no_half_in_loss, ["factor 2 is missing"]),
        (lr_no_mean, ["Hessian is m times too large"]),
        (lr_no_ones, ["bias b is missing from the Hessian", "always 1"]),
        (lr_covariance, ["centred", "covariance"]),
        (lr_sqrt, ["square root"]),
        (lr_singular_values, ["singular value of X̃"]),
        (lr_diagonal, ["diagonal entry"]),
        (lr_all_eigenvalues, ["has shape (4,), expected ()"]),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_lr_mistakes_are_named(fn, words):
    result = check_largest_stable_lr(fn)
    assert not result
    for w in words:
        assert w in result.hint, result.hint
    if fn is lr_no_half_in_loss:  # the second level says where else 1/λ_max comes from
        assert "without the ½" in result.more_hint
    if fn in CAUGHT_ON_THE_FIRST_CASE:
        assert result.cases_run == 0
