"""course_lib.descent: costs and gradients against finite differences and scikit-learn,
gradient descent against the step-by-step definition and the quadratic's exact
solution, the learning-rate bound 2/lambda_max, and the raw-vs-normalized measurement."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression
from sklearn.metrics import log_loss, mean_squared_error

from course_lib import descent as D
from course_lib.data import breast_cancer, two_feature_data
from course_lib.normalization import fit_normalizer, normalize


def make_data(seed=0, m=40, n=3, logistic=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(rng.uniform(-3, 3, n), rng.uniform(0.3, 4, n), size=(m, n))
    w_true = rng.normal(size=n)
    if logistic:
        p = D.sigmoid((X - X.mean(0)) / X.std(0) @ w_true)
        y = (rng.uniform(size=m) < p).astype(float)
    else:
        y = X @ w_true + 0.7 + 0.3 * rng.normal(size=m)
    return X, y, rng.normal(size=n), float(rng.normal())


def numeric_gradient(f, w, b, h=1e-6):
    """Central differences of f(w, b) in every coordinate: an oracle that knows no formula."""
    dw = np.zeros_like(w)
    for j in range(len(w)):
        e = np.zeros_like(w)
        e[j] = h
        dw[j] = (f(w + e, b) - f(w - e, b)) / (2 * h)
    return dw, (f(w, b + h) - f(w, b - h)) / (2 * h)


# --------------------------------------------------------------------------- costs, gradients
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_squared_error_gradients_match_finite_differences(seed):
    X, y, w, b = make_data(seed)
    dw, db = D.squared_error_gradients(X, y, w, b)
    ndw, ndb = numeric_gradient(lambda w_, b_: D.squared_error_cost(X, y, w_, b_), w, b)
    np.testing.assert_allclose(dw, ndw, rtol=1e-6, atol=1e-7)
    assert db == pytest.approx(ndb, rel=1e-6, abs=1e-7)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_logistic_gradients_match_finite_differences(seed):
    X, y, w, b = make_data(seed, n=4, logistic=True)
    dw, db = D.logistic_gradients(X, y, w, b)
    ndw, ndb = numeric_gradient(lambda w_, b_: D.logistic_cost(X, y, w_, b_), w, b)
    np.testing.assert_allclose(dw, ndw, rtol=1e-6, atol=1e-8)
    assert db == pytest.approx(ndb, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_numerical_gradients_helper_agrees(loss):
    X, y, w, b = make_data(5, n=2, logistic=loss == "logistic")
    grads = D.squared_error_gradients if loss == "squared" else D.logistic_gradients
    dw, db = grads(X, y, w, b)
    ndw, ndb = D.numerical_gradients(X, y, w, b, loss=loss)
    np.testing.assert_allclose(ndw, dw, rtol=1e-6, atol=1e-8)
    assert ndb == pytest.approx(db, rel=1e-6, abs=1e-8)


def test_costs_match_scikit_learn():
    X, y, w, b = make_data(3)
    # Squared error with the 1/2: half scikit-learn's mean squared error.
    assert D.squared_error_cost(X, y, w, b) == pytest.approx(
        0.5 * mean_squared_error(y, X @ w + b), rel=1e-12
    )
    X, y, w, b = make_data(4, logistic=True)
    p = 1.0 / (1.0 + np.exp(-(X @ w + b)))
    assert D.logistic_cost(X, y, w, b) == pytest.approx(log_loss(y, p), rel=1e-10)


def test_logistic_cost_is_exact_for_huge_logits():
    X = np.array([[1.0], [1.0]])
    y = np.array([1.0, 0.0])
    # z = +-800: log(sigmoid) would be log(0) = -inf; the cost is 800 / 2 exactly.
    assert D.logistic_cost(X, y, np.array([-800.0]), 0.0) == pytest.approx(400.0)
    assert np.isfinite(D.logistic_gradients(X, y, np.array([-800.0]), 0.0)[0]).all()


def test_sigmoid_is_stable_and_correct():
    z = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(D.sigmoid(z), 1.0 / (1.0 + np.exp(-z)), rtol=1e-12, atol=1e-300)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        assert D.sigmoid(np.array([-1e4, 1e4])).tolist() == [0.0, 1.0]


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    lr=st.floats(1e-4, 1.0),
    loss=st.sampled_from(["squared", "logistic"]),
)
def test_step_is_old_params_minus_lr_times_gradient(seed, lr, loss):
    X, y, w, b = make_data(seed, m=12, n=2, logistic=loss == "logistic")
    grads = D.squared_error_gradients if loss == "squared" else D.logistic_gradients
    dw, db = grads(X, y, w, b)
    w_new, b_new = D.gradient_descent_step(X, y, w, b, lr, loss=loss)
    np.testing.assert_allclose(w_new, w - lr * dw, rtol=1e-12, atol=1e-14)
    assert b_new == pytest.approx(b - lr * db, rel=1e-12, abs=1e-14)
    # w given as a (1, n) row, which every function accepts: the new w is still (n,)
    w_row, _ = D.gradient_descent_step(X, y, w.reshape(1, -1), b, lr, loss=loss)
    assert w_row.shape == w.shape
    np.testing.assert_array_equal(w_row, w_new)


# --------------------------------------------------------------------------- gradient descent
@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_path_follows_the_step_and_records_costs(loss):
    X, y, _, _ = make_data(5, m=20, n=2, logistic=loss == "logistic")
    w0, b0 = np.array([0.3, -0.2]), 0.1
    path = D.gradient_descent(X, y, 0.05, 6, loss=loss, w0=w0, b0=b0)
    assert path.w.shape == (7, 2) and path.b.shape == (7,) and path.cost.shape == (7,)
    assert path.steps == 6 and not path.diverged and not path.reached
    cost = D.squared_error_cost if loss == "squared" else D.logistic_cost
    w, b = w0, b0
    for t in range(7):
        np.testing.assert_allclose(path.w[t], w, rtol=1e-12, atol=1e-14)
        assert path.b[t] == pytest.approx(b, rel=1e-12, abs=1e-14)
        assert path.cost[t] == pytest.approx(cost(X, y, w, b), rel=1e-12)
        w, b = D.gradient_descent_step(X, y, w, b, 0.05, loss=loss)


def test_zero_steps_and_target_cost():
    X, y, _, _ = make_data(6)
    start = D.gradient_descent(X, y, 0.01, 0)
    assert start.steps == 0 and np.all(start.w == 0) and start.b[0] == 0.0
    H = D.squared_error_hessian(X)
    full = D.gradient_descent(X, y, D.optimal_lr(H), 300)
    target = full.cost[40]
    cut = D.gradient_descent(X, y, D.optimal_lr(H), 300, target_cost=target)
    assert cut.reached and cut.cost[-1] <= target and cut.steps <= 40
    assert np.all(cut.cost[:-1] > target)


def _lr_bound_setup(seed=7):
    X, y, _, _ = make_data(seed, m=60, n=2)
    H = D.squared_error_hessian(X)
    w_star, b_star, j_min = D.least_squares(X, y)
    return X, y, H, D.stable_lr_bound(H), w_star, b_star, j_min


def test_gd_converges_below_two_over_lambda_max():
    X, y, H, bound, w_star, b_star, j_min = _lr_bound_setup()
    lam = np.linalg.eigvalsh(H)
    steps = D.iterations_bound(lam[-1] / lam[0], 1e-10) * 3  # 0.99 x bound is slower
    path = D.gradient_descent(X, y, 0.99 * bound, steps)
    assert not path.diverged
    assert path.cost[-1] - j_min <= 1e-8 * (path.cost[0] - j_min)
    np.testing.assert_allclose(path.w[-1], w_star, rtol=1e-3, atol=1e-4)
    assert path.b[-1] == pytest.approx(b_star, rel=1e-3, abs=1e-4)
    # Below the bound the quadratic's cost never goes up.
    assert np.all(np.diff(path.cost) <= 1e-12 * path.cost[0])


def test_gd_diverges_above_two_over_lambda_max():
    X, y, H, bound, *_ = _lr_bound_setup()
    path = D.gradient_descent(X, y, 1.05 * bound, 3000)
    assert path.diverged and path.steps < 3000
    assert path.cost[-1] > 1e10 * path.cost[0]
    # Just above the bound the growth per step tends to (1.05 * 2 - 1)^2 = 1.21.
    ratios = path.cost[-5:] / path.cost[-6:-1]
    np.testing.assert_allclose(ratios, 1.1**2, rtol=1e-3)


def test_least_squares_matches_scikit_learn():
    X, y, _, _ = make_data(8, m=50, n=4)
    w, b, j_min = D.least_squares(X, y)
    ref = LinearRegression().fit(X, y)
    np.testing.assert_allclose(w, ref.coef_, rtol=1e-9, atol=1e-10)
    assert b == pytest.approx(ref.intercept_, rel=1e-9)
    assert j_min == pytest.approx(D.squared_error_cost(X, y, ref.coef_, ref.intercept_), rel=1e-9)


# --------------------------------------------------------------------------- the Hessian
def test_hessian_matches_finite_differences_of_the_gradient():
    X, y, w, b = make_data(9, n=3)
    H = D.squared_error_hessian(X)
    theta = np.append(w, b)

    def grad(t):
        dw, db = D.squared_error_gradients(X, y, t[:-1], t[-1])
        return np.append(dw, db)

    h = 1e-5
    num = np.column_stack(
        [(grad(theta + h * e) - grad(theta - h * e)) / (2 * h) for e in np.eye(len(theta))]
    )
    np.testing.assert_allclose(H, num, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(
        D.squared_error_hessian(X, fit_intercept=False), H[:-1, :-1], rtol=1e-14
    )


def test_condition_number_and_bounds_from_eigenvalues():
    X, *_ = make_data(10, n=3)
    H = D.squared_error_hessian(X)
    assert D.condition_number(H) == pytest.approx(np.linalg.cond(H), rel=1e-8)
    lam_max = np.linalg.norm(H, 2)  # spectral norm = lambda_max for a PSD matrix
    assert D.stable_lr_bound(H) == pytest.approx(2 / lam_max, rel=1e-10)
    assert D.largest_stable_lr(X) == pytest.approx(2 / lam_max, rel=1e-10)
    lam_min = 1 / np.linalg.norm(np.linalg.inv(H), 2)
    assert D.optimal_lr(H) == pytest.approx(2 / (lam_min + lam_max), rel=1e-8)
    assert D.condition_number(np.diag([1.0, 0.0])) == math.inf


def test_standardized_uncorrelated_features_have_condition_number_near_one():
    rng = np.random.default_rng(11)
    X = rng.normal([50.0, -3.0, 0.01], [200.0, 0.01, 3.0], size=(20_000, 3))
    assert D.condition_number(D.squared_error_hessian(X)) > 1e6
    mu, sigma = fit_normalizer(X)
    kappa = D.condition_number(D.squared_error_hessian(normalize(X, mu, sigma)))
    assert 1.0 <= kappa < 1.1


def test_normalization_condition_numbers_steps():
    X = two_feature_data().X_train
    k = D.normalization_condition_numbers(X)
    assert set(k) == {"raw", "centred", "scaled", "normalized"}
    assert k["raw"] > k["centred"] > k["normalized"]
    assert k["raw"] > k["scaled"] > k["normalized"]
    # Centred: b decouples, so kappa is that of the covariance block (with the 1 for b).
    mu, sigma = fit_normalizer(X)
    C = np.cov(X.T, bias=True)
    lam = np.append(np.linalg.eigvalsh(C), 1.0)
    assert k["centred"] == pytest.approx(lam.max() / lam.min(), rel=1e-9)


# --------------------------------------------------------------------------- iterations
def test_quadratic_iterations_equals_the_measured_count():
    X, y, H, bound, w_star, b_star, j_min = _lr_bound_setup(12)
    e0 = -np.append(w_star, b_star)  # the start theta = 0 minus the optimum
    for factor in (0.3, 0.9, 0.99):
        lr = factor * bound
        expected = D.quadratic_iterations(H, e0, lr, 1e-6)
        path = D.gradient_descent(X, y, lr, expected + 5)
        assert D.iterations_to_tolerance(path.cost, j_min, 1e-6) == expected
    assert D.quadratic_iterations(H, e0, 1.01 * bound, 1e-6) is None


def test_iterations_bound_is_a_guarantee_at_the_optimal_rate():
    X, y, H, _, w_star, b_star, j_min = _lr_bound_setup(13)
    kappa = D.condition_number(H)
    bound = D.iterations_bound(kappa, 1e-6)
    path = D.gradient_descent(X, y, D.optimal_lr(H), bound)
    measured = D.iterations_to_tolerance(path.cost, j_min, 1e-6)
    assert measured is not None and measured <= bound
    assert D.iterations_bound(1.0) == 1 and D.iterations_bound(50.0, 2.0) == 0
    # kappa/4 ln(1/tol) for large kappa
    assert D.iterations_bound(1e4, 1e-6) == pytest.approx(1e4 / 4 * math.log(1e6), rel=1e-3)


def test_iterations_to_tolerance():
    costs = np.array([11.0, 6.0, 3.0, 1.5, 1.01, 1.0001])
    assert D.iterations_to_tolerance(costs, 1.0, 0.1) == 3
    assert D.iterations_to_tolerance(costs, 1.0, 0.02) == 4
    assert D.iterations_to_tolerance(costs, 1.0, 1e-6) is None
    assert D.iterations_to_tolerance(costs, 1.0, 1.0) == 0


# --------------------------------------------------------------------------- the measurement
@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_vectorized_search_equals_separate_runs(l2):
    X, y, _, _ = make_data(14, m=30, n=2, logistic=True)
    lrs = np.array([0.1, 1.0, 5.0, 400.0])
    got, last = D._iterations_for_lrs(X, y, lrs, "logistic", 0.45, 500, l2)
    for lr, its, end in zip(lrs, got, last, strict=True):
        path = D.gradient_descent(X, y, lr, 500, loss="logistic", target_cost=0.45, l2=l2)
        assert its == (path.steps if path.reached else None)
        if path.diverged:
            assert end == np.inf
        elif lr <= 1.0:
            # (The two large rates bounce chaotically: their last costs depend on the
            # order of the sums in a matrix product, which differs between the two.)
            assert end == pytest.approx(path.cost[-1], rel=1e-9)


# --------------------------------------------------------------------------- the L2 penalty
@pytest.mark.parametrize("seed", [0, 1])
def test_penalized_logistic_gradients_match_finite_differences(seed):
    X, y, w, b = make_data(seed, n=4, logistic=True)
    dw, db = D.logistic_gradients(X, y, w, b, l2=0.3)
    ndw, ndb = D.numerical_gradients(X, y, w, b, loss="logistic", l2=0.3)
    np.testing.assert_allclose(dw, ndw, rtol=1e-6, atol=1e-9)
    assert db == pytest.approx(ndb, rel=1e-6, abs=1e-9)
    # The penalty adds l2/2 ||w||^2 to the cost and l2 w to dw; b is not penalized.
    assert D.logistic_cost(X, y, w, b, 0.3) == pytest.approx(
        D.logistic_cost(X, y, w, b) + 0.15 * w @ w, rel=1e-14
    )
    np.testing.assert_allclose(dw - D.logistic_gradients(X, y, w, b)[0], 0.3 * w, rtol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("C", [1.0, 0.05])
def test_logistic_minimum_matches_scikit_learn(C):
    """scikit-learn's LogisticRegression(C) minimizes m x the penalized cost with
    l2 = 1/(C m) (b not penalized): the same minimum, found by another method."""
    from sklearn.linear_model import LogisticRegression

    cancer = breast_cancer()
    X = normalize(cancer.X_train, *fit_normalizer(cancer.X_train))
    y = cancer.y_train
    l2 = 1.0 / (C * len(y))
    w, b, j = D.logistic_minimum(X, y, l2)
    sk = LogisticRegression(C=C, tol=1e-12, max_iter=100_000).fit(X, y)
    np.testing.assert_allclose(w, sk.coef_[0], rtol=1e-5, atol=1e-6)
    assert b == pytest.approx(sk.intercept_[0], rel=1e-5, abs=1e-6)
    assert j == pytest.approx(D.logistic_cost(X, y, w, b, l2), rel=1e-15)
    assert j <= D.logistic_cost(X, y, sk.coef_[0], sk.intercept_[0], l2)
    dw, db = D.logistic_gradients(X, y, w, b, l2)  # the gradient vanishes at the minimum
    assert np.abs(dw).max() < 1e-10 and abs(db) < 1e-10


def test_logistic_minimum_on_badly_scaled_separable_data():
    """Newton's method does not care about the scales: the raw breast-cancer features
    (separable, spreads 1e5 apart) give the minimum where the gradient vanishes."""
    cancer = breast_cancer()
    l2 = 1.0 / len(cancer.y_train)
    w, b, j = D.logistic_minimum(cancer.X_train, cancer.y_train, l2)
    dw, db = D.logistic_gradients(cancer.X_train, cancer.y_train, w, b, l2)
    assert np.abs(dw).max() < 1e-8 and abs(db) < 1e-8
    for k in range(3):  # no nearby point is lower
        d = np.random.default_rng(k).normal(size=w.shape) * 1e-4 * np.abs(w).max()
        assert D.logistic_cost(cancer.X_train, cancer.y_train, w + d, b, l2) >= j
    with pytest.raises(ValueError, match="l2 must be > 0"):
        D.logistic_minimum(cancer.X_train, cancer.y_train, 0.0)


def test_compare_iterations_with_a_penalty_converges_to_each_minimum():
    X, y, _, _ = make_data(18, m=60, n=3, logistic=True)
    X = X * np.array([50.0, 1.0, 0.05]) + np.array([100.0, 0.0, 0.0])
    l2 = 0.02
    table = D.compare_iterations(X, y, loss="logistic", l2=l2, max_iter=3000)
    assert "J - J_min <= 1e-06 (J0 - J_min)" in table.criterion
    mu, sigma = fit_normalizer(X)
    for run, A in ((table.raw, X), (table.normalized, normalize(X, mu, sigma))):
        j_min = D.logistic_minimum(A, y, l2)[2]
        steps = run.iterations if run.iterations is not None else 3000
        path = D.gradient_descent(A, y, run.lr, steps, loss="logistic", l2=l2)
        gap = (path.cost - j_min) / (np.log(2) - j_min)
        if run.iterations is None:
            assert gap[-1] > 1e-6 and run.gap_at_end == pytest.approx(gap[-1], rel=1e-9)
        else:
            assert gap[-1] <= 1e-6 < gap[-2] and run.gap_at_end is None
    assert table.normalized.iterations is not None
    assert table.raw.iterations is None and "did not converge" in str(table)
    with pytest.raises(ValueError, match="l2 > 0"):
        D.compare_iterations(X, y, loss="logistic")
    with pytest.raises(ValueError, match="penalty of the logistic cost"):
        D.compare_iterations(X, y, l2=0.1)


def test_compare_iterations_on_the_synthetic_set():
    split = two_feature_data()
    table = D.compare_iterations(split.X_train, split.y_train, dataset="synthetic")
    raw, nrm = table.raw, table.normalized
    assert raw.iterations > 10 * nrm.iterations
    assert table.ratio == pytest.approx(raw.iterations / nrm.iterations)
    assert not table.ratio_is_lower_bound
    assert raw.condition_number > 100 > 2 > nrm.condition_number
    # The chosen run is the best of those tried, and it is what a plain run gives.
    for run, A in ((raw, split.X_train), (nrm, None)):
        assert run.iterations == min(i for _, i in run.tried if i is not None)
        assert run.lr == pytest.approx(run.lr_factor * run.lr_bound)
        if A is None:
            mu, sigma = fit_normalizer(split.X_train)
            A = normalize(split.X_train, mu, sigma)
        _, _, j_min = D.least_squares(A, split.y_train)
        path = D.gradient_descent(A, split.y_train, run.lr, run.iterations + 2)
        assert D.iterations_to_tolerance(path.cost, j_min, 1e-6) == run.iterations
    text = str(table)
    assert "raw" in text and "normalized" in text
    assert table.ratio_text == f"{table.ratio:.0f}" and f"iterations: {table.ratio_text}" in text


def test_compare_iterations_reports_a_lower_bound_when_raw_does_not_finish():
    X, y, _, _ = make_data(15, m=40, n=2, logistic=True)
    X = X * np.array([300.0, 0.01])
    table = D.compare_iterations(
        X, y, loss="logistic", target_cost=0.5, factors=(1.0, 4.0), max_iter=30
    )
    assert table.raw.iterations is None and table.ratio_is_lower_bound
    assert table.ratio == pytest.approx(30 / table.normalized.iterations)
    assert table.ratio_text.startswith(">= ") and "> 30" in str(table)


# --------------------------------------------------------------------------- inputs
def _frozen(*arrays):
    out = []
    for a in arrays:
        a = np.array(a, dtype=float)
        a.flags.writeable = False  # any write into an input raises
        out.append(a)
    return out


def test_no_input_is_modified():
    X, y, w, b = make_data(16, m=20, n=2)
    Xf, yf, wf = _frozen(X, y, w)
    D.squared_error_cost(Xf, yf, wf, b)
    D.squared_error_gradients(Xf, yf, wf, b)
    D.numerical_gradients(Xf, yf, wf, b)
    D.gradient_descent_step(Xf, yf, wf, b, 0.1)
    path = D.gradient_descent(Xf, yf, 0.01, 5, w0=wf)
    assert path.w[0] is not wf and np.array_equal(path.w[0], w)
    D.least_squares(Xf, yf)
    (Hf,) = _frozen(D.squared_error_hessian(Xf))
    D.condition_number(Hf), D.stable_lr_bound(Hf), D.optimal_lr(Hf), D.largest_stable_lr(Xf)
    D.quadratic_iterations(Hf, *_frozen(np.ones(3)), 0.01)
    D.normalization_condition_numbers(Xf)
    D.compare_iterations(Xf, yf, max_iter=50)
    yl = (y > np.median(y)).astype(float)
    (ylf,) = _frozen(yl)
    D.logistic_cost(Xf, ylf, wf, b), D.logistic_gradients(Xf, ylf, wf, b)
    D.compare_iterations(Xf, ylf, loss="logistic", target_cost=0.6, max_iter=20)
    np.testing.assert_array_equal(Xf, X)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda X, y, w: D.squared_error_cost(X[:, 0], y, w, 0.0), "2-D"),
        (lambda X, y, w: D.squared_error_cost(X, y[:-1], w, 0.0), r"y must have shape \(20,\)"),
        (lambda X, y, w: D.squared_error_gradients(X, y, w[:1], 0.0), r"w must have shape \(2,\)"),
        (lambda X, y, w: D.squared_error_cost(X, y, w, np.ones(2)), "b must be a single number"),
        (lambda X, y, w: D.logistic_cost(X, y, w, 0.0), r"y must lie in \[0, 1\]"),
        (lambda X, y, w: D.gradient_descent_step(X, y, w, 0.0, 0.0), "lr must be a positive"),
        (lambda X, y, w: D.gradient_descent_step(X, y, w, 0.0, -0.1), "lr must be a positive"),
        (lambda X, y, w: D.gradient_descent(X, y, 0.0, 5), "lr must be a positive"),
        (lambda X, y, w: D.gradient_descent(X, y, float("nan"), 5), "lr must be a positive"),
        (lambda X, y, w: D.gradient_descent(X, y, 0.1, -1), "steps must be an integer"),
        (lambda X, y, w: D.gradient_descent(X, y, 0.1, 2.5), "steps must be an integer"),
        (lambda X, y, w: D.gradient_descent(X, y, 0.1, 5, loss="hinge"), "loss must be one of"),
        (lambda X, y, w: D.gradient_descent(X, y, 0.1, 5, w0=np.ones(3)), "w0 must have shape"),
        (lambda X, y, w: D.condition_number(np.ones((2, 3))), "square"),
        (lambda X, y, w: D.stable_lr_bound(np.array([[1.0, 2.0], [0.0, 1.0]])), "symmetric"),
        (lambda X, y, w: D.stable_lr_bound(-np.eye(2)), "no positive eigenvalue"),
        (lambda X, y, w: D.iterations_bound(0.5), "kappa must be >= 1"),
        (lambda X, y, w: D.compare_iterations(X, y > 0, loss="logistic"), "target_cost"),
        (lambda X, y, w: D.logistic_cost(X, y > 0, w, 0.0, l2=-1.0), "l2 must be"),
        (lambda X, y, w: D.compare_iterations(X, y, max_iter=0), "max_iter"),
        (lambda X, y, w: D.compare_iterations(X, y, factors=(0.5, -1.0)), "factors"),
        (lambda X, y, w: D.squared_error_cost(X, y + 1j, w, 0.0), "y must hold real numbers"),
        (lambda X, y, w: D.squared_error_cost(X + 0j, y, w, 0.0), "X must hold real numbers"),
        (lambda X, y, w: D.squared_error_cost(X, y, w * 1j, 0.0), "w must hold real numbers"),
    ],
)
def test_bad_input_gives_a_clear_error(call, match):
    X, y, w, _ = make_data(17, m=20, n=2)
    with pytest.raises(ValueError, match=match):
        call(X, y, w)


# --------------------------------------------------------------------------- the lesson's numbers
# Lesson 02 prints iteration counts and a gap. On another CPU the last bits of every
# cost differ; a count is the same there only if the cost does not cross its target
# within round-off of the step where it crosses here. These tests require a wide margin.
MARGIN = 1e-6  # relative; round-off differences are around 1e-13 here


def _assert_crossing_is_clear(gap: np.ndarray, t: int, tol: float = 1e-6) -> None:
    """gap[t] is the first value <= tol, by a margin on both sides."""
    assert gap[t] <= tol * (1 - MARGIN) and gap[t - 1] >= tol * (1 + MARGIN), (
        gap[t - 1],
        gap[t],
    )


def test_lesson_02_synthetic_counts_are_far_from_their_thresholds():
    split = two_feature_data()
    X, y = split.X_train, split.y_train
    table = D.compare_iterations(X, y)
    j_min = D.least_squares(X, y)[2]
    mu, sigma = fit_normalizer(X)
    for run, A in ((table.raw, X), (table.normalized, normalize(X, mu, sigma))):
        for factor, its in run.tried:  # every count of the search, not only the best
            path = D.gradient_descent(A, y, factor * run.lr_bound, its + 1)
            gap = (path.cost - j_min) / (path.cost[0] - j_min)
            _assert_crossing_is_clear(gap, its)
    for kappa in D.normalization_condition_numbers(X).values():
        q = (kappa - 1) / (kappa + 1)
        exact = math.log(1e-6) / (2 * math.log(q)) if kappa > 1 else 1.0
        assert abs(exact - round(exact)) > MARGIN or kappa == 1.0


def test_lesson_02_breast_cancer_numbers_are_far_from_their_thresholds():
    cancer = breast_cancer()
    X, y = cancer.X_train, cancer.y_train
    l2 = 1.0 / len(y)
    table = D.compare_iterations(X, y, loss="logistic", l2=l2, max_iter=10_000)
    nrm = table.normalized
    Z = normalize(X, *fit_normalizer(X))
    j_min = D.logistic_minimum(Z, y, l2)[2]
    path = D.gradient_descent(Z, y, nrm.lr, nrm.iterations + 1, loss="logistic", l2=l2)
    _assert_crossing_is_clear((path.cost - j_min) / (np.log(2) - j_min), nrm.iterations)
    # The raw gap is printed with 2 significant digits: it is not near a rounding edge.
    gap = table.raw.gap_at_end
    digits = gap / 10 ** math.floor(math.log10(gap)) * 10  # e.g. 15.5 for 0.155
    assert abs(digits - math.floor(digits) - 0.5) > 1e-3
    # The best raw rate (lowest final cost) wins clearly over the next one.
    _, last = D._iterations_for_lrs(
        X, y, np.array(D.LOGISTIC_FACTORS) * table.raw.lr_bound, "logistic", -np.inf, 10_000, l2
    )
    best, second = np.sort(last)[:2]
    assert second - best > 1e-6 * best
