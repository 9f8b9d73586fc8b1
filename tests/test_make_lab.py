"""`make lab` starts JupyterLab on the exercise versions (a learner who follows the
README lands there), `make lab-worked` on the worked versions: the server answers,
lists the lessons, and stops on request."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize(
    "target, folder, expected",
    [
        # release/NN_name/NN_name.ipynb: solutions replaced by stubs
        ("lab", "01_input_normalization", "01_input_normalization.ipynb"),
        ("lab-worked", "", "01_input_normalization.ipynb"),
    ],
)
def test_make_lab_serves_the_course(tmp_path, target, folder, expected):
    port, token = _free_port(), secrets.token_hex(8)
    args = (
        f"--no-browser --port={port} --ServerApp.ip=127.0.0.1 --ServerApp.token={token} "
        f"--ServerApp.runtime_dir={tmp_path} --LabApp.news_url=None"
    )
    proc = subprocess.Popen(
        ["make", "--no-print-directory", target, f"LAB_ARGS={args}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        listing = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{base}/api/contents/{folder}?token={token}") as r:
                    listing = json.load(r)
                break
            except OSError:
                time.sleep(0.5)
        assert listing is not None, "JupyterLab did not answer within 90 s"
        names = {item["name"] for item in listing["content"]}
        assert expected in names
        assert not any(name.endswith(".py") for name in names), "a lesson appears twice"
        with urllib.request.urlopen(f"{base}/lab?token={token}") as r:
            assert r.status == 200
        req = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST")
        urllib.request.urlopen(req).close()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
