"""Autograde one lesson for every student of an nbgrader course directory, in parallel.

    python scripts/grade_class.py 03_batch_norm_formulas --course-dir ~/courses/bn
    python scripts/grade_class.py 03_batch_norm_formulas --workers 4      # 4 at a time
    python scripts/grade_class.py 03_batch_norm_formulas --force          # regrade everything
    python scripts/grade_class.py 03_batch_norm_formulas --sandbox-users grader1,grader2
    python scripts/grade_class.py 03_batch_norm_formulas --students ada,ben   # only these

Run it as the instructor, after ``nbgrader collect`` (submissions in
``submitted/<student>/<assignment>/``). Each submission is graded in a process of its
own with nbgrader's API (``NbGraderAPI.autograde``, the code behind ``nbgrader
autograde --student S``), ``--workers`` at a time (default: the number of cores).
Settings come from the course's ``nbgrader_config.py`` and the usual Jupyter config
folders, as for the ``nbgrader`` command run in the course directory.

**Resuming.** Every finished submission is recorded in
``.grade_class/<assignment>.json`` (with a digest of the submitted files). Run the
same command again after an interruption (Ctrl-C, a closed terminal, a crash): what is
recorded as graded, with an unchanged submission and its autograded folder in place, is
skipped; the rest is graded. A submission that changed since (collected again) is
graded again; a failed one is tried again. ``--force`` regrades all.

**Output.** A progress bar while grading; then a table: students graded, mean score,
and for each graded check how many students lost its points; submissions whose
autograde failed, with the log in ``.grade_class/logs/<assignment>/<student>.log``.

**Sandbox.** With ``--sandbox-users A,B``, worker k's kernels run as account k (through
``scripts/hub/sandbox_kernel.py``; needs the instructor's ``Execute.kernel_name`` set to
that launcher's kernelspec, see the README): one account per worker, so that two
submissions never share one.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import multiprocessing
import os
import signal
import sys
import time
import warnings
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path

STATE_DIR = ".grade_class"
DEFAULT_SUBMISSION_TIMEOUT = 900.0  # s, one submission (the cells have their own limits)


# ------------------------------------------------------------------ what there is to grade
def submissions(course_dir: Path, assignment: str) -> dict[str, Path]:
    """student -> submitted/<student>/<assignment>/, for every student who submitted."""
    found = {}
    for path in sorted((course_dir / "submitted").glob(f"*/{assignment}")):
        if path.is_dir() and any(path.glob("*.ipynb")):
            found[path.parent.name] = path
    return found


def digest(folder: Path) -> str:
    """sha256 over the names and contents of every file in ``folder``."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def state_path(course_dir: Path, assignment: str) -> Path:
    return course_dir / STATE_DIR / f"{assignment}.json"


def load_state(course_dir: Path, assignment: str) -> dict:
    path = state_path(course_dir, assignment)
    if path.exists():
        with contextlib.suppress(ValueError):
            return json.loads(path.read_text())
    return {"assignment": assignment, "graded": {}}


def save_state(course_dir: Path, assignment: str, state: dict) -> None:
    """Written to a temporary file and renamed: an interruption never leaves half a file."""
    path = state_path(course_dir, assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)


def already_graded(course_dir: Path, assignment: str, student: str, entry: dict | None, d: str):
    return bool(
        entry
        and entry.get("ok")
        and entry.get("digest") == d
        and (course_dir / "autograded" / student / assignment).is_dir()
    )


# ------------------------------------------------------------------ nbgrader
def nbgrader_api(course_dir: Path):
    """nbgrader's API configured as the ``nbgrader`` command is in ``course_dir``: the
    Jupyter config folders, then the course's ``nbgrader_config.py``."""
    from nbgrader.apps import NbGrader, NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    os.chdir(course_dir)
    app = NbGrader()
    app.load_config_file()
    config = app.config
    config.CourseDirectory.root = str(course_dir)
    # Several processes write the gradebook: wait for its lock rather than fail at once.
    if "db_url" not in config.CourseDirectory:
        config.CourseDirectory.db_url = f"sqlite:///{course_dir / 'gradebook.db'}?timeout=120"
    return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)


def _grade_one(course_dir: str, assignment: str, student: str, sandbox_user, conn) -> None:
    """Worker process: autograde one submission, send back {ok, log}."""

    def interrupted(signum, frame):  # a SIGTERM from the parent: stop like Ctrl-C, so
        raise KeyboardInterrupt  # nbclient shuts the kernel down on its way out

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    if sandbox_user:
        os.environ["COURSE_SANDBOX_USER"] = sandbox_user
    result: dict = {"ok": False, "log": ""}
    try:
        warnings.simplefilter("ignore")
        api = nbgrader_api(Path(course_dir))
        out = api.autograde(assignment, student, force=True, create=True)
        result = {
            "ok": bool(out.get("success")),
            "log": "\n".join(filter(None, [out.get("log"), out.get("error")])),
        }
    except KeyboardInterrupt:
        result = {"ok": False, "log": "interrupted", "interrupted": True}
    except Exception as exc:  # noqa: BLE001 - reported, the class goes on
        result = {"ok": False, "log": f"{type(exc).__name__}: {exc}"}
    with contextlib.suppress(OSError):
        conn.send(result)


@dataclass
class Running:
    student: str
    process: multiprocessing.Process
    conn: object
    slot: int
    digest: str
    started: float = field(default_factory=time.monotonic)


# ------------------------------------------------------------------ the pool
def grade(
    course_dir: Path,
    assignment: str,
    workers: int,
    sandbox_users: list[str] | None = None,
    force: bool = False,
    stop_after: int | None = None,
    submission_timeout: float = DEFAULT_SUBMISSION_TIMEOUT,
    progress: bool = True,
    students: list[str] | None = None,
) -> dict:
    """Grade what is left; returns {"graded": [...], "skipped": [...], "failed": [...],
    "interrupted": bool, "seconds": float}."""
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: the workers are forked

    course_dir = course_dir.resolve()
    todo = submissions(course_dir, assignment)
    if students is not None:
        todo = {s: p for s, p in todo.items() if s in students}
    state = load_state(course_dir, assignment)
    log_dir = course_dir / STATE_DIR / "logs" / assignment
    log_dir.mkdir(parents=True, exist_ok=True)
    queue, skipped = [], []
    for student, folder in todo.items():
        d = digest(folder)
        entry = state["graded"].get(student)
        if not force and already_graded(course_dir, assignment, student, entry, d):
            skipped.append(student)
        else:
            queue.append((student, d))
    held_back = []
    if stop_after is not None:
        queue, held_back = queue[:stop_after], [s for s, _ in queue[stop_after:]]
    slots = list(range(workers))
    if sandbox_users:
        if len(sandbox_users) < workers:
            raise SystemExit(f"{workers} workers need {workers} sandbox accounts")
    running: list[Running] = []
    graded, failed = [], []
    ctx = multiprocessing.get_context("fork")
    start = time.monotonic()
    bar = tqdm(
        total=len(todo),
        initial=len(skipped),
        desc=f"autograde {assignment}",
        unit="submission",
        disable=not progress,
        file=sys.stderr,
        dynamic_ncols=True,
        mininterval=0.5,
    )
    interrupted = False

    def finish(run: Running, result: dict) -> None:
        seconds = time.monotonic() - run.started
        entry = {"ok": result["ok"], "digest": run.digest, "seconds": round(seconds, 2)}
        if not result["ok"]:
            (log_dir / f"{run.student}.log").write_text(result.get("log", ""))
            entry["error"] = (result.get("log") or "").strip().splitlines()[-1:] or ["failed"]
            failed.append(run.student)
        else:
            graded.append(run.student)
        state["graded"][run.student] = entry
        save_state(course_dir, assignment, state)
        slots.append(run.slot)
        bar.update(1)

    try:
        while queue or running:
            while queue and slots:
                student, d = queue.pop(0)
                slot = slots.pop(0)
                user = sandbox_users[slot] if sandbox_users else None
                parent_end, child_end = ctx.Pipe(duplex=False)
                process = ctx.Process(
                    target=_grade_one,
                    args=(str(course_dir), assignment, student, user, child_end),
                    name=f"autograde-{student}",
                )
                process.start()
                child_end.close()
                running.append(Running(student, process, parent_end, slot, d))
            ready = wait([r.conn for r in running] + [r.process.sentinel for r in running], 1.0)
            for run in list(running):
                result = None
                if run.conn in ready:
                    try:
                        result = run.conn.recv()
                    except EOFError:
                        result = {"ok": False, "log": "the grading process died"}
                elif run.process.sentinel in ready and not run.conn.poll():
                    code = run.process.exitcode
                    result = {"ok": False, "log": f"the grading process died ({code})"}
                elif time.monotonic() - run.started > submission_timeout:
                    _stop(run.process)
                    result = {"ok": False, "log": f"timed out after {submission_timeout:.0f} s"}
                if result is None:
                    continue
                run.process.join(10)
                _stop(run.process)
                running.remove(run)
                finish(run, result)
    except KeyboardInterrupt:
        interrupted = True
        for run in running:  # each worker shuts its kernel down on SIGTERM
            if run.process.is_alive():
                os.kill(run.process.pid, signal.SIGTERM)
        for run in running:
            _stop(run.process, grace=15)
    finally:
        bar.close()
    return {
        "students": sorted(todo),
        "graded": graded,
        "skipped": skipped,
        "failed": failed,
        "left": held_back + [s for s, _ in queue] + [r.student for r in running],
        "interrupted": interrupted,
        "seconds": time.monotonic() - start,
    }


def _stop(process, grace: float = 5.0) -> None:
    process.join(grace)
    if process.is_alive():
        process.kill()
        process.join(5)


# ------------------------------------------------------------------ the summary
def gradebook_scores(course_dir: Path, assignment: str, students) -> dict:
    """student -> {check (grade cell) -> (score, max score)} for the given students."""
    from nbgrader.api import Gradebook, MissingEntry

    out: dict[str, dict[str, tuple[float, float]]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
            for student in students:
                try:
                    sub = gb.find_submission(assignment, student)
                except MissingEntry:
                    continue
                cells = out.setdefault(student, {})
                for nb in sub.notebooks:
                    for g in nb.grades:
                        cells[g.name] = (float(g.score), float(g.max_score))
    return out


def summary(course_dir: Path, assignment: str, result: dict) -> str:
    course_dir = course_dir.resolve()
    state = load_state(course_dir, assignment)
    todo = submissions(course_dir, assignment)
    if "students" in result:  # a run restricted with --students: those only
        todo = {s: p for s, p in todo.items() if s in result["students"]}
    ok = sorted(s for s, e in state["graded"].items() if e.get("ok") and s in todo)
    scores = gradebook_scores(course_dir, assignment, ok)
    totals = {s: sum(v[0] for v in c.values()) for s, c in scores.items()}
    best = max((sum(v[1] for v in c.values()) for c in scores.values()), default=0.0)
    checks = sorted({name for c in scores.values() for name in c})
    lines = [
        f"{assignment}: {len(todo)} submissions; "
        f"this run graded {len(result['graded'])}, skipped {len(result['skipped'])} already "
        f"graded, {len(result['failed'])} failed, in {result['seconds']:.1f} s"
        + (" (interrupted" if result["interrupted"] else " (stopped" if result["left"] else "")
        + (f": {len(result['left'])} left, run again to resume)" if result["left"] else ""),
        "",
        f"  {'students graded':<32}{len(scores):>8}",
    ]
    if totals:
        mean = sum(totals.values()) / len(totals)
        lines.append(f"  {'mean score':<32}{mean:>8.2f} / {best:g}")
        lines.append(f"  {'full marks':<32}{sum(t == best for t in totals.values()):>8}")
        lines += ["", f"  {'check':<32}{'points':>8}{'failed by':>11}"]
        for name in checks:
            lost = sum(1 for c in scores.values() if name in c and c[name][0] < c[name][1])
            points = max(c[name][1] for c in scores.values() if name in c)
            lines.append(f"  {name:<32}{points:>8g}{lost:>11}")
    not_ok = sorted(s for s in todo if s not in ok)
    if not_ok:
        lines += ["", "  not graded (see .grade_class/logs/):"]
        for s in not_ok:
            error = state["graded"].get(s, {}).get("error") or ["not graded yet"]
            lines.append(f"    {s}: {error[-1][:100]}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment", help="e.g. 03_batch_norm_formulas")
    parser.add_argument("--course-dir", type=Path, default=Path.cwd())
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--sandbox-users", help="comma-separated grading accounts, one per worker")
    parser.add_argument("--force", action="store_true", help="regrade what is already graded")
    parser.add_argument("--students", help="comma-separated: grade only these students")
    parser.add_argument("--stop-after", type=int, help="grade at most N, then stop")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_SUBMISSION_TIMEOUT, help="s per submission"
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    course_dir = args.course_dir.expanduser().resolve()
    if not (course_dir / "submitted").is_dir():
        parser.error(f"{course_dir} has no submitted/ folder: collect the submissions first")
    if not submissions(course_dir, args.assignment):
        parser.error(f"no submission of {args.assignment} in {course_dir / 'submitted'}")
    users = [u for u in (args.sandbox_users or "").split(",") if u] or None
    only = [s for s in (args.students or "").split(",") if s] or None
    result = grade(
        course_dir,
        args.assignment,
        max(1, args.workers),
        users,
        args.force,
        args.stop_after,
        args.timeout,
        not args.no_progress,
        only,
    )
    print(summary(course_dir, args.assignment, result))
    if result["interrupted"]:
        return 130
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
