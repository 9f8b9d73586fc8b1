"""Batch Norm's training-mode passes as compiled loops (numba): the forward pass in three
passes over the batch, the compact backward in two.

Kept apart from ``batchnorm.py`` so that importing the course does not import numba
(about 0.2 s); ``batchnorm_forward`` and ``batchnorm_backward`` import this module on
their first call. Without fast-math, each unit's sums run in a fixed order (the loops
vectorize across units), so the results do not depend on the CPU's vector width.
"""

from __future__ import annotations

import numpy as np
from numba import njit


# cache=True: the machine code is saved beside this file (or in numba's user cache)
# and reloaded by the next process, so only the first run on a machine compiles.
@njit(cache=True, nogil=True)
def compact_backward(dout, x_hat, scale):
    """dout, x_hat: (m, n) C-contiguous, same dtype; scale: (n,) = gamma / sqrt(var + eps).

    Returns dz (m, n) in the dtype of dout, dgamma (n,) and dbeta (n,) in float64.
    Pass 1 sums dout and dout * x_hat per unit; pass 2 writes
    dz = scale * (dout - dbeta/m - x_hat * dgamma/m). Whole-array numpy needs six
    passes and a temporary array for the same formula (``batchnorm_backward_vectorized``).
    """
    m, n = dout.shape
    dbeta = np.zeros(n)  # float64 sums, also for a float32 batch
    dgamma = np.zeros(n)
    for i in range(m):
        for j in range(n):
            dbeta[j] += dout[i, j]
            dgamma[j] += dout[i, j] * x_hat[i, j]
    mean_dout = dbeta / m
    mean_along_x_hat = dgamma / m
    dz = np.empty_like(dout)
    for i in range(m):
        for j in range(n):
            dz[i, j] = scale[j] * (dout[i, j] - mean_dout[j] - x_hat[i, j] * mean_along_x_hat[j])
    return dz, dgamma, dbeta


@njit(cache=True, nogil=True)
def batch_statistics(z):
    """z: (m, n) C-contiguous. Per-unit mean and biased (1/m) variance, in float64.

    Two passes, rows in memory order: the column sums, then the sums of squared
    deviations from the mean (the two-pass formula, as numpy's ``var``: a large mean
    does not cancel digits as in E[z^2] - E[z]^2). Sums are float64 also for float32.
    """
    m, n = z.shape
    total = np.zeros(n)
    for i in range(m):
        for j in range(n):
            total[j] += z[i, j]
    mu = total / m
    squares = np.zeros(n)
    for i in range(m):
        for j in range(n):
            d = z[i, j] - mu[j]
            squares[j] += d * d
    return mu, squares / m


@njit(cache=True, nogil=True)
def normalize_scale_shift(z, mu, inv_std, gamma, beta, x_hat, out):
    """Write x_hat = (z - mu) * inv_std and out = gamma * x_hat + beta, (m, n), in one
    pass over z (whole-array numpy makes four, with a temporary)."""
    m, n = z.shape
    for i in range(m):
        for j in range(n):
            x = (z[i, j] - mu[j]) * inv_std[j]
            x_hat[i, j] = x
            out[i, j] = gamma[j] * x + beta[j]
