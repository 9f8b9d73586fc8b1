"""Batch Norm forward and backward (lesson 03) against independent oracles.

Oracles: a per-feature re-derivation in plain Python, central differences
(course_lib.gradcheck, itself tested in test_gradcheck.py), PyTorch's
batch_norm and autograd when torch is installed, and properties that follow
from the formulas (hypothesis).
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from course_lib.batchnorm import (
    BatchNormCache,
    batchnorm_backward,
    batchnorm_backward_staged,
    batchnorm_backward_vectorized,
    batchnorm_forward,
)
from course_lib.gradcheck import numerical_gradients, relative_error

BACKWARDS = [batchnorm_backward, batchnorm_backward_vectorized, batchnorm_backward_staged]


def _batch(m, n, seed, loc=0.0, scale=1.0):
    rng = np.random.default_rng(seed)
    z = loc + scale * rng.standard_normal((m, n))
    gamma = rng.uniform(0.3, 2.0, n) * rng.choice([-1.0, 1.0], n)
    beta = rng.uniform(-2.0, 2.0, n)
    dout = rng.standard_normal((m, n))
    return z, gamma, beta, dout


@st.composite
def batches(draw):
    """Random well-conditioned batches for gradient checks, m = 2 included.

    With m = 2 each feature's x_hat is +-sigma/sqrt(sigma^2 + eps), about +-1
    whatever z is, so dz is of order eps/sigma^2: with eps much smaller than
    sigma^2 a finite-difference check compares rounding noise. For m = 2 eps is
    therefore drawn comparable to sigma^2 (test_two_examples_* covers small eps).
    m = 3 with one feature is nearly as constrained (dz has one degree of freedom),
    and a search over 300 seeds found relative errors up to 3e-8 there with eps = 1e-5.
    """
    m = draw(st.integers(2, 8))
    n = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    loc = draw(st.floats(-2.0, 2.0))
    scale = draw(st.floats(0.5, 3.0))
    if m == 2 or (m == 3 and n == 1):
        eps = draw(st.floats(0.1, 1.0))
    else:
        eps = draw(st.sampled_from([1e-5, 1e-3, 1e-1]))
    return (*_batch(m, n, seed, loc, scale), eps)


# ------------------------------------------------------------------ forward
def _forward_by_hand(z, gamma, beta, eps):
    """The four formulas of the notes, one feature and one example at a time."""
    m, n = z.shape
    out = np.empty((m, n))
    for j in range(n):
        col = [float(v) for v in z[:, j]]
        mu = math.fsum(col) / m
        var = math.fsum((v - mu) ** 2 for v in col) / m
        for i, v in enumerate(col):
            out[i, j] = gamma[j] * (v - mu) / math.sqrt(var + eps) + beta[j]
    return out


@pytest.mark.parametrize("m,n", [(2, 1), (4, 3), (7, 5), (32, 2)])
@pytest.mark.parametrize("eps", [1e-5, 0.3])
def test_forward_matches_the_formulas_computed_by_hand(m, n, eps):
    z, gamma, beta, _ = _batch(m, n, seed=m * 10 + n, loc=3.0, scale=2.0)
    out, cache = batchnorm_forward(z, gamma, beta, eps)
    np.testing.assert_allclose(out, _forward_by_hand(z, gamma, beta, eps), rtol=1e-12, atol=1e-12)
    assert isinstance(cache, BatchNormCache)
    np.testing.assert_allclose(cache.var, z.var(axis=0), rtol=1e-12)  # biased, 1/m
    np.testing.assert_allclose(cache.x_hat, (out - beta) / gamma, rtol=1e-9, atol=1e-12)


def test_default_eps_is_1e_5():
    z, gamma, beta, _ = _batch(5, 3, seed=1, scale=0.01)  # sigma^2 ~ 1e-4: eps visible
    np.testing.assert_allclose(
        batchnorm_forward(z, gamma, beta)[0], _forward_by_hand(z, gamma, beta, 1e-5), rtol=1e-12
    )


def test_bn_undoes_itself_with_gamma_sqrt_var_eps_and_beta_mu():
    z, _, _, _ = _batch(6, 4, seed=2, loc=5.0, scale=3.0)
    eps = 1e-5
    gamma = np.sqrt(z.var(axis=0) + eps)
    beta = z.mean(axis=0)
    out, _ = batchnorm_forward(z, gamma, beta, eps)
    np.testing.assert_allclose(out, z, rtol=1e-12, atol=1e-12)


def test_constant_feature_gives_beta_and_a_finite_gradient():
    z, gamma, beta, dout = _batch(5, 3, seed=3)
    z[:, 1] = 4.2
    out, cache = batchnorm_forward(z, gamma, beta, eps=1e-5)
    np.testing.assert_array_equal(out[:, 1], np.full(5, beta[1]))
    dz, dgamma, dbeta = batchnorm_backward(dout, cache)
    # x_hat = 0 for that feature, so dz = gamma / sqrt(eps) * (dout - mean(dout))
    expected = gamma[1] / np.sqrt(1e-5) * (dout[:, 1] - dout[:, 1].mean())
    np.testing.assert_allclose(dz[:, 1], expected, rtol=1e-12)
    assert dgamma[1] == 0.0
    assert np.all(np.isfinite(dz))


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(2, 40),
    n=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    eps=st.sampled_from([1e-8, 1e-5, 1e-2, 1.0]),
)
def test_output_mean_is_beta_and_variance_gamma2_var_over_var_eps(m, n, seed, eps):
    z, gamma, beta, _ = _batch(m, n, seed, loc=1.0, scale=2.0)
    out, cache = batchnorm_forward(z, gamma, beta, eps)
    var = z.var(axis=0)
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=0), gamma**2 * var / (var + eps), rtol=1e-9)


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(2, 20),
    n=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
    a=st.floats(0.01, 100.0),
    b=st.floats(-100.0, 100.0),
)
def test_scale_and_shift_invariance(m, n, seed, a, b):
    z, gamma, beta, _ = _batch(m, n, seed)
    z = (z - z.mean(0)) / z.std(0)  # every feature has variance 1: eps = 1e-12 is negligible
    out, _ = batchnorm_forward(z, gamma, beta, eps=1e-12)
    out_ab, _ = batchnorm_forward(a * z + b, gamma, beta, eps=1e-12)
    np.testing.assert_allclose(out_ab, out, rtol=1e-7, atol=1e-7)


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(2, 20),
    n=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
    a=st.floats(0.1, 10.0),
    b=st.floats(-10.0, 10.0),
    eps=st.sampled_from([1e-5, 1e-2, 1.0]),
)
def test_scaling_z_by_a_is_dividing_eps_by_a_squared(m, n, seed, a, b, eps):
    # Exact for any eps: BN(a z + b; eps) = BN(z; eps / a^2), because
    # (a z - a mu) / sqrt(a^2 var + eps) = (z - mu) / sqrt(var + eps / a^2).
    z, gamma, beta, _ = _batch(m, n, seed)
    out_ab, _ = batchnorm_forward(a * z + b, gamma, beta, eps)
    out_eps, _ = batchnorm_forward(z, gamma, beta, eps / a**2)
    np.testing.assert_allclose(out_ab, out_eps, rtol=1e-6, atol=1e-9)


def test_scale_invariance_is_broken_only_through_eps():
    # With eps, BN(a z) normalizes by sqrt(a^2 var + eps): equal to BN(z) with eps / a^2.
    z, gamma, beta, _ = _batch(6, 3, seed=4, scale=0.01)
    a, eps = 10.0, 1e-4
    out_scaled, _ = batchnorm_forward(a * z, gamma, beta, eps)
    out_eps, _ = batchnorm_forward(z, gamma, beta, eps / a**2)
    np.testing.assert_allclose(out_scaled, out_eps, rtol=1e-10)
    assert not np.allclose(out_scaled, batchnorm_forward(z, gamma, beta, eps)[0], rtol=1e-3)


def test_negative_scale_flips_the_output():
    z, gamma, beta, _ = _batch(5, 2, seed=5)
    out, _ = batchnorm_forward(z, gamma, beta, eps=1e-12)
    out_neg, _ = batchnorm_forward(-3.0 * z, gamma, beta, eps=1e-12)
    np.testing.assert_allclose(out_neg - beta, -(out - beta), rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------ backward
@pytest.mark.parametrize("backward", BACKWARDS, ids=lambda f: f.__name__)
@settings(max_examples=25, deadline=None)
@given(batch=batches())
@example(batch=(*_batch(2, 3, 0), 0.5))
@example(batch=(*_batch(2, 1, 1, loc=-1.0, scale=0.5), 0.1))
def test_backward_agrees_with_finite_differences(backward, batch):
    z, gamma, beta, dout, eps = batch
    _, cache = batchnorm_forward(z, gamma, beta, eps)
    grads = backward(dout, cache)
    numerical = numerical_gradients(
        lambda z_, g_, b_: batchnorm_forward(z_, g_, b_, eps)[0], (z, gamma, beta), dout
    )
    for name, analytic, num in zip(("dz", "dgamma", "dbeta"), grads, numerical, strict=True):
        assert analytic.shape == num.shape
        err = relative_error(analytic, num)
        assert err < 1e-8, f"{name}: relative error {err:.2e}"


@settings(max_examples=30, deadline=None)
@given(batch=batches())
def test_the_three_backward_forms_agree(batch):
    z, gamma, beta, dout, eps = batch
    _, cache = batchnorm_forward(z, gamma, beta, eps)
    staged = batchnorm_backward_staged(dout, cache)
    for backward in (batchnorm_backward, batchnorm_backward_vectorized):
        for a, b in zip(backward(dout, cache), staged, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "m,n,dtype",
    [(256, 512, np.float64), (256, 512, np.float32), (3000, 7, np.float64), (2, 1000, np.float32)],
)
def test_compiled_backward_matches_the_numpy_form_at_larger_sizes(m, n, dtype):
    # The kernel sums in float64 row after row, numpy pairwise in the array's dtype:
    # both are compared with the numpy form computed in float64.
    z, gamma, beta, dout = _batch(m, n, seed=m + n, loc=0.5, scale=2.0)
    _, cache64 = batchnorm_forward(z, gamma, beta)
    expected = batchnorm_backward_vectorized(dout, cache64)
    _, cache = batchnorm_forward(z.astype(dtype), gamma, beta)
    got = batchnorm_backward(dout.astype(dtype), cache)
    rtol = 1e-12 if dtype == np.float64 else 2e-4
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol * np.abs(e).max())


def _forward_numpy(z, gamma, beta, eps=1e-5):
    """The lesson's four formulas in whole-array numpy, in float64: the compiled
    forward's oracle."""
    z = np.asarray(z, dtype=np.float64)
    mu = z.mean(axis=0)
    var = ((z - mu) ** 2).mean(axis=0)
    x_hat = (z - mu) / np.sqrt(var + eps)
    return gamma * x_hat + beta, x_hat, var


@pytest.mark.parametrize(
    "m,n,dtype,loc",
    [
        (256, 512, np.float64, 0.5),
        (256, 512, np.float32, 0.5),
        (3000, 7, np.float64, -3.0),
        (2, 1000, np.float32, 0.0),
        (64, 16, np.float64, 1e6),  # a mean far from 0: the two-pass variance keeps digits
        (64, 16, np.float32, 1e3),
    ],
)
def test_compiled_forward_matches_the_numpy_formulas(m, n, dtype, loc):
    z, gamma, beta, _ = _batch(m, n, seed=m + n, loc=loc, scale=2.0)
    out_e, x_hat_e, var_e = _forward_numpy(z.astype(dtype), gamma, beta)
    out, cache = batchnorm_forward(z.astype(dtype), gamma, beta)
    # float32: the kernel computes in float64 and rounds once; numpy's float64 oracle
    # of the same float32 batch is exact to about 1e-7 of each value's scale.
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    for got, expected in ((out, out_e), (cache.x_hat, x_hat_e), (cache.var, var_e)):
        assert got.dtype == dtype
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def test_forward_accepts_strided_and_fortran_ordered_z():
    z, gamma, beta, _ = _batch(12, 6, seed=22)
    expected, cache = batchnorm_forward(z, gamma, beta)
    wide = np.zeros((12, 12))
    wide[:, ::2] = z
    for variant in (np.asfortranarray(z), wide[:, ::2]):
        out, got = batchnorm_forward(variant, gamma, beta)
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(got.x_hat, cache.x_hat)


def test_backward_accepts_strided_and_fortran_ordered_dout():
    z, gamma, beta, dout = _batch(12, 6, seed=21)
    _, cache = batchnorm_forward(z, gamma, beta)
    expected = batchnorm_backward(dout, cache)
    wide = np.zeros((12, 12))
    wide[:, ::2] = dout
    for variant in (np.asfortranarray(dout), wide[:, ::2]):
        for g, e in zip(batchnorm_backward(variant, cache), expected, strict=True):
            np.testing.assert_array_equal(g, e)


def test_importing_the_course_does_not_import_numba():
    # numba is imported by the first forward or backward pass, not with the course.
    code = (
        "import sys, course_lib.batchnorm, course_lib.network, course_lib.checks; "
        "assert 'numba' not in sys.modules, 'numba imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(2, 30),
    n=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    eps=st.sampled_from([1e-5, 1e-2, 1.0]),
)
def test_dz_sums_to_zero_and_is_orthogonal_to_x_hat_up_to_eps(m, n, seed, eps):
    z, gamma, beta, dout = _batch(m, n, seed, loc=-1.0, scale=1.5)
    _, cache = batchnorm_forward(z, gamma, beta, eps)
    for backward in BACKWARDS:
        dz, dgamma, _ = backward(dout, cache)
        # rounding is relative to the terms before they cancel: |gamma| / sigma * |dout|
        scale = np.abs(gamma * cache.inv_std) * np.abs(dout).max(axis=0) * m
        # Shift invariance is exact: the column sums vanish.
        assert np.all(np.abs(dz.sum(axis=0)) <= 1e-12 * scale + 1e-300)
        # Scale invariance holds up to eps: sum_i dz_i x_hat_i = gamma dgamma eps/(var+eps)^1.5.
        var = cache.var
        np.testing.assert_allclose(
            (dz * cache.x_hat).sum(axis=0),
            gamma * dgamma * eps / (var + eps) ** 1.5,
            rtol=1e-6,
            atol=1e-12 * scale.max(),
        )


def test_dz_is_orthogonal_to_x_hat_when_eps_is_negligible():
    z, gamma, beta, dout = _batch(16, 4, seed=6, scale=3.0)
    _, cache = batchnorm_forward(z, gamma, beta, eps=1e-12)
    dz, _, _ = batchnorm_backward(dout, cache)
    cosine = (
        (dz * cache.x_hat).sum(0) / np.linalg.norm(dz, axis=0) / np.linalg.norm(cache.x_hat, axis=0)
    )
    assert np.all(np.abs(cosine) < 1e-9)


def test_two_examples_leave_almost_no_gradient_for_z():
    # m = 2: x_hat = +-d/sqrt(d^2 + eps) is nearly +-1 whatever z is, so dz -> 0 with eps.
    z, gamma, beta, dout = _batch(2, 3, seed=7, scale=2.0)
    sizes = []
    for eps in (1e-2, 1e-4, 1e-6):
        _, cache = batchnorm_forward(z, gamma, beta, eps)
        sizes.append(np.abs(batchnorm_backward(dout, cache)[0]).max())
    assert sizes[0] > 50 * sizes[1] > 2500 * sizes[2]


def test_dout_of_ones_gives_zero_dz():
    # sum_i out_i = m * beta for every feature, whatever z: a check with dout = 1 sees nothing.
    z, gamma, beta, _ = _batch(6, 3, seed=8)
    _, cache = batchnorm_forward(z, gamma, beta)
    dz, _, dbeta = batchnorm_backward(np.ones_like(z), cache)
    assert np.abs(dz).max() < 1e-12
    np.testing.assert_allclose(dbeta, np.full(3, 6.0))


def test_against_torch_batch_norm_and_autograd():
    torch = pytest.importorskip("torch")
    z, gamma, beta, dout = _batch(9, 4, seed=9, loc=2.0, scale=1.5)
    eps = 1e-3
    zt, gt, bt = (torch.tensor(a, requires_grad=True) for a in (z, gamma, beta))
    out_t = torch.nn.functional.batch_norm(zt, None, None, gt, bt, training=True, eps=eps)
    out_t.backward(torch.tensor(dout))
    out, cache = batchnorm_forward(z, gamma, beta, eps)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    for backward in BACKWARDS:
        dz, dgamma, dbeta = backward(dout, cache)
        np.testing.assert_allclose(dz, zt.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(dgamma, gt.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(dbeta, bt.grad.numpy(), rtol=1e-10)


# ------------------------------------------------------------------ dtypes and inputs
def test_float32_in_float32_out_and_close_to_float64():
    z, gamma, beta, dout = _batch(16, 5, seed=10, loc=1.0, scale=2.0)
    out64, cache64 = batchnorm_forward(z, gamma, beta)
    z32 = z.astype(np.float32)
    out32, cache32 = batchnorm_forward(z32, gamma.astype(np.float32), beta.astype(np.float32))
    assert out32.dtype == np.float32
    assert all(a.dtype == np.float32 for a in cache32[:4])
    np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-5)
    for backward in BACKWARDS:
        grads32 = backward(dout.astype(np.float32), cache32)
        grads64 = backward(dout, cache64)
        for g32, g64 in zip(grads32, grads64, strict=True):
            assert g32.dtype == np.float32
            np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-4)
        # a float64 dout on a float32 layer still gives float32 gradients
        assert all(g.dtype == np.float32 for g in backward(dout, cache32))


def test_float32_z_with_float64_parameters_stays_float32():
    z, gamma, beta, _ = _batch(4, 3, seed=11)
    out, _ = batchnorm_forward(z.astype(np.float32), gamma, beta)
    assert out.dtype == np.float32


def test_integer_input_and_row_shaped_parameters_are_accepted():
    z = np.array([[1, 2], [3, 6], [5, 10]])
    out, _ = batchnorm_forward(z, np.ones((1, 2)), np.zeros((1, 2)))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, _forward_by_hand(z, [1, 1], [0, 0], 1e-5), rtol=1e-12)


def test_inputs_are_never_modified():
    z, gamma, beta, dout = _batch(5, 3, seed=12)
    gamma_row = gamma.reshape(1, -1)
    copies = [a.copy() for a in (z, gamma_row, beta, dout)]
    _, cache = batchnorm_forward(z, gamma_row, beta)
    cache_copies = [a.copy() for a in cache[:4]]
    for backward in BACKWARDS:
        backward(dout, cache)
    for a, b in zip((z, gamma_row, beta, dout), copies, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(cache[:4], cache_copies, strict=True):
        np.testing.assert_array_equal(a, b)


def test_outputs_do_not_share_memory_with_inputs():
    z, gamma, beta, dout = _batch(4, 3, seed=13)
    out, cache = batchnorm_forward(z, gamma, beta)
    assert not np.shares_memory(out, z)
    assert not np.shares_memory(cache.gamma, gamma)
    dz, _, _ = batchnorm_backward(dout, cache)
    assert not np.shares_memory(dz, dout)


# ------------------------------------------------------------------ errors
def test_one_example_is_an_error_that_explains_why():
    z, gamma, beta, _ = _batch(1, 3, seed=14)
    with pytest.raises(ValueError, match="variance of a single example is 0"):
        batchnorm_forward(z, gamma, beta)


@pytest.mark.parametrize(
    "z,match",
    [
        (np.ones(4), "2-D"),
        (np.ones((2, 3, 1)), "2-D"),
        (np.ones((0, 3)), "empty"),
        (np.array([[1.0, np.nan, 0.0], [2.0, 1.0, 0.0]]), "NaN or infinite"),
        (np.array([[1.0, np.inf, 0.0], [2.0, 1.0, 0.0]]), "NaN or infinite"),
        (np.array([["a", "b", "c"], ["d", "e", "f"]]), "numeric"),
    ],
)
def test_bad_z_is_a_value_error_naming_z(z, match):
    with pytest.raises(ValueError, match=match) as info:
        batchnorm_forward(z, np.ones(3), np.zeros(3))
    assert str(info.value).startswith("z ")


@pytest.mark.parametrize("name", ["gamma", "beta"])
@pytest.mark.parametrize(
    "value,match", [(np.ones(2), r"shape \(3,\)"), (np.ones((3, 3)), "shape"), (np.nan, "shape")]
)
def test_parameter_shape_mismatch(name, value, match):
    params = {"gamma": np.ones(3), "beta": np.zeros(3), name: value}
    with pytest.raises(ValueError, match=match) as info:
        batchnorm_forward(np.ones((4, 3)), **params)
    assert name in str(info.value)


@pytest.mark.parametrize("name", ["gamma", "beta"])
def test_parameter_nan_or_inf(name):
    for bad in (np.nan, np.inf):
        params = {"gamma": np.ones(3), "beta": np.zeros(3)}
        params[name] = np.array([1.0, bad, 1.0])
        with pytest.raises(ValueError, match=f"{name} contains NaN"):
            batchnorm_forward(np.arange(12.0).reshape(4, 3), **params)


@pytest.mark.parametrize("eps", [0.0, -1e-5, np.nan, np.inf, "small"])
def test_eps_must_be_positive(eps):
    with pytest.raises(ValueError, match="eps"):
        batchnorm_forward(np.arange(6.0).reshape(3, 2), np.ones(2), np.zeros(2), eps=eps)


@pytest.mark.parametrize("backward", BACKWARDS, ids=lambda f: f.__name__)
def test_backward_rejects_bad_dout_and_cache(backward):
    z, gamma, beta, dout = _batch(4, 3, seed=15)
    _, cache = batchnorm_forward(z, gamma, beta)
    with pytest.raises(ValueError, match="dout must have the forward output's shape"):
        backward(dout.T, cache)
    with pytest.raises(ValueError, match="dout contains"):
        backward(np.full_like(dout, np.nan), cache)
    one_inf = dout.copy()
    one_inf[2, 1] = np.inf
    with pytest.raises(ValueError, match="dout contains"):
        backward(one_inf, cache)
    with pytest.raises(ValueError, match="dout must be 2-D"):
        backward(dout.ravel(), cache)
    with pytest.raises(ValueError, match="cache must be the BatchNormCache"):
        backward(dout, {"x_hat": cache.x_hat})
    # a plain tuple with the same fields (e.g. after a round trip) is accepted
    np.testing.assert_array_equal(backward(dout, tuple(cache))[0], backward(dout, cache)[0])
