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
from course_lib.checks import _core, _sandbox
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
REFERENCE_NAMES = {
    "check_batchnorm_backward": ("batchnorm_forward", "batchnorm_backward"),
    "check_layernorm_backward": ("layernorm_forward", "layernorm_backward"),
    "check_spatial_batchnorm_backward": ("spatial_batchnorm_forward", "spatial_batchnorm_backward"),
    "check_groupnorm_backward": ("groupnorm_forward", "groupnorm_backward"),
}


def _find_reference(name: str) -> Callable | None:
    """The course_lib function called ``name`` (the reference of check_<name>)."""
    modules = ("normalization", "batchnorm", "descent", "network", "running_stats", "ema", "norms")
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
    if checker_name in NEEDS_TORCH and not _NO_TORCH:  # PyTorch's first import: not timed
        from course_lib.checks import pytorch_bn

        assert pytorch_bn._ready() is None
    with watchdog(WATCHDOG):
        return checker(*fns, **kwargs)


def budget(checker_name: str, timeout: float) -> float:
    """The most a checker may take: its calls' budget (twice for a backward checker,
    which also runs finite differences), plus time to fork, kill and compare."""
    factor = 2 if len(_function_params(CHECKERS[checker_name])) > 1 else 1
    return factor * _core.BUDGET_FACTOR * timeout + 1.5


# ------------------------------------------------------------------ no process left behind
PR_SET_CHILD_SUBREAPER = 36


def _children() -> list[tuple[int, str]]:
    """(pid, state) of this process's children, zombies included (Linux /proc)."""
    pids: set[int] = set()
    for task in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError), open(f"/proc/self/task/{task}/children") as f:
            pids.update(int(p) for p in f.read().split())
    found = []
    for pid in sorted(pids):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:
            found.append((pid, stat.read().rsplit(")", 1)[1].split()[0]))
    return found


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


@pytest.fixture(scope="module")
def subreaper():
    """Orphans of the checkers' children (a process the learner's function forked) are
    re-parented to this process while the module runs, so the tests see them."""
    if not sys.platform.startswith("linux"):
        yield False
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    ok = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    yield ok
    libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
    _reap()


@pytest.fixture(autouse=True)
def no_process_left_behind(subreaper):
    """After every test of this module: no child, grandchild or zombie of a check."""
    _reap()
    before = {pid for pid, _ in _children()}
    yield
    end = time.monotonic() + 2.0  # a killed process needs a moment to die on a busy machine
    while True:
        _reap()
        left = [(pid, state) for pid, state in _children() if pid not in before]
        if not left or time.monotonic() > end:
            break
        time.sleep(0.01)
    assert not left, f"processes left behind: {left}"


@pytest.fixture(scope="module", autouse=True)
def warm():
    """Every checker run once on the references, here: what the references load on
    their first call (numba's compiled kernels) is loaded before any child starts, as
    in a notebook that ran the lesson's cells before the exercises."""
    for name in CHECKERS:
        run_checker(name, *references(name), timeout=None)


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
    """Apply f to every array or number in a returned value (tuples, lists and dicts kept)."""
    if isinstance(value, tuple | list):  # a NamedTuple cache becomes a plain tuple
        return (tuple if isinstance(value, tuple) else list)(_map_outputs(v, f) for v in value)
    if isinstance(value, dict):  # lesson 04's training step returns dicts of arrays
        return {k: _map_outputs(v, f) for k, v in value.items()}
    if isinstance(value, str):  # a label in a cache (course_lib.norms.NormCache.kind)
        return value
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


class _Hostile:
    """A returned object whose named methods loop forever or sleep a minute."""

    def __init__(self, methods: tuple[str, ...], mode: str = "loop") -> None:
        self.methods, self.mode = methods, mode


def _stall(mode: str):
    if mode == "sleep":
        time.sleep(60)
    while True:
        pass


HOSTILE_METHODS = (
    "__array__",
    "__len__",
    "__iter__",
    "__eq__",
    "__reduce__",
    "__reduce_ex__",
    "__float__",
    "__repr__",
    "__str__",
    "__hash__",
    "__bool__",
    "__getitem__",
    "__index__",
)


def _hostile_class(methods: tuple[str, ...], mode: str) -> type:
    """A class named after what it does, whose ``methods`` never return."""

    def stall(self, *args, **kwargs):
        _stall(mode)

    name = "Endless_" + "_".join(m.strip("_") for m in methods)
    return type(name, (), dict.fromkeys(methods, stall))


def _returns_hostile(methods: tuple[str, ...], mode: str = "loop", container=None):
    """A variant that returns hostile objects in place of every output (or inside a
    tuple or list, the container)."""
    cls = _hostile_class(methods, mode)

    def make(value):
        hostile = _map_outputs(value, lambda a: cls())
        return hostile if container is None else container([hostile])

    return _returning(make)


def _ignores_signals(ref):
    def fn(*args, **kwargs):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while True:
            pass

    return fn


def _crashes(ref):
    def fn(*args, **kwargs):
        import ctypes

        ctypes.string_at(0)  # reads address 0: a segmentation fault

    return fn


def _wrong_shape(value):
    return _map_outputs(value, lambda a: np.zeros(a.shape + (2,)))


def _forks(ref):
    """Forks; both copies go on and return a wrong shape."""

    def fn(*args, **kwargs):
        os.fork()
        return _wrong_shape(ref(*args, **kwargs))

    return fn


def _forks_a_sleeper(ref):
    """Forks a process that sleeps a minute (the subreaper fixture sees it if it stays)."""

    def fn(*args, **kwargs):
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        return _wrong_shape(ref(*args, **kwargs))

    return fn


def _eats_memory(ref):
    """Allocates 64 MB after 64 MB (not written to: the address space limit stops it at
    once; test_the_memory_limit_stops_real_memory_use writes to them)."""

    def fn(*args, **kwargs):
        hoard = []
        while True:
            hoard.append(np.empty(2**23))

    return fn


def _closes_std_fds(ref):
    def fn(*args, **kwargs):
        for fd in (0, 1, 2):
            os.close(fd)
        return _wrong_shape(ref(*args, **kwargs))

    return fn


def _writes_std_fds(ref):
    def fn(*args, **kwargs):
        for fd in (0, 1, 2):
            with contextlib.suppress(OSError):
                os.write(fd, b"hostile bytes on a standard descriptor\n")
        return _wrong_shape(ref(*args, **kwargs))

    return fn


def _closes_every_fd(ref):
    def fn(*args, **kwargs):
        os.closerange(0, 4096)
        return ref(*args, **kwargs)

    return fn


HOSTILE: dict[str, tuple[Callable, tuple[str, ...]]] = {
    # name: (make_variant(reference), words one of which the hint or a detail must contain)
    "raises": (_raises, ("the function raised RuntimeError: hostile failure",)),
    "raises NotImplementedError": (_not_written, ("not written yet",)),
    "is called without arguments": (
        _no_arguments,
        ("parameters do not fit how the checker calls it", "keyword argument eps=..."),
    ),
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
        ("the function ended the process instead of returning (exit code 3",),
    ),
    "calls sys.exit": (_sys_exit, ("the function raised SystemExit: 3",)),
    "raises KeyboardInterrupt": (_interrupts, ("the function raised KeyboardInterrupt",)),
    "returns an object that is no array": (
        _returning(lambda v: _map_outputs(v, lambda a: _NoArray())),
        ("_NoArray object",),
    ),
    "returns an object that exits when read back": (
        _returning(lambda v: _ExitsWhenReadBack()),
        ("_ExitsWhenReadBack object",),
    ),
    "infinite recursion": (_recurses, ("the function raised RecursionError",)),
    "generator": (_generator, ("generator", "pair")),
    "returns a function": (_returning(lambda v: lambda: 1), ("a function", "pair")),
    "calls the course_lib reference": (_hands_over, ("calls course_lib's",)),
    # returned values whose methods never return: only plain data crosses back
    "returns an object whose __array__ loops": (
        _returns_hostile(("__array__",)),
        ("and turning it into numbers did not finish within",),
    ),
    "returns a tuple holding objects whose __array__ sleeps": (
        _returns_hostile(("__array__",), "sleep", tuple),
        ("and turning it into numbers did not finish within",),
    ),
    "returns a list holding objects whose __len__ and __iter__ loop": (
        _returns_hostile(("__len__", "__iter__"), "loop", list),
        ("list",),
    ),
    "returns an object whose every other method loops": (
        _returns_hostile(tuple(m for m in HOSTILE_METHODS if m != "__array__")),
        ("Endless_len_iter_eq_reduce", "pair (out, cache)"),
    ),
    # what the function does to its process
    "ignores SIGTERM and SIGINT, then loops": (
        _ignores_signals,
        (f"did not return within {FAST:g} s",),
    ),
    "crashes (segmentation fault)": (_crashes, ("(a crash, SIGSEGV)",)),
    "forks, and both copies go on": (_forks, ("has shape",)),
    "forks a process that sleeps": (_forks_a_sleeper, ("has shape",)),
    "exhausts memory": (_eats_memory, ("MemoryError", "far more memory")),
    "closes fds 0-2": (_closes_std_fds, ("has shape",)),
    "writes to fds 0-2": (_writes_std_fds, ("has shape",)),
    "closes every file descriptor": (_closes_every_fd, ("closed file descriptors",)),
}

# The variants that print: the failure shows (the start of) what they printed.
PRINTING = {
    "prints instead of returning": "(it printed: 'the answer is ",
    "prints, then returns a wrong shape": "(it printed: 'debugging output')",
}

# The exact wording of a lesson's hint, per (checker, variant): all of these too.
LESSON_WORDING: dict[tuple[str, str], tuple[str, ...]] = {
    ("check_fit_normalizer", "raises"): ("RuntimeError: hostile failure",),
    ("check_normalize", "returns None"): ("forget to `return` its result (X_norm)?",),
    ("check_normalize", "loops forever"): ("look for an endless loop",),
    ("check_gradient_descent_step", "returns None"): (
        "forget to `return` its 2 results (w_new, b_new, in this order)?",
    ),
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
    ("check_batchnorm_forward", "returns None"): ("its 2 results (out, cache, in this order)",),
    ("check_batchnorm_backward", "returns None"): ("forget to `return` its",),
    ("check_train_and_predict", "mutates its input"): ("modified its input X_train:",),
    ("check_train_and_predict", "returns None"): ("forget to `return` the probabilities",),
    ("check_convert_bn_state", "mutates its input"): ("modified its input running_mean:",),
    ("check_convert_bn_state", "first output only"): ("return 3 values",),
}

# What a checker says when it is given something else than a function.
NOT_A_FUNCTION_WORDING = {
    "check_batchnorm_forward": "pass your function, got",
    "check_batchnorm_backward": "must be a function, got",
    "check_layernorm_forward": "pass your function, got",
    "check_layernorm_backward": "must be a function, got",
    "check_spatial_batchnorm_forward": "pass your function, got",
    "check_spatial_batchnorm_backward": "must be a function, got",
    "check_groupnorm_forward": "pass your function, got",
    "check_groupnorm_backward": "must be a function, got",
}

NEVER_RETURN = (
    "slow",
    "loops forever",
    "returns an object whose __array__ loops",
    "returns a tuple holding objects whose __array__ sleeps",
    "ignores SIGTERM and SIGINT, then loops",
)

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
    "normalization": ("check_fit_normalizer", "check_normalize", "check_fold_normalization"),
    "descent": ("check_gradient_descent_step", "check_largest_stable_lr"),
    "batchnorm": ("check_batchnorm_forward", "check_batchnorm_backward"),
    "network": ("check_bn_layer_forward", "check_bn_train_step"),
    "running_stats": ("check_update_running_stats", "check_batchnorm_inference"),
    "norms": (
        "check_layernorm_forward",
        "check_layernorm_backward",
        "check_spatial_batchnorm_forward",
        "check_spatial_batchnorm_backward",
        "check_groupnorm_forward",
        "check_groupnorm_backward",
    ),
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
    timeout = FAST if variant in NEVER_RETURN else SAFE
    start = time.monotonic()
    result = run_checker(name, *refs, timeout=timeout)
    took = time.monotonic() - start
    assert took < budget(name, timeout), f"{variant}: {took:.1f} s, over the budget"
    assert isinstance(result, CheckResult)
    assert not result, f"{variant} was accepted"
    assert result.hint and result.case, str(result)
    said = " ".join([result.hint, *result.details])  # not the case's label
    assert any(w in said for w in words), f"hint should say one of {words}: {result}"
    if pos < len(refs) - 1:  # a backward checker given a broken forward says so first
        forward = references(name)[0].__name__
        assert result.hint.startswith(f"{forward} must work first ("), str(result)
    for wording in LESSON_WORDING.get((name, variant), ()):
        assert wording in result.hint, str(result)
    if variant in PRINTING:
        # (repr quotes the printed text with " when it holds a ', e.g. a printed dict)
        printed = [d.replace('"', "'") for d in result.details]
        assert any(d.startswith(PRINTING[variant]) for d in printed), str(result)
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


def test_a_value_that_exits_when_read_back_comes_back_as_a_description():
    """Only plain data crosses back: an object whose __reduce__ would call sys.exit in
    the caller's process is never pickled; the caller gets its description."""
    out = call_safely(_ExitsWhenReadBack, timeout=5)
    assert out.ok and out.value == _sandbox.Described("a _ExitsWhenReadBack object")


class _ExitsWhenConverted:
    """A return value whose conversion to an array calls sys.exit."""

    def __array__(self, *args, **kwargs):
        sys.exit(4)


def test_a_value_that_exits_when_converted_does_not_end_the_checker():
    result = checks.check_normalize(lambda X, mu, sigma: _ExitsWhenConverted(), timeout=SAFE)
    assert not result and "_ExitsWhenConverted object" in result.hint, str(result)


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
    monkeypatch.setattr(_sandbox, "_interactive", lambda: True)  # as in a notebook kernel
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
    assert "An array of shape (m,), one value per example, does not fit" in result.hint
    result = checks.check_batchnorm_forward(
        lambda z, gamma, beta, eps=1e-5: ((z - z.mean(axis=1)) / z.std(axis=1), None), timeout=SAFE
    )
    assert not result and "statistics over the wrong axis? Rows are examples" in result.hint


def test_a_broadcasting_error_in_a_gradient_step_gets_no_axis_hint():
    """Lesson 02 computes no statistics: its hint is about the shapes of the step."""

    def elementwise(X, y, w, b, lr):
        r = X @ w + b - y
        return w - lr * (X * r).mean(axis=0), b - lr * r.mean()

    result = checks.check_gradient_descent_step(elementwise, timeout=SAFE)
    assert not result and "could not be broadcast" in result.hint
    assert "axis" not in result.hint and "takes a matrix product" in result.hint


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


# ------------------------------------------------------------------ only plain data crosses back
def _toy_check(fn, timeout=FAST):
    """A checker of the generic kind, for the exhaustive tables below."""
    cases = [_core.Case("X of shape (2, 2)", (np.arange(4.0).reshape(2, 2),))]
    return _core.check_against_reference(
        "double", fn, cases, lambda X: 2 * X, arg_names=("X",), timeout=timeout
    )


CONTAINERS = {"bare": None, "in a tuple": tuple, "in a list": list}
RETURNED_OBJECTS = [(m, "loop", c) for m in HOSTILE_METHODS for c in CONTAINERS] + [
    (m, mode, c)
    for m in ("__array__", "__getattribute__")
    for mode in ("loop", "sleep")
    for c in CONTAINERS
]


@pytest.mark.parametrize(
    ("method", "mode", "container"),
    RETURNED_OBJECTS,
    ids=[f"{m}-{mode}-{c}" for m, mode, c in RETURNED_OBJECTS],
)
def test_a_returned_object_never_runs_its_methods_in_the_checker(method, mode, container):
    cls = _hostile_class((method,), mode)
    wrap = CONTAINERS[container]

    def fn(X):
        return cls() if wrap is None else wrap([cls(), 1.0])

    start = time.monotonic()
    with watchdog(WATCHDOG):
        result = _toy_check(fn)
    assert time.monotonic() - start < _core.BUDGET_FACTOR * FAST + 1.5
    assert not result and result.hint, str(result)
    if method in ("__array__", "__getattribute__"):  # called in the child: it times out there
        assert "turning it into numbers did not finish within 0.3 s" in result.hint
    elif wrap is None:
        assert f"is {_sandbox._a(cls.__name__)} object, expected a numpy array" in result.hint
    else:
        assert f"is a {wrap.__name__}: return a numpy array" in result.hint


def test_plain_keeps_numbers_and_describes_the_rest():
    plain, Described = _sandbox.plain, _sandbox.Described
    assert plain(None) is None and plain(2.5) == 2.5 and plain("a") == "a"
    assert type(plain(np.float64(1.5))) is np.float64
    arr = plain(np.ma.masked_array([[1.0, 2.0]]))  # a subclass comes back as a plain array
    assert type(arr) is np.ndarray and arr.shape == (1, 2)
    nested = plain((np.zeros(2), [1, True]))
    assert type(nested) is tuple and type(nested[1]) is list
    assert plain({"a": 1}) == Described("a dict object")
    assert plain(x for x in ()) == Described("a generator object")
    assert plain(np.array([None, 1.0])).text.startswith("an array of Python objects")

    class MyFloat(float):
        def __eq__(self, other):
            while True:
                pass

    assert type(plain(MyFloat(2.0))) is float


class _Sneaky:
    pass


def test_the_parent_unpickles_only_plain_data():
    """A child whose pickling was tampered with (the learner replaced pickle.dumps in
    it) still cannot make the parent build another class."""
    import pickle

    good = _sandbox._read_back(pickle.dumps(_sandbox.Outcome(value=(np.ones(2), 1 + 2j))))
    assert good.ok and good.value[1] == 1 + 2j
    bad = _sandbox._read_back(pickle.dumps(_sandbox.Outcome(value=_Sneaky())))
    assert not bad.ok and "could not be read back (UnpicklingError)" in bad.error
    exits = _sandbox._read_back(pickle.dumps(_ExitsWhenReadBack()))
    assert not exits.ok and "could not be read back" in exits.error


def test_closing_or_writing_the_standard_descriptors_does_not_reach_the_caller(capfd):
    result = checks.check_normalize(_writes_std_fds(normalize_reference()), timeout=SAFE)
    assert not result and "has shape" in result.hint
    result = checks.check_normalize(_closes_std_fds(normalize_reference()), timeout=SAFE)
    assert not result and "has shape" in result.hint
    out, err = capfd.readouterr()
    assert "hostile bytes" not in out + err
    for fd in (0, 1, 2):
        os.fstat(fd)  # still open here
    print("still printing")
    assert "still printing" in capfd.readouterr().out


def normalize_reference():
    from course_lib.normalization import normalize

    return normalize


def test_the_memory_limit_stops_real_memory_use(monkeypatch):
    monkeypatch.setattr(_sandbox, "MEMORY_HEADROOM", 128 * 2**20)

    def hoard():
        kept = []
        while True:
            kept.append(np.ones(2**20))  # 8 MB, written

    out = call_safely(hoard, timeout=20)
    assert out.error and out.error.startswith("MemoryError"), out
    problem = _core.outcome_problem(out, (), 20)
    assert "far more memory than these small cases" in problem


# ------------------------------------------------------------------ first imports
def _module(tmp_path, monkeypatch, name: str, body: str) -> None:
    (tmp_path / f"{name}.py").write_text(body)
    monkeypatch.syspath_prepend(str(tmp_path))


def test_a_first_import_is_not_counted_in_the_time_limit(tmp_path, monkeypatch):
    _module(tmp_path, monkeypatch, "slow_to_import", "import time\ntime.sleep(0.8)\nK = 2.0\n")

    def doubles(X):
        import slow_to_import

        return slow_to_import.K * X

    result = _toy_check(doubles, timeout=0.5)
    assert result, str(result)
    # the learner's own module is imported in the child only, never in the checker's process
    assert "slow_to_import" not in sys.modules


def test_an_import_that_never_ends_is_stopped(tmp_path, monkeypatch):
    _module(tmp_path, monkeypatch, "never_imported", "while True:\n    pass\n")
    monkeypatch.setattr(_sandbox, "IMPORT_ALLOWANCE", 0.5)

    def doubles(X):
        import never_imported  # noqa: F401

        return 2 * X

    start = time.monotonic()
    result = _toy_check(doubles, timeout=0.3)
    assert time.monotonic() - start < 3.0
    assert not result and "still importing never_imported after 0.5 s" in result.hint


def test_installed_modules_the_function_imports_are_warmed_in_the_parent():
    def uses(X):
        import email.mime.text  # noqa: F401 - the standard library: not warmed

        from sklearn.preprocessing import StandardScaler  # noqa: F401

        return X

    def helper_user(X):
        return uses(X)

    names = list(_sandbox._imported_names(uses.__code__))
    assert names == ["email.mime.text", "sklearn.preprocessing"]
    assert [f.__name__ for f in _sandbox._functions_to_scan([helper_user])] == [
        "helper_user",
        "uses",
    ]
    assert _sandbox._installed("sklearn.preprocessing")
    assert not _sandbox._installed("email.mime.text") and not _sandbox._installed("os")


SKLEARN_SOLUTION = """
import sys, time
import numpy as np
from course_lib import checks

def fit_normalizer(X):
    from sklearn.preprocessing import StandardScaler
    scaler = StandardScaler().fit(X)
    return scaler.mean_, scaler.scale_

assert "sklearn" not in sys.modules
start = time.perf_counter()
result = checks.check_fit_normalizer(fit_normalizer, timeout={timeout})
print(bool(result), round(time.perf_counter() - start, 2), str(result))
"""


def test_a_solution_importing_scikit_learn_passes_with_a_limit_below_its_import_time(
    tmp_path,
):
    """In a fresh interpreter (scikit-learn not imported yet, ~1 s here, up to 13 s on a
    loaded machine), a per-call limit of 0.5 s: the import is not counted."""
    import subprocess

    script = tmp_path / "solution.py"
    script.write_text(SKLEARN_SOLUTION.format(timeout=0.5))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    ok, _, text = done.stdout.strip().split(" ", 2)
    assert ok == "True", done.stdout
