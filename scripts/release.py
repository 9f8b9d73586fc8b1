"""Build the student release of the course with nbgrader (``make student``).

    python scripts/release.py                 # every lesson -> release/
    python scripts/release.py 01 03           # only these lessons
    python scripts/release.py --force         # also replace release notebooks you edited
    python scripts/release.py --validate      # first `nbgrader validate` the instructor notebooks
    python scripts/release.py --course-dir ~/courses/bn   # set up a real nbgrader course

The notebooks in ``notebooks/`` are the instructor versions (solutions in,
outputs stored). This script lays them out as an nbgrader course directory,

    build/nbgrader/                         (or --course-dir)
      nbgrader_config.py                    course id, what to clear, time limits
      header.ipynb                          the "exercise version" note put on top
      source/01_input_normalization/01_input_normalization.ipynb
      source/01_input_normalization/assets/...   figures the lesson's text links to
      ...

runs ``nbgrader generate_assignment`` (solutions become ``# YOUR CODE HERE`` /
``raise NotImplementedError()``, hidden tests are removed, the outputs of the
exercise cells are cleared, every other output is kept), checks the result for
leaks, and copies it to ``release/<assignment>/``.

One nbgrader assignment per lesson, named after the notebook: lessons are handed
out one at a time with their own deadline, each is collected and autograded on
its own (a submission runs one lesson, not five), and the gradebook shows one
column per lesson. ``release/`` keeps a learner's work: a release notebook that
was edited since it was written is not replaced unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import contextlib
import copy
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
ASSETS = ROOT / "assets"
DEFAULT_COURSE_DIR = ROOT / "build" / "nbgrader"
DEFAULT_RELEASE = ROOT / "release"
COURSE_ID = "batch-norm-course"
FEEDBACK_TAG = "exercise-feedback"
MANIFEST = ".release.json"  # hashes of the notebooks as written, to spot a learner's edits

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"

# The course's nbgrader configuration. Self-contained on purpose: an instructor
# copies this file and source/ to a JupyterHub and runs nbgrader as usual.
NBGRADER_CONFIG = '''\
"""nbgrader configuration of the course (written by scripts/release.py).

The lessons are the assignments, one notebook each. Differences from nbgrader's
defaults: generate_assignment clears only the outputs of exercise cells
(solution, feedback and graded cells), so figures and printed numbers stay in
the student version; every notebook gets a short header; autograde gives a cell
30 s, more than a checker needs to give up on a function that never returns
(5 s per call, 15 s per check).
"""

import os

import zmq
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearHiddenTests,
    ClearMarkScheme,
    ClearSolutions,
    ComputeChecksums,
    IncludeHeaderFooter,
    InstantiateTests,
    LockCells,
    NbGraderPreprocessor,
    SaveCells,
)

FEEDBACK_TAG = "{feedback_tag}"


class ClearExerciseOutput(NbGraderPreprocessor):
    """Clear the outputs of solution, graded and feedback cells; keep all others."""

    def preprocess_cell(self, cell, resources, index):
        nbgrader = cell.metadata.get("nbgrader", {{}})
        exercise = (
            nbgrader.get("solution")
            or nbgrader.get("grade")
            or FEEDBACK_TAG in cell.metadata.get("tags", [])
        )
        if cell.cell_type == "code" and exercise:
            cell.outputs = []
            cell.execution_count = None
        return cell, resources


c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "{course_id}"

# nbgrader's default list with ClearOutput (which clears everything) replaced.
c.GenerateAssignment.preprocessors = [
    IncludeHeaderFooter,
    InstantiateTests,
    LockCells,
    ClearSolutions,
    ClearExerciseOutput,
    CheckCellMetadata,
    ComputeChecksums,
    SaveCells,
    ClearHiddenTests,
    ClearMarkScheme,
    ComputeChecksums,
    CheckCellMetadata,
]
c.IncludeHeaderFooter.header = os.path.join(os.path.dirname(__file__), "header.ipynb")

# Autograde and validate: a cell that runs longer is interrupted and scored 0. The
# checkers bound the learner's code themselves (5 s per call, 15-30 s per check; lesson
# 04's training step trains for up to 20 s): this is the backstop, above their sum.
c.Execute.timeout = 60

# The kernels that autograde and validate start talk to nbgrader over TCP on this
# machine: encrypt it with CurveZMQ keys, as ipykernel asks (without them every
# kernel logs "Kernel is running over TCP without encryption").
if zmq.has("curve"):
    c.KernelManager.transport_encryption = "auto"
'''

HEADER_TEXT = (
    "**Exercise version.** Write your code where a cell says `# YOUR CODE HERE` "
    "(replace the `raise NotImplementedError()` line), then run the cell below it: "
    "it checks your function at once and names the mistake when there is one. "
    "The *Graded checks* at the end run the same checks again (when an instructor "
    "grades the notebook with nbgrader, hidden tests on other data run there too); a "
    "`NotImplementedError` or `AssertionError` there means an exercise is not "
    "done yet. A written question has a cell saying *YOUR ANSWER HERE*: replace it "
    "with your answer. The rest of the lesson runs without your code."
)


# ------------------------------------------------------------------ notebook cells
def nbgrader_meta(cell: dict) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_solution(cell: dict) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_graded(cell: dict) -> bool:
    return bool(nbgrader_meta(cell).get("grade"))


def is_written_answer(cell: dict) -> bool:
    """A manually graded written answer: a markdown cell that is both solution and
    graded. The instructor version holds the model answer; the release says
    "YOUR ANSWER HERE" (nbgrader's text stub)."""
    return cell.get("cell_type") == "markdown" and is_solution(cell) and is_graded(cell)


def is_feedback(cell: dict) -> bool:
    return FEEDBACK_TAG in cell.get("metadata", {}).get("tags", [])


def is_exercise(cell: dict) -> bool:
    return is_solution(cell) or is_graded(cell) or is_feedback(cell)


def regions(source: str, begin: str, end: str) -> list[str]:
    """The lines strictly between each ``begin`` and ``end`` marker line."""
    found, inside, current = [], False, []
    for line in source.splitlines():
        marker = line.strip()
        if marker == begin:
            inside, current = True, []
        elif marker == end and inside:
            found.append("\n".join(current))
            inside = False
        elif inside:
            current.append(line)
    return found


def one_assignment_per_lesson(paths: Iterable[Path]) -> dict[str, list]:
    """{assignment: [(notebook name, notebook)]}: each lesson is an assignment of its own."""
    return {p.stem: [(p.stem, nbformat.read(p, as_version=4))] for p in paths}


def lesson_notebooks(selected: Sequence[str] = (), suffix: str = ".ipynb") -> list[Path]:
    """The instructor notebooks ``notebooks/NN_*.ipynb`` (or their jupytext sources
    ``notebooks/src/NN_*.py``, with ``suffix=".py"``), or those whose names start with
    one of ``selected``."""
    folder = NOTEBOOKS / "src" if suffix == ".py" else NOTEBOOKS
    paths = sorted(folder.glob(f"[0-9][0-9]_*{suffix}"))
    if selected:
        paths = [p for p in paths if any(p.name.startswith(s) for s in selected)]
    return paths


# ------------------------------------------------------------------ exercise slices
# The tests grade the exercises, not the lesson around them: an "exercise slice"
# keeps the exercise cells and, from the cells before them, only the top-level
# statements those cells need (imports, data, helpers), found by name.
_BUILTINS = set(dir(builtins))


def _python_source(source: str) -> str:
    """Cell source with IPython magics and shell escapes turned into valid Python."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - without IPython, drop the magic lines
        return "\n".join(
            "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
        )


def _defined(node: ast.stmt) -> set[str]:
    """Names a top-level statement binds in the module (not inside function bodies)."""
    names: set[str] = set()
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {node.name}
    if isinstance(node, ast.Import | ast.ImportFrom):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    stack: list[ast.AST] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            if not isinstance(item, ast.Lambda):
                names.add(item.name)
            continue
        if isinstance(item, ast.Name) and isinstance(item.ctx, ast.Store | ast.Del):
            names.add(item.id)
        elif isinstance(item, ast.Subscript | ast.Attribute) and isinstance(item.ctx, ast.Store):
            base = item.value
            while isinstance(base, ast.Subscript | ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name):  # X[0] = ... changes X
                names.add(base.id)
        elif isinstance(item, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in item.names}
        stack.extend(ast.iter_child_nodes(item))
    return names


def _used(node: ast.AST) -> set[str]:
    """Global names a statement reads, also inside the functions it defines (they read
    them at call time); a function's parameters and local variables are not global."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        a = node.args
        params = {p.arg for p in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg] if p}
        body = node.body if isinstance(node.body, list) else [node.body]
        local = params | set().union(*(_defined(s) for s in body if isinstance(s, ast.stmt)))
        declared = {n for s in ast.walk(node) if isinstance(s, ast.Global) for n in s.names}
        inner = set().union(*(_used(s) for s in body))
        outer = set().union(*(_used(d) for d in [*a.defaults, *a.kw_defaults] if d))
        outer |= set().union(*(_used(d) for d in getattr(node, "decorator_list", [])))
        return (inner - (local - declared)) | outer
    if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
        targets = set().union(*(_defined(ast.Expr(g.target)) for g in node.generators))
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        parts += [x for g in node.generators for x in (*g.ifs, g.iter)]
        return set().union(*(_used(x) for x in parts)) - targets
    if isinstance(node, ast.Name):
        return {node.id} - _BUILTINS if isinstance(node.ctx, ast.Load) else set()
    return set().union(*(_used(child) for child in ast.iter_child_nodes(node)))


def _statements(source: str) -> list[tuple[str, set[str], set[str], ast.stmt]] | None:
    """(source, defines, uses, node) of each top-level statement, or None if it does not parse."""
    code = _python_source(source)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    return [(ast.get_source_segment(code, s) or "", _defined(s), _used(s), s) for s in tree.body]


def _needed_imports(node: ast.Import | ast.ImportFrom, needed: set[str]) -> str:
    """The import statement reduced to the names in ``needed`` (fewer modules to load)."""
    node = copy.deepcopy(node)
    node.names = [a for a in node.names if (a.asname or a.name).split(".")[0] in needed]
    return ast.unparse(node)


def exercise_slice(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook reduced to its exercises and what they need to run.

    Exercise cells (solution, feedback, graded) are kept whole. Before them,
    only top-level statements that define a name a later kept statement reads
    are kept (a cell that does not parse is kept whole). The markdown cell
    just before each exercise cell stays, for the reader. Written answers are
    left out: they are graded by hand, not by running the slice.
    """
    cells = nb.cells
    keep: dict[int, str] = {}
    needed: set[str] = set()
    for i in range(len(cells) - 1, -1, -1):
        cell = cells[i]
        if cell.cell_type != "code":
            continue
        if is_exercise(cell):
            statements = _statements(cell.source)
            keep[i] = cell.source
            if statements is None:
                continue
            for _, defines, uses, _ in reversed(statements):
                needed = (needed - defines) | uses
            continue
        if not needed:
            continue
        statements = _statements(cell.source)
        if statements is None:
            keep[i] = cell.source
            continue
        chosen = []
        for src, defines, uses, node in reversed(statements):
            if defines & needed:
                if isinstance(node, ast.Import | ast.ImportFrom):
                    src = _needed_imports(node, needed)
                chosen.append(src)
                needed = (needed - defines) | uses
        if chosen:
            keep[i] = "\n".join(reversed(chosen))
    out = copy.deepcopy(nb)
    out.cells = []
    for i, cell in enumerate(cells):
        if i in keep:
            new = copy.deepcopy(cell)
            new.source = keep[i]
            out.cells.append(new)
        elif (
            cell.cell_type == "markdown"
            and not is_written_answer(cell)
            and i + 1 in keep
            and is_exercise(cells[i + 1])
        ):
            out.cells.append(copy.deepcopy(cell))
    return out


# ------------------------------------------------------------------ the course directory
def prepare_source(nb: nbformat.NotebookNode, assets: Path, target_dir: Path) -> None:
    """Make a lesson notebook self-contained as an nbgrader source notebook.

    Links to ``../assets/X`` (relative to notebooks/) become ``assets/X`` and the
    files are copied next to the notebook, so the assignment folder carries them
    through release, fetch and submit. The jupytext pairing is dropped: the
    release is a plain notebook.
    """
    nb.metadata.pop("jupytext", None)
    for cell in nb.cells:
        for name in set(re.findall(r"\.\./assets/([\w.\-/]+)", cell.source)):
            src = assets / name
            if src.is_file():
                dest = target_dir / "assets" / name
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)
        cell.source = cell.source.replace("../assets/", "assets/")


def write_course(
    course_dir: Path,
    lessons: dict[str, list[tuple[str, nbformat.NotebookNode]]],
    assets: Path = ASSETS,
    overwrite_config: bool = True,
) -> None:
    """Lay out ``course_dir`` for nbgrader: config, header and ``source/<assignment>/``.

    lessons: assignment name -> [(notebook name without .ipynb, notebook)].
    """
    course_dir.mkdir(parents=True, exist_ok=True)
    config = course_dir / "nbgrader_config.py"
    if overwrite_config or not config.exists():
        config.write_text(NBGRADER_CONFIG.format(course_id=COURSE_ID, feedback_tag=FEEDBACK_TAG))
    header = nbformat.v4.new_notebook()
    header.cells = [nbformat.v4.new_markdown_cell(HEADER_TEXT)]
    header.cells[0]["id"] = "exercise-version"
    nbformat.write(header, course_dir / "header.ipynb")
    for assignment, notebooks in lessons.items():
        target = course_dir / "source" / assignment
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for name, nb in notebooks:
            nb = copy.deepcopy(nb)
            prepare_source(nb, assets, target)
            nbformat.write(nb, target / f"{name}.ipynb")


def _venv_on_path() -> None:
    """nbgrader runs ``alembic`` by name: put this Python's scripts first on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir, path])


@functools.cache
def _alembic_head() -> str:
    """The gradebook schema version, read in this process (nbgrader starts ``alembic``
    as a command for it, seconds on a busy machine, each time it creates a gradebook)."""
    import nbgrader
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(nbgrader.__file__).parent / "alembic"))
    return ScriptDirectory.from_config(config).get_current_head()


def nbgrader_api(course_dir: Path):
    """nbgrader's Python API on ``course_dir`` with its ``nbgrader_config.py``.

    The same code as the ``nbgrader`` commands, without a process start per call.
    """
    import nbgrader.api
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    _venv_on_path()
    with contextlib.suppress(Exception):
        _alembic_head()
        nbgrader.api.get_alembic_version = _alembic_head
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course_dir)).load_config()
    config.CourseDirectory.root = str(course_dir)
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def run_nbgrader(course_dir: Path, command: str, *args, **kwargs) -> dict:
    """``nbgrader_api(course_dir).<command>(...)``; raises RuntimeError with its log on failure.

    nbgrader 0.9's gradebook makes SQLAlchemy 2 warn (SAWarning, "Object of type
    <SubmittedAssignment> not in session ...") about how nbgrader.api adds objects to
    the session; harmless for the grades, and nothing for an instructor to act on:
    silenced for nbgrader.api only.
    """
    with warnings.catch_warnings():
        with contextlib.suppress(ImportError):
            from sqlalchemy.exc import SAWarning

            warnings.filterwarnings("ignore", category=SAWarning, module=r"nbgrader\.api")
        result = getattr(nbgrader_api(course_dir), command)(*args, **kwargs)
    if not result.get("success"):
        log = "\n".join(filter(None, [result.get("error"), result.get("log")]))
        raise RuntimeError(f"nbgrader {command} {' '.join(map(str, args))} failed:\n{log}")
    return result


def nbgrader_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the ``nbgrader`` command (this Python's) in ``cwd``."""
    _venv_on_path()
    cmd = [sys.executable, "-m", "nbgrader", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def generate(course_dir: Path, assignments: Iterable[str]) -> None:
    """``nbgrader generate_assignment A --force`` for each assignment."""
    for assignment in assignments:
        run_nbgrader(course_dir, "generate_assignment", assignment, force=True)


# ------------------------------------------------------------------ leak check
_TRIVIAL = re.compile(r"^(#.*|[\W_]*|return|pass|else:|try:|finally:|\w{1,3})$")


def _significant(line: str) -> str | None:
    """A line worth looking for: whitespace collapsed, not blank, not generic."""
    text = " ".join(line.split())
    if len(text) < 8 or _TRIVIAL.match(text):
        return None
    return text


def _src(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _region_lines(nb: dict, begin: str, end: str) -> set[str]:
    lines: set[str] = set()
    for cell in nb["cells"]:
        for region in regions(_src(cell), begin, end):
            lines.update(filter(None, map(_significant, region.splitlines())))
    return lines


def secret_lines(nb: dict) -> set[str]:
    """Every significant line of the solution regions, the hidden tests and the model
    answers of written questions (whole cells, without markers) of a notebook."""
    answers = {
        s
        for cell in nb["cells"]
        if is_written_answer(cell)
        for s in map(_significant, _src(cell).splitlines())
        if s
    }
    return (
        _region_lines(nb, BEGIN_SOLUTION, END_SOLUTION)
        | _region_lines(nb, BEGIN_HIDDEN, END_HIDDEN)
        | answers
    )


def notebook_text(nb: dict) -> list[str]:
    """Every line of a notebook a learner can see: sources, outputs, metadata values."""
    lines: list[str] = []

    def add(value) -> None:
        if isinstance(value, str):
            lines.extend(" ".join(line.split()) for line in value.splitlines())
        elif isinstance(value, list):
            for v in value:
                add(v)
        elif isinstance(value, dict):
            for v in value.values():
                add(v)

    add(nb)
    return lines


def _found(lines: set[str], text: list[str]) -> set[str]:
    return {s for s in lines if any(s in line for line in text)}


def taught_lines(instructor_nb: dict) -> set[str]:
    """Solution lines that the lesson itself shows outside its exercise cells.

    A derivation may print a formula as code (``dbeta = dout.sum(axis=0)``)
    before the exercise asks for it: such a line is taught, not leaked. What
    the lesson shows is the author's choice; the release must add nothing to it.
    """
    lesson = {**instructor_nb, "cells": [c for c in instructor_nb["cells"] if not is_exercise(c)]}
    return _found(_region_lines(instructor_nb, BEGIN_SOLUTION, END_SOLUTION), notebook_text(lesson))


def find_leaks(instructor_nb: dict, release_nbs: Iterable[dict]) -> list[str]:
    """Secret lines of ``instructor_nb`` that appear in a release notebook: any line of
    a hidden test, any line of a solution the lesson does not show itself, the markers."""
    secrets = secret_lines(instructor_nb) - taught_lines(instructor_nb)
    leaks = set()
    for nb in release_nbs:
        text = notebook_text(nb)
        leaks |= _found(secrets, text)
        leaks |= {
            m
            for m in (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)
            if any(m in line for line in text)
        }
    return sorted(leaks)


def check_release(course_dir: Path, assignments: Iterable[str]) -> list[str]:
    """Problems in the generated release: leaks, and solution cells without a stub."""
    problems = []
    for assignment in assignments:
        source = course_dir / "source" / assignment
        release = course_dir / "release" / assignment
        released = {p.name: json.loads(p.read_text()) for p in release.rglob("*.ipynb")}
        for path in sorted(source.glob("*.ipynb")):
            nb = json.loads(path.read_text())
            if path.name not in released:
                problems.append(f"{assignment}/{path.name}: missing from the release")
                continue
            for leak in find_leaks(nb, released.values()):
                problems.append(f"{assignment}/{path.name}: leaks {leak!r}")
            for cell in released[path.name]["cells"]:
                src = "".join(cell["source"])
                if is_solution(cell) and cell["cell_type"] == "code":
                    if "raise NotImplementedError()" not in src:
                        problems.append(f"{assignment}/{path.name}: a solution cell has no stub")
    return problems


# ------------------------------------------------------------------ copying to release/
def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_release(
    course_dir: Path, assignments: Iterable[str], out: Path, force: bool = False
) -> list[str]:
    """Copy ``course_dir/release/<a>`` to ``out/<a>``, keeping notebooks a learner edited.

    Returns the notebooks kept (relative to ``out``).
    """
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    kept = []
    for assignment in assignments:
        src_dir = course_dir / "release" / assignment
        for src in sorted(p for p in src_dir.rglob("*") if p.is_file()):
            rel = src.relative_to(src_dir.parent).as_posix()
            dest = out / rel
            if dest.exists() and src.suffix == ".ipynb" and not force:
                untouched = manifest.get(rel) == _digest(dest)
                if not untouched and _digest(dest) != _digest(src):
                    kept.append(rel)
                    continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
            manifest[rel] = _digest(dest)
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return kept


LEARNER_README = """\
# Exercise versions of the course

Written by `make student` (scripts/release.py) from the lessons in `notebooks/`.
Each folder is one lesson. The exercises have their solutions removed: write
yours where a cell says `# YOUR CODE HERE` and run the cell below it for
immediate feedback. The graded checks at the end of each notebook run the same
checks again; hidden tests on other data run there only when an instructor grades
the notebook with nbgrader. Written questions: replace *YOUR ANSWER HERE* with
your answer.

The notebooks in `notebooks/` are the instructor versions, with the solutions.
`make student` keeps a notebook here that you have edited; `python
scripts/release.py --force` replaces it with a fresh copy.
"""


# ------------------------------------------------------------------ validation
def validate(paths: Sequence[Path]) -> subprocess.CompletedProcess:
    """``nbgrader validate`` the given notebooks (it executes them)."""
    return nbgrader_cli(ROOT, "validate", *map(str, paths))


def build_release(
    selected: Sequence[str] = (),
    course_dir: Path = DEFAULT_COURSE_DIR,
    out: Path | None = DEFAULT_RELEASE,
    force: bool = False,
    scratch: bool = True,
) -> tuple[list[str], list[str]]:
    """Build the course directory and the release.

    Returns (the assignments released, the notebooks of ``out`` kept because a learner
    edited them, relative to ``out``).
    """
    paths = lesson_notebooks(selected)
    if not paths:
        raise SystemExit(f"no lesson notebook in notebooks/ matches {list(selected) or 'NN_*'}")
    if scratch and course_dir.exists():
        shutil.rmtree(course_dir)
    lessons = one_assignment_per_lesson(paths)
    write_course(course_dir, lessons, overwrite_config=scratch)
    generate(course_dir, lessons)
    problems = check_release(course_dir, lessons)
    if problems:
        raise SystemExit("the release is not clean:\n  " + "\n  ".join(problems))
    kept: list[str] = []
    if out is not None:
        kept = copy_release(course_dir, lessons, out, force)
        (out / "README.md").write_text(LEARNER_README)
    return list(lessons), kept


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lessons", nargs="*", help="lesson numbers (default: all)")
    parser.add_argument("--force", action="store_true", help="replace edited release notebooks")
    parser.add_argument(
        "--validate", action="store_true", help="nbgrader validate the instructor notebooks first"
    )
    parser.add_argument(
        "--course-dir",
        type=Path,
        help="an nbgrader course directory to set up (kept: gradebook, submissions, config)",
    )
    args = parser.parse_args(argv)
    if args.validate:
        result = validate(lesson_notebooks(args.lessons))
        print(result.stdout.strip() or result.stderr.strip())
        if result.returncode != 0 or "VALIDATION FAILED" in result.stdout:
            return 1
    course_dir = args.course_dir.expanduser().resolve() if args.course_dir else DEFAULT_COURSE_DIR
    scratch = args.course_dir is None
    assignments, kept = build_release(
        args.lessons, course_dir, DEFAULT_RELEASE if scratch else None, args.force, scratch
    )
    where = DEFAULT_RELEASE if scratch else course_dir / "release"
    written = [f"{name}/{name}.ipynb" for name in assignments]
    written = [rel for rel in written if rel not in kept]
    into = where.relative_to(ROOT) if scratch else where
    print(f"released {len(written)} lesson(s) into {into}")
    for rel in written:
        print(f"  {rel}")
    if kept:
        print(f"kept {len(kept)} lesson(s) you have edited (--force replaces them):")
        for rel in kept:
            print(f"  {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
