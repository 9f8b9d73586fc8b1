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
  (same failing case, same level-1 hint, same values): that result shows level 2 below the
  hint. The state is one entry per checker name (``_last_failure``: the last
  failure it reported); a passing run of that checker removes it.

The first feedback of a failure (``str(result)``, ``result._repr_html_()``)
never contains level 2, and ``assert_ok()``'s message never does (a graded
cell run right after the feedback cell would otherwise hand it out). A passing
result reads ``✔ name: all N checks passed.``, as before.
"""

from __future__ import annotations

import html
import re
import types
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _sandbox
from ._sandbox import (  # noqa: F401 - re-exported: the checkers' one place to import from
    CALLS_REFERENCE,
    DEFAULT_TIMEOUT,
    ENDED_THE_PROCESS,
    IMPORT_ALLOWANCE,
    UNREADABLE,
    Described,
    Outcome,
    _describe_error,
    _interactive,
    _timeout_from_environment,
    call_safely,
    forbid_calls,
    plain,
    time_budget,
)

BUDGET_FACTOR = 3  # a whole check may take this many per-call limits, in total


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


# The last failure each checker reported, by checker name: (case, level-1 hint, details).
# The details (the values that differed, the gradient check) tell a changed attempt that
# happens to get the same hint from the same function run again.
_last_failure: dict[str, tuple] = {}


def escalate(result: CheckResult) -> CheckResult:
    """Record ``result`` for its checker; show level 2 if it repeats the last failure
    (same case, same hint, same details).

    A passing result forgets the checker's last failure. ``run_check`` calls this
    for every checker, so a checker written with it gets the escalation for free.
    """
    if result.passed:
        _last_failure.pop(result.name, None)
        return result
    key = (result.case, result.hint, tuple(result.details))
    if _last_failure.get(result.name) == key:
        result.level = 2
    _last_failure[result.name] = key
    return result


# ---------------------------------------------------------------- comparing values
def describe_value(value: Any) -> str:
    """A short description of a value (never runs the learner's code: only exact
    built-in types are looked into, anything else is named by its type)."""
    kind = type(value)
    if kind is Described:
        return value.text
    if kind is np.ndarray:
        return f"an array of shape {value.shape}, dtype {value.dtype}"
    if kind in (tuple, list):
        return f"a {kind.__name__} of {len(value)} item(s)"
    if kind in (bool, int, float, complex, str, bytes) or (
        isinstance(value, np.generic) and kind.__module__ == "numpy"
    ):
        return f"{kind.__name__} {value!r}"[:120]
    if value is None:
        return "None"
    if kind is types.FunctionType:
        return "a function"
    return _sandbox._a(f"{kind.__name__} object")


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
    advice: Advice | None = None,
) -> tuple[np.ndarray | None, str | None]:
    """Turn a returned value into a float array of the expected shape, or say why not.

    ``value`` is plain data (what ``call_safely`` returns). Complex, text and
    object values are refused (a plain conversion would drop imaginary parts or
    parse strings). With ``expected_dtype`` a floating type, True/False values are
    refused too. advice: the exercise's wording for a wrong shape.
    """
    if value is None:
        return None, f"{what} is None: did the function forget to `return` it?"
    if type(value) is Described:
        return None, f"{what} is {value.text}, expected a numpy array of numbers"
    try:
        raw = np.asarray(value)
    except Exception:  # noqa: BLE001 - ragged lists, ...
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
            + _shape_hint(arr.shape, expected_shape, advice or Advice())
        )
    if not np.all(np.isfinite(arr)):
        return (
            None,
            f"{what} contains NaN or inf: look for a division by zero or a sqrt of a negative",
        )
    return arr, None


def _shape_hint(got: tuple[int, ...], expected: Sequence[int], advice: Advice) -> str:
    """Why a result may have the wrong shape, in the words of the exercise."""
    if tuple(expected) == ():
        return ": return a single number"
    if advice.statistics:
        if got == () and len(expected) == 1:
            return (
                ": a single number for the whole matrix; compute one value per feature with axis=0"
            )
        if len(got) == len(expected) == 1 or (len(got) == 2 and got == tuple(expected)[::-1]):
            return " (statistics over the wrong axis? rows are examples: use axis=0)"
        if len(got) == 2 and len(expected) == 1 and expected[0] in got:
            return " (keepdims? return one value per feature, shape (n,))"
    if advice.shapes:
        return f" (the shapes here: {advice.shapes})"
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
    what the learner did wrong, then the right idea, in plain words; never code
    or a formula of the solution) and ``more`` (level 2) says it concretely (a
    formula, a fragment of code).

    Convention (tests/test_checks_hints.py checks it for every checker module):
    a module's mistakes are returned by module-level functions whose names end
    in ``mistakes`` (``_fit_mistakes()``); every mistake has a ``more``."""

    hint: str
    produce: Callable[..., Any]
    more: str | None = None


_AXIS = (
    "statistics over the wrong axis? Rows are examples: mean and variance over axis=0 "
    "give one value per feature, shape (n,)"
)


@dataclass(frozen=True)
class Advice:
    """How one exercise words the problems every checker meets.

    shapes: the shapes of the exercise in words ("X is (m, n), w is (n,)"), said
    after a wrong shape, a broadcasting error or a matrix product that does not fit;
    statistics: the exercise computes statistics over the examples (axis=0), so a
    wrong shape or a broadcasting error most likely comes from the wrong axis;
    broadcast / matmul: level-1 hints after those errors (default: from ``shapes``),
    with their level 2 in ``broadcast_more`` / ``matmul_more``;
    call: how the checker calls the function ("normalize(X, mu, sigma)"), said when
    the function's parameters do not fit that call.
    """

    shapes: str = ""
    statistics: bool = True
    broadcast: str | None = None
    broadcast_more: str | None = None
    matmul: str | None = None
    matmul_more: str | None = None
    call: str | None = None


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
    advice: Advice | None = None,
) -> CheckResult:
    """Run ``fn`` on every case and compare with ``reference``; never raises.

    reference(*args) returns one array (len(output_names) == 1) or a tuple of
    arrays. The first failing case stops the check with the most specific hint:
    error, time-out, mutated input, wrong type/shape/NaN, a known mistake, or
    the first differing value. timeout: seconds per call (``DEFAULT_TIMEOUT``);
    total_timeout: seconds for all calls together (``BUDGET_FACTOR * timeout``).
    forbid: course_lib functions the learner's may not call, besides ``name``
    (see ``forbid_calls``). advice: the exercise's wording of generic problems
    (see ``Advice``). Warnings of the reference or the mistakes are not shown.
    """
    timeout = DEFAULT_TIMEOUT if timeout is None else float(timeout)
    budget = BUDGET_FACTOR * timeout if total_timeout is None else float(total_timeout)
    if advice is None or advice.call is None:
        keywords = dict.fromkeys(k for case in cases for k in case.kwargs)
        params = [*arg_names, *(f"{k}=..." for k in keywords)]
        call = f"{name}({', '.join(params)})" if arg_names else None
        advice = Advice(**{**(advice.__dict__ if advice else {}), "call": call})
    settings = (output_names, arg_names, rtol, atol, timeout, advice)
    return run_check(
        name, lambda: _check(name, fn, cases, reference, mistakes, *settings), budget, forbid
    )


def run_check(
    name: str, check: Callable[[], CheckResult], budget: float, forbid: Sequence[str] = ()
) -> CheckResult:
    """``check()`` within a time budget (seconds) for all its calls, with the course_lib
    functions ``forbid`` refused (see ``forbid_calls``), warnings and numpy's floating
    point warnings silenced; never raises: a problem of the checker itself becomes a
    failed result that says so. The result goes through ``escalate`` (two-level hints)."""
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
        why = f"unexpected problem: {_describe_error(exc)[0]}"
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


def _check(
    name, fn, cases, reference, mistakes, output_names, arg_names, rtol, atol, timeout, advice
):
    if not callable(fn):
        return failed(
            name, 0, "the argument", f"pass your function itself, got {describe_value(fn)}"
        )
    params = learner_parameters(fn)
    for k, case in enumerate(cases, start=1):
        outcome = call_safely(fn, *case.args, timeout=timeout, **case.kwargs)
        problem = outcome_hint(outcome, arg_names, timeout, advice, params)
        if problem:
            hint, more = problem
            return failed(name, k - 1, case.label, hint, *printed_details(outcome), more=more)
        if outcome.value is None:
            hint = returned_none_hint(output_names)
            return failed(name, k - 1, case.label, hint, *printed_details(outcome))
        expected = reference(*case.args, **case.kwargs)
        single = len(output_names) == 1
        expected_t = (expected,) if single else tuple(expected)
        got = outcome.value
        if single:
            got_t: Sequence[Any] = (got,)
        elif type(got) not in (tuple, list) or len(got) != len(expected_t):
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
            if isinstance(e, np.ndarray) and e.ndim and type(g) in (list, tuple):
                why = (
                    f"{what} is a {type(g).__name__}: return a numpy array "
                    "(numpy operations on arrays give one; np.array(...) converts)"
                )
            else:
                arr, why = to_array(g, np.shape(e), what, np.asarray(e).dtype, advice)
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
                    more=DIFFERS_MORE,
                )
    return passed(name, len(cases))


DIFFERS_MORE = (
    "no typical mistake of this exercise gives these values. Run your function on the "
    "case's inputs yourself and compare each step with the lesson's formula: print the "
    "intermediate arrays and their shapes, and check them on a tiny example you can "
    "work out by hand."
)


def learner_parameters(fn: Any) -> tuple[str, ...]:
    """The names of the positional parameters of a learner's plain function (read from
    its code object, which runs none of the learner's code), else ()."""
    if type(fn) is not types.FunctionType:
        return ()
    code = fn.__code__
    return tuple(code.co_varnames[: code.co_argcount])


_MATMUL = re.compile(
    r"matmul: .*mismatch in its core dimension.*\(size (\d+) is different from (\d+)\)"
)


def outcome_problem(outcome: Outcome, arg_names: Sequence[str], timeout: float) -> str | None:
    """The level-1 hint for an outcome that cannot be compared at all, or None
    (``outcome_hint`` without the second level and the exercise's wording)."""
    problem = outcome_hint(outcome, arg_names, timeout)
    return problem[0] if problem else None


def outcome_hint(
    outcome: Outcome,
    arg_names: Sequence[str],
    timeout: float,
    advice: Advice | None = None,
    params: Sequence[str] = (),
) -> tuple[str, str | None] | None:
    """(level-1 hint, level-2 hint or None) for an outcome that cannot be compared, or None.

    arg_names: the names of the positional arguments as the exercise calls them, for
    "modified its input ..."; params: the learner's own parameter names (said too,
    when they differ); timeout: the limit per call, for "did not return within ...";
    advice: the exercise's wording (see ``Advice``).
    """
    advice = advice or Advice()
    if outcome.timed_out:
        return _time_hint(outcome, timeout), None
    if outcome.error:
        return _error_hint(outcome.error, outcome.signature_error, advice)
    if outcome.mutated or outcome.mutated_kwargs:
        return _mutation_hint(outcome, arg_names, params)
    return None


def _time_hint(outcome: Outcome, timeout: float) -> str:
    if outcome.importing:
        return (
            f"the function was still importing {outcome.importing} after "
            f"{_sandbox.IMPORT_ALLOWANCE:g} s (a first import is not counted in the time "
            "limit, up to that): does that module do heavy work when it is imported?"
        )
    if outcome.returned:
        return (
            f"the function returned {outcome.returned}, and turning it into numbers did not "
            f"finish within {timeout:g} s (its __array__, __len__ or __iter__ never returns?): "
            "return numpy arrays or numbers"
        )
    if outcome.over_budget:
        return (
            "the function is too slow: the checks ran out of time before it returned "
            "(an endless loop, or much more work than the formula needs)"
        )
    return f"the function did not return within {timeout:g} s: look for an endless loop"


def _error_hint(error: str, signature: bool, advice: Advice) -> tuple[str, str | None]:
    if "NotImplementedError" in error:
        return "the function is not written yet (it raises NotImplementedError)", None
    if CALLS_REFERENCE in error:
        called = error.split(CALLS_REFERENCE, 1)[1].split()[0]
        if "(it is course_lib's)" in error:
            return (
                f"that is course_lib's own {called}, not yours: define your function in "
                "the exercise cell (def ...) and pass that one"
            ), None
        return (
            f"the function calls course_lib's {called}: the exercise is to write it "
            "yourself, with numpy"
        ), None
    if error.startswith((ENDED_THE_PROCESS, UNREADABLE)):
        return error, None  # not an exception of the function's: said as it is
    if signature:
        return _signature_hint(error, advice)
    if error.startswith("MemoryError"):
        return (
            f"the function raised {error}: it needs far more memory than these small "
            "cases do. Look for an array that grows in a loop, or a much larger "
            "intermediate array than the result (e.g. an (m, m) matrix)"
        ), None
    matmul = _MATMUL.search(error)
    if matmul:
        rows, cols = matmul.groups()
        line = re.search(r"\(line \d+\)", error)
        where = f" {line.group(0)}" if line else ""
        said = (
            f"the function raised ValueError{where}: in a matrix product A @ B, A has {cols} "
            f"columns but B has {rows} rows. (a, b) @ (c, d) needs b = c and gives (a, d)"
        )
        hint = advice.matmul or (f"the shapes here: {advice.shapes}" if advice.shapes else "")
        more = advice.matmul_more
        return (f"{said}. {hint}" if hint else said), more
    problem = f"the function raised {error}"
    if "could not be broadcast" in error:
        if advice.broadcast:
            return f"{problem}. {advice.broadcast}", advice.broadcast_more
        if advice.statistics:
            return f"{problem} — {_AXIS}", advice.broadcast_more
        if advice.shapes:
            return (
                f"{problem}. Two arrays whose shapes do not fit were combined element by "
                f"element; the shapes here: {advice.shapes}",
                advice.broadcast_more,
            )
    return problem, None


_UNEXPECTED_KEYWORD = re.compile(r"unexpected keyword argument '(\w+)'")


def _signature_hint(error: str, advice: Advice) -> tuple[str, str | None]:
    """The function's parameters do not fit the call the checker makes."""
    call = f": it calls {advice.call}" if advice.call else ""
    keyword = _UNEXPECTED_KEYWORD.search(error)
    if keyword:
        name = keyword.group(1)
        return (
            f"the checker passes the keyword argument {name}=... and your function does "
            f"not accept it. Keep the parameters of the exercise's def line, with their "
            f"names (the checker calls the function as the lesson does{call})"
        ), f"the error was {error}"
    return (
        f"your function's parameters do not fit how the checker calls it{call}. Keep the "
        "def line of the exercise as it is (same parameters, same order)"
    ), f"the error was {error}"


def _mutation_hint(
    outcome: Outcome, arg_names: Sequence[str], params: Sequence[str]
) -> tuple[str, str]:
    """Name the inputs the function modified, with the learner's own parameter name."""
    said, own = [], []
    for i in outcome.mutated:
        name = arg_names[i] if i < len(arg_names) else f"argument {i + 1}"
        mine = params[i] if i < len(params) else name
        said.append(name if mine == name else f"{name} (your parameter {mine})")
        own.append(mine)
    said += outcome.mutated_kwargs
    own += outcome.mutated_kwargs
    a = own[0]
    return (
        f"the function modified its input {', '.join(said)}: it must leave the caller's "
        f"arrays as they were. `{a} -= ...`, `{a} *= ...` or `{a}[...] = ...` write into "
        f"the caller's array; `{a} = {a} - ...` makes a new one"
    ), (
        f"if you want to change {a} step by step, start from a copy of your own: "
        f"`{a} = {a}.copy()` as the first line, then update the copy"
    )


def returned_none_hint(output_names: Sequence[str]) -> str:
    """The hint for a function that returned None (it has no `return`, or a bare one)."""
    if not all(n.isidentifier() for n in output_names):  # e.g. "the learning rate"
        what = " and ".join(output_names)
        return f"the function returned None: did it forget to `return` {what}?"
    if len(output_names) == 1:
        return (
            f"the function returned None: did it forget to `return` its result ({output_names[0]})?"
        )
    return (
        f"the function returned None: did it forget to `return` its {len(output_names)} "
        f"results ({', '.join(output_names)}, in this order)?"
    )


def printed_details(outcome: Outcome) -> list[str]:
    """A detail line with what the function printed (its start), if it printed anything."""
    text = outcome.printed.strip()
    return [f"(it printed: {text[:200]!r})"] if text else []
