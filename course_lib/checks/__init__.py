"""Exercise checkers: ``checks.check_<exercise>(learner_fn)`` -> CheckResult.

Each checker has the same signature as the function it checks, runs a set of
cases against the reference, never raises, and returns a result that is truthy
only when everything passed, displays itself (green on success, the failing
case and a hint that names the mistake otherwise), and has ``.assert_ok()`` for
graded test cells.

The checkers live next to the lesson they belong to (checks/<module>.py).
"""

from __future__ import annotations

import importlib

from ._core import CheckResult, call_safely

# Lesson modules, in course order; each defines its check_* functions.
_LESSON_MODULES = ("normalization", "descent", "batchnorm", "network", "running_stats")

__all__ = [
    "CheckResult",
    "call_safely",
    "check_fit_normalizer",
    "check_normalize",
    "check_batchnorm_forward",
    "check_batchnorm_backward",
    "check_update_running_stats",
    "check_batchnorm_inference",
]


def __getattr__(name: str):
    # Imported on first use, so a lesson's notebook loads only its own checkers.
    if name.startswith("check_"):
        for module in _LESSON_MODULES:
            try:
                mod = importlib.import_module(f".{module}", __name__)
            except ModuleNotFoundError as exc:
                if exc.name != f"{__name__}.{module}":
                    raise
                continue
            if hasattr(mod, name):
                return getattr(mod, name)
    raise AttributeError(f"course_lib.checks has no checker {name!r}")
