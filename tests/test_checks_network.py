"""The lesson-04 checker accepts correct layers and names each typical mistake.
That it never raises, whatever the layer does: tests/test_checks_hostile.py."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import batchnorm as bn
from course_lib import checks
from course_lib.checks import network as check_network
from course_lib.network import bn_layer_forward, bn_train_step, softmax

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


# ================================================================== bn_train_step
def learner_step(params, running, X, y, lr, eps=1e-5, running_beta=0.9):
    """Written as a learner would, with lesson 03's pieces (here course_lib's)."""
    L = len([k for k in params if k.startswith("W")])
    m = X.shape[0]
    a, caches, new_running = X, [], {}
    for l in range(1, L):
        z = a @ params[f"W{l}"]
        z_tilde, cache = bn.batchnorm_forward(z, params[f"gamma{l}"], params[f"beta{l}"], eps)
        new_running[f"mean{l}"] = running_beta * running[f"mean{l}"] + (1 - running_beta) * z.mean(
            axis=0
        )
        new_running[f"var{l}"] = running_beta * running[f"var{l}"] + (1 - running_beta) * z.var(
            axis=0, ddof=1
        )
        a_next = sig(z_tilde)
        caches.append((a, cache, a_next))
        a = a_next
    p = softmax(a @ params[f"W{L}"] + params[f"b{L}"])
    loss = -np.mean(np.log(p[np.arange(m), y]))
    dlogits = p.copy()
    dlogits[np.arange(m), y] -= 1
    dlogits /= m
    grads = {f"W{L}": a.T @ dlogits, f"b{L}": dlogits.sum(axis=0)}
    da = dlogits @ params[f"W{L}"].T
    for l in range(L - 1, 0, -1):
        a_prev, cache, a_l = caches[l - 1]
        dz, grads[f"gamma{l}"], grads[f"beta{l}"] = bn.batchnorm_backward(
            da * a_l * (1 - a_l), cache
        )
        grads[f"W{l}"] = a_prev.T @ dz
        da = dz @ params[f"W{l}"].T
    return loss, {k: v - lr * grads[k] for k, v in params.items()}, new_running


def _as_learner(mistake):
    """A learner's function (dicts in, dicts out) that makes one typical mistake."""

    def step(params, running, X, y, lr, eps=1e-5, running_beta=0.9):
        loss, p, r = mistake.produce(params, running, X, y, lr, eps, running_beta)
        L = len(params) // 3 + 1
        names, rnames = check_network._param_names(L), check_network._running_names(L)
        return loss, dict(zip(names, p, strict=True)), dict(zip(rnames, r, strict=True))

    return step


def _step_check(fn, timeout=TIMEOUT):
    return checks.check_bn_train_step(fn, timeout=timeout)


def test_train_step_accepts_the_reference_and_a_learner_solution():
    assert _step_check(bn_train_step)
    result = _step_check(learner_step)
    assert result and result.cases_run == 4  # three small networks and the training
    result.assert_ok()


def test_the_mistakes_variant_without_a_mistake_is_the_reference():
    for case in check_network._step_cases():
        args = (case.params, case.running, case.X, case.y, case.lr)
        loss, p, r = check_network._step_variant(*args, **case.kwargs)
        ref_loss, ref_p, ref_r = bn_train_step(*args, **case.kwargs)
        assert loss == pytest.approx(ref_loss)
        for got, name in zip(p, check_network._param_names(case.L), strict=True):
            np.testing.assert_allclose(got, ref_p[name], rtol=1e-12, atol=1e-14)
        for got, name in zip(r, check_network._running_names(case.L), strict=True):
            np.testing.assert_allclose(got, ref_r[name], rtol=1e-12, atol=1e-14)


STEP_MISTAKES = check_network._train_step_mistakes()


@pytest.mark.parametrize("k", range(len(STEP_MISTAKES)), ids=lambda k: f"mistake{k}")
def test_each_typical_train_step_mistake_is_named(k):
    mistake = STEP_MISTAKES[k]
    result = _step_check(_as_learner(mistake))
    assert not result
    assert result.hint == mistake.hint, str(result)
    assert result.more_hint == mistake.more and mistake.more


def test_every_train_step_mistake_differs_from_the_right_step_on_the_first_case():
    case = check_network._step_cases()[0]
    args = (case.params, case.running, case.X, case.y, case.lr)
    right = check_network._step_variant(*args)
    for mistake in STEP_MISTAKES:
        assert check_network._step_differences(mistake.produce(*args), right, case), mistake.hint


def test_level_one_train_step_hints_hold_no_line_of_the_solution():
    """The first feedback names the mistake in words: no code of the solution in it."""
    import inspect

    solution = [
        " ".join(line.split())
        for line in inspect.getsource(learner_step).splitlines()[2:]
        if len(line.strip()) > 12
    ]
    case = check_network._step_cases()[1]
    hints = [m.hint for m in STEP_MISTAKES]
    hints += [
        check_network._differs_hint([(name, 0.5)], case.L)[0]
        for name in ("loss", "W2", "W1", "mean1")
    ]
    hints += [check_network._step_error_hint("KeyError: 'b1' (line 3)", case)[0]]
    for hint in hints:
        for line in solution:
            assert line not in hint, (line, hint)
        for code in ("@", "np.", "axis=", "ddof", "**", "+=", ".T", "= "):
            assert code not in hint, (code, hint)


def test_a_hidden_bias_gets_its_own_hint():
    def with_bias(params, running, X, y, lr, eps=1e-5, running_beta=0.9):
        b1 = params["b1"]  # a bias before BN, as without BN
        return learner_step(params, running, X, y, lr + 0 * b1.sum(), eps, running_beta)

    result = _step_check(with_bias)
    assert not result and "no bias" in result.hint and "b1" in result.hint


def test_modifying_the_params_dict_is_named():
    def in_place(params, running, X, y, lr, eps=1e-5, running_beta=0.9):
        loss, new, r = learner_step(params, running, X, y, lr, eps, running_beta)
        for k in params:
            params[k] -= params[k] - new[k]  # writes into the caller's arrays
        return loss, params, r

    result = _step_check(in_place)
    assert not result and "modified its input params" in result.hint
    assert "new_params" in result.more_hint


def test_a_wrong_return_structure_is_named():
    def two_values(params, running, X, y, lr, eps=1e-5, running_beta=0.9):
        loss, p, _ = learner_step(params, running, X, y, lr, eps, running_beta)
        return loss, p

    def missing_key(params, running, X, y, lr, eps=1e-5, running_beta=0.9):
        loss, p, r = learner_step(params, running, X, y, lr, eps, running_beta)
        p.pop("gamma1")
        return loss, p, r

    assert "three values" in _step_check(two_values).hint
    assert "'gamma1'" in _step_check(missing_key).hint


def test_an_unknown_wrong_step_gets_the_quantity_that_differs():
    def wrong_output_gradient(params, running, X, y, lr, eps=1e-5, running_beta=0.9):
        loss, p, r = learner_step(params, running, X, y, lr, eps, running_beta)
        L = len(params) // 3 + 1
        p[f"W{L}"] = p[f"W{L}"] * 1.01
        return loss, p, r

    result = _step_check(wrong_output_gradient)
    assert not result and "output layer" in result.hint and "relative error" in result.hint


def test_a_step_too_slow_to_train_is_stopped_with_a_hint():
    import time

    def slow(params, running, X, y, lr, eps=1e-5, running_beta=0.9):
        time.sleep(0.05)
        return learner_step(params, running, X, y, lr, eps, running_beta)

    result = _step_check(slow, timeout=1.0)  # 150 training steps need 7.5 s: over the 4 s
    assert not result and "training" in result.case
    assert "time" in result.hint


def test_calling_the_course_lib_step_is_refused():
    from course_lib.network import bn_train_step as reference

    def bn_train_step(params, running, X, y, lr, eps=1e-5, running_beta=0.9):
        return reference(params, running, X, y, lr, eps, running_beta)

    bn_train_step.__module__ = "__main__"  # as if written in the notebook
    result = checks.check_bn_train_step(bn_train_step)
    assert not result and "bn_train_step" in result.hint
