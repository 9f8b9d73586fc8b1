"""Calling a learner's function so that nothing it does can hang or crash the checker.

``call_safely(fn, *args, timeout=...)`` runs ``fn`` in a forked child process and
returns an ``Outcome``: the value, or the exception, the time-out, what it
printed, which inputs it modified. What protects the caller (the notebook
kernel, or nbgrader's):

* **Time.** The parent waits on a pipe with a deadline (``DEFAULT_TIMEOUT`` per
  call, 5 s or ``COURSE_CHECK_TIMEOUT``; cut to what is left of an enclosing
  ``time_budget``), then kills the child with SIGKILL, which no handler can
  catch or ignore. The child runs in a process group of its own, and the whole
  group is killed after every call, so a process the function forks is not left
  behind either.
* **First imports are not counted.** Importing a large library the first time
  (scikit-learn: 1 s here, over 10 s on a loaded machine) is not the learner's
  slowness. Before forking, the parent imports the installed (site-packages)
  modules that the learner's function names in ``import`` statements, so the
  child finds them loaded; any first import the child still makes stops the
  clock while it runs (up to ``IMPORT_ALLOWANCE`` seconds per call), and the
  parent then imports the same installed modules, so that the next calls find
  them loaded too.
* **Only plain data comes back.** In the child, under the time limit, the
  returned value is turned into plain data: numpy arrays of numbers, text or
  booleans, Python and numpy numbers, str, None, and tuples and lists of them.
  Anything else (an object whose ``__array__`` loops, a generator, a dict...)
  becomes a ``Described`` ("a Foo object"). The parent unpickles with an
  allow-list of those types only, so no learner code runs in the parent: not
  ``__reduce__``, ``__array__``, ``__len__``, ``__eq__``, ``__repr__``.
* **Resources.** The child's address space may grow by ``MEMORY_HEADROOM``
  bytes beyond what the caller already uses (an allocation past it raises
  MemoryError in the child); no core dumps; its file descriptors 0-2 are
  /dev/null, so writing to them or closing them does not touch the notebook.

Without ``fork`` (Windows) the call runs in the caller's process without these
protections.
"""

from __future__ import annotations

import contextlib
import faulthandler
import importlib
import io
import math
import os
import pickle
import select
import signal
import struct
import sys
import sysconfig
import time
import traceback
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
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
IMPORT_ALLOWANCE = 30.0  # seconds of first imports per call that the time limit does not count
MEMORY_HEADROOM = 2 * 2**30  # bytes of address space the child may add to the caller's
MAX_ELEMENTS = 2**22  # a returned array larger than this comes back as a description
MAX_PAYLOAD = 256 * 2**20  # bytes: a child that sends more is cut off

_deadline: float | None = None  # time.monotonic() when the current check's budget ends


@contextlib.contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Limit the total time of every ``call_safely`` inside the block.

    Each call gets at most what is left of the budget, so a checker that calls a
    slow function many times still returns in about ``seconds`` (well before an
    autograder's cell time limit). Budgets nest: the inner one cannot extend the
    outer. Time spent in first imports (see the module docstring) extends it.
    """
    global _deadline
    previous = _deadline
    end = time.monotonic() + max(float(seconds), 0.0)
    _deadline = end if previous is None else min(previous, end)
    try:
        yield
    finally:
        _deadline = previous


# ---------------------------------------------------------------- calling the reference
CALLS_REFERENCE = "calls the course_lib reference"
# Outcome.error texts that describe what happened without an exception of the learner's.
ENDED_THE_PROCESS = "the function ended the process instead of returning"
UNREADABLE = "the function's return value could not be read back"


def _str_attr(fn: types.FunctionType, name: str) -> str:
    """A function's ``__module__`` or ``__name__`` if it is a plain str, else "" (the
    learner can set them to any object, whose methods would run here)."""
    value = getattr(fn, name, "")
    return value if type(value) is str else ""


def _learner_names(*values: Any) -> tuple[str, ...]:
    """Names of the functions among ``values`` written in a notebook or script.

    The learner's function has the name of the course_lib function it replaces:
    in the child process, course_lib's functions of these names raise, so a
    solution that merely calls the reference is refused. The tests pass the
    references and wrappers of them, defined in modules: those are left alone.
    """
    return tuple(
        dict.fromkeys(
            _str_attr(v, "__name__")
            for v in values
            if type(v) is types.FunctionType and _str_attr(v, "__module__") == "__main__"
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
    """The name of a course_lib function (outside the checkers) among ``values``, if any.

    Only plain functions are looked at (``type(v) is FunctionType``): reading an
    attribute of any other object could run the learner's code here.
    """
    for v in values:
        if type(v) is not types.FunctionType:
            continue
        module = _str_attr(v, "__module__")
        if module.startswith("course_lib.") and ".checks" not in module:
            return _str_attr(v, "__name__") or module
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
            message = f"{CALLS_REFERENCE} {name}"
            namespace: dict[str, Any] = {}
            exec(f"def tripwire(*a, **k):\n    raise RuntimeError({message!r})", namespace)
            with contextlib.suppress(ValueError, TypeError):  # e.g. a closure: leave it
                func.__code__ = namespace["tripwire"].__code__


# ---------------------------------------------------------------- the outcome
@dataclass
class Described:
    """A returned value that is not plain data, described in words ("a Foo object")."""

    text: str


@dataclass
class Outcome:
    """What happened when the learner's function was called.

    value: plain data (see ``plain``) or a ``Described``; error: "ZeroDivisionError:
    division by zero (line 3)", ...; signature_error: the call itself failed (the
    function's parameters do not fit the call); timed_out / over_budget: the call or
    the whole check ran out of time; returned: the description of the value when the
    function had returned but turning the value into plain data did not finish in
    time; importing: the module still being imported when the time ran out;
    printed: what it printed (the end); mutated, mutated_kwargs: inputs it changed.
    """

    value: Any = None
    error: str | None = None
    timed_out: bool = False
    printed: str = ""
    mutated: list[int] = field(default_factory=list)
    over_budget: bool = False
    mutated_kwargs: list[str] = field(default_factory=list)
    signature_error: bool = False
    returned: str | None = None
    importing: str | None = None

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


_CHECKS_DIR = str(Path(__file__).resolve().parent)
_COURSE_LIB_DIR = str(Path(__file__).resolve().parent.parent)
_LIBRARY_DIRS = tuple(
    str(Path(p).resolve())
    for p in {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
)


def _own_frame(filename: str) -> bool:
    """True for a frame of the learner's code: not the checkers', numpy's or the stdlib's."""
    try:
        path = str(Path(filename).resolve())
    except (OSError, ValueError):
        return True
    return not path.startswith((_COURSE_LIB_DIR, *_LIBRARY_DIRS))


def _describe_error(exc: BaseException) -> tuple[str, bool]:
    """("TypeError: ... (line 3)", signature_error) for an exception of the call.

    The line is that of the learner's own code where it happened (never a line of
    the checker or of numpy). signature_error: every frame is the checker's, so
    the call itself failed (the parameters do not fit how the checker calls it).
    """
    try:
        text = f"{type(exc).__name__}: {str(exc).strip()}"
    except Exception:  # noqa: BLE001 - a __str__ of the learner's that fails
        text = type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if _own_frame(f.filename)]
    if own:
        return f"{text} (line {own[-1].lineno})", False
    in_checker = all(str(Path(f.filename).resolve()).startswith(_CHECKS_DIR) for f in frames)
    return text, isinstance(exc, TypeError) and bool(frames) and in_checker


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
        out.error, out.signature_error = _describe_error(exc)
    out.printed = buf.getvalue()[-2000:]
    out.mutated = _mutated(args, before)
    out.mutated_kwargs = [k for k, v in kwargs.items() if _changed(v, before_kwargs[k])]
    return out


# ---------------------------------------------------------------- plain data
_NUMPY_KINDS = "biufcUSmM"  # booleans, numbers, text, bytes, dates: safe to send as they are


def _a(name: str) -> str:
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` as plain data, or a ``Described``; runs in the child, under the limit.

    Plain: None, bool, int, float, complex, str, bytes (exact types), numpy numbers,
    numpy arrays of booleans, numbers, text or dates, and tuples and lists of plain
    data. An object with ``__array__`` is converted here when it gives such an array.
    """
    kind = type(value)
    if value is None or kind in (bool, int, float, complex):
        return value
    if kind in (str, bytes):
        return value[:1000]
    if kind in (list, tuple) or isinstance(value, list | tuple):
        container = list if isinstance(value, list) else tuple
        items = list(value)
        if depth >= 4:
            return Described(f"{_a(kind.__name__)} nested {depth} levels deep")
        if len(items) > MAX_ELEMENTS:
            return Described(f"{_a(kind.__name__)} of {len(items)} items")
        return container(plain(v, depth + 1) for v in items)
    if isinstance(value, np.generic) and kind.__module__ == "numpy":
        return value if value.dtype.kind in _NUMPY_KINDS else Described(f"a numpy {kind.__name__}")
    if isinstance(value, bool | int | float | complex | str | bytes):  # subclasses
        for base in (bool, int, float, complex, str, bytes):
            if isinstance(value, base):
                return plain(base(value), depth)
    if isinstance(value, np.ndarray) or hasattr(value, "__array__"):
        what = "an array" if isinstance(value, np.ndarray) else _a(f"{kind.__name__} object")
        try:
            arr = np.array(value, copy=True, subok=False)
        except Exception:  # noqa: BLE001 - its __array__ raises: say what it is
            return Described(_a(f"{kind.__name__} object"))
        if arr.dtype.kind not in _NUMPY_KINDS:
            if arr.dtype.kind == "O" and isinstance(value, np.ndarray):
                return Described(
                    "an array of Python objects (None, or items of different lengths?), "
                    "dtype object"
                )
            return Described(f"{what} that numpy turns into an array of dtype {arr.dtype}")
        if arr.size > MAX_ELEMENTS:
            return Described(f"{what} of shape {arr.shape}, too large to compare")
        return arr
    return Described(_a(f"{kind.__name__} object"))


class _PlainUnpickler(pickle.Unpickler):
    """Unpickles only what ``plain`` produces: no other class can be named, so no code
    of the learner's (``__reduce__``, ``__setstate__``) can run in the caller."""

    ALLOWED = frozenset(
        {
            ("numpy", "dtype"),
            ("numpy", "ndarray"),
            ("numpy._core.numeric", "_frombuffer"),
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "scalar"),
            ("numpy.core.numeric", "_frombuffer"),
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "scalar"),
            ("builtins", "complex"),
            (__name__, "Outcome"),
            (__name__, "Described"),
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self.ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not plain data")


def _read_back(payload: bytes) -> Outcome:
    try:
        outcome = _PlainUnpickler(io.BytesIO(payload)).load()
    except Exception as exc:  # noqa: BLE001 - a child that sent something else
        return Outcome(error=f"{UNREADABLE} ({type(exc).__name__}): return numpy arrays or numbers")
    if type(outcome) is not Outcome:
        return Outcome(error=f"{UNREADABLE}: return numpy arrays or numbers")
    return outcome


# ---------------------------------------------------------------- warming imports
_warmed: set[str] = set()  # modules the parent already tried to import for a learner


def _imported_names(code: types.CodeType, depth: int = 0) -> Iterator[str]:
    """Absolute module names in the ``import`` statements of ``code`` and nested code."""
    ops = list(_instructions(code))
    for k, (op, arg) in enumerate(ops):
        if op == "IMPORT_NAME" and isinstance(arg, str):
            level = ops[k - 2][1] if k >= 2 and ops[k - 2][0] == "LOAD_CONST" else 0
            if level == 0:
                yield arg
    if depth < 3:
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                yield from _imported_names(const, depth + 1)


def _instructions(code: types.CodeType) -> Iterator[tuple[str, Any]]:
    import dis

    for ins in dis.get_instructions(code):
        yield ins.opname, ins.argval


def _functions_to_scan(values: Sequence[Any]) -> Iterator[types.FunctionType]:
    """The plain functions among ``values`` and the functions of the same module that
    they call by name (helpers defined in the same notebook), a few levels deep."""
    seen: set[int] = set()
    todo = [v for v in values if type(v) is types.FunctionType]
    while todo and len(seen) < 50:
        fn = todo.pop()
        if id(fn) in seen or _str_attr(fn, "__module__").startswith("course_lib."):
            continue
        seen.add(id(fn))
        yield fn
        namespace = fn.__globals__
        helpers = [namespace.get(n) for n in fn.__code__.co_names if type(namespace) is dict]
        for cell in fn.__closure__ or ():
            with contextlib.suppress(ValueError):  # an empty cell
                helpers.append(cell.cell_contents)
        for helper in helpers:
            if type(helper) is not types.FunctionType:
                continue
            if _str_attr(helper, "__module__") == _str_attr(fn, "__module__"):
                todo.append(helper)


def _installed(module: str) -> bool:
    """True when the top-level package of ``module`` lives in site-packages (not the
    learner's folder, not the standard library: importing it here is safe and quiet)."""
    import importlib.util

    top = module.partition(".")[0]
    if top in sys.modules:
        spec_origin = getattr(sys.modules[top], "__file__", None)
    else:
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            return False
        spec_origin = spec.origin if spec else None
    if not spec_origin:
        return False
    path = str(Path(spec_origin).resolve())
    sites = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    return any(path.startswith(str(Path(s).resolve())) for s in sites)


def warm_imports(*values: Any) -> list[str]:
    """Import here, once, the installed modules the learner's functions import.

    The child is forked from this process and finds them loaded: a first import
    of a large library is not counted against the learner's time limit. Modules
    of the learner's own folder and of the standard library are left alone.
    Returns the modules imported now.
    """
    names = []
    for fn in _functions_to_scan(values):
        try:
            names += list(_imported_names(fn.__code__))
        except Exception:  # noqa: BLE001 - unusual bytecode: nothing to warm
            continue
    return warm_modules(names)


def warm_modules(names: Sequence[str]) -> list[str]:
    """Import the installed (site-packages) modules among ``names`` here, once each."""
    done = []
    for name in names:
        if name in _warmed or name in sys.modules:
            continue
        _warmed.add(name)
        if not _installed(name):
            continue
        try:
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                importlib.import_module(name)
            done.append(name)
        except (Exception, SystemExit):  # noqa: BLE001 - the child will say what fails
            continue
    return done


# ---------------------------------------------------------------- the child process
# Messages from the child: a tag byte, a 4-byte length, the body.
_IMPORT_START, _IMPORT_END, _RETURNED, _RESULT = b"I", b"E", b"V", b"R"
_HEADER = struct.Struct(">cI")
_REPORT_FAILED = 117  # exit code of a child that could not send its result


def _send(fd: int, tag: bytes, body: bytes = b"") -> None:
    data = memoryview(_HEADER.pack(tag, len(body)) + body)
    while data:
        data = data[os.write(fd, data) :]


def _limit_memory() -> None:
    """Let the child's address space grow by MEMORY_HEADROOM at most (Linux)."""
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    with open("/proc/self/statm") as statm:
        used = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = used + int(MEMORY_HEADROOM)
    if (hard == resource.RLIM_INFINITY or limit < hard) and (
        soft == resource.RLIM_INFINITY or limit < soft
    ):
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _watch_imports(write_fd: int) -> None:
    """In the child: tell the parent when a first import starts and ends (its clock
    stops meanwhile). Both ``import`` and ``importlib.import_module`` go through
    ``importlib._bootstrap._find_and_load`` for a module not loaded yet."""
    import importlib._bootstrap as bootstrap

    original = bootstrap._find_and_load
    depth = [0]

    def find_and_load(name, import_):
        if depth[0] == 0:
            with contextlib.suppress(OSError):
                _send(write_fd, _IMPORT_START, str(name)[:200].encode("utf-8", "replace"))
        depth[0] += 1
        try:
            return original(name, import_)
        finally:
            depth[0] -= 1
            if depth[0] == 0:
                with contextlib.suppress(OSError):
                    _send(write_fd, _IMPORT_END)

    bootstrap._find_and_load = find_and_load


def _returned_text(value: Any) -> str:
    """In the child: "a tuple of 2 item(s)", "a Foo object"."""
    kind = type(value)
    if kind in (tuple, list):
        return f"a {kind.__name__} of {len(value)} item(s)"
    return _a(f"{kind.__name__} object")


_child_pipe: int | None = None  # in a child: the pipe to the parent
_noted = False  # in a child: the learner's return value was already described


def note_returned(value: Any) -> None:
    """In a child, from a checker's wrapper around the learner's function: describe the
    value the learner's function returned (the wrapper may return something else), so
    that a time-out while turning it into plain data names the learner's value."""
    global _noted
    if _child_pipe is None or _noted:
        return
    _noted = True
    with contextlib.suppress(Exception):
        text = _returned_text(value)
        _send(_child_pipe, _RETURNED, text.encode("utf-8", "replace"))


def _run_child(fn: Callable, args: Sequence[Any], kwargs: dict, read_fd: int, write_fd: int):
    """In the forked child: call fn, send its plain Outcome through the pipe, exit."""
    code = 0
    me = os.getpid()
    try:
        os.close(read_fd)
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)
        # Output written below Python (C code, os.write) must not reach the
        # notebook through the parent's file descriptors.
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        faulthandler.disable()  # a crash of the child prints no traceback anywhere
        with contextlib.suppress(Exception):
            _limit_memory()
        forbidden = _learner_names(fn, *args, *kwargs.values())
        if forbidden:
            _install_tripwires(forbidden + _also_forbidden)
        _watch_imports(write_fd)
        global _child_pipe
        _child_pipe = write_fd
        outcome = _call_here(fn, args, kwargs)
        if os.getpid() != me:  # the function forked: its copy of us must not report
            os._exit(0)
        try:
            kind = type(outcome.value)
            if outcome.value is not None and kind not in (bool, int, float, str, np.ndarray):
                note_returned(outcome.value)
            try:
                outcome.value = plain(outcome.value)
            except BaseException as exc:  # noqa: BLE001 - e.g. an __iter__ that calls sys.exit
                why = f"turning it into numbers raised {type(exc).__name__}"
                outcome.value = Described(f"{_returned_text(outcome.value)} ({why})")
            _send(write_fd, _RESULT, pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:  # the function closed our pipe
            code = _REPORT_FAILED
    except BaseException:  # noqa: BLE001
        code = 1
    finally:
        os._exit(code if os.getpid() == me else 0)


def _end_of_process(status: int | None) -> str:
    """The error text for a child that ended without sending a result."""
    if status is None:
        return ENDED_THE_PROCESS
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        why = "a crash" if sig != signal.SIGKILL else "killed: out of memory?"
        return f"{ENDED_THE_PROCESS} ({why}, {name})"
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    if code == _REPORT_FAILED:
        return (
            f"{ENDED_THE_PROCESS}: it closed file descriptors it did not open, "
            "so its result could not be sent back"
        )
    return f"{ENDED_THE_PROCESS} (exit code {code}: os._exit or a crash)"


def call_safely(fn: Callable, *args: Any, timeout: float | None = None, **kwargs: Any) -> Outcome:
    """Call ``fn(*args, **kwargs)`` in a forked child with a time limit.

    The child gets its own copy of the arguments, so nothing the function does
    reaches the caller's objects or process; mutations are detected in the child
    and reported. timeout: seconds (default ``DEFAULT_TIMEOUT``), cut to what is
    left of an enclosing ``time_budget``. See the module docstring.
    """
    global _deadline
    if not callable(fn):
        return Outcome(error=f"TypeError: expected a function, got {type(fn).__name__}")
    own = _course_lib_function(fn, *args, *kwargs.values()) if _interactive() else None
    if own:  # in a notebook, the checker was handed course_lib's function itself
        return Outcome(error=f"RuntimeError: {CALLS_REFERENCE} {own} (it is course_lib's)")
    warming = time.monotonic()
    with contextlib.suppress(Exception):
        warm_imports(fn, *args, *kwargs.values())
    if _deadline is not None:  # importing here is not the learner's slowness either
        _deadline += time.monotonic() - warming
    limit = DEFAULT_TIMEOUT if timeout is None else float(timeout)
    over_budget = False
    if _deadline is not None:
        left = _deadline - time.monotonic()
        if left < limit:
            limit, over_budget = max(left, 0.0), True
    if limit <= 0:
        return Outcome(timed_out=True, over_budget=over_budget)
    if not hasattr(os, "fork"):
        out = _call_here(fn, args, kwargs)
        out.value = plain(out.value)
        return out
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into the caller's code
        _run_child(fn, args, kwargs, read_fd, write_fd)
    os.close(write_fd)
    with contextlib.suppress(OSError):
        os.setpgid(pid, pid)  # also here: no race with the child's own call
    reader = _Reader(read_fd, limit)
    status = None
    try:
        reader.run()
        if reader.ended and reader.result is None:  # let it finish dying: its exit status
            status = _wait_for_exit(pid, max(reader.deadline - time.monotonic(), 0.05))
            reader.ended = status is not None  # else it closed the pipe and kept running
    finally:
        # Done, timed out, or interrupted (KeyboardInterrupt): neither the child nor
        # anything it forked may outlive the call. Kill the group before reaping the
        # child, so that its id (the group's id) cannot have been reused.
        os.close(read_fd)
        for kill in (os.killpg, os.kill):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                kill(pid, signal.SIGKILL)
        if status is None:
            with contextlib.suppress(ChildProcessError):
                status = os.waitpid(pid, 0)[1]
            status = status if reader.ended and reader.result is None else None
        if _deadline is not None:
            _deadline += reader.import_time
    # What the child had to import (and could), later children find loaded.
    with contextlib.suppress(Exception):
        warm_modules(reader.imported)
    if reader.result is not None:
        return _read_back(reader.result)
    if reader.ended:
        return Outcome(error=_end_of_process(status))
    return Outcome(
        timed_out=True,
        over_budget=over_budget and not reader.import_stuck,
        returned=reader.returned,
        importing=reader.importing if reader.import_stuck else None,
    )


def _wait_for_exit(pid: int, seconds: float) -> int | None:
    """The child's exit status if it exits within ``seconds`` (it is reaped), else None."""
    end = time.monotonic() + seconds
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if done:
            return status
        if time.monotonic() >= end:
            return None
        time.sleep(0.005)


class _Reader:
    """The parent's side of the pipe: messages until the result, the end or the deadline."""

    def __init__(self, fd: int, limit: float) -> None:
        self.fd = fd
        self.deadline = time.monotonic() + limit
        self.buffer = b""
        self.result: bytes | None = None
        self.ended = False  # the child closed the pipe without a result
        self.returned: str | None = None
        self.importing: str | None = None
        self.import_started: float | None = None
        self.import_time = 0.0  # seconds of first imports, not counted
        self.import_stuck = False
        self.imported: list[str] = []  # modules the child imported, to the end

    def _wait(self) -> float:
        now = time.monotonic()
        if self.import_started is not None:
            allowance = IMPORT_ALLOWANCE - self.import_time - (now - self.import_started)
            if allowance <= 0:
                self.import_stuck = True
            return allowance
        return self.deadline - now

    def run(self) -> None:
        while self.result is None and not self.ended:
            wait = self._wait()
            if wait <= 0:
                return
            ready, _, _ = select.select([self.fd], [], [], wait)
            if not ready:
                continue
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                self.ended = True
                return
            self.buffer += chunk
            if len(self.buffer) > MAX_PAYLOAD + _HEADER.size:
                self.ended = True  # said as "ended the process": nothing readable came
                return
            self._parse()

    def _parse(self) -> None:
        while len(self.buffer) >= _HEADER.size:
            tag, size = _HEADER.unpack_from(self.buffer)
            if len(self.buffer) < _HEADER.size + size:
                return
            body = self.buffer[_HEADER.size : _HEADER.size + size]
            self.buffer = self.buffer[_HEADER.size + size :]
            now = time.monotonic()
            if tag == _IMPORT_START and self.import_started is None:
                self.import_started, self.importing = now, body.decode("utf-8", "replace")
            elif tag == _IMPORT_END and self.import_started is not None:
                spent = now - self.import_started
                self.import_time += spent
                self.deadline += spent
                self.import_started = None
                if self.importing:
                    self.imported.append(self.importing)
            elif tag == _RETURNED:
                self.returned = body.decode("utf-8", "replace")
            elif tag == _RESULT:
                self.result = body
                return
