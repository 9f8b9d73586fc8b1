"""The lesson-04 checker accepts correct layers and names each typical mistake.
That it never raises, whatever the layer does: tests/test_checks_hostile.py."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import checks
from course_lib.network import bn_layer_forward

TIMEOUT = 5.0  # generous: the machine may be busy; only endless loops wait for it


def good_layer(A_prev, W, gamma, beta, eps=1e-5):
    """Written as a learner would: the four steps, then the sigmoid."""
    z = A_prev @ W
    mu = z.mean(axis=0)
    var = ((z - mu) ** 2).mean(axis=0)
    z_tilde = gamma * (z - mu) / np.sqrt(var + eps) + beta
    return 1 / (1 + np.exp(-z_tilde))


def _bn(z, gamma, beta, eps, axis=0, ddof=0):
    mu = z.mean(axis=axis, keepdims=True)
    var = z.var(axis=axis, keepdims=True, ddof=ddof)
    return gamma * (z - mu) / np.sqrt(var + eps) + beta


def sig(z):
    return 1 / (1 + np.exp(-z))


def _check(fn, timeout=TIMEOUT):
    return checks.check_bn_layer_forward(fn, timeout=timeout)


def _assert_rejected(result, *words):
    assert not result, "the checker accepted a wrong function"
    text = str(result).lower()
    for word in words:
        assert word.lower() in text, f"hint lacks {word!r}: {result}"


def test_accepts_the_reference_and_a_learner_solution():
    assert _check(bn_layer_forward)
    result = _check(good_layer)
    assert result and result.cases_run == 5
    assert "passed" in str(result) and "bn_layer_forward" in str(result)
    result.assert_ok()


MUTANTS = {
    "no activation": (
        lambda A, W, g, b, eps=1e-5: _bn(A @ W, g, b, eps),
        ["activation is missing"],
    ),
    "BN after the activation": (
        lambda A, W, g, b, eps=1e-5: _bn(sig(A @ W), g, b, eps),
        ["before the activation"],
    ),
    "no gamma, beta": (
        lambda A, W, g, b, eps=1e-5: sig(_bn(A @ W, 1.0, 0.0, eps)),
        ["γ and β are missing"],
    ),
    "gamma and beta swapped": (
        lambda A, W, g, b, eps=1e-5: sig(_bn(A @ W, b, g, eps)),
        ["swapped"],
    ),
    "per example": (
        lambda A, W, g, b, eps=1e-5: sig(_bn(A @ W, g, b, eps, axis=1)),
        ["wrong axis", "across the examples of the batch"],
    ),
    "unbiased variance": (
        lambda A, W, g, b, eps=1e-5: sig(_bn(A @ W, g, b, eps, ddof=1)),
        ["unbiased variance", "dividing by m"],
    ),
    "eps outside the root": (
        lambda A, W, g, b, eps=1e-5: sig(
            g * (A @ W - (A @ W).mean(0)) / ((A @ W).std(0) + eps) + b
        ),
        ["outside the square root"],
    ),
    "divided by the variance": (
        lambda A, W, g, b, eps=1e-5: sig(
            g * (A @ W - (A @ W).mean(0)) / ((A @ W).var(0) + eps) + b
        ),
        ["standard deviation"],
    ),
    "not centred": (
        lambda A, W, g, b, eps=1e-5: sig(g * (A @ W) / np.sqrt((A @ W).var(0) + eps) + b),
        ["batch mean was not subtracted"],
    ),
    "W transposed (only fits a square W)": (
        lambda A, W, g, b, eps=1e-5: sig(_bn(A @ W.T, g, b, eps)),
        ["W was transposed", "(m, n_prev)"],
    ),
    "normalizes a instead of z": (
        lambda A, W, g, b, eps=1e-5: sig(_bn(A, g, b, eps) @ W),
        ["strictly it is z"],
    ),
    "tanh": (lambda A, W, g, b, eps=1e-5: np.tanh(_bn(A @ W, g, b, eps)), ["used tanh", "sigmoid"]),
    "relu": (
        lambda A, W, g, b, eps=1e-5: np.maximum(_bn(A @ W, g, b, eps), 0),
        ["used relu", "sigmoid"],
    ),
    "fixed eps": (lambda A, W, g, b, eps=1e-5: sig(_bn(A @ W, g, b, 1e-5)), ["eps argument"]),
}


@pytest.mark.parametrize("name", list(MUTANTS))
def test_each_typical_mistake_is_rejected_with_its_hint(name):
    fn, words = MUTANTS[name]
    _assert_rejected(_check(fn), *words)


def test_w_at_a_prev_gets_the_shapes_not_numpys_message():
    def backwards(A, W, g, b, eps=1e-5):
        return sig(_bn(W @ A, g, b, eps))

    result = _check(backwards)
    assert not result and "gufunc" not in result.hint, result.hint
    assert "A_prev is (m, n_prev) and W is (n_prev, n)" in result.hint
    assert "(m, n_prev) @ (n_prev, n)" in result.more_hint


def test_a_bias_added_before_bn_is_harmless_and_accepted():
    """A learner who adds a bias b before BN is not wrong: BN cancels it."""

    def with_bias(A, W, g, b, eps=1e-5):
        return sig(_bn(A @ W + 3.0, g, b, eps))

    assert _check(with_bias)


def test_a_learner_that_prints_still_passes():
    def chatty(A, W, g, b, eps=1e-5):
        print("z shape", (A @ W).shape)
        return good_layer(A, W, g, b, eps)

    assert _check(chatty)


def test_the_reference_rejects_a_batch_of_one_but_the_checker_never_uses_one():
    with pytest.raises(ValueError, match="at least 2"):
        bn_layer_forward(np.ones((1, 3)), np.ones((3, 2)), np.ones(2), np.zeros(2))


def test_calling_the_course_lib_batchnorm_forward_is_refused():
    from course_lib.batchnorm import batchnorm_forward

    def bn_layer_forward(A_prev, W, gamma, beta, eps=1e-5):
        return 1.0 / (1.0 + np.exp(-batchnorm_forward(A_prev @ W, gamma, beta, eps)[0]))

    bn_layer_forward.__module__ = "__main__"  # as if written in the notebook
    result = checks.check_bn_layer_forward(bn_layer_forward)
    assert not result
    assert "batchnorm_forward" in result.hint
