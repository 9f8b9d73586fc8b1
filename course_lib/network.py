"""Lesson 04: a fully connected network with Batch Norm (Batch归一化) in every hidden layer.

The notes' picture, rows as examples (X: (m, n[0])):

    X --W[1]--> z[1] --BN(gamma[1], beta[1])--> z~[1] --g--> a[1] --W[2]--> z[2] --> ...
      ... --> a[L-1] --W[L], b[L]--> logits --softmax--> class probabilities

With Batch Norm a hidden layer has no bias b[l]: BN subtracts the batch mean, so any
constant added to z[l] cancels, and beta[l] takes over its role. gamma[l], beta[l]
have shape (n[l],) ((n[l], 1) in the lecture's column layout).

Public API (used by lessons 04 and 05):

    model = MLP([64, 100, 100, 100, 10], activation="sigmoid", batchnorm=True, seed=0)
    history = train(model, X, y, lr=0.3, steps=600, X_val=Xv, y_val=yv)  # -> History
    model.predict(X); model.predict_proba(x)      # inference mode: running statistics
    loss, grads = model.loss_and_grads(X_batch, y_batch)   # training mode
    model.layer_values(X, training=False)         # per hidden layer: z, a, z_pre, ...
    model.running_mean[l], model.running_var[l]   # inference statistics, replaceable
    opt = make_optimizer("adam", lr=0.01); train_step(model, opt, X_batch, y_batch)

The training step is written for speed: BN's running averages reuse the batch
statistics of the forward pass; all parameters live in one flat buffer (and all
gradients in another), so an optimizer updates W, b, gamma and beta with a few array
operations; numpy's BLAS runs on one thread while training (``one_blas_thread``).
``bn_impl="reference"`` runs the same network through ``course_lib.batchnorm``
instead; the tests check that both give the same numbers.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from . import batchnorm as bn
from ._validation import as_matrix, check_beta, check_positive
from .gradcheck import numerical_gradient

ACTIVATIONS = ("sigmoid", "tanh", "relu")
_CHUNK = 256  # rows per block in inference mode
BN_POSITIONS = ("before", "after")


# ------------------------------------------------------------------ activations
# Caps below the largest x whose e^x is finite: 709.78 (float64), 88.72 (float32).
_EXP_CAP = {np.dtype(np.float64): 700.0, np.dtype(np.float32): 88.0}


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function 1 / (1 + e^-z), element-wise, accurate to the last digits.

    e^-z is computed with -z capped (at 700 in float64, 88 in float32), so that no
    overflow (and no warning) happens for very negative z; the result there is below
    1e-304 (float64) or 1e-38 (float32) instead of 0. The output has z's dtype.
    """
    out = np.negative(z)
    np.minimum(out, _EXP_CAP.get(out.dtype, 700.0), out=out)
    np.exp(out, out=out)
    out += 1.0
    np.reciprocal(out, out=out)
    return out


def _activate(name: str, z: np.ndarray) -> np.ndarray:
    if name == "sigmoid":
        return sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    return np.maximum(z, 0.0)


def _activation_backward(name: str, da: np.ndarray, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    """dL/dz from dL/da for a = g(z), using the stored output a where cheaper."""
    if name == "sigmoid":
        return da * a * (1.0 - a)  # sigma' = sigma (1 - sigma)
    if name == "tanh":
        return da * (1.0 - a * a)
    return da * (z > 0)


def bn_layer_forward(
    A_prev: np.ndarray,
    W: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    eps: float = 1e-5,
) -> np.ndarray:
    """One hidden layer with Batch Norm in training mode (the graded exercise's reference).

    A_prev: (m, n_prev) the previous layer's activations (or the inputs X), m >= 2;
    W: (n_prev, n); gamma, beta: (n,).
    Returns A: (m, n) = sigmoid(BN(A_prev @ W)); no bias (BN would cancel it).
    """
    A_prev = as_matrix(A_prev, "A_prev")
    W = as_matrix(W, "W")
    if W.shape[0] != A_prev.shape[1]:
        raise ValueError(
            f"W must have shape ({A_prev.shape[1]}, n) to multiply A_prev {A_prev.shape}, "
            f"got {W.shape}"
        )
    z = A_prev @ W
    z_tilde, _ = bn.batchnorm_forward(z, gamma, beta, eps)
    return sigmoid(z_tilde)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Class probabilities, row by row: (m, k) logits -> (m, k), each row summing to 1.

    Computed as e^(logits - row max) / sum, so that large logits do not overflow.
    """
    logits = as_matrix(logits, "logits")
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------ the training step (exercise)
def _n_layers(params: Mapping[str, np.ndarray]) -> int:
    """L, the number of weight matrices W1 .. WL in a parameter dict (checked)."""
    if not isinstance(params, Mapping):
        raise ValueError(f"params must be a dict of arrays, got {type(params).__name__}")
    L = 0
    while f"W{L + 1}" in params:
        L += 1
    if L < 2:
        raise ValueError("params must hold W1, W2, ...: at least one hidden layer and the output")
    expected = {f"W{l}" for l in range(1, L + 1)} | {f"b{L}"}
    expected |= {f"{k}{l}" for l in range(1, L) for k in ("gamma", "beta")}
    if set(params) != expected:
        missing, extra = sorted(expected - set(params)), sorted(set(params) - expected)
        raise ValueError(
            f"params must hold exactly {sorted(expected)}; missing {missing}, unexpected {extra}"
            + (" (hidden layers have no bias b[l] with Batch Norm)" if extra else "")
        )
    return L


def bn_network(
    sizes: Sequence[int], seed: int = 0, init_scale: float = 1.0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The parameters and running statistics of a sigmoid network with Batch Norm in
    every hidden layer, as two dicts (the form ``bn_train_step`` works on).

    sizes: (n[0], ..., n[L]). Returns (params, running): params "W1" .. "WL" (the same
    initial weights as ``MLP(sizes, batchnorm=True, seed=seed)``), "gamma1".. (ones),
    "beta1".. (zeros), "bL" (zeros); running "mean1".. (zeros), "var1".. (ones).
    """
    model = MLP(sizes, activation="sigmoid", batchnorm=True, seed=seed, init_scale=init_scale)
    params = {name: p.copy() for name, p in model.params.items()}
    running = {}
    for l in range(1, model.n_hidden + 1):
        running[f"mean{l}"] = model.running_mean[l - 1].copy()
        running[f"var{l}"] = model.running_var[l - 1].copy()
    return params, running


def bn_train_step(
    params: Mapping[str, np.ndarray],
    running: Mapping[str, np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    lr: float,
    eps: float = 1e-5,
    running_beta: float = 0.9,
) -> tuple[float, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One step of mini-batch gradient descent for a sigmoid network with Batch Norm in
    every hidden layer and a softmax output (the graded exercise's reference).

    params: "W1" .. "WL" (W[l]: (n[l-1], n[l])), "gamma1", "beta1", .. (n[l],) for the
        hidden layers l < L (no hidden bias), "bL" (n[L],) for the output layer.
    running: "mean1", "var1", .. (n[l],): running averages of each BN input z[l].
    X: (m, n[0]) a mini-batch, m >= 2; y: (m,) class labels in 0 .. n[L]-1.
    lr: learning rate; eps: Batch Norm's epsilon; running_beta: the weight of the old
        value in the running averages (the notes' beta).

    Training mode: each hidden layer normalizes z[l] = a[l-1] W[l] with the batch's mean
    and (1/m) variance, then z~ = gamma * x_hat + beta, a[l] = sigmoid(z~). The loss is the
    mean cross-entropy of softmax(a[L-1] W[L] + b[L]). Backpropagation goes through the
    batch statistics (``batchnorm.batchnorm_backward``). Returns (loss, new_params,
    new_running): the loss before the update; every parameter p - lr * dL/dp; every
    running average running_beta * old + (1 - running_beta) * this batch's statistic
    (the mean of z[l] and its unbiased variance, m/(m-1) times the batch's). The inputs
    are not modified.
    """
    L = _n_layers(params)
    X = as_matrix(X, "X", min_rows=2)
    m = X.shape[0]
    y = np.asarray(y)
    if y.shape != (m,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must hold {m} integer labels, shape ({m},), got {y.shape} {y.dtype}")
    lr = check_positive(lr, "lr")
    a, caches, new_running = X, [], {}
    for l in range(1, L):
        z = a @ params[f"W{l}"]
        z_tilde, bn_cache = bn.batchnorm_forward(z, params[f"gamma{l}"], params[f"beta{l}"], eps)
        new_running[f"mean{l}"], new_running[f"var{l}"] = bn.update_running_stats(
            running[f"mean{l}"], running[f"var{l}"], z, beta=running_beta
        )
        a_next = sigmoid(z_tilde)
        caches.append((a, bn_cache, a_next))
        a = a_next
    logits = a @ params[f"W{L}"] + params[f"b{L}"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(m)
    loss = float(-log_p[rows, y].mean())
    dlogits = np.exp(log_p)
    dlogits[rows, y] -= 1.0
    dlogits /= m  # the loss is a mean over the batch
    grads = {f"W{L}": a.T @ dlogits, f"b{L}": dlogits.sum(axis=0)}
    da = dlogits @ params[f"W{L}"].T
    for l in range(L - 1, 0, -1):
        a_prev, bn_cache, a_l = caches[l - 1]
        dz_tilde = da * a_l * (1.0 - a_l)  # sigmoid' = sigmoid (1 - sigmoid)
        dz, grads[f"gamma{l}"], grads[f"beta{l}"] = bn.batchnorm_backward(dz_tilde, bn_cache)
        grads[f"W{l}"] = a_prev.T @ dz
        if l > 1:
            da = dz @ params[f"W{l}"].T  # with W[l] as it was in the forward pass
    new_params = {name: p - lr * grads[name] for name, p in params.items()}
    return loss, new_params, new_running


def bn_predict(
    params: Mapping[str, np.ndarray],
    running: Mapping[str, np.ndarray],
    X: np.ndarray,
    eps: float = 1e-5,
) -> np.ndarray:
    """Predicted classes (m,) of the network of ``bn_train_step`` in inference mode: each
    BN layer uses the running statistics, so every example is classified on its own."""
    L = _n_layers(params)
    a = as_matrix(X, "X")
    for l in range(1, L):
        z = a @ params[f"W{l}"]
        a = sigmoid(
            bn.batchnorm_inference(
                z,
                params[f"gamma{l}"],
                params[f"beta{l}"],
                running[f"mean{l}"],
                running[f"var{l}"],
                eps,
            )
        )
    return (a @ params[f"W{L}"] + params[f"b{L}"]).argmax(axis=1)


# ------------------------------------------------------------------ the network
@dataclass
class _LayerCache:
    """What one hidden layer's backward pass needs (arrays of the last forward pass)."""

    a_prev: np.ndarray  # (m, n_prev) the layer's input
    z: np.ndarray  # (m, n) input of the activation (after BN when BN is "before")
    a: np.ndarray  # (m, n) activation output
    x_hat: np.ndarray | None = None  # (m, n) normalized values
    inv_std: np.ndarray | None = None  # (n,)
    bn_cache: Any = None  # course_lib.batchnorm cache (reference implementation)
    out: np.ndarray | None = None  # (m, n) BN output when BN is "after"
    z_pre: np.ndarray | None = None  # (m, n) linear output before BN when BN is "before"


class FlatParameters:
    """Parameters and gradients kept in two flat buffers (``_flat``, ``_grad_flat``, of
    ``dtype``), so that optimizers update one vector: shared by the MLP and the conv net."""

    _flat: np.ndarray
    _grad_flat: np.ndarray
    dtype: Any

    def flat_params(self) -> np.ndarray:
        """A copy of all parameters as one vector (the order of ``params``)."""
        return self._flat.copy()

    def set_flat_params(self, values: np.ndarray) -> None:
        """Overwrite all parameters from one vector (as returned by ``flat_params``)."""
        values = np.asarray(values, dtype=self.dtype)
        if values.shape != self._flat.shape:
            raise ValueError(f"values must have shape {self._flat.shape}, got {values.shape}")
        self._flat[...] = values

    def flat_grads(self) -> np.ndarray:
        """A copy of the last computed gradients as one vector (the order of ``params``)."""
        return self._grad_flat.copy()


class MLP(FlatParameters):
    """A multilayer perceptron for classification, optionally with Batch Norm.

    sizes: (n[0], n[1], ..., n[L]): inputs, hidden layer widths, classes (L >= 1).
    activation: "sigmoid" (the paper's MNIST set-up), "tanh" or "relu" for hidden layers.
    batchnorm: put Batch Norm in every hidden layer.
    bn_position: "before" the activation (the notes and the paper: z -> BN -> g, no
        bias) or "after" it (z = a W + b -> g -> BN); only used with batchnorm=True.
    init_scale: W[l] ~ N(0, init_scale^2 / n[l-1]); 1 is LeCun's initialization.
    hidden_bias: give hidden layers a bias b[l] (default: only without BN "before";
        set True with BN to see that b[l] is redundant).
    eps: Batch Norm's epsilon. running_beta: weight of the old value in the running
        averages of the batch statistics (the notes' beta, 0.9; PyTorch's momentum
        0.1); the stored variance is the unbiased m/(m-1) batch variance.
    seed: the weights depend only on it (W Gaussian; b, beta zero; gamma one).
    dtype: float64 (default: gradient checks work, printed results reproduce) or
        float32 (PyTorch's default precision; steps about 1.6x faster).
    bn_impl: "fast" (fused, default) or "reference" (course_lib.batchnorm functions).
    ghost_batch: in training mode, normalize each run of this many consecutive rows of
        a mini-batch with its own statistics ("ghost batches", Hoffer et al. 2017): the
        noise of the BN statistics changes while the gradient still averages the whole
        mini-batch, whose size must be a multiple. The running statistics use the whole
        mini-batch. None (default): the mini-batch is one batch.

    Parameters live in ``model.params`` (a read-only mapping of names "W1", "b1",
    "gamma1", "beta1", ... to arrays; change values in place, e.g. p[...] = 0),
    running statistics in ``model.running_mean[l]``, ``model.running_var[l]``
    (l = 0 .. L-2, one per hidden layer with BN). ``model.training`` selects the
    mode of ``forward``: batch statistics (True) or running statistics (False).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation: str = "sigmoid",
        batchnorm: bool = False,
        seed: int = 0,
        *,
        bn_position: str = "before",
        init_scale: float = 1.0,
        hidden_bias: bool | None = None,
        eps: float = 1e-5,
        running_beta: float = 0.9,
        dtype: Any = np.float64,
        bn_impl: str = "fast",
        ghost_batch: int | None = None,
    ) -> None:
        sizes = tuple(int(s) for s in sizes)
        if len(sizes) < 2 or any(s < 1 for s in sizes):
            raise ValueError(
                f"sizes must list at least 2 positive layer widths (inputs, ..., classes), "
                f"got {sizes}"
            )
        if sizes[-1] < 2:
            raise ValueError(f"sizes must end with the number of classes >= 2, got {sizes[-1]}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        if bn_position not in BN_POSITIONS:
            raise ValueError(f"bn_position must be one of {BN_POSITIONS}, got {bn_position!r}")
        if bn_impl not in ("fast", "reference"):
            raise ValueError(f"bn_impl must be 'fast' or 'reference', got {bn_impl!r}")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        self.sizes = sizes
        self.activation = activation
        self.batchnorm = bool(batchnorm)
        self.bn_position = bn_position
        self.init_scale = check_positive(init_scale, "init_scale")
        if hidden_bias is None:
            hidden_bias = not (self.batchnorm and bn_position == "before")
        self.hidden_bias = bool(hidden_bias)
        self.eps = check_positive(eps, "eps")
        self.running_beta = check_beta(running_beta, "running_beta")
        self.dtype = dtype
        self.bn_impl = bn_impl
        if ghost_batch is not None and (int(ghost_batch) != ghost_batch or ghost_batch < 2):
            raise ValueError(f"ghost_batch must be an integer >= 2 or None, got {ghost_batch!r}")
        self.ghost_batch = None if ghost_batch is None else int(ghost_batch)
        self.seed = seed
        self.training = True

        # One flat buffer for all parameters and one for their gradients: the
        # named arrays are views into them, so an optimizer updates everything
        # at once (a few array operations per step instead of a few per array).
        layout: list[tuple[str, tuple[int, ...]]] = []
        n_hidden = len(sizes) - 2
        for l in range(1, len(sizes)):
            layout.append((f"W{l}", (sizes[l - 1], sizes[l])))
            hidden = l <= n_hidden
            if not hidden or self.hidden_bias:
                layout.append((f"b{l}", (sizes[l],)))
            if hidden and self.batchnorm:
                layout += [(f"gamma{l}", (sizes[l],)), (f"beta{l}", (sizes[l],))]
        self._layout = tuple(layout)
        size = sum(int(np.prod(shape)) for _, shape in layout)
        flat = np.zeros(size, dtype=dtype)
        rng = np.random.default_rng(seed)
        views = _views(flat, self._layout)
        for name, view in views.items():
            if name.startswith("W"):
                fan_in = view.shape[0]
                view[...] = rng.normal(0.0, self.init_scale / np.sqrt(fan_in), size=view.shape)
            elif name.startswith("gamma"):
                view[...] = 1.0
        self._set_buffers(flat, np.zeros_like(flat))
        n_bn = n_hidden if self.batchnorm else 0
        self.running_mean = [np.zeros(sizes[l + 1], dtype=dtype) for l in range(n_bn)]
        self.running_var = [np.ones(sizes[l + 1], dtype=dtype) for l in range(n_bn)]
        self._caches: list[_LayerCache] = []

    # ---------------------------------------------------------------- state
    def _set_buffers(self, flat: np.ndarray, grad_flat: np.ndarray) -> None:
        self._flat = flat
        self._grad_flat = grad_flat
        self._params = _views(flat, self._layout)
        self._grads = _views(grad_flat, self._layout)
        n = len(self.sizes) - 1
        # per layer: (W, b or None, gamma or None, beta or None) and their gradients
        self._layers = [
            tuple(self._params.get(f"{k}{l}") for k in ("W", "b", "gamma", "beta"))
            for l in range(1, n + 1)
        ]
        self._glayers = [
            tuple(self._grads.get(f"{k}{l}") for k in ("W", "b", "gamma", "beta"))
            for l in range(1, n + 1)
        ]

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for key in ("_params", "_grads", "_layers", "_glayers", "_caches"):
            state.pop(key)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._set_buffers(self._flat, self._grad_flat)
        self._caches = []

    def copy(self) -> MLP:
        """An independent copy: same parameters, running statistics and mode."""
        import copy

        return copy.deepcopy(self)

    @property
    def params(self) -> Mapping[str, np.ndarray]:
        """Name -> parameter array (views into one buffer: modify values in place)."""
        return MappingProxyType(self._params)

    @property
    def grads(self) -> Mapping[str, np.ndarray]:
        """Name -> gradient of the last ``loss_and_grads``/``train_step`` (same shapes)."""
        return MappingProxyType(self._grads)

    @property
    def n_hidden(self) -> int:
        return len(self.sizes) - 2

    def __repr__(self) -> str:
        bn_text = f", batchnorm {self.bn_position} activation" if self.batchnorm else ""
        return (
            f"MLP({'-'.join(map(str, self.sizes))}, {self.activation}{bn_text}, "
            f"{self._flat.size} parameters, {'training' if self.training else 'inference'} mode)"
        )

    # ---------------------------------------------------------------- forward
    def forward(
        self, X: np.ndarray, training: bool | None = None, *, update_stats: bool | None = None
    ) -> np.ndarray:
        """Logits (m, n[L]) for inputs X (m, n[0]).

        training: use this mini-batch's statistics (True; needs m >= 2) or the running
        statistics (False); None means ``self.training``. update_stats: in training
        mode, fold this batch's statistics into the running averages (default: yes).
        """
        X = self._inputs(X)
        training = self.training if training is None else bool(training)
        if update_stats is None:
            update_stats = training
        return self._forward(X, training, bool(update_stats), keep=False)

    def _inputs(self, X: object) -> np.ndarray:
        X = as_matrix(X, "X")
        if X.shape[1] != self.sizes[0]:
            raise ValueError(
                f"X must have {self.sizes[0]} columns (one per input), got shape {X.shape}"
            )
        return X if X.dtype == self.dtype else X.astype(self.dtype)

    def _forward(self, X: np.ndarray, training: bool, update_stats: bool, keep: bool):
        act = self.activation
        use_bn = self.batchnorm
        before = self.bn_position == "before"
        m = X.shape[0]
        if use_bn and training and m < 2:
            raise ValueError(
                "X has 1 example: Batch Norm in training mode needs a mini-batch of at least "
                "2 examples; use training=False (running statistics) for single examples"
            )
        caches: list[_LayerCache] = []
        a = X
        n_hidden = self.n_hidden
        for l in range(n_hidden):
            W, b, gamma, beta_ = self._layers[l]
            z = a @ W
            if b is not None:
                z += b
            cache = _LayerCache(a, z, z)
            if use_bn and before:
                cache.z_pre = z
                z = self._bn(l, z, gamma, beta_, training, update_stats, cache)
                cache.z = z
            h = _activate(act, z)
            cache.a = h
            if use_bn and not before:
                h = self._bn(l, h, gamma, beta_, training, update_stats, cache)
                cache.out = h
            caches.append(cache)
            a = h
        W, b, _, _ = self._layers[-1]
        logits = a @ W
        logits += b
        if keep:
            self._caches = caches
            self._a_last = a
        return logits

    def _bn(self, l, z, gamma, beta_, training, update_stats, cache):
        """Batch Norm of layer l's values z (m, n); records what backward needs."""
        eps = self.eps
        if not training:
            if self.bn_impl == "reference":
                return bn.batchnorm_inference(
                    z, gamma, beta_, self.running_mean[l], self.running_var[l], eps
                )
            inv_std = 1.0 / np.sqrt(self.running_var[l] + eps)
            return (z - self.running_mean[l]) * (gamma * inv_std) + beta_
        g = self.ghost_batch
        if g is not None and z.shape[0] > g:
            return self._bn_ghost(l, z, gamma, beta_, update_stats, cache, g)
        if self.bn_impl == "reference":
            out, bn_cache = bn.batchnorm_forward(z, gamma, beta_, eps)
            cache.bn_cache = bn_cache
            if update_stats:
                self.running_mean[l], self.running_var[l] = bn.update_running_stats(
                    self.running_mean[l], self.running_var[l], z, beta=self.running_beta
                )
            return out
        m = z.shape[0]
        mu = np.add.reduce(z, 0)
        mu *= 1.0 / m
        zc = z - mu
        var = np.einsum("ij,ij->j", zc, zc)
        var *= 1.0 / m  # biased: the batch's own variance
        inv_std = var + eps
        np.sqrt(inv_std, out=inv_std)
        np.reciprocal(inv_std, out=inv_std)
        x_hat = zc
        x_hat *= inv_std  # zc is not needed again: normalize in place
        cache.x_hat, cache.inv_std = x_hat, inv_std
        if update_stats:
            rb = self.running_beta
            # as bn.update_running_stats (unbiased variance m/(m-1) var), reusing mu and var
            new_mean = self.running_mean[l] * rb
            new_mean += (1.0 - rb) * mu
            new_var = self.running_var[l] * rb
            new_var += ((1.0 - rb) * m / (m - 1)) * var
            self.running_mean[l], self.running_var[l] = new_mean, new_var
        out = x_hat * gamma
        out += beta_
        return out

    def _bn_ghost(self, l, z, gamma, beta_, update_stats, cache, g):
        """Batch Norm over groups of g consecutive rows (ghost batches)."""
        m, n = z.shape
        if m % g:
            raise ValueError(
                f"the mini-batch size {m} must be a multiple of ghost_batch={g} in training mode"
            )
        if update_stats and self.bn_impl == "reference":  # running stats: whole mini-batch
            self.running_mean[l], self.running_var[l] = bn.update_running_stats(
                self.running_mean[l], self.running_var[l], z, beta=self.running_beta
            )
        elif update_stats:  # the same formula, without the input checks
            rb = self.running_beta
            self.running_mean[l] = rb * self.running_mean[l] + (1.0 - rb) * z.mean(axis=0)
            self.running_var[l] = rb * self.running_var[l] + (1.0 - rb) * z.var(axis=0, ddof=1)
        if self.bn_impl == "reference":
            parts = [
                bn.batchnorm_forward(z[i : i + g], gamma, beta_, self.eps) for i in range(0, m, g)
            ]
            cache.bn_cache = [c for _, c in parts]
            return np.concatenate([o for o, _ in parts])
        zg = z.reshape(m // g, g, n)
        zc = zg - zg.mean(axis=1, keepdims=True)
        inv_std = 1.0 / np.sqrt((zc * zc).mean(axis=1, keepdims=True) + self.eps)
        x_hat = (zc * inv_std).reshape(m, n)
        cache.x_hat, cache.inv_std = x_hat, inv_std  # inv_std (m/g, 1, n) marks ghost batches
        return x_hat * gamma + beta_

    # ---------------------------------------------------------------- loss, backward
    def loss_and_grads(
        self, X: np.ndarray, y: np.ndarray, *, update_stats: bool = True
    ) -> tuple[float, Mapping[str, np.ndarray]]:
        """Mean softmax cross-entropy of a mini-batch in training mode, and its gradients.

        X: (m, n[0]); y: (m,) integer class labels in 0 .. n[L]-1.
        Returns (loss, grads), grads a read-only mapping name -> array like ``params``
        (overwritten by the next call: copy what you keep). Running statistics are
        updated unless update_stats=False.
        """
        X = self._inputs(X)
        y = self._labels(y, X.shape[0])
        return self._loss_and_grads(X, y, update_stats), self.grads

    def _labels(self, y: object, m: int) -> np.ndarray:
        y = np.asarray(y)
        if y.shape != (m,):
            raise ValueError(f"y must have shape ({m},), one label per row of X, got {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            if not np.all(np.mod(y, 1) == 0):
                raise ValueError("y must hold integer class labels")
            y = y.astype(np.intp)
        if y.min() < 0 or y.max() >= self.sizes[-1]:
            raise ValueError(f"y must hold class labels in 0 .. {self.sizes[-1] - 1}")
        return y

    def _loss_and_grads(self, X: np.ndarray, y: np.ndarray, update_stats: bool) -> float:
        m = X.shape[0]
        logits = self._forward(X, True, update_stats, keep=True)
        # softmax cross-entropy, shifted by the row maximum for stability
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        s = e.sum(axis=1, keepdims=True)
        rows = np.arange(m)
        loss = float(np.log(s).sum() - logits[rows, y].sum()) / m
        dlogits = e
        dlogits /= s
        dlogits[rows, y] -= 1.0
        dlogits *= 1.0 / m
        self._backward(dlogits)
        return loss

    def _backward(self, dlogits: np.ndarray) -> None:
        act = self.activation
        use_bn = self.batchnorm
        before = self.bn_position == "before"
        reference = self.bn_impl == "reference"
        gW, gb, _, _ = self._glayers[-1]
        W = self._layers[-1][0]
        np.matmul(self._a_last.T, dlogits, out=gW)
        np.sum(dlogits, axis=0, out=gb)
        da = dlogits @ W.T
        for l in range(self.n_hidden - 1, -1, -1):
            cache = self._caches[l]
            W, b, gamma, _ = self._layers[l]
            gW, gb, ggamma, gbeta = self._glayers[l]
            if use_bn and not before:
                da = self._bn_backward(da, cache, gamma, ggamma, gbeta, reference)
            dz = _activation_backward(act, da, cache.z, cache.a)
            if use_bn and before:
                dz = self._bn_backward(dz, cache, gamma, ggamma, gbeta, reference)
            np.matmul(cache.a_prev.T, dz, out=gW)
            if gb is not None:
                np.sum(dz, axis=0, out=gb)
            if l > 0:
                da = dz @ W.T

    @staticmethod
    def _bn_backward(dout, cache, gamma, ggamma, gbeta, reference):
        if reference:
            if isinstance(cache.bn_cache, list):  # ghost batches, one after the other
                g = cache.bn_cache[0].x_hat.shape[0]
                parts = [
                    bn.batchnorm_backward(dout[k * g : (k + 1) * g], c)
                    for k, c in enumerate(cache.bn_cache)
                ]
                ggamma[...] = sum(p[1] for p in parts)
                gbeta[...] = sum(p[2] for p in parts)
                return np.concatenate([p[0] for p in parts])
            dz, dgamma, dbeta = bn.batchnorm_backward(dout, cache.bn_cache)
            ggamma[...] = dgamma
            gbeta[...] = dbeta
            return dz
        if cache.inv_std.ndim == 3:  # ghost batches: the same formula within each group
            m, n = dout.shape
            k = cache.inv_std.shape[0]  # number of ghost batches
            g = m // k
            xg, dg = cache.x_hat.reshape(k, g, n), dout.reshape(k, g, n)
            dbeta_g = dg.sum(axis=1, keepdims=True)
            dgamma_g = (dg * xg).sum(axis=1, keepdims=True)
            gbeta[...] = dbeta_g.sum(axis=(0, 1))
            ggamma[...] = dgamma_g.sum(axis=(0, 1))
            dz = (dg - dbeta_g / g - xg * (dgamma_g / g)) * (gamma * cache.inv_std)
            return dz.reshape(m, n)
        # the compact form of lesson 03, rearranged: with dgamma = sum(dout * x_hat) and
        # dbeta = sum(dout), dz = gamma*inv_std * (dout - dbeta/m - x_hat * dgamma/m)
        x_hat = cache.x_hat
        m = x_hat.shape[0]
        np.sum(dout, axis=0, out=gbeta)
        np.einsum("ij,ij->j", dout, x_hat, out=ggamma)
        dz = x_hat * (ggamma / m)
        np.subtract(dout, dz, out=dz)
        dz -= gbeta / m
        dz *= gamma * cache.inv_std
        return dz

    # ---------------------------------------------------------------- inference
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities in inference mode: (m, n[L]) for X (m, n[0]), or (n[L],)
        for one example x (n[0],). Does not depend on the other rows of X."""
        single = np.ndim(X) == 1
        X2 = self._inputs(np.reshape(X, (1, -1)) if single else X)
        logits = self._infer(X2)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        return p[0] if single else p

    def predict(self, X: np.ndarray) -> np.ndarray | np.intp:
        """Predicted classes in inference mode (running statistics): (m,) for X (m, n[0]),
        or one integer for a single example x (n[0],)."""
        p = self.predict_proba(X)
        return p.argmax(axis=-1)

    def accuracy(self, X: np.ndarray, y: np.ndarray) -> float:
        """Fraction of rows of X classified as y, in inference mode."""
        return float(np.mean(self.predict(X) == np.asarray(y)))

    def loss(self, X: np.ndarray, y: np.ndarray, training: bool = False) -> float:
        """Mean cross-entropy on (X, y) in inference mode (or training mode, without
        updating the running statistics)."""
        X = self._inputs(X)
        y = self._labels(y, X.shape[0])
        return self._score(X, y, bool(training))[1]

    def _infer(self, X: np.ndarray) -> np.ndarray:
        """Logits in inference mode, 256 rows at a time (rows are independent here, and
        blocks that fit in the CPU cache run about twice as fast as one big product)."""
        with one_blas_thread():
            if X.shape[0] <= 2 * _CHUNK:
                return self._forward(X, False, False, keep=False)
            parts = [
                self._forward(X[i : i + _CHUNK], False, False, keep=False)
                for i in range(0, X.shape[0], _CHUNK)
            ]
        return np.concatenate(parts)

    def _score(self, X: np.ndarray, y: np.ndarray, training: bool = False) -> tuple[float, float]:
        """(accuracy, mean cross-entropy) from one forward pass; X, y already checked."""
        if training:
            with one_blas_thread():
                logits = self._forward(X, True, False, keep=False)
        else:
            logits = self._infer(X)
        accuracy = float(np.mean(logits.argmax(axis=1) == y))
        logits -= logits.max(axis=1, keepdims=True)
        log_s = np.log(np.exp(logits).sum(axis=1))
        return accuracy, float(np.mean(log_s - logits[np.arange(len(y)), y]))

    def layer_values(self, X: np.ndarray, training: bool = False) -> list[dict[str, np.ndarray]]:
        """Per hidden layer, the values of one forward pass (no state is changed), each
        (m, n[l]): "z": the input of the activation (after BN when BN is "before");
        "a": the layer's output (after BN when BN is "after"); with BN also
        "bn_input": what BN normalizes (the linear output z_pre = a_prev W when BN is
        "before", the activation output when "after"), and with BN "before" "z_pre"."""
        X = self._inputs(X)
        with one_blas_thread():  # small products: a second thread only waits
            self._forward(X, bool(training), False, keep=True)
        out = []
        for c in self._caches:
            values = {"z": c.z, "a": c.a if c.out is None else c.out}
            if c.z_pre is not None:
                values["z_pre"] = values["bn_input"] = c.z_pre
            elif c.out is not None:
                values["bn_input"] = c.a
            out.append(values)
        self._caches = []
        return out


def _views(flat: np.ndarray, layout: Sequence[tuple[str, tuple[int, ...]]]) -> dict:
    views, start = {}, 0
    for name, shape in layout:
        size = int(np.prod(shape))
        views[name] = flat[start : start + size].reshape(shape)
        start += size
    return views


# ------------------------------------------------------------------ gradient check
def backprop_and_numerical_grads(
    model: MLP, X: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The gradient of the loss on (X, y), by backpropagation and by central differences.

    X: (m, n_in), y: (m,) labels. Both in training mode with the running statistics
    frozen (update_stats=False). Use a float64 model: float32 rounding divided by the
    step would swamp the differences. Returns two vectors of shape (number of
    parameters,), in the order of ``model.params``. The parameters are left as found.
    """
    model.loss_and_grads(X, y, update_stats=False)
    backprop = model.flat_grads()
    p0 = model.flat_params()

    def loss_at(p: np.ndarray) -> np.ndarray:
        model.set_flat_params(p)
        return np.asarray(model.loss_and_grads(X, y, update_stats=False)[0])

    try:
        numerical = numerical_gradient(loss_at, p0, np.float64(1.0))
    finally:
        model.set_flat_params(p0)
    return backprop, numerical


# ------------------------------------------------------------------ optimizers
class Optimizer:
    """Updates every parameter of a model (W, b, gamma, beta alike) from its gradient.

    ``step(params, grads)`` works in place on two flat vectors of equal shape.
    """

    name = "optimizer"

    def __init__(self, lr: float) -> None:
        self.lr = check_positive(lr, "lr")
        self.t = 0

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v}" for k, v in self._settings().items())
        return f"{type(self).__name__}(lr={self.lr}{extra})"

    def _settings(self) -> dict:
        return {}


class SGD(Optimizer):
    """p := p - lr * dp."""

    name = "sgd"

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        self.t += 1
        params -= self.lr * grads


class Momentum(Optimizer):
    """Gradient descent with momentum, the notes' form (an exponentially weighted
    average of the gradients):  v := beta v + (1 - beta) dp;  p := p - lr v.

    (PyTorch's SGD momentum uses v := mu v + dp: the same path with lr / (1 - beta).)
    """

    name = "momentum"

    def __init__(self, lr: float, beta: float = 0.9) -> None:
        super().__init__(lr)
        self.beta = check_beta(beta)
        self.v: np.ndarray | None = None

    def _settings(self) -> dict:
        return {"beta": self.beta}

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        self.t += 1
        if self.v is None:
            self.v = np.zeros_like(params)
        v = self.v
        v *= self.beta
        v += (1.0 - self.beta) * grads
        params -= self.lr * v


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): momentum and RMSprop with bias correction.

    m := b1 m + (1-b1) dp;  s := b2 s + (1-b2) dp^2;
    p := p - lr * (m / (1-b1^t)) / (sqrt(s / (1-b2^t)) + eps).
    """

    name = "adam"

    def __init__(
        self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        super().__init__(lr)
        self.beta1, self.beta2 = check_beta(beta1, "beta1"), check_beta(beta2, "beta2")
        self.eps = check_positive(eps, "eps")
        self.m: np.ndarray | None = None
        self.s: np.ndarray | None = None

    def _settings(self) -> dict:
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        self.t += 1
        if self.m is None:
            self.m = np.zeros_like(params)
            self.s = np.zeros_like(params)
        m, s, t = self.m, self.s, self.t
        m *= self.beta1
        m += (1.0 - self.beta1) * grads
        s *= self.beta2
        s += (1.0 - self.beta2) * (grads * grads)
        denom = np.sqrt(s * (1.0 / (1.0 - self.beta2**t)))
        denom += self.eps
        step = m * (self.lr / (1.0 - self.beta1**t))
        step /= denom
        params -= step


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def make_optimizer(name: str, lr: float, **kw: Any) -> Optimizer:
    """An optimizer by name: "sgd", "momentum" (beta=0.9) or "adam" (beta1, beta2, eps)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {tuple(OPTIMIZERS)}, got {name!r}")
    return OPTIMIZERS[name](lr, **kw)


def train_step(model: MLP, optimizer: Optimizer, X_batch: np.ndarray, y_batch: np.ndarray) -> float:
    """One forward + backward pass on a mini-batch and one update of every parameter.

    X_batch: (m, n[0]) with m >= 2 when the model uses Batch Norm; y_batch: (m,) labels.
    Returns the mini-batch loss before the update. Running statistics are updated.
    """
    X_batch = model._inputs(X_batch)
    y_batch = model._labels(y_batch, X_batch.shape[0])
    with one_blas_thread():
        loss = model._loss_and_grads(X_batch, y_batch, True)
        optimizer.step(model._flat, model._grad_flat)
    return loss


class one_blas_thread:
    """Context manager: BLAS (numpy's matrix products) on one thread, restored on exit.

    For matrices as small as a mini-batch's, a second thread costs more than it saves
    (hand-over, and on a busy machine waiting for a free core: measured 3-6x slower
    steps under load). Cheap to enter (a few microseconds); a no-op without threadpoolctl.
    """

    _controllers: list | None = None
    _modules_seen = 0  # len(sys.modules) when the libraries were listed

    def __enter__(self) -> one_blas_thread:
        libs = one_blas_thread._controllers
        if libs is None or len(sys.modules) != one_blas_thread._modules_seen:
            # (again after new imports: e.g. PyTorch brings a BLAS of its own)
            one_blas_thread._modules_seen = len(sys.modules)
            try:
                from threadpoolctl import ThreadpoolController

                libs = ThreadpoolController().select(user_api="blas").lib_controllers
            except Exception:  # noqa: BLE001 - threadpoolctl missing or failing: no limit
                libs = []
            one_blas_thread._controllers = libs
        self._saved = [(lib, lib.num_threads) for lib in libs]
        for lib, n in self._saved:
            if n != 1:
                lib.set_num_threads(1)
        return self

    def __exit__(self, *exc: object) -> None:
        for lib, n in self._saved:
            if n != 1:
                lib.set_num_threads(n)


# ------------------------------------------------------------------ training loop
@dataclass
class History:
    """What ``train`` recorded.

    loss: (steps,) mini-batch loss at each step (before that step's update).
    eval_steps: (k,) steps after which the model was evaluated (0 = before training).
    train_acc, train_loss, val_acc, val_loss: (k,) accuracy and mean cross-entropy on
        the whole training set and on the validation set, in inference mode (val_*
        are NaN without validation data).
    monitor: the values returned by ``monitor(model)`` at each evaluation (a list).
    """

    loss: np.ndarray
    eval_steps: np.ndarray
    train_acc: np.ndarray
    train_loss: np.ndarray
    val_acc: np.ndarray
    val_loss: np.ndarray
    monitor: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def steps_to(self, accuracy: float, which: str = "val") -> int | None:
        """First evaluation step at which the (val or train) accuracy reached
        ``accuracy``, or None if it never did."""
        acc = self.val_acc if which == "val" else self.train_acc
        hit = np.flatnonzero(acc >= accuracy)
        return int(self.eval_steps[hit[0]]) if hit.size else None

    @property
    def final_val_acc(self) -> float:
        return float(self.val_acc[-1])

    @property
    def final_train_acc(self) -> float:
        return float(self.train_acc[-1])

    def __repr__(self) -> str:
        last = f"{self.loss[-1]:.4g}" if len(self.loss) else "-"
        return (
            f"History({len(self.loss)} steps, final loss {last}, "
            f"train acc {self.final_train_acc:.4f}, val acc {self.final_val_acc:.4f})"
        )


def batches(m: int, batch_size: int, steps: int, seed: int = 0):
    """Row indices of ``steps`` mini-batches: each epoch a fresh permutation of 0..m-1
    cut into batches of ``batch_size`` (the incomplete last batch of an epoch is
    dropped, so every batch has the same size)."""
    if not 1 <= batch_size <= m:
        raise ValueError(f"batch_size must be in 1 .. {m} (the number of examples)")
    rng = np.random.default_rng(seed)
    per_epoch = m // batch_size
    done = 0
    while done < steps:
        perm = rng.permutation(m)
        for k in range(min(per_epoch, steps - done)):
            yield perm[k * batch_size : (k + 1) * batch_size]
        done += per_epoch


def train(
    model: MLP,
    X: np.ndarray,
    y: np.ndarray,
    *,
    lr: float,
    steps: int,
    batch_size: int = 60,
    optimizer: str | Optimizer = "sgd",
    seed: int = 0,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    eval_every: int = 10,
    monitor: Callable[[MLP], Any] | None = None,
    progress: bool = False,
    eval_train: bool = True,
    stop_at: float | None = None,
    stop_if_diverged: bool = False,
    **optimizer_kw: Any,
) -> History:
    """Mini-batch training of ``model`` in place; returns the ``History``.

    X: (m, n[0]) training inputs, y: (m,) labels; lr, optimizer (a name for
    ``make_optimizer`` with ``optimizer_kw``, or an Optimizer); steps: number of
    updates, on mini-batches of ``batch_size`` drawn by ``batches(m, batch_size,
    steps, seed)``. Every ``eval_every`` steps (and before the first and after the
    last) the model is evaluated in inference mode on the whole training set and on
    (X_val, y_val), and ``monitor(model)`` is recorded. progress: show a tqdm bar.
    eval_train: False evaluates the (larger) training set only after the last step
    (train_acc, train_loss are NaN at the other evaluations).
    stop_at: stop after the first evaluation at which the validation accuracy is at
    least this (the history then ends there: ``steps_to`` needs nothing later).
    stop_if_diverged: stop (after one last evaluation) when a mini-batch loss is not
    finite: the weights hold inf or NaN then, and no later step can repair them.
    The same model, data and seed give the same history.
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
    if eval_every < 1:
        raise ValueError(f"eval_every must be >= 1, got {eval_every}")
    if stop_at is not None and X_val is None:
        raise ValueError("stop_at needs validation data (X_val, y_val)")
    if model.batchnorm and batch_size < 2:
        raise ValueError("batch_size must be >= 2 with Batch Norm (a batch of 1 has variance 0)")
    opt = make_optimizer(optimizer, lr, **optimizer_kw) if isinstance(optimizer, str) else optimizer
    was_training = model.training
    losses = np.empty(steps)
    evals: list[tuple[int, float, float, float, float]] = []
    monitored: list = []

    def evaluate(step: int) -> bool:
        """Record the scores after ``step``; True when training stops here."""
        if X_val is not None:
            val_acc, val_loss = model._score(X_val, y_val)
        else:
            val_acc = val_loss = float("nan")
        stop = stop_at is not None and val_acc >= stop_at
        if eval_train or stop or step == steps:
            train_acc, train_loss = model._score(X, y)
        else:
            train_acc = train_loss = float("nan")
        evals.append((step, train_acc, train_loss, val_acc, val_loss))
        if monitor is not None:
            monitored.append(monitor(model))
        return stop

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, leave=False)
    model.training = True
    try:
        with one_blas_thread():
            done = 0
            if not evaluate(0):
                for step, idx in enumerate(batches(X.shape[0], batch_size, steps, seed), 1):
                    losses[step - 1] = loss = model._loss_and_grads(X[idx], y[idx], True)
                    opt.step(model._flat, model._grad_flat)
                    done = step
                    if bar is not None:
                        bar.update(1)
                    if stop_if_diverged and not np.isfinite(loss):
                        evaluate(step)
                        break
                    if (step % eval_every == 0 or step == steps) and evaluate(step):
                        break
    finally:
        if bar is not None:
            bar.close()
        model.training = was_training
    e = np.array(evals, dtype=float)
    settings = {"lr": lr, "steps": steps, "batch_size": batch_size, "optimizer": repr(opt)}
    return History(
        losses[:done], e[:, 0].astype(int), e[:, 1], e[:, 2], e[:, 3], e[:, 4], monitored, settings
    )
