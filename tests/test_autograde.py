"""The nbgrader round trip, end to end, on the exercises of every lesson.

One course with one assignment: every lesson's exercise slice (its exercise
cells and the statements they need, see ``release.exercise_slice``), released
with ``generate_assignment`` and submitted by three students (made by
``scripts/autograde_demo.py``): the release with the reference solutions, one
with typical mistakes, one that loops forever, leaves exercises undone, raises,
deletes its own functions, hands an exercise to the course_lib reference and returns
an object whose ``__array__`` never returns.
``nbgrader autograde`` grades them all.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import nbformat
import pytest

import autograde_demo as demo

ROOT = Path(__file__).resolve().parent.parent

release = demo.release
# Lessons that can run here (lesson 07 needs PyTorch; without it, it is left out and
# the report says so: see the repository's conftest.py).
LESSONS = demo.runnable_lessons()
pytestmark = [
    pytest.mark.skipif(not LESSONS, reason="no lesson notebook yet"),
    # nbgrader's gradebook makes SQLAlchemy warn about its lazy relations.
    pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning"),
]
A = demo.SLICES
CHECK_TIMEOUT = "1"  # seconds per call for the broken student: its endless function costs 1 s


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    demo.build_course(course)
    demo.submit(course, {A: [A]})
    demo.autograde(course, A, "reference")  # the default time limits, as in a real course
    demo.autograde(course, A, "typical")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_CHECK_TIMEOUT", CHECK_TIMEOUT)  # the kernels inherit it
        demo.autograde(course, A, "broken")
    demo.feedback(course, A, "typical")
    return course


@pytest.fixture(scope="module")
def scores(course) -> dict[str, dict[str, tuple[float, float]]]:
    return demo.scores(course, A)


@functools.cache  # read-only for its callers
def _instructor() -> nbformat.NotebookNode:
    return demo.merged_slices(LESSONS)


def _graded_ids() -> list[str]:
    return [c.metadata.nbgrader.grade_id for c in _instructor().cells if release.is_graded(c)]


def _exercises() -> list[tuple[int, str, str]]:
    """(index k among solution cells, function name, grade id of its graded cell)."""
    out = []
    for k, cell in enumerate(demo.solution_cells(_instructor())):
        name = demo.function_name(cell)
        out.append((k, name, f"{cell.metadata.nbgrader.grade_id}_tests"))
    return out


@functools.cache
def _needs() -> dict[str, frozenset[str]]:
    """Per graded cell: the exercise functions it calls (its own and, for a backward pass,
    the learner's forward, whose cache it receives: a wrong forward costs the backward's
    points too). Names after a dot (course_lib's references) are not the learner's."""
    names = {name for _, name, _ in _exercises() if name}
    return {
        cell.metadata.nbgrader.grade_id: frozenset(
            n for n in names if re.search(rf"(?<![.\w]){n}\b", cell.source)
        )
        for cell in _instructor().cells
        if release.is_graded(cell)
    }


def _full_marks_expected(student: str, graded: str) -> bool:
    """A graded cell scores full marks when every exercise it calls was answered right."""
    fate = {name: demo.STUDENTS[student](k, name) for k, name, _ in _exercises()}
    return all(fate[name] == "reference" for name in _needs()[graded])


def _autograded(course: Path, student: str) -> list[dict]:
    nb = json.loads((course / "autograded" / student / A / f"{A}.ipynb").read_text())
    return nb["cells"]


def _cell_text(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts += [out.get("ename", ""), out.get("evalue", ""), "".join(out.get("text", ""))]
        parts += [re.sub(r"\x1b\[[0-9;]*m", "", t) for t in out.get("traceback", [])]
        parts += ["".join(v) for k, v in out.get("data", {}).items() if k.startswith("text/")]
    return "\n".join(parts)


def test_every_lesson_has_graded_exercises():
    ids = _graded_ids()
    lessons = {p.stem[:2] for p in LESSONS}
    assert {i[1:3] for i in ids} == lessons, f"lessons without a graded cell: {ids}"
    for _, name, graded in _exercises():
        assert graded in ids, f"exercise {name}: no graded cell {graded!r}"


def test_reference_solutions_score_full_marks(scores):
    reference = scores["reference"]
    assert sorted(reference) == sorted(_graded_ids())
    short = {cell: s for cell, s in reference.items() if s[0] < s[1]}
    assert not short, f"the reference solutions lose points in {short}"
    assert all(m > 0 for _, m in reference.values())


def test_typical_mistakes_score_partial_marks(scores):
    typical = scores["typical"]
    got, total = sum(s for s, _ in typical.values()), sum(m for _, m in typical.values())
    assert 0 < got < total
    for k, name, graded in _exercises():
        fate = demo.STUDENTS["typical"](k, name)
        expected_full = _full_marks_expected("typical", graded)
        assert (typical[graded][0] == typical[graded][1]) == expected_full, (name, fate, typical)


def test_feedback_names_the_failing_checks(course, scores):
    page = (course / "feedback" / "typical" / A / f"{A}.html").read_text()
    failing = [
        name for _, name, graded in _exercises() if scores["typical"][graded][0] == 0 and name
    ]
    assert failing
    for name in failing:
        assert f"✘ {name}: failed on" in page, f"the feedback does not name {name}"
    assert "AssertionError" in page and "Hint:" in page


def test_broken_submission_is_graded_not_crashed(course, scores):
    broken = scores["broken"]
    assert sorted(broken) == sorted(_graded_ids()), "some graded cells were not graded"
    cells = {
        c["metadata"].get("nbgrader", {}).get("grade_id"): c
        for c in _autograded(course, "broken")
        if c["cell_type"] == "code"
    }
    fates = {graded: demo.STUDENTS["broken"](k, name) for k, name, graded in _exercises()}
    texts = {graded: _cell_text(cells[graded]) for graded in fates}
    for graded, fate in fates.items():
        # After a loop, an exception and a deletion, a right answer still scores.
        full = broken[graded][0] == broken[graded][1]
        assert full == _full_marks_expected("broken", graded), (graded, fate, texts[graded])
        # The checker's time limit fires, never the autograder's (60 s per cell).
        assert "CellTimeoutError" not in texts[graded]
    first = {fate: graded for graded, fate in reversed(fates.items())}
    assert "did not return within 1 s" in texts[first["endless"]]
    assert (
        "an Endless object, and turning it into numbers did not finish within 1 s"
        in (texts[first["array"]])
    )
    assert "not written yet" in texts[first["stub"]]
    assert all("NameError" in texts[g] for g, fate in fates.items() if fate == "delete")
    assert "calls course_lib's" in texts[first["cheat"]]


def test_autograde_prints_no_warnings(course, capfd):
    """No SQLAlchemy warnings from nbgrader's gradebook, no "Kernel is running over TCP
    without encryption" from the kernels (they get CurveZMQ keys)."""
    import warnings

    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        demo.autograde(course, A, "reference")
    out, err = capfd.readouterr()
    assert "without encryption" not in out + err
    assert "SAWarning" not in out + err
    assert not [w for w in caught if "sqlalchemy" in type(w.message).__module__], caught


def test_grades_export_to_csv(course, scores):
    rows = {r["student_id"]: r for r in demo.export(course)}
    assert sorted(rows) == ["broken", "reference", "typical"]
    assert float(rows["reference"]["score"]) == float(rows["reference"]["max_score"]) > 0
    assert 0 < float(rows["typical"]["score"]) < float(rows["typical"]["max_score"])


def test_nbgrader_validate_passes_the_instructor_exercises(course):
    """`nbgrader validate` executes the instructor's exercises: every graded cell passes."""
    from nbgrader.validator import Validator

    validator = Validator(config=release.nbgrader_api(course).config)
    results = validator.validate(str(course / "source" / A / f"{A}.ipynb"))
    assert results == {}, results


def test_the_graded_notebook_is_the_lessons_exercise_cells():
    """The slices keep every exercise cell of the lessons unchanged (only grade ids prefixed);
    the answers of written questions are graded by hand, outside this round trip."""
    merged = [c for c in _instructor().cells if release.is_exercise(c)]
    lessons = [
        c
        for p in LESSONS
        for c in nbformat.read(p, as_version=4).cells
        if release.is_exercise(c) and not release.is_written_answer(c)
    ]
    assert not any(release.is_written_answer(c) for c in merged)
    assert [c.source for c in merged] == [c.source for c in lessons]
