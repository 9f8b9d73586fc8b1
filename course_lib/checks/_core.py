"""The machinery behind every exercise checker.

A checker runs the learner's function on a few cases, compares with the
reference, and when they differ tries the known typical mistakes to give a hint
that names the mistake. Whatever the learner's function does (raise, loop
forever, print, return None or a list, mutate its inputs, exit the process) the
checker returns a ``CheckResult`` and never raises: the function runs in a
forked child process with a time limit (where the platform has ``fork``).
"""

from __future__ import annotations

import contextlib
import html
import io
import os
import pickle
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_TIMEOUT = 5.0  # seconds per call of the learner's function


# --------------------------------------------------------------------------- results
@dataclass
class CheckResult:
    """Outcome of one checker: truthy only when every case passed.

    name: what was checked; passed: all cases agree; cases_run: how many ran;
    case: the failing case (a short description); hint: what to fix.
    """

    name: str
    passed: bool
    cases_run: int = 0
    case: str | None = None
    hint: str | None = None
    details: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        if self.passed:
            return f"✔ {self.name}: all {self.cases_run} checks passed."
        lines = [f"✘ {self.name}: failed on {self.case}.", f"  Hint: {self.hint}"]
        lines += [f"  {d}" for d in self.details]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        color, bg = ("#1a7f37", "#e6f4ea") if self.passed else ("#b42318", "#fdecea")
        if self.passed:
            body = f"<b>✔ {html.escape(self.name)}</b>: all {self.cases_run} checks passed."
        else:
            extra = "".join(f"<br><code>{html.escape(d)}</code>" for d in self.details)
            body = (
                f"<b>✘ {html.escape(self.name)}</b>: failed on {html.escape(str(self.case))}."
                f"<br><b>Hint:</b> {html.escape(str(self.hint))}{extra}"
            )
        return (
            f'<div style="border-left:4px solid {color};background:{bg};'
            f'padding:6px 10px;font-family:sans-serif">{body}</div>'
        )

    def assert_ok(self) -> CheckResult:
        """Raise AssertionError carrying the hint if the check failed; else return self.

        For graded test cells: the grader records the failure with its hint.
        """
        if not self.passed:
            raise AssertionError(str(self))
        return self


def passed(name: str, cases_run: int) -> CheckResult:
    return CheckResult(name, True, cases_run)


def failed(name: str, cases_run: int, case: str, hint: str, *details: str) -> CheckResult:
    return CheckResult(name, False, cases_run, case, hint, list(details))


# ---------------------------------------------------------------- calling safely
@dataclass
class Outcome:
    """What happened when the learner's function was called."""

    value: Any = None
    error: str | None = None  # "ZeroDivisionError: division by zero", ...
    timed_out: bool = False
    printed: str = ""
    mutated: list[int] = field(default_factory=list)  # indices of array args changed
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out


def _snapshot(args: Sequence[Any]) -> list[np.ndarray | None]:
    return [a.copy() if isinstance(a, np.ndarray) else None for a in args]


def _mutated(args: Sequence[Any], before: list[np.ndarray | None]) -> list[int]:
    changed = []
    for i, (a, b) in enumerate(zip(args, before, strict=True)):
        if b is None:
            continue
        if (
            not isinstance(a, np.ndarray)
            or a.shape != b.shape
            or not np.array_equal(a, b, equal_nan=True)
        ):
            changed.append(i)
    return changed


def _describe_error(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" (line {tb[-1].lineno})" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _call_here(fn: Callable, args: Sequence[Any], kwargs: dict) -> Outcome:
    """Call fn in this process, capturing output and exceptions (no time limit)."""
    before = _snapshot(args)
    buf = io.StringIO()
    start = time.perf_counter()
    out = Outcome()
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            out.value = fn(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - the learner's code may raise anything
        out.error = _describe_error(exc)
    out.seconds = time.perf_counter() - start
    out.printed = buf.getvalue()[-2000:]
    out.mutated = _mutated(args, before)
    return out


def call_safely(
    fn: Callable, *args: Any, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any
) -> Outcome:
    """Call ``fn(*args, **kwargs)`` in a forked child with a time limit.

    The child gets its own copy of the arguments, so nothing the function does
    reaches the caller's objects or process; mutations are detected in the child
    and reported. Without ``fork`` (Windows) the call runs here, without a limit.
    """
    if not callable(fn):
        return Outcome(error=f"TypeError: expected a function, got {type(fn).__name__}")
    if not hasattr(os, "fork"):
        return _call_here(fn, args, kwargs)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into the caller's code
        code = 0
        try:
            os.close(read_fd)
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
    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    timed_out = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            ready, _, _ = select.select([read_fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        if timed_out:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    if timed_out:
        return Outcome(timed_out=True, seconds=timeout)
    try:
        return pickle.loads(b"".join(chunks))
    except Exception:  # noqa: BLE001 - the child died (os._exit, crash) before answering
        return Outcome(error="the function ended the process (exit or crash) instead of returning")


@dataclass
class _Unpicklable:
    type_name: str


# ---------------------------------------------------------------- comparing values
def describe_value(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}, dtype {value.dtype}"
    if isinstance(value, _Unpicklable):
        return f"a {value.type_name} object"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)} item(s)"
    return f"{type(value).__name__} {value!r}"[:120]


def to_array(
    value: Any, expected_shape: tuple[int, ...], what: str
) -> tuple[np.ndarray | None, str | None]:
    """Turn a returned value into a float array of the expected shape, or say why not."""
    if value is None:
        return None, f"{what} is None: did the function forget to `return` it?"
    if isinstance(value, _Unpicklable):
        return None, f"{what} is a {value.type_name}, expected a numpy array"
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
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
    ``produce(*args, **kwargs)`` returns, ``hint`` names the mistake."""

    hint: str
    produce: Callable[..., Any]


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
    timeout: float = DEFAULT_TIMEOUT,
) -> CheckResult:
    """Run ``fn`` on every case and compare with ``reference``; never raises.

    reference(*args) returns one array (len(output_names) == 1) or a tuple of
    arrays. The first failing case stops the check with the most specific hint:
    error, time-out, mutated input, wrong type/shape/NaN, a known mistake, or
    the first differing value.
    """
    try:
        return _check(
            name, fn, cases, reference, mistakes, output_names, arg_names, rtol, atol, timeout
        )
    except Exception as exc:  # noqa: BLE001 - a checker must never raise
        return failed(name, 0, "the checker itself", f"unexpected problem: {_describe_error(exc)}")


def _check(name, fn, cases, reference, mistakes, output_names, arg_names, rtol, atol, timeout):
    if not callable(fn):
        return failed(
            name, 0, "the argument", f"pass your function itself, got {describe_value(fn)}"
        )
    for k, case in enumerate(cases, start=1):
        outcome = call_safely(fn, *case.args, timeout=timeout, **case.kwargs)
        problem = outcome_problem(outcome, case.args, arg_names, timeout)
        if problem:
            return failed(name, k - 1, case.label, problem, *_printed(outcome))
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
            arr, why = to_array(g, np.shape(e), what)
            if why:
                return failed(name, k - 1, case.label, why)
            arrays.append(arr)
        got_value = arrays[0] if single else tuple(arrays)
        if close(got_value, expected, rtol, atol):
            continue
        for mistake in mistakes:
            try:
                wrong = mistake.produce(*case.args, **case.kwargs)
            except Exception:  # noqa: BLE001 - a mistake that does not apply to this case
                continue
            if close(got_value, wrong, rtol, atol):
                return failed(name, k - 1, case.label, mistake.hint)
        for g, e, what in zip(arrays, expected_t, output_names, strict=True):
            e = np.asarray(e, dtype=float)
            if not np.allclose(g, e, rtol=rtol, atol=atol):
                return failed(
                    name,
                    k - 1,
                    case.label,
                    f"{what} differs from the expected value {first_difference(g, e)}",
                )
    return passed(name, len(cases))


def outcome_problem(
    outcome: Outcome, args: Sequence[Any], arg_names: Sequence[str], timeout: float
) -> str | None:
    """The hint for an outcome that cannot be compared at all, or None."""
    if outcome.timed_out:
        return f"the function did not return within {timeout:g} s: look for an endless loop"
    if outcome.error:
        if "NotImplementedError" in outcome.error:
            return "the function is not written yet (it raises NotImplementedError)"
        return f"the function raised {outcome.error}"
    if outcome.mutated:
        names = [
            arg_names[i] if i < len(arg_names) else f"argument {i + 1}" for i in outcome.mutated
        ]
        return (
            f"the function modified its input {', '.join(names)}: work on new arrays "
            "(X = X - mu makes a new array; X -= mu writes into the caller's data)"
        )
    return None


def _printed(outcome: Outcome) -> list[str]:
    text = outcome.printed.strip()
    return [f"(it printed: {text[:200]!r})"] if text else []
