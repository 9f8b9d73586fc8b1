"""The lesson-06 checkers accept correct code written as a learner would, name every
typical mistake (each one written as a learner's function), and never raise."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import batchnorm as bn
from course_lib import checks, norms
from course_lib.checks import _core
from course_lib.checks import norms as cn

TIMEOUT = 5.0


@pytest.fixture(autouse=True)
def _fresh_hint_levels():
    """Every test starts at level 1, as a fresh kernel."""
    _core._last_failure.clear()
    yield
    _core._last_failure.clear()


# ------------------------------------------------------------------ learner-style solutions
def ln_forward(x, gamma, beta, eps=1e-5):
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv_std
    return gamma * x_hat + beta, (x_hat, gamma, inv_std)


def ln_backward(dout, cache):
    x_hat, gamma, inv_std = cache
    dx_hat = dout * gamma
    dx = inv_std * (
        dx_hat - dx_hat.mean(axis=1, keepdims=True)
        - x_hat * (dx_hat * x_hat).mean(axis=1, keepdims=True)
    )  # fmt: skip
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)


def sbn_forward(x, gamma, beta, eps=1e-5):
    """The lesson's way: channels last, one row per (example, position), lesson 03's BN."""
    n, c, h, w = x.shape
    out, cache = bn.batchnorm_forward(x.transpose(0, 2, 3, 1).reshape(-1, c), gamma, beta, eps)
    return out.reshape(n, h, w, c).transpose(0, 3, 1, 2), cache


def sbn_backward(dout, cache):
    n, c, h, w = dout.shape
    dx, dgamma, dbeta = bn.batchnorm_backward(dout.transpose(0, 2, 3, 1).reshape(-1, c), cache)
    return dx.reshape(n, h, w, c).transpose(0, 3, 1, 2), dgamma, dbeta


def gn_forward(x, gamma, beta, groups, eps=1e-5):
    n, c, h, w = x.shape
    xg = x.reshape(n, groups, c // groups, h, w)
    mu = xg.mean(axis=(2, 3, 4), keepdims=True)
    inv_std = 1 / np.sqrt(xg.var(axis=(2, 3, 4), keepdims=True) + eps)
    x_hat = ((xg - mu) * inv_std).reshape(n, c, h, w)
    g, b = gamma.reshape(1, c, 1, 1), beta.reshape(1, c, 1, 1)
    return g * x_hat + b, {"x_hat": x_hat, "inv_std": inv_std, "gamma": g, "groups": groups}


def gn_backward(dout, cache):
    n, c, h, w = dout.shape
    groups = cache["groups"]
    shape = (n, groups, c // groups, h, w)
    dx_hat = (dout * cache["gamma"]).reshape(shape)
    x_hat = cache["x_hat"].reshape(shape)
    axes = (2, 3, 4)
    dx = cache["inv_std"] * (
        dx_hat - dx_hat.mean(axis=axes, keepdims=True)
        - x_hat * (dx_hat * x_hat).mean(axis=axes, keepdims=True)
    )  # fmt: skip
    return dx.reshape(n, c, h, w), (dout * cache["x_hat"]).sum((0, 2, 3)), dout.sum((0, 2, 3))


KINDS = {
    "layernorm": (checks.check_layernorm_forward, checks.check_layernorm_backward),
    "spatial_batchnorm": (
        checks.check_spatial_batchnorm_forward,
        checks.check_spatial_batchnorm_backward,
    ),
    "groupnorm": (checks.check_groupnorm_forward, checks.check_groupnorm_backward),
}
LEARNER = {
    "layernorm": (ln_forward, ln_backward),
    "spatial_batchnorm": (sbn_forward, sbn_backward),
    "groupnorm": (gn_forward, gn_backward),
}


def _rejected(result, *words):
    assert not result, "the checker accepted a wrong function"
    text = str(result)
    for word in words:
        assert word in text, f"hint lacks {word!r}: {result}"


# ------------------------------------------------------------------ accepting correct code
@pytest.mark.parametrize("kind", KINDS)
def test_checkers_accept_learner_solutions_with_their_own_caches(kind):
    check_forward, check_backward = KINDS[kind]
    forward, backward = LEARNER[kind]
    result = check_forward(forward, timeout=TIMEOUT)
    assert result and result.cases_run >= 6, str(result)
    assert check_backward(forward, backward, timeout=TIMEOUT), kind


def test_the_references_pass_and_name_the_exercise():
    assert str(checks.check_groupnorm_forward(norms.groupnorm_forward)).startswith(
        "✔ groupnorm_forward: all 9 checks passed"
    )
    backward = checks.check_layernorm_backward(norms.layernorm_forward, norms.layernorm_backward)
    assert str(backward) == "✔ layernorm_backward: all 6 checks passed."


# ------------------------------------------------------------------ every typical mistake
def _forward_mistakes():
    found = []
    for kind, mistakes in (
        ("layernorm", cn.layernorm_forward_mistakes()),
        ("spatial_batchnorm", cn.spatial_batchnorm_forward_mistakes()),
        ("groupnorm", cn.groupnorm_forward_mistakes()),
    ):
        found += [(kind, k, m) for k, m in enumerate(mistakes)]
    return found


def _backward_mistakes():
    found = []
    for kind, mistakes in (
        ("layernorm", cn.layernorm_backward_mistakes()),
        ("spatial_batchnorm", cn.spatial_batchnorm_backward_mistakes()),
        ("groupnorm", cn.groupnorm_backward_mistakes()),
    ):
        found += [(kind, k, m) for k, m in enumerate(mistakes)]
    return found


FORWARD_MISTAKES = _forward_mistakes()
REFERENCES = {
    "layernorm": norms.layernorm_forward,
    "spatial_batchnorm": norms.spatial_batchnorm_forward,
    "groupnorm": norms.groupnorm_forward,
}
BACKWARD_MISTAKES = _backward_mistakes()


@pytest.mark.parametrize(
    ("kind", "k", "mistake"), FORWARD_MISTAKES, ids=[f"{k}-{i}" for k, i, _ in FORWARD_MISTAKES]
)
def test_each_forward_mistake_gets_its_own_hint_then_its_second_level(kind, k, mistake):
    """The mistake written as a learner's forward: the checker names it (level 1, no
    second level shown), and the same failure again shows the second level."""
    reference = REFERENCES[kind]

    def forward(*args, eps=1e-8 if "default" in mistake.hint else None):
        try:  # a mistake that does not apply to a case (it raises) gives the right answer
            return mistake.produce(*args, eps=None if eps == 1e-8 else eps), None
        except ValueError:
            return reference(*args, 1e-5 if eps is None else eps)[0], None

    check = KINDS[kind][0]
    first = check(forward, timeout=TIMEOUT)
    assert not first and first.hint == mistake.hint, str(first)
    assert mistake.more not in str(first) + first._repr_html_()
    again = check(forward, timeout=TIMEOUT)
    assert again.level == 2 and f"More: {mistake.more}" in str(again)


def _backward_from(produce, reference_backward):
    """A forward (the reference's output, a cache holding the inputs) and a backward
    that computes the mistake from them (the right gradients where it does not apply)."""

    def forward(*args, eps=1e-5):
        out, cache = FORWARDS[len(args)](*args, eps)
        return out, (args, eps, cache)

    def backward(dout, cache):
        args, eps, own = cache
        try:
            return produce(*args, eps, dout)
        except ValueError:
            return reference_backward(dout, own)

    return forward, backward


FORWARDS = {3: None, 4: norms.groupnorm_forward}


@pytest.mark.parametrize(
    ("kind", "k", "mistake"), BACKWARD_MISTAKES, ids=[f"{k}-{i}" for k, i, _ in BACKWARD_MISTAKES]
)
def test_each_backward_mistake_gets_its_own_hint(kind, k, mistake, monkeypatch):
    reference = {"layernorm": norms.layernorm_forward}.get(kind, norms.spatial_batchnorm_forward)
    monkeypatch.setitem(FORWARDS, 3, reference)
    backward_reference = {
        "layernorm": norms.layernorm_backward,
        "spatial_batchnorm": norms.spatial_batchnorm_backward,
        "groupnorm": norms.groupnorm_backward,
    }[kind]
    forward, backward = _backward_from(mistake.produce, backward_reference)
    result = KINDS[kind][1](forward, backward, timeout=TIMEOUT)
    assert not result and result.hint == mistake.hint, str(result)
    assert any("gradient check against central differences" in d for d in result.details)
    assert mistake.more not in str(result)


# ------------------------------------------------------------------ mistakes as learners make them
def test_spatial_batchnorm_reshaped_without_the_transpose():
    def forward(x, gamma, beta, eps=1e-5):
        n, c, h, w = x.shape
        out, cache = bn.batchnorm_forward(x.reshape(-1, c), gamma, beta, eps)
        return out.reshape(n, c, h, w), cache

    _rejected(
        checks.check_spatial_batchnorm_forward(forward, timeout=TIMEOUT),
        "without moving the channels last first",
    )


def test_spatial_batchnorm_with_per_position_statistics():
    def forward(x, gamma, beta, eps=1e-5):
        mu, var = x.mean(axis=0), x.var(axis=0)
        x_hat = (x - mu) / np.sqrt(var + eps)
        return gamma[:, None, None] * x_hat + beta[:, None, None], None

    _rejected(checks.check_spatial_batchnorm_forward(forward, timeout=TIMEOUT), "per-position")


def test_spatial_batchnorm_with_gamma_on_the_wrong_axis():
    def forward(x, gamma, beta, eps=1e-5):
        mu = x.mean(axis=(0, 2, 3), keepdims=True)
        var = x.var(axis=(0, 2, 3), keepdims=True)
        return gamma * (x - mu) / np.sqrt(var + eps) + beta, None

    result = checks.check_spatial_batchnorm_forward(forward, timeout=TIMEOUT)
    # (C,) only broadcasts against W when W = C: the broadcasting error comes first
    assert not result and ("could not be broadcast" in result.hint or "last axis" in result.hint)


def test_spatial_batchnorm_backward_with_dgamma_not_summed_over_h_and_w():
    def backward(dout, cache):
        dx, _, _ = sbn_backward(dout, cache)
        x_hat = dout * 0 + 1  # any (N, C, H, W) array: the point is the shape
        return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)

    _rejected(
        checks.check_spatial_batchnorm_backward(sbn_forward, backward, timeout=TIMEOUT),
        "dgamma has shape",
        "sums over N, H and W",
    )


def test_groupnorm_with_interleaved_groups():
    def forward(x, gamma, beta, groups, eps=1e-5):
        n, c, h, w = x.shape
        xg = x.reshape(n, c // groups, groups, h, w)
        mu = xg.mean(axis=(1, 3, 4), keepdims=True)
        var = xg.var(axis=(1, 3, 4), keepdims=True)
        x_hat = ((xg - mu) / np.sqrt(var + eps)).reshape(n, c, h, w)
        return gamma[:, None, None] * x_hat + beta[:, None, None], None

    _rejected(checks.check_groupnorm_forward(forward, timeout=TIMEOUT), "interleaved")


def test_groupnorm_with_the_unbiased_variance():
    def forward(x, gamma, beta, groups, eps=1e-5):
        n, c, h, w = x.shape
        xg = x.reshape(n, groups, -1)
        x_hat = (xg - xg.mean(2, keepdims=True)) / np.sqrt(xg.var(2, ddof=1, keepdims=True) + eps)
        return gamma[:, None, None] * x_hat.reshape(x.shape) + beta[:, None, None], None

    _rejected(checks.check_groupnorm_forward(forward, timeout=TIMEOUT), "unbiased variance")


def test_layernorm_with_batch_statistics():
    def forward(x, gamma, beta, eps=1e-5):
        return gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + eps) + beta, None

    _rejected(checks.check_layernorm_forward(forward, timeout=TIMEOUT), "which is Batch Norm")


def test_layernorm_with_eps_outside_the_root():
    def forward(x, gamma, beta, eps=1e-5):
        mu, sd = x.mean(1, keepdims=True), x.std(1, keepdims=True)
        return gamma * (x - mu) / (sd + eps) + beta, None

    _rejected(checks.check_layernorm_forward(forward, timeout=TIMEOUT), "outside the square root")


def test_layernorm_backward_with_batch_norms_shortcut():
    def backward(dout, cache):
        x_hat, gamma, inv_std = cache
        d = dout
        dx = (
            gamma
            * inv_std
            * (d - d.mean(1, keepdims=True) - x_hat * (d * x_hat).mean(1, keepdims=True))
        )
        return dx, (dout * x_hat).sum(0), dout.sum(0)

    _rejected(
        checks.check_layernorm_backward(ln_forward, backward, timeout=TIMEOUT),
        "γ was taken out of the sums",
    )


def test_a_backward_checker_blames_a_wrong_forward_first():
    def forward(x, gamma, beta, groups, eps=1e-5):
        out, cache = gn_forward(x, gamma, beta, groups, eps)
        return out + 1.0, cache

    _rejected(
        checks.check_groupnorm_backward(forward, gn_backward, timeout=TIMEOUT),
        "groupnorm_forward must work first",
    )


def test_a_constant_group_without_eps_is_explained():
    def forward(x, gamma, beta, groups, eps=1e-5):
        n, c, h, w = x.shape
        xg = x.reshape(n, groups, -1)
        x_hat = (xg - xg.mean(2, keepdims=True)) / xg.std(2, keepdims=True)
        return gamma[:, None, None] * x_hat.reshape(x.shape) + beta[:, None, None], None

    _rejected(checks.check_groupnorm_forward(forward, timeout=TIMEOUT), "ε")


def test_the_lesson_03_functions_reused_in_the_checkers_child_are_ready():
    """The spatial BN exercise calls lesson 03's compiled backward in the checker's
    child processes: the checker loads it first, so no call hits the time limit."""
    result = checks.check_spatial_batchnorm_backward(sbn_forward, sbn_backward, timeout=2.0)
    assert result, str(result)
