"""Checkers for lesson 06: Layer Norm, spatial Batch Norm and Group Norm.

Three forward passes and their backward passes, checked as lesson 03's Batch Norm:
the learner's forward returns ``(out, cache)`` with a cache of their own design, so
only ``out`` is compared with ``course_lib.norms``; the learner's backward receives
the learner's own cache (forward and backward run together in one child process)
and its gradients are compared with the reference and with central differences of
the learner's own forward, always with a random upstream gradient. When a case
fails, the typical mistakes of the lesson are tried so that the hint names the
mistake: statistics over the wrong axes, per-position instead of per-channel
statistics, a reshape without the transpose, interleaved instead of consecutive
groups, the unbiased variance, ε outside the square root, dγ not summed over N, H
and W, γ taken out of the sums of a Layer or Group Norm backward, ... The
checkers never raise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import norms as _norms
from ..gradcheck import (
    BUG_ABOVE,
    CORRECT_BELOW,
    describe_error,
    numerical_gradients,
    relative_error,
    verdict,
)
from ._core import (
    BUDGET_FACTOR,
    DEFAULT_TIMEOUT,
    DIFFERS_MORE,
    Advice,
    CheckResult,
    Mistake,
    call_safely,
    close,
    describe_value,
    failed,
    first_difference,
    learner_parameters,
    matching_mistake,
    outcome_hint,
    outcome_problem,
    passed,
    printed_details,
    returned_none_hint,
    run_check,
    to_array,
)
from ._sandbox import note_returned


# ------------------------------------------------------------------ the cases
@dataclass
class _Case:
    """One call: x, gamma, beta (and groups for Group Norm), eps or None (the default)."""

    label: str
    args: tuple  # (x, gamma, beta) or (x, gamma, beta, groups)
    eps: float | None
    dout: np.ndarray
    constant: bool = False  # a set of values sharing statistics is constant (σ² = 0)
    kwargs: dict = field(init=False)

    def __post_init__(self) -> None:
        self.kwargs = {} if self.eps is None else {"eps": self.eps}

    @property
    def eps_value(self) -> float:
        return 1e-5 if self.eps is None else self.eps


def _parameters(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    gamma = rng.uniform(0.5, 2.0, n) * rng.choice([-1.0, 1.0], n)
    gamma[0] = abs(gamma[0]) + 0.5  # keep gamma and beta clearly different
    beta = rng.uniform(-1.5, 1.5, n)
    beta[0] = -abs(beta[0]) - 0.3
    return gamma, beta


def _rows_case(label, m, d, seed, eps, constant_row=None) -> _Case:
    rng = np.random.default_rng(seed)
    x = rng.normal(rng.uniform(-2, 2, (m, 1)), rng.uniform(0.7, 2.5, (m, 1)), (m, d))
    x += rng.uniform(-1, 1, d)  # features on different levels too
    if constant_row is not None:
        x[constant_row] = 1.5  # every feature of this example equal: its σ² = 0
    gamma, beta = _parameters(rng, d)
    dout = rng.standard_normal((m, d))
    return _Case(label, (x, gamma, beta), eps, dout, constant_row is not None)


def _maps_case(label, shape, seed, eps, groups=None, constant_channel=None) -> _Case:
    rng = np.random.default_rng(seed)
    n, c, h, w = shape
    x = rng.normal(rng.uniform(-2, 2, (1, c, 1, 1)), rng.uniform(0.7, 2.5, (1, c, 1, 1)), shape)
    x += rng.uniform(-1, 1, (n, 1, 1, 1)) + rng.uniform(-0.5, 0.5, (1, 1, h, w))
    if constant_channel is not None:
        x[:, constant_channel] = 1.5  # one channel constant everywhere
    gamma, beta = _parameters(rng, c)
    args = (x, gamma, beta) if groups is None else (x, gamma, beta, groups)
    dout = rng.standard_normal(shape)
    return _Case(label, args, eps, dout, constant_channel is not None)


def layernorm_cases() -> list[_Case]:
    return [
        _rows_case("x of 5 × 5 (as many examples as features), eps=1e-5", 5, 5, 602, 1e-5),
        _rows_case("x of 4 examples × 5 features, eps=1e-5", 4, 5, 601, 1e-5),
        _rows_case("a single example of 6 features (no batch needed), eps=1e-5", 1, 6, 603, 1e-5),
        _rows_case("x of 3 × 4 with a large eps=0.5 (where ε goes matters)", 3, 4, 604, 0.5),
        _rows_case("x of 3 × 4 whose example 1 is constant (σ² = 0), eps=1e-3", 3, 4, 605, 1e-3, 1),
        _rows_case("x of 6 × 3, called without eps (the default 1e-5)", 6, 3, 606, None),
    ]


def spatial_batchnorm_cases() -> list[_Case]:
    return [
        _maps_case("x of shape (N, C, H, W) = (2, 3, 2, 3), eps=1e-5", (2, 3, 2, 3), 611, 1e-5),
        _maps_case("x of shape (3, 4, 2, 4), where W = C, eps=1e-5", (3, 4, 2, 4), 612, 1e-5),
        _maps_case("a single example, x of shape (1, 3, 3, 3), eps=1e-5", (1, 3, 3, 3), 613, 1e-5),
        _maps_case("x of shape (2, 2, 3, 3) with a large eps=0.5", (2, 2, 3, 3), 614, 0.5),
        _maps_case(
            "x of shape (2, 3, 2, 2) whose channel 1 is constant (σ² = 0), eps=1e-3",
            (2, 3, 2, 2),
            615,
            1e-3,
            constant_channel=1,
        ),
        _maps_case("x of shape (4, 2, 2, 3), called without eps", (4, 2, 2, 3), 616, None),
    ]


def groupnorm_cases() -> list[_Case]:
    return [
        _maps_case("x of shape (2, 4, 1, 4), W = C, 2 groups", (2, 4, 1, 4), 620, 1e-5, 2),
        _maps_case("x of shape (2, 6, 1, 2), 3 groups, eps=1e-5", (2, 6, 1, 2), 621, 1e-5, 3),
        _maps_case("x of shape (2, 6, 3, 2), 2 groups, eps=1e-5", (2, 6, 3, 2), 622, 1e-5, 2),
        _maps_case(
            "a single example, x of shape (1, 4, 3, 3), 2 groups", (1, 4, 3, 3), 624, 1e-5, 2
        ),
        _maps_case("x of shape (2, 4, 2, 2), 4 groups (Instance Norm)", (2, 4, 2, 2), 625, 1e-5, 4),
        _maps_case("x of shape (2, 4, 2, 3), 1 group (Layer Norm)", (2, 4, 2, 3), 626, 1e-5, 1),
        _maps_case("x of shape (2, 4, 2, 2), 2 groups, a large eps=0.5", (2, 4, 2, 2), 627, 0.5, 2),
        _maps_case(
            "x of shape (2, 4, 2, 2), 2 groups, channels 2 and 3 constant (σ² = 0), eps=1e-3",
            (2, 4, 2, 2),
            628,
            1e-3,
            2,
            constant_channel=[2, 3],
        ),
        _maps_case(
            "x of shape (3, 6, 2, 2), 3 groups, called without eps", (3, 6, 2, 2), 629, None, 3
        ),
    ]


# ------------------------------------------------------------------ the statistics, by kind
def _e(eps: float | None) -> float:
    return 1e-5 if eps is None else eps


def _normalized(v, axes, eps, *, ddof=0, how="right"):
    """x_hat over ``axes`` of v, computed right or with one typical slip."""
    mu = v.mean(axis=axes, keepdims=True)
    var = v.var(axis=axes, keepdims=True, ddof=ddof)
    centred = v if how == "not_centred" else v - mu
    if how == "eps_outside":
        return centred / (np.sqrt(var) + eps)
    if how == "no_eps":
        return centred / np.sqrt(var)
    if how == "by_variance":
        return centred / (var + eps)
    return centred / np.sqrt(var + eps)


def _per_channel(a: np.ndarray) -> np.ndarray:
    return a[:, None, None]


def _affine(x_hat, gamma, beta, maps: bool):
    if maps:
        return x_hat * _per_channel(gamma) + _per_channel(beta)
    return x_hat * gamma + beta


def _grouped(x, groups):
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w)


# The right statistics of each kind, as (view of x, axes): used by the mistakes below.
def _ln_view(x):
    return x, (1,)


def _bn_view(x):
    return x, (0, 2, 3)


def _gn_view(x, groups):
    return _grouped(x, groups), (2, 3, 4)


def _slips(view: Callable, maps: bool, reference: Callable) -> dict[str, Callable]:
    """The slips every kind shares, as functions (x, gamma, beta, [groups,] eps=None)."""

    def make(how=None, ddof=0):
        def produce(x, g, b, *groups, eps=None):
            v, axes = view(x, *groups)
            x_hat = _normalized(v, axes, _e(eps), ddof=ddof, how=how or "right")
            return _affine(x_hat.reshape(x.shape), g, b, maps)

        return produce

    def swapped(x, g, b, *groups, eps=None):
        return reference(x, b, g, *groups, _e(eps))[0]

    def no_scale_shift(x, g, b, *groups, eps=None):
        return reference(x, np.ones_like(g), np.zeros_like(b), *groups, _e(eps))[0]

    def default_eps_changed(x, g, b, *groups, eps=None):
        if eps is not None:
            raise ValueError("applies only to a call without eps")
        return reference(x, g, b, *groups, 1e-8)[0]

    return {
        "eps_outside": make("eps_outside"),
        "no_eps": make("no_eps"),
        "unbiased": make(ddof=1),
        "by_variance": make("by_variance"),
        "not_centred": make("not_centred"),
        "swapped": swapped,
        "no_scale_shift": no_scale_shift,
        "default_eps_changed": default_eps_changed,
    }


def _common_forward_mistakes(slips: dict, name: str, formula: str) -> list[Mistake]:
    return [
        Mistake(
            "ε is outside the square root: it must be added to the variance, before the root "
            "is taken",
            slips["eps_outside"],
            f"divide by √(σ² + ε), not by √σ² + ε: {formula}",
        ),
        Mistake(
            f"the default of eps was changed: called without eps, {name} must use 1e-5, as "
            "the exercise's def line says",
            slips["default_eps_changed"],
            "keep the def line as given, with eps=1e-5",
        ),
        Mistake(
            "ε is missing: the denominator must include it, so that values that are all "
            "equal (variance 0) do not divide 0 by 0",
            slips["no_eps"],
            formula,
        ),
        Mistake(
            "you used the unbiased variance (dividing by the count minus one): normalization "
            "uses the values' own variance, dividing by their count",
            slips["unbiased"],
            "σ² = mean of (x − μ)² over the values that share the statistics: np.var's "
            "default, ddof=0",
        ),
        Mistake(
            "you divided by the variance (plus ε) instead of the standard deviation: the "
            "denominator is a square root",
            slips["by_variance"],
            formula,
        ),
        Mistake(
            "the mean was not subtracted: normalizing first centres the values on their mean",
            slips["not_centred"],
            formula,
        ),
        Mistake(
            "γ and β are swapped: γ scales the normalized value and β shifts it",
            slips["swapped"],
            "out = γ·x̂ + β: γ multiplies x̂, β is added",
        ),
        Mistake(
            "you returned the normalized value x̂: the last step scales it by γ and shifts it by β",
            slips["no_scale_shift"],
            "out = γ·x̂ + β, one γ and one β per feature or channel",
        ),
    ]


# ------------------------------------------------------------------ Layer Norm mistakes
def layernorm_forward_mistakes() -> list[Mistake]:
    # Each takes (x, gamma, beta, eps=None), eps None when the case uses the default.
    def batch_norm(x, g, b, eps=None):
        return _normalized(x, (0,), _e(eps)) * g + b

    def no_keepdims(x, g, b, eps=None):
        mu, var = x.mean(axis=1), x.var(axis=1)  # lines up with the features: square x only
        return (x - mu) / np.sqrt(var + _e(eps)) * g + b

    def whole_array(x, g, b, eps=None):
        return _normalized(x, (0, 1), _e(eps)) * g + b

    slips = _slips(_ln_view, False, _norms.layernorm_forward)
    formula = "x̂ = (x − μ)/√(σ² + ε) with μ and σ² over the d features of each row (axis=1)"
    return [
        Mistake(
            "statistics over the wrong axis: you averaged each feature over the examples, "
            "which is Batch Norm. Layer Norm averages over the features of each example",
            batch_norm,
            "μ and σ² over axis=1, kept as a column: shape (m, 1)",
        ),
        Mistake(
            "the per-example statistics were not kept as a column: numpy lined them up with "
            "the features instead of the examples (this only runs when x is square)",
            no_keepdims,
            "keepdims=True gives μ and σ² the shape (m, 1), which broadcasts along each row",
        ),
        Mistake(
            "μ and σ² were computed over the whole array at once: Layer Norm keeps one μ and "
            "one σ² per example",
            whole_array,
            "pass axis=1 (and keepdims=True) to the mean and the variance",
        ),
        *_common_forward_mistakes(slips, "layernorm_forward", formula),
    ]


# ------------------------------------------------------------------ spatial BN mistakes
def spatial_batchnorm_forward_mistakes() -> list[Mistake]:
    # Each takes (x, gamma, beta, eps=None) with x (N, C, H, W).
    def per_position(x, g, b, eps=None):
        return _affine(_normalized(x, (0,), _e(eps)), g, b, True)

    def reshape_without_transpose(x, g, b, eps=None):
        c = x.shape[1]
        rows = x.reshape(-1, c)  # the memory order is (N, C, H, W): columns mix channels
        return (_normalized(rows, (0,), _e(eps)) * g + b).reshape(x.shape)

    def transpose_no_way_back(x, g, b, eps=None):
        n, c, h, w = x.shape
        rows = x.transpose(0, 2, 3, 1).reshape(-1, c)
        out = _normalized(rows, (0,), _e(eps)) * g + b
        return out.reshape(n, c, h, w)  # the right values, put back in the wrong order

    def instance(x, g, b, eps=None):
        return _affine(_normalized(x, (2, 3), _e(eps)), g, b, True)

    def layer(x, g, b, eps=None):
        return _affine(_normalized(x, (1, 2, 3), _e(eps)), g, b, True)

    def whole_array(x, g, b, eps=None):
        return _affine(_normalized(x, (0, 1, 2, 3), _e(eps)), g, b, True)

    def gamma_on_last_axis(x, g, b, eps=None):
        return _normalized(x, (0, 2, 3), _e(eps)) * g + b  # (C,) broadcasts along W

    slips = _slips(_bn_view, True, _norms.spatial_batchnorm_forward)
    formula = (
        "x̂ = (x − μ)/√(σ² + ε) with μ and σ² per channel, over the N·H·W values of "
        "that channel (axes 0, 2 and 3)"
    )
    return [
        Mistake(
            "per-position statistics: you averaged over the examples only, so every (h, w) "
            "position of a channel got its own μ and σ². A feature map is one feature: its "
            "statistics run over the examples and all positions",
            per_position,
            "one μ and one σ² per channel, over axes (0, 2, 3): shape (1, C, 1, 1)",
        ),
        Mistake(
            "you reshaped x to rows of C values without moving the channels last first: in "
            "memory x is ordered (N, C, H, W), so each column of that reshape mixes channels "
            "and positions",
            reshape_without_transpose,
            "x.transpose(0, 2, 3, 1) puts the channels last; then reshape(-1, C) gives one "
            "row per (example, position) and one column per channel",
        ),
        Mistake(
            "the values are right but in the wrong places: after normalizing the (N·H·W, C) "
            "rows, the result must be reshaped to (N, H, W, C) and its channels moved back "
            "to axis 1",
            transpose_no_way_back,
            "out.reshape(N, H, W, C).transpose(0, 3, 1, 2) undoes the transpose and reshape",
        ),
        Mistake(
            "statistics per example and channel (over H and W only): that is Instance Norm. "
            "Batch Norm of a conv layer shares the statistics of a channel across the examples "
            "of the batch too",
            instance,
            "average over axes (0, 2, 3): one μ and one σ² per channel",
        ),
        Mistake(
            "statistics per example over all its channels and positions: that is Layer Norm. "
            "Batch Norm keeps one μ and σ² per channel, over the batch and the positions",
            layer,
            "average over axes (0, 2, 3), not (1, 2, 3)",
        ),
        Mistake(
            "μ and σ² were computed over the whole array at once: Batch Norm keeps one μ and "
            "one σ² per channel",
            whole_array,
            "average over axes (0, 2, 3) with keepdims=True: shape (1, C, 1, 1)",
        ),
        Mistake(
            "γ and β were applied along the last axis (W) instead of the channels (axis 1): "
            "numpy lines a (C,) array up with the last axis of x",
            gamma_on_last_axis,
            "reshape γ and β to (1, C, 1, 1) (or (C, 1, 1)) before multiplying and adding",
        ),
        *_common_forward_mistakes(slips, "spatial_batchnorm_forward", formula),
    ]


# ------------------------------------------------------------------ Group Norm mistakes
def groupnorm_forward_mistakes() -> list[Mistake]:
    # Each takes (x, gamma, beta, groups, eps=None) with x (N, C, H, W).
    def interleaved(x, g, b, groups, eps=None):
        n, c, h, w = x.shape
        v = x.reshape(n, c // groups, groups, h, w)  # channel k in group k % groups
        return _affine(_normalized(v, (1, 3, 4), _e(eps)).reshape(x.shape), g, b, True)

    def groups_as_size(x, g, b, groups, eps=None):
        c = x.shape[1]
        if groups == c // groups:
            raise ValueError("the same grouping: not this mistake")
        v = _grouped(x, c // groups)  # groups of `groups` channels: C/groups groups
        return _affine(_normalized(v, (2, 3, 4), _e(eps)).reshape(x.shape), g, b, True)

    def channels_only(x, g, b, groups, eps=None):
        v = _grouped(x, groups)  # per position: over the group's channels only
        return _affine(_normalized(v, (2,), _e(eps)).reshape(x.shape), g, b, True)

    def with_batch(x, g, b, groups, eps=None):
        v = _grouped(x, groups)  # the group's values of every example together
        return _affine(_normalized(v, (0, 2, 3, 4), _e(eps)).reshape(x.shape), g, b, True)

    def instance(x, g, b, groups, eps=None):
        if groups == x.shape[1]:
            raise ValueError("Instance Norm is right for this case")
        return _affine(_normalized(x, (2, 3), _e(eps)), g, b, True)

    def layer(x, g, b, groups, eps=None):
        if groups == 1:
            raise ValueError("Layer Norm is right for this case")
        return _affine(_normalized(x, (1, 2, 3), _e(eps)), g, b, True)

    def gamma_on_last_axis(x, g, b, groups, eps=None):
        return _normalized(_grouped(x, groups), (2, 3, 4), _e(eps)).reshape(x.shape) * g + b

    slips = _slips(_gn_view, True, _norms.groupnorm_forward)
    formula = (
        "reshape x to (N, G, C/G, H, W); x̂ = (x − μ)/√(σ² + ε) with μ and σ² over axes "
        "(2, 3, 4); reshape back to (N, C, H, W); out = γ·x̂ + β per channel"
    )
    return [
        Mistake(
            "the groups are interleaved (channel c in group c mod G): Group Norm puts "
            "consecutive channels together, the first C/G channels in group 0, and so on",
            interleaved,
            "x.reshape(N, G, C // G, H, W) makes groups of consecutive channels (channel c "
            "in group c // (C/G), as PyTorch)",
        ),
        Mistake(
            "you made groups of `groups` channels each: `groups` is the number of groups, "
            "and each group holds C/groups channels",
            groups_as_size,
            "reshape to (N, groups, C // groups, H, W)",
        ),
        Mistake(
            "statistics over the channels of a group at each position separately: a group's "
            "μ and σ² run over its channels and all H·W positions together",
            channels_only,
            "after reshaping to (N, G, C/G, H, W), average over axes (2, 3, 4)",
        ),
        Mistake(
            "the statistics mix the examples of the batch: Group Norm normalizes each example "
            "on its own, one μ and σ² per example and group",
            with_batch,
            "average over axes (2, 3, 4) of the (N, G, C/G, H, W) view, not over axis 0",
        ),
        Mistake(
            "statistics per example and channel: that is Instance Norm (one channel per "
            "group). With fewer groups, each group's channels share one μ and σ²",
            instance,
            "reshape to (N, groups, C // groups, H, W) and average over axes (2, 3, 4)",
        ),
        Mistake(
            "statistics per example over all its channels: that is Layer Norm (one group). "
            "Group Norm splits the channels into `groups` groups, each with its own μ and σ²",
            layer,
            "reshape to (N, groups, C // groups, H, W) and average over axes (2, 3, 4)",
        ),
        Mistake(
            "γ and β were applied along the last axis (W) instead of the channels (axis 1): "
            "they hold one value per channel, not per group or position",
            gamma_on_last_axis,
            "after reshaping x̂ back to (N, C, H, W), multiply by γ of shape (1, C, 1, 1)",
        ),
        *_common_forward_mistakes(slips, "groupnorm_forward", formula),
    ]


# ------------------------------------------------------------------ backward mistakes
def _backward_slips(view: Callable, maps: bool, reference: Callable) -> dict[str, Callable]:
    """Typical wrong backward passes, each (x, gamma, beta, [groups,] eps, dout) -> grads.

    They use the reference forward's x̂ and 1/√(σ² + ε) (a wrong forward is caught first)."""

    def parts(x, g, b, *rest):
        *groups, eps, dout = rest
        _, cache = reference(x, g, b, *groups, eps)
        v, axes = view(x, *groups)
        shape = v.shape
        x_hat = cache.x_hat.reshape(shape)
        gamma = _per_channel(g) if maps else g
        dxh = (dout * gamma).reshape(shape)
        sums = (0, 2, 3) if maps else (0,)
        dgamma = (dout * cache.x_hat).sum(axis=sums)
        dbeta = dout.sum(axis=sums)
        return x_hat, cache.inv_std, dxh, dout.reshape(shape), axes, dgamma, dbeta, x.shape

    def dx_with(term):
        def produce(x, g, b, *rest):
            x_hat, inv, dxh, d, axes, dgamma, dbeta, shape = parts(x, g, b, *rest)
            return term(x_hat, inv, dxh, d, axes, g).reshape(shape), dgamma, dbeta

        return produce

    def mean(a, axes):
        return a.mean(axis=axes, keepdims=True)

    def grads_with(change):
        def produce(x, g, b, *rest):
            x_hat, inv, dxh, d, axes, dgamma, dbeta, shape = parts(x, g, b, *rest)
            right = inv * (dxh - mean(dxh, axes) - x_hat * mean(dxh * x_hat, axes))
            return (right.reshape(shape), *change(dgamma, dbeta, x, d, x_hat))

        return produce

    sums = (0, 2, 3) if maps else (0,)
    return {
        "no_mean": dx_with(lambda xh, r, dxh, d, ax, g: r * (dxh - xh * mean(dxh * xh, ax))),
        "no_var": dx_with(lambda xh, r, dxh, d, ax, g: r * (dxh - mean(dxh, ax))),
        "constants": dx_with(lambda xh, r, dxh, d, ax, g: r * dxh),
        "var_sign": dx_with(
            lambda xh, r, dxh, d, ax, g: r * (dxh - mean(dxh, ax) + xh * mean(dxh * xh, ax))
        ),
        "no_gamma": dx_with(
            lambda xh, r, dxh, d, ax, g: r * (d - mean(d, ax) - xh * mean(d * xh, ax))
        ),
        "swapped": grads_with(lambda dg, db, x, d, xh: (db, dg)),
        "means": grads_with(
            lambda dg, db, x, d, xh: (dg / (d.size // dg.size), db / (d.size // dg.size))
        ),
        "dgamma_with_x": grads_with(
            lambda dg, db, x, d, xh: ((d.reshape(x.shape) * x).sum(axis=sums), db)
        ),
    }


def _common_backward_mistakes(slips: dict, boxed: str) -> list[Mistake]:
    return [
        Mistake(
            "the mean path is missing: μ depends on every value that shares it, so each "
            "value also reaches the loss through μ, and receives its share of dμ",
            slips["no_mean"],
            f"the mean path subtracts the mean of dx̂ over the shared values: {boxed}",
        ),
        Mistake(
            "the variance path is missing: σ² depends on every value that shares it, so "
            "each value also reaches the loss through σ², in proportion to its x̂",
            slips["no_var"],
            f"the variance path subtracts x̂ times the mean of dx̂·x̂: {boxed}",
        ),
        Mistake(
            "μ and σ² were treated as constants: both depend on every value that shares "
            "them, so dx has three parts, the direct one and one through each statistic",
            slips["constants"],
            boxed,
        ),
        Mistake(
            "sign error in the variance path: a larger σ² makes every x̂ smaller in size, so "
            "that path enters dx with a minus sign",
            slips["var_sign"],
            boxed,
        ),
        Mistake(
            "γ is missing from dx: the output is γ·x̂ + β, so the gradient that reaches x̂ is "
            "dout scaled by γ",
            slips["no_gamma"],
            f"dx̂ = dout·γ, before the means: {boxed}",
        ),
        Mistake(
            "dγ and dβ are swapped: β is added to every output, so its gradient is the plain "
            "sum of dout; γ multiplies x̂, so its gradient weighs dout by x̂",
            slips["swapped"],
            "dβ = Σ dout and dγ = Σ dout·x̂, summed over every value that γ and β touch",
        ),
        Mistake(
            "dγ and dβ are averages: every value that γ and β touch adds to their gradients, "
            "so they are sums, not means",
            slips["means"],
            "dβ = Σ dout and dγ = Σ dout·x̂ (sums)",
        ),
        Mistake(
            "dγ weighs dout by the input x: γ multiplies the normalized value x̂",
            slips["dgamma_with_x"],
            "dγ = Σ dout·x̂, the sum over every value that γ touches",
        ),
    ]


def layernorm_backward_mistakes() -> list[Mistake]:
    slips = _backward_slips(_ln_view, False, _norms.layernorm_forward)

    def batch_norm_backward(x, g, b, eps, dout):
        _, cache = _norms.layernorm_forward(x, g, b, eps)
        x_hat, inv = cache.x_hat, cache.inv_std
        dxh = dout * g
        dx = inv * (dxh - dxh.mean(0) - x_hat * (dxh * x_hat).mean(0))
        return dx, (dout * x_hat).sum(0), dout.sum(0)

    def gamma_outside(x, g, b, eps, dout):
        _, cache = _norms.layernorm_forward(x, g, b, eps)
        x_hat, inv = cache.x_hat, cache.inv_std
        mean_d = dout.mean(1, keepdims=True)
        mean_dx = (dout * x_hat).mean(1, keepdims=True)
        dx = g * inv * (dout - mean_d - x_hat * mean_dx)
        return dx, (dout * x_hat).sum(0), dout.sum(0)

    def over_m(x, g, b, eps, dout):
        m, d = x.shape
        if m == d:
            raise ValueError("the same count: not this mistake")
        _, cache = _norms.layernorm_forward(x, g, b, eps)
        x_hat, inv = cache.x_hat, cache.inv_std
        dxh = dout * g
        dx = inv * (
            dxh - dxh.sum(1, keepdims=True) / m - x_hat * (dxh * x_hat).sum(1, keepdims=True) / m
        )
        return dx, (dout * x_hat).sum(0), dout.sum(0)

    boxed = (
        "dx = (1/√(σ² + ε))·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), the means over the d "
        "features of each row, with dx̂ = dout·γ"
    )
    return [
        Mistake(
            "the sums of your backward run over the examples (as in Batch Norm): in Layer "
            "Norm μ and σ² are shared by the features of one example, so the mean and "
            "variance paths sum over the features of each row",
            batch_norm_backward,
            boxed,
        ),
        Mistake(
            "γ was taken out of the sums: in Layer Norm γ changes along the row, so the "
            "gradient that reaches x̂ must include γ before the means are taken (Batch "
            "Norm's shortcut only works when γ is one number for all the values of a "
            "statistic)",
            gamma_outside,
            f"form dx̂ = dout·γ first, then take the means of dx̂: {boxed}",
        ),
        Mistake(
            "the means of the backward divide by m, the number of examples: each statistic "
            "of Layer Norm averages the d features of one row",
            over_m,
            boxed,
        ),
        *_common_backward_mistakes(slips, boxed),
    ]


def spatial_batchnorm_backward_mistakes() -> list[Mistake]:
    slips = _backward_slips(_bn_view, True, _norms.spatial_batchnorm_forward)

    def over_n(x, g, b, eps, dout):
        n, c, h, w = x.shape
        if h * w == 1:
            raise ValueError("the same count: not this mistake")
        _, cache = _norms.spatial_batchnorm_forward(x, g, b, eps)
        x_hat, inv = cache.x_hat, cache.inv_std
        dxh = dout * _per_channel(g)
        axes = (0, 2, 3)
        dx = inv * (
            dxh
            - dxh.sum(axis=axes, keepdims=True) / n
            - x_hat * (dxh * x_hat).sum(axis=axes, keepdims=True) / n
        )
        return dx, (dout * x_hat).sum(axes), dout.sum(axes)

    def per_position(x, g, b, eps, dout):
        _, cache = _norms.spatial_batchnorm_forward(x, g, b, eps)
        x_hat, inv = cache.x_hat, cache.inv_std
        dxh = dout * _per_channel(g)
        dx = inv * (dxh - dxh.mean(0) - x_hat * (dxh * x_hat).mean(0))
        axes = (0, 2, 3)
        return dx, (dout * x_hat).sum(axes), dout.sum(axes)

    def rows_backward(x, g, b, eps, dout, *, dout_moved: bool):
        """Lesson 03's backward on the (N·H·W, C) rows of a right forward; the upstream
        gradient reshaped with or without moving its channels last."""
        from .. import batchnorm as _bn03

        n, c, h, w = x.shape
        rows = x.transpose(0, 2, 3, 1).reshape(-1, c)
        _, cache = _bn03.batchnorm_forward(rows, g, b, eps)
        d = dout.transpose(0, 2, 3, 1) if dout_moved else dout
        dx, dg, db = _bn03.batchnorm_backward(d.reshape(-1, c), cache)
        return dx, dg, db, (n, c, h, w)

    def dout_not_moved(x, g, b, eps, dout):
        dx, dg, db, (n, c, h, w) = rows_backward(x, g, b, eps, dout, dout_moved=False)
        return dx.reshape(n, h, w, c).transpose(0, 3, 1, 2), dg, db

    def dout_not_moved_nor_back(x, g, b, eps, dout):
        dx, dg, db, shape = rows_backward(x, g, b, eps, dout, dout_moved=False)
        return dx.reshape(shape), dg, db

    def dx_not_moved_back(x, g, b, eps, dout):
        if x.shape[2] * x.shape[3] == 1:
            raise ValueError("no positions to reorder: not this mistake")
        dx, dg, db, shape = rows_backward(x, g, b, eps, dout, dout_moved=True)
        return dx.reshape(shape), dg, db

    boxed = (
        "dx = (γ/√(σ² + ε))·(dout − mean(dout) − x̂·mean(dout·x̂)), the means over the "
        "N·H·W values of each channel (lesson 03's formula on the (N·H·W, C) rows)"
    )
    rows = (
        "rows = a.transpose(0, 2, 3, 1).reshape(-1, C) for x and for dout alike; back: "
        "dx_rows.reshape(N, H, W, C).transpose(0, 3, 1, 2)"
    )
    return [
        Mistake(
            "dout was reshaped to rows without moving its channels last: its rows no longer "
            "line up with the rows of x that the forward normalized, so each gradient meets "
            "the wrong value. Put dout in the same row order as x",
            dout_not_moved,
            rows,
        ),
        Mistake(
            "dout was reshaped to rows without moving its channels last, and dx reshaped "
            "back the same way: the rows of dout must line up with the rows of x, which "
            "the forward made after moving the channels last",
            dout_not_moved_nor_back,
            rows,
        ),
        Mistake(
            "dx has the right values in the wrong places: the rows came from x with its "
            "channels moved last, so dx must be reshaped to (N, H, W, C) and its channels "
            "moved back to axis 1",
            dx_not_moved_back,
            rows,
        ),
        Mistake(
            "the means of the backward divide by N, the number of examples: each channel's "
            "μ and σ² average N·H·W values, so the paths through them carry 1/(N·H·W)",
            over_n,
            boxed,
        ),
        Mistake(
            "the sums of your backward run over the examples only, position by position: "
            "each channel's statistics are shared by all its N·H·W values, so the sums run "
            "over the examples and the positions",
            per_position,
            boxed,
        ),
        *_common_backward_mistakes(slips, boxed),
    ]


def groupnorm_backward_mistakes() -> list[Mistake]:
    slips = _backward_slips(_gn_view, True, _norms.groupnorm_forward)

    def split(x, g, b, groups, eps, dout):
        _, cache = _norms.groupnorm_forward(x, g, b, groups, eps)
        return cache.x_hat, cache.inv_std, dout * _per_channel(g)

    def rest(dout, x_hat):
        return (dout * x_hat).sum((0, 2, 3)), dout.sum((0, 2, 3))

    def gamma_outside(x, g, b, groups, eps, dout):
        if groups == x.shape[1]:
            raise ValueError("γ is one number per group here: not this mistake")
        x_hat, inv, _ = split(x, g, b, groups, eps, dout)
        d, xh = _grouped(dout, groups), _grouped(x_hat, groups)
        axes = (2, 3, 4)
        mean_d = d.mean(axis=axes, keepdims=True)
        mean_dx = (d * xh).mean(axis=axes, keepdims=True)
        dx = (inv * (d - mean_d - xh * mean_dx)).reshape(x.shape) * _per_channel(g)
        return (dx, *rest(dout, x_hat))

    def per_channel(x, g, b, groups, eps, dout):
        if groups == x.shape[1]:
            raise ValueError("per channel is right here: not this mistake")
        x_hat, inv, dxh = split(x, g, b, groups, eps, dout)
        inv_c = np.repeat(inv.reshape(x.shape[0], groups), x.shape[1] // groups, axis=1)
        inv_c = inv_c[:, :, None, None]
        axes = (2, 3)
        dx = inv_c * (
            dxh
            - dxh.mean(axis=axes, keepdims=True)
            - x_hat * (dxh * x_hat).mean(axis=axes, keepdims=True)
        )
        return (dx, *rest(dout, x_hat))

    def over_hw(x, g, b, groups, eps, dout):
        c = x.shape[1]
        if groups == c:
            raise ValueError("the same count: not this mistake")
        x_hat, inv, dxh = split(x, g, b, groups, eps, dout)
        d, xh = _grouped(dxh, groups), _grouped(x_hat, groups)
        count = x.shape[2] * x.shape[3]  # forgets the C/G channels of the group
        axes = (2, 3, 4)
        dx = inv * (
            d
            - d.sum(axis=axes, keepdims=True) / count
            - xh * (d * xh).sum(axis=axes, keepdims=True) / count
        )
        return (dx.reshape(x.shape), *rest(dout, x_hat))

    boxed = (
        "reshape dx̂ = dout·γ and x̂ to (N, G, C/G, H, W); dx = (1/√(σ² + ε))·(dx̂ − mean(dx̂) "
        "− x̂·mean(dx̂·x̂)), the means over axes (2, 3, 4); reshape back"
    )
    return [
        Mistake(
            "γ was taken out of the sums: γ changes from channel to channel within a group, "
            "so the gradient that reaches x̂ must include γ before the means are taken",
            gamma_outside,
            boxed,
        ),
        Mistake(
            "the sums of your backward run over each channel separately: a group's μ and σ² "
            "are shared by all its channels and positions, so the sums run over the whole group",
            per_channel,
            boxed,
        ),
        Mistake(
            "the means of the backward divide by H·W: each group's statistics average "
            "(C/G)·H·W values, its channels times the positions",
            over_hw,
            boxed,
        ),
        *_common_backward_mistakes(slips, boxed),
    ]


# ------------------------------------------------------------------ how each exercise is called
@dataclass(frozen=True)
class _Spec:
    forward: str
    backward: str
    reference_forward: Callable
    reference_backward: Callable
    cases: Callable[[], list[_Case]]
    forward_mistakes: Callable[[], list[Mistake]]
    backward_mistakes: Callable[[], list[Mistake]]
    arg_names: tuple[str, ...]  # of the forward, as the exercise names them
    advice_forward: Advice
    advice_backward: Advice
    parameter_sums: str  # "over the examples (axis=0)" ...
    reuses_lesson_03: bool = False  # the exercise builds on lesson 03's Batch Norm

    def forward_call(self) -> tuple[str, ...]:
        """The names of ``_call_forward``'s arguments, for "modified its input ..."."""
        return ("forward_fn", "kwargs", *self.arg_names)

    def backward_call(self) -> tuple[str, ...]:
        """The names of ``_run_forward_backward``'s arguments."""
        return ("forward_fn", "backward_fn", "kwargs", "dout", *self.arg_names)


ADVICE_LN_FORWARD = Advice(
    shapes="x is (m, d), one row per example; gamma and beta are (d,); μ and σ² are (m, 1)",
    statistics=False,
    call="layernorm_forward(x, gamma, beta, eps=...) and, once, layernorm_forward(x, gamma, beta)",
)
ADVICE_LN_BACKWARD = Advice(
    shapes="dout, x̂ and dx are (m, d); dγ and dβ are (d,), summed over the examples",
    statistics=False,
    call="layernorm_backward(dout, cache), with the cache your layernorm_forward returned",
)
ADVICE_SBN_FORWARD = Advice(
    shapes="x is (N, C, H, W); gamma and beta are (C,), one per channel; μ and σ² are (1, C, 1, 1)",
    statistics=False,
    call="spatial_batchnorm_forward(x, gamma, beta, eps=...) and, once, without eps",
)
ADVICE_SBN_BACKWARD = Advice(
    shapes="dout and dx are (N, C, H, W); dγ and dβ are (C,), summed over N, H and W",
    statistics=False,
    call="spatial_batchnorm_backward(dout, cache), with your forward's cache",
)
ADVICE_GN_FORWARD = Advice(
    shapes="x is (N, C, H, W); gamma and beta are (C,); the group view is (N, G, C/G, H, W), "
    "its μ and σ² (N, G, 1, 1, 1)",
    statistics=False,
    call="groupnorm_forward(x, gamma, beta, groups, eps=...) and, once, without eps",
)
ADVICE_GN_BACKWARD = Advice(
    shapes="dout and dx are (N, C, H, W); dγ and dβ are (C,), summed over N, H and W",
    statistics=False,
    call="groupnorm_backward(dout, cache), with your forward's cache",
)

LAYERNORM = _Spec(
    "layernorm_forward",
    "layernorm_backward",
    _norms.layernorm_forward,
    _norms.layernorm_backward,
    layernorm_cases,
    layernorm_forward_mistakes,
    layernorm_backward_mistakes,
    ("x", "gamma", "beta"),
    ADVICE_LN_FORWARD,
    ADVICE_LN_BACKWARD,
    "over the examples (axis 0): one value per feature",
)
SPATIAL_BATCHNORM = _Spec(
    "spatial_batchnorm_forward",
    "spatial_batchnorm_backward",
    _norms.spatial_batchnorm_forward,
    _norms.spatial_batchnorm_backward,
    spatial_batchnorm_cases,
    spatial_batchnorm_forward_mistakes,
    spatial_batchnorm_backward_mistakes,
    ("x", "gamma", "beta"),
    ADVICE_SBN_FORWARD,
    ADVICE_SBN_BACKWARD,
    "over N, H and W (axes 0, 2 and 3): one value per channel",
    reuses_lesson_03=True,
)
GROUPNORM = _Spec(
    "groupnorm_forward",
    "groupnorm_backward",
    _norms.groupnorm_forward,
    _norms.groupnorm_backward,
    groupnorm_cases,
    groupnorm_forward_mistakes,
    groupnorm_backward_mistakes,
    ("x", "gamma", "beta", "groups"),
    ADVICE_GN_FORWARD,
    ADVICE_GN_BACKWARD,
    "over N, H and W (axes 0, 2 and 3): one value per channel",
)


# ------------------------------------------------------------------ helpers (run in the child)
def _call_forward(forward_fn, kwargs, *args):
    """The learner's forward, keeping only ``out`` of (out, cache): (True, out) for a
    pair, else (False, the value itself). The cache stays in the child."""
    value = forward_fn(*args, **kwargs)
    note_returned(value)
    if isinstance(value, tuple | list) and len(value) == 2:
        return True, value[0]
    return False, value


def _run_forward_backward(forward_fn, backward_fn, kwargs, dout, *args):
    """The learner's backward on the learner's own cache."""
    _, cache = forward_fn(*args, **kwargs)
    grads = backward_fn(dout, cache)
    note_returned(grads)
    return grads


def _numerical(forward_fn, kwargs, dout, *args):
    """Central differences of the learner's forward with respect to x, gamma and beta."""
    rest = tuple(args[3:])

    def f(x_, g_, b_):
        return np.asarray(forward_fn(x_, g_, b_, *rest, **kwargs)[0], dtype=np.float64)

    return numerical_gradients(f, tuple(args[:3]), dout)


def _warm_course_lib() -> None:
    """Run lesson 03's compiled Batch Norm backward once here (numba loads or compiles
    it on its first call, seconds on a busy machine), so that a learner's function that
    reuses it finds it ready in every child process."""
    from ..batchnorm import batchnorm_backward, batchnorm_forward

    z = np.arange(6.0).reshape(3, 2)
    batchnorm_backward(np.ones_like(z), batchnorm_forward(z, np.ones(2), np.zeros(2))[1])


def _forward_output(returned: Any, shape, spec: _Spec) -> tuple[Any, str | None]:
    """The ``out`` of a forward's return value (out, cache), or why there is none."""
    who = spec.forward
    if type(returned) is not tuple or len(returned) != 2 or type(returned[0]) is not bool:
        return None, f"{who} returned an object that is not a pair (out, cache)"
    pair, value = returned
    if pair:
        return to_array(value, shape, "out", advice=spec.advice_forward)
    if value is None:
        return None, returned_none_hint(("out", "cache"))
    if type(value) is np.ndarray:
        return None, f"{who} returned only {describe_value(value)}: return the pair (out, cache)"
    return None, f"{who} must return the pair (out, cache), got {describe_value(value)}"


def _grad_arrays(value: Any, x_shape, p_shape, spec: _Spec):
    if value is None:
        return None, returned_none_hint(("dx", "dgamma", "dbeta"))
    if not isinstance(value, tuple | list) or len(value) != 3:
        return None, f"return 3 values (dx, dgamma, dbeta), got {describe_value(value)}"
    arrays = []
    for v, what, shape in zip(
        value, ("dx", "dgamma", "dbeta"), (x_shape, p_shape, p_shape), strict=True
    ):
        got = np.shape(v)
        if what != "dx" and got != shape and len(got) > 1:
            return None, (
                f"{what} has shape {got}: γ and β are used by every value of their feature "
                f"or channel, so their gradients are sums {spec.parameter_sums}, shape {shape}"
            )
        arr, why = to_array(v, shape, what, advice=spec.advice_backward)
        if why:
            return None, why
        arrays.append(arr)
    return arrays, None


def _nan_hint(case: _Case, why: str) -> str:
    if case.constant and "NaN" in why:
        return (
            "values that are all equal (σ² = 0) gave NaN or inf: 0/0. With ε added to the "
            "variance inside the square root, the denominator is never 0"
        )
    return why


def _fd_note(errors: list[float]) -> str:
    said = "; ".join(
        f"{name} {describe_error(e)}" for name, e in zip(("dx", "dγ", "dβ"), errors, strict=True)
    )
    return (
        f"gradient check against central differences of your forward (relative error): "
        f"{said} (below {CORRECT_BELOW:.0e}: correct; above {BUG_ABOVE:.0e}: a bug)"
    )


# ------------------------------------------------------------------ the generic checks
def _check_forward(spec: _Spec, fn, timeout) -> CheckResult:
    name = spec.forward
    if not callable(fn):
        return failed(name, 0, "the argument", f"pass your function, got {describe_value(fn)}")
    mistakes = spec.forward_mistakes()
    cases = spec.cases()
    params = ("forward_fn", "kwargs", *learner_parameters(fn))
    for k, case in enumerate(cases):
        outcome = call_safely(_call_forward, fn, case.kwargs, *case.args, timeout=timeout)
        problem = outcome_hint(outcome, spec.forward_call(), timeout, spec.advice_forward, params)
        if problem:
            hint, more = problem
            return failed(name, k, case.label, hint, *printed_details(outcome), more=more)
        expected = spec.reference_forward(*case.args, case.eps_value)[0]
        out, why = _forward_output(outcome.value, expected.shape, spec)
        if why:
            return failed(name, k, case.label, _nan_hint(case, why), *printed_details(outcome))
        if close(out, expected):
            continue
        mistake = matching_mistake(out, mistakes, case.args, {"eps": case.eps})
        if mistake is not None:
            return failed(name, k, case.label, mistake.hint, more=mistake.more)
        return failed(
            name,
            k,
            case.label,
            "out differs from the expected value: compare each step with the lesson's formulas",
            first_difference(out, expected),
            more=DIFFERS_MORE,
        )
    return passed(name, len(cases))


def _check_backward(spec: _Spec, forward_fn, backward_fn, timeout) -> CheckResult:
    name = spec.backward
    for fn, what in ((forward_fn, "forward_fn"), (backward_fn, "backward_fn")):
        if not callable(fn):
            return failed(
                name, 0, "the arguments", f"{what} must be a function, got {describe_value(fn)}"
            )
    if spec.reuses_lesson_03:
        _warm_course_lib()
    mistakes = spec.backward_mistakes()
    cases = spec.cases()
    own = learner_parameters(forward_fn)
    fwd_params = ("forward_fn", "kwargs", *own)
    # the arguments of the child call, with the learner's names of dout, x, ... where known
    dout_name = learner_parameters(backward_fn)[:1] or ("dout",)
    params = ("forward_fn", "backward_fn", "kwargs", *dout_name, *(own or spec.arg_names))
    for k, case in enumerate(cases):
        x = case.args[0]
        p_shape = (x.shape[1],)
        # 1. The learner's forward must be right first: its cache feeds the backward.
        fwd = call_safely(_call_forward, forward_fn, case.kwargs, *case.args, timeout=timeout)
        problem = outcome_hint(fwd, spec.forward_call(), timeout, spec.advice_forward, fwd_params)
        problem = problem[0] if problem else None  # level 1 only: said in brackets below
        details = printed_details(fwd)
        expected_out, ref_cache = spec.reference_forward(*case.args, case.eps_value)
        if not problem:
            out, problem = _forward_output(fwd.value, x.shape, spec)
            if not problem and not close(out, expected_out):
                problem, details = "its output differs from the expected one", []
        if problem:
            return failed(
                name,
                k,
                case.label,
                f"{spec.forward} must work first ({problem}): run "
                f"checks.check_{spec.forward} on it",
                *details,
            )
        # 2. The learner's backward on the learner's own cache.
        bwd = call_safely(
            _run_forward_backward,
            forward_fn,
            backward_fn,
            case.kwargs,
            case.dout,
            *case.args,
            timeout=timeout,
        )
        problem = outcome_hint(bwd, spec.backward_call(), timeout, spec.advice_backward, params)
        if problem:
            hint, more = problem
            return failed(name, k, case.label, hint, *printed_details(bwd), more=more)
        grads, why = _grad_arrays(bwd.value, x.shape, p_shape, spec)
        if why:
            return failed(name, k, case.label, _nan_hint(case, why), *printed_details(bwd))
        # 3. Numerical gradients of the learner's forward (in a child: it is their code).
        num = call_safely(
            _numerical, forward_fn, case.kwargs, case.dout, *case.args, timeout=timeout * 4
        )
        if not num.ok or num.value is None:
            names = ("forward_fn", "kwargs", "dout", *spec.arg_names)
            why = outcome_problem(num, names, timeout * 4)
            return failed(
                name,
                k,
                case.label,
                f"your {spec.forward} failed while the checker computed finite differences of "
                f"it (it calls the forward twice per entry of x, γ and β): "
                f"{why or 'it returned nothing'}",
            )
        fd_errors = [relative_error(g, nv) for g, nv in zip(grads, num.value, strict=True)]
        expected = spec.reference_backward(case.dout, ref_cache)
        if close(grads, list(expected)) and all(verdict(e) == "correct" for e in fd_errors):
            continue
        fd_note = _fd_note(fd_errors)
        mistake = matching_mistake(grads, mistakes, (*case.args, case.eps_value, case.dout))
        if mistake is not None:
            return failed(name, k, case.label, mistake.hint, fd_note, more=mistake.more)
        for g, e, what in zip(grads, expected, ("dx", "dgamma", "dbeta"), strict=True):
            if not close(g, e):
                extra = " (it is zero everywhere)" if not np.any(g) else ""
                return failed(
                    name,
                    k,
                    case.label,
                    f"{what} differs from the expected gradient{extra}",
                    first_difference(g, np.asarray(e, dtype=float)),
                    fd_note,
                    more=DIFFERS_MORE,
                )
        return failed(
            name,
            k,
            case.label,
            "the gradients match the course's but not the finite differences of your forward",
            fd_note,
        )
    return passed(name, len(cases))


def _forward_checker(spec: _Spec, fn, timeout) -> CheckResult:
    return run_check(
        spec.forward, lambda: _check_forward(spec, fn, timeout), BUDGET_FACTOR * timeout
    )


def _backward_checker(spec: _Spec, forward_fn, backward_fn, timeout) -> CheckResult:
    # several calls per case, finite differences included
    return run_check(
        spec.backward,
        lambda: _check_backward(spec, forward_fn, backward_fn, timeout),
        2 * BUDGET_FACTOR * timeout,
    )


# ------------------------------------------------------------------ the checkers
def check_layernorm_forward(fn: Callable, *, timeout: float = DEFAULT_TIMEOUT) -> CheckResult:
    """Check a learner's ``layernorm_forward(x, gamma, beta, eps=1e-5) -> (out, cache)``
    (x (m, d)); never raises."""
    return _forward_checker(LAYERNORM, fn, timeout)


def check_layernorm_backward(
    forward_fn: Callable, backward_fn: Callable, *, timeout: float = DEFAULT_TIMEOUT
) -> CheckResult:
    """Check a learner's ``layernorm_backward(dout, cache) -> (dx, dgamma, dbeta)`` with the
    cache of their ``layernorm_forward``: reference gradients and central differences of
    the learner's forward, random dout; never raises."""
    return _backward_checker(LAYERNORM, forward_fn, backward_fn, timeout)


def check_spatial_batchnorm_forward(
    fn: Callable, *, timeout: float = DEFAULT_TIMEOUT
) -> CheckResult:
    """Check a learner's ``spatial_batchnorm_forward(x, gamma, beta, eps=1e-5) -> (out,
    cache)`` (x (N, C, H, W)); never raises."""
    return _forward_checker(SPATIAL_BATCHNORM, fn, timeout)


def check_spatial_batchnorm_backward(
    forward_fn: Callable, backward_fn: Callable, *, timeout: float = DEFAULT_TIMEOUT
) -> CheckResult:
    """Check a learner's ``spatial_batchnorm_backward(dout, cache) -> (dx, dgamma, dbeta)``
    with the cache of their ``spatial_batchnorm_forward``; never raises."""
    return _backward_checker(SPATIAL_BATCHNORM, forward_fn, backward_fn, timeout)


def check_groupnorm_forward(fn: Callable, *, timeout: float = DEFAULT_TIMEOUT) -> CheckResult:
    """Check a learner's ``groupnorm_forward(x, gamma, beta, groups, eps=1e-5) -> (out,
    cache)`` (x (N, C, H, W), consecutive channels per group); never raises."""
    return _forward_checker(GROUPNORM, fn, timeout)


def check_groupnorm_backward(
    forward_fn: Callable, backward_fn: Callable, *, timeout: float = DEFAULT_TIMEOUT
) -> CheckResult:
    """Check a learner's ``groupnorm_backward(dout, cache) -> (dx, dgamma, dbeta)`` with
    the cache of their ``groupnorm_forward``; never raises."""
    return _backward_checker(GROUPNORM, forward_fn, backward_fn, timeout)
