"""nbval's settings, for every way pytest is started from the repository (``make test``,
``pytest notebooks/04_batch_norm_in_a_network.ipynb``, ``make test-cpus``).

The flags (strict nbval, the current environment's kernel, the sanitize file) are in
``pyproject.toml``'s ``addopts``; the kernel's environment is set here, the same as
``make outputs`` runs the notebooks with (``scripts/run_notebooks.py``).

A lesson that needs an optional package that is missing here (lesson 07: PyTorch) is
not run: its notebook is collected as one skipped item, and the end of the report says
in one line why and how to install the package (``course_lib.lessons.skip_reason``).
"""

import os

import pytest

from course_lib.lessons import skip_reason

# Kernels inherit this process's environment: figures inline (no MPLBACKEND, which
# would override the notebook's backend) and a fixed hash seed.
os.environ.pop("MPLBACKEND", None)
os.environ["PYTHONHASHSEED"] = "0"

# Lessons skipped in this run (the test files that execute lessons add theirs too).
SKIPPED_LESSONS: set[str] = set()


class SkippedNotebook(pytest.File):
    """A lesson notebook that cannot run here: one item, skipped with the reason."""

    def collect(self):
        yield SkippedLesson.from_parent(self, name="skipped")


class SkippedLesson(pytest.Item):
    def runtest(self):
        reason = skip_reason(self.path.name)
        SKIPPED_LESSONS.add(reason)
        pytest.skip(reason)

    def reportinfo(self):
        return self.path, None, f"{self.path.name}: {skip_reason(self.path.name)}"


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path, parent):
    """nbval collects every notebook; a lesson that cannot run here is replaced by one
    skipped item (nbval would fail on its first import instead)."""
    collected = yield
    if file_path.suffix == ".ipynb" and skip_reason(file_path.name):
        return [SkippedNotebook.from_parent(parent, path=file_path)]
    return collected


def pytest_terminal_summary(terminalreporter):
    """One line per lesson skipped for a missing package, whatever else was reported."""
    reasons = set(SKIPPED_LESSONS)
    for report in terminalreporter.stats.get("skipped", []):
        text = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
        if text.startswith("Skipped: "):
            text = text.removeprefix("Skipped: ")
        if text.startswith("lesson ") and " skipped: it needs " in text:
            reasons.add(text)
    for reason in sorted(reasons):
        terminalreporter.write_line(reason, yellow=True, bold=True)
