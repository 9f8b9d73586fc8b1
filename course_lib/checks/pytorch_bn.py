"""Checkers for lesson 07: ``train_and_predict`` (the broken script, fixed) and
``convert_bn_state`` (momentum and variance between the paper, PyTorch and Keras).

``check_train_and_predict`` judges a script by the predictions it produces: it runs the
learner's function on small data sets and compares its class probabilities with those
of the fixed script. When they differ, it finds which of the planted problems give the
same predictions and names one of them. It needs PyTorch (and says so when it is
missing); importing this module does not import PyTorch. Both checkers never raise.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Callable, Iterator

import numpy as np

from .. import pytorch_bn as _ref
from ._core import (
    BUDGET_FACTOR,
    DEFAULT_TIMEOUT,
    Case,
    CheckResult,
    Mistake,
    call_safely,
    check_against_reference,
    describe_value,
    failed,
    first_difference,
    matching_mistake,
    outcome_problem,
    passed,
    printed_details,
    returned_none_hint,
    run_check,
    to_array,
)

# ------------------------------------------------------------------ train_and_predict
SCRIPT = "train_and_predict"
_SCRIPT_ARGS = ("your function", "X_train", "y_train", "X_new", "y_new", "X_test")
_ONE_ROW = "Expected more than 1 value per channel when training"

# What each planted problem is, in plain words (level 1), and more concretely (level 2).
_BUG_HINTS = {
    "keras_momentum": (
        "the running averages are not the notes' β = 0.9: PyTorch's `momentum` is the weight "
        "of the new batch, the opposite of Keras's momentum and of the notes' β",
        "β = 0.9 is the weight of the old value, so PyTorch needs momentum = 1 − β = 0.1 "
        "in every BatchNorm1d (momentum=0.9 keeps 90 % of the newest batch)",
    ),
    "last_batch": (
        "the last, incomplete mini-batch of an epoch is still used: the specification says "
        "to skip it (and a last batch of one row makes BatchNorm fail in training mode)",
        "let the batches stop where the full batches of 16 end: the range of start rows "
        "must end at len(X) - len(X) % 16",
    ),
    "frozen_bn_updates": (
        "the frozen body is not frozen: requires_grad=False stops its weights, γ and β, but "
        "its BatchNorm still runs in training mode, normalizes with batch statistics and "
        "updates its running statistics with the new data",
        "put the body in inference mode for the fine-tuning (body.eval()) after each "
        "model.train(), which switches every layer back to training mode",
    ),
    "train_mode_predictions": (
        "the predictions are made in training mode: each chunk of test rows is normalized "
        "with its own statistics, so a row's probabilities depend on its neighbours. "
        "torch.no_grad() only turns gradients off; it does not change the mode",
        "call model.eval() before predicting (and keep torch.no_grad(), which saves memory)",
    ),
}


def _bug_mistakes() -> list[Mistake]:
    """One Mistake per non-empty set of planted problems left in the script, smaller
    sets first; its hint names the first of them, in the order the script runs them."""
    mistakes = []
    for k in range(1, len(_ref.BUGS) + 1):
        for bugs in itertools.combinations(_ref.BUGS, k):
            first, more = _BUG_HINTS[bugs[0]]
            if k > 1:
                first = (
                    f"the predictions are those of the script with at least {k} of its "
                    f"problems left. One: {first}"
                )

            def produce(*args, _bugs=bugs, **kwargs):
                return _ref.broken_train_and_predict(*args, bugs=_bugs, **kwargs)

            mistakes.append(Mistake(first, produce, more=more))
    return mistakes


def _blobs(rng, m: int, n: int, classes: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """m rows of n features around one centre per class (every class present)."""
    centres = np.random.default_rng(7).normal(0.0, 2.0, (classes, n))
    y = np.arange(m) % classes
    rng.shuffle(y)
    X = centres[y] + rng.normal(0.0, 1.0, (m, n)) + shift
    return X, y.astype(np.int64)


def _script_cases() -> list[Case]:
    rng = np.random.default_rng(70)

    def case(label, m_train, m_new, m_test, *, shift=0.0, sort_test=False, seed=None):
        X, y = _blobs(rng, m_train, 6, 3)
        Xn, yn = _blobs(rng, m_new, 6, 3, shift=shift)
        Xt, yt = _blobs(rng, m_test, 6, 3)
        if sort_test:
            order = np.argsort(yt, kind="stable")
            Xt = Xt[order]
        kwargs = {} if seed is None else {"seed": seed}
        return Case(label, (X, y, Xn, yn, Xt), kwargs)

    return [
        case(
            "49 training rows (3 batches of 16 and 1 row left over), 20 new rows, 30 test rows",
            49,
            20,
            30,
        ),
        case(
            "53 training rows (5 left over), new rows from a shifted distribution, "
            "a test set sorted by class, seed=3",
            53,
            36,
            40,
            shift=1.5,
            sort_test=True,
            seed=3,
        ),
        case(
            "48 training rows (no row left over), 32 new rows, 100 test rows sorted by class "
            "(two chunks of 64 and 36)",
            48,
            32,
            100,
            sort_test=True,
        ),
    ]


def _one_thread(fn: Callable, *args, **kwargs):
    """Run the learner's script in the checker's child process with PyTorch on one thread
    (a forked child must not start a thread pool its parent already started)."""
    import torch

    torch.set_num_threads(1)
    return fn(*args, **kwargs)


@contextlib.contextmanager
def _torch_on_one_thread() -> Iterator[None]:
    """PyTorch on one thread inside the block (restored after): the reference runs as the
    learner's script does in the child, and a busy machine does not stall a thread pool."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _warm_up_torch() -> None:
    """Import PyTorch and what an optimizer's first step loads (seconds, once per process)
    here, so that every forked child finds them loaded."""
    import torch

    p = torch.zeros(1, requires_grad=True)
    (p * p).sum().backward()
    torch.optim.SGD([p], lr=0.1).step()


def _ready() -> str | None:
    """Load PyTorch before the time budget of the check starts (its first import takes
    seconds); None when it is ready, else why not. Never raises."""
    if not _ref.torch_available():
        return _ref.TORCH_MISSING
    try:
        with _torch_on_one_thread():
            _warm_up_torch()
    except Exception as exc:  # noqa: BLE001 - a broken installation: say so, do not raise
        return f"PyTorch does not work here ({type(exc).__name__}: {exc})"
    return None


def _check_script(fn, timeout: float, problem: str | None) -> CheckResult:
    name = SCRIPT
    if not callable(fn):
        return failed(
            name, 0, "the argument", f"pass your function itself, got {describe_value(fn)}"
        )
    if problem:
        return failed(name, 0, "the set-up", problem)
    with _torch_on_one_thread():
        return _compare_script(fn, timeout)


def _compare_script(fn, timeout: float) -> CheckResult:
    name = SCRIPT
    mistakes = _bug_mistakes()
    for k, case in enumerate(_script_cases(), start=1):
        outcome = call_safely(_one_thread, fn, *case.args, timeout=timeout, **case.kwargs)
        if outcome.error and _ONE_ROW in outcome.error:
            return failed(
                name,
                k - 1,
                case.label,
                "a batch of one single row reached a BatchNorm layer in training mode, which "
                "PyTorch refuses (the variance of one value is 0, so every output would be β): "
                "find where the script can make a batch of one row",
                f"(PyTorch: {re.sub(r' [(]line [0-9]+[)]$', '', outcome.error)[:160]})",
                more=_BUG_HINTS["last_batch"][1],
            )
        problem = outcome_problem(outcome, _SCRIPT_ARGS, timeout)
        if problem:
            return failed(name, k - 1, case.label, problem, *printed_details(outcome))
        if outcome.value is None:
            hint = returned_none_hint(("the probabilities",))
            return failed(name, k - 1, case.label, hint, *printed_details(outcome))
        expected = _ref.train_and_predict(*case.args, **case.kwargs)
        got, why = to_array(outcome.value, expected.shape, "the result", np.float64)
        if why:
            if "Tensor" in why:
                why += ": return a numpy array, tensor.detach().numpy()"
            return failed(name, k - 1, case.label, why, *printed_details(outcome))
        if np.allclose(got, expected, rtol=1e-6, atol=1e-8):
            continue
        mistake = matching_mistake(got, mistakes, case.args, case.kwargs, rtol=1e-6, atol=1e-8)
        if mistake is not None:
            return failed(name, k - 1, case.label, mistake.hint, more=mistake.more)
        return failed(
            name,
            k - 1,
            case.label,
            "the probabilities differ from those of a script that follows the specification, "
            "and from every mix of the planted problems: compare each step with the "
            "specification (the network and its order, the batches, the fine-tuning, the "
            "predictions)",
            f"the probabilities differ {first_difference(got, expected)}",
        )
    return passed(name, len(_script_cases()))


def check_train_and_predict(fn, *, timeout: float = DEFAULT_TIMEOUT) -> CheckResult:
    """Check ``fn(X_train, y_train, X_new, y_new, X_test, seed=0) -> probabilities``:
    the exercise's script with its problems fixed (the specification is in
    ``course_lib.pytorch_bn.broken_train_and_predict``). Runs it on three small data
    sets in a child process (PyTorch on one thread) and compares its (m_test, classes)
    probabilities with the fixed script's; names a planted problem whose predictions
    the learner's match. Needs PyTorch. Never raises."""
    problem = _ready() if callable(fn) else None
    return run_check(
        SCRIPT, lambda: _check_script(fn, float(timeout), problem), BUDGET_FACTOR * float(timeout)
    )


# ------------------------------------------------------------------ convert_bn_state
CONVERT = "convert_bn_state"
_CONVERT_ARGS = (
    "running_mean",
    "running_var",
    "momentum",
    "batch_size",
    "steps",
    "source",
    "target",
)
_UNBIASED = {"paper": True, "pytorch": True, "keras": False}


def _beta(momentum, convention):
    return 1.0 - momentum if convention == "pytorch" else momentum


def _momentum(beta, convention):
    return 1.0 - beta if convention == "pytorch" else beta


def _factor(m, source, target):
    if _UNBIASED[source] == _UNBIASED[target]:
        return 1.0
    return m / (m - 1) if _UNBIASED[target] else (m - 1) / m


def _convert_mistakes() -> list[Mistake]:
    def with_var(make_var, make_mom=None, scale_mean=False):
        def produce(rm, rv, mom, m, t, source, target):
            beta = _beta(mom, source)
            var = make_var(rv, beta, m, t, source, target)
            new_mom = _momentum(beta, target) if make_mom is None else make_mom(mom, source, target)
            mean = rm * _factor(m, source, target) if scale_mean else rm.copy()
            return mean, var, new_mom

        return produce

    def right_var(rv, beta, m, t, s, g):
        w = beta**t
        return w + (rv - w) * _factor(m, s, g)

    def same_momentum(mom, s, g):
        return mom

    def flipped_whenever_different(mom, s, g):
        return mom if s == g else 1.0 - mom

    def whole_scaled(rv, beta, m, t, s, g):
        return rv * _factor(m, s, g)

    def not_scaled(rv, beta, m, t, s, g):
        return rv.copy()

    def inverted(rv, beta, m, t, s, g):
        w = beta**t
        return w + (rv - w) / _factor(m, s, g)

    def scaled_when_both_unbiased(rv, beta, m, t, s, g):
        f = _factor(m, s, g)
        if f == 1.0 and s != g:
            f = m / (m - 1) if (s, g) == ("paper", "pytorch") else (m - 1) / m
        w = beta**t
        return w + (rv - w) * f

    def momentum_power(rv, beta, m, t, s, g):  # weight of the new value raised to t
        w = (1.0 - beta) ** t
        return w + (rv - w) * _factor(m, s, g)

    def sqrt_factor(rv, beta, m, t, s, g):
        w = beta**t
        return w + (rv - w) * np.sqrt(_factor(m, s, g))

    def swapped(rm, rv, mom, m, t, source, target):
        mean, var, new_mom = _ref.convert_bn_state(rm, rv, mom, m, t, source, target)
        return var, mean, new_mom

    return [
        Mistake(
            "the momentum is not translated: PyTorch's momentum is the weight of the new "
            "value, while the paper's β and Keras's momentum are the weight of the old one",
            with_var(right_var, same_momentum),
            more="PyTorch momentum = 1 − β; the paper's β and Keras's momentum are the same "
            "number; so only a conversion to or from PyTorch changes it, to 1 − momentum",
        ),
        Mistake(
            "the momentum is changed between two conventions that agree: the paper's β and "
            "Keras's momentum are both the weight of the old value",
            with_var(right_var, flipped_whenever_different),
            more="1 − momentum only when exactly one side is PyTorch; paper ↔ Keras keeps "
            "the number",
        ),
        Mistake(
            "the start value is rescaled too: the running variance starts at 1, and that "
            "part of it (its weight after `steps` updates) is no batch variance, so it "
            "stays as it is",
            with_var(whole_scaled),
            more="after t updates the running variance is β^t · 1 + (the weighted batch "
            "variances); rescale only the second part: v_new = β^t + (v − β^t) · factor",
        ),
        Mistake(
            "the variance is not converted: Keras stores the average of the biased batch "
            "variances (1/m), while the paper and PyTorch store unbiased ones (1/(m − 1))",
            with_var(not_scaled),
            more="from Keras to the others the batch-variance part grows by m/(m − 1); from "
            "the others to Keras it shrinks by (m − 1)/m",
        ),
        Mistake(
            "the variance is scaled the wrong way: the unbiased variance is the larger one, "
            "so going to it the batch-variance part grows",
            with_var(inverted),
            more="biased → unbiased: multiply by m/(m − 1); unbiased → biased: by (m − 1)/m "
            "(applied to the batch-variance part, not to the start value)",
        ),
        Mistake(
            "the variance is rescaled between the paper and PyTorch, which both store the "
            "unbiased variance: only a conversion to or from Keras changes it",
            with_var(scaled_when_both_unbiased),
            more="paper ↔ PyTorch: the variance stays exactly as it is (both average "
            "m/(m − 1)·σ²_B); only Keras ↔ the others rescales the batch-variance part",
        ),
        Mistake(
            "the start value's weight is wrong: after t updates the start value keeps the "
            "weight of the old value raised to the power t, not the new value's",
            with_var(momentum_power),
            more="with β the weight of the old value (PyTorch: β = 1 − momentum), the start "
            "value's weight is β^t",
        ),
        Mistake(
            "the factor is for a standard deviation: the running variance is a variance "
            "(σ²), so the factor m/(m − 1) applies without a square root",
            with_var(sqrt_factor),
            more="√(m/(m − 1)) would convert a standard deviation; for the variance use "
            "m/(m − 1) (or (m − 1)/m) itself",
        ),
        Mistake(
            "the running mean changes: every convention stores the same average of the "
            "batch means, only the variance differs",
            with_var(right_var, scale_mean=True),
            more="return the running mean as it is (a copy); m/(m − 1) belongs to variances only",
        ),
        Mistake(
            "the outputs are swapped: the running mean comes first, then the variance, then "
            "the momentum",
            swapped,
            more="return (running_mean, running_var, momentum) in that order",
        ),
    ]


# (label, units, momentum, batch size, steps, source, target); the first case tells every
# known mistake apart (β^t, (1 - β)^t and 0 all differ there).
_CONVERT_CASES = (
    ("Keras → PyTorch, momentum 0.3, batches of 4, 2 steps", 3, 0.3, 4, 2, "keras", "pytorch"),
    ("PyTorch → Keras, momentum 0.1, batches of 2, 3 steps", 4, 0.1, 2, 3, "pytorch", "keras"),
    ("paper → PyTorch, β = 0.8, batches of 8, 50 steps", 2, 0.8, 8, 50, "paper", "pytorch"),
    (
        "Keras → paper, momentum 0.99, batches of 3, 0 steps (start values)",
        3,
        0.99,
        3,
        0,
        "keras",
        "paper",
    ),
    ("paper → Keras, β = 0.7, batches of 16, 5 steps", 5, 0.7, 16, 5, "paper", "keras"),
    ("PyTorch → PyTorch (nothing to change), momentum 0.3", 2, 0.3, 5, 7, "pytorch", "pytorch"),
    (
        "Keras's defaults → PyTorch: momentum 0.99, batches of 32, 300 steps",
        4,
        0.99,
        32,
        300,
        "keras",
        "pytorch",
    ),
)


def _convert_cases() -> list[Case]:
    rng = np.random.default_rng(71)
    cases = []
    for label, n, momentum, m, t, source, target in _CONVERT_CASES:
        mean = rng.normal(0.0, 2.0, n)
        var = rng.uniform(0.5, 4.0, n)
        cases.append(Case(label, (mean, var, momentum, m, t, source, target)))
    return cases


def check_convert_bn_state(fn, *, timeout: float = DEFAULT_TIMEOUT) -> CheckResult:
    """Check ``fn(running_mean, running_var, momentum, batch_size, steps, source, target)
    -> (running_mean, running_var, momentum)`` between the conventions "paper", "pytorch"
    and "keras" (see ``course_lib.pytorch_bn.convert_bn_state``), without modifying its
    inputs. Never raises."""
    return check_against_reference(
        CONVERT,
        fn,
        _convert_cases(),
        _ref.convert_bn_state,
        _convert_mistakes(),
        output_names=("running_mean", "running_var", "momentum"),
        arg_names=_CONVERT_ARGS,
        rtol=1e-9,
        atol=1e-12,
        timeout=timeout,
    )
