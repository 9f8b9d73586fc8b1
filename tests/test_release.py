"""The student release (``make student``): no solution and no hidden test leaks into it,
solutions become stubs, only the outputs of exercise cells are cleared, and the
instructor notebooks carry nbgrader markup that follows the course's exercise layout.

The release is built as ``make student`` builds it (``scripts/release.py``), into a
temporary directory; a miniature lesson in ``tests/fixtures/`` tests the pipeline
itself (assets, header, a learner's edits kept) independently of the lessons.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import jupytext
import nbformat
import pytest

import release

ROOT = Path(__file__).resolve().parent.parent

LESSONS = release.lesson_notebooks()
FIXTURE = ROOT / "tests" / "fixtures" / "mini_lesson.py"
STUB = "# YOUR CODE HERE\n{indent}raise NotImplementedError()"


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    """The release of every lesson, built by scripts/release.py into a temporary folder."""
    if not LESSONS:
        pytest.skip("no lesson notebook yet")
    tmp = tmp_path_factory.mktemp("student")
    release.build_release((), course_dir=tmp / "course", out=tmp / "release")
    return tmp / "release"


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def _release_of(released: Path, lesson: Path) -> dict:
    return _load(released / lesson.stem / lesson.name)


lesson_param = pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem[:2])


# ------------------------------------------------------------------ the release
def test_release_has_every_lesson_and_a_readme(released):
    for lesson in LESSONS:
        assert (released / lesson.stem / lesson.name).is_file()
    assert "YOUR CODE HERE" in (released / "README.md").read_text()


@lesson_param
def test_no_solution_or_hidden_test_line_leaks(released, lesson):
    instructor = _load(lesson)
    secrets = release.secret_lines(instructor)
    solutions = [r for c in instructor["cells"] for r in release.regions(_source(c), *_SOLUTION)]
    hidden = [r for c in instructor["cells"] for r in release.regions(_source(c), *_HIDDEN)]
    assert solutions and hidden and secrets, "no solution or no hidden tests to protect"
    student = _release_of(released, lesson)
    assert release.find_leaks(instructor, [student]) == []
    # The markers themselves are gone too, and nothing of the solutions hides in metadata.
    text = json.dumps(student)
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text


_SOLUTION = (release.BEGIN_SOLUTION, release.END_SOLUTION)
_HIDDEN = (release.BEGIN_HIDDEN, release.END_HIDDEN)


@lesson_param
def test_no_solution_is_shown_whole_elsewhere_in_the_lesson(lesson):
    """A lesson may print a formula as code before an exercise asks for it (those
    lines are taught, not leaked), but never every line of a solution."""
    instructor = _load(lesson)
    taught = release.taught_lines(instructor)
    for cell in instructor["cells"]:
        for region in release.regions(_source(cell), *_SOLUTION):
            lines = set(filter(None, map(release._significant, region.splitlines())))
            assert lines - taught, f"the lesson shows this whole solution elsewhere: {lines}"


@lesson_param
def test_solutions_become_stubs_under_the_same_signature(released, lesson):
    instructor = {c["id"]: c for c in _load(lesson)["cells"]}
    student = [
        c
        for c in _release_of(released, lesson)["cells"]
        if release.is_solution(c) and c["cell_type"] == "code"
    ]
    assert student
    for cell in student:
        src = _source(cell)
        original = _source(instructor[cell["id"]])
        if cell["cell_type"] == "markdown":  # a written answer, graded by hand: all replaced
            assert src.strip() == "YOUR ANSWER HERE" and original.strip() != src.strip()
            continue
        before = original.split(release.BEGIN_SOLUTION)[0]
        indent = re.search(r"([ \t]*)### BEGIN SOLUTION", original).group(1)
        assert src.startswith(before), "the lines before the solution (signature) changed"
        assert (indent + STUB.format(indent=indent)) in src


@lesson_param
def test_written_answers_become_the_text_stub(released, lesson):
    """A written answer's model answer (the whole cell) is replaced by nbgrader's
    "YOUR ANSWER HERE"; the question stays in the cell before it."""
    instructor = {c["id"]: c for c in _load(lesson)["cells"]}
    for cell in _release_of(released, lesson)["cells"]:
        if not release.is_written_answer(cell):
            continue
        original = _source(instructor[cell["id"]])
        assert original.strip() and not release.regions(original, *_SOLUTION)
        assert _source(cell).strip() == "YOUR ANSWER HERE"
        meta = release.nbgrader_meta(cell)
        assert meta["points"] > 0 and not meta["locked"]


@lesson_param
def test_only_exercise_outputs_are_cleared(released, lesson):
    instructor = {c["id"]: c for c in _load(lesson)["cells"]}
    cleared = kept = 0
    for cell in _release_of(released, lesson)["cells"]:
        if cell["cell_type"] != "code":
            continue
        original = instructor[cell["id"]]
        if release.is_exercise(cell):
            assert cell["outputs"] == [] and cell["execution_count"] is None
            cleared += 1
        else:
            assert _source(cell) == _source(original)
            assert cell["outputs"] == original["outputs"], "a lesson output changed"
            kept += bool(cell["outputs"])
    assert cleared >= 3 and kept >= 1


@lesson_param
def test_release_keeps_every_cell_and_its_metadata(released, lesson):
    instructor = _load(lesson)
    student = _release_of(released, lesson)
    assert student["cells"][0]["id"] == "exercise-version"  # the note on top
    assert [c["id"] for c in student["cells"][1:]] == [c["id"] for c in instructor["cells"]]
    for mine, theirs in zip(student["cells"][1:], instructor["cells"], strict=True):
        for key in ("tags", "slideshow"):
            assert mine["metadata"].get(key) == theirs["metadata"].get(key)
        if release.is_written_answer(theirs):
            assert _source(mine) == "YOUR ANSWER HERE"  # the model answer stays out
        elif mine["cell_type"] == "markdown":
            assert _source(mine) == _source(theirs).replace("../assets/", "assets/")
    assert student["metadata"]["kernelspec"] == instructor["metadata"]["kernelspec"]
    assert "jupytext" not in student["metadata"]  # a plain notebook, no paired .py


@lesson_param
def test_written_answers_are_graded_by_hand_and_their_model_answers_stay_out(released, lesson):
    """A written question: a markdown cell that asks, then an answer cell (nbgrader's
    manually graded answer) with the model answer, replaced in the release."""
    instructor = _load(lesson)
    answers = [c for c in instructor["cells"] if release.is_written_answer(c)]
    if not answers:
        pytest.skip("no written question in this lesson")
    secrets = release.secret_lines(instructor)
    for cell in answers:
        model = set(filter(None, map(release._significant, _source(cell).splitlines())))
        assert model and model <= secrets
        before = instructor["cells"][instructor["cells"].index(cell) - 1]
        assert before["cell_type"] == "markdown" and _source(before).strip()  # the question
    student = _release_of(released, lesson)
    assert release.find_leaks(instructor, [student]) == []


@lesson_param
def test_linked_assets_travel_with_the_lesson(released, lesson):
    for name in set(re.findall(r"\.\./assets/([\w.\-/]+)", lesson.read_text())):
        assert (released / lesson.stem / "assets" / name).is_file(), name


# ------------------------------------------------------------------ the instructor markup
def _cells(lesson: Path) -> list[dict]:
    return _load(lesson)["cells"]


@lesson_param
def test_nbgrader_metadata_is_complete_and_ids_unique(lesson):
    ids = []
    for cell in _cells(lesson):
        meta = release.nbgrader_meta(cell)
        if not meta:
            continue
        ids.append(meta["grade_id"])
        assert meta["schema_version"] == 3
        if release.is_written_answer(cell):  # graded by hand: open for the learner's text
            assert not meta["locked"] and meta["points"] > 0
            continue
        if meta.get("solution"):
            assert cell["cell_type"] == "code" and not meta["grade"] and not meta["locked"]
        if meta.get("grade"):
            assert meta["locked"] and not meta["solution"] and meta["points"] > 0
    assert len(ids) == len(set(ids)), f"duplicate grade ids: {ids}"


@lesson_param
def test_markers_are_balanced_and_in_the_right_cells(lesson):
    for cell in _cells(lesson):
        src = _source(cell)
        lines = [line.strip() for line in src.splitlines()]
        for begin, end, kind in ((*_SOLUTION, release.is_solution), (*_HIDDEN, release.is_graded)):
            if begin in src or end in src:
                assert kind(cell), f"{begin} outside its kind of cell: {src[:80]!r}"
                assert lines.count(begin) == lines.count(end) >= 1
                assert lines.index(begin) < lines.index(end)
        if release.is_written_answer(cell):
            assert src.strip() and not lines.count(_SOLUTION[0]), "a written answer is whole"
            continue
        if release.is_solution(cell):
            assert release.regions(src, *_SOLUTION), "a solution cell without a solution"
        if release.is_graded(cell) and not release.is_written_answer(cell):
            assert release.regions(src, *_HIDDEN), "a graded cell without hidden tests"


@lesson_param
def test_exercise_layout(lesson):
    """Solution, feedback right after it, graded cells at the end under "## Graded checks"."""
    cells = _cells(lesson)
    code = [c for c in cells if c["cell_type"] == "code"]
    solutions = [c for c in code if release.is_solution(c)]
    graded = {release.nbgrader_meta(c)["grade_id"]: c for c in code if release.is_graded(c)}
    assert solutions, "no exercise"
    for cell in solutions:
        feedback = code[code.index(cell) + 1]
        assert release.is_feedback(feedback) and not release.nbgrader_meta(feedback)
        assert re.search(r"checks\.check_\w+\(", _source(feedback))
        grade_id = release.nbgrader_meta(cell)["grade_id"]
        assert f"{grade_id}_tests" in graded, f"no graded cell {grade_id}_tests"
    heading = next(
        i for i, c in enumerate(cells) if re.search(r"^## Graded checks", _source(c), re.M)
    )
    first_graded = min(cells.index(c) for c in graded.values())
    last_exercise = max(cells.index(c) for c in code if release.is_feedback(c))
    assert last_exercise < heading < first_graded
    for cell in graded.values():
        assert re.match(r"checks\.check_\w+\(.*\)\.assert_ok\(\)", _source(cell))


def _defined_functions(cell: dict) -> set[str]:
    return {n.name for n in ast.parse(_source(cell)).body if isinstance(n, ast.FunctionDef)}


def _names_read(cell: dict) -> set[str]:
    try:
        tree = ast.parse(release._python_source(_source(cell)))
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


@lesson_param
def test_lesson_cells_never_call_the_learners_functions(lesson):
    """In the student version those functions raise NotImplementedError: the lesson
    around them must still run, so only exercise cells may use them."""
    learner: set[str] = set()
    for cell in _cells(lesson):
        if cell["cell_type"] != "code":
            continue
        if release.is_solution(cell):
            learner |= _defined_functions(cell)
        elif not release.is_exercise(cell):
            used = _names_read(cell) & learner
            assert not used, f"a lesson cell uses the learner's {used}: {_source(cell)[:120]!r}"


# ------------------------------------------------------------------ the pipeline itself
def _fixture_notebook() -> nbformat.NotebookNode:
    """The miniature lesson with outputs as if executed (no kernel needed)."""
    nb = jupytext.read(FIXTURE)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i:03d}"
        if cell.cell_type == "code":
            cell.execution_count = i
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"out {i}\n")]
    return nb


@pytest.fixture(scope="module")
def mini(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("mini")
    (tmp / "assets").mkdir()
    (tmp / "assets" / "fixture.png").write_bytes(b"\x89PNG fixture")
    course = tmp / "course"
    release.write_course(course, {"mini": [("mini", _fixture_notebook())]}, assets=tmp / "assets")
    release.generate(course, ["mini"])
    return course


def test_pipeline_on_the_miniature_lesson(mini):
    assert release.check_release(mini, ["mini"]) == []
    nb = _load(mini / "release" / "mini" / "mini.ipynb")
    by_id = {c["id"]: c for c in nb["cells"]}
    assert "Exercise version" in _source(nb["cells"][0])
    assert "](assets/fixture.png)" in _source(by_id["c000"])
    assert (mini / "release" / "mini" / "assets" / "fixture.png").is_file()
    kept = [c for c in nb["cells"] if c["cell_type"] == "code" and c["outputs"]]
    assert [c["id"] for c in kept] == ["c001", "c002"]  # setup and explanation outputs
    assert "column_means_of_fixture" not in json.dumps(nb)
    assert "_hidden_X_fixture" not in json.dumps(nb)


def test_leak_check_finds_a_planted_leak(mini):
    instructor = _load(mini / "source" / "mini" / "mini.ipynb")
    student = _load(mini / "release" / "mini" / "mini.ipynb")
    assert release.find_leaks(instructor, [student]) == []
    student["cells"][2]["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": "return X - column_means_of_fixture"}
    ]
    assert release.find_leaks(instructor, [student]) == ["return X - column_means_of_fixture"]


def test_a_learners_edits_survive_a_new_release(mini, tmp_path):
    out = tmp_path / "release"
    assert release.copy_release(mini, ["mini"], out) == []
    notebook = out / "mini" / "mini.ipynb"
    assert release.copy_release(mini, ["mini"], out) == []  # untouched: replaced silently
    notebook.write_text(notebook.read_text().replace("raise NotImplementedError()", "return X"))
    assert release.copy_release(mini, ["mini"], out) == ["mini/mini.ipynb"]
    assert "return X" in notebook.read_text()
    assert release.copy_release(mini, ["mini"], out, force=True) == []
    assert "return X" not in notebook.read_text()


def test_make_student_lists_a_kept_notebook_as_kept_not_as_released(monkeypatch, capsys):
    kept = ["02_cost_contours/02_cost_contours.ipynb"]
    lessons = ["01_input_normalization", "02_cost_contours"]
    monkeypatch.setattr(release, "build_release", lambda *a, **k: (lessons, kept))
    assert release.main([]) == 0
    said = capsys.readouterr().out
    released, _, kept_part = said.partition("kept 1 lesson(s) you have edited")
    assert "released 1 lesson(s)" in released
    assert "01_input_normalization/01_input_normalization.ipynb" in released
    assert "02_cost_contours" not in released
    assert "02_cost_contours/02_cost_contours.ipynb" in kept_part


def test_exercise_slice_keeps_only_what_the_exercises_need():
    sliced = release.exercise_slice(_fixture_notebook())
    code = [c.source for c in sliced.cells if c.cell_type == "code"]
    assert "def check_center" in code[0] and "import numpy as np" in code[0]
    assert not any("explanation output" in src for src in code)
    assert sum(release.is_exercise(c) for c in sliced.cells) == 3
