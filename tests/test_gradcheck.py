"""The gradient-checking tools against functions whose gradients are known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.batchnorm import batchnorm_backward, batchnorm_forward
from course_lib.gradcheck import (
    BUG_ABOVE,
    CORRECT_BELOW,
    numerical_gradient,
    numerical_gradients,
    relative_error,
    upstream_gradient,
    verdict,
)


@settings(max_examples=25, deadline=None)
@given(
    m=st.integers(1, 5),
    k=st.integers(1, 4),
    n=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_numerical_gradient_of_a_matrix_product(m, k, n, seed):
    # f(X, W) = X @ W: dX = dout @ W.T, dW = X.T @ dout (and f is linear: exact up to rounding)
    rng = np.random.default_rng(seed)
    X, W = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    dout = upstream_gradient((m, n), seed=seed % 1000)
    dX, dW = numerical_gradients(lambda a, b: a @ b, (X, W), dout)
    np.testing.assert_allclose(dX, dout @ W.T, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(dW, X.T @ dout, rtol=1e-8, atol=1e-9)


def test_numerical_gradient_of_elementwise_functions_has_order_h_squared():
    x = np.linspace(-1.5, 2.0, 7).reshape(7, 1)
    dout = upstream_gradient(x.shape, seed=1)
    exact = np.cos(x) * dout
    errors = [np.abs(numerical_gradient(np.sin, x, dout, h=h) - exact).max() for h in (1e-2, 1e-3)]
    # central differences: error ~ h^2 / 6 * |f'''|, so 10x smaller h gives ~100x smaller error
    assert 50 < errors[0] / errors[1] < 200
    assert errors[0] < 1e-4 * np.abs(dout).max()


def test_numerical_gradient_of_a_reduction_to_one_value():
    x = np.array([[1.0, -2.0, 0.5]])
    grad = numerical_gradient(lambda a: np.array([[np.sum(a**3)]]), x, np.array([[2.0]]))
    np.testing.assert_allclose(grad, 2.0 * 3 * x**2, rtol=1e-9)


def test_inputs_are_not_modified_and_float32_is_computed_in_float64():
    x = np.array([[0.3, -1.2], [2.0, 0.7]], dtype=np.float32)
    x_copy = x.copy()
    dout = upstream_gradient(x.shape, seed=2)
    seen = []

    def f(a):
        seen.append(a.dtype)
        return a**2

    grad = numerical_gradient(f, x, dout)
    np.testing.assert_array_equal(x, x_copy)
    assert set(seen) == {np.dtype(np.float64)}
    assert grad.dtype == np.float64
    np.testing.assert_allclose(grad, 2 * x.astype(np.float64) * dout, rtol=1e-8)


def test_a_function_that_modifies_its_argument_does_not_change_the_callers_array():
    x = np.ones((2, 2))

    def f(a):
        a *= 2.0
        return a

    numerical_gradient(f, x, np.ones((2, 2)))
    np.testing.assert_array_equal(x, np.ones((2, 2)))


def test_dout_must_match_the_output_shape():
    with pytest.raises(ValueError, match="dout must have the shape"):
        numerical_gradient(lambda a: a, np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="h must be a positive number"):
        numerical_gradient(lambda a: a, np.ones((2, 3)), np.ones((2, 3)), h=0.0)


def test_upstream_gradient_is_random_reproducible_and_not_ones():
    a, b = upstream_gradient((4, 3), seed=5), upstream_gradient((4, 3), seed=5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, upstream_gradient((4, 3), seed=6))
    assert a.shape == (4, 3) and a.std() > 0.3


def test_a_dout_of_ones_hides_a_wrong_batchnorm_backward():
    # The reason for a random dout: with ones, BN's true dz is 0, and so is the dz of
    # a backward that forgets the variance term; a random dout tells them apart.
    rng = np.random.default_rng(3)
    z, gamma, beta = rng.standard_normal((6, 3)), rng.uniform(0.5, 2, 3), rng.standard_normal(3)
    _, cache = batchnorm_forward(z, gamma, beta)

    def forgot_variance_term(dout):
        m = dout.shape[0]
        return gamma * cache.inv_std * (dout - dout.sum(0) / m)

    def forward(a):
        return batchnorm_forward(a, gamma, beta)[0]

    ones = np.ones_like(z)
    assert np.abs(numerical_gradient(forward, z, ones)).max() < 1e-8
    assert np.abs(forgot_variance_term(ones)).max() < 1e-12  # "agrees" with the numbers
    dout = upstream_gradient(z.shape, seed=4)
    numerical = numerical_gradient(forward, z, dout)
    assert relative_error(batchnorm_backward(dout, cache)[0], numerical) < 1e-8
    assert relative_error(forgot_variance_term(dout), numerical) > 1e-2


# ------------------------------------------------------------------ relative error
def test_relative_error_definition_on_a_small_example():
    a = np.array([1.0, -2.0, 0.0])
    b = np.array([1.1, -2.0, 1e-9])
    # max |a-b| = 0.1; max (|a|+|b|) = 4.0
    assert relative_error(a, b) == pytest.approx(0.1 / 4.0)
    # per element: 0.1/2.1, 0, 1e-9/1e-9 = 1 (an entry near zero dominates)
    assert relative_error(a, b, per_element=True) == pytest.approx(1.0)
    assert relative_error(a[:2], b[:2], per_element=True) == pytest.approx(0.1 / 2.1)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    scale=st.floats(1e-6, 1e6),
    per_element=st.booleans(),
)
def test_relative_error_properties(seed, scale, per_element):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    e = relative_error(a, b, per_element=per_element)
    assert 0.0 <= e <= 1.0
    assert e == relative_error(b, a, per_element=per_element)  # symmetric
    assert relative_error(a, a, per_element=per_element) == 0.0
    # invariant to a common scale
    assert relative_error(scale * a, scale * b, per_element=per_element) == pytest.approx(
        e, rel=1e-9
    )
    # opposite signs are as far apart as possible
    assert relative_error(a, -a, per_element=per_element) == pytest.approx(1.0)


def test_relative_error_edge_cases():
    zeros = np.zeros((2, 2))
    assert relative_error(zeros, zeros) == 0.0
    assert relative_error(zeros, zeros, per_element=True) == 0.0
    assert relative_error(np.empty(0), np.empty(0)) == 0.0
    with pytest.raises(ValueError, match="same shape"):
        relative_error(np.ones(3), np.ones(4))


# ------------------------------------------------------------------ one yardstick
def test_the_yardstick_reads_relative_errors_in_three_bands():
    from course_lib import gradcheck

    assert gradcheck.CORRECT_BELOW == 1e-7 and gradcheck.BUG_ABOVE == 1e-4
    assert [gradcheck.verdict(e) for e in (3e-12, 9.9e-8, 1e-7, 2e-6, 1e-4, 0.3)] == [
        "correct",
        "correct",
        "look closer",
        "look closer",
        "look closer",
        "a bug",
    ]
    assert gradcheck.verdict(float("nan")) == "not a number"
    assert gradcheck.describe_error(4e-12) == "below 1e-07: correct"
    assert gradcheck.describe_error(0.3172) == "3.2e-01: a bug"
    assert gradcheck.describe_error(5.04e-6) == "5.0e-06: look closer"


def test_report_prints_the_verdicts(capsys):
    from course_lib import gradcheck

    gradcheck.report({"dz": 1e-11, "dgamma": 0.25})
    assert capsys.readouterr().out == (
        "  dz      relative error below 1e-07: correct\n  dgamma  relative error 2.5e-01: a bug\n"
    )


def test_correct_backward_is_correct_and_a_missing_eps_says_look_closer():
    """The thresholds hold on batches where round-off is largest (nearly constant units,
    a large eps), and the smallest real mistake (eps forgotten in the backward) lands
    between them."""
    from course_lib import gradcheck

    worst, eps_missing = 0.0, []
    for seed in range(40):
        rng = np.random.default_rng(seed)
        m, n = int(rng.integers(2, 30)), int(rng.integers(1, 5))
        z = rng.normal(rng.uniform(-3, 3, n), 10 ** rng.uniform(-2.5, 1, n), size=(m, n))
        gamma, beta = rng.uniform(0.5, 2, n), rng.normal(size=n)
        eps = 10 ** rng.uniform(-5, -1)
        dout = rng.normal(size=(m, n))
        out, cache = batchnorm_forward(z, gamma, beta, eps)
        num = numerical_gradients(
            lambda z_, g_, b_, e=eps: batchnorm_forward(z_, g_, b_, e)[0], (z, gamma, beta), dout
        )
        dz, dg, db = batchnorm_backward(dout, cache)
        worst = max(worst, *(relative_error(a, b) for a, b in zip((dz, dg, db), num, strict=True)))
        if z.std(0).min() > 0.5 and eps < 1e-4:  # unit-scale data, a small eps
            no_eps = gamma / z.std(0) * (dout - db / m - cache.x_hat * dg / m)
            eps_missing.append(relative_error(no_eps, num[0]))
    assert gradcheck.verdict(worst) == "correct", worst
    assert eps_missing and all(gradcheck.verdict(e) == "look closer" for e in eps_missing)


@settings(max_examples=15, deadline=None)
@given(
    m=st.integers(3, 9),
    n=st.integers(1, 4),
    eps=st.sampled_from([1e-5, 1e-3, 0.5]),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_yardstick_separates_a_correct_batchnorm_backward_from_a_wrong_one(m, n, eps, seed):
    # Correct: ten times below CORRECT_BELOW (room to spare on every CPU). Wrong (the
    # variance path forgotten): far above BUG_ABOVE, on the same random cases.
    rng = np.random.default_rng(seed)
    z = rng.normal(rng.uniform(-3, 3, n), rng.uniform(0.5, 3, n), size=(m, n))
    gamma, beta = rng.uniform(0.5, 2, n), rng.standard_normal(n)
    _, cache = batchnorm_forward(z, gamma, beta, eps)
    dout = upstream_gradient(z.shape, seed=seed % 1000)
    numerical = numerical_gradient(lambda a: batchnorm_forward(a, gamma, beta, eps)[0], z, dout)
    assert relative_error(batchnorm_backward(dout, cache)[0], numerical) < CORRECT_BELOW / 10
    forgot = gamma * cache.inv_std * (dout - dout.sum(0) / m)
    assert relative_error(forgot, numerical) > 10 * BUG_ABOVE


def test_a_tiny_true_gradient_says_look_closer():
    # With two examples and a small eps, x̂ = ±1 almost exactly and the true dz is ~1e-5 of
    # dout: the finite differences' own error is then large relative to it, and a correct
    # backward lands between the two thresholds. With a larger eps (as the checker uses for
    # its batch of two) it is correct again.
    z = np.array([[0.0, 1.0, -2.0], [3.0, -1.0, 2.0]])
    gamma, beta = np.array([1.0, 1.5, 0.5]), np.zeros(3)
    dout = upstream_gradient(z.shape, seed=0)
    errors, sizes = {}, {}
    for eps in (1e-5, 0.5):
        _, cache = batchnorm_forward(z, gamma, beta, eps)
        num = numerical_gradient(lambda a, e=eps: batchnorm_forward(a, gamma, beta, e)[0], z, dout)
        dz = batchnorm_backward(dout, cache)[0]
        errors[eps], sizes[eps] = relative_error(dz, num), np.abs(dz).max() / np.abs(dout).max()
    assert sizes[1e-5] < 1e-4 and verdict(errors[1e-5]) == "look closer"
    assert sizes[0.5] > 1e-2 and errors[0.5] < CORRECT_BELOW / 100
