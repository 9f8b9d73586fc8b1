"""Every checker in ``course_lib.checks`` survives hostile learner functions.

For each ``check_*`` function of every lesson module, and for each function it
takes (``check_batchnorm_backward`` takes two), the reference implementation is
wrapped into hostile variants: it raises, returns None, a list, a wrong shape,
text or complex numbers, NaN, mutates its inputs, prints instead of returning,
is slow, loops forever, ends the process. The checker must return a falsy
``CheckResult`` with a hint, never raise, never hang (a watchdog turns a hang
into a test failure). The reference itself must pass, and a function that
prints but returns the right values must pass too (printing is not wrong).

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

import course_lib
from course_lib import checks
from course_lib.checks import _core
from course_lib.checks._core import CheckResult, call_safely

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

# Checkers whose functions are not named after the checker: the references, in order.
REFERENCE_NAMES = {"check_batchnorm_backward": ("batchnorm_forward", "batchnorm_backward")}


def _find_reference(name: str) -> Callable | None:
    """The course_lib function called ``name`` (the reference of check_<name>)."""
    for module in ("normalization", "batchnorm", "descent", "network", "running_stats", "ema"):
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


class _NoArray:
    """A return value that refuses every conversion to numbers."""

    def __array__(self, *args, **kwargs):
        raise RuntimeError("no array")

    def __float__(self):
        raise RuntimeError("no float")


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
    # name: (make_variant(reference), words one of which the hint must contain)
    "raises": (_raises, ("raised", "runtimeerror")),
    "returns None": (_returning(lambda v: None), ("none",)),
    "returns a list of numbers": (_returning(lambda v: [1.0, 2.0, 3.0]), ("",)),
    "wrong shape": (
        _returning(lambda v: _map_outputs(v, lambda a: np.zeros(a.shape + (2,)))),
        ("shape", "pair", "values"),
    ),
    "text dtype": (_returning(lambda v: _map_outputs(v, lambda a: a.astype(str))), ("",)),
    "complex dtype": (_returning(lambda v: _map_outputs(v, lambda a: a + 1j)), ("",)),
    "NaN": (
        _returning(lambda v: _map_outputs(v, lambda a: np.full(a.shape, np.nan))),
        ("nan",),
    ),
    "first output only": (_returning(_first_only), ("",)),
    "mutates its input": (_mutating, ("modified", "must work first")),
    "prints instead of returning": (_prints_instead, ("none", "printed")),
    "slow": (_slow, ("within", "too slow", "failed")),
    "loops forever": (_loops, ("within", "too slow", "failed")),
    "ends the process": (_exits, ("ended the process", "failed")),
    "calls sys.exit": (_sys_exit, ("systemexit", "failed")),
    "raises KeyboardInterrupt": (_interrupts, ("keyboardinterrupt", "failed")),
    "returns an object that is no array": (
        _returning(lambda v: _map_outputs(v, lambda a: _NoArray())),
        ("",),
    ),
    "infinite recursion": (_recurses, ("recursion",)),
    "generator": (_generator, ("",)),
    "calls the course_lib reference": (_hands_over, ("calls course_lib's",)),
}

NEVER_RETURN = ("slow", "loops forever")

# (checker, position of the hostile function, variant) for every checker.
HOSTILE_CASES = [
    (name, pos, variant)
    for name in CHECKERS
    for pos in range(len(_function_params(CHECKERS[name])))
    for variant in HOSTILE
]


def test_every_lesson_module_has_checkers():
    assert len(CHECKERS) >= 6, sorted(CHECKERS)
    for name in ("check_fit_normalizer", "check_normalize", "check_batchnorm_forward"):
        assert name in CHECKERS


@pytest.mark.parametrize("name", CHECKERS)
def test_checker_is_reachable_and_accepts_the_reference(name):
    assert getattr(checks, name) is CHECKERS[name]
    result = run_checker(name, *references(name), timeout=None)
    assert isinstance(result, CheckResult) and result, str(result)
    assert result.cases_run >= 3


@pytest.mark.parametrize("name", CHECKERS)
def test_checker_offers_a_timeout(name):
    """Graded cells and tests shorten the time limit per call through this argument."""
    assert "timeout" in inspect.signature(CHECKERS[name]).parameters


@pytest.mark.parametrize("name", CHECKERS)
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


@pytest.mark.parametrize(
    ("name", "pos", "variant"), HOSTILE_CASES, ids=[f"{n}-{p}-{v}" for n, p, v in HOSTILE_CASES]
)
def test_hostile_function_gets_a_falsy_result_with_a_hint(name, pos, variant):
    refs = list(references(name))
    make, words = HOSTILE[variant]
    refs[pos] = make(refs[pos])
    result = run_checker(name, *refs, timeout=FAST if variant in NEVER_RETURN else SAFE)
    assert isinstance(result, CheckResult)
    assert not result, f"{variant} was accepted"
    assert result.hint and result.case, str(result)
    text = str(result).lower()
    # A backward checker given a broken forward says so: also a precise hint.
    words = (*words, "batchnorm_forward must work first")
    assert any(w in text for w in words), f"hint should say one of {words}: {result}"
    assert "the checker itself" not in text, f"the checker broke: {result}"
    assert len(text) < 1500 and result._repr_html_().startswith("<div")


@pytest.mark.parametrize("name", CHECKERS)
@pytest.mark.parametrize("not_a_function", [None, 42, "fit_normalizer", np.zeros(3)])
def test_not_a_function(name, not_a_function):
    n = len(_function_params(CHECKERS[name]))
    result = run_checker(name, *([not_a_function] * n))
    assert not result and result.hint


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
    problem = _core.outcome_problem(out, (1.0,), ("x",), 5)
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
    assert "ended the process" in call_safely(lambda: sys.exit(0), timeout=5).error or (
        "SystemExit" in call_safely(lambda: sys.exit(0), timeout=5).error
    )
    assert "KeyboardInterrupt" in call_safely(_raise_keyboard_interrupt, timeout=5).error
    value = call_safely(lambda: lambda: 1, timeout=5).value
    assert "function" in _core.describe_value(value)


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
    assert "too slow" in _core.outcome_problem(out, (), (), 5)


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


def test_the_package_exposes_the_checkers_lazily():
    assert course_lib.checks.CheckResult is CheckResult
    with pytest.raises(AttributeError):
        checks.check_no_such_exercise  # noqa: B018


def test_every_checker_is_exported_by_course_lib_checks():
    assert set(CHECKERS) <= set(checks.__all__)
    assert all(getattr(checks, name) is fn for name, fn in CHECKERS.items())
