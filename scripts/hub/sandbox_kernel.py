"""A Python kernel that runs as an unprivileged grading account, for ``nbgrader autograde``.

nbgrader runs a submission in a Jupyter kernel started by the process that grades, so
by default the student's code runs as the instructor: it can read the gradebook, the
source notebooks (solutions, hidden tests), every other submission, and the instructor's
hub token. This launcher is the kernel command of a kernelspec (``make classroom`` writes
one; see the README's instructor section) and runs the kernel as another account:

    grading process (instructor)                 grading account (e.g. grader1)
    jupyter_client ─ sandbox_kernel.py CONN ──sudo──> sandbox_kernel.py --inner ─> ipykernel

The outer part runs as the instructor: it reads the connection file (ports and key),
keeps only a few harmless environment variables (never the hub token) and passes them to
the inner part on its standard input, through ``sudo -n -u ACCOUNT``. The sudoers rule
allows exactly that command. The inner part, as the grading account:

- writes the connection file into a fresh private folder, which is also the kernel's
  working directory, home, temporary and cache folder (so a submission finds nothing
  left by an earlier one and leaves nothing for a later one);
- starts ipykernel in its own session, niced, with resource limits (processes, memory,
  CPU seconds, file size, open files, no core files);
- when the kernel ends, or the outer part goes away (its pipe closes), kills every
  process of the account (``kill(-1)`` until none is left: a fork bomb's included) and
  deletes the account's files in its home (the private folder, start-up files planted
  for the next kernel), ``/tmp``, ``/var/tmp`` and ``/dev/shm``.

Then the outer part deletes what the account left in the shared folders named with
``--clean`` (the nbgrader exchange: every account may drop a file into ``inbound/``,
which only the instructor can list).

One account serves one kernel at a time (the clean-up kills all of its processes; the
outer part waits for the account's previous kernel to be cleaned up before it starts one):
grade in parallel with one account per worker (``COURSE_SANDBOX_USER`` chooses it, see
``scripts/grade_class.py --sandbox-users``). Interrupts go over the kernel's control
channel (``interrupt_mode: message`` in the kernelspec), as no signal crosses accounts.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pwd
import resource
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Variables the grading process may hand to the kernel. Everything else stays behind:
# JUPYTERHUB_API_TOKEN above all (a submission could act as the instructor on the hub).
PASS_ENV = (
    "COURSE_CHECK_TIMEOUT",
    "COURSE_LANG",
    "LANG",
    "LC_ALL",
    "PYTHONHASHSEED",
    "MPLBACKEND",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
)

# Resource limits of the kernel and of everything it starts (per process, except NPROC,
# which counts all processes and threads of the account). A kernel uses about 15
# threads; the course's checkers fork one child per call.
LIMITS = {
    "RLIMIT_NPROC": 96,
    "RLIMIT_AS": 6 << 30,  # bytes of address space (numba and OpenBLAS reserve a lot)
    "RLIMIT_CPU": 600,  # CPU seconds
    "RLIMIT_FSIZE": 256 << 20,  # bytes per file written
    "RLIMIT_NOFILE": 1024,
    "RLIMIT_CORE": 0,
}
NICE = 5
SHARED_TMP = ("/tmp", "/var/tmp", "/dev/shm")


# ------------------------------------------------------------------ outer: the instructor side
def outer(
    connection_file: str, user: str, sudo: str, clean: list[str], kernel_args: list[str]
) -> int:
    user = os.environ.get("COURSE_SANDBOX_USER") or user
    payload = {
        "connection": json.loads(Path(connection_file).read_text()),
        "env": {k: os.environ[k] for k in PASS_ENV if k in os.environ},
        "clean": clean,  # more folders where the account's files are deleted afterwards
        "kernel_args": kernel_args,  # e.g. --HistoryManager.hist_file=:memory: from nbgrader
    }
    cmd = [sudo, "-n", "-u", user, "--", sys.executable, os.path.abspath(__file__), "--inner"]
    # One kernel at a time per account, until its clean-up is over (it kills every process
    # of the account): the lock is the instructor's, held until the inner part has exited.
    locks = Path.home() / ".cache" / "course-sandbox"
    locks.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = open(locks / f"{user}.lock", "w")  # noqa: SIM115 - held until this process ends
    fcntl.flock(lock, fcntl.LOCK_EX)
    # The lock goes with this process, which the grading process may kill before the
    # account's previous kernel was cleaned up: wait for that clean-up to finish, so two
    # clean-ups never overlap (each kills every process of the account).
    uid = pwd.getpwnam(user).pw_uid
    deadline = time.monotonic() + 60
    while _alive(uid) and time.monotonic() < deadline:
        time.sleep(0.1)
    child = subprocess.Popen(cmd, stdin=subprocess.PIPE, close_fds=True)
    assert child.stdin is not None
    child.stdin.write((json.dumps(payload) + "\n").encode())
    child.stdin.flush()

    def stop(signum, frame):  # the inner part cleans up when its pipe closes
        try:
            child.stdin.close()
        except OSError:
            pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # interrupts are messages, not signals
    code = child.wait()
    # The account cannot list folders such as the exchange's inbound/ (a drop box it can
    # still write into); their owner, the instructor, can: remove what the account left.
    _remove_own_files(pwd.getpwnam(user).pw_uid, clean, depth=4)
    return code


# ------------------------------------------------------------------ inner: the grading account
def _limit(name: str, value: int) -> None:
    kind = getattr(resource, name)
    _, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def _start_kernel_limits() -> None:  # in the kernel's process, before exec
    os.umask(0o077)
    os.nice(NICE)
    for name, value in LIMITS.items():
        _limit(name, value)


def _remove_own_files(uid: int, folders, depth: int = 1) -> None:
    """Delete the entries of account ``uid`` in ``folders``, looking ``depth`` levels down
    (as that account, or as the owner of the folders)."""
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.stat(follow_symlinks=False).st_uid != uid:
                    if depth > 1 and entry.is_dir(follow_symlinks=False):
                        _remove_own_files(uid, [entry.path], depth - 1)
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path, ignore_errors=True)
                else:
                    os.unlink(entry.path)
            except OSError:
                pass


def _others_alive() -> bool:
    """Whether a process of this account other than this one is alive (not a zombie)."""
    return bool(_alive(os.getuid(), exclude=os.getpid()))


def _alive(uid: int, exclude: int = -1) -> list[int]:
    """The live (not zombie) processes of account ``uid``, but ``exclude``."""
    found = []
    me = exclude
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            with open(f"/proc/{entry.name}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def _become_subreaper() -> None:
    """Orphaned descendants (a fork bomb's) become this process's children, not init's:
    it reaps them. Where init does not reap promptly, their zombies would otherwise go
    on counting against the account's process limit and starve the next kernel."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _reap(wait: float = 0.0) -> None:
    """Collect the exit status of the children that have ended; with ``wait``, keep at
    it for up to that many seconds until no child is left."""
    deadline = time.monotonic() + wait
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # no child left
        if pid == 0:
            if time.monotonic() >= deadline:
                return
            time.sleep(0.02)


def _kill_account_processes(seconds: float = 10.0) -> None:
    """SIGKILL every process of this account but this one (Linux's kill(-1)), again and
    again until none is left: a fork bomb may be forking while the first rounds land."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        _reap()
        if not _others_alive():
            break
        time.sleep(0.02)
    _reap(wait=5.0)


def _clean(account, payload) -> None:
    """Kill every other process of the account; delete its files in the shared places."""
    _kill_account_processes()
    uid = account.pw_uid
    _remove_own_files(uid, [account.pw_dir, *SHARED_TMP])  # persistence attempts too
    _remove_own_files(uid, payload.get("clean", []), depth=4)


def inner() -> int:
    line = sys.stdin.buffer.readline()
    if not line:
        return 2
    payload = json.loads(line)
    account = pwd.getpwuid(os.getuid())
    _become_subreaper()
    _clean(account, payload)  # whatever an earlier kernel may have left behind
    work = Path(tempfile.mkdtemp(prefix="kernel-", dir=account.pw_dir))
    for sub in ("tmp", ".ipython", ".mpl", ".cache", ".config", "runtime"):
        (work / sub).mkdir(mode=0o700)
    connection = work / "runtime" / "kernel.json"
    fd = os.open(connection, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(payload["connection"], f)
    env = {
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/bin", "/bin"]),
        "HOME": str(work),
        "USER": account.pw_name,
        "LOGNAME": account.pw_name,
        "TMPDIR": str(work / "tmp"),
        "IPYTHONDIR": str(work / ".ipython"),
        "MPLCONFIGDIR": str(work / ".mpl"),
        "XDG_CACHE_HOME": str(work / ".cache"),
        "XDG_CONFIG_HOME": str(work / ".config"),
        "NUMBA_CACHE_DIR": str(work / ".cache" / "numba"),
        "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update({k: v for k, v in payload.get("env", {}).items() if k in PASS_ENV})
    extra = [a for a in payload.get("kernel_args", []) if a.startswith("--")]
    cmd = [sys.executable, "-m", "ipykernel_launcher", "-f", str(connection), *extra]
    # The kernel's output comes through this process: the grading process's own
    # stdout and stderr never pass to anything the submission controls.
    kernel = subprocess.Popen(
        cmd,
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_start_kernel_limits,
    )
    code = None
    output = kernel.stdout
    try:
        while code is None:
            # Wake up when the outer part goes away (EOF on stdin), on output, or at 0.5 s.
            watched = [sys.stdin.buffer] + ([output] if output else [])
            ready, _, _ = select.select(watched, [], [], 0.5)
            if sys.stdin.buffer in ready and not sys.stdin.buffer.read1(4096):
                break
            if output in ready:
                chunk = output.read1(65536)
                if chunk:
                    sys.stderr.buffer.write(chunk[:65536])
                    sys.stderr.buffer.flush()
                else:
                    output = None
            code = kernel.poll()
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _kill_account_processes()  # (it reaps the kernel too)
        kernel.wait()
        shutil.rmtree(work, ignore_errors=True)
        _clean(account, payload)
    return code if code is not None else 0


def kernelspec(
    python: str, launcher: str, user: str, clean=(), sudo: str = "/usr/bin/sudo"
) -> dict:
    """The kernel.json of a kernelspec that runs kernels through this launcher; ``clean``:
    shared folders (e.g. the nbgrader exchange) where the account's files are deleted."""
    argv = [python, launcher, "--user", user, "--sudo", sudo]
    argv += [a for folder in clean for a in ("--clean", str(folder))]
    return {
        "argv": [*argv, "{connection_file}"],
        "display_name": f"Python 3 (grading sandbox, {user})",
        "language": "python",
        "interrupt_mode": "message",
        "metadata": {"debugger": False},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("connection_file", nargs="?")
    parser.add_argument("--user", help="the grading account (COURSE_SANDBOX_USER overrides)")
    parser.add_argument("--sudo", default="/usr/bin/sudo")
    parser.add_argument("--clean", action="append", default=[], help="a shared folder to tidy")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args, kernel_args = parser.parse_known_args(argv)
    if args.inner:
        return inner()
    if not args.connection_file or not (args.user or os.environ.get("COURSE_SANDBOX_USER")):
        parser.error("a connection file and --user (or COURSE_SANDBOX_USER) are needed")
    if stat.S_IMODE(os.stat(args.connection_file).st_mode) & 0o077:
        parser.error("the connection file must be private to its owner")
    return outer(args.connection_file, args.user, args.sudo, args.clean, kernel_args)


if __name__ == "__main__":
    sys.exit(main())
