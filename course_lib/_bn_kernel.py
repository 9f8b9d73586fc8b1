"""The compact Batch Norm backward as one compiled loop (numba), two passes over the batch.

Kept apart from ``batchnorm.py`` so that importing the course does not import numba
(about 0.2 s); ``batchnorm_backward`` imports this module on its first call.
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
