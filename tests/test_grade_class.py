"""``scripts/grade_class.py``: a lesson autograded for a whole class, in parallel, resumable.

A course directory with the miniature lesson of ``tests/fixtures/`` (one exercise,
2 points; a submission grades in about a second), and submissions laid out as
``nbgrader collect`` leaves them. The grading itself is nbgrader's, unmocked.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
import pytest

import grade_class
import release

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "mini_lesson.py"
A = "mini"
BODIES = {  # what each student wrote in place of the stub
    "right": "return X - X.mean(axis=0)",
    "mistake": "return X - X.mean(axis=1, keepdims=True)",
    "stub": None,  # handed in untouched
}
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A course directory with the miniature lesson generated (no submissions)."""
    course = tmp_path_factory.mktemp("grade_class") / "course"
    nb = jupytext.read(FIXTURE)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i:03d}"
    (course.parent / "assets").mkdir()
    release.write_course(course, {A: [(A, nb)]}, assets=course.parent / "assets")
    release.generate(course, [A])
    return course


def _submit(course: Path, student: str, body: str | None, extra: str | None = None) -> None:
    """Write a submission as ``nbgrader collect`` would: submitted/<student>/<A>/."""
    nb = nbformat.read(course / "release" / A / f"{A}.ipynb", as_version=4)
    for cell in nb.cells:
        if release.is_solution(cell) and body is not None:
            cell.source = cell.source.replace(
                "# YOUR CODE HERE\n    raise NotImplementedError()", body
            )
    if extra:
        nb.cells.insert(2, nbformat.v4.new_code_cell(extra))
    target = course / "submitted" / student / A
    target.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target / f"{A}.ipynb")
    (target / "timestamp.txt").write_text("2026-11-28 10:00:00.000000 UTC")


@pytest.fixture
def course(template, tmp_path) -> Path:
    course = tmp_path / "course"
    shutil.copytree(template, course)
    return course


def _expected(student: str) -> float:
    return 2.0 if student.startswith("right") else 0.0


def test_grades_a_class_in_parallel_and_resumes_where_it_stopped(course, capsys):
    students = ["mistake-1", "right-1", "right-2", "stub-1"]
    for s in students:
        _submit(course, s, BODIES[s.split("-")[0]])

    first = grade_class.grade(course, A, workers=2, stop_after=2, progress=False)
    assert sorted(first["graded"]) == ["mistake-1", "right-1"]  # in name order
    assert sorted(first["left"]) == ["right-2", "stub-1"] and not first["failed"]
    done = {
        s: (course / "autograded" / s / A / f"{A}.ipynb").stat().st_mtime_ns
        for s in first["graded"]
    }

    second = grade_class.grade(course, A, workers=2, progress=False)
    assert sorted(second["skipped"]) == ["mistake-1", "right-1"], "graded twice"
    assert sorted(second["graded"]) == ["right-2", "stub-1"] and not second["left"]
    for s, mtime in done.items():  # not regraded: the autograded notebook is untouched
        assert (course / "autograded" / s / A / f"{A}.ipynb").stat().st_mtime_ns == mtime

    scores = grade_class.gradebook_scores(course, A, students)
    assert {s: c["center_tests"] for s, c in scores.items()} == {
        s: (_expected(s), 2.0) for s in students
    }
    table = grade_class.summary(course, A, second)
    assert "students graded" in table and " 4" in table.splitlines()[2]
    assert "mean score" in table and "1.00 / 2" in table
    row = next(line for line in table.splitlines() if "center_tests" in line)
    assert row.split()[1:] == ["2", "2"], row  # 2 points, lost by 2 students


def test_a_changed_submission_is_graded_again(course):
    _submit(course, "right-1", BODIES["mistake"])
    grade_class.grade(course, A, workers=1, progress=False)
    _submit(course, "right-1", BODIES["right"])  # collected again, now right
    again = grade_class.grade(course, A, workers=1, progress=False)
    assert again["graded"] == ["right-1"]
    assert grade_class.gradebook_scores(course, A, ["right-1"])["right-1"]["center_tests"][0] == 2


def _kernels_under(pid: int) -> list[int]:
    """Process ids of the ipykernel processes descended from ``pid``."""
    parents, commands = {}, {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            commands[int(proc.name)] = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        parents[int(proc.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found = []
    for child, command in commands.items():
        p = child
        while p in parents and p not in (0, 1, pid):
            p = parents[p]
        if p == pid and child != pid and "ipykernel" in command:
            found.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to look for kernels")
def test_ctrl_c_stops_cleanly_and_a_second_run_resumes(course):
    _submit(course, "a-right", BODIES["right"])
    _submit(course, "b-slow", BODIES["right"], extra="import time\ntime.sleep(25)")
    _submit(course, "c-right", BODIES["right"])
    cmd = [sys.executable, str(ROOT / "scripts" / "grade_class.py"), A, "--course-dir"]
    cmd += [str(course), "--workers", "1", "--no-progress"]
    proc = subprocess.Popen(
        cmd, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    state = grade_class.state_path(course, A)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # a-right done: b-slow is being graded
        if state.exists() and "a-right" in json.loads(state.read_text())["graded"]:
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("the first submission was not graded within 60 s")
    deadline = time.monotonic() + 30
    while not (kernels := _kernels_under(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert kernels, "no kernel running for b-slow"
    time.sleep(1)  # it has reached the sleeping cell
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out.decode()
    assert "interrupted" in out.decode()
    graded = json.loads(state.read_text())["graded"]
    assert graded["a-right"]["ok"] and not graded.get("b-slow", {}).get("ok")
    assert not [k for k in kernels if _alive(k)], "a kernel survived the interruption"

    _submit(course, "b-slow", BODIES["right"])  # (collected again, without the long sleep)
    result = grade_class.grade(course, A, workers=1, progress=False)
    assert result["skipped"] == ["a-right"]
    assert sorted(result["graded"]) == ["b-slow", "c-right"]
