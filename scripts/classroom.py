"""The class JupyterHub, for real (``make classroom``; needs root; minutes: see the README).

A real JupyterHub (the pinned ``jupyterhub``, ``configurable-http-proxy`` from npm at the
version locked in ``scripts/hub/``) on 127.0.0.1, with real Unix accounts made for the
run: an instructor, five students and two grading accounts. Everything is driven as the
people would drive it: logins through the hub's login form (PAM, the accounts'
passwords), the hub's REST API with each user's own token, each user's server's APIs
(contents, nbgrader's assignment list, the instructor's formgrader), a real browser for
one student, and ``nbgrader``'s own code run as the instructor where the hub has no route.

1. Set-up: the accounts; a Python environment every account can read, with the course
   installed (the project's ``.venv`` reused through hard links, with its interpreter
   when that lies where other accounts cannot go, as under ``/root``); a fresh nbgrader
   exchange; the instructor's course directory made by
   ``scripts/release.py --course-dir`` as the instructor; the grading sandbox (a
   kernelspec, a sudo rule); the hub.
2. The instructor releases lessons 01 and 03 (formgrader API). Each student fetches them
   (assignment-list API), edits through the contents API and submits: ``ada`` the
   reference answers, ``ben`` typical mistakes, ``cy`` an endless loop and a deleted
   function, ``eve`` right answers plus code that attacks the grading; ``fay`` logs in
   with Chromium, opens lesson 01 from the Assignments tab and submits it untouched.
3. Separation, tried and printed: students against each other's files and the
   instructor's (file system, as the student), against the hub's API (other users,
   servers, tokens), forged and linked submissions; eve's code during autograding.
4. The instructor collects (formgrader), autogrades lesson 01 through the formgrader API
   and lesson 03 with ``scripts/grade_class.py`` (2 workers), both in the sandbox;
   generates and releases feedback; the students fetch it. Scores and hints are compared
   with what the submissions and the course's checkers (run here, outside the hub) give.
5. Clean-up, always (also on failure, Ctrl-C, SIGTERM, the time limit): the hub and every
   process of the run's accounts stopped, the accounts and their homes removed, the
   exchange and the run's folder deleted, the sudo rule removed; then checked.

Prints every check with its outcome, the scores and the timing; exits non-zero if any
check failed. Logs are kept in ``build/classroom/``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
HUB_FILES = SCRIPTS / "hub"
BUILD = ROOT / "build" / "classroom"
sys.path.insert(0, str(SCRIPTS))
sys.path.insert(0, str(HUB_FILES))

MARKER = "batch-norm-course classroom run"  # the accounts' GECOS field: ours to remove
RUN_PREFIX = "bnc-classroom-"
SUDOERS = Path("/etc/sudoers.d/bnc-classroom")
LOCK = (
    Path("/run/lock/bnc-classroom.lock")
    if Path("/run/lock").is_dir()
    else Path("/tmp/bnc-classroom.lock")
)
INSTRUCTOR = "bnc-teacher"
STUDENTS = {  # account -> what the student does
    "bnc-ada": "reference",
    "bnc-ben": "typical",
    "bnc-cy": "broken",
    "bnc-eve": "malicious",
    "bnc-fay": "browser",
}
GRADERS = ("bnc-grader1", "bnc-grader2")
LESSONS = ("01", "03")
CHECK_TIMEOUT = "2"  # s per checker call while grading (the endless loop costs 2 s, not 5)
KERNEL_NAME = "course-sandbox"
DEFAULT_TIME_LIMIT = 600  # s, the whole run; it fails rather than hangs


class Failed(Exception):
    """A step that the rest of the run depends on did not work."""


class TimeLimit(BaseException):
    pass


# ------------------------------------------------------------------ reporting
class Report:
    def __init__(self) -> None:
        self.start = time.monotonic()
        self.results: list[tuple[str, str, bool, str]] = []
        self.phases: list[tuple[str, float]] = []
        self.section = ""

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.results.append((self.section, name, bool(ok), detail))
        mark = "PASS" if ok else "FAIL"
        print(f"  {mark}  {name}" + (f"  [{detail}]" if detail else ""), flush=True)
        return bool(ok)

    def info(self, text: str) -> None:
        print(f"        {text}", flush=True)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.section = name
        print(f"\n== {name}", flush=True)
        start = time.monotonic()
        try:
            yield
        finally:
            took = time.monotonic() - start
            self.phases.append((name, took))
            print(f"   ({took:.1f} s)", flush=True)

    @property
    def failed(self) -> list[tuple[str, str, bool, str]]:
        return [r for r in self.results if not r[2]]


# ------------------------------------------------------------------ small helpers
def run(cmd, timeout: float = 120, check: bool = True, **kw) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and result.returncode != 0:
        raise Failed(f"{' '.join(map(str, cmd))} failed:\n{result.stdout}\n{result.stderr}")
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_digest(top: Path, skip: Callable[[Path], bool] = lambda p: False) -> dict[str, str]:
    """relative path -> sha256 (files) or mode/owner (folders), read as root."""
    out = {}
    for path in sorted(top.rglob("*")):
        if skip(path):
            continue
        info = path.lstat()
        key = str(path.relative_to(top))
        if stat.S_ISREG(info.st_mode):
            out[key] = sha256(path)
        else:
            out[key] = f"{stat.filemode(info.st_mode)} {info.st_uid}"
    return out


@dataclass
class Account:
    name: str
    uid: int
    gid: int
    home: Path
    password: str | None = None
    token: str | None = None
    session: object = None  # requests.Session after the login form

    def env(self, extra: dict | None = None) -> dict:
        env = {
            "HOME": str(self.home),
            "USER": self.name,
            "LOGNAME": self.name,
            "LANG": "C.UTF-8",
            "PATH": "/usr/bin:/bin",
        }
        env.update(extra or {})
        return env


def as_user(account: Account, cmd, env=None, cwd=None, timeout: float = 120, check=True, log=None):
    """Run ``cmd`` as the account (its uid, gid and groups), like a login would. With
    ``log`` (a path), its output goes to that file (and is returned), not to pipes that
    a stray process could hold open."""
    groups = os.getgrouplist(account.name, account.gid)
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(open(log, "w+")) if log else subprocess.PIPE  # noqa: SIM115
        err = stack.enter_context(open(f"{log}.err", "w+")) if log else subprocess.PIPE  # noqa: SIM115
        result = subprocess.run(
            cmd,
            user=account.uid,
            group=account.gid,
            extra_groups=groups,
            env=env or account.env(),
            cwd=cwd or account.home,
            stdout=out,
            stderr=err,
            text=True,
            timeout=timeout,
        )
        if log:
            out.seek(0)
            err.seek(0)
            result.stdout, result.stderr = out.read(), err.read()
    if check and result.returncode != 0:
        raise Failed(
            f"as {account.name}: {' '.join(map(str, cmd))}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def processes_of(uids: set[int], zombies: bool = False) -> list[int]:
    """Processes of these accounts; without ``zombies``, only live ones (a zombie runs
    nothing: it waits for its parent, or for init, which may be slow here, to reap it)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if proc.stat().st_uid not in uids:
                    continue
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if zombies or state != "Z":
                    found.append(int(proc.name))
            except OSError:
                pass
    return found


def kill_processes_of(uids: set[int], rounds: int = 10) -> list[int]:
    """SIGKILL every process of these (run-made) accounts; returns the survivors."""
    for _ in range(rounds):
        pids = processes_of(uids)
        if not pids:
            return []
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.3)
    return processes_of(uids)


def files_of(uids: set[int], folders) -> list[str]:
    """Files and folders owned by these accounts in the given folders (recursively)."""
    found = []
    for folder in folders:
        for dirpath, dirnames, filenames in os.walk(folder):
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                with contextlib.suppress(OSError):
                    if os.lstat(path).st_uid in uids:
                        found.append(path)
    return found


# ------------------------------------------------------------------ the classroom
@dataclass
class Classroom:
    report: Report
    time_limit: float
    browser: bool = True
    keep_logs: Path = BUILD
    dir: Path | None = None
    accounts: dict[str, Account] = field(default_factory=dict)
    hub: subprocess.Popen | None = None
    hub_log: object = None
    base: str = ""
    ports: dict[str, int] = field(default_factory=dict)
    cleanups: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    assignments: list[str] = field(default_factory=list)
    submitted: dict = field(default_factory=dict)  # (student, assignment) -> notebook dict
    inbound_names: dict = field(default_factory=dict)  # (student, assignment) -> folder name

    # -------------------------------------------------------------- paths
    @property
    def env_python(self) -> Path:
        return self.dir / "env" / "bin" / "python"

    @property
    def exchange(self) -> Path:
        return self.dir / "exchange"

    @property
    def course(self) -> Path:
        return self.accounts[INSTRUCTOR].home / "course"

    @property
    def uids(self) -> set[int]:
        return {a.uid for a in self.accounts.values()}

    def later(self, what: str, fn: Callable[[], None]) -> None:
        self.cleanups.append((what, fn))

    # -------------------------------------------------------------- set-up
    def preflight(self) -> None:
        if sys.platform != "linux":
            raise Failed("the classroom needs Linux (Unix accounts, PAM, /proc)")
        for tool in ("useradd", "userdel", "chpasswd", "node", "npm"):
            if shutil.which(tool) is None:
                raise Failed(f"{tool} is not installed")
        if shutil.which("sudo") is None or shutil.which("visudo") is None:
            self.report.info("installing sudo (the grading sandbox's account switch)")
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            if run(["apt-get", "install", "-y", "-qq", "sudo"], 300, False, env=env).returncode:
                run(["apt-get", "update", "-qq"], 300, env=env)
                run(["apt-get", "install", "-y", "-qq", "sudo"], 300, env=env)

    def lock(self) -> None:
        """One classroom run at a time on a machine (they share account names)."""
        import fcntl

        self._lock = open(LOCK, "w")  # noqa: SIM115 - held for the whole run
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise Failed(f"another classroom run is in progress ({LOCK} is locked)") from None

    def remove_leftovers(self) -> None:
        """Accounts, sudo rule and folders of an earlier run that was killed outright."""
        stale = [p for p in pwd.getpwall() if p.pw_gecos == MARKER]
        if stale:
            kill_processes_of({p.pw_uid for p in stale})
            for p in stale:
                run(["userdel", "--remove", p.pw_name], check=False)
            self.report.info(f"removed {len(stale)} accounts left by an earlier run")
        SUDOERS.unlink(missing_ok=True)
        for old in Path(tempfile.gettempdir()).glob(f"{RUN_PREFIX}*"):
            if (old / ".classroom-run").exists():
                shutil.rmtree(old, ignore_errors=True)

    def proxy(self) -> Path:
        """configurable-http-proxy at the locked version, in build/ (npm ci, once)."""
        target = ROOT / "build" / "hub-proxy"
        lock = HUB_FILES / "package-lock.json"
        binary = target / "node_modules" / ".bin" / "configurable-http-proxy"
        stamp = target / ".lock-sha256"
        if not (binary.exists() and stamp.exists() and stamp.read_text() == sha256(lock)):
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            shutil.copy(HUB_FILES / "package.json", target)
            shutil.copy(lock, target)
            run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], 300, cwd=target)
            stamp.write_text(sha256(lock))
        version = run([str(binary), "--version"]).stdout.strip()
        self.report.info(f"configurable-http-proxy {version} ({binary.relative_to(ROOT)})")
        return binary

    def make_dir(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=RUN_PREFIX))
        self.later("the run's folder", lambda: run(["rm", "-rf", str(self.dir)], 300, False))
        self.dir.chmod(0o755)
        (self.dir / ".classroom-run").write_text(str(os.getpid()))
        for sub in ("hub", "logs"):
            (self.dir / sub).mkdir(mode=0o700)
        for sub in ("etc/common", "etc/student/labconfig", "etc/instructor", "bin", "src"):
            (self.dir / sub).mkdir(parents=True)
        # The exchange: writable by all, sticky (nobody removes another's course folder).
        self.exchange.mkdir()
        self.exchange.chmod(0o1777)

    @staticmethod
    def _nobody_runs(python: str) -> str | None:
        """The version string an unprivileged account gets from ``python``, or None."""
        nobody = pwd.getpwnam("nobody")
        try:
            probe = subprocess.run(
                [python, "-c", "import sys, venv; print(sys.version)"],
                user=nobody.pw_uid,
                group=nobody.pw_gid,
                extra_groups=[],
                capture_output=True,
                text=True,
                cwd="/",
                env={"PATH": "/usr/bin:/bin"},
                timeout=60,
            )
        except OSError:  # e.g. under /root: not for other accounts
            return None
        return probe.stdout.strip() if probe.returncode == 0 else None

    def _base_python(self) -> str:
        """.venv's own interpreter, or a copy of it that every account can run.

        Not another Python of the same minor version: the packages were tested on this
        one (Debian's 3.11.2, for one, breaks soupsieve's selectors, which nbconvert's
        HTML export and so nbgrader's feedback use). A copy of an interpreter under
        /root: its files hard-linked into the run's folder (stdlib, no site-packages),
        started by a small script that points the loader at the copy's libpython (the
        binary's RUNPATH names the original, which other accounts cannot reach).
        """
        venv_python = ROOT / ".venv" / "bin" / "python"
        info = "import sys; print(sys._base_executable); print(sys.version)"
        base, version = run([str(venv_python), "-c", info]).stdout.strip().splitlines()
        if self._nobody_runs(base) == version:
            return base
        real = Path(base).resolve()
        prefix = real.parent.parent
        stdlib = f"python{sys.version_info.major}.{sys.version_info.minor}"
        copy = self.dir / "python"
        (copy / "bin").mkdir(parents=True)
        (copy / "lib" / stdlib / "site-packages").mkdir(parents=True)
        sources = [(real, copy / "bin" / real.name)]
        sources += [(lib, copy / "lib" / lib.name) for lib in (prefix / "lib").glob("libpython*")]
        sources += [
            (entry, copy / "lib" / stdlib / entry.name)
            for entry in (prefix / "lib" / stdlib).iterdir()
            if entry.name not in ("site-packages", "test")
        ]
        for src, dst in sources:
            if run(["cp", "-al", str(src), str(dst)], 300, check=False).returncode:
                run(["cp", "-a", str(src), str(dst)], 600)  # another file system
        wrapper = copy / "bin" / "python"
        wrapper.write_text(
            "#!/bin/bash\n"
            "# The course's Python, for every account (see scripts/classroom.py).\n"
            f'export LD_LIBRARY_PATH="{copy / "lib"}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}"\n'
            f'exec -a "$0" "{copy / "bin" / real.name}" "$@"\n'
        )
        wrapper.chmod(0o755)
        got = self._nobody_runs(str(wrapper))
        if got != version:
            raise Failed(f"the copy of {base} does not run for other accounts: {got}")
        return str(wrapper)

    def make_env(self) -> None:
        """The course environment for every account: .venv's packages hard-linked (no copy,
        no download) into a venv of a Python every account can run; the course copied in."""
        venv = ROOT / ".venv"
        version = f"python{sys.version_info.major}.{sys.version_info.minor}"
        base = self._base_python()
        env = self.dir / "env"
        run([base, "-m", "venv", "--without-pip", str(env)])
        site_src = venv / "lib" / version / "site-packages"
        site_dst = env / "lib" / version / "site-packages"
        for src, dst in (
            (site_src, site_dst),
            (venv / "share", env / "share"),
            (venv / "etc", env / "etc"),
        ):
            if not src.exists():
                continue
            dst.mkdir(parents=True, exist_ok=True)
            if run(["cp", "-al", f"{src}/.", str(dst)], 300, check=False).returncode:
                run(["cp", "-a", f"{src}/.", str(dst)], 600)  # another file system
        for editable in site_dst.glob("__editable__*course_lib*"):
            editable.unlink()
        shutil.copytree(
            ROOT / "course_lib",
            site_dst / "course_lib",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        old = f"#!{venv / 'bin' / 'python'}"
        for script in (venv / "bin").iterdir():
            target = env / "bin" / script.name
            if target.exists() or script.is_symlink() or not script.is_file():
                continue
            text = script.read_bytes()
            if text.startswith(old.encode()):
                target.write_bytes(f"#!{self.env_python}".encode() + text[len(old) :])
                target.chmod(0o755)
        # The course's own sources, for release.py and grade_class.py run as the instructor.
        for name in ("scripts", "notebooks", "assets"):
            if (ROOT / name).exists():
                shutil.copytree(
                    ROOT / name,
                    self.dir / "src" / name,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                )
        shutil.copy(HUB_FILES / "sandbox_kernel.py", self.dir / "bin" / "sandbox_kernel.py")
        version = run([str(self.env_python), "-c", "import sys; print(sys.version)"]).stdout
        self.report.info(f"environment {env}: Python {version.split()[0]} from {base}")

    def add_account(self, name: str, login: bool) -> Account:
        self.later(f"processes of {name}", lambda: kill_processes_of(self._uid_of(name)))
        shell = "/bin/bash" if login else "/usr/sbin/nologin"
        run(
            [
                "useradd",
                "--create-home",
                "--user-group",
                "--shell",
                shell,
                "--comment",
                MARKER,
                name,
            ]
        )
        self.later(f"account {name}", lambda: run(["userdel", "--remove", name], check=False))
        p = pwd.getpwnam(name)
        home = Path(p.pw_dir)
        home.chmod(0o700)
        password = None
        if login:
            password = secrets.token_urlsafe(12)
            run(["chpasswd"], input=f"{name}:{password}\n")
        account = Account(name, p.pw_uid, p.pw_gid, home, password)
        self.accounts[name] = account
        return account

    def make_accounts(self) -> None:
        self.add_account(INSTRUCTOR, login=True)
        for student in STUDENTS:
            self.add_account(student, login=True)
        for grader in GRADERS:
            self.add_account(grader, login=False)
        # (clean-up runs in reverse: the processes go before the accounts)
        self.later("processes of the run's accounts", lambda: kill_processes_of(self.uids))
        self.report.info(
            f"accounts: {INSTRUCTOR}, {', '.join(STUDENTS)}; graders {', '.join(GRADERS)}"
        )

    def server_env(self, extra: dict | None = None) -> dict:
        """What every single-user server (and the instructor's commands) run with."""
        env = {
            "COURSE_EXCHANGE": str(self.exchange),
            "COURSE_ID": self.course_id,
            "COURSE_CHECK_TIMEOUT": CHECK_TIMEOUT,
            "JUPYTER_PATH": str(self.dir / "share" / "jupyter"),
            "PYTHONHASHSEED": "0",
        }
        env.update(extra or {})
        return env

    @property
    def course_id(self) -> str:
        import release

        return release.COURSE_ID

    def configure(self) -> None:
        """Jupyter and nbgrader configs, the sandbox kernelspec and sudo rule, the course."""
        import sandbox_kernel as sk

        import release

        etc = self.dir / "etc"
        shutil.copy(HUB_FILES / "nbgrader_config.py", etc / "common" / "nbgrader_config.py")
        lab = {
            "LabApp": {
                "news_url": None,
                "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
            }
        }
        (etc / "common" / "jupyter_server_config.json").write_text(json.dumps(lab))
        student = {
            "ServerApp": {"jpserver_extensions": {"nbgrader.server_extensions.formgrader": False}}
        }
        (etc / "student" / "jupyter_server_config.json").write_text(json.dumps(student))
        hidden = {"@jupyter/nbgrader:formgrader": True, "@jupyter/nbgrader:create-assignment": True}
        (etc / "student" / "labconfig" / "page_config.json").write_text(
            json.dumps({"disabledExtensions": hidden})
        )
        # The grading sandbox: a kernelspec whose kernels run as a grading account.
        spec = self.dir / "share" / "jupyter" / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True)
        launcher = self.dir / "bin" / "sandbox_kernel.py"
        kernel = sk.kernelspec(
            str(self.env_python), str(launcher), GRADERS[0], clean=[self.exchange]
        )
        (spec / "kernel.json").write_text(json.dumps(kernel, indent=1))
        rule = textwrap.dedent(f"""\
            # Written by the course's make classroom; removed at the end of the run.
            Defaults:{INSTRUCTOR} !use_pty, !requiretty, !lecture
            {INSTRUCTOR} ALL=({",".join(GRADERS)}) NOPASSWD: {self.env_python} {launcher} --inner
            """)
        tmp = self.dir / "hub" / "sudoers"
        tmp.write_text(rule)
        run(["visudo", "-cf", str(tmp)])
        self.later("the sudo rule", lambda: SUDOERS.unlink(missing_ok=True))
        shutil.copy(tmp, SUDOERS)
        SUDOERS.chmod(0o440)

        # The course directory, made by the instructor with release.py.
        teacher = self.accounts[INSTRUCTOR]
        lessons = [p.stem for p in release.lesson_notebooks(LESSONS)]
        self.assignments = lessons
        src = self.dir / "src"
        cmd = [
            str(self.env_python),
            str(src / "scripts" / "release.py"),
            "--course-dir",
            str(self.course),
            *LESSONS,
        ]
        env = teacher.env(self.server_env({"PATH": f"{self.env_python.parent}:/usr/bin:/bin"}))
        out = as_user(teacher, cmd, env=env, cwd=teacher.home, timeout=300)
        self.report.info(
            out.stdout.strip().splitlines()[0] if out.stdout.strip() else "course made"
        )
        config = teacher.home / ".jupyter" / "nbgrader_config.py"
        as_user(teacher, ["mkdir", "-p", str(config.parent)])
        text = textwrap.dedent(f"""\
            # The instructor's nbgrader settings (written by make classroom).
            c = get_config()  # noqa: F821
            c.CourseDirectory.root = {str(self.course)!r}
            load_subconfig({str(self.course / "nbgrader_config.py")!r})  # noqa: F821
            # Grading sandbox: every submission's kernel runs as a grading account.
            c.Execute.kernel_name = {KERNEL_NAME!r}
            # A runaway submission (a fork bomb floods the kernel's output channel) costs
            # its own cell, not its whole grading; 15 s per cell is ample with the checkers
            # at {CHECK_TIMEOUT} s per call (COURSE_CHECK_TIMEOUT).
            c.Execute.raise_on_iopub_timeout = False
            c.Execute.timeout = 15
            # Give a sandboxed kernel time to clean up when it is shut down.
            c.KernelManager.shutdown_wait_time = 30
            """)
        as_user(
            teacher, [str(self.env_python), "-c", f"open({str(config)!r}, 'w').write({text!r})"]
        )

    def start_hub(self, proxy: Path) -> None:
        import requests

        self.ports = {k: free_port() for k in ("port", "hub", "proxy_api")}
        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "CLASSROOM_DIR": str(self.dir),
            "CLASSROOM_PYTHON": str(self.env_python),
            "CLASSROOM_PROXY": str(proxy),
            "CLASSROOM_PORT": str(self.ports["port"]),
            "CLASSROOM_HUB_PORT": str(self.ports["hub"]),
            "CLASSROOM_PROXY_API_PORT": str(self.ports["proxy_api"]),
            "CLASSROOM_INSTRUCTORS": INSTRUCTOR,
            "CLASSROOM_STUDENTS": ",".join(STUDENTS),
            **{f"CLASSROOM_ENV_{k}": v for k, v in self.server_env().items()},
        }
        self.hub_log = (self.dir / "logs" / "jupyterhub.log").open("w")
        cmd = [sys.executable, "-m", "jupyterhub", "-f", str(HUB_FILES / "jupyterhub_config.py")]
        self.hub = subprocess.Popen(
            cmd,
            cwd=self.dir / "hub",
            env=env,
            stdout=self.hub_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.later("the hub", self.stop_hub)
        self.base = f"http://127.0.0.1:{self.ports['port']}"
        deadline = time.monotonic() + 90
        while True:
            if self.hub.poll() is not None:
                raise Failed(f"the hub exited:\n{self.log_tail()}")
            with contextlib.suppress(requests.RequestException):
                r = requests.get(f"{self.base}/hub/api/", timeout=5)
                if r.ok:
                    self.report.info(f"JupyterHub {r.json()['version']} at {self.base}")
                    return
            if time.monotonic() > deadline:
                raise Failed(f"the hub did not answer within 90 s:\n{self.log_tail()}")
            time.sleep(0.5)

    def log_tail(self, n: int = 40) -> str:
        path = self.dir / "logs" / "jupyterhub.log"
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-n:]) if path.exists() else ""
        )

    def stop_hub(self) -> None:
        if self.hub is None or self.hub.poll() is not None:
            return
        self.hub.send_signal(signal.SIGTERM)  # it stops the servers and the proxy it started
        try:
            self.hub.wait(30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(self.hub.pid, signal.SIGKILL)
            self.hub.wait(10)

    def _uid_of(self, name: str) -> set[int]:
        return {self.accounts[name].uid} if name in self.accounts else set()

    # -------------------------------------------------------------- the hub, as users
    def login(self, account: Account) -> None:
        """The hub's login form, then a token the user makes for themself (as in the UI)."""
        import requests

        s = requests.Session()
        page = s.get(f"{self.base}/hub/login", timeout=30)
        xsrf = s.cookies.get("_xsrf") or re.search(
            r'name="_xsrf" value="([^"]+)"', page.text
        ).group(1)
        r = s.post(
            f"{self.base}/hub/login",
            data={"username": account.name, "password": account.password, "_xsrf": xsrf},
            allow_redirects=False,
            timeout=60,
        )
        if r.status_code != 302:
            raise Failed(f"login of {account.name}: HTTP {r.status_code}")
        xsrf = s.cookies.get("_xsrf", path="/hub/") or s.cookies.get("_xsrf") or xsrf
        r = s.post(
            f"{self.base}/hub/api/users/{account.name}/tokens",
            json={"note": "classroom run", "expires_in": 3600},
            headers={"X-XSRFToken": xsrf},
            timeout=30,
        )
        if r.status_code != 201:
            raise Failed(f"token for {account.name}: HTTP {r.status_code} {r.text[:200]}")
        account.session = s
        account.token = r.json()["token"]

    def api(
        self,
        account: Account | None,
        method: str,
        path: str,
        token: str | None = None,
        timeout: float = 120,
        **kw,
    ):
        """A request to the hub (``/hub/api/...``) or a server (``/user/...``) with a token."""
        import requests

        headers = kw.pop("headers", {})
        token = token if token is not None else (account.token if account else None)
        if token:
            headers["Authorization"] = f"token {token}"
        return requests.request(
            method,
            f"{self.base}{path}",
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
            **kw,
        )

    def start_servers(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        users = [self.accounts[INSTRUCTOR]] + [self.accounts[s] for s in STUDENTS]

        def start(user):  # the hub answers when the server is up or after 10 s
            return self.api(user, "POST", f"/hub/api/users/{user.name}/server", timeout=180)

        with ThreadPoolExecutor(len(users)) as pool:
            for user, r in zip(users, pool.map(start, users), strict=True):
                if r.status_code not in (201, 202):
                    raise Failed(
                        f"starting {user.name}'s server: HTTP {r.status_code} {r.text[:200]}"
                    )
        deadline = time.monotonic() + 180
        waiting = {u.name for u in users}
        while waiting:
            for user in users:
                if user.name in waiting:
                    model = self.api(user, "GET", f"/hub/api/users/{user.name}").json()
                    if model.get("servers", {}).get("", {}).get("ready"):
                        waiting.discard(user.name)
            if time.monotonic() > deadline:
                raise Failed(
                    f"servers not ready within 180 s: {sorted(waiting)}\n{self.log_tail()}"
                )
            time.sleep(0.5)

    def nbgrader_action(
        self, account: Account, path: str, payload: dict | None = None, timeout=600
    ) -> dict:
        r = self.api(
            account, "POST", f"/user/{account.name}/{path}", json=payload or {}, timeout=timeout
        )
        if r.status_code != 200:
            raise Failed(f"{account.name} POST {path}: HTTP {r.status_code} {r.text[:300]}")
        return r.json()

    def formgrader(
        self, action: str, assignment: str, student: str | None = None, timeout=600
    ) -> dict:
        teacher = self.accounts[INSTRUCTOR]
        if student:
            path = f"formgrader/api/submission/{assignment}/{student}/{action}"
        else:
            path = f"formgrader/api/assignment/{assignment}/{action}"
        result = self.nbgrader_action(teacher, path, timeout=timeout)
        if not result.get("success"):
            why = result.get("error") or result.get("log")
            raise Failed(f"formgrader {action} {assignment} {student or ''}: {why}")
        return result

    def contents(self, account: Account, path: str, method: str = "GET", **kw):
        return self.api(account, method, f"/user/{account.name}/api/contents/{path}", **kw)

    # -------------------------------------------------------------- clean-up
    def cleanup(self) -> None:
        """Undo everything, in reverse, each step on its own (one failing stops no other)."""
        with contextlib.suppress(Exception):
            if self.dir and (self.dir / "logs").exists():
                if self.keep_logs.exists():
                    shutil.rmtree(self.keep_logs, ignore_errors=True)
                shutil.copytree(self.dir / "logs", self.keep_logs)
        for what, fn in reversed(self.cleanups):
            start = time.monotonic()
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - report and go on
                print(f"  clean-up of {what} failed: {exc}", flush=True)
            print(f"        removed {what} ({time.monotonic() - start:.1f} s)", flush=True)
        self.cleanups.clear()
        if self.hub_log:
            self.hub_log.close()
        uids = self.uids
        others = [f for f in files_of(uids, ["/tmp", "/var/tmp", "/dev/shm"])]
        for path in others:
            with contextlib.suppress(OSError):
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)


# ------------------------------------------------------------------ the story
# (the flow lives in classroom_flow.py to keep this file about the machinery)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--time-limit", type=float, default=DEFAULT_TIME_LIMIT, help="s (default %(default)s)"
    )
    parser.add_argument("--no-browser", action="store_true", help="leave out the Chromium student")
    args = parser.parse_args(argv)
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        print(
            "make classroom needs root: it creates Unix accounts (an instructor, students, "
            "grading accounts) with useradd, runs a JupyterHub that starts each user's server "
            "as that user, and installs a sudo rule for the grading sandbox; all of it is "
            "removed at the end. Run it as root (CI does), in a container or a throwaway VM.",
            file=sys.stderr,
        )
        return 2
    import classroom_flow

    return classroom_flow.main(args)


if __name__ == "__main__":
    sys.exit(main())
