"""Lessons 03 and 05: Batch Normalization (Batch归一化), forward, backward, test time.

For a mini-batch z of shape (m, n) (m examples, n units of one layer), per unit:

    mu     = (1/m) sum_i z_i                    batch mean
    var    = (1/m) sum_i (z_i - mu)^2           biased batch variance
    x_hat  = (z - mu) / sqrt(var + eps)         normalized ("z_norm" in the notes)
    out    = gamma * x_hat + beta               "z tilde": scale and shift, learned

At test time (lesson 05) mu and var are replaced by running estimates kept
during training with an exponentially weighted average.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validation import as_matrix, as_vector, check_beta, check_positive


class BatchNormCache(NamedTuple):
    """What the backward pass needs from the forward pass (no copy of z is kept).

    Every array has the dtype of z (float32 stays float32). z - mu is not stored:
    it is x_hat / inv_std, which the staged backward recomputes.
    """

    x_hat: np.ndarray  # (m, n) normalized input
    var: np.ndarray  # (n,) biased batch variance
    inv_std: np.ndarray  # (n,) 1 / sqrt(var + eps)
    gamma: np.ndarray  # (n,)
    eps: float


def _training_batch(z: object, name: str = "z", check_finite: bool = True) -> np.ndarray:
    z = as_matrix(z, name, check_finite=check_finite)
    if z.shape[0] < 2:
        raise ValueError(
            f"{name} has 1 example: Batch Norm in training mode needs a mini-batch of at "
            "least 2 examples (the variance of a single example is 0, so every output "
            "would be beta); use batchnorm_inference for single examples"
        )
    return z


def batchnorm_forward(
    z: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, BatchNormCache]:
    """Batch Norm in training mode, using the statistics of this mini-batch.

    z: (m, n) pre-activations, m >= 2; gamma, beta: (n,); eps > 0.
    Returns out (m, n) = gamma * x_hat + beta, and the cache for the backward pass.
    The output has the dtype of z (float32 or float64); z is not modified.
    """
    from ._bn_kernel import batch_statistics, normalize_scale_shift  # numba, on first use

    # Finiteness is checked on the batch mean below: that saves a pass over z.
    z = np.ascontiguousarray(_training_batch(z, check_finite=False))
    n = z.shape[1]
    gamma = as_vector(gamma, "gamma", n, dtype=z.dtype)
    beta = as_vector(beta, "beta", n, dtype=z.dtype)
    eps = check_positive(eps, "eps")
    mu, var = batch_statistics(z)  # float64; var is the batch's own (biased, 1/m) variance
    if not np.all(np.isfinite(mu)):
        as_matrix(z, "z")  # a NaN or inf in z reaches its column's mean: name the count
    inv_std = 1.0 / np.sqrt(var + eps)  # eps inside the root: finite for var = 0
    x_hat = np.empty_like(z)
    out = np.empty_like(z)
    # One compiled pass writes both: numpy would make four passes and a temporary.
    normalize_scale_shift(z, mu, inv_std, gamma, beta, x_hat, out)
    dtype = z.dtype
    cache = BatchNormCache(x_hat, var.astype(dtype), inv_std.astype(dtype), gamma, eps)
    return out, cache


def batchnorm_backward(
    dout: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of Batch Norm, compact form, computed in two passes over the batch.

    dout: (m, n) upstream gradient dL/dout; cache from ``batchnorm_forward``.
    Returns dz (m, n), dgamma (n,), dbeta (n,), in the dtype of the forward pass:

        dbeta  = sum_i dout_i             dgamma = sum_i dout_i * x_hat_i
        dz_i   = gamma / sqrt(var + eps) * (dout_i - dbeta/m - x_hat_i * dgamma/m)

    (derived in lesson 03; ``batchnorm_backward_vectorized`` writes the same formula
    with whole-array numpy operations). After the two sums, dz is one element-wise
    expression, so a compiled loop (``_bn_kernel``, numba) computes it in one more
    pass without temporaries: two passes over the batch, as frameworks' native
    kernels do, against six for the numpy form and a dozen for the staged one.
    """
    from ._bn_kernel import compact_backward  # numba: imported on first use, not with the course

    cache = _as_cache(cache)
    # The kernel reads rows in memory order and is compiled per dtype: give it C order
    # and one float dtype (a no-op for a cache from batchnorm_forward).
    x_hat = np.ascontiguousarray(as_matrix(cache.x_hat, "cache.x_hat", check_finite=False))
    dout = np.ascontiguousarray(_upstream(dout, x_hat))
    scale = np.asarray(cache.gamma * cache.inv_std, dtype=x_hat.dtype)
    dz, dgamma, dbeta = compact_backward(dout, x_hat, scale)
    _check_upstream_finite(dout, dbeta)
    return dz, dgamma.astype(x_hat.dtype, copy=False), dbeta.astype(x_hat.dtype, copy=False)


def batchnorm_backward_vectorized(
    dout: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The compact form of ``batchnorm_backward`` in whole-array numpy operations.

    Same inputs and outputs. This is the formula a learner writes in lesson 03:

        dx_hat = dout * gamma
        dz = (1/m) * inv_std * (m * dx_hat - sum(dx_hat) - x_hat * sum(dx_hat * x_hat))

    Since gamma is one number per unit, sum(dx_hat) = gamma * dbeta and
    sum(dx_hat * x_hat) = gamma * dgamma, so dz is computed as
    gamma * inv_std * (dout - dbeta/m - x_hat * dgamma/m): two sums and four
    element-wise passes over one new (m, n) array.
    """
    cache = _as_cache(cache)
    x_hat, inv_std, gamma = cache.x_hat, cache.inv_std, cache.gamma
    dout = _upstream(dout, x_hat)
    m = x_hat.shape[0]
    dbeta = dout.sum(axis=0)
    _check_upstream_finite(dout, dbeta)
    dgamma = np.einsum("ij,ij->j", dout, x_hat)  # sum_i dout_i * x_hat_i, no (m, n) temporary
    dz = x_hat * (-dgamma / m)
    dz += dout
    dz -= dbeta / m
    dz *= gamma * inv_std
    return dz, dgamma, dbeta


def batchnorm_backward_staged(
    dout: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of Batch Norm node by node along the computational graph.

    Same inputs and outputs as ``batchnorm_backward``; slower, but each step is
    the local derivative of one node of the forward pass, read backwards
    (per unit; i runs over the m examples):

        (1) mu = (1/m) sum_i z_i      (2) d_i = z_i - mu      (3) q_i = d_i^2
        (4) var = (1/m) sum_i q_i     (5) s = sqrt(var + eps) (6) r = 1 / s
        (7) x_hat_i = d_i * r         (8) out_i = gamma * x_hat_i + beta

    A node used by several later nodes (z feeds (1) and (2); d feeds (3) and (7))
    receives the sum of their gradients.
    """
    cache = _as_cache(cache)
    x_hat, var, r, gamma, eps = cache
    dout = _upstream(dout, x_hat)
    m = x_hat.shape[0]
    s = np.sqrt(var + eps)  # node (5), recomputed: (n,), cheap
    d = x_hat * s  # node (2), z - mu, recomputed from x_hat = d * r
    # (8) out = gamma * x_hat + beta
    dbeta = dout.sum(axis=0)
    _check_upstream_finite(dout, dbeta)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    # (7) x_hat = d * r: d reaches x_hat directly, r is shared by the whole column
    dd = dx_hat * r
    dr = (dx_hat * d).sum(axis=0)
    # (6) r = 1 / s
    ds = -dr / s**2
    # (5) s = sqrt(var + eps)
    dvar = ds / (2.0 * s)
    # (4) var = (1/m) sum_i q_i: every q_i receives dvar / m
    dq = np.broadcast_to(dvar / m, d.shape)
    # (3) q = d^2: the second path into d, added to the first
    dd = dd + 2.0 * d * dq
    # (2) d = z - mu: z gets dd directly, mu gets minus its column sum
    dmu = -dd.sum(axis=0)
    # (1) mu = (1/m) sum_i z_i: every z_i receives dmu / m, added to the direct path
    dz = dd + dmu / m
    return dz, dgamma, dbeta


def _as_cache(cache: object) -> BatchNormCache:
    if isinstance(cache, BatchNormCache):
        return cache
    if isinstance(cache, tuple) and len(cache) == len(BatchNormCache._fields):
        return BatchNormCache._make(cache)
    raise ValueError(
        "cache must be the BatchNormCache returned by batchnorm_forward, "
        f"got {type(cache).__name__}"
    )


def _upstream(dout: object, x_hat: np.ndarray) -> np.ndarray:
    # Finiteness is checked on dbeta (see _check_upstream_finite): that saves a pass.
    dout = as_matrix(dout, "dout", check_finite=False)
    if dout.shape != x_hat.shape:
        raise ValueError(
            f"dout must have the forward output's shape {x_hat.shape}, got {dout.shape}"
        )
    # Computed in the forward pass's dtype: float32 gradients for a float32 layer.
    return dout.astype(x_hat.dtype, copy=False)


def _check_upstream_finite(dout: np.ndarray, dbeta: np.ndarray) -> None:
    """Raise if dout holds NaN or inf; dbeta = sum_i dout_i is finite otherwise."""
    # A NaN/inf in dout reaches its column sum: only then is dout itself scanned.
    if not np.all(np.isfinite(dbeta)) and not np.all(np.isfinite(dout)):
        raise ValueError("dout contains NaN or infinite values")


def update_running_stats(
    running_mean: np.ndarray,
    running_var: np.ndarray,
    z: np.ndarray,
    beta: float = 0.9,
    unbiased: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """One step of the exponentially weighted averages of the batch statistics.

    running_mean, running_var: (n,) current estimates (start at 0 and 1).
    z: (m, n) this mini-batch's pre-activations, m >= 2.
    beta: weight of the OLD value, in [0, 1) (this course's beta; PyTorch's
    momentum = 1 - beta, Keras's momentum = beta).
    unbiased: store m/(m-1) times the batch variance (the paper, PyTorch) or the
    biased batch variance (Keras 3).
    Returns new (running_mean, running_var); the inputs are not modified:

        running = beta * running + (1 - beta) * batch_statistic
    """
    z = _training_batch(z)
    n = z.shape[1]
    running_mean = as_vector(running_mean, "running_mean", n)
    running_var = as_vector(running_var, "running_var", n)
    if np.any(running_var < 0):
        raise ValueError("running_var must be >= 0 for every unit (it is a variance)")
    beta = check_beta(
        beta, hint="the weight of the old value; PyTorch's momentum 0.1 is beta = 0.9"
    )
    if not isinstance(unbiased, bool | np.bool_):
        raise ValueError(f"unbiased must be True or False, got {unbiased!r}")
    # ddof=1: m/(m-1) times the batch's own variance, an unbiased estimate of the
    # population variance (the batch normalizes itself with ddof=0).
    batch_var = z.var(axis=0, ddof=1 if unbiased else 0)
    new_mean = beta * running_mean + (1.0 - beta) * z.mean(axis=0)
    new_var = beta * running_var + (1.0 - beta) * batch_var
    return new_mean, new_var


def batchnorm_inference(
    z: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    eps: float = 1e-5,
) -> np.ndarray:
    """Batch Norm at test time: fixed statistics, so each example is treated alone.

    z: (m, n), any m >= 1; gamma, beta, running_mean, running_var: (n,).
    Returns gamma * (z - running_mean) / sqrt(running_var + eps) + beta, shape (m, n).
    """
    if np.ndim(z) == 1:
        raise ValueError(
            f"z must be 2-D (m examples, n units), got shape {np.shape(z)}; "
            "one example is a batch of one: z.reshape(1, -1)"
        )
    z = as_matrix(z, "z")
    n = z.shape[1]
    gamma = as_vector(gamma, "gamma", n, dtype=z.dtype)
    beta = as_vector(beta, "beta", n, dtype=z.dtype)
    running_mean = as_vector(running_mean, "running_mean", n, dtype=z.dtype)
    running_var = as_vector(running_var, "running_var", n, dtype=z.dtype)
    if np.any(running_var < 0):
        raise ValueError("running_var must be >= 0 for every unit (it is a variance)")
    eps = check_positive(eps, "eps")
    inv_std = 1.0 / np.sqrt(running_var + z.dtype.type(eps))
    return gamma * (z - running_mean) * inv_std + beta
