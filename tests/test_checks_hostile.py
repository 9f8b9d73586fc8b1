"""Every checker in ``course_lib.checks`` survives hostile learner functions.

For each ``check_*`` function of every lesson module, and for each function it
takes (``check_batchnorm_backward`` takes two), the reference implementation is
wrapped into hostile variants: it raises, returns None, a list, a wrong shape,
text or complex numbers, NaN, mutates its inputs, prints instead of returning,
is slow, loops forever, ends the process. The checker must return a falsy
``CheckResult`` whose hint says what the variant did (``HOSTILE``, and the exact
wording of a lesson in ``LESSON_WORDING``), never raise, never hang (a watchdog
turns a hang into a test failure). The reference itself must pass, and a function
that prints but returns the right values must pass too (printing is not wrong).

Also: ``CheckResult`` shows itself well (concise text and HTML, green on
success) and ``call_safely`` keeps the caller's process clean.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from course_lib import checks
from course_lib.checks import _core
from course_lib.checks._core import CheckResult, call_safely
from course_lib.lessons import skip_reason

FAST = 0.3  # seconds per call for the hostile functions that never return
SAFE = 3.0  # seconds per call for the others: they return at once, even on a busy machine
WATCHDOG = 30.0  # a checker taking longer than this counts as hung


# ------------------------------------------------------------------ finding the checkers
def _checkers() -> dict[str, Callable]:
    found = {}
    for module in checks._LESSON_MODULES:
        try:
            mod = importlib.import_module(f"course_lib.checks.{module}")
        except ModuleNotFoundError:
            continue
        for name, obj in vars(mod).items():
            if name.startswith("check_") and callable(obj) and obj.__module__ == mod.__name__:
                found[name] = obj
    return dict(sorted(found.items()))


CHECKERS = _checkers()


# Checkers whose learner functions need PyTorch: skipped, with lesson 07, without it.
NEEDS_TORCH = {"check_train_and_predict"}
_NO_TORCH = skip_reason("07_batch_norm_in_pytorch")


def _torch_marks(name: str) -> list:
    return [pytest.mark.skip(reason=_NO_TORCH)] if name in NEEDS_TORCH and _NO_TORCH else []


# Checkers whose functions are not named after the checker: the references, in order.
REFERENCE_NAMES = {"check_batchnorm_backward": ("batchnorm_forward", "batchnorm_backward")}


def _find_reference(name: str) -> Callable | None:
    """The course_lib function called ``name`` (the reference of check_<name>)."""
    modules = ("normalization", "batchnorm", "descent", "network", "running_stats", "ema")
    for module in (*modules, "pytorch_bn"):
        try:
            mod = importlib.import_module(f"course_lib.{module}")
        except ModuleNotFoundError:
            continue
        if callable(getattr(mod, name, None)):
            return getattr(mod, name)
    return None


def _function_params(checker: Callable) -> list[str]:
    params = inspect.signature(checker).parameters.values()
    return [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def references(checker_name: str) -> tuple[Callable, ...]:
    checker = CHECKERS[checker_name]
    names = REFERENCE_NAMES.get(checker_name, (checker_name.removeprefix("check_"),))
    refs = tuple(_find_reference(n) for n in names)
    assert all(refs) and len(refs) == len(_function_params(checker)), (
        f"{checker_name}: cannot tell which course_lib functions it checks; "
        "add them to REFERENCE_NAMES in tests/test_checks_hostile.py"
    )
    return refs


def run_checker(checker_name: str, *fns: Callable, timeout: float | None = SAFE) -> CheckResult:
    checker = CHECKERS[checker_name]
    kwargs = {}
    if timeout is not None and "timeout" in inspect.signature(checker).parameters:
        kwargs["timeout"] = timeout
    if checker_name in NEEDS_TORCH:  # PyTorch's first import takes seconds: not the checker's time
        from course_lib.checks import pytorch_bn

        assert pytorch_bn._ready() is None
    with watchdog(WATCHDOG):
        return checker(*fns, **kwargs)


class Hung(BaseException):
    """Raised by the watchdog; a BaseException so that no checker can swallow it."""


@contextlib.contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    def alarm(signum, frame):
        raise Hung(f"the checker did not return within {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ------------------------------------------------------------------ hostile variants
def _map_outputs(value, f):
    """Apply f to every array or number in a returned value (tuples kept)."""
    if isinstance(value, tuple | list):  # a NamedTuple cache becomes a plain tuple
        return (tuple if isinstance(value, tuple) else list)(_map_outputs(v, f) for v in value)
    return f(np.asarray(value))


def _first_array(value):
    if isinstance(value, np.ndarray) and value.size and value.dtype.kind == "f":
        return value
    if isinstance(value, tuple | list):
        for v in value:
            found = _first_array(v)
            if found is not None:
                return found
    if isinstance(value, dict):
        return _first_array(list(value.values()))
    return None


def _mutating(ref):
    def fn(*args, **kwargs):
        result = ref(*args, **kwargs)
        target = _first_array(args)
        target *= 2.0  # in place: the caller's array changes
        return result

    return fn


def _raises(ref):
    def fn(*args, **kwargs):
        raise RuntimeError("hostile failure")

    return fn


def _prints_instead(ref):
    def fn(*args, **kwargs):
        print("the answer is", ref(*args, **kwargs))

    return fn


def _slow(ref):
    def fn(*args, **kwargs):
        time.sleep(60)
        return ref(*args, **kwargs)

    return fn


def _loops(ref):
    def fn(*args, **kwargs):
        while True:
            pass

    return fn


def _exits(ref):
    def fn(*args, **kwargs):
        os._exit(3)

    return fn


def _sys_exit(ref):
    def fn(*args, **kwargs):
        sys.exit(3)

    return fn


def _interrupts(ref):
    def fn(*args, **kwargs):
        raise KeyboardInterrupt

    return fn


def _not_written(ref):
    def fn(*args, **kwargs):
        raise NotImplementedError

    return fn


def _no_arguments(ref):
    def fn():
        return 1

    return fn


def _prints_and_is_wrong(ref):
    def fn(*args, **kwargs):
        print("debugging output")
        return _map_outputs(ref(*args, **kwargs), lambda a: np.zeros(a.shape + (2,)))

    return fn


class _NoArray:
    """A return value that refuses every conversion to numbers."""

    def __array__(self, *args, **kwargs):
        raise RuntimeError("no array")

    def __float__(self):
        raise RuntimeError("no float")

    def __len__(self):
        raise RuntimeError("no len")


class _ExitsWhenReadBack:
    """A return value whose unpickling, in the checker's process, calls sys.exit."""

    def __reduce__(self):
        return (sys.exit, (3,))


def _recurses(ref):
    def fn(*args, **kwargs):
        return fn(*args, **kwargs)

    return fn


def _generator(ref):
    def fn(*args, **kwargs):
        yield ref(*args, **kwargs)

    return fn


def _hands_over(ref):
    """Written in a notebook (module __main__) and named like the reference, which it calls."""

    def fn(*args, **kwargs):
        return ref(*args, **kwargs)

    fn.__module__, fn.__name__ = "__main__", ref.__name__
    return fn


def _returning(make):
    """A variant that returns make(reference result)."""

    def variant(ref):
        def fn(*args, **kwargs):
            return make(ref(*args, **kwargs))

        return fn

    return variant


def _first_only(value):
    """The first of several outputs; the first row of one array; a number in a list."""
    if isinstance(value, tuple | list | np.ndarray):
        return value[0]
    return [value]


HOSTILE: dict[str, tuple[Callable, tuple[str, ...]]] = {
    # name: (make_variant(reference), words one of which the hint or a detail must contain)
    "raises": (_raises, ("the function raised RuntimeError: hostile failure",)),
    "raises NotImplementedError": (_not_written, ("not written yet",)),
    "is called without arguments": (_no_arguments, ("the function raised TypeError",)),
    "returns None": (_returning(lambda v: None), ("the function returned None",)),
    "returns a list of numbers": (_returning(lambda v: [1.0, 2.0, 3.0]), ("list", "shape")),
    "returns a string": (_returning(lambda v: "hello"), ("str 'hello'",)),
    "wrong shape": (
        _returning(lambda v: _map_outputs(v, lambda a: np.zeros(a.shape + (2,)))),
        ("has shape",),
    ),
    "text dtype": (
        _returning(lambda v: _map_outputs(v, lambda a: a.astype(str))),
        ("array of text",),
    ),
    "complex dtype": (
        _returning(lambda v: _map_outputs(v, lambda a: a + 1j)),
        ("complex numbers, dtype complex128",),
    ),
    "NaN": (
        _returning(lambda v: _map_outputs(v, lambda a: np.full(a.shape, np.nan))),
        ("contains NaN or inf",),
    ),
    "first output only": (_returning(_first_only), ("shape", "values", "pair")),
    "mutates its input": (_mutating, ("the function modified its input",)),
    "prints instead of returning": (_prints_instead, ("the function returned None",)),
    "prints, then returns a wrong shape": (_prints_and_is_wrong, ("has shape",)),
    "slow": (_slow, (f"did not return within {FAST:g} s",)),
    "loops forever": (_loops, (f"did not return within {FAST:g} s",)),
    "ends the process": (
        _exits,
        ("the function ended the process (exit or crash) instead of returning",),
    ),
    "calls sys.exit": (_sys_exit, ("the function raised SystemExit: 3",)),
    "raises KeyboardInterrupt": (_interrupts, ("the function raised KeyboardInterrupt",)),
    "returns an object that is no array": (
        _returning(lambda v: _map_outputs(v, lambda a: _NoArray())),
        ("_NoArray object",),
    ),
    "returns an object that exits when read back": (
        _returning(lambda v: _ExitsWhenReadBack()),
        ("return value could not be read back (SystemExit)",),
    ),
    "infinite recursion": (_recurses, ("the function raised RecursionError",)),
    "generator": (_generator, ("generator", "pair")),
    "returns a function": (_returning(lambda v: lambda: 1), ("a function", "pair")),
    "calls the course_lib reference": (_hands_over, ("calls course_lib's",)),
}

# The variants that print: the failure shows (the start of) what they printed.
PRINTING = {
    "prints instead of returning": "(it printed: 'the answer is ",
    "prints, then returns a wrong shape": "(it printed: 'debugging output')",
}

# The exact wording of a lesson's hint, per (checker, variant): all of these too.
LESSON_WORDING: dict[tuple[str, str], tuple[str, ...]] = {
    ("check_fit_normalizer", "raises"): ("RuntimeError: hostile failure",),
    ("check_normalize", "returns None"): ("forget to `return` its result? Write `return X_norm`",),
    ("check_normalize", "loops forever"): ("look for an endless loop",),
    ("check_gradient_descent_step", "returns None"): ("Write `return w_new, b_new`",),
    ("check_gradient_descent_step", "text dtype"): ("w_new is an array of text", "expected"),
    ("check_gradient_descent_step", "mutates its input"): ("modified its input X:",),
    ("check_largest_stable_lr", "returns a string"): ("the learning rate is str", "expected"),
    ("check_largest_stable_lr", "mutates its input"): ("modified its input X:",),
    ("check_bn_layer_forward", "returns a list of numbers"): ("A is a list",),
    ("check_bn_layer_forward", "mutates its input"): ("modified its input A_prev:",),
    ("check_bn_layer_forward", "loops forever"): ("look for an endless loop",),
    ("check_update_running_stats", "mutates its input"): ("modified its input running_mean:",),
    ("check_update_running_stats", "first output only"): ("return 2 values",),
    ("check_batchnorm_inference", "mutates its input"): ("modified its input z:",),
    ("check_batchnorm_forward", "returns None"): ("Write `return out, cache`",),
    ("check_batchnorm_backward", "returns None"): ("Write `return",),
    ("check_train_and_predict", "mutates its input"): ("modified its input X_train:",),
    ("check_train_and_predict", "returns None"): ("forget to `return` the probabilities",),
    ("check_convert_bn_state", "mutates its input"): ("modified its input running_mean:",),
    ("check_convert_bn_state", "first output only"): ("return 3 values",),
}

# What a checker says when it is given something else than a function.
NOT_A_FUNCTION_WORDING = {
    "check_batchnorm_forward": "pass your function, got",
    "check_batchnorm_backward": "must be a function, got",
}

NEVER_RETURN = ("slow", "loops forever")

# (checker, position of the hostile function, variant) for every checker.
HOSTILE_CASES = [
    pytest.param(name, pos, variant, id=f"{name}-{pos}-{variant}", marks=_torch_marks(name))
    for name in CHECKERS
    for pos in range(len(_function_params(CHECKERS[name])))
    for variant in HOSTILE
]
CHECKER_PARAMS = [pytest.param(name, id=name, marks=_torch_marks(name)) for name in CHECKERS]


# Every checker, by lesson module.
EXPECTED_CHECKERS = {
    "normalization": ("check_fit_normalizer", "check_normalize"),
    "descent": ("check_gradient_descent_step", "check_largest_stable_lr"),
    "batchnorm": ("check_batchnorm_forward", "check_batchnorm_backward"),
    "network": ("check_bn_layer_forward",),
    "running_stats": ("check_update_running_stats", "check_batchnorm_inference"),
    "pytorch_bn": ("check_train_and_predict", "check_convert_bn_state"),
}


def test_every_lesson_module_has_checkers():
    assert set(CHECKERS) == {n for names in EXPECTED_CHECKERS.values() for n in names}
    assert tuple(EXPECTED_CHECKERS) == checks._LESSON_MODULES


def test_the_tables_name_real_checkers_and_variants():
    assert all(name in CHECKERS and variant in HOSTILE for name, variant in LESSON_WORDING)
    assert set(PRINTING) <= set(HOSTILE) and set(NEVER_RETURN) <= set(HOSTILE)
    assert set(NOT_A_FUNCTION_WORDING) <= set(CHECKERS)


def test_every_checker_is_exported_by_course_lib_checks():
    assert checks.CheckResult is CheckResult
    assert set(CHECKERS) <= set(checks.__all__)
    for module, names in EXPECTED_CHECKERS.items():
        mod = importlib.import_module(f"course_lib.checks.{module}")
        for name in names:
            assert getattr(checks, name) is getattr(mod, name) is CHECKERS[name], name


@pytest.mark.parametrize("name", CHECKER_PARAMS)
def test_checker_is_reachable_and_accepts_the_reference(name):
    assert getattr(checks, name) is CHECKERS[name]
    result = run_checker(name, *references(name), timeout=None)
    assert isinstance(result, CheckResult) and result, str(result)
    assert result.cases_run >= 3
    # It names the exercise: the function it checks, or the last one (a backward).
    exercise = references(name)[-1].__name__
    assert str(result) == f"✔ {exercise}: all {result.cases_run} checks passed."


@pytest.mark.parametrize("name", CHECKERS)
def test_checker_offers_a_timeout(name):
    """Graded cells and tests shorten the time limit per call through this argument."""
    assert "timeout" in inspect.signature(CHECKERS[name]).parameters


@pytest.mark.parametrize("name", CHECKER_PARAMS)
def test_printing_is_not_a_mistake(name, capfd):
    def noisy(ref):
        def fn(*args, **kwargs):
            print("debugging output")
            os.write(1, b"below python\n")
            return ref(*args, **kwargs)

        return fn

    refs = references(name)
    result = run_checker(name, *(noisy(r) for r in refs))
    assert result, str(result)
    out, err = capfd.readouterr()
    assert "debugging output" not in out + err and "below python" not in out + err


@pytest.mark.parametrize(("name", "pos", "variant"), HOSTILE_CASES)
def test_hostile_function_gets_a_falsy_result_with_a_hint(name, pos, variant):
    refs = list(references(name))
    make, words = HOSTILE[variant]
    refs[pos] = make(refs[pos])
    result = run_checker(name, *refs, timeout=FAST if variant in NEVER_RETURN else SAFE)
    assert isinstance(result, CheckResult)
    assert not result, f"{variant} was accepted"
    assert result.hint and result.case, str(result)
    said = " ".join([result.hint, *result.details])  # not the case's label
    assert any(w in said for w in words), f"hint should say one of {words}: {result}"
    if pos < len(refs) - 1:  # a backward checker given a broken forward says so first
        assert result.hint.startswith("batchnorm_forward must work first ("), str(result)
    for wording in LESSON_WORDING.get((name, variant), ()):
        assert wording in result.hint, str(result)
    if variant in PRINTING:
        assert any(d.startswith(PRINTING[variant]) for d in result.details), str(result)
    assert "raised the function" not in said, f"not an exception, said as one: {result}"
    assert "the checker itself" not in said, f"the checker broke: {result}"
    text = str(result)
    assert len(text) < 1500 and result._repr_html_().startswith("<div")


@pytest.mark.parametrize("name", CHECKERS)
@pytest.mark.parametrize("not_a_function", [None, 42, "fit_normalizer", np.zeros(3)])
def test_not_a_function(name, not_a_function):
    n = len(_function_params(CHECKERS[name]))
    result = run_checker(name, *([not_a_function] * n))
    assert not result and result.hint
    assert NOT_A_FUNCTION_WORDING.get(name, "pass your function itself, got") in result.hint
    assert result._repr_html_().startswith("<div")


def test_a_slow_function_is_stopped_by_the_budget_of_the_whole_check():
    """Each call is under its own limit, but all of them together are not."""

    def sleepy(X):
        time.sleep(0.25)
        return X * 2.0

    cases = [_core.Case(f"case {i}", (np.ones((2, 2)),)) for i in range(6)]
    result = _core.check_against_reference(
        "double", sleepy, cases, lambda X: X * 2.0, timeout=1.0, total_timeout=0.6
    )
    assert not result and "too slow" in result.hint and result.cases_run < len(cases)


# ------------------------------------------------------------------ call_safely
def test_call_safely_reports_mutation_inside_containers_and_keywords():
    def mutates_tuple(pair, scale=None):
        pair[0][0] = 99.0
        return 1

    def mutates_keyword(x, scale=None):
        scale["w"] += 1
        return 1

    a = np.zeros(3)
    out = call_safely(mutates_tuple, (a, np.ones(2)), timeout=5)
    assert out.mutated == [0] and a[0] == 0.0  # the child had its own copy
    out = call_safely(mutates_keyword, 1.0, scale={"w": np.ones(2)}, timeout=5)
    assert out.mutated_kwargs == ["scale"]
    problem = _core.outcome_problem(out, ("x",), 5)
    assert "modified its input scale" in problem


def _loop_writing_pid(path):
    def loop():
        path.write_text(str(os.getpid()))
        while True:
            pass

    return loop


def _gone(pid: int) -> bool:
    """True when the process no longer exists (not even as a zombie: it was reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_call_safely_stops_a_loop_and_leaves_no_child_behind(tmp_path):
    pid_file = tmp_path / "pid"
    with watchdog(WATCHDOG):
        out = call_safely(_loop_writing_pid(pid_file), timeout=1.0)
    assert out.timed_out and not out.ok
    assert _gone(int(pid_file.read_text()))


def test_call_safely_kills_the_child_when_the_caller_is_interrupted(tmp_path):
    pid_file = tmp_path / "pid"
    with pytest.raises(Hung), watchdog(1.0):
        call_safely(_loop_writing_pid(pid_file), timeout=60)
    assert _gone(int(pid_file.read_text()))


def test_call_safely_survives_what_the_function_does_to_its_process():
    assert "ended the process" in call_safely(lambda: os._exit(0), timeout=5).error
    assert "SystemExit" in call_safely(lambda: sys.exit(0), timeout=5).error
    assert "KeyboardInterrupt" in call_safely(_raise_keyboard_interrupt, timeout=5).error
    value = call_safely(lambda: lambda: 1, timeout=5).value
    assert "function" in _core.describe_value(value)


def test_a_value_that_exits_when_read_back_does_not_end_the_caller():
    """Unpickling the returned value runs code in the caller's process: its
    __reduce__ may call sys.exit; the caller gets a readable error instead."""
    out = call_safely(_ExitsWhenReadBack, timeout=5)
    assert not out.ok and "could not be read back (SystemExit)" in out.error
    problem = _core.outcome_problem(out, (), 5)
    assert problem == out.error and not problem.startswith("the function raised")


class _ExitsWhenConverted:
    """A return value whose conversion to an array, in the checker's process, exits."""

    def __array__(self, *args, **kwargs):
        sys.exit(4)


def test_a_value_that_exits_when_converted_does_not_end_the_checker():
    result = checks.check_normalize(lambda X, mu, sigma: _ExitsWhenConverted(), timeout=SAFE)
    assert not result and "SystemExit" in result.hint


def _raise_keyboard_interrupt():
    raise KeyboardInterrupt


def test_a_checker_can_forbid_more_course_lib_functions():
    from course_lib.batchnorm import batchnorm_forward

    def layer(z, gamma, beta):
        return batchnorm_forward(z, gamma, beta)[0]

    def reference(z, gamma, beta):
        return batchnorm_forward(z, gamma, beta)[0]

    layer.__module__ = "__main__"  # written in a notebook
    rng = np.random.default_rng(0)
    cases = [_core.Case("a batch", (rng.normal(size=(4, 3)), np.ones(3), np.zeros(3)))]
    check = _core.check_against_reference
    assert check("layer", layer, cases, reference, timeout=SAFE)
    result = check("layer", layer, cases, reference, timeout=SAFE, forbid=["batchnorm_forward"])
    assert not result and "calls course_lib's batchnorm_forward" in result.hint


def test_in_a_notebook_course_libs_own_function_is_refused(monkeypatch):
    """`fit_normalizer = course_lib.normalization.fit_normalizer` is not a solution."""
    from course_lib.normalization import fit_normalizer

    assert checks.check_fit_normalizer(fit_normalizer)  # tests pass the reference itself
    monkeypatch.setattr(_core, "_interactive", lambda: True)  # as in a notebook kernel
    result = checks.check_fit_normalizer(fit_normalizer)
    assert not result and "course_lib's own fit_normalizer" in result.hint


def test_time_budget_cuts_each_call():
    with _core.time_budget(0.0):
        out = call_safely(lambda: 1, timeout=5)
    assert out.timed_out and out.over_budget
    assert "too slow" in _core.outcome_problem(out, (), 5)


def test_a_broadcasting_error_gets_the_axis_hint():
    def centre_by_rows(X, mu, sigma):
        return (X - X.mean(axis=1)) / sigma  # (m, n) - (m,): broadcasts only if m == n

    result = checks.check_normalize(centre_by_rows, timeout=SAFE)
    assert not result and "could not be broadcast" in result.hint, str(result)
    assert "statistics over the wrong axis? Rows are examples" in result.hint


def test_a_single_number_per_output_gets_the_axis_hint():
    result = checks.check_fit_normalizer(lambda X: (X.mean(), X.std()), timeout=SAFE)
    assert not result
    assert result.hint.endswith(
        "has shape (), expected (2,): a single number for the whole matrix; "
        "compute one value per feature with axis=0"
    ), str(result)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2.5", 2.5), ("0", 5.0), ("-1", 5.0), ("nan", 5.0), ("soon", 5.0), (None, 5.0)],
)
def test_default_timeout_comes_from_the_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("COURSE_CHECK_TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("COURSE_CHECK_TIMEOUT", value)
    assert _core._timeout_from_environment() == expected


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (np.array([1 + 2j, 3j]), "complex"),
        (np.array(["1.5", "2"]), "text"),
        (np.array([None, 1.0]), "objects"),
        ([[1.0, 2.0], [3.0]], "expected a numpy array"),
        (np.array([True, False]), "bool"),
    ],
)
def test_to_array_refuses_what_is_not_real_numbers(value, words):
    arr, why = _core.to_array(value, (2,), "out", np.float64)
    assert arr is None and words in why


# ------------------------------------------------------------------ how a result looks
def test_check_result_shows_green_on_success_and_the_hint_on_failure():
    ok = _core.passed("fit_normalizer", 4)
    assert ok and str(ok) == "✔ fit_normalizer: all 4 checks passed." and repr(ok) == str(ok)
    assert "#1a7f37" in ok._repr_html_() and "all 4 checks passed" in ok._repr_html_()
    assert ok.assert_ok() is ok

    bad = _core.failed("normalize", 1, "a test set <X>", "divide by σ, not σ²", "at index (0, 1)")
    assert not bad
    text = str(bad)
    assert text.splitlines()[0] == "✘ normalize: failed on a test set <X>."
    assert "Hint: divide by σ, not σ²" in text and len(text.splitlines()) == 3
    page = bad._repr_html_()
    assert "#b42318" in page and "&lt;X&gt;" in page and "<X>" not in page
    with pytest.raises(AssertionError, match="divide by σ"):
        bad.assert_ok()
