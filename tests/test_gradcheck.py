"""The gradient-checking tools against functions whose gradients are known in closed form."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.batchnorm import batchnorm_backward, batchnorm_forward
from course_lib.gradcheck import (
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


# ------------------------------------------------------------------ the yardstick
def test_the_yardstick_is_read_as_a_bound_below_and_as_digits_above():
    assert CORRECT_BELOW == 1e-6
    assert verdict(0.0) == verdict(3e-9) == verdict(9.9e-7) == "below 1e-06, correct"
    assert verdict(CORRECT_BELOW) == "1.0e-06, WRONG"
    assert verdict(0.0312) == "3.1e-02, WRONG"
    assert verdict(float("nan")) == "nan, WRONG"


@settings(max_examples=15, deadline=None)
@given(
    m=st.integers(3, 9),
    n=st.integers(1, 4),
    eps=st.sampled_from([1e-5, 1e-3, 0.5]),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_yardstick_separates_a_correct_batchnorm_backward_from_a_wrong_one(m, n, eps, seed):
    # Correct: 100 times below the yardstick (room to spare on every CPU). Wrong (the
    # variance path forgotten): 100 times above it, on the same random cases.
    rng = np.random.default_rng(seed)
    z = rng.normal(rng.uniform(-3, 3, n), rng.uniform(0.5, 3, n), size=(m, n))
    gamma, beta = rng.uniform(0.5, 2, n), rng.standard_normal(n)
    _, cache = batchnorm_forward(z, gamma, beta, eps)
    dout = upstream_gradient(z.shape, seed=seed % 1000)
    numerical = numerical_gradient(lambda a: batchnorm_forward(a, gamma, beta, eps)[0], z, dout)
    assert relative_error(batchnorm_backward(dout, cache)[0], numerical) < CORRECT_BELOW / 100
    forgot = gamma * cache.inv_std * (dout - dout.sum(0) / m)
    assert relative_error(forgot, numerical) > 100 * CORRECT_BELOW


def test_the_yardstick_needs_a_gradient_that_is_not_tiny():
    # With two examples and a small eps, x̂ = ±1 almost exactly and the true dz is ~1e-5 of
    # dout: the finite differences' own error (~1e-11) is then large relative to it, and a
    # correct backward comes close to the yardstick (or above it). Check such cases with a
    # larger eps, as the checker does.
    z = np.array([[0.0, 1.0, -2.0], [3.0, -1.0, 2.0]])
    gamma, beta = np.array([1.0, 1.5, 0.5]), np.zeros(3)
    dout = upstream_gradient(z.shape, seed=0)
    errors, sizes = {}, {}
    for eps in (1e-5, 0.5):
        _, cache = batchnorm_forward(z, gamma, beta, eps)
        num = numerical_gradient(lambda a, e=eps: batchnorm_forward(a, gamma, beta, e)[0], z, dout)
        dz = batchnorm_backward(dout, cache)[0]
        errors[eps], sizes[eps] = relative_error(dz, num), np.abs(dz).max() / np.abs(dout).max()
    assert sizes[1e-5] < 1e-4 and errors[1e-5] > CORRECT_BELOW / 10
    assert sizes[0.5] > 1e-2 and errors[0.5] < CORRECT_BELOW / 100
