"""Pieces of the class hub that can be tested without one (the hub itself: ``make classroom``).

- ``scripts/hub/nbgrader_config.py``: the collect that takes only what is really the
  named student's (owner of every file, no symbolic link), on real files and owners.
- ``scripts/hub/sandbox_kernel.py``: the kernelspec it writes, and that a connection file
  readable by others is refused.
- ``scripts/classroom.py`` says why it cannot run without root, and stops.
"""

from __future__ import annotations

import json
import os
import runpy
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HUB = ROOT / "scripts" / "hub"
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="changes file owners: needs root")


class _Config:
    """Stands in for traitlets' config object while the config file is executed."""

    def __getattr__(self, name):
        value = _Section()
        object.__setattr__(self, name, value)
        return value


class _Section(dict):
    def __setattr__(self, name, value):
        self[name] = value


@pytest.fixture(scope="module")
def hub_config() -> dict:
    return runpy.run_path(str(HUB / "nbgrader_config.py"), init_globals={"get_config": _Config})


def _submission(folder: Path, uid: int) -> Path:
    (folder / "sub").mkdir(parents=True)
    (folder / "nb.ipynb").write_text("{}")
    (folder / "sub" / "data.txt").write_text("x")
    (folder / "timestamp.txt").write_text("2026-11-28 10:00:00.000000 UTC")
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, uid, -1, follow_symlinks=False)
    return folder


@ROOT_ONLY
def test_collect_copies_a_submission_that_is_all_the_students(hub_config, tmp_path):
    nobody = 65534
    src = _submission(tmp_path / "in", nobody)
    hub_config["copy_owned_tree"](str(src), str(tmp_path / "out"), nobody)
    copied = sorted(
        p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*")
    )
    assert copied == ["nb.ipynb", "sub", "sub/data.txt", "timestamp.txt"]
    assert (tmp_path / "out" / "sub" / "data.txt").read_text() == "x"


@ROOT_ONLY
def test_collect_refuses_a_file_of_someone_else(hub_config, tmp_path):
    src = _submission(tmp_path / "in", 65534)
    os.chown(src / "sub" / "data.txt", 0, 0)  # placed there by another account
    with pytest.raises(hub_config["SubmissionRefused"], match="data.txt belongs to root"):
        hub_config["copy_owned_tree"](str(src), str(tmp_path / "out"), 65534)


@ROOT_ONLY
def test_collect_refuses_a_symbolic_link(hub_config, tmp_path):
    secret = tmp_path / "source.ipynb"
    secret.write_text("the solutions")
    src = _submission(tmp_path / "in", 65534)
    (src / "nb.ipynb").unlink()
    (src / "nb.ipynb").symlink_to(secret)
    os.chown(src / "nb.ipynb", 65534, -1, follow_symlinks=False)
    with pytest.raises(hub_config["SubmissionRefused"], match="symbolic link"):
        hub_config["copy_owned_tree"](str(src), str(tmp_path / "out"), 65534)
    assert "the solutions" not in "".join(
        p.read_text() for p in (tmp_path / "out").rglob("*") if p.is_file()
    )
    # The check alone (no copy) gives the reason as text, for collect's log.
    problem = hub_config["ownership_problem"](str(src), "nobody")
    assert problem and "symbolic link" in problem


def test_collect_names_an_unknown_student(hub_config, tmp_path):
    assert "no account" in hub_config["ownership_problem"](str(tmp_path), "no-such-student-x")


def test_the_config_plugs_the_hardened_exchange_in(hub_config):
    config = hub_config["c"]
    assert config.ExchangeFactory["collect"] is hub_config["OwnerCheckedCollect"]
    assert config.ExchangeFactory["submit"] is hub_config["PrivateSubmit"]
    assert config.Exchange["root"]


def test_sandbox_kernelspec(tmp_path):
    sys.path.insert(0, str(HUB))
    try:
        import sandbox_kernel
    finally:
        sys.path.remove(str(HUB))
    spec = sandbox_kernel.kernelspec("/opt/py", "/opt/sk.py", "grader1", clean=["/srv/x"])
    assert spec["argv"][:2] == ["/opt/py", "/opt/sk.py"]
    assert spec["argv"][-1] == "{connection_file}"
    assert ["--user", "grader1"] == spec["argv"][2:4] and "/srv/x" in spec["argv"]
    assert spec["interrupt_mode"] == "message"  # no signal crosses accounts
    # A connection file that others can read (its key runs code in the kernel) is refused.
    conn = tmp_path / "kernel.json"
    conn.write_text(json.dumps({"key": "k"}))
    conn.chmod(0o644)
    out = subprocess.run(
        [sys.executable, str(HUB / "sandbox_kernel.py"), "--user", "x", str(conn)],
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0 and "private" in out.stderr
    assert stat.S_IMODE(conn.stat().st_mode) == 0o644


def test_classroom_says_why_it_needs_root(monkeypatch, capsys):
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import classroom
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert classroom.main([]) == 2
    err = capsys.readouterr().err
    assert "needs root" in err and "Unix accounts" in err
