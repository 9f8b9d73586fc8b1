"""The machinery behind every exercise checker.

A checker runs the learner's function on a few cases, compares with the
reference, and when they differ tries the known typical mistakes to give a hint
that names the mistake. Whatever the learner's function does (raise, loop
forever, print, return None or a list, mutate its inputs, exit the process) the
checker returns a ``CheckResult`` and never raises: the function runs in a
forked child process (where the platform has ``fork``) with a time limit per
call (``DEFAULT_TIMEOUT``, 5 s, or ``COURSE_CHECK_TIMEOUT`` from the
environment) and, in ``check_against_reference``, a budget for the whole check
(``BUDGET_FACTOR`` calls' worth), so a checker returns long before an
autograder's cell limit. In the child, a function written in a notebook may not
call the course_lib function it is meant to replace.

Hints come in two levels. A ``Mistake(hint, produce, more=None)`` is a typical
wrong implementation: when the learner's output equals ``produce(...)``, the
failure shows ``hint`` (level 1: what the learner did wrong and the right idea,
in plain words, never the code or the formula the exercise asks for). ``more``
(level 2, optional) is more concrete: it may give the formula or a fragment of
code. The learner gets level 2 in two ways:

* ``result.more()`` on the returned ``CheckResult``: plain text when printed,
  HTML when it is the value of a notebook cell;
* running the same checker again on a function that still fails the same way
  (same failing case, same level-1 hint): that result shows level 2 below the
  hint. The state is one entry per checker name (``_last_failure``: the last
  failure it reported); a passing run of that checker removes it.

The first feedback of a failure (``str(result)``, ``result._repr_html_()``)
never contains level 2, and ``assert_ok()``'s message never does (a graded
cell run right after the feedback cell would otherwise hand it out). A passing
result reads ``✔ name: all N checks passed.``, as before.
"""

from __future__ import annotations

import contextlib
import html
import io
import math
import os
import pickle
import select
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _timeout_from_environment(default: float = 5.0) -> float:
    """Seconds per call: ``COURSE_CHECK_TIMEOUT`` if set to a positive number, else 5.

    An instructor (or the test suite) can shorten or lengthen every checker's
    limit for a whole autograde run without touching the notebooks.
    """
    try:
        value = float(os.environ.get("COURSE_CHECK_TIMEOUT", default))
    except ValueError:
        return default
    return value if math.isfinite(value) and value > 0 else default


DEFAULT_TIMEOUT = _timeout_from_environment()  # seconds per call of the learner's function
BUDGET_FACTOR = 3  # a whole check may take this many per-call limits, in total

_deadline: float | None = None  # time.monotonic() when the current check's budget ends


@contextlib.contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Limit the total time of every ``call_safely`` inside the block.

    Each call gets at most what is left of the budget, so a checker that calls a
    slow function many times still returns in about ``seconds`` (well before an
    autograder's cell time limit). Budgets nest: the inner one cannot extend the outer.
    """
    global _deadline
    previous = _deadline
    end = time.monotonic() + max(float(seconds), 0.0)
    _deadline = end if previous is None else min(previous, end)
    try:
        yield
    finally:
        _deadline = previous


_CALLS_REFERENCE = "calls the course_lib reference"
# Outcome.error texts that describe what happened without an exception of the learner's.
_ENDED_THE_PROCESS = "the function ended the process (exit or crash) instead of returning"
_UNREADABLE = "the function's return value could not be read back"


def _learner_names(*values: Any) -> tuple[str, ...]:
    """Names of the functions among ``values`` written in a notebook or script.

    The learner's function has the name of the course_lib function it replaces:
    in the child process, course_lib's functions of these names raise, so a
    solution that merely calls the reference is refused. The tests pass the
    references and wrappers of them, defined in modules: those are left alone.
    """
    return tuple(
        dict.fromkeys(
            v.__name__
            for v in values
            if callable(v)
            and getattr(v, "__module__", None) == "__main__"
            and hasattr(v, "__name__")
        )
    )


_also_forbidden: tuple[str, ...] = ()  # more course_lib functions a learner may not call


@contextlib.contextmanager
def forbid_calls(*names: str) -> Iterator[None]:
    """Inside the block, a learner's function may not call these course_lib functions
    either (besides the one it replaces), e.g. ``batchnorm_forward`` in an exercise
    that asks for a whole layer written with numpy."""
    global _also_forbidden
    previous = _also_forbidden
    _also_forbidden = tuple(dict.fromkeys(previous + names))
    try:
        yield
    finally:
        _also_forbidden = previous


def _interactive() -> bool:
    """True in a notebook kernel or an interactive session (``__main__`` has no file)."""
    return not hasattr(sys.modules.get("__main__"), "__file__")


def _course_lib_function(*values: Any) -> str | None:
    """The name of a course_lib function (outside the checkers) among ``values``, if any."""
    for v in values:
        module = getattr(v, "__module__", None) or ""
        if callable(v) and module.startswith("course_lib.") and ".checks" not in module:
            return getattr(v, "__name__", module)
    return None


def _install_tripwires(names: Sequence[str]) -> None:
    """In the child: make course_lib's functions of these names raise when called."""
    for module_name, module in list(sys.modules.items()):
        inside = module_name == "course_lib" or module_name.startswith("course_lib.")
        if not inside or module_name.startswith("course_lib.checks"):
            continue
        for name in names:
            func = getattr(module, name, None)
            if getattr(func, "__module__", "") != module_name or not hasattr(func, "__code__"):
                continue
            message = f"{_CALLS_REFERENCE} {name}"
            namespace: dict[str, Any] = {}
            exec(f"def tripwire(*a, **k):\n    raise RuntimeError({message!r})", namespace)
            with contextlib.suppress(ValueError, TypeError):  # e.g. a closure: leave it
                func.__code__ = namespace["tripwire"].__code__


# --------------------------------------------------------------------------- results
_STUCK = "(Stuck? Run this check again, or call .more() on its result, for a more concrete hint.)"


@dataclass(frozen=True)
class MoreHint:
    """The second level of a hint, as ``CheckResult.more()`` returns it."""

    name: str
    text: str

    def __str__(self) -> str:
        return f"{self.name}, more: {self.text}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return (
            '<div style="border-left:4px solid #9a6700;background:#fff8c5;'
            f'padding:6px 10px;font-family:sans-serif"><b>{html.escape(self.name)}, more:</b> '
            f"{html.escape(self.text)}</div>"
        )


@dataclass
class CheckResult:
    """Outcome of one checker: truthy only when every case passed.

    name: what was checked; passed: all cases agree; cases_run: how many ran;
    case: the failing case (a short description); hint: what to fix (level 1);
    details: extra lines (values, what the function printed); more_hint: the
    second level (``more()``); level: 2 when this result shows the second level
    (the same failure again, see the module docstring), else 1.
    """

    name: str
    passed: bool
    cases_run: int = 0
    case: str | None = None
    hint: str | None = None
    details: list[str] = field(default_factory=list)
    more_hint: str | None = None
    level: int = 1

    def __bool__(self) -> bool:
        return self.passed

    def _shows_more(self) -> bool:
        return self.level >= 2 and bool(self.more_hint)

    def _text(self, with_more: bool) -> str:
        if self.passed:
            return f"✔ {self.name}: all {self.cases_run} checks passed."
        lines = [f"✘ {self.name}: failed on {self.case}.", f"  Hint: {self.hint}"]
        lines += [f"  {d}" for d in self.details]
        if with_more:
            lines.append(f"  More: {self.more_hint}")
        elif self.more_hint:
            lines.append(f"  {_STUCK}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._text(self._shows_more())

    __repr__ = __str__

    def _repr_html_(self) -> str:
        color, bg = ("#1a7f37", "#e6f4ea") if self.passed else ("#b42318", "#fdecea")
        if self.passed:
            body = f"<b>✔ {html.escape(self.name)}</b>: all {self.cases_run} checks passed."
        else:
            extra = "".join(f"<br><code>{html.escape(d)}</code>" for d in self.details)
            if self._shows_more():
                extra += f"<br><b>More:</b> {html.escape(self.more_hint or '')}"
            elif self.more_hint:
                extra += f"<br><i>{html.escape(_STUCK)}</i>"
            body = (
                f"<b>✘ {html.escape(self.name)}</b>: failed on {html.escape(str(self.case))}."
                f"<br><b>Hint:</b> {html.escape(str(self.hint))}{extra}"
            )
        return (
            f'<div style="border-left:4px solid {color};background:{bg};'
            f'padding:6px 10px;font-family:sans-serif">{body}</div>'
        )

    def more(self) -> MoreHint:
        """The second, more concrete level of the hint (it may show a formula or code).

        Displays as HTML when it is the value of a notebook cell; ``print`` shows text.
        """
        if self.passed:
            return MoreHint(self.name, "all checks passed: there is nothing more to say.")
        if self.more_hint:
            return MoreHint(self.name, self.more_hint)
        return MoreHint(self.name, f"no second level for this failure; the hint is: {self.hint}")

    def assert_ok(self) -> CheckResult:
        """Raise AssertionError carrying the hint if the check failed; else return self.

        For graded test cells: the grader records the failure with its level-1 hint
        (never the second level, see the module docstring).
        """
        if not self.passed:
            raise AssertionError(self._text(with_more=False))
        return self


def passed(name: str, cases_run: int) -> CheckResult:
    return CheckResult(name, True, cases_run)


def failed(
    name: str, cases_run: int, case: str, hint: str, *details: str, more: str | None = None
) -> CheckResult:
    """A failing result: level-1 ``hint``, ``details`` lines, level-2 ``more`` (optional)."""
    return CheckResult(name, False, cases_run, case, hint, list(details), more)


# The last failure each checker reported, by checker name: (case, level-1 hint).
_last_failure: dict[str, tuple[str | None, str | None]] = {}


def escalate(result: CheckResult) -> CheckResult:
    """Record ``result`` for its checker; show level 2 if it repeats the last failure.

    A passing result forgets the checker's last failure. ``run_check`` calls this
    for every checker, so a checker written with it gets the escalation for free.
    """
    if result.passed:
        _last_failure.pop(result.name, None)
        return result
    key = (result.case, result.hint)
    if _last_failure.get(result.name) == key:
        result.level = 2
    _last_failure[result.name] = key
    return result


# ---------------------------------------------------------------- calling safely
@dataclass
class Outcome:
    """What happened when the learner's function was called."""

    value: Any = None
    error: str | None = None  # "ZeroDivisionError: division by zero", ...
    timed_out: bool = False
    printed: str = ""
    mutated: list[int] = field(default_factory=list)  # indices of array args changed
    over_budget: bool = False  # timed out because the whole check ran out of time
    mutated_kwargs: list[str] = field(default_factory=list)  # keyword args changed

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out


@dataclass
class _Frozen:
    """A copy of a list, tuple or dict argument (and of the arrays inside it)."""

    kind: type
    items: Any


def _freeze(value: Any, depth: int = 0) -> Any:
    """A copy of the arrays in ``value`` (also inside lists, tuples, dicts), else None."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if depth < 4 and isinstance(value, list | tuple):
        return _Frozen(list, [_freeze(v, depth + 1) for v in value])
    if depth < 4 and isinstance(value, dict):
        return _Frozen(dict, {k: _freeze(v, depth + 1) for k, v in value.items()})
    return None


def _changed(value: Any, frozen: Any) -> bool:
    if frozen is None:
        return False
    if isinstance(frozen, np.ndarray):
        if not isinstance(value, np.ndarray) or value.shape != frozen.shape:
            return True
        try:
            return not np.array_equal(value, frozen, equal_nan=True)
        except TypeError:  # object arrays have no NaN test
            return not np.array_equal(value, frozen)
    if frozen.kind is list:
        return (
            not isinstance(value, list | tuple)
            or len(value) != len(frozen.items)
            or any(_changed(v, f) for v, f in zip(value, frozen.items, strict=True))
        )
    return (
        not isinstance(value, dict)
        or value.keys() != frozen.items.keys()
        or any(_changed(value[k], f) for k, f in frozen.items.items())
    )


def _snapshot(args: Sequence[Any]) -> list[Any]:
    return [_freeze(a) for a in args]


def _mutated(args: Sequence[Any], before: list[Any]) -> list[int]:
    return [i for i, (a, b) in enumerate(zip(args, before, strict=True)) if _changed(a, b)]


def _describe_error(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" (line {tb[-1].lineno})" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _call_here(fn: Callable, args: Sequence[Any], kwargs: dict) -> Outcome:
    """Call fn in this process, capturing output and exceptions (no time limit)."""
    before = _snapshot(args)
    before_kwargs = {k: _freeze(v) for k, v in kwargs.items()}
    buf = io.StringIO()
    out = Outcome()
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            out.value = fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - the learner's code may raise anything
        out.error = _describe_error(exc)
    out.printed = buf.getvalue()[-2000:]
    out.mutated = _mutated(args, before)
    out.mutated_kwargs = [k for k, v in kwargs.items() if _changed(v, before_kwargs[k])]
    return out


def call_safely(fn: Callable, *args: Any, timeout: float | None = None, **kwargs: Any) -> Outcome:
    """Call ``fn(*args, **kwargs)`` in a forked child with a time limit.

    The child gets its own copy of the arguments, so nothing the function does
    reaches the caller's objects or process; mutations are detected in the child
    and reported. timeout: seconds (default ``DEFAULT_TIMEOUT``), cut to what is
    left of an enclosing ``time_budget``. Without ``fork`` (Windows) the call runs
    here, without a limit.
    """
    if not callable(fn):
        return Outcome(error=f"TypeError: expected a function, got {type(fn).__name__}")
    own = _course_lib_function(fn, *args, *kwargs.values()) if _interactive() else None
    if own:  # in a notebook, the checker was handed course_lib's function itself
        return Outcome(error=f"RuntimeError: {_CALLS_REFERENCE} {own} (it is course_lib's)")
    limit = DEFAULT_TIMEOUT if timeout is None else float(timeout)
    over_budget = False
    if _deadline is not None:
        left = _deadline - time.monotonic()
        if left < limit:
            limit, over_budget = max(left, 0.0), True
    if limit <= 0:
        return Outcome(timed_out=True, over_budget=over_budget)
    if not hasattr(os, "fork"):
        return _call_here(fn, args, kwargs)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into the caller's code
        _run_child(fn, args, kwargs, read_fd, write_fd)
    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + limit
    finished = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([read_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                finished = True
                break
            chunks.append(chunk)
    finally:
        # Timed out, or interrupted (KeyboardInterrupt): the child must not outlive us.
        os.close(read_fd)
        if not finished:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    if not finished:
        return Outcome(timed_out=True, over_budget=over_budget)
    if not chunks:
        return Outcome(error=_ENDED_THE_PROCESS)
    try:
        return pickle.loads(b"".join(chunks))
    except BaseException as exc:  # noqa: BLE001 - rebuilding the value runs the learner's code
        # e.g. a class that cannot be rebuilt here, or a __reduce__ that calls sys.exit
        why = f"{_UNREADABLE} ({type(exc).__name__})"
        return Outcome(error=f"{why}: return numpy arrays or numbers")


def _run_child(fn: Callable, args: Sequence[Any], kwargs: dict, read_fd: int, write_fd: int):
    """In the forked child: call fn, send the pickled Outcome through the pipe, exit."""
    code = 0
    try:
        os.close(read_fd)
        # Output written below Python (C code, os.write) must not reach the
        # notebook through the parent's file descriptors; no core dumps either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        with contextlib.suppress(Exception):
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        forbidden = _learner_names(fn, *args, *kwargs.values())
        if forbidden:
            _install_tripwires(forbidden + _also_forbidden)
        outcome = _call_here(fn, args, kwargs)
        try:
            payload = pickle.dumps(outcome)
        except Exception:  # noqa: BLE001 - e.g. a returned lambda or generator
            outcome.value = _Unpicklable(type(outcome.value).__name__)
            payload = pickle.dumps(outcome)
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(payload)
    except BaseException:  # noqa: BLE001
        code = 1
    finally:
        os._exit(code)


@dataclass
class _Unpicklable:
    type_name: str


# ---------------------------------------------------------------- comparing values
def describe_value(value: Any) -> str:
    """A short description of a returned value (never runs the learner's ``__repr__``)."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}, dtype {value.dtype}"
    if isinstance(value, _Unpicklable):
        return f"a {value.type_name} object"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)} item(s)"
    if isinstance(value, bool | int | float | complex | str | bytes | np.generic):
        return f"{type(value).__name__} {value!r}"[:120]
    return f"a {type(value).__name__} object"


_NOT_NUMBERS = {
    "c": "complex numbers",
    "U": "text",
    "S": "bytes",
    "V": "raw records",
    "O": "Python objects (None, or items of different lengths?)",
    "M": "dates",
    "m": "time spans",
}


def to_array(
    value: Any,
    expected_shape: tuple[int, ...],
    what: str,
    expected_dtype: Any = None,
) -> tuple[np.ndarray | None, str | None]:
    """Turn a returned value into a float array of the expected shape, or say why not.

    Complex, text and object values are refused (a plain conversion would drop
    imaginary parts or parse strings). With ``expected_dtype`` a floating type,
    True/False values are refused too.
    """
    if value is None:
        return None, f"{what} is None: did the function forget to `return` it?"
    if isinstance(value, _Unpicklable):
        return None, f"{what} is a {value.type_name}, expected a numpy array"
    try:
        raw = np.asarray(value)
    except Exception:  # noqa: BLE001 - ragged lists, objects whose __array__ fails, ...
        return None, f"{what} is {describe_value(value)}, expected a numpy array of numbers"
    if raw.dtype.kind in _NOT_NUMBERS:
        held = f"{_NOT_NUMBERS[raw.dtype.kind]}, dtype {raw.dtype}"
        if isinstance(value, np.ndarray):
            return None, f"{what} is an array of {held}: expected real numbers"
        return None, f"{what} is {describe_value(value)} ({held}): expected a numpy array"
    floating = expected_dtype is not None and np.dtype(expected_dtype).kind == "f"
    if raw.dtype.kind == "b" and floating:
        return None, f"{what} is True/False values (dtype bool): expected real numbers"
    try:
        arr = np.asarray(raw, dtype=float)
    except Exception:  # noqa: BLE001
        return None, f"{what} is {describe_value(value)}, expected a numpy array of numbers"
    if arr.shape != tuple(expected_shape):
        return None, (
            f"{what} has shape {arr.shape}, expected {tuple(expected_shape)}"
            + _axis_hint(arr.shape, expected_shape)
        )
    if not np.all(np.isfinite(arr)):
        return (
            None,
            f"{what} contains NaN or inf: look for a division by zero or a sqrt of a negative",
        )
    return arr, None


def _axis_hint(got: tuple[int, ...], expected: Sequence[int]) -> str:
    if got == () and len(expected) == 1:
        return ": a single number for the whole matrix; compute one value per feature with axis=0"
    if len(got) == len(expected) == 1 or (len(got) == 2 and got == tuple(expected)[::-1]):
        return " (statistics over the wrong axis? rows are examples: use axis=0)"
    if len(got) == 2 and len(expected) == 1 and expected[0] in got:
        return " (keepdims? return one value per feature, shape (n,))"
    return ""


def close(a: Any, b: Any, rtol: float = 1e-6, atol: float = 1e-8) -> bool:
    """True when every array in a and b (arrays or tuples of arrays) agree."""
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return len(a) == len(b) and all(close(x, y, rtol, atol) for x, y in zip(a, b, strict=True))
    try:
        a = np.asarray(a, dtype=float)
        b = np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def first_difference(got: np.ndarray, expected: np.ndarray) -> str:
    idx = np.unravel_index(np.argmax(np.abs(got - expected)), got.shape)
    return (
        f"at index {tuple(int(i) for i in idx)}: got {got[idx]:.6g}, expected {expected[idx]:.6g}"
    )


# ---------------------------------------------------------------- the generic checker
@dataclass
class Case:
    """One call of the learner's function: a label for messages and the arguments."""

    label: str
    args: tuple
    kwargs: dict = field(default_factory=dict)


@dataclass
class Mistake:
    """A typical wrong implementation: when the learner's output equals what
    ``produce(*args, **kwargs)`` returns, ``hint`` names the mistake (level 1:
    what is wrong and the right idea in plain words, no code or formula of the
    solution) and ``more`` (level 2, optional) says it concretely."""

    hint: str
    produce: Callable[..., Any]
    more: str | None = None


def check_against_reference(
    name: str,
    fn: Any,
    cases: Sequence[Case],
    reference: Callable[..., Any],
    mistakes: Sequence[Mistake] = (),
    *,
    output_names: Sequence[str] = ("the result",),
    arg_names: Sequence[str] = (),
    rtol: float = 1e-6,
    atol: float = 1e-8,
    timeout: float | None = None,
    total_timeout: float | None = None,
    forbid: Sequence[str] = (),
) -> CheckResult:
    """Run ``fn`` on every case and compare with ``reference``; never raises.

    reference(*args) returns one array (len(output_names) == 1) or a tuple of
    arrays. The first failing case stops the check with the most specific hint:
    error, time-out, mutated input, wrong type/shape/NaN, a known mistake, or
    the first differing value. timeout: seconds per call (``DEFAULT_TIMEOUT``);
    total_timeout: seconds for all calls together (``BUDGET_FACTOR * timeout``).
    forbid: course_lib functions the learner's may not call, besides ``name``
    (see ``forbid_calls``). Warnings of the reference or the mistakes are not shown.
    """
    timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
    budget = BUDGET_FACTOR * timeout if total_timeout is None else float(total_timeout)
    return run_check(
        name,
        lambda: _check(
            name, fn, cases, reference, mistakes, output_names, arg_names, rtol, atol, timeout
        ),
        budget,
        forbid,
    )


def run_check(
    name: str, check: Callable[[], CheckResult], budget: float, forbid: Sequence[str] = ()
) -> CheckResult:
    """``check()`` within a time budget (seconds) for all its calls, with the course_lib
    functions ``forbid`` refused (see ``forbid_calls``), warnings and numpy's floating
    point warnings silenced; never raises: a problem of the checker itself becomes a
    failed result that says so."""
    try:
        with (
            time_budget(budget),
            forbid_calls(*forbid),
            warnings.catch_warnings(),
            np.errstate(all="ignore"),
        ):
            warnings.simplefilter("ignore")
            result = check()
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a checker must never raise
        # (SystemExit: e.g. a returned object's __array__, run here, that calls sys.exit)
        why = f"unexpected problem: {_describe_error(exc)}"
        result = failed(name, 0, "the checker itself", why)
    return escalate(result)


def matching_mistake(
    got: Any,
    mistakes: Sequence[Mistake],
    args: Sequence[Any],
    kwargs: dict | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-8,
) -> Mistake | None:
    """The first mistake whose ``produce(*args, **kwargs)`` is close to ``got``, or None.

    A mistake that raises does not apply to these arguments and is skipped."""
    for mistake in mistakes:
        try:
            with np.errstate(all="ignore"):
                wrong = mistake.produce(*args, **(kwargs or {}))
        except Exception:  # noqa: BLE001 - a mistake that does not apply to this case
            continue
        if close(got, wrong, rtol, atol):
            return mistake
    return None


def _check(name, fn, cases, reference, mistakes, output_names, arg_names, rtol, atol, timeout):
    if not callable(fn):
        return failed(
            name, 0, "the argument", f"pass your function itself, got {describe_value(fn)}"
        )
    for k, case in enumerate(cases, start=1):
        outcome = call_safely(fn, *case.args, timeout=timeout, **case.kwargs)
        problem = outcome_problem(outcome, arg_names, timeout)
        if problem:
            return failed(name, k - 1, case.label, problem, *printed_details(outcome))
        if outcome.value is None:
            hint = returned_none_hint(output_names)
            return failed(name, k - 1, case.label, hint, *printed_details(outcome))
        expected = reference(*case.args, **case.kwargs)
        single = len(output_names) == 1
        expected_t = (expected,) if single else tuple(expected)
        got = outcome.value
        if single:
            got_t: Sequence[Any] = (got,)
        elif not isinstance(got, tuple | list) or len(got) != len(expected_t):
            return failed(
                name,
                k - 1,
                case.label,
                f"return {len(expected_t)} values ({', '.join(output_names)}), "
                f"got {describe_value(got)}",
            )
        else:
            got_t = got
        arrays = []
        for g, e, what in zip(got_t, expected_t, output_names, strict=True):
            if isinstance(e, np.ndarray) and e.ndim and isinstance(g, list | tuple):
                why = (
                    f"{what} is a {type(g).__name__}: return a numpy array "
                    "(numpy operations on arrays give one; np.array(...) converts)"
                )
            else:
                arr, why = to_array(g, np.shape(e), what, np.asarray(e).dtype)
            if why:
                return failed(name, k - 1, case.label, why, *printed_details(outcome))
            arrays.append(arr)
        got_value = arrays[0] if single else tuple(arrays)
        if close(got_value, expected, rtol, atol):
            continue
        mistake = matching_mistake(got_value, mistakes, case.args, case.kwargs, rtol, atol)
        if mistake is not None:
            return failed(name, k - 1, case.label, mistake.hint, more=mistake.more)
        for g, raw, e, what in zip(arrays, got_t, expected_t, output_names, strict=True):
            e = np.asarray(e)
            if not np.allclose(g, e, rtol=rtol, atol=atol):
                dtype = np.asarray(raw).dtype
                note = (
                    f" ({what} holds integers, dtype {dtype}: use float arithmetic)"
                    if dtype.kind in "iu" and e.dtype.kind == "f"
                    else ""
                )
                e = e.astype(float)
                return failed(
                    name,
                    k - 1,
                    case.label,
                    f"{what} differs from the expected value {first_difference(g, e)}{note}",
                )
    return passed(name, len(cases))


def outcome_problem(outcome: Outcome, arg_names: Sequence[str], timeout: float) -> str | None:
    """The hint for an outcome that cannot be compared at all, or None.

    arg_names: the names of the positional arguments, for "modified its input ...";
    timeout: the limit per call, for "did not return within ...".
    """
    if outcome.timed_out and outcome.over_budget:
        return (
            "the function is too slow: the checks ran out of time before it returned "
            "(an endless loop, or much more work than the formula needs)"
        )
    if outcome.timed_out:
        return f"the function did not return within {timeout:g} s: look for an endless loop"
    if outcome.error:
        if "NotImplementedError" in outcome.error:
            return "the function is not written yet (it raises NotImplementedError)"
        if _CALLS_REFERENCE in outcome.error:
            called = outcome.error.split(_CALLS_REFERENCE, 1)[1].split()[0]
            if "(it is course_lib's)" in outcome.error:
                return (
                    f"that is course_lib's own {called}, not yours: define your function in "
                    "the exercise cell (def ...) and pass that one"
                )
            return (
                f"the function calls course_lib's {called}: the exercise is to write it "
                "yourself, with numpy"
            )
        if outcome.error.startswith((_ENDED_THE_PROCESS, _UNREADABLE)):
            return outcome.error  # not an exception of the function's: said as it is
        problem = f"the function raised {outcome.error}"
        if "broadcast" in outcome.error:
            problem += (
                " — statistics over the wrong axis? Rows are examples: mean and variance "
                "over axis=0 give one value per feature, shape (n,)"
            )
        return problem
    if outcome.mutated or outcome.mutated_kwargs:
        names = [
            arg_names[i] if i < len(arg_names) else f"argument {i + 1}" for i in outcome.mutated
        ] + list(outcome.mutated_kwargs)
        return (
            f"the function modified its input {', '.join(names)}: work on new arrays "
            "(X = X - mu makes a new array; X -= mu writes into the caller's data)"
        )
    return None


def returned_none_hint(output_names: Sequence[str]) -> str:
    """The hint for a function that returned None (it has no `return`, or a bare one)."""
    if not all(n.isidentifier() for n in output_names):  # e.g. "the learning rate"
        what = " and ".join(output_names)
        return f"the function returned None: did it forget to `return` {what}?"
    what = "its result" if len(output_names) == 1 else f"its {len(output_names)} results"
    return (
        f"the function returned None: did it forget to `return` {what}? "
        f"Write `return {', '.join(output_names)}`"
    )


def printed_details(outcome: Outcome) -> list[str]:
    """A detail line with what the function printed (its start), if it printed anything."""
    text = outcome.printed.strip()
    return [f"(it printed: {text[:200]!r})"] if text else []
