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

from ._validation import as_matrix, as_vector, check_positive


class BatchNormCache(NamedTuple):
    """What the backward pass needs from the forward pass (all arrays, no copies of z)."""

    x_hat: np.ndarray  # (m, n) normalized input
    z_centered: np.ndarray  # (m, n) z - mu
    var: np.ndarray  # (n,) biased batch variance
    inv_std: np.ndarray  # (n,) 1 / sqrt(var + eps)
    gamma: np.ndarray  # (n,)
    eps: float


def _training_batch(z: object, name: str = "z") -> np.ndarray:
    z = as_matrix(z, name)
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
    Float32 input gives float32 output.
    """
    z = _training_batch(z)
    n = z.shape[1]
    gamma = as_vector(gamma, "gamma", n, dtype=z.dtype)
    beta = as_vector(beta, "beta", n, dtype=z.dtype)
    eps = check_positive(eps, "eps")
    mu = z.mean(axis=0)
    z_centered = z - mu
    var = (z_centered**2).mean(axis=0)  # 1/m: the batch's own (biased) variance
    inv_std = 1.0 / np.sqrt(var + z.dtype.type(eps))
    x_hat = z_centered * inv_std
    out = gamma * x_hat + beta
    return out, BatchNormCache(x_hat, z_centered, var, inv_std, gamma, eps)


def batchnorm_backward(
    dout: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of Batch Norm, compact form (one pass, no intermediate graph nodes).

    dout: (m, n) upstream gradient dL/dout; cache from ``batchnorm_forward``.
    Returns dz (m, n), dgamma (n,), dbeta (n,), where

        dx_hat = dout * gamma
        dz = (1/m) * inv_std * (m * dx_hat - sum(dx_hat) - x_hat * sum(dx_hat * x_hat))
    """
    x_hat, inv_std, gamma = cache.x_hat, cache.inv_std, cache.gamma
    dout = _upstream(dout, x_hat.shape)
    m = x_hat.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dz = (inv_std / m) * (m * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0))
    return dz, dgamma, dbeta


def batchnorm_backward_staged(
    dout: np.ndarray, cache: BatchNormCache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of Batch Norm node by node along the computational graph.

    Same inputs and outputs as ``batchnorm_backward``; slower, but each line is
    one local derivative of the forward pass, read backwards:
    z -> z_centered = z - mu -> var = mean(z_centered^2) -> inv_std = (var+eps)^-1/2
      -> x_hat = z_centered * inv_std -> out = gamma * x_hat + beta
    """
    x_hat, z_centered, var, inv_std, gamma, eps = cache
    dout = _upstream(dout, x_hat.shape)
    m = x_hat.shape[0]
    # out = gamma * x_hat + beta
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    # x_hat = z_centered * inv_std: z_centered reaches x_hat directly and through inv_std
    dz_centered = dx_hat * inv_std
    dinv_std = (dx_hat * z_centered).sum(axis=0)
    # inv_std = (var + eps)^(-1/2)
    dvar = -0.5 * (var + eps) ** -1.5 * dinv_std
    # var = (1/m) sum z_centered^2
    dz_centered = dz_centered + (2.0 / m) * z_centered * dvar
    # z_centered = z - mu, mu = (1/m) sum z
    dmu = -dz_centered.sum(axis=0)
    dz = dz_centered + dmu / m
    return dz.astype(x_hat.dtype, copy=False), dgamma, dbeta


def _upstream(dout: object, shape: tuple[int, int]) -> np.ndarray:
    dout = as_matrix(dout, "dout")
    if dout.shape != shape:
        raise ValueError(f"dout must have the forward output's shape {shape}, got {dout.shape}")
    return dout


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
    beta: weight of the OLD value, in [0, 1) (the notes' beta; PyTorch's
    momentum = 1 - beta, Keras's momentum = beta).
    unbiased: store m/(m-1) times the batch variance (the paper, PyTorch) or the
    biased batch variance (Keras 3).
    Returns new (running_mean, running_var); the inputs are not modified:

        running = beta * running + (1 - beta) * batch_statistic
    """
    z = _training_batch(z)
    m, n = z.shape
    running_mean = as_vector(running_mean, "running_mean", n)
    running_var = as_vector(running_var, "running_var", n)
    beta = float(beta)
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1) (the weight of the old value), got {beta}")
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
