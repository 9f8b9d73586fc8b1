"""Layer Norm, spatial Batch Norm and Group Norm (lesson 06) against independent oracles.

Oracles: plain loops over every set of values that shares statistics (written from
the papers' definitions), lesson 03's Batch Norm on the transposed data, central
differences (course_lib.gradcheck), PyTorch's layer_norm, group_norm and batch_norm
with autograd when torch is installed, and properties that follow from the
definitions (hypothesis): Layer Norm and Instance Norm as Group Norm's two extremes,
invariances, independence of the examples.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import batchnorm as bn
from course_lib import norms
from course_lib.gradcheck import numerical_gradients, relative_error


def _maps(shape, seed, loc=0.0, scale=1.0):
    """x (N, C, H, W) with a different mean and spread per channel, gamma, beta, dout."""
    rng = np.random.default_rng(seed)
    n, c, h, w = shape
    x = rng.normal(rng.uniform(-2, 2, (1, c, 1, 1)), rng.uniform(0.5, 2.5, (1, c, 1, 1)), shape)
    x = loc + scale * x
    gamma = rng.uniform(0.3, 2.0, c) * rng.choice([-1.0, 1.0], c)
    beta = rng.uniform(-2.0, 2.0, c)
    dout = rng.standard_normal(shape)
    return x, gamma, beta, dout


def _rows(m, d, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(rng.uniform(-2, 2, (m, 1)), rng.uniform(0.5, 2.5, (m, 1)), (m, d))
    gamma = rng.uniform(0.3, 2.0, d) * rng.choice([-1.0, 1.0], d)
    beta = rng.uniform(-2.0, 2.0, d)
    return x, gamma, beta, rng.standard_normal((m, d))


# ------------------------------------------------------------------ the definitions, by loops
def _by_hand_normalize(values, eps):
    values = np.asarray(values, dtype=np.float64)
    mu = sum(values.ravel()) / values.size
    var = sum((v - mu) ** 2 for v in values.ravel()) / values.size  # biased: 1/count
    return (values - mu) / np.sqrt(var + eps)


def _layer_by_hand(x, gamma, beta, eps):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = gamma * _by_hand_normalize(x[i], eps) + beta
    return out


def _spatial_bn_by_hand(x, gamma, beta, eps):
    out = np.empty_like(x)
    for c in range(x.shape[1]):
        out[:, c] = gamma[c] * _by_hand_normalize(x[:, c], eps) + beta[c]
    return out


def _group_by_hand(x, gamma, beta, groups, eps):
    n, c, _, _ = x.shape
    size = c // groups
    out = np.empty_like(x)
    for i in range(n):
        for g in range(groups):
            channels = slice(g * size, (g + 1) * size)  # consecutive channels
            out[i, channels] = _by_hand_normalize(x[i, channels], eps)
    return out * gamma[:, None, None] + beta[:, None, None]


@pytest.mark.parametrize("eps", [1e-5, 0.3])
def test_layernorm_equals_the_definition(eps):
    x, gamma, beta, _ = _rows(5, 7, seed=1)
    out, cache = norms.layernorm_forward(x, gamma, beta, eps)
    np.testing.assert_allclose(out, _layer_by_hand(x, gamma, beta, eps), rtol=1e-12, atol=1e-12)
    assert cache.kind == "layer" and cache.inv_std.shape == (5, 1)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 2, 3, 3), (6, 1, 1, 2), (3, 4, 1, 1)])
def test_spatial_batchnorm_equals_the_definition(shape):
    x, gamma, beta, _ = _maps(shape, seed=2)
    out, cache = norms.spatial_batchnorm_forward(x, gamma, beta, eps=1e-3)
    np.testing.assert_allclose(
        out, _spatial_bn_by_hand(x, gamma, beta, 1e-3), rtol=1e-12, atol=1e-12
    )
    assert cache.inv_std.shape == (1, shape[1], 1, 1)


@pytest.mark.parametrize(
    ("shape", "groups"),
    [((2, 6, 3, 4), 3), ((2, 6, 3, 4), 2), ((3, 4, 2, 2), 1), ((1, 4, 5, 1), 4)],
)
def test_groupnorm_equals_the_definition_with_consecutive_channels(shape, groups):
    x, gamma, beta, _ = _maps(shape, seed=3)
    out, cache = norms.groupnorm_forward(x, gamma, beta, groups, eps=1e-4)
    expected = _group_by_hand(x, gamma, beta, groups, 1e-4)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    assert cache.groups == groups and cache.inv_std.shape == (shape[0], groups, 1, 1, 1)


def test_groupnorm_groups_are_consecutive_not_interleaved():
    # channels 0,1 | 2,3: an interleaved grouping (0,2 | 1,3) gives other numbers
    x, gamma, beta, _ = _maps((2, 4, 3, 3), seed=4)
    out = norms.groupnorm_forward(x, gamma, beta, 2)[0]
    perm = [0, 2, 1, 3]
    interleaved = _group_by_hand(x[:, perm], gamma[perm], beta[perm], 2, 1e-5)[:, np.argsort(perm)]
    assert not np.allclose(out, interleaved, atol=1e-3)


# ------------------------------------------------------------------ spatial BN = lesson 03's BN
def test_spatial_batchnorm_is_lesson_03s_batchnorm_after_a_transpose():
    x, gamma, beta, dout = _maps((4, 3, 5, 2), seed=5)
    n, c, h, w = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, c)  # one row per (example, position)
    out2d, cache2d = bn.batchnorm_forward(rows, gamma, beta)
    out, cache = norms.spatial_batchnorm_forward(x, gamma, beta)
    np.testing.assert_allclose(
        out, out2d.reshape(n, h, w, c).transpose(0, 3, 1, 2), rtol=1e-12, atol=1e-12
    )
    d_rows = dout.transpose(0, 2, 3, 1).reshape(-1, c)
    dx2d, dgamma2d, dbeta2d = bn.batchnorm_backward(d_rows, cache2d)
    dx, dgamma, dbeta = norms.spatial_batchnorm_backward(dout, cache)
    np.testing.assert_allclose(
        dx, dx2d.reshape(n, h, w, c).transpose(0, 3, 1, 2), rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(dgamma, dgamma2d, rtol=1e-12)
    np.testing.assert_allclose(dbeta, dbeta2d, rtol=1e-12)
    # reshaping without the transpose mixes channels into one column: not Batch Norm
    wrong = bn.batchnorm_forward(x.reshape(-1, c), gamma, beta)[0].reshape(x.shape)
    assert not np.allclose(wrong, out, atol=1e-3)


# ------------------------------------------------------------------ the extremes of Group Norm
def test_group_norm_with_one_group_is_layer_norm_of_each_example():
    x, gamma, beta, dout = _maps((3, 4, 2, 5), seed=6)
    n, c, h, w = x.shape
    out, cache = norms.groupnorm_forward(x, gamma, beta, groups=1)
    g_rep, b_rep = np.repeat(gamma, h * w), np.repeat(beta, h * w)  # per channel, per position
    out_ln, cache_ln = norms.layernorm_forward(x.reshape(n, -1), g_rep, b_rep)
    np.testing.assert_allclose(out.reshape(n, -1), out_ln, rtol=1e-12, atol=1e-12)
    dx, dgamma, dbeta = norms.groupnorm_backward(dout, cache)
    dx_ln, dg_ln, db_ln = norms.layernorm_backward(dout.reshape(n, -1), cache_ln)
    np.testing.assert_allclose(dx.reshape(n, -1), dx_ln, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dgamma, dg_ln.reshape(c, h * w).sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(dbeta, db_ln.reshape(c, h * w).sum(axis=1), rtol=1e-12)


def test_group_norm_with_c_groups_is_instance_norm():
    """Instance Norm: each example and channel over its H*W positions; the same as
    spatial Batch Norm applied to every example alone (a batch of one)."""
    x, gamma, beta, dout = _maps((3, 4, 3, 2), seed=7)
    out, cache = norms.groupnorm_forward(x, gamma, beta, groups=4)
    for i in range(x.shape[0]):
        alone, alone_cache = norms.spatial_batchnorm_forward(x[i : i + 1], gamma, beta)
        np.testing.assert_allclose(out[i : i + 1], alone, rtol=1e-12, atol=1e-12)
        dx_alone = norms.spatial_batchnorm_backward(dout[i : i + 1], alone_cache)[0]
        dx = norms.groupnorm_backward(dout, cache)[0]
        np.testing.assert_allclose(dx[i : i + 1], dx_alone, rtol=1e-10, atol=1e-12)
    expected = np.empty_like(x)
    for i in range(3):
        for c in range(4):
            expected[i, c] = gamma[c] * _by_hand_normalize(x[i, c], 1e-5) + beta[c]
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ finite differences
def _forwards():
    return {
        "layer": (lambda x, g, b: norms.layernorm_forward(x, g, b, 1e-3), norms.layernorm_backward),
        "spatial_batch": (
            lambda x, g, b: norms.spatial_batchnorm_forward(x, g, b, 1e-3),
            norms.spatial_batchnorm_backward,
        ),
        "group": (
            lambda x, g, b: norms.groupnorm_forward(x, g, b, 2, 1e-3),
            norms.groupnorm_backward,
        ),
        "instance": (
            lambda x, g, b: norms.groupnorm_forward(x, g, b, 4, 1e-3),
            norms.groupnorm_backward,
        ),
    }


@pytest.mark.parametrize("kind", ["layer", "spatial_batch", "group", "instance"])
def test_backward_agrees_with_central_differences(kind):
    forward, backward = _forwards()[kind]
    if kind == "layer":
        x, gamma, beta, dout = _rows(4, 6, seed=8)
    else:
        x, gamma, beta, dout = _maps((2, 4, 3, 2), seed=8)
    out, cache = forward(x, gamma, beta)
    analytic = backward(dout, cache)
    numerical = numerical_gradients(lambda *a: forward(*a)[0], (x, gamma, beta), dout)
    for name, a, b in zip(("dx", "dgamma", "dbeta"), analytic, numerical, strict=True):
        assert relative_error(a, b) < 1e-8, name


@st.composite
def feature_maps(draw):
    n = draw(st.integers(1, 4))
    groups = draw(st.sampled_from([1, 2, 3]))
    c = groups * draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 3)), draw(st.integers(2, 3))  # H*W >= 2: Instance Norm too
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.floats(0.5, 3.0))
    return (n, c, h, w), groups, seed, scale


@settings(max_examples=40, deadline=None)
@given(feature_maps())
def test_gradients_of_random_maps_agree_with_central_differences(drawn):
    shape, groups, seed, scale = drawn
    x, gamma, beta, dout = _maps(shape, seed, scale=scale)
    eps = 0.1  # few values per statistic: keep dx well above rounding noise
    cases = [
        (lambda *a: norms.spatial_batchnorm_forward(*a, eps), norms.spatial_batchnorm_backward),
        (lambda *a: norms.groupnorm_forward(*a, groups, eps), norms.groupnorm_backward),
    ]
    for forward, backward in cases:
        analytic = backward(dout, forward(x, gamma, beta)[1])
        numerical = numerical_gradients(lambda *a, f=forward: f(*a)[0], (x, gamma, beta), dout)
        for a, b in zip(analytic, numerical, strict=True):
            assert relative_error(a, b) < 1e-7


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(2, 6), st.integers(0, 2**32 - 1))
def test_layernorm_gradients_of_random_rows(m, d, seed):
    x, gamma, beta, dout = _rows(m, d, seed)
    analytic = norms.layernorm_backward(dout, norms.layernorm_forward(x, gamma, beta, 0.1)[1])
    numerical = numerical_gradients(
        lambda *a: norms.layernorm_forward(*a, 0.1)[0], (x, gamma, beta), dout
    )
    for a, b in zip(analytic, numerical, strict=True):
        assert relative_error(a, b) < 1e-7


# ------------------------------------------------------------------ properties
@settings(max_examples=30, deadline=None)
@given(feature_maps())
def test_normalized_values_have_mean_0_and_variance_below_1(drawn):
    shape, groups, seed, scale = drawn
    x, _, _, _ = _maps(shape, seed, scale=scale)
    ones, zeros = np.ones(shape[1]), np.zeros(shape[1])
    for kind, out in (
        ("batch", norms.spatial_batchnorm_forward(x, ones, zeros)[0]),
        ("group", norms.groupnorm_forward(x, ones, zeros, groups)[0]),
        ("layer", norms.groupnorm_forward(x, ones, zeros, 1)[0]),
        ("instance", norms.groupnorm_forward(x, ones, zeros, shape[1])[0]),
    ):
        ids = norms.statistic_groups(kind, shape, groups).ravel()
        values = out.ravel()
        for k in np.unique(ids):
            v = values[ids == k]
            assert abs(v.mean()) < 1e-10
            assert v.var() <= 1.0 + 1e-12  # var / (var + eps): 1 up to eps, never above


@settings(max_examples=30, deadline=None)
@given(feature_maps(), st.floats(0.2, 5.0), st.floats(-3.0, 3.0))
def test_invariant_to_scale_and_shift_of_what_shares_statistics(drawn, a, b):
    """Norm(a x + b; a² eps) = Norm(x; eps) for a > 0 and a shift b that is constant on
    every set of values sharing statistics: per channel for BN, per example and group
    for GN."""
    shape, groups, seed, _ = drawn
    n, c, _, _ = shape
    x, gamma, beta, _ = _maps(shape, seed)
    rng = np.random.default_rng(seed)
    eps = 1e-3
    per_channel_b = b + rng.normal(size=(1, c, 1, 1))
    shift = rng.normal(size=(n, groups, 1, 1, 1))
    moved = (x.reshape(n, groups, -1, *shape[2:]) * a + shift).reshape(shape)
    np.testing.assert_allclose(
        norms.groupnorm_forward(moved, gamma, beta, groups, a * a * eps)[0],
        norms.groupnorm_forward(x, gamma, beta, groups, eps)[0],
        rtol=1e-8,
        atol=1e-8,
    )
    moved_bn = x * a + per_channel_b
    np.testing.assert_allclose(
        norms.spatial_batchnorm_forward(moved_bn, gamma, beta, a * a * eps)[0],
        norms.spatial_batchnorm_forward(x, gamma, beta, eps)[0],
        rtol=1e-8,
        atol=1e-8,
    )


@settings(max_examples=30, deadline=None)
@given(feature_maps())
def test_gradient_sums_to_zero_over_every_set_of_shared_values(drawn):
    shape, groups, seed, _ = drawn
    x, gamma, beta, dout = _maps(shape, seed)
    dx_bn = norms.spatial_batchnorm_backward(
        dout, norms.spatial_batchnorm_forward(x, gamma, beta)[1]
    )[0]
    dx_gn = norms.groupnorm_backward(dout, norms.groupnorm_forward(x, gamma, beta, groups)[1])[0]
    for kind, dx in (("batch", dx_bn), ("group", dx_gn)):
        ids = norms.statistic_groups(kind, shape, groups).ravel()
        sums = np.bincount(ids, weights=dx.ravel())
        assert np.abs(sums).max() < 1e-9 * max(1.0, np.abs(dx).max() * dx.size)


def test_layer_and_group_norm_treat_each_example_alone_batch_norm_does_not():
    x, gamma, beta, _ = _maps((5, 4, 3, 3), seed=9)
    rows, g_rows, b_rows, _ = _rows(5, 6, seed=9)
    ln_all = norms.layernorm_forward(rows, g_rows, b_rows)[0]
    gn_all = norms.groupnorm_forward(x, gamma, beta, 2)[0]
    bn_all = norms.spatial_batchnorm_forward(x, gamma, beta)[0]
    for i in range(5):
        np.testing.assert_allclose(
            norms.layernorm_forward(rows[i : i + 1], g_rows, b_rows)[0],
            ln_all[i : i + 1],
            rtol=1e-12,
            atol=1e-12,
        )
        np.testing.assert_allclose(
            norms.groupnorm_forward(x[i : i + 1], gamma, beta, 2)[0],
            gn_all[i : i + 1],
            rtol=1e-12,
            atol=1e-12,
        )
    # Batch Norm of example 0 changes when the other examples change
    other = x.copy()
    other[1:] *= 3.0
    assert not np.allclose(norms.spatial_batchnorm_forward(other, gamma, beta)[0][0], bn_all[0])


def test_a_single_example_is_fine_for_layer_norm():
    x, gamma, beta, dout = _rows(1, 5, seed=10)
    out, cache = norms.layernorm_forward(x, gamma, beta)
    np.testing.assert_allclose(out, _layer_by_hand(x, gamma, beta, 1e-5), rtol=1e-12)
    dx = norms.layernorm_backward(dout, cache)[0]
    assert abs(dx.sum()) < 1e-12


# ------------------------------------------------------------------ PyTorch
def _torch():
    return pytest.importorskip(
        "torch", reason="PyTorch is optional: the oracle runs where it is installed"
    )


def _torch_tensors(torch, *arrays):
    return [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]


def _assert_like_torch(ours, out_t, tensors, grads):
    out, _ = ours
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    for mine, t in zip(grads, tensors, strict=True):
        np.testing.assert_allclose(mine, t.grad.numpy(), rtol=1e-9, atol=1e-11)


def test_layernorm_equals_torch_layer_norm_and_autograd():
    torch = _torch()
    x, gamma, beta, dout = _rows(6, 9, seed=11)
    tensors = _torch_tensors(torch, x, gamma, beta)
    out_t = torch.nn.functional.layer_norm(tensors[0], (9,), tensors[1], tensors[2], eps=1e-3)
    out_t.backward(torch.tensor(dout))
    ours = norms.layernorm_forward(x, gamma, beta, eps=1e-3)
    _assert_like_torch(ours, out_t, tensors, norms.layernorm_backward(dout, ours[1]))


@pytest.mark.parametrize("shape", [(4, 3, 5, 5), (2, 5, 1, 3)])
def test_spatial_batchnorm_equals_torch_batch_norm_on_4d_input(shape):
    torch = _torch()
    x, gamma, beta, dout = _maps(shape, seed=12, loc=1.5)
    tensors = _torch_tensors(torch, x, gamma, beta)
    out_t = torch.nn.functional.batch_norm(
        tensors[0], None, None, tensors[1], tensors[2], training=True, eps=1e-3
    )
    out_t.backward(torch.tensor(dout))
    ours = norms.spatial_batchnorm_forward(x, gamma, beta, eps=1e-3)
    _assert_like_torch(ours, out_t, tensors, norms.spatial_batchnorm_backward(dout, ours[1]))


@pytest.mark.parametrize("groups", [1, 2, 3, 6])
def test_groupnorm_equals_torch_group_norm_for_every_grouping(groups):
    torch = _torch()
    x, gamma, beta, dout = _maps((3, 6, 4, 3), seed=13, loc=-1.0, scale=2.0)
    tensors = _torch_tensors(torch, x, gamma, beta)
    out_t = torch.nn.functional.group_norm(tensors[0], groups, tensors[1], tensors[2], eps=1e-4)
    out_t.backward(torch.tensor(dout))
    ours = norms.groupnorm_forward(x, gamma, beta, groups, eps=1e-4)
    _assert_like_torch(ours, out_t, tensors, norms.groupnorm_backward(dout, ours[1]))


def test_groupnorm_with_c_groups_equals_torch_instance_norm():
    torch = _torch()
    x, gamma, beta, dout = _maps((2, 3, 4, 4), seed=14)
    tensors = _torch_tensors(torch, x, gamma, beta)
    out_t = torch.nn.functional.instance_norm(
        tensors[0], weight=tensors[1], bias=tensors[2], eps=1e-5
    )
    out_t.backward(torch.tensor(dout))
    ours = norms.groupnorm_forward(x, gamma, beta, 3)
    _assert_like_torch(ours, out_t, tensors, norms.groupnorm_backward(dout, ours[1]))


# ------------------------------------------------------------------ dtypes, copies, errors
def test_float32_stays_float32_and_is_close_to_float64():
    x, gamma, beta, dout = _maps((4, 4, 3, 3), seed=15)
    for forward, backward in (
        (lambda *a: norms.spatial_batchnorm_forward(*a), norms.spatial_batchnorm_backward),
        (lambda *a: norms.groupnorm_forward(*a, 2), norms.groupnorm_backward),
    ):
        out32, cache32 = forward(x.astype(np.float32), gamma, beta)
        out64, cache64 = forward(x, gamma, beta)
        assert out32.dtype == np.float32 and cache32.x_hat.dtype == np.float32
        np.testing.assert_allclose(out32, out64, rtol=1e-4, atol=1e-5)
        for g32, g64 in zip(backward(dout, cache32), backward(dout, cache64), strict=True):
            assert g32.dtype == np.float32
            np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-4)
    rows, g, b, _ = _rows(3, 4, seed=15)
    assert norms.layernorm_forward(rows.astype(np.float32), g, b)[0].dtype == np.float32


def test_inputs_are_never_modified_and_outputs_are_new():
    x, gamma, beta, dout = _maps((3, 4, 2, 2), seed=16)
    rows, g_rows, b_rows, d_rows = _rows(3, 4, seed=16)
    arrays = (x, gamma, beta, dout, rows, g_rows, b_rows, d_rows)
    copies = [a.copy() for a in arrays]
    results = []
    out, cache = norms.layernorm_forward(rows, g_rows, b_rows)
    results += [out, *norms.layernorm_backward(d_rows, cache)]
    out, cache = norms.spatial_batchnorm_forward(x, gamma, beta)
    results += [out, *norms.spatial_batchnorm_backward(dout, cache)]
    out, cache = norms.groupnorm_forward(x, gamma, beta, 2)
    results += [out, *norms.groupnorm_backward(dout, cache)]
    for a, c in zip(arrays, copies, strict=True):
        np.testing.assert_array_equal(a, c)
    for r in results:
        assert not any(np.shares_memory(r, a) for a in arrays)


def _sbn(x, c=3, **kw):
    return norms.spatial_batchnorm_forward(x, np.ones(c), np.zeros(c), **kw)


def _gn(x, groups, c=6, gamma_size=None):
    return norms.groupnorm_forward(x, np.ones(gamma_size or c), np.zeros(c), groups)


def _ln(x, d=3, **kw):
    return norms.layernorm_forward(x, np.ones(d), np.zeros(d), **kw)


MAPS = np.ones((2, 6, 2, 2))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: _sbn(np.ones((2, 3))), "x must be 4-D"),
        (lambda: _gn(np.ones((2, 6, 2)), 1), "x must be 4-D"),
        (lambda: _ln(np.ones((2, 3, 1))), "x must be 2-D"),
        (lambda: _sbn(np.ones((2, 3, 0, 2))), "x is empty"),
        (lambda: _sbn(np.full((2, 3, 2, 2), np.nan)), "x contains"),
        (lambda: _gn(MAPS, 2, gamma_size=5), r"gamma must have shape \(6,\)"),
        (lambda: norms.groupnorm_forward(MAPS, np.ones(6), np.zeros(5), 2), r"beta must have"),
        (lambda: _ln(np.ones((2, 3)), eps=0), "eps must be a positive"),
        (lambda: _sbn(np.ones((2, 3, 2, 2)), eps=-1.0), "eps must be a positive"),
        (lambda: _gn(MAPS, 4), "groups must divide"),
        (lambda: _gn(MAPS, 0), "groups must divide"),
        (lambda: _gn(MAPS, 2.0), "groups must be an integer"),
        (lambda: _gn(MAPS, True), "groups must be an integer"),
        (lambda: _ln(np.ones((4, 1)), d=1), "d = 1 value"),
        (lambda: _sbn(np.ones((1, 3, 1, 1))), "N·H·W = 1"),
        (lambda: _gn(np.ones((5, 3, 1, 1)), 3, c=3), r"\(C/groups\)·H·W = 1"),
    ],
)
def test_bad_input_is_a_value_error_that_names_it(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_backward_refuses_a_foreign_cache_or_a_bad_dout():
    x, gamma, beta, dout = _maps((2, 4, 2, 2), seed=17)
    _, gn_cache = norms.groupnorm_forward(x, gamma, beta, 2)
    _, bn_cache = norms.spatial_batchnorm_forward(x, gamma, beta)
    with pytest.raises(ValueError, match="cache comes from groupnorm_forward, not from spatial"):
        norms.spatial_batchnorm_backward(dout, gn_cache)
    with pytest.raises(
        ValueError, match="cache must be the NormCache returned by layernorm_forward"
    ):
        norms.layernorm_backward(dout, {"x_hat": 1})
    with pytest.raises(ValueError, match="dout must have the forward output's shape"):
        norms.spatial_batchnorm_backward(dout[:1], bn_cache)
    bad = dout.copy()
    bad[0, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="dout contains NaN"):
        norms.groupnorm_backward(bad, gn_cache)
    # a plain tuple with the same fields is accepted
    np.testing.assert_array_equal(
        norms.groupnorm_backward(dout, tuple(gn_cache))[0],
        norms.groupnorm_backward(dout, gn_cache)[0],
    )


# ------------------------------------------------------------------ which values share statistics
@pytest.mark.parametrize(
    ("kind", "groups", "count", "size"),
    [
        ("batch", 1, 6, 2 * 3 * 4),
        ("layer", 1, 2, 6 * 3 * 4),
        ("instance", 1, 12, 3 * 4),
        ("group", 3, 6, 2 * 3 * 4),
    ],
)
def test_statistic_groups_count_and_size(kind, groups, count, size):
    shape = (2, 6, 3, 4)
    ids = norms.statistic_groups(kind, shape, groups)
    assert ids.shape == shape and ids.flags.writeable
    sizes = np.bincount(ids.ravel())
    assert len(sizes) == count and np.all(sizes == size)
    assert norms.values_per_statistic(kind, shape, groups) == size


def test_statistic_groups_match_what_the_functions_normalize():
    x, _, _, _ = _maps((3, 6, 2, 2), seed=18)
    ones, zeros = np.ones(6), np.zeros(6)
    out = norms.groupnorm_forward(x, ones, zeros, 3)[0]
    ids = norms.statistic_groups("group", x.shape, 3)
    # channels 0,1 of example 0 are one group: ids 0; channels 2,3: id 1; example 1 starts at 3
    assert ids[0, 0, 0, 0] == ids[0, 1, 1, 1] == 0 and ids[0, 2, 0, 0] == 1 and ids[1, 0, 0, 0] == 3
    for k in range(ids.max() + 1):
        assert abs(out[ids == k].mean()) < 1e-12


def test_statistic_groups_refuse_unknown_kinds():
    with pytest.raises(ValueError, match="kind must be"):
        norms.statistic_groups("batchnorm", (1, 2, 2, 2))
    with pytest.raises(ValueError, match="groups must divide"):
        norms.values_per_statistic("group", (1, 6, 2, 2), 4)
