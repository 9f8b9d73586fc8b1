"""The nbgrader round trip on the course's exercises, with made-up students.

    python scripts/autograde_demo.py            # the exercises of every lesson, ~30 s
    python scripts/autograde_demo.py --full     # the whole lessons, as a class would submit them

What an instructor does with nbgrader, in a scratch course directory
(``build/autograde_demo/``): generate the release, "collect" submissions
(written here into ``submitted/<student>/<assignment>/``), ``nbgrader autograde``,
``nbgrader generate_feedback``, ``nbgrader export``; then prints the scores.

The students:

* ``reference``: the release with the instructor's solutions filled in: full marks;
* ``typical``: every other exercise right, the others with a typical
  mistake (the notes' σ² instead of σ, the unbiased variance in the forward
  pass, β on the new value, ...): partial marks, with feedback naming the checks;
* ``broken``: a function that never returns, exercises left undone, a cell
  that raises, the learner's own functions deleted (``del``), a function that
  only calls course_lib's reference, a function that returns an object whose
  ``__array__`` never returns: graded (zero for those), not crashed.

By default the assignment is one notebook of *exercise slices*: each lesson
reduced to its exercise cells and the statements they need (see
``release.exercise_slice``), so the round trip takes seconds and runs in the
test suite. ``--full`` grades the complete lessons, one assignment per lesson.
"""

from __future__ import annotations

import argparse
import copy
import csv
import io
import os
import re
import shutil
import sys
import textwrap
import time
import warnings
from collections.abc import Callable
from importlib import import_module
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
import release  # noqa: E402
from course_lib.lessons import skip_reason  # noqa: E402

ROOT = release.ROOT
DEMO_DIR = ROOT / "build" / "autograde_demo"
SLICES = "exercises"  # the assignment (and notebook) holding every lesson's exercise slice
STUB = re.compile(
    r"^(?P<indent>[ \t]*)# YOUR CODE HERE\n(?P=indent)raise NotImplementedError\(\)$", re.M
)

# A typical mistake per exercise, as the body a learner would write (the
# function's parameters are those of the course_lib reference).
TYPICAL_MISTAKES = {
    "fit_normalizer": "return X.mean(axis=0), X.var(axis=0)  # the notes' sigma squared",
    "normalize": "return (X - mu) / sigma**2",
    "fold_normalization": "return w / sigma, b  # the shift by mu forgotten",
    "gradient_descent_step": "r = X @ w + b - y\nreturn w - lr * X.T @ r, b - lr * r.sum()",
    "largest_stable_lr": (
        "X1 = np.hstack([X, np.ones((X.shape[0], 1))])\n"
        "return 1.0 / np.linalg.eigvalsh(X1.T @ X1 / X.shape[0])[-1]"
    ),
    "batchnorm_forward": (
        "mu = z.mean(axis=0)\n"
        "var = z.var(axis=0, ddof=1)\n"
        "x_hat = (z - mu) / np.sqrt(var + eps)\n"
        "return gamma * x_hat + beta, (z, x_hat, mu, var, gamma, eps)"
    ),
    "batchnorm_backward": "return dout, dout.sum(axis=0), dout.sum(axis=0)",
    "bn_layer_forward": (
        "A = 1.0 / (1.0 + np.exp(-(A_prev @ W)))  # Batch Norm after the activation\n"
        "return gamma * (A - A.mean(axis=0)) / np.sqrt(A.var(axis=0) + eps) + beta"
    ),
    "bn_train_step": (  # running_beta weighting the NEW batch statistic
        "L = len([name for name in params if name.startswith('W')])\n"
        "m = X.shape[0]\n"
        "a, caches, new_running = X, [], {}\n"
        "for l in range(1, L):\n"
        "    z = a @ params[f'W{l}']\n"
        "    z_t, cache = bn.batchnorm_forward(z, params[f'gamma{l}'], params[f'beta{l}'], eps)\n"
        "    new_running[f'mean{l}'] = (1 - running_beta) * running[f'mean{l}'] "
        "+ running_beta * z.mean(axis=0)\n"
        "    new_running[f'var{l}'] = (1 - running_beta) * running[f'var{l}'] "
        "+ running_beta * z.var(axis=0, ddof=1)\n"
        "    caches.append((a, cache, sigmoid(z_t)))\n"
        "    a = caches[-1][2]\n"
        "p = softmax(a @ params[f'W{L}'] + params[f'b{L}'])\n"
        "loss = -np.mean(np.log(p[np.arange(m), y]))\n"
        "p[np.arange(m), y] -= 1\n"
        "grads = {f'W{L}': a.T @ p / m, f'b{L}': p.sum(axis=0) / m}\n"
        "da = p / m @ params[f'W{L}'].T\n"
        "for l in range(L - 1, 0, -1):\n"
        "    a_prev, cache, a_l = caches[l - 1]\n"
        "    dz, grads[f'gamma{l}'], grads[f'beta{l}'] = bn.batchnorm_backward("
        "da * a_l * (1 - a_l), cache)\n"
        "    grads[f'W{l}'] = a_prev.T @ dz\n"
        "    da = dz @ params[f'W{l}'].T\n"
        "return loss, {k: v - lr * grads[k] for k, v in params.items()}, new_running"
    ),
    "update_running_stats": (
        "var = z.var(axis=0, ddof=1 if unbiased else 0)\n"
        "return (beta * z.mean(axis=0) + (1 - beta) * running_mean,\n"
        "        beta * var + (1 - beta) * running_var)"
    ),
    "batchnorm_inference": (
        "return gamma * (z - z.mean(axis=0)) / np.sqrt(z.var(axis=0) + eps) + beta"
    ),
    "spatial_batchnorm_forward": (
        "n, c, h, w = x.shape  # reshaped without moving the channels last\n"
        "out, cache = batchnorm_forward(x.reshape(-1, c), gamma, beta, eps)\n"
        "return out.reshape(n, c, h, w), cache"
    ),
    "spatial_batchnorm_backward": (
        "n, c, h, w = dout.shape\n"
        "dx, dgamma, dbeta = batchnorm_backward(dout.reshape(-1, c), cache)\n"
        "return dx.reshape(n, c, h, w), dgamma, dbeta"
    ),
    "layernorm_forward": (
        "mu, var = x.mean(axis=0), x.var(axis=0)  # Batch Norm's axis\n"
        "inv_std = 1.0 / np.sqrt(var + eps)\n"
        "x_hat = (x - mu) * inv_std\n"
        "return gamma * x_hat + beta, (x_hat, gamma, inv_std)"
    ),
    "layernorm_backward": (
        "x_hat, gamma, inv_std = cache  # gamma taken out of the sums\n"
        "mean_d = dout.mean(axis=1, keepdims=True)\n"
        "mean_dx = (dout * x_hat).mean(axis=1, keepdims=True)\n"
        "dx = gamma * inv_std * (dout - mean_d - x_hat * mean_dx)\n"
        "return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)"
    ),
    "groupnorm_forward": (
        "n, c, h, w = x.shape  # interleaved groups: channel k in group k % groups\n"
        "xg = x.reshape(n, c // groups, groups, h, w)\n"
        "mu = xg.mean(axis=(1, 3, 4), keepdims=True)\n"
        "inv_std = 1.0 / np.sqrt(xg.var(axis=(1, 3, 4), keepdims=True) + eps)\n"
        "x_hat = ((xg - mu) * inv_std).reshape(n, c, h, w)\n"
        "out = gamma.reshape(1, c, 1, 1) * x_hat + beta.reshape(1, c, 1, 1)\n"
        "return out, (x_hat, gamma, inv_std, groups)"
    ),
    "groupnorm_backward": (
        "x_hat = cache[0]  # dgamma and dbeta summed over the examples only\n"
        "return 0.0 * dout, (dout * x_hat).sum(axis=0), dout.sum(axis=0)"
    ),
    # lesson 07: the colleague's script with two of its problems left in
    "train_and_predict": (
        "from course_lib.pytorch_bn import broken_train_and_predict\n"
        "return broken_train_and_predict(X_train, y_train, X_new, y_new, X_test, seed,\n"
        "                                bugs=('keras_momentum', 'frozen_bn_updates'))"
    ),
    "convert_bn_state": (
        "beta = 1 - momentum if source == 'pytorch' else momentum\n"
        "m = batch_size\n"
        "factor = {('keras', 'pytorch'): m / (m - 1), ('keras', 'paper'): m / (m - 1),\n"
        "          ('pytorch', 'keras'): (m - 1) / m, ('paper', 'keras'): (m - 1) / m}\n"
        "var = running_var * factor.get((source, target), 1.0)  # the start value rescaled too\n"
        "return running_mean.copy(), var, 1 - beta if target == 'pytorch' else beta"
    ),
}
ENDLESS = "while True:  # waits for something that never happens\n    pass"
# A value whose conversion to numbers never ends: the checker converts it in the
# child process, under the time limit, and names it.
ENDLESS_ARRAY = (
    "class Endless:  # numpy asks it for its numbers, and it never answers\n"
    "    def __array__(self, *args, **kwargs):\n"
    "        while True:\n"
    "            pass\n"
    "return Endless()"
)


# ------------------------------------------------------------------ the course
def merged_slices(paths: list[Path]) -> nbformat.NotebookNode:
    """One notebook: the exercise slice of every lesson, in order, grade ids prefixed."""
    merged = None
    for path in paths:
        nb = release.exercise_slice(nbformat.read(path, as_version=4))
        lesson = path.stem[:2]
        for cell in nb.cells:
            cell["id"] = f"l{lesson}-{cell.get('id', '')}"[:64]
            meta = cell.metadata.get("nbgrader")
            if meta and "grade_id" in meta:
                meta["grade_id"] = f"l{lesson}_{meta['grade_id']}"
        heading = nbformat.v4.new_markdown_cell(f"# Lesson {lesson}: {path.stem[3:]}")
        heading["id"] = f"l{lesson}-heading"
        if merged is None:
            merged = copy.deepcopy(nb)
            merged.cells = []
        merged.cells += [heading, *nb.cells]
    return merged


def runnable_lessons() -> list[Path]:
    """The lesson notebooks that can run here: a lesson whose optional package is missing
    (lesson 07 without PyTorch) cannot be autograded and is left out, with a note."""
    paths = []
    for path in release.lesson_notebooks():
        reason = skip_reason(path.name)
        if reason:
            print(reason, file=sys.stderr)
        else:
            paths.append(path)
    return paths


def build_course(course_dir: Path, full: bool = False) -> dict[str, list[str]]:
    """Write and release the course; return assignment -> notebook names."""
    paths = runnable_lessons()
    if course_dir.exists():
        shutil.rmtree(course_dir)
    if full:
        lessons = release.one_assignment_per_lesson(paths)
    else:
        lessons = {SLICES: [(SLICES, merged_slices(paths))]}
    release.write_course(course_dir, lessons)
    release.generate(course_dir, lessons)
    return {a: [name for name, _ in nbs] for a, nbs in lessons.items()}


# ------------------------------------------------------------------ the students
def solution_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if release.is_solution(c) and c["cell_type"] == "code"]


def function_name(cell: dict) -> str | None:
    found = re.search(r"^def (\w+)\(", cell["source"], re.M)
    return found.group(1) if found else None


def fill(cell: dict, bodies: list[str]) -> None:
    """Replace the stubs of a release solution cell, in order, by the given bodies."""
    parts = iter(bodies)

    def body(match: re.Match) -> str:
        indent = match.group("indent")
        lines = textwrap.dedent(next(parts)).splitlines()
        return "\n".join(indent + line if line else line for line in lines)

    cell["source"] = STUB.sub(body, cell["source"])


def submission(
    release_nb: dict, instructor_nb: dict, choose: Callable[[int, str | None], str]
) -> nbformat.NotebookNode:
    """A filled-in release notebook. choose(k, function name) gives the k-th exercise's
    fate: "reference", "mistake", "endless", "array", "stub", "delete" or "cheat"."""
    nb = copy.deepcopy(release_nb)
    solutions = {
        c.metadata.nbgrader.grade_id: c
        for c in solution_cells(instructor_nb)
        if "nbgrader" in c.metadata
    }
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        if not (release.is_solution(cell) and cell.cell_type == "code"):
            continue
        k = len([c for c in cells if release.is_solution(c) and c.cell_type == "code"]) - 1
        name = function_name(cell)
        fate = choose(k, name)
        reference = release.regions(
            solutions[cell.metadata.nbgrader.grade_id].source,
            release.BEGIN_SOLUTION,
            release.END_SOLUTION,
        )
        if fate == "reference" or fate == "delete":
            fill(cell, reference)
        elif fate == "mistake" and name in TYPICAL_MISTAKES:
            fill(cell, [TYPICAL_MISTAKES[name]] + reference[1:])
        elif fate == "endless":
            fill(cell, [ENDLESS] + reference[1:])
        elif fate == "array":
            fill(cell, [ENDLESS_ARRAY] + reference[1:])
        elif fate == "cheat" and name:
            fill(cell, [_calls_reference(cell.source, name)] + reference[1:])
        if fate == "delete" and name:
            extra = nbformat.v4.new_code_cell(f"del {name}  # a learner's clean-up gone wrong")
            cells.append(extra)
        if fate == "endless" and k == 0:
            cells.append(nbformat.v4.new_code_cell("1 / 0  # a cell that raises"))
    nb.cells = cells
    for i, cell in enumerate(nb.cells):
        cell["id"] = cell.get("id") or f"student-{i}"
    return nb


def _calls_reference(source: str, name: str) -> str:
    """A body that hands the work to course_lib's function of the same name (or, if
    there is none, leaves the exercise undone)."""
    modules = ("normalization", "descent", "batchnorm", "network", "running_stats", "ema", "norms")
    modules += ("pytorch_bn",)
    found = [m for m in modules if callable(getattr(import_module(f"course_lib.{m}"), name, None))]
    params = re.search(rf"def {name}\((.*?)\):", source, re.S)
    if not found or not params:
        return "raise NotImplementedError()"
    module, params = found[0], params.group(1)
    args = ", ".join(p.split("=")[0].strip() for p in params.split(",") if p.strip())
    return f"from course_lib.{module} import {name} as done\nreturn done({args})"


STUDENTS: dict[str, Callable[[int, str | None], str]] = {
    "reference": lambda k, name: "reference",
    # every other exercise wrong, with batchnorm_forward right (its backward needs it)
    "typical": lambda k, name: ("mistake", "reference")[k % 2],
    # the second "reference" (k = 7, an exercise whose checker needs no earlier one of
    # this student's functions) returns an object whose __array__ never returns
    "broken": lambda k, name: (
        "array"
        if k % 5 == 2 and k > 5
        else ("endless", "stub", "reference", "delete", "cheat")[k % 5]
    ),
}


def submit(course_dir: Path, assignments: dict[str, list[str]], students=STUDENTS) -> None:
    """Write each student's notebooks into submitted/<student>/<assignment>/."""
    for assignment, names in assignments.items():
        for name in names:
            released = nbformat.read(course_dir / "release" / assignment / f"{name}.ipynb", 4)
            source = nbformat.read(course_dir / "source" / assignment / f"{name}.ipynb", 4)
            for student, choose in students.items():
                target = course_dir / "submitted" / student / assignment
                target.mkdir(parents=True, exist_ok=True)
                nbformat.write(submission(released, source, choose), target / f"{name}.ipynb")


# ------------------------------------------------------------------ grading
def autograde(course_dir: Path, assignment: str, student: str = "*") -> None:
    """``nbgrader autograde A --force [--student S]``: the submissions of A."""
    release.run_nbgrader(course_dir, "autograde", assignment, student, force=True)


def feedback(course_dir: Path, assignment: str, student: str = "*") -> None:
    """``nbgrader generate_feedback A --force``: HTML in feedback/<student>/<A>/."""
    release.run_nbgrader(course_dir, "generate_feedback", assignment, student, force=True)


def export(course_dir: Path) -> list[dict[str, str]]:
    """``nbgrader export``: grades.csv, one row per student and assignment."""
    from nbgrader.api import Gradebook
    from nbgrader.plugins import CsvExportPlugin

    target = course_dir / "grades.csv"
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        CsvExportPlugin(to=str(target)).export(gb)
    return list(csv.DictReader(io.StringIO(target.read_text())))


def scores(course_dir: Path, assignment: str) -> dict[str, dict[str, tuple[float, float]]]:
    """student -> {grade id: (score, max score)} from the gradebook."""
    from nbgrader.api import Gradebook

    result: dict[str, dict[str, tuple[float, float]]] = {}
    with (
        warnings.catch_warnings(),  # SQLAlchemy warns about nbgrader's lazy relations
        Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb,
    ):
        warnings.simplefilter("ignore")
        for sub in gb.assignment_submissions(assignment):
            cells = result.setdefault(sub.student.id, {})
            for nb in sub.notebooks:
                for grade in nb.grades:
                    if grade.cell.cell_type == "markdown":
                        continue  # a written answer: graded by hand, not by autograde
                    cells[grade.name] = (float(grade.score), float(grade.max_score))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="grade the complete lessons")
    args = parser.parse_args(argv)
    if not release.lesson_notebooks():
        sys.exit("no lesson notebook in notebooks/")
    os.environ.setdefault("COURSE_CHECK_TIMEOUT", "2")  # the endless function waits 2 s, not 5
    start = time.perf_counter()
    assignments = build_course(DEMO_DIR, args.full)
    submit(DEMO_DIR, assignments)
    for assignment in assignments:
        autograde(DEMO_DIR, assignment)
        feedback(DEMO_DIR, assignment)
    rows = export(DEMO_DIR)
    took = time.perf_counter() - start
    print(f"{'student':<10} {'assignment':<28} score")
    for row in rows:
        print(
            f"{row['student_id']:<10} {row['assignment']:<28} {row['score']} / {row['max_score']}"
        )
    for assignment in assignments:
        for student, cells in sorted(scores(DEMO_DIR, assignment).items()):
            failing = [name for name, (s, m) in cells.items() if s < m]
            print(f"{student}, {assignment}: failing {', '.join(failing) or 'none'}")
    where = DEMO_DIR.relative_to(ROOT)
    print(f"feedback: {where}/feedback/<student>/<assignment>/*.html; grades: {where}/grades.csv")
    print(f"timing: {took:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
