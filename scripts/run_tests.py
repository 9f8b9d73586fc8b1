"""The whole test suite as ``make test`` runs it: two pytest runs side by side.

    python scripts/run_tests.py            # both halves at once, then one verdict
    python scripts/run_tests.py -k 04_     # any pytest arguments: one plain pytest run

Most of the suite's time goes to Jupyter kernels executing lessons, one cell after the
other on one core. So the suite is split in two halves that share nothing but the
source tree (no files written in it, no fixed ports), and both run at once:

- lessons: nbval over every notebook (stored outputs, strict) and the re-run test;
- library: everything else in ``tests/`` (course_lib, checkers, release, autograde,
  site, browser).

The library half prints as it goes; the lessons half's report follows it. The exit
code is 0 only if both pass. Plain ``pytest`` still runs everything in one process.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HALVES = {
    "lessons": ["notebooks", "tests/test_rerun.py"],
    "library": ["tests", "--ignore=tests/test_rerun.py"],
}


def main(argv: list[str]) -> int:
    pytest = [sys.executable, "-m", "pytest"]
    if argv:
        return subprocess.call([*pytest, *argv], cwd=ROOT)
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+", encoding="utf-8") as lessons_log:
        lessons = subprocess.Popen(
            [*pytest, *HALVES["lessons"]],
            cwd=ROOT,
            stdout=lessons_log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            library_code = subprocess.call([*pytest, *HALVES["library"]], cwd=ROOT)
            lessons_code = lessons.wait()
        finally:
            if lessons.poll() is None:  # Ctrl-C: stop the other half too
                lessons.terminate()
                lessons.wait()
        lessons_log.seek(0)
        print(f"\n---- the other half, run at the same time: {' '.join(HALVES['lessons'])}")
        print(lessons_log.read(), end="", flush=True)
    took = time.perf_counter() - start
    verdict = {
        name: "passed" if code == 0 else f"FAILED (exit code {code})"
        for name, code in (("library", library_code), ("lessons", lessons_code))
    }
    print(f"\nmake test: library {verdict['library']}, lessons {verdict['lessons']}; {took:.0f} s")
    return 0 if library_code == lessons_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
