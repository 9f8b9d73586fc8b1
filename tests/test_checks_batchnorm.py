"""The lesson-03 checkers accept correct code, name each typical mistake, never raise."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import checks
from course_lib.batchnorm import batchnorm_backward, batchnorm_backward_staged, batchnorm_forward

TIMEOUT = 5.0  # generous: the machine may be busy; only endless loops wait for it
LOOP_TIMEOUT = 0.5


# ------------------------------------------------------------------ learner-style solutions
def good_forward(z, gamma, beta, eps=1e-5):
    """Written as a learner would, with a cache of their own design (a dict)."""
    mu = z.mean(axis=0)
    var = ((z - mu) ** 2).mean(axis=0)
    x_hat = (z - mu) / np.sqrt(var + eps)
    return gamma * x_hat + beta, {"x_hat": x_hat, "gamma": gamma, "var": var, "eps": eps}


def good_backward(dout, cache):
    x_hat, gamma = cache["x_hat"], cache["gamma"]
    m = dout.shape[0]
    dx_hat = dout * gamma
    dz = (
        (1 / m)
        / np.sqrt(cache["var"] + cache["eps"])
        * (m * dx_hat - dx_hat.sum(0) - x_hat * (dx_hat * x_hat).sum(0))
    )
    return dz, (dout * x_hat).sum(0), dout.sum(0)


def _stats(z, axis=0, **kw):
    return z.mean(axis=axis, **kw), z.var(axis=axis, **kw)


def _forward_check(fn, timeout=TIMEOUT):
    return checks.check_batchnorm_forward(fn, timeout=timeout)


def _backward_check(fwd, bwd, timeout=TIMEOUT):
    return checks.check_batchnorm_backward(fwd, bwd, timeout=timeout)


def _assert_rejected(result, *words):
    assert not result, "the checker accepted a wrong function"
    text = str(result).lower()
    for word in words:
        assert word.lower() in text, f"hint lacks {word!r}: {result}"


# ------------------------------------------------------------------ accepting correct code
def test_forward_checker_accepts_the_reference_and_a_learner_solution():
    assert _forward_check(batchnorm_forward)
    result = _forward_check(good_forward)
    assert result
    assert result.cases_run >= 5 and "passed" in str(result)
    assert result.assert_ok() is result


def test_backward_checker_accepts_correct_backwards_with_their_own_cache():
    assert _backward_check(good_forward, good_backward)
    assert _backward_check(batchnorm_forward, batchnorm_backward)
    assert _backward_check(batchnorm_forward, batchnorm_backward_staged)


def test_backward_checker_feeds_an_unpicklable_learner_cache():
    def forward(z, gamma, beta, eps=1e-5):
        out, cache = good_forward(z, gamma, beta, eps)
        cache["f"] = lambda v: v  # a cache may hold anything
        return out, cache

    assert _forward_check(forward)
    assert _backward_check(forward, good_backward)


def test_results_assert_ok_and_display():
    bad = _forward_check(lambda z, gamma, beta, eps=1e-5: (z, None))
    with pytest.raises(AssertionError, match="batchnorm_forward"):
        bad.assert_ok()
    assert "Hint" in bad._repr_html_()


# ------------------------------------------------------------------ forward mutants
def test_forward_eps_outside_the_root():
    def fn(z, gamma, beta, eps=1e-5):
        mu, var = _stats(z)
        return gamma * (z - mu) / (np.sqrt(var) + eps) + beta, None

    _assert_rejected(_forward_check(fn), "ε is outside the square root")


def test_forward_no_eps_names_the_constant_feature():
    def fn(z, gamma, beta, eps=1e-5):
        mu, var = _stats(z)
        return gamma * (z - mu) / np.sqrt(var) + beta, None

    _assert_rejected(_forward_check(fn), "ε is missing", "constant feature")


def test_forward_division_by_zero_on_a_constant_feature_only():
    def fn(z, gamma, beta, eps=1e-5):
        mu, var = _stats(z)
        # eps added only where the variance is large: a constant feature divides 0 by 0
        with np.errstate(all="ignore"):
            x_hat = (z - mu) / np.sqrt(np.where(var > 0, var + eps, var))
        return gamma * x_hat + beta, None

    _assert_rejected(_forward_check(fn), "constant feature", "NaN", "inside the square root")


def test_forward_unbiased_variance():
    def fn(z, gamma, beta, eps=1e-5):
        mu, var = z.mean(0), z.var(0, ddof=1)
        return gamma * (z - mu) / np.sqrt(var + eps) + beta, None

    _assert_rejected(_forward_check(fn), "unbiased variance", "dividing by m − 1")


def test_forward_wrong_axis_is_layer_norm():
    def fn(z, gamma, beta, eps=1e-5):
        mu, var = _stats(z, axis=1, keepdims=True)
        return gamma * (z - mu) / np.sqrt(var + eps) + beta, None

    _assert_rejected(_forward_check(fn), "wrong axis", "Layer Normalization")


def test_forward_wrong_axis_without_keepdims_fails_with_an_axis_hint():
    def fn(z, gamma, beta, eps=1e-5):
        mu, var = _stats(z, axis=1)
        return gamma * (z - mu) / np.sqrt(var + eps) + beta, None

    _assert_rejected(_forward_check(fn), "axis=0")


def test_forward_statistics_of_the_whole_array():
    def fn(z, gamma, beta, eps=1e-5):
        return gamma * (z - z.mean()) / np.sqrt(z.var() + eps) + beta, None

    _assert_rejected(_forward_check(fn), "whole batch at once")


def test_forward_gamma_beta_swapped():
    def fn(z, gamma, beta, eps=1e-5):
        mu, var = _stats(z)
        return beta * (z - mu) / np.sqrt(var + eps) + gamma, None

    _assert_rejected(_forward_check(fn), "γ and β are swapped")


def test_forward_without_scale_and_shift():
    def fn(z, gamma, beta, eps=1e-5):
        mu, var = _stats(z)
        return (z - mu) / np.sqrt(var + eps), None

    _assert_rejected(_forward_check(fn), "normalized value x̂", "scales it by γ and shifts it by β")


def test_forward_divided_by_the_variance():
    def fn(z, gamma, beta, eps=1e-5):
        mu, var = _stats(z)
        return gamma * (z - mu) / (var + eps) + beta, None

    _assert_rejected(_forward_check(fn), "variance", "standard deviation")


def test_forward_mean_not_subtracted():
    def fn(z, gamma, beta, eps=1e-5):
        _, var = _stats(z)
        return gamma * z / np.sqrt(var + eps) + beta, None

    _assert_rejected(_forward_check(fn), "mean was not subtracted")


def test_forward_default_eps_changed():
    def fn(z, gamma, beta, eps=1e-8):
        mu, var = _stats(z)
        return gamma * (z - mu) / np.sqrt(var + eps) + beta, None

    _assert_rejected(_forward_check(fn), "default of eps")


# ------------------------------------------------------------------ backward mutants
def _mutant(make_dz=None, *, grads=None):
    """A backward built from good_backward with one thing changed."""

    def backward(dout, cache):
        dz, dgamma, dbeta = good_backward(dout, cache)
        x_hat, gamma = cache["x_hat"], cache["gamma"]
        r = 1 / np.sqrt(cache["var"] + cache["eps"])
        m = dout.shape[0]
        if make_dz is not None:
            dz = make_dz(dout, x_hat, gamma, r, m, dgamma, dbeta, cache)
        if grads is not None:
            dgamma, dbeta = grads(dout, x_hat, dgamma, dbeta)
        return dz, dgamma, dbeta

    return backward


BACKWARD_MUTANTS = {
    "mean term missing": (
        _mutant(lambda d, xh, g, r, m, dg, db, c: g * r * (d - xh * dg / m)),
        ["the mean path is missing", "node (1)"],
    ),
    "variance term missing": (
        _mutant(lambda d, xh, g, r, m, dg, db, c: g * r * (d - db / m)),
        ["the variance path is missing", "nodes (6) to (3)"],
    ),
    "mu and var treated as constants": (
        _mutant(lambda d, xh, g, r, m, dg, db, c: g * r * d),
        ["treated as constants"],
    ),
    "dgamma dbeta swapped": (
        _mutant(grads=lambda d, xh, dg, db: (db, dg)),
        ["dγ and dβ are swapped"],
    ),
    "gamma missing in dz": (
        _mutant(lambda d, xh, g, r, m, dg, db, c: r * (d - db / m - xh * dg / m)),
        ["γ is missing"],
    ),
    "1/m missing": (
        _mutant(lambda d, xh, g, r, m, dg, db, c: g * r * (m * d - db - xh * dg)),
        ["m times too large"],
    ),
    "sign of the variance term": (
        _mutant(lambda d, xh, g, r, m, dg, db, c: g * r * (d - db / m + xh * dg / m)),
        ["sign error"],
    ),
    "eps missing in the backward": (
        _mutant(
            lambda d, xh, g, r, m, dg, db, c: g / np.sqrt(c["var"]) * (d - db / m - xh * dg / m)
        ),
        ["ε is missing in the backward"],
    ),
    "dgamma and dbeta as means": (
        _mutant(grads=lambda d, xh, dg, db: (dg / d.shape[0], db / d.shape[0])),
        ["averages over the batch", "sums, not means"],
    ),
    "dgamma not summed": (
        _mutant(grads=lambda d, xh, dg, db: (d * xh, db)),
        ["sum over the examples"],
    ),
}


@pytest.mark.parametrize("name", sorted(BACKWARD_MUTANTS))
def test_backward_mutant_is_rejected_with_its_hint(name):
    backward, words = BACKWARD_MUTANTS[name]
    _assert_rejected(_backward_check(good_forward, backward), *words)


def test_backward_fd_relative_errors_are_reported_on_failure():
    backward, _ = BACKWARD_MUTANTS["mean term missing"]
    result = _backward_check(good_forward, backward)
    note = [d for d in result.details if d.startswith("gradient check against central")]
    assert note and "a bug" in note[0] and "dγ below 1e-07: correct" in note[0], result
    assert "(below 1e-07: correct; above 1e-04: a bug)" in note[0]


def test_backward_with_dgamma_computed_from_z():
    def forward(z, gamma, beta, eps=1e-5):
        out, cache = good_forward(z, gamma, beta, eps)
        cache["z"] = z
        return out, cache

    def backward(dout, cache):
        dz, _, dbeta = good_backward(dout, cache)
        return dz, (dout * cache["z"]).sum(0), dbeta

    _assert_rejected(_backward_check(forward, backward), "not the input z")


def test_backward_nan_on_a_constant_feature_is_explained():
    def backward(dout, cache):
        # eps left out exactly where the variance is 0: 1/sqrt(0) = inf, then NaN
        var, eps = cache["var"], cache["eps"]
        with np.errstate(all="ignore"):
            cache = dict(cache, var=np.where(var > 0, var, 0.0), eps=np.where(var > 0, eps, 0.0))
            return good_backward(dout, cache)

    _assert_rejected(
        _backward_check(good_forward, backward), "constant feature", "inside the square root"
    )


def test_backward_blames_a_wrong_forward_first():
    def forward(z, gamma, beta, eps=1e-5):
        mu, var = z.mean(0), z.var(0, ddof=1)
        x_hat = (z - mu) / np.sqrt(var + eps)
        return gamma * x_hat + beta, {"x_hat": x_hat, "gamma": gamma, "var": var, "eps": eps}

    _assert_rejected(_backward_check(forward, good_backward), "batchnorm_forward must work first")


def test_backward_with_a_forward_whose_cache_the_backward_cannot_use():
    def forward(z, gamma, beta, eps=1e-5):
        return good_forward(z, gamma, beta, eps)[0], None

    _assert_rejected(_backward_check(forward, good_backward), "raised", "TypeError")


def test_a_wrong_keyword_names_the_keyword_not_a_line_of_the_checker():
    def forward(z, gamma, beta, epsilon=1e-5):  # the exercise's def line says eps
        return good_forward(z, gamma, beta, epsilon)

    result = _forward_check(forward)
    assert not result and "(line" not in result.hint, result.hint
    assert "the checker passes the keyword argument eps=..." in result.hint
    assert "batchnorm_forward(z, gamma, beta, eps=...)" in result.hint
    assert "unexpected keyword argument 'eps'" in result.more_hint


def test_an_error_in_the_learners_code_reports_the_learners_line():
    def forward(z, gamma, beta, eps=1e-5):
        mu = z.mean(axis=0)
        return gamma * (z - mu) / undefined_name + beta, None  # noqa: F821

    result = _forward_check(forward)
    line = forward.__code__.co_firstlineno + 2
    assert f"NameError: name 'undefined_name' is not defined (line {line})" in result.hint


# ------------------------------------------------------------------ hostile functions
def _raises(*args, **kwargs):
    raise RuntimeError("boom")


def _returns_none(*args, **kwargs):
    return None


def _loops(*args, **kwargs):
    while True:
        pass


def _exits(*args, **kwargs):
    import os

    os._exit(3)


HOSTILE_FORWARDS = {
    "raises": (_raises, "raised RuntimeError"),
    "not implemented": (
        lambda z, gamma, beta, eps=1e-5: (_ for _ in ()).throw(NotImplementedError()),
        "not written yet",
    ),
    "returns None": (_returns_none, "returned None"),
    "returns only out": (lambda z, gamma, beta, eps=1e-5: z * 0.0, "the pair (out, cache)"),
    "returns a list": (lambda z, gamma, beta, eps=1e-5: [1, 2, 3], "the pair (out, cache)"),
    "out is a list": (lambda z, gamma, beta, eps=1e-5: ([1.0, 2.0], None), "out has shape"),
    "out is a string": (lambda z, gamma, beta, eps=1e-5: ("out", None), "out is"),
    "wrong shape": (lambda z, gamma, beta, eps=1e-5: (z.T, None), "shape"),
    "NaN": (lambda z, gamma, beta, eps=1e-5: (z * np.nan, None), "NaN"),
    "mutates z": (
        lambda z, gamma, beta, eps=1e-5: (z.__isub__(z.mean(0)), None),
        "modified its input z",
    ),
    "loops forever": (_loops, "did not return"),
    "exits the process": (_exits, "ended the process"),
    "returns a generator": (lambda z, gamma, beta, eps=1e-5: (x for x in z), "(out, cache)"),
    "not a function": (42, "pass your function"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_FORWARDS))
def test_forward_checker_never_raises_on_hostile_functions(name):
    fn, words = HOSTILE_FORWARDS[name]
    _assert_rejected(_forward_check(fn, timeout=LOOP_TIMEOUT if fn is _loops else TIMEOUT), words)


def test_forward_checker_tolerates_printing():
    def fn(z, gamma, beta, eps=1e-5):
        print("debug", z.shape)
        return good_forward(z, gamma, beta, eps)

    assert _forward_check(fn)


HOSTILE_BACKWARDS = {
    "raises": (_raises, "raised RuntimeError"),
    "returns None": (_returns_none, "returned None"),
    "returns 2 values": (lambda dout, cache: [dout, dout.sum(0)], "return 3 values"),
    "returns a string": (lambda dout, cache: "dz", "return 3 values"),
    "wrong dz shape": (
        lambda dout, cache: (dout.T, dout.sum(0), dout.sum(0)),
        "dz has shape",
    ),
    "NaN": (
        lambda dout, cache: tuple(g * np.nan for g in good_backward(dout, cache)),
        "NaN",
    ),
    "mutates dout": (
        lambda dout, cache: good_backward(dout.__imul__(2.0), cache),
        "modified its input dout",
    ),
    "loops forever": (_loops, "did not return"),
    "exits the process": (_exits, "ended the process"),
    "zeros": (
        lambda dout, cache: (np.zeros_like(dout), *good_backward(dout, cache)[1:]),
        "zero everywhere",
    ),
    "not a function": (None, "must be a function"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_BACKWARDS))
def test_backward_checker_never_raises_on_hostile_functions(name):
    fn, words = HOSTILE_BACKWARDS[name]
    timeout = LOOP_TIMEOUT if fn is _loops else TIMEOUT
    _assert_rejected(_backward_check(good_forward, fn, timeout=timeout), words)


@pytest.mark.parametrize("name", ["raises", "returns None", "loops forever", "NaN"])
def test_backward_checker_never_raises_on_hostile_forwards(name):
    fn, _ = HOSTILE_FORWARDS[name]
    timeout = LOOP_TIMEOUT if fn is _loops else TIMEOUT
    _assert_rejected(
        _backward_check(fn, good_backward, timeout=timeout), "batchnorm_forward must work first"
    )
