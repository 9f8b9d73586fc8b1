"""Lesson 06: normalization beyond the MLP. Batch Norm in convolutional layers,
Layer Norm (层归一化), Group Norm (组归一化) and Instance Norm (实例归一化).

All of them compute the same two lines as Batch Norm (lesson 03),

    x_hat = (x - mu) / sqrt(var + eps)          out = gamma * x_hat + beta,

and differ only in WHICH values share one mean mu and one (biased) variance var:

    spatial Batch Norm  x (N, C, H, W): per channel c, over the N*H*W values x[:, c, :, :]
                        (Ioffe & Szegedy 2015, section 3.2: the effective batch is N*H*W)
    Layer Norm          x (m, d): per example i, over its d values x[i, :] (Ba et al. 2016)
    Group Norm          x (N, C, H, W), channels split into G groups of C/G consecutive
                        channels (channel c is in group c // (C/G), PyTorch's layout): per
                        example i and group g, over the (C/G)*H*W values (Wu & He 2018)
    Instance Norm       Group Norm with G = C: per example and channel, over the H*W values
                        (Ulyanov et al. 2016)
    Layer Norm of a conv layer: Group Norm with G = 1, over the C*H*W values of an example

gamma and beta hold one value per channel (per feature for Layer Norm); they are
learned, as in Batch Norm. Conventions as in ``course_lib.batchnorm``: the biased
variance (1/count), eps inside the square root, new arrays returned, inputs never
modified, a ValueError that names the argument. Statistics over a single value are
refused (its variance is 0: every output would be beta).

The backward passes use the compact form of lesson 03 within each set of values that
share statistics (k values, dx_hat = dout * gamma):

    dx = inv_std * (dx_hat - mean_k(dx_hat) - x_hat * mean_k(dx_hat * x_hat))
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validation import as_feature_maps, as_matrix, as_vector, check_positive, real_array

KINDS = ("layer", "spatial_batch", "group")
_FORWARD = {
    "layer": "layernorm_forward",
    "spatial_batch": "spatial_batchnorm_forward",
    "group": "groupnorm_forward",
}


class NormCache(NamedTuple):
    """What a backward pass needs from its forward pass (no copy of x is kept).

    Every array has the dtype of x (float32 stays float32).
    """

    kind: str  # "layer", "spatial_batch" or "group": which forward made it
    x_hat: np.ndarray  # shape of x: the normalized values
    inv_std: np.ndarray  # 1 / sqrt(var + eps), one per set of values sharing statistics
    gamma: np.ndarray  # (d,) for Layer Norm, (C,) otherwise
    eps: float
    groups: int  # Group Norm's G; 0 for the others


# ------------------------------------------------------------------ shared steps
def _mean(x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Mean over ``axes``, kept as size-1 axes (np.mean without its Python overhead)."""
    count = 1
    for a in axes:
        count *= x.shape[a]
    total = np.add.reduce(x, axis=axes, keepdims=True)
    total *= 1.0 / count
    return total


def _normalize(x: np.ndarray, axes: tuple[int, ...], eps: float, stats: bool = False):
    """x_hat and inv_std, statistics over ``axes`` (kept as size-1 axes in inv_std);
    with stats=True also the mean and the biased variance (same shape as inv_std)."""
    mu = _mean(x, axes)
    xc = x - mu
    var = _mean(xc * xc, axes)  # 1/count: the values' own variance
    inv_std = var + x.dtype.type(eps)  # eps inside the root: finite for var = 0
    np.sqrt(inv_std, out=inv_std)
    np.reciprocal(inv_std, out=inv_std)
    xc *= inv_std  # our own new array: normalize in place
    return (xc, inv_std, mu, var) if stats else (xc, inv_std)


def _normalize_backward(dx_hat: np.ndarray, x_hat: np.ndarray, inv_std, axes):
    """dL/dx from dL/dx_hat for x_hat = (x - mu) * inv_std, statistics over ``axes``."""
    mean_d = _mean(dx_hat, axes)
    dx = x_hat * dx_hat
    mean_dx = _mean(dx, axes)
    np.multiply(x_hat, mean_dx, out=dx)
    np.subtract(dx_hat, dx, out=dx)
    dx -= mean_d
    dx *= inv_std
    return dx


def _need_two(count: int, what: str) -> None:
    if count < 2:
        raise ValueError(
            f"x has {what} = 1 value per mean and variance: normalizing needs at least 2 "
            "(the variance of a single value is 0, so every output would be beta)"
        )


def _check_groups(groups: object, channels: int) -> int:
    if isinstance(groups, bool | np.bool_) or not isinstance(groups, int | np.integer):
        raise ValueError(f"groups must be an integer that divides C={channels}, got {groups!r}")
    g = int(groups)
    if g < 1 or g > channels or channels % g:
        raise ValueError(
            f"groups must divide the number of channels C={channels} (1 = Layer Norm, "
            f"{channels} = Instance Norm), got {g}"
        )
    return g


def _as_cache(cache: object, kind: str) -> NormCache:
    if isinstance(cache, tuple) and not isinstance(cache, NormCache):
        if len(cache) == len(NormCache._fields):
            cache = NormCache._make(cache)
    if not isinstance(cache, NormCache):
        raise ValueError(
            f"cache must be the NormCache returned by {_FORWARD[kind]}, got {type(cache).__name__}"
        )
    if cache.kind != kind:
        raise ValueError(
            f"cache comes from {_FORWARD.get(cache.kind, cache.kind)}, not from {_FORWARD[kind]}: "
            "give each backward pass the cache of its own forward pass"
        )
    return cache


def _upstream(dout: object, x_hat: np.ndarray) -> np.ndarray:
    dout = real_array(dout, "dout")
    if dout.shape != x_hat.shape:
        raise ValueError(
            f"dout must have the forward output's shape {x_hat.shape}, got {dout.shape}"
        )
    dout = dout.astype(x_hat.dtype, copy=False)  # gradients in the forward pass's dtype
    if not np.all(np.isfinite(dout)):
        raise ValueError("dout contains NaN or infinite values")
    return dout


def _channel_parameters(x: np.ndarray, gamma: object, beta: object):
    c = x.shape[1]
    gamma = as_vector(gamma, "gamma", c, dtype=x.dtype)
    beta = as_vector(beta, "beta", c, dtype=x.dtype)
    return gamma, beta


def _scale_shift(x_hat: np.ndarray, gamma: np.ndarray, beta: np.ndarray, channel_axis: bool):
    if channel_axis:  # (C,) against (N, C, H, W): one value per channel
        gamma, beta = gamma[:, None, None], beta[:, None, None]
    out = x_hat * gamma
    out += beta
    return out


# ------------------------------------------------------------------ Layer Norm
def layernorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, NormCache]:
    """Layer Norm: each example (row) normalized over its own d features.

    x: (m, d), any m >= 1 (no batch statistics: a single example is fine), d >= 2;
    gamma, beta: (d,); eps > 0. Returns out (m, d) and the cache for
    ``layernorm_backward``. Training and inference compute the same thing.
    """
    x = as_matrix(x, "x")
    _need_two(x.shape[1], "d")
    gamma = as_vector(gamma, "gamma", x.shape[1], dtype=x.dtype)
    beta = as_vector(beta, "beta", x.shape[1], dtype=x.dtype)
    eps = check_positive(eps, "eps")
    x_hat, inv_std = _normalize(x, (1,), eps)  # inv_std (m, 1)
    out = _scale_shift(x_hat, gamma, beta, False)
    return out, NormCache("layer", x_hat, inv_std, gamma, eps, 0)


def layernorm_backward(
    dout: np.ndarray, cache: NormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of Layer Norm.

    dout: (m, d) upstream gradient; cache from ``layernorm_forward``.
    Returns dx (m, d), dgamma (d,), dbeta (d,) (both summed over the m examples).
    """
    cache = _as_cache(cache, "layer")
    dout = _upstream(dout, cache.x_hat)
    dbeta = dout.sum(axis=0)
    dgamma = np.einsum("ij,ij->j", dout, cache.x_hat)
    dx = _normalize_backward(dout * cache.gamma, cache.x_hat, cache.inv_std, (1,))
    return dx, dgamma, dbeta


# ------------------------------------------------------------------ spatial Batch Norm
def spatial_batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, NormCache]:
    """Batch Norm of a convolutional layer in training mode: per channel, over N, H, W.

    x: (N, C, H, W) with N*H*W >= 2; gamma, beta: (C,); eps > 0.
    Returns out (N, C, H, W) and the cache for ``spatial_batchnorm_backward``.
    The same as lesson 03's ``batchnorm_forward`` on
    x.transpose(0, 2, 3, 1).reshape(-1, C) (one row per example and position),
    with the result brought back to (N, C, H, W).
    """
    x = as_feature_maps(x, "x")
    n, _, h, w = x.shape
    _need_two(n * h * w, "N·H·W")
    gamma, beta = _channel_parameters(x, gamma, beta)
    eps = check_positive(eps, "eps")
    x_hat, inv_std = _normalize(x, (0, 2, 3), eps)  # inv_std (1, C, 1, 1)
    out = _scale_shift(x_hat, gamma, beta, True)
    return out, NormCache("spatial_batch", x_hat, inv_std, gamma, eps, 0)


def spatial_batchnorm_backward(
    dout: np.ndarray, cache: NormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of spatial Batch Norm (training mode).

    dout: (N, C, H, W); cache from ``spatial_batchnorm_forward``.
    Returns dx (N, C, H, W), dgamma (C,), dbeta (C,) (sums over N, H and W).
    """
    cache = _as_cache(cache, "spatial_batch")
    dout = _upstream(dout, cache.x_hat)
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = np.einsum("nchw,nchw->c", dout, cache.x_hat)
    dx_hat = dout * cache.gamma[:, None, None]
    dx = _normalize_backward(dx_hat, cache.x_hat, cache.inv_std, (0, 2, 3))
    return dx, dgamma, dbeta


# ------------------------------------------------------------------ Group Norm
def groupnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, groups: int, eps: float = 1e-5
) -> tuple[np.ndarray, NormCache]:
    """Group Norm: per example and group of C/groups consecutive channels, over
    those channels and all H*W positions.

    x: (N, C, H, W), any N >= 1; groups divides C (channel c is in group
    c // (C // groups), as in PyTorch); (C/groups)*H*W >= 2; gamma, beta: (C,), one
    per channel; eps > 0. groups = 1 is Layer Norm of the whole layer, groups = C
    Instance Norm. Returns out (N, C, H, W) and the cache for ``groupnorm_backward``.
    """
    x = as_feature_maps(x, "x")
    n, c, h, w = x.shape
    g = _check_groups(groups, c)
    _need_two(c // g * h * w, "(C/groups)·H·W")
    gamma, beta = _channel_parameters(x, gamma, beta)
    eps = check_positive(eps, "eps")
    x_hat, inv_std = _normalize(x.reshape(n, g, c // g, h, w), (2, 3, 4), eps)
    x_hat = x_hat.reshape(n, c, h, w)  # inv_std (N, G, 1, 1, 1)
    out = _scale_shift(x_hat, gamma, beta, True)
    return out, NormCache("group", x_hat, inv_std, gamma, eps, g)


def groupnorm_backward(
    dout: np.ndarray, cache: NormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of Group Norm.

    dout: (N, C, H, W); cache from ``groupnorm_forward``.
    Returns dx (N, C, H, W), dgamma (C,), dbeta (C,) (sums over N, H and W).
    """
    cache = _as_cache(cache, "group")
    dout = _upstream(dout, cache.x_hat)
    n, c, h, w = dout.shape
    g = cache.groups
    dbeta = dout.sum(axis=(0, 2, 3))
    dgamma = np.einsum("nchw,nchw->c", dout, cache.x_hat)
    dx_hat = (dout * cache.gamma[:, None, None]).reshape(n, g, c // g, h, w)
    x_hat = cache.x_hat.reshape(n, g, c // g, h, w)
    dx = _normalize_backward(dx_hat, x_hat, cache.inv_std, (2, 3, 4))
    return dx.reshape(n, c, h, w), dgamma, dbeta


# ------------------------------------------------------------------ what shares statistics
def statistic_groups(kind: str, shape: tuple[int, int, int, int], groups: int = 1) -> np.ndarray:
    """Which entries of an (N, C, H, W) block share one mean and variance.

    kind: "batch" (spatial Batch Norm), "layer" (Group Norm with G = 1), "instance"
    (G = C) or "group" (``groups`` groups). Returns an int array of ``shape``: entries
    with the same number are normalized together (numbered 0, 1, ... in memory order).
    """
    n, c, h, w = (int(s) for s in shape)
    if kind == "batch":
        ids = np.broadcast_to(np.arange(c)[None, :, None, None], (n, c, h, w))
    else:
        g = {"layer": 1, "instance": c}.get(kind)
        if g is None:
            if kind != "group":
                raise ValueError(
                    f"kind must be 'batch', 'layer', 'instance' or 'group', got {kind!r}"
                )
            g = _check_groups(groups, c)
        per_example = np.arange(c) // (c // g)
        ids = per_example[None, :, None, None] + g * np.arange(n)[:, None, None, None]
        ids = np.broadcast_to(ids, (n, c, h, w))
    return np.array(ids)


def values_per_statistic(kind: str, shape: tuple[int, int, int, int], groups: int = 1) -> int:
    """How many values share one mean and variance (``statistic_groups``'s group size)."""
    n, c, h, w = (int(s) for s in shape)
    per = {"batch": n * h * w, "layer": c * h * w, "instance": h * w}
    if kind in per:
        return per[kind]
    if kind == "group":
        return c // _check_groups(groups, c) * h * w
    raise ValueError(f"kind must be 'batch', 'layer', 'instance' or 'group', got {kind!r}")


__all__ = [
    "KINDS",
    "NormCache",
    "groupnorm_backward",
    "groupnorm_forward",
    "layernorm_backward",
    "layernorm_forward",
    "spatial_batchnorm_backward",
    "spatial_batchnorm_forward",
    "statistic_groups",
    "values_per_statistic",
]
