"""What happens in ``make classroom``, step by step (the machinery is in ``classroom.py``)."""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
import signal
import time
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path

import nbformat

from classroom import (
    GRADERS,
    INSTRUCTOR,
    STUDENTS,
    SUDOERS,
    Account,
    Classroom,
    Failed,
    Report,
    TimeLimit,
    as_user,
    files_of,
    kill_processes_of,
    processes_of,
    tree_digest,
)

os.environ["COURSE_CHECK_TIMEOUT"] = "2"  # the checkers run here as on the hub's grader
import autograde_demo as demo  # noqa: E402
import grade_class  # noqa: E402
import release  # noqa: E402

FATES = {  # what each student does with exercise k (function name): autograde_demo's fates
    "reference": lambda k, name: "reference",
    "typical": demo.STUDENTS["typical"],  # every other exercise with a typical mistake
    "broken": lambda k, name: ("endless", "delete")[k % 2],
    "malicious": lambda k, name: "reference",  # right answers; the attack is extra code
    "browser": lambda k, name: "stub",  # handed in as released
}
# What eve's code may do while graded (a drop box and /tmp are everyone's; her own
# grading account's home is hers): all of it must be gone once her kernel has ended.
ALLOWED_ATTACKS = {
    "drop a file into the exchange's inbound/",
    "write to /tmp",
    "plant a startup file in the grading account's home",
}


# ------------------------------------------------------------------ submissions
def instructor_notebook(assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(release.NOTEBOOKS / f"{assignment}.ipynb", as_version=4)


ATTACK = r'''
# Attempts to read and change what is not this submission's own while it is graded.
import json as _json, os as _os, pwd as _pwd
_T = _json.loads(%r)
_report = {}
def _try(label, action):
    try:
        result = action()
        _report[label] = "DONE" + ("" if result is None else f" ({result})")
    except Exception as exc:
        _report[label] = f"refused: {type(exc).__name__}"
def _read(path):
    with open(path, "rb") as f:
        return f"{len(f.read())} bytes"
def _append(path, data=b" "):
    with open(path, "ab") as f:
        f.write(data)
def _others(action):
    """Apply action to every process of another account; how many let it through."""
    done = 0
    for pid in _os.listdir("/proc"):
        if pid.isdigit():
            try:
                if _os.stat(f"/proc/{pid}").st_uid != _os.getuid():
                    action(int(pid))
                    done += 1
            except Exception:
                pass
    if not done:
        raise PermissionError("none")
    return done
def _token():
    found = [k for k in _os.environ if "TOKEN" in k or "API" in k]
    if not found:
        raise LookupError("no token in the environment")
    return found
def _plant():
    home = _pwd.getpwuid(_os.getuid()).pw_dir
    folder = _os.path.join(home, ".ipython", "profile_default", "startup")
    _os.makedirs(folder, exist_ok=True)
    with open(_os.path.join(folder, "00-evil.py"), "w") as f:
        f.write("import checks_patched_here  # would run in the next kernel\n")
_try("read another student's notebook", lambda: _read(_T["ada_notebook"]))
_try("list the instructor's submitted/", lambda: len(_os.listdir(_T["submitted"])))
_try("read the instructor's source notebook", lambda: _read(_T["source"]))
_try("read the gradebook", lambda: _read(_T["gradebook"]))
_try("list the exchange's inbound/", lambda: len(_os.listdir(_T["inbound"])))
_try("read another's submission (its secret name leaked)", lambda: _read(_T["ada_inbound"]))
_try("find a hub token in the environment", _token)
_try(
    "read other accounts' environments (/proc/*/environ)",
    lambda: _others(lambda p: open(f"/proc/{p}/environ", "rb").read()),
)
_try("signal other accounts' processes", lambda: _others(lambda p: _os.kill(p, 0)))
_try("change the instructor's source notebook", lambda: _append(_T["source"]))
_try("change the gradebook", lambda: _append(_T["gradebook"]))
_try("write into another's autograded folder", lambda: _append(_T["ada_autograded"] + "/evil.txt"))
_try("change the released assignment", lambda: _append(_T["outbound"]))
_DROP = "/bnc-ada+" + _T["assignment"] + "+2099-01-01 00:00:00.000000 UTC+evil"
_try("drop a file into the exchange's inbound/", lambda: _append(_T["inbound"] + _DROP))
_try("write to /tmp", lambda: _append(f"/tmp/bnc-evil-{_os.getpid()}"))
_try("plant a startup file in the grading account's home", _plant)
print("ATTACK-REPORT " + _json.dumps(_report))
'''

FORK_BOMB = "import os\nwhile True:  # forks without end\n    os.fork()"


def malicious(room: Classroom, released: dict, assignment: str) -> nbformat.NotebookNode:
    nb = demo.submission(released, instructor_notebook(assignment), FATES["malicious"])
    ada = room.accounts["bnc-ada"]
    targets = {
        "assignment": assignment,
        "ada_notebook": str(ada.home / assignment / f"{assignment}.ipynb"),
        "submitted": str(room.course / "submitted"),
        "source": str(room.course / "source" / assignment / f"{assignment}.ipynb"),
        "gradebook": str(room.course / "gradebook.db"),
        "inbound": str(room.exchange / room.course_id / "inbound"),
        "ada_inbound": str(
            room.exchange
            / room.course_id
            / "inbound"
            / room.inbound_names.get(("bnc-ada", assignment), "x")
            / f"{assignment}.ipynb"
        ),
        "ada_autograded": str(room.course / "autograded" / "bnc-ada" / assignment),
        "outbound": str(
            room.exchange / room.course_id / "outbound" / assignment / f"{assignment}.ipynb"
        ),
    }
    attack = nbformat.v4.new_code_cell(ATTACK % json.dumps(targets))
    attack["id"] = "eve-attack"
    bomb = nbformat.v4.new_code_cell(FORK_BOMB)
    bomb["id"] = "eve-fork-bomb"
    nb.cells.insert(1, attack)
    nb.cells.append(bomb)
    return nb


def work_and_submit(room: Classroom, student: str, assignment: str) -> None:
    account = room.accounts[student]
    fate = STUDENTS[student]
    path = f"{assignment}/{assignment}.ipynb"
    r = room.contents(account, path, params={"content": "1"})
    if r.status_code != 200:
        raise Failed(f"{student} cannot open {path}: HTTP {r.status_code}")
    released = nbformat.from_dict(r.json()["content"])
    if fate == "malicious":
        nb = malicious(room, released, assignment)
    else:
        nb = demo.submission(released, instructor_notebook(assignment), FATES[fate])
    body = {"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(nb))}
    r = room.contents(account, path, "PUT", json=body)
    if r.status_code not in (200, 201):
        raise Failed(f"{student} cannot save {path}: HTTP {r.status_code} {r.text[:200]}")
    result = room.nbgrader_action(
        account, "assignments/submit", {"course_id": room.course_id, "assignment_id": assignment}
    )
    if not result.get("success"):
        raise Failed(f"{student} submit {assignment}: {result}")
    room.submitted[(student, assignment)] = nb
    room.inbound_names[(student, assignment)] = newest_inbound(room, account, assignment)


def newest_inbound(room: Classroom, account: Account, assignment: str) -> str:
    inbound = room.exchange / room.course_id / "inbound"
    mine = [
        p for p in inbound.glob(f"{account.name}+{assignment}+*") if p.stat().st_uid == account.uid
    ]
    if not mine:
        raise Failed(f"no submission of {account.name} for {assignment} in the exchange")
    return max(mine, key=lambda p: p.name.split("+")[2]).name


# ------------------------------------------------------------------ separation
def fs_attempts(room: Classroom, attacker: str, attempts: list[tuple[str, str]]) -> dict[str, str]:
    """Run each Python statement as the attacker's account: "DONE" or "refused: Error"."""
    code = "import json, os, shutil\nout = {}\n"
    for label, stmt in attempts:
        code += (
            f"try:\n    {stmt}\n    out[{label!r}] = 'DONE'\n"
            f"except Exception as e:\n    out[{label!r}] = 'refused: ' + type(e).__name__\n"
        )
    code += "print(json.dumps(out))\n"
    account = room.accounts[attacker]
    out = as_user(account, [str(room.env_python), "-c", code], timeout=60)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report_attempts(report: Report, who: str, outcomes: dict[str, str], allowed=()) -> None:
    for label, outcome in outcomes.items():
        ok = outcome.startswith("refused") or label in allowed
        shown = (
            outcome if not (label in allowed and outcome == "DONE") else "done (allowed, see below)"
        )
        report.check(f"{who}: {label}", ok, shown)


def separation_files(room: Classroom, a: str) -> None:
    r = room.report
    ada = room.accounts["bnc-ada"]
    inbound = room.exchange / room.course_id / "inbound"
    ada_in = inbound / room.inbound_names[("bnc-ada", a)]
    teacher = room.accounts[INSTRUCTOR]
    outbound = room.exchange / room.course_id / "outbound" / a
    outcomes = fs_attempts(
        room,
        "bnc-eve",
        [
            ("list the exchange's inbound/", f"os.listdir({str(inbound)!r})"),
            (
                "guess another's submission by name",
                f"open({str(inbound / ('bnc-ada+' + a + '+'))!r})",
            ),
            (
                "read another's submission (its secret name leaked)",
                f"open({str(ada_in / (a + '.ipynb'))!r}).read()",
            ),
            (
                "add a file to another's submission (name leaked)",
                f"open({str(ada_in / 'extra.ipynb')!r}, 'w')",
            ),
            (
                "replace another's submitted notebook (name leaked)",
                f"os.rename({str(ada_in / (a + '.ipynb'))!r}, {str(ada_in / 'x')!r})",
            ),
            (
                "read another's submission secret (name leaked)",
                f"open({str(ada_in / 'submission_secret.txt')!r}).read()",
            ),
            (
                "read another student's notebook in their home",
                f"open({str(ada.home / a / (a + '.ipynb'))!r}).read()",
            ),
            ("list another student's home", f"os.listdir({str(ada.home)!r})"),
            (
                "read the instructor's source notebook",
                f"open({str(room.course / 'source' / a / (a + '.ipynb'))!r}).read()",
            ),
            ("read the gradebook", f"open({str(room.course / 'gradebook.db')!r}, 'rb').read()"),
            ("list the instructor's home", f"os.listdir({str(teacher.home)!r})"),
            ("change the released assignment", f"open({str(outbound / (a + '.ipynb'))!r}, 'a')"),
            (
                "remove the released assignment",
                f"shutil.rmtree({str(room.exchange / room.course_id / 'outbound' / a)!r})",
            ),
            (
                "remove the course from the exchange",
                f"shutil.rmtree({str(room.exchange / room.course_id)!r})",
            ),
        ],
    )
    report_attempts(r, "eve (file system)", outcomes)


def forge_submissions(room: Classroom, a: str) -> dict[str, Path]:
    """eve drops two fake submissions into inbound/ (which every account may write to):
    one in ada's name, one in her own name linking to the instructor's source notebook.
    Both newer than the real ones, so nbgrader's collect would prefer them."""
    eve = room.accounts["bnc-eve"]
    inbound = room.exchange / room.course_id / "inbound"
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    forged = inbound / f"bnc-ada+{a}+{later}+forged"
    linked = inbound / f"bnc-eve+{a}+{later}+linked"
    source = room.course / "source" / a / f"{a}.ipynb"
    code = f"""
import os, shutil
os.makedirs({str(forged)!r})
shutil.copy({str(eve.home / a / (a + ".ipynb"))!r}, {str(forged / (a + ".ipynb"))!r})
open({str(forged / "timestamp.txt")!r}, 'w').write({later!r})
os.makedirs({str(linked)!r})
os.symlink({str(source)!r}, {str(linked / (a + ".ipynb"))!r})
open({str(linked / "timestamp.txt")!r}, 'w').write({later!r})
"""
    as_user(eve, [str(room.env_python), "-c", code])
    return {"forged": forged, "linked": linked}


def separation_hub(room: Classroom) -> None:
    r = room.report
    eve, ada, teacher = (
        room.accounts["bnc-eve"],
        room.accounts["bnc-ada"],
        room.accounts[INSTRUCTOR],
    )
    a = room.assignments[0]
    tries = [
        ("eve's token: list all users", eve, "GET", "/hub/api/users", None),
        ("eve's token: read ada's user record", eve, "GET", "/hub/api/users/bnc-ada", None),
        ("eve's token: stop ada's server", eve, "DELETE", "/hub/api/users/bnc-ada/server", None),
        ("eve's token: make a token for ada", eve, "POST", "/hub/api/users/bnc-ada/tokens", None),
        (
            "eve's token: ada's files through ada's server",
            eve,
            "GET",
            "/user/bnc-ada/api/contents",
            None,
        ),
        (
            "eve's token: run code on ada's server (new kernel)",
            eve,
            "POST",
            "/user/bnc-ada/api/kernels",
            None,
        ),
        (
            "eve's token: the instructor's formgrader",
            eve,
            "GET",
            f"/user/{INSTRUCTOR}/formgrader/api/submissions/{a}",
            None,
        ),
        (
            "eve's token: the instructor's files",
            eve,
            "GET",
            f"/user/{INSTRUCTOR}/api/contents/course",
            None,
        ),
        ("no token: ada's files", None, "GET", "/user/bnc-ada/api/contents", ""),
        ("no token: the hub's user list", None, "GET", "/hub/api/users", ""),
        ("a made-up token: the hub's user list", None, "GET", "/hub/api/users", "0" * 32),
        (
            "eve's own server has no formgrader",
            eve,
            "GET",
            "/user/bnc-eve/formgrader/api/status",
            None,
        ),
        (
            "eve's own server: a path out of her home",
            eve,
            "GET",
            "/user/bnc-eve/api/contents/..%2Fbnc-ada",
            None,
        ),
    ]
    for label, who, method, path, token in tries:
        resp = room.api(who, method, path, token=token, json={} if method == "POST" else None)
        refused = resp.status_code in (401, 403, 404) or (
            resp.status_code == 302 and "login" in resp.headers.get("Location", "")
        )
        r.check(label, refused, f"HTTP {resp.status_code}")
    # eve logged in with the browser's cookie: ada's JupyterLab.
    resp = eve.session.get(f"{room.base}/user/bnc-ada/lab", timeout=60)
    r.check(
        "eve's login session: ada's JupyterLab",
        resp.status_code in (403, 404),
        f"HTTP {resp.status_code}",
    )
    # ada's server still runs, her token still works: nothing above changed anything.
    ok = room.api(ada, "GET", "/user/bnc-ada/api/status").status_code == 200
    r.check("ada's server untouched by the attempts", ok)
    ok = room.api(teacher, "GET", "/hub/api/users").status_code == 403
    r.check("the instructor is no hub admin either (cannot list users)", ok)


# ------------------------------------------------------------------ grading
def protected_snapshot(room: Classroom) -> dict[str, dict[str, str]]:
    """What grading must not change: the course's source, release and submissions, the
    exchange, and every student's home (as root)."""
    snap = {
        "course source/release/submitted": tree_digest(
            room.course,
            lambda p: p.relative_to(room.course).parts[0] not in ("source", "release", "submitted"),
        ),
        "exchange": tree_digest(room.exchange),
    }
    for student in STUDENTS:
        snap[f"{student}'s home"] = tree_digest(room.accounts[student].home)
    return snap


def attack_report(room: Classroom, assignment: str) -> dict | None:
    path = room.course / "autograded" / "bnc-eve" / assignment / f"{assignment}.ipynb"
    if not path.exists():
        return None
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", ""))
            if "ATTACK-REPORT " in text:
                return json.loads(text.split("ATTACK-REPORT ", 1)[1].splitlines()[0])
    return None


def autograde(room: Classroom) -> None:
    r = room.report
    teacher = room.accounts[INSTRUCTOR]
    before = protected_snapshot(room)
    a1, a3 = room.assignments
    # The formgrader's "autograde" button (its API), for the submission made in the browser.
    start = time.monotonic()
    result = room.formgrader("autograde", a1, "bnc-fay", timeout=600)
    r.check(f"formgrader autograde {a1} bnc-fay", result.get("success"))
    r.info(f"one submission through the formgrader in {time.monotonic() - start:.1f} s")
    # The rest with grade_class.py as the instructor: 2 workers, one grading account each.
    env = teacher.env(
        room.server_env(
            {
                "PATH": f"{room.env_python.parent}:/usr/bin:/bin",
                "JUPYTER_CONFIG_PATH": os.pathsep.join(
                    [str(room.dir / "etc" / "instructor"), str(room.dir / "etc" / "common")]
                ),
            }
        )
    )
    others = ",".join(s for s in STUDENTS if s != "bnc-fay")
    for a in room.assignments:
        cmd = [str(room.env_python), str(room.dir / "src" / "scripts" / "grade_class.py"), a]
        cmd += ["--course-dir", str(room.course), "--workers", "2", "--no-progress"]
        cmd += ["--sandbox-users", ",".join(GRADERS), "--students", others]
        start = time.monotonic()
        log = room.dir / "logs" / f"grade_class-{a}.log"
        out = as_user(teacher, cmd, env=env, cwd=room.course, timeout=900, check=False, log=log)
        took = time.monotonic() - start
        print(textwrap_indent(out.stdout), flush=True)
        with contextlib.suppress(OSError):  # the failures' logs, kept in build/classroom/
            shutil.copytree(
                room.course / ".grade_class" / "logs", room.dir / "logs", dirs_exist_ok=True
            )
        ok = out.returncode == 0
        r.check(
            f"grade_class.py {a} (2 workers, sandboxed): {took:.0f} s", ok, f"exit {out.returncode}"
        )
        if not ok:
            r.info(out.stderr[-2000:])

    # What grading left behind.
    after = protected_snapshot(room)
    for name, digest in before.items():
        changed = sorted(
            k for k in set(digest) | set(after[name]) if digest.get(k) != after[name].get(k)
        )
        r.check(f"grading changed nothing in {name}", not changed, ", ".join(changed[:5]))
    graders = {room.accounts[g].uid for g in GRADERS}
    deadline = time.monotonic() + 60  # the last kernels' clean-up may still be running
    while processes_of(graders) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = processes_of(graders)
    shown = "; ".join(_cmdline(Path(f"/proc/{p}")).replace("\0", " ")[:120] for p in left[:3])
    r.check("no process of the grading accounts is left", not left, f"{len(left)} left: {shown}")
    leftovers = files_of(graders, ["/tmp", "/var/tmp", "/dev/shm", room.exchange, room.dir / "env"])
    leftovers += files_of(graders, [room.accounts[g].home for g in GRADERS])
    r.check(
        "no file of the grading accounts is left (homes, /tmp, exchange)",
        not leftovers,
        ", ".join(leftovers[:5]),
    )
    kernels = [
        p
        for p in Path("/proc").iterdir()
        if p.name.isdigit() and p.stat().st_uid == teacher.uid and "ipykernel" in _cmdline(p)
    ]
    r.check("no kernel ran as the instructor (all in the sandbox)", not kernels)
    for a in room.assignments:
        attacks = attack_report(room, a)
        if attacks is None:
            r.check(
                f"eve's attack ran while {a} was graded",
                False,
                "no report in her autograded notebook",
            )
            continue
        report_attempts(r, f"eve's code, graded ({a[:2]})", attacks, ALLOWED_ATTACKS)


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def textwrap_indent(text: str) -> str:
    return "\n".join("        " + line for line in text.rstrip().splitlines())


# ------------------------------------------------------------------ scores and hints
def expected_cells(
    room: Classroom, student: str, assignment: str
) -> dict[str, tuple[float, float]]:
    """grade id -> (expected score, max): full marks exactly where every exercise the
    graded cell calls was answered with the reference solution: its own, and for a
    backward pass the learner's forward, whose cache it receives (points from the
    instructor notebook; the written answers, graded by hand, score 0 here)."""
    nb = instructor_notebook(assignment)
    fate = {
        demo.function_name(cell): FATES[STUDENTS[student]](k, demo.function_name(cell))
        for k, cell in enumerate(demo.solution_cells(nb))
    }
    expected = {}
    for cell in nb.cells:
        if not release.is_graded(cell):
            continue
        meta = cell.metadata.nbgrader
        calls = [n for n in fate if n and re.search(rf"(?<![.\w]){n}\b", cell.source)]
        right = cell.cell_type == "code" and calls and all(fate[n] == "reference" for n in calls)
        expected[meta.grade_id] = (float(meta.points) if right else 0.0, float(meta.points))
    return expected


def local_results(submitted: nbformat.NotebookNode) -> dict[str, object]:
    """The submission's exercises run here, outside the hub: the name of each exercise's
    function -> what its feedback cell gives (a CheckResult), or "NameError: <name>"
    when the learner's code deleted a function the checker is called with."""
    import numpy as np

    from course_lib import checks

    ns = {"__name__": "__main__", "np": np, "checks": checks}
    results: dict[str, object] = {}
    exercise = None
    for cell in release.exercise_slice(submitted).cells:
        if cell.cell_type != "code" or release.is_graded(cell):
            continue
        if release.is_solution(cell):
            exercise = demo.function_name(cell)
        if release.is_feedback(cell) and exercise:
            call = re.search(r"\(([\w, ]*)\)", cell.source)
            args = [a.strip() for a in call.group(1).split(",") if a.strip()] if call else []
            missing = [a for a in args if a not in ns]
            if missing:
                results[exercise] = f"NameError: {missing[0]}"
            else:
                results[exercise] = eval(cell.source, ns)  # noqa: S307 - the lesson's own line
            continue
        with contextlib.suppress(Exception):
            exec(cell.source, ns)  # noqa: S102 - the submission, as a kernel would run it
    return results


def page_text(page: str) -> str:
    text = re.sub(r"<[^>]+>", " ", page)
    return " ".join(html.unescape(text).split())


def fetch_feedback(room: Classroom, student: str, assignment: str) -> str | None:
    account = room.accounts[student]
    room.nbgrader_action(
        account,
        "assignments/fetch_feedback",
        {"course_id": room.course_id, "assignment_id": assignment},
    )
    r = room.contents(account, f"{assignment}/feedback")
    if r.status_code != 200:
        return None
    stamps = sorted(e["path"] for e in r.json()["content"] if e["type"] == "directory")
    if not stamps:
        return None
    r = room.contents(
        account,
        f"{stamps[-1]}/{assignment}.html",
        params={"content": "1", "type": "file", "format": "text"},
    )
    return r.json()["content"] if r.status_code == 200 else None


def scores_and_hints(room: Classroom) -> None:
    r = room.report
    print(
        f"\n        {'student':<10}{'fate':<11}" + "".join(f"{a[:2]:>12}" for a in room.assignments)
    )
    api_totals = {}
    for a in room.assignments:
        subs = room.api(
            room.accounts[INSTRUCTOR], "GET", f"/user/{INSTRUCTOR}/formgrader/api/submissions/{a}"
        ).json()
        api_totals[a] = {s["student"]: (s.get("score"), s.get("max_score")) for s in subs}
    rows = {}
    for a in room.assignments:
        got = grade_class.gradebook_scores(room.course, a, list(STUDENTS))
        for student in STUDENTS:
            if (student, a) not in room.submitted and not (
                room.course / "submitted" / student / a
            ).is_dir():
                continue
            want = expected_cells(room, student, a)
            have = got.get(student, {})
            r.check(
                f"{student} {a[:2]}: scores per check as expected",
                have == want,
                f"got {have}, expected {want}",
            )
            total = sum(s for s, _ in have.values())
            best = sum(m for _, m in want.values())
            rows.setdefault(student, {})[a] = f"{total:g}/{best:g}"
            api = api_totals[a].get(student)
            r.check(
                f"{student} {a[:2]}: the formgrader shows the same total",
                api and float(api[0]) == total,
                f"{api}",
            )
    for student, cells in rows.items():
        print(
            f"        {student:<10}{STUDENTS[student]:<11}"
            + "".join(f"{cells.get(a, '-'):>12}" for a in room.assignments)
        )
    print()
    # Feedback: every student gets theirs; its hints are what the checkers say.
    for student in STUDENTS:
        for a in room.assignments:
            if not (room.course / "submitted" / student / a).is_dir():
                continue
            page = fetch_feedback(room, student, a)
            r.check(f"{student} fetched the feedback of {a[:2]}", page is not None)
            if page is not None:  # kept in build/classroom/ for a look
                (room.dir / "logs" / f"feedback-{student}-{a[:2]}.html").write_text(page)
            if page is None or student not in ("bnc-ben", "bnc-cy", "bnc-fay"):
                continue
            text = page_text(page)
            submitted = room.submitted.get((student, a)) or nbformat.read(
                room.course / "submitted" / student / a / f"{a}.ipynb", as_version=4
            )
            for name, result in local_results(submitted).items():
                if isinstance(result, str):  # the learner deleted the function
                    deleted = result.split(": ", 1)[1]
                    ok = f"NameError : name '{deleted}' is not defined" in text.replace(
                        "NameError:", "NameError :"
                    )
                    r.check(f"{student} {a[:2]} feedback on {name}: NameError, as here", ok)
                elif not result.passed:
                    hint = " ".join(str(result.hint).split())
                    found = hint in text
                    where = text.find(f"{name}: failed on")
                    shown = (
                        hint[:90] if found else f"{hint[:60]} | page: {text[where : where + 200]}"
                    )
                    r.check(
                        f"{student} {a[:2]} feedback on {name} gives the checker's hint",
                        found,
                        shown,
                    )


# ------------------------------------------------------------------ the run
def timed(report: Report, step):
    start = time.monotonic()
    result = step()
    report.info(f"{getattr(step, '__name__', 'step')}: {time.monotonic() - start:.1f} s")
    return result


def story(room: Classroom) -> None:
    r = room.report
    with r.phase("Set-up: accounts, environment, course, hub"):
        for step in (
            room.preflight,
            room.lock,
            room.remove_leftovers,
            room.make_dir,
            room.make_accounts,
        ):
            timed(r, step)
        proxy = timed(r, room.proxy)
        timed(r, room.make_env)
        timed(r, room.configure)
        r.check(
            "course directory made by release.py --course-dir, as the instructor",
            (room.course / "release").is_dir(),
        )
        timed(r, lambda: room.start_hub(proxy))
        for account in room.accounts.values():
            if account.password:
                room.login(account)
        r.check(
            "every user logged in through the hub's login form (PAM)",
            all(a.token for a in room.accounts.values() if a.password),
        )
        timed(r, room.start_servers)
        owners = {}
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit() and "jupyterhub.singleuser" in _cmdline(proc):
                owners.setdefault(proc.stat().st_uid, 0)
        users = [room.accounts[INSTRUCTOR]] + [room.accounts[s] for s in STUDENTS]
        r.check(
            "each user's server runs as that user",
            all(u.uid in owners for u in users) and 0 not in owners,
        )

    with r.phase("Release, fetch, work, submit"):
        for a in room.assignments:
            room.formgrader("release", a)
            outbound = room.exchange / room.course_id / "outbound" / a / f"{a}.ipynb"
            r.check(f"instructor released {a}", outbound.is_file())
        for student in STUDENTS:
            if STUDENTS[student] == "browser":
                continue
            for a in room.assignments:
                room.nbgrader_action(
                    room.accounts[student],
                    "assignments/fetch",
                    {"course_id": room.course_id, "assignment_id": a},
                )
            ok = all(
                room.contents(room.accounts[student], f"{a}/{a}.ipynb").status_code == 200
                for a in room.assignments
            )
            r.check(f"{student} fetched {', '.join(a[:2] for a in room.assignments)}", ok)
        for student in STUDENTS:  # eve last: her code uses what she has seen of the others
            if STUDENTS[student] in ("browser",):
                continue
            for a in room.assignments:
                work_and_submit(room, student, a)
            r.check(f"{student} ({STUDENTS[student]}) submitted both lessons", True)
        if room.browser:
            import classroom_browser

            outcome = classroom_browser.student_submits(room, "bnc-fay", room.assignments[0])
            for label, ok, detail in outcome:
                r.check(f"browser (bnc-fay): {label}", ok, detail)

    with r.phase("Separation: students against each other, the instructor and the hub"):
        a = room.assignments[0]
        separation_files(room, a)
        separation_hub(room)
        fakes = forge_submissions(room, a)
        r.info("eve dropped a submission in ada's name and one linking to the source notebook")

    with r.phase("Collect"):
        for a in room.assignments:
            room.formgrader("collect", a)
            for student in STUDENTS:
                nb = room.submitted.get((student, a))
                path = room.course / "submitted" / student / a / f"{a}.ipynb"
                if nb is None:
                    continue
                same = path.exists() and [c.source for c in nb.cells] == [
                    c.source for c in nbformat.read(path, as_version=4).cells
                ]
                r.check(f"collected {student}'s own {a[:2]}", same)
        a = room.assignments[0]
        refusals = [
            line.split("ServerApp] ", 1)[-1]
            for line in (room.dir / "logs" / "jupyterhub.log").read_text().splitlines()
            if "Not collected:" in line
        ]
        for line in refusals:
            r.info(line[:160])
        forged, linked = fakes["forged"].name, fakes["linked"].name
        r.check(
            "collect took ada's own submission, not the newer one forged in her name",
            any(forged in x and "belongs to bnc-eve" in x for x in refusals),
        )
        r.check(
            "collect refused eve's newer submission linking to the source notebook",
            any(linked in x and "symbolic link" in x for x in refusals),
        )
        eve_nb = room.course / "submitted" / "bnc-eve" / a / f"{a}.ipynb"
        r.check(
            "no solution reached eve's collected notebook",
            "BEGIN SOLUTION" not in eve_nb.read_text(),
        )

    with r.phase("Autograde (sandboxed): 01 through the formgrader, 03 with grade_class.py"):
        autograde(room)

    with r.phase("Feedback"):
        for a in room.assignments:
            room.formgrader("generate_feedback", a)
            room.formgrader("release_feedback", a)
        r.check("feedback generated and released", True)

    with r.phase("Scores and hints"):
        scores_and_hints(room)

    with r.phase("Separation: feedback"):
        a = room.assignments[0]
        ada = room.accounts["bnc-ada"]
        cache = ada.home / ".local" / "share" / "jupyter" / "nbgrader_cache" / room.course_id
        outcomes = fs_attempts(
            room,
            "bnc-eve",
            [
                (
                    "list the released feedback",
                    f"os.listdir({str(room.exchange / room.course_id / 'feedback')!r})",
                ),
                ("read ada's fetched feedback", f"os.listdir({str(ada.home / a / 'feedback')!r})"),
                ("read ada's submission secret in her cache", f"os.listdir({str(cache)!r})"),
                (
                    "read the instructor's feedback folder",
                    f"os.listdir({str(room.course / 'feedback')!r})",
                ),
            ],
        )
        report_attempts(r, "eve (file system)", outcomes)


def verify_cleanup(room: Classroom, uids: set[int], names: list[str]) -> None:
    r = room.report
    r.check("hub stopped", room.hub is None or room.hub.poll() is not None)
    left = processes_of(uids)
    r.check("no process of the run's accounts left", not left, f"{len(left)}")
    gone = []
    for name in names:
        with contextlib.suppress(KeyError):
            import pwd

            pwd.getpwnam(name)
            gone.append(name)
    r.check(
        "accounts and their homes removed",
        not gone and not any(Path(f"/home/{n}").exists() for n in names),
        ", ".join(gone),
    )
    r.check("exchange and run folder removed", room.dir is None or not room.dir.exists())
    r.check("sudo rule removed", not SUDOERS.exists())
    files = files_of(uids, ["/tmp", "/var/tmp", "/dev/shm"])
    r.check(
        "no file of the run's accounts in /tmp, /var/tmp, /dev/shm", not files, ", ".join(files[:3])
    )
    import socket

    closed = True
    for port in room.ports.values():
        with socket.socket() as s, contextlib.suppress(OSError):
            s.settimeout(1)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                closed = False
    r.check("the hub's ports are closed", closed)


def main(args) -> int:
    report = Report()
    room = Classroom(report, args.time_limit, browser=not args.no_browser)

    def on_signal(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    def on_alarm(signum, frame):
        raise TimeLimit()

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(args.time_limit))
    try:
        story(room)
    except TimeLimit:
        report.check("the run finished within its time limit", False, f"{args.time_limit:.0f} s")
    except KeyboardInterrupt as exc:
        report.check("the run finished", False, f"interrupted ({exc or 'Ctrl-C'})")
    except Failed as exc:
        report.check("the run finished", False, str(exc)[-3000:])
    except Exception:  # noqa: BLE001 - reported, then cleaned up
        report.check("the run finished", False, traceback.format_exc()[-3000:])
    finally:
        signal.alarm(0)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # the clean-up is not to be interrupted
        uids, names = room.uids, list(room.accounts)
        with report.phase("Clean-up"):
            room.cleanup()
            kill_processes_of(uids)
            verify_cleanup(room, uids, names)
    took = time.monotonic() - report.start
    print("\nTiming:")
    for name, seconds in report.phases:
        print(f"  {seconds:7.1f} s  {name}")
    print(f"  {took:7.1f} s  in all")
    import resource

    cpu = sum(
        getattr(resource.getrusage(who), field)
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        for field in ("ru_utime", "ru_stime")
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"  {cpu:7.1f} s  CPU time of the run and the processes it waited for")
    print(f"  (load average at the end: {load:.1f} on {os.cpu_count()} cores)")
    failed = report.failed
    if failed:
        print("\nFailed:")
        for section, name, _, detail in failed:
            print(f"  {section}: {name}" + (f"  [{detail[:500]}]" if detail else ""))
    passed = len(report.results) - len(failed)
    print(f"\nclassroom: {passed} passed, {len(failed)} failed")
    return 1 if failed else 0
