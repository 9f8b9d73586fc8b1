"""Lesson 07: lesson 04's network in PyTorch, and back (PyTorch is optional: only this
module and lesson 07 import it).

    net = mlp_to_torch(model)    # nn.Sequential of Linear, BatchNorm1d and activations
    model = torch_to_mlp(net)    # a course_lib.network.MLP again

The layers of ``MLP(sizes, activation, batchnorm, bn_position=...)``, in order:

    each hidden layer l, BN "before" the activation (the notes, the paper):
        Linear(n[l-1], n[l], bias=hidden_bias) -> BatchNorm1d(n[l]) -> activation
    each hidden layer l, BN "after" the activation:
        Linear(n[l-1], n[l]) -> activation -> BatchNorm1d(n[l])
    each hidden layer l without BN:
        Linear(n[l-1], n[l], bias=hidden_bias) -> activation
    the output layer:
        Linear(n[L-1], n[L])      (logits; the softmax is in F.cross_entropy)

Both directions copy every number and keep nothing shared:

    MLP                         PyTorch
    W[l] (n_prev, n)            Linear.weight (n, n_prev) = W[l].T
    b[l] (n,)                   Linear.bias
    gamma[l], beta[l]           BatchNorm1d.weight, BatchNorm1d.bias
    running_mean[l], _var[l]    BatchNorm1d.running_mean, .running_var (unbiased, both)
    running_beta (the notes' β) BatchNorm1d.momentum = 1 - β (the weight of the NEW value;
                                rounded to 15 digits: 0.1, not 0.09999999999999998)
    eps                         BatchNorm1d.eps
    training                    net.training (``net.train()`` / ``net.eval()``)

The PyTorch network is float64 by default, so its outputs in training and inference
mode agree with ``MLP.forward`` to round-off, and SGD on both follows the same path.
What this module relies on in ``MLP``: the constructor's arguments, ``params`` (arrays
changed in place), ``running_mean``/``running_var`` (lists, replaceable), ``training``,
and the attributes ``sizes``, ``activation``, ``batchnorm``, ``bn_position``,
``hidden_bias``, ``eps``, ``running_beta``, ``ghost_batch``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .network import MLP

_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}
_NAMES = {cls: name for name, cls in _ACTIVATIONS.items()}


def _tensor(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    """A new tensor with a copy of ``a`` (never shares memory with the model)."""
    return torch.tensor(np.array(a, dtype=np.float64), dtype=dtype)


def mlp_to_torch(model: MLP, dtype: torch.dtype = torch.float64) -> nn.Sequential:
    """The same network as an ``nn.Sequential``, with copies of all its numbers.

    model: a ``course_lib.network.MLP`` (with or without Batch Norm, before or after
    the activation). dtype: of the PyTorch parameters and buffers (float64 default:
    outputs agree with ``model.forward`` to round-off). Returns a Sequential in the
    model's mode (``train()`` or ``eval()``), layers as in the module docstring, BN
    momentum = 1 - model.running_beta. Ghost batches have no PyTorch layer: refused.
    """
    if not isinstance(model, MLP):
        raise ValueError(f"model must be a course_lib.network.MLP, got {type(model).__name__}")
    if model.ghost_batch is not None:
        raise ValueError(
            f"model uses ghost_batch={model.ghost_batch}: nn.BatchNorm1d has no ghost batches"
        )
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    p = model.params
    sizes = model.sizes
    layers: list[nn.Module] = []
    for l in range(1, len(sizes) - 1):
        has_bias = f"b{l}" in p
        linear = nn.Linear(sizes[l - 1], sizes[l], bias=has_bias, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(_tensor(p[f"W{l}"].T, dtype))
            if has_bias:
                linear.bias.copy_(_tensor(p[f"b{l}"], dtype))
        layers.append(linear)
        activation = _ACTIVATIONS[model.activation]()
        if not model.batchnorm:
            layers.append(activation)
            continue
        norm = nn.BatchNorm1d(sizes[l], eps=model.eps, momentum=_momentum(model), dtype=dtype)
        with torch.no_grad():
            norm.weight.copy_(_tensor(p[f"gamma{l}"], dtype))
            norm.bias.copy_(_tensor(p[f"beta{l}"], dtype))
            norm.running_mean.copy_(_tensor(model.running_mean[l - 1], dtype))
            norm.running_var.copy_(_tensor(model.running_var[l - 1], dtype))
        layers += [norm, activation] if model.bn_position == "before" else [activation, norm]
    L = len(sizes) - 1
    out = nn.Linear(sizes[L - 1], sizes[L], dtype=dtype)
    with torch.no_grad():
        out.weight.copy_(_tensor(p[f"W{L}"].T, dtype))
        out.bias.copy_(_tensor(p[f"b{L}"], dtype))
    layers.append(out)
    net = nn.Sequential(*layers)
    net.train(model.training)
    return net


def _momentum(model: MLP) -> float:
    """PyTorch's momentum 1 - β, to 15 significant digits: 0.1 for β = 0.9 (not the
    0.09999999999999998 of 1 - 0.9 in binary; the averages differ by ~1e-17 per step)."""
    return float(f"{1.0 - model.running_beta:.15g}")


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float64).cpu().numpy().copy()


def _hidden_layers(net: nn.Sequential) -> tuple[list[tuple], nn.Linear]:
    """Split the Sequential into hidden layers (linear, norm or None, activation name,
    position) and the output Linear; ValueError for any other arrangement."""
    mods = list(net)
    form = (
        "expected the form of mlp_to_torch: per hidden layer Linear -> [BatchNorm1d] -> "
        "activation (or Linear -> activation -> BatchNorm1d), then an output Linear"
    )
    if not mods or not isinstance(mods[-1], nn.Linear):
        raise ValueError(f"net must end with an nn.Linear output layer; {form}")
    layers, i = [], 0
    while i < len(mods) - 1:
        linear = mods[i]
        if not isinstance(linear, nn.Linear):
            raise ValueError(f"net[{i}] is {type(linear).__name__}, expected nn.Linear; {form}")
        rest = mods[i + 1 : i + 3]
        if (
            rest
            and isinstance(rest[0], nn.BatchNorm1d)
            and len(rest) > 1
            and type(rest[1]) in _NAMES
        ):
            layers.append((linear, rest[0], _NAMES[type(rest[1])], "before"))
            i += 3
        elif rest and type(rest[0]) in _NAMES:
            norm = rest[1] if len(rest) > 1 and isinstance(rest[1], nn.BatchNorm1d) else None
            layers.append((linear, norm, _NAMES[type(rest[0])], "after" if norm else None))
            i += 3 if norm else 2
        else:
            got = type(rest[0]).__name__ if rest else "nothing"
            raise ValueError(
                f"net[{i + 1}] is {got}, expected BatchNorm1d or an activation; {form}"
            )
    if not layers:
        raise ValueError(f"net has no hidden layer; {form}")
    return layers, mods[-1]


def _one_value(values: list, what: str) -> Any:
    if any(v != values[0] for v in values):
        raise ValueError(f"every hidden layer must have the same {what}, got {values}")
    return values[0]


def torch_to_mlp(net: nn.Sequential) -> MLP:
    """The ``MLP`` of a Sequential built like ``mlp_to_torch``'s, with copies of its numbers.

    net: Linear / BatchNorm1d / Sigmoid, Tanh or ReLU layers in the form of the module
    docstring (all hidden layers alike). Returns a float64 MLP in the net's mode with
    its weights, γ, β, running statistics, eps and β = 1 - momentum. ValueError for
    anything an MLP cannot hold (another layer, momentum=None, affine=False, no
    running statistics, BN in some hidden layers only).
    """
    if not isinstance(net, nn.Sequential):
        raise ValueError(f"net must be an nn.Sequential, got {type(net).__name__}")
    layers, out = _hidden_layers(net)
    activation = _one_value([a for _, _, a, _ in layers], "activation")
    position = _one_value([pos for _, _, _, pos in layers], "Batch Norm position")
    batchnorm = position is not None
    hidden_bias = _one_value([lin.bias is not None for lin, _, _, _ in layers], "bias setting")
    sizes = [layers[0][0].in_features] + [lin.out_features for lin, _, _, _ in layers]
    sizes.append(out.out_features)
    for k, (lin, norm, _, _) in enumerate(layers):
        if lin.in_features != sizes[k]:
            raise ValueError(
                f"hidden layer {k + 1} takes {lin.in_features} inputs, expected {sizes[k]}"
            )
        if norm is not None and norm.num_features != lin.out_features:
            raise ValueError(
                f"BatchNorm1d of hidden layer {k + 1} has {norm.num_features} features"
            )
    if out.in_features != sizes[-2] or out.bias is None:
        raise ValueError(
            "the output nn.Linear must take the last hidden layer's units and have a bias"
        )
    kw: dict[str, Any] = {}
    if batchnorm:
        norms = [norm for _, norm, _, _ in layers]
        for norm in norms:
            if not norm.affine or not norm.track_running_stats:
                raise ValueError("every BatchNorm1d needs affine=True and track_running_stats=True")
            if norm.momentum is None:
                raise ValueError(
                    "momentum=None (PyTorch's cumulative average) has no MLP equivalent: "
                    "give the BatchNorm1d layers a momentum"
                )
        kw["eps"] = _one_value([float(n.eps) for n in norms], "eps")
        kw["running_beta"] = 1.0 - _one_value([float(n.momentum) for n in norms], "momentum")
    model = MLP(
        sizes,
        activation,
        batchnorm,
        bn_position=position or "before",
        hidden_bias=hidden_bias,
        dtype=np.float64,
        **kw,
    )
    p = model.params
    for l, (lin, norm, _, _) in enumerate(layers, start=1):
        p[f"W{l}"][...] = _numpy(lin.weight).T
        if hidden_bias:
            p[f"b{l}"][...] = _numpy(lin.bias)
        if norm is not None:
            p[f"gamma{l}"][...] = _numpy(norm.weight)
            p[f"beta{l}"][...] = _numpy(norm.bias)
    L = len(sizes) - 1
    p[f"W{L}"][...] = _numpy(out.weight).T
    p[f"b{L}"][...] = _numpy(out.bias)
    if batchnorm:
        model.running_mean = [_numpy(norm.running_mean) for _, norm, _, _ in layers]
        model.running_var = [_numpy(norm.running_var) for _, norm, _, _ in layers]
    model.training = net.training
    return model
