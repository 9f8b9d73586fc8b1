"""Lesson 06: a small convolutional network (卷积神经网络) for the 8x8 digits, in numpy.

Rows are examples, as everywhere in the course: X has shape (m, 64), one digit per
row. The network computes on feature maps (特征图):

    x (N, 1, 8, 8) -> conv 3x3, C1 -> norm -> ReLU -> max-pool 2x2 -> (N, C1, 4, 4)
                   -> conv 3x3, C2 -> norm -> ReLU -> max-pool 2x2 -> (N, C2, 2, 2)
                   [-> dense D -> norm -> ReLU]                  (optional: ``hidden``)
                   -> dense -> logits (N, 10) -> softmax

The normalization layer is chosen by name: "batch" (spatial Batch Norm: per channel,
over N, H, W; running statistics for inference), "group" (``groups`` groups of
consecutive channels, per example), "layer" (Group Norm with one group: per example,
over C, H, W, with one gamma and beta per channel, as Wu & He 2018 use it in conv
nets), "instance" (one group per channel) or None (no normalization; the layers
then have a bias). With a normalization layer a convolution has no bias: the
normalization subtracts a mean, and beta takes its role.

Convolution (卷积) with stride 1 and "same" zero padding is one matrix product: a
strided view (``numpy.lib.stride_tricks.as_strided``) of the padded input lists, for
every position of every example, the 3x3 patch of every channel; copied into a
matrix of shape (C*9, N*H*W), the patches are multiplied by the weights (F, C*9)
(PyTorch's (F, C, 3, 3), flattened) in one product. The gradient with respect to the
input is the same operation on the padded upstream gradient, with the kernel flipped.
No Python loop over pixels anywhere.

Memory layout. Inside, a layer's values are stored channels first, as (C, N, H, W)
(and a dense layer's as (D, N)): the product above yields exactly that, and every
statistic is a sum over neighbouring memory (one channel's N*H*W values for Batch
Norm; a group's channels, per example, for Group Norm), which numpy computes tens
of times faster than sums across the channels of a (N, H, W, C) array. The
statistics are the same in any layout; the tests compare with PyTorch's NCHW layers.

Several networks side by side: ``ConvNet(..., seed=(0, 1, 2))`` holds three
networks that differ only in their seed (initial weights and, in ``train``, the
order of the mini-batches) and computes them together: every array has a leading
axis R, one entry per network, and a layer is one batched operation for all of
them. On small mini-batches, where numpy's cost per call dominates, three networks
train in little more time than one. The networks never interact: each gives the
numbers it would give alone (the tests check it).

Public API, as ``course_lib.network``'s MLP:

    model = ConvNet(channels=(8, 16), norm="group", groups=4, seed=0)
    history = train(model, X, y, lr=0.05, steps=500, batch_size=32, X_val=Xv, y_val=yv)
    model.predict(X); model.predict_proba(X); model.accuracy(X, y)   # inference mode
    loss, grads = model.loss_and_grads(X_batch, y_batch)             # training mode
    model.running_mean[l], model.running_var[l]                      # "batch" only
    models = ConvNet(norm="batch", seed=(0, 1, 2)); histories = train(models, ...)
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import norms
from ._validation import as_matrix, check_beta, check_positive
from .network import (
    FlatParameters,
    History,
    Optimizer,
    batches,
    make_optimizer,
    one_blas_thread,
)

NORMS = ("batch", "group", "layer", "instance", None)
KERNEL = 3  # 3x3 convolutions, stride 1, zero padding 1: the output keeps H x W
_CHUNK = 512  # examples per block in inference mode

__all__ = [
    "NORMS",
    "ConvNet",
    "History",
    "conv_backward",
    "conv_forward",
    "maxpool_backward",
    "maxpool_forward",
    "train",
    "train_step",
]


# ------------------------------------------------------------------ the layers
# Arrays carry a leading axis R (networks side by side, usually 1), then channels first.
def _patches(x: np.ndarray, k: int) -> np.ndarray:
    """The patch matrices (R, C*k*k, N*H*W) of x (R, C, N, H, W), zero padding k // 2:
    column (n, i, j) holds the k x k patch of every channel around position (i, j)."""
    r, c, n, h, w = x.shape
    p = k // 2
    padded = np.zeros((r, c, n, h + 2 * p, w + 2 * p), dtype=x.dtype)
    padded[..., p : p + h, p : p + w] = x
    # A strided view (R, C, k, k, N, H, W) of the padded array, no copy: the patch
    # of position (i, j) starts at padded[..., i, j] and steps one row (one column)
    # per kernel row (column).
    sr, sc, sn, sh, sw = padded.strides
    windows = as_strided(
        padded, (r, c, k, k, n, h, w), (sr, sc, sh, sw, sn, sh, sw), writeable=False
    )
    return windows.reshape(r, c * k * k, n * h * w)  # the one copy


def conv_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray | None = None):
    """Convolution, stride 1, zero padding k // 2 (the output keeps H x W).

    x: (R, C, N, H, W); W: (R, F, C, k, k), k odd (PyTorch's weight layout, per
    network); b: (R, F) or None. Returns out (R, F, N, H, W),
    out[., f, n, i, j] = sum over c, di, dj of x[., c, n, i + di - k//2, j + dj - k//2]
    * W[., f, c, di, dj] (+ b[., f]), and the patch matrices (R, C*k*k, N*H*W) that
    the backward pass needs.
    """
    r, _, n, h, w = x.shape
    f, k = W.shape[1], W.shape[3]
    cols = _patches(x, k)
    out = np.matmul(W.reshape(r, f, -1), cols)  # (R, F, N*H*W): every output at once
    if b is not None:
        out += b[:, :, None]
    return out.reshape(r, f, n, h, w), cols


def conv_backward(dout: np.ndarray, cols: np.ndarray, W: np.ndarray, need_dx: bool = True):
    """Gradients of ``conv_forward``.

    dout: (R, F, N, H, W); cols: the patch matrices of the forward pass; W: (R, F, C, k, k).
    Returns dx (R, C, N, H, W) (None if not need_dx), dW (R, F, C, k, k), db (R, F).
    dx is itself a convolution: of dout, zero-padded, with the kernel flipped in both
    spatial directions and its two channel axes swapped.
    """
    r, f, n, h, w = dout.shape
    c, k = W.shape[2], W.shape[3]
    d2 = dout.reshape(r, f, n * h * w)
    dW = np.matmul(cols, d2.transpose(0, 2, 1)).transpose(0, 2, 1).reshape(W.shape)
    db = d2.sum(axis=2)
    if not need_dx:
        return None, dW, db
    flipped = W[:, :, :, ::-1, ::-1].transpose(0, 2, 1, 3, 4)  # (R, C, F, k, k)
    dx = np.matmul(flipped.reshape(r, c, -1), _patches(dout, k))  # padding k-1-k//2 = k//2
    return dx.reshape(r, c, n, h, w), dW, db


def _corners(x: np.ndarray):
    """The four strided views of the 2x2 blocks of x (..., H, W): top-left, top-right,
    bottom-left, bottom-right (PyTorch's order within a block)."""
    return x[..., 0::2, 0::2], x[..., 0::2, 1::2], x[..., 1::2, 0::2], x[..., 1::2, 1::2]


def maxpool_forward(x: np.ndarray):
    """Max pooling (池化) over 2x2 blocks of the last two axes, stride 2.

    x: (..., H, W) with H, W even. Returns out (..., H/2, W/2) and ``where``, the
    position 0..3 of each maximum in its block (the first one on a tie, as PyTorch).
    """
    a, b, c, d = _corners(x)
    out = np.maximum(np.maximum(a, b), np.maximum(c, d))
    # The first corner holding the maximum: 0 if a is it, else 1 if b is, ... Counted
    # as "a is not it" + "neither a nor b" + "none of a, b, c" (0/1 values, int8).
    not_a = (a != out).view(np.int8)
    not_ab = not_a & (b != out).view(np.int8)
    where = not_a + not_ab
    where += not_ab & (c != out).view(np.int8)
    return out, where


def maxpool_backward(dout: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Gradient of ``maxpool_forward``: each block's gradient goes to its maximum.

    dout: (..., H/2, W/2); where: from the forward pass. Returns dx (..., H, W).
    """
    *lead, h2, w2 = dout.shape
    dx = np.empty((*lead, 2 * h2, 2 * w2), dtype=dout.dtype)
    for k, corner in enumerate(_corners(dx)):
        np.multiply(dout, where == k, out=corner)
    return dx


# ------------------------------------------------------------------ the network
@dataclass
class _LayerCache:
    """What one layer's backward pass needs (arrays with the leading axis R)."""

    inputs: np.ndarray  # patch matrices of a convolution, or the dense layer's input (R, F, N)
    x_hat: np.ndarray | None  # normalized values (None without normalization)
    inv_std: np.ndarray | None  # 1/sqrt(var + eps), one per statistic
    relu_in: np.ndarray  # input of the ReLU
    where: np.ndarray | None  # positions of the maxima of the pooling (None: dense layer)
    training: bool  # batch statistics (True) or running statistics (False)


class ConvNet(FlatParameters):
    """Convolutional blocks (conv 3x3 - norm - ReLU - max-pool 2x2), an optional dense
    hidden layer (dense - norm - ReLU) and a dense output layer, for small
    single-channel images (the 8x8 digits by default).

    channels: (C1, ..., CL): the feature maps of the L convolutions (L >= 1); each
        block halves H and W, so H and W must be multiples of 2^L.
    norm: "batch", "group", "layer", "instance" or None (see the module docstring).
    groups: number of groups for norm="group"; it must divide every C (and hidden).
    hidden: None, or the width D of a dense hidden layer after the last block (as the
        fully connected layers of LeNet with Batch Norm in d2l). Its normalization sees
        one value per unit and example: Batch Norm has N values per statistic there,
        Group Norm D/groups, Layer Norm D. Instance Norm would have 1: not allowed.
    seed: an int (one network) or a sequence of ints (that many networks side by side,
        see the module docstring). The weights of a network depend only on its seed:
        He initialization W ~ N(0, 2 / fan_in) for layers followed by a ReLU, LeCun
        N(0, 1 / fan_in) for the output layer; gamma 1, beta and b 0.
    eps: the normalization's epsilon. running_beta: weight of the old value in BN's
        running averages (the notes' beta, 0.9; PyTorch's momentum 0.1); the stored
        variance is the unbiased one over the values of a statistic, as PyTorch's.
    ghost_batch: with Batch Norm, in training mode, normalize each run of this many
        consecutive examples of a mini-batch with its own statistics, as when a mini-batch
        is split over several GPUs that each compute Batch Norm on their share (Wu & He
        2018's "batch size per GPU"; "ghost batches", Hoffer et al. 2017). The mini-batch
        size must be a multiple; the gradient still averages the whole mini-batch, and the
        running statistics use the whole mini-batch (as ``course_lib.network.MLP``).
        None (default): the mini-batch is one batch.
    dtype: float64 (default: gradient checks work, printed results reproduce) or float32.
    image_shape, classes: (8, 8) and 10 for the digits.

    Parameters live in ``model.params``: "W1", "gamma1", "beta1", ..., "WL", "gammaL",
    "betaL" for the convolutions ("b1" ... "bL" instead of gamma and beta without
    normalization), the same for the hidden layer if any (number L+1; its "W" has
    shape (features, D), rows in PyTorch's flattening order (c, h, w)), then the
    output layer's "W" and "b" (the last number). They are views into one buffer
    (change values in place); with several seeds every array has a leading axis,
    one entry per network.
    BN's running statistics: ``running_mean[l]``, ``running_var[l]``, one per
    normalized layer. ``model.training`` selects the mode of ``forward``.
    """

    def __init__(
        self,
        channels: Sequence[int] = (8, 16),
        norm: str | None = "batch",
        groups: int = 4,
        seed: int | Sequence[int] = 0,
        *,
        hidden: int | None = None,
        ghost_batch: int | None = None,
        eps: float = 1e-5,
        running_beta: float = 0.9,
        dtype: Any = np.float64,
        image_shape: tuple[int, int] = (8, 8),
        classes: int = 10,
    ) -> None:
        channels = tuple(int(c) for c in channels)
        if not channels or any(c < 1 for c in channels):
            raise ValueError(f"channels must list positive numbers (C1, ..., CL), got {channels}")
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        h, w = (int(s) for s in image_shape)
        scale = 2 ** len(channels)
        if h % scale or w % scale or min(h, w) < scale:
            raise ValueError(
                f"image_shape must be multiples of {scale} ({len(channels)} 2x2 poolings), "
                f"got {h, w}"
            )
        if int(classes) < 2:
            raise ValueError(f"classes must be >= 2, got {classes}")
        if hidden is not None:
            if isinstance(hidden, bool) or int(hidden) != hidden or hidden < 2:
                raise ValueError(f"hidden must be None or a width >= 2, got {hidden!r}")
            hidden = int(hidden)
            if norm == "instance":
                raise ValueError(
                    "norm='instance' cannot normalize the dense hidden layer (one value per "
                    "unit and example: its variance is 0); use hidden=None"
                )
        if ghost_batch is not None:
            if isinstance(ghost_batch, bool) or int(ghost_batch) != ghost_batch or ghost_batch < 2:
                raise ValueError(
                    f"ghost_batch must be an integer >= 2 or None, got {ghost_batch!r}"
                )
            if norm != "batch":
                raise ValueError(f"ghost_batch needs norm='batch' (got norm={norm!r})")
            ghost_batch = int(ghost_batch)
        widths = channels + ((hidden,) if hidden else ())
        if norm == "group":
            for c in widths:
                norms._check_groups(groups, c)
        seeds = (seed,) if np.ndim(seed) == 0 else tuple(seed)
        if not seeds or not all(isinstance(s, int | np.integer) for s in seeds):
            raise ValueError(f"seed must be an integer or a sequence of integers, got {seed!r}")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        self.channels = channels
        self.norm = norm
        self.groups = {"group": int(groups), "layer": 1}.get(norm or "", 0)
        self.hidden = hidden
        self.ghost_batch = ghost_batch
        self.eps = check_positive(eps, "eps")
        self.running_beta = check_beta(running_beta, "running_beta")
        self.dtype = dtype
        self.image_shape = (h, w)
        self.classes = int(classes)
        self.seeds = tuple(int(s) for s in seeds)
        self.seed = seed
        self.replicas = len(self.seeds)
        self.training = True
        self.sizes = (h * w, *widths, self.classes)  # inputs ... classes, as MLP.sizes
        self.n_blocks = len(channels)
        self.n_layers = len(widths)  # the layers with a normalization (or a bias)

        flat = channels[-1] * (h // scale) * (w // scale)
        shapes = [
            (c_out, c_in, KERNEL, KERNEL)
            for c_in, c_out in zip((1, *channels[:-1]), channels, strict=True)
        ]
        if hidden:
            shapes.append((flat, hidden))
        layout: list[tuple[str, tuple[int, ...]]] = []
        for l, (shape, width) in enumerate(zip(shapes, widths, strict=True), start=1):
            layout.append((f"W{l}", shape))
            if norm is None:
                layout.append((f"b{l}", (width,)))
            else:
                layout += [(f"gamma{l}", (width,)), (f"beta{l}", (width,))]
        out = self.n_layers + 1
        layout += [(f"W{out}", (hidden or flat, self.classes)), (f"b{out}", (self.classes,))]
        self._layout = tuple(layout)
        size = sum(int(np.prod(s)) for _, s in layout)
        buffer = np.zeros((self.replicas, size), dtype=dtype)
        for row, s in zip(buffer, self.seeds, strict=True):
            rng = np.random.default_rng(s)
            for name, view in _views(row[None], self._layout).items():
                view = view[0]
                if name == f"W{out}":  # LeCun: the logits
                    view[...] = rng.normal(0.0, np.sqrt(1.0 / view.shape[0]), size=view.shape)
                elif name.startswith("W"):  # He: followed by a ReLU
                    fan_in = view[0].size if view.ndim == 4 else view.shape[0]
                    view[...] = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=view.shape)
                elif name.startswith("gamma"):
                    view[...] = 1.0
        self._set_buffers(buffer.reshape(-1), np.zeros(buffer.size, dtype=dtype))
        self._running_mean: list[np.ndarray] = []
        self._running_var: list[np.ndarray] = []
        if norm == "batch":
            self._running_mean = [np.zeros((self.replicas, c), dtype=dtype) for c in widths]
            self._running_var = [np.ones((self.replicas, c), dtype=dtype) for c in widths]
        self._caches: list[_LayerCache] = []

    # ---------------------------------------------------------------- state
    def _set_buffers(self, flat: np.ndarray, grad_flat: np.ndarray) -> None:
        self._flat, self._grad_flat = flat, grad_flat
        shaped = (self.replicas, -1)
        self._params = _views(flat.reshape(shaped), self._layout)
        self._grads = _views(grad_flat.reshape(shaped), self._layout)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for key in ("_params", "_grads", "_caches"):
            state.pop(key)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._set_buffers(self._flat, self._grad_flat)
        self._caches = []

    def copy(self) -> ConvNet:
        """An independent copy: same parameters, running statistics and mode."""
        return copy.deepcopy(self)

    def _public(self, arrays: dict) -> Mapping[str, np.ndarray]:
        if self.replicas == 1:
            arrays = {k: v[0] for k, v in arrays.items()}
        return MappingProxyType(arrays)

    @property
    def batchnorm(self) -> bool:
        """True with Batch Norm: training then needs mini-batches of 2 or more examples."""
        return self.norm == "batch"

    @property
    def params(self) -> Mapping[str, np.ndarray]:
        """Name -> parameter array (views into one buffer: modify values in place)."""
        return self._public(self._params)

    @property
    def grads(self) -> Mapping[str, np.ndarray]:
        """Name -> gradient of the last ``loss_and_grads`` (same shapes as ``params``)."""
        return self._public(self._grads)

    @property
    def running_mean(self) -> list[np.ndarray]:
        """BN's running means, one array (C,) per normalized layer ((R, C) with R seeds)."""
        return [a[0] if self.replicas == 1 else a for a in self._running_mean]

    @property
    def running_var(self) -> list[np.ndarray]:
        """BN's running variances, one array (C,) per normalized layer ((R, C) with R seeds)."""
        return [a[0] if self.replicas == 1 else a for a in self._running_var]

    def __repr__(self) -> str:
        norm = {None: "no normalization", "group": f"group norm ({self.groups} groups)"}.get(
            self.norm, f"{self.norm} norm"
        )
        layers = " - ".join(f"conv {c} - pool" for c in self.channels)
        if self.hidden:
            layers += f" - dense {self.hidden}"
        count = self._flat.size // self.replicas
        many = f", {self.replicas} networks (seeds {self.seeds})" if self.replicas > 1 else ""
        return (
            f"ConvNet({layers} - dense {self.classes}, {norm}, {count} parameters{many}, "
            f"{'training' if self.training else 'inference'} mode)"
        )

    # ---------------------------------------------------------------- inputs
    def _inputs(self, X: object) -> np.ndarray:
        """X as a checked (m, H*W) array of the model's dtype (images (m, H, W) accepted)."""
        h, w = self.image_shape
        if np.ndim(X) == 3:
            shape = np.shape(X)
            if shape[1:] != (h, w):
                raise ValueError(f"X must have shape (m, {h}, {w}) as images, got {shape}")
            X = np.reshape(X, (shape[0], h * w))
        X = as_matrix(X, "X")
        if X.shape[1] != h * w:
            raise ValueError(f"X must have {h * w} columns (one per pixel), got shape {X.shape}")
        return X if X.dtype == self.dtype else X.astype(self.dtype)

    def _labels(self, y: object, m: int) -> np.ndarray:
        y = np.asarray(y)
        if y.shape != (m,):
            raise ValueError(f"y must have shape ({m},), one label per row of X, got {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            if not np.all(np.mod(y, 1) == 0):
                raise ValueError("y must hold integer class labels")
            y = y.astype(np.intp)
        if y.min() < 0 or y.max() >= self.classes:
            raise ValueError(f"y must hold class labels in 0 .. {self.classes - 1}")
        return y

    def _batch_check(self, m: int) -> None:
        if self.norm == "batch" and m < 2:
            raise ValueError(
                "X has 1 example: Batch Norm in training mode needs a mini-batch of at least "
                "2 examples; use training=False (running statistics) for single examples"
            )

    def _unstack(self, value: np.ndarray):
        return value[0] if self.replicas == 1 else value

    # ---------------------------------------------------------------- forward
    def forward(
        self, X: np.ndarray, training: bool | None = None, *, update_stats: bool | None = None
    ) -> np.ndarray:
        """Logits (m, classes) for X (m, H*W) (or images (m, H, W)); with several
        seeds (R, m, classes), every network on the same X.

        training: normalize with this mini-batch's statistics (True) or, for Batch
        Norm, with the running statistics (False); None means ``self.training``.
        Group, Layer and Instance Norm compute the same in both modes.
        update_stats: in training mode, fold the batch statistics into BN's running
        averages (default: yes).
        """
        X = self._inputs(X)
        training = self.training if training is None else bool(training)
        update_stats = training if update_stats is None else bool(update_stats)
        if training:
            self._batch_check(X.shape[0])
        return self._unstack(self._forward(self._stack(X), training, update_stats, keep=False))

    def feature_maps(self, X: np.ndarray, layer: int = 1, training: bool = False) -> np.ndarray:
        """The feature maps that normalization layer ``layer`` (1 .. L) receives: the
        output of convolution ``layer`` before normalization, shape (m, C, H, W) in
        PyTorch's layout ((R, m, C, H, W) with several seeds). Earlier blocks run in
        inference mode (training=False) or with this batch's statistics; nothing is
        updated."""
        if not 1 <= int(layer) <= self.n_blocks:
            raise ValueError(f"layer must be in 1 .. {self.n_blocks}, got {layer!r}")
        X = self._inputs(X)
        if training:
            self._batch_check(X.shape[0])
        h, w = self.image_shape
        a = self._stack(X).reshape(self.replicas, 1, X.shape[0], h, w)
        p = self._params
        for l in range(1, int(layer) + 1):
            z, _ = conv_forward(a, p[f"W{l}"], p.get(f"b{l}"))
            if l < layer:
                a = maxpool_forward(np.maximum(self._normalize(l - 1, z, training, False)[0], 0.0))[
                    0
                ]
        return self._unstack(z.transpose(0, 2, 1, 3, 4).copy())  # (R, C, N, ...) -> (R, N, C, ...)

    def _stack(self, X: np.ndarray) -> np.ndarray:
        """The same inputs (m, H*W) for every network: (R, m, H*W), a view."""
        return np.broadcast_to(X, (self.replicas, *X.shape))

    def _forward(self, X: np.ndarray, training: bool, update_stats: bool, keep: bool):
        """Logits (R, N, classes) for X (R, N, H*W): network r gets X[r]."""
        h, w = self.image_shape
        r, n, _ = X.shape
        a = X.reshape(r, 1, n, h, w)  # one channel: (R, 1, N, H, W) is X's own memory order
        p = self._params
        caches = []
        for l in range(1, self.n_blocks + 1):
            z, cols = conv_forward(a, p[f"W{l}"], p.get(f"b{l}"))
            z, x_hat, inv_std = self._normalize(l - 1, z, training, update_stats)
            a, where = maxpool_forward(np.maximum(z, 0.0))
            if keep:
                caches.append(_LayerCache(cols, x_hat, inv_std, z, where, training))
        # (R, C, N, h, w) -> (R, C*h*w, N): features in PyTorch's flattening order (c, h, w)
        c = a.shape[1]
        a = a.reshape(r, c, n, -1).transpose(0, 1, 3, 2).reshape(r, -1, n)
        out = self.n_layers + 1
        if self.hidden:
            z = np.matmul(p[f"W{out - 1}"].transpose(0, 2, 1), a)  # (R, D, N)
            if self.norm is None:
                z += p[f"b{out - 1}"][:, :, None]
            z5, x_hat, inv_std = self._normalize(
                out - 2, z[:, :, :, None, None], training, update_stats
            )  # a dense layer is a block of 1 x 1 feature maps
            z = z5[:, :, :, 0, 0]
            if keep:
                caches.append(_LayerCache(a, x_hat, inv_std, z, None, training))
            a = np.maximum(z, 0.0)
        logits = np.matmul(a.transpose(0, 2, 1), p[f"W{out}"])  # (R, N, classes)
        logits += p[f"b{out}"][:, None, :]
        if keep:
            self._caches = caches
            self._last_in = a
        return logits

    def _stat_view(self, z: np.ndarray):
        """z (R, C, N, H, W) reshaped so that each statistic is over ``axes``: for Batch
        Norm (R, C, N/g, g*H*W) over 3, with g = N or the ghost batch size; else
        (R, G, C/G, N, H*W) over (2, 4), a group's channels being consecutive
        (PyTorch's layout)."""
        r, c, n = z.shape[:3]
        if self.norm == "batch":
            g = n if self.ghost_batch is None or n <= self.ghost_batch else self.ghost_batch
            if n % g:
                raise ValueError(
                    f"the mini-batch size {n} must be a multiple of ghost_batch={g} in "
                    "training mode"
                )
            return z.reshape(r, c, n // g, -1), (3,)
        g = c if self.norm == "instance" else self.groups
        return z.reshape(r, g, c // g, n, -1), (2, 4)

    def _normalize(self, l: int, z: np.ndarray, training: bool, update_stats: bool):
        """Normalization layer l on z (R, C, N, H, W): returns (out, x_hat, inv_std)
        (z itself and None, None without normalization)."""
        if self.norm is None:
            return z, None, None
        per_channel = (self.replicas, -1, 1, 1, 1)
        gamma = self._params[f"gamma{l + 1}"].reshape(per_channel)
        beta = self._params[f"beta{l + 1}"].reshape(per_channel)
        if self.norm == "batch" and not training:  # the running statistics, per channel
            inv_std = 1.0 / np.sqrt(self._running_var[l] + self.eps).reshape(per_channel)
            x_hat = (z - self._running_mean[l].reshape(per_channel)) * inv_std
        else:
            view, axes = self._stat_view(z)
            stats = norms._normalize(view, axes, self.eps, stats=True)
            x_hat, inv_std = stats[0].reshape(z.shape), stats[1]
            if self.norm == "batch" and update_stats:
                if view.shape[2] == 1:  # one batch: its statistics, (R, C)
                    mu, var = stats[2][..., 0, 0], stats[3][..., 0, 0]
                else:  # ghost batches: the running statistics see the whole mini-batch
                    whole = z.reshape(*z.shape[:2], -1)
                    mu, var = whole.mean(axis=2), whole.var(axis=2)
                count = z[0, 0].size  # N*H*W values per channel
                rb = self.running_beta
                mean = self._running_mean[l] * rb
                mean += (1.0 - rb) * mu
                variance = self._running_var[l] * rb
                variance += ((1.0 - rb) * count / (count - 1)) * var  # unbiased, as PyTorch
                self._running_mean[l], self._running_var[l] = mean, variance
        out = x_hat * gamma
        out += beta
        return out, x_hat, inv_std

    # ---------------------------------------------------------------- loss, backward
    def loss_and_grads(
        self, X: np.ndarray, y: np.ndarray, *, update_stats: bool = True
    ) -> tuple[float | np.ndarray, Mapping[str, np.ndarray]]:
        """Mean softmax cross-entropy of a mini-batch in training mode, and its gradients.

        X: (m, H*W); y: (m,) labels (with several seeds, every network gets this batch
        and the loss is an array, one per network). Returns (loss, grads), grads a
        read-only mapping like ``params`` (overwritten by the next call). BN's running
        statistics are updated unless update_stats=False.
        """
        X = self._inputs(X)
        y = self._labels(y, X.shape[0])
        self._batch_check(X.shape[0])
        y = np.broadcast_to(y, (self.replicas, len(y)))
        losses = self._loss_and_grads(self._stack(X), y, update_stats)
        return (float(losses[0]) if self.replicas == 1 else losses), self.grads

    def _loss_and_grads(self, X: np.ndarray, y: np.ndarray, update_stats: bool) -> np.ndarray:
        """Losses (R,) for X (R, N, H*W), y (R, N); fills the gradient buffer."""
        r, n, _ = X.shape
        logits = self._forward(X, True, update_stats, keep=True)
        logits -= logits.max(axis=2, keepdims=True)
        e = np.exp(logits)
        s = e.sum(axis=2, keepdims=True)
        rows = np.arange(r)[:, None], np.arange(n), y
        losses = (np.log(s)[..., 0].sum(axis=1) - logits[rows].sum(axis=1)) / n
        dlogits = e
        dlogits /= s
        dlogits[rows] -= 1.0
        dlogits *= 1.0 / n
        self._backward(dlogits)
        return losses

    def _backward(self, dlogits: np.ndarray) -> None:
        p, g = self._params, self._grads
        out = self.n_layers + 1
        np.matmul(self._last_in, dlogits, out=g[f"W{out}"])  # (R, F, N) @ (R, N, classes)
        np.sum(dlogits, axis=1, out=g[f"b{out}"])
        da = np.matmul(p[f"W{out}"], dlogits.transpose(0, 2, 1))  # (R, F, N)
        if self.hidden:
            cache = self._caches[-1]
            dz = da * (cache.relu_in > 0)
            dz = self._normalize_backward(out - 2, dz[:, :, :, None, None], cache)[:, :, :, 0, 0]
            np.matmul(cache.inputs, dz.transpose(0, 2, 1), out=g[f"W{out - 1}"])
            if self.norm is None:
                np.sum(dz, axis=2, out=g[f"b{out - 1}"])
            da = np.matmul(p[f"W{out - 1}"], dz)
        r, _, n = da.shape
        scale = 2**self.n_blocks
        h, w = self.image_shape
        c = self.channels[-1]  # (R, C*h*w, N) -> (R, C, N, h, w)
        da = da.reshape(r, c, -1, n).transpose(0, 1, 3, 2).reshape(r, c, n, h // scale, w // scale)
        for l in range(self.n_blocks, 0, -1):
            cache = self._caches[l - 1]
            dz = maxpool_backward(da, cache.where)
            dz *= cache.relu_in > 0
            dz = self._normalize_backward(l - 1, dz, cache)
            dx, dW, db = conv_backward(dz, cache.inputs, p[f"W{l}"], need_dx=l > 1)
            g[f"W{l}"][...] = dW
            if self.norm is None:
                g[f"b{l}"][...] = db
            da = dx

    def _normalize_backward(self, l: int, dout: np.ndarray, cache: _LayerCache) -> np.ndarray:
        """dL/dz of normalization layer l from dL/dout (R, C, N, H, W); fills dgamma, dbeta."""
        if self.norm is None:
            return dout
        x_hat = cache.x_hat
        r, c = dout.shape[:2]
        d3, x3 = dout.reshape(r, c, -1), x_hat.reshape(r, c, -1)
        np.sum(d3, axis=2, out=self._grads[f"beta{l + 1}"])
        np.einsum("rcm,rcm->rc", d3, x3, out=self._grads[f"gamma{l + 1}"])
        dx_hat = dout * self._params[f"gamma{l + 1}"].reshape(r, c, 1, 1, 1)
        if self.norm == "batch" and not cache.training:  # fixed statistics: a scale
            return dx_hat * cache.inv_std
        view, axes = self._stat_view(dx_hat)
        x_view, _ = self._stat_view(x_hat)
        return norms._normalize_backward(view, x_view, cache.inv_std, axes).reshape(dout.shape)

    # ---------------------------------------------------------------- inference
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities in inference mode: (m, classes) for X (m, H*W)
        ((R, m, classes) with several seeds)."""
        logits = self._infer(self._inputs(X))
        logits -= logits.max(axis=-1, keepdims=True)
        prob = np.exp(logits)
        prob /= prob.sum(axis=-1, keepdims=True)
        return self._unstack(prob)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted classes (m,) in inference mode (BN: running statistics)."""
        return self.predict_proba(X).argmax(axis=-1)

    def accuracy(
        self, X: np.ndarray, y: np.ndarray, training: bool = False, batch_size: int | None = None
    ):
        """Fraction of rows of X classified as y (an array, one per network, with several
        seeds). In inference mode by default; training=True normalizes with batch
        statistics instead (nothing is updated): of all of X at once, or of each run of
        ``batch_size`` consecutive rows (the last incomplete run is left out), as the
        network saw its mini-batches in training."""
        X = self._inputs(X)
        y = self._labels(y, X.shape[0])
        return self._unstack(self._score(X, y, bool(training), batch_size)[0])

    def loss(self, X: np.ndarray, y: np.ndarray, training: bool = False, batch_size=None):
        """Mean cross-entropy on (X, y), in the mode of ``accuracy``."""
        X = self._inputs(X)
        y = self._labels(y, X.shape[0])
        return self._unstack(self._score(X, y, bool(training), batch_size)[1])

    def _infer(self, X: np.ndarray) -> np.ndarray:
        """Logits (R, m, classes) in inference mode, in blocks of rows."""
        with one_blas_thread():
            parts = [
                self._forward(self._stack(X[i : i + _CHUNK]), False, False, keep=False)
                for i in range(0, X.shape[0], _CHUNK)
            ]
        return np.concatenate(parts, axis=1)

    def _score(self, X, y, training=False, batch_size=None) -> tuple[np.ndarray, np.ndarray]:
        """(accuracy, mean cross-entropy), arrays (R,); X, y already checked."""
        if not training:
            logits = self._infer(X)
        else:
            size = X.shape[0] if batch_size is None else int(batch_size)
            if not 1 <= size <= X.shape[0]:
                raise ValueError(f"batch_size must be in 1 .. {X.shape[0]}, got {batch_size}")
            self._batch_check(size)
            stop = X.shape[0] - X.shape[0] % size
            X, y = X[:stop], y[:stop]
            with one_blas_thread():
                logits = np.concatenate(
                    [
                        self._forward(self._stack(X[i : i + size]), True, False, keep=False)
                        for i in range(0, stop, size)
                    ],
                    axis=1,
                )
        accuracy = np.mean(logits.argmax(axis=-1) == y, axis=-1)
        logits -= logits.max(axis=-1, keepdims=True)
        log_s = np.log(np.exp(logits).sum(axis=-1))
        picked = np.take_along_axis(logits, np.broadcast_to(y, logits.shape[:2])[..., None], -1)
        return accuracy, np.mean(log_s - picked[..., 0], axis=-1)


def _views(flat: np.ndarray, layout: Sequence[tuple[str, tuple[int, ...]]]) -> dict:
    """Name -> view (R, *shape) into flat (R, P), one row per network."""
    views, start = {}, 0
    r = flat.shape[0]
    for name, shape in layout:
        size = int(np.prod(shape))
        views[name] = flat[:, start : start + size].reshape(r, *shape)
        start += size
    return views


# ------------------------------------------------------------------ training
def train_step(
    model: ConvNet, optimizer: Optimizer, X_batch: np.ndarray, y_batch: np.ndarray
) -> float | np.ndarray:
    """One forward + backward pass on a mini-batch and one update of every parameter.

    X_batch: (m, H*W); y_batch: (m,) labels (every network of the model gets this batch).
    Returns the mini-batch loss before the update (an array, one per network, with
    several seeds). BN's running statistics are updated."""
    X_batch = model._inputs(X_batch)
    y_batch = model._labels(y_batch, X_batch.shape[0])
    model._batch_check(X_batch.shape[0])
    ys = np.broadcast_to(y_batch, (model.replicas, len(y_batch)))
    with one_blas_thread():
        losses = model._loss_and_grads(model._stack(X_batch), ys, True)
        optimizer.step(model._flat, model._grad_flat)
    return float(losses[0]) if model.replicas == 1 else losses


def train(
    model: ConvNet,
    X: np.ndarray,
    y: np.ndarray,
    *,
    lr: float,
    steps: int,
    batch_size: int = 32,
    optimizer: str | Optimizer = "sgd",
    seed: int | None = None,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    eval_every: int | None = 10,
    eval_train: bool = True,
    progress: bool = False,
    **optimizer_kw: Any,
) -> History | list[History]:
    """Mini-batch training of ``model`` in place, as ``course_lib.network.train``.

    X: (m, H*W) training inputs, y: (m,) labels; lr and optimizer (a name for
    ``make_optimizer`` with ``optimizer_kw``, or an Optimizer); steps updates on
    mini-batches of ``batch_size`` drawn by ``batches(m, batch_size, steps, seed)``,
    seed defaulting to the network's own seed (with several seeds, each network gets
    its own order of mini-batches, from its seed). Every ``eval_every`` steps (and
    before the first and after the last; None: only after the last) every network is
    evaluated in inference mode on the whole training set (unless eval_train=False:
    NaN instead) and on (X_val, y_val). progress: show a tqdm bar.
    Returns the ``History`` (a list of them, one per network, with several seeds).
    """
    X = model._inputs(X)
    y = model._labels(y, X.shape[0])
    if (X_val is None) != (y_val is None):
        raise ValueError("give both X_val and y_val, or neither")
    if X_val is not None:
        X_val = model._inputs(X_val)
        y_val = model._labels(y_val, X_val.shape[0])
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if eval_every is not None and eval_every < 1:
        raise ValueError(f"eval_every must be >= 1 or None, got {eval_every}")
    if model.batchnorm and batch_size < 2:
        raise ValueError("batch_size must be >= 2 with Batch Norm (a batch of 1 has variance 0)")
    opt = make_optimizer(optimizer, lr, **optimizer_kw) if isinstance(optimizer, str) else optimizer
    seeds = model.seeds if seed is None else tuple(int(seed) + k for k in range(model.replicas))
    orders = [batches(X.shape[0], batch_size, steps, s) for s in seeds]
    r = model.replicas
    losses = np.empty((steps, r))
    evals: list[np.ndarray] = []

    def evaluate(step: int) -> None:
        if eval_train:
            train_acc, train_loss = model._score(X, y)
        else:
            train_acc = train_loss = np.full(r, np.nan)
        if X_val is not None:
            val_acc, val_loss = model._score(X_val, y_val)
        else:
            val_acc = val_loss = np.full(r, np.nan)
        evals.append(np.stack([np.full(r, step), train_acc, train_loss, val_acc, val_loss]))

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, leave=False)
    was_training, model.training = model.training, True
    try:
        with one_blas_thread():
            if eval_every is not None:
                evaluate(0)
            for step in range(1, steps + 1):
                idx = np.stack([next(order) for order in orders])  # (R, batch_size)
                losses[step - 1] = model._loss_and_grads(X[idx], y[idx], True)
                opt.step(model._flat, model._grad_flat)
                if step == steps or (eval_every is not None and step % eval_every == 0):
                    evaluate(step)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
        model.training = was_training
    e = np.stack(evals)  # (evaluations, 5, R)
    settings = {
        "lr": lr,
        "steps": steps,
        "batch_size": batch_size,
        "optimizer": repr(opt),
    }
    histories = [
        History(
            losses[:, k],
            e[:, 0, k].astype(int),
            e[:, 1, k],
            e[:, 2, k],
            e[:, 3, k],
            e[:, 4, k],
            [],
            dict(settings, seed=seeds[k]),
        )
        for k in range(r)
    ]
    return histories[0] if r == 1 else histories
