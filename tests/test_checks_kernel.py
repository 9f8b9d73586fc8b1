"""Hostile learner code in a real notebook kernel: every checker call returns a failing
result with its hint, the kernel survives (same process, still answering) and no process
of a check is left behind. Under nbgrader autograde: tests/test_autograde.py."""

from __future__ import annotations

import json
import os

import nbformat
import pytest
from nbclient import NotebookClient

LIMIT = "0.5"  # COURSE_CHECK_TIMEOUT in the kernel: seconds per call

SETUP = """\
import os, signal, sys
import numpy as np
from course_lib import checks
KERNEL = os.getpid()
def children():
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, ValueError):
            continue
        if entry.isdigit() and fields[1] == str(KERNEL):
            found.append(int(entry))
    return found
def show(result):
    print(json.dumps({"passed": bool(result), "hint": result.hint}))
import json
"""

# (what the learner's function does, its code, words the hint must contain)
HOSTILE = [
    (
        "returns an object whose __array__ never returns",
        """\
class Endless:
    def __array__(self, *args, **kwargs):
        while True:
            pass
def normalize(X, mu, sigma):
    return Endless()
show(checks.check_normalize(normalize))""",
        "the function returned an Endless object, and turning it into numbers did not finish",
    ),
    (
        "returns a tuple of objects whose __len__ and __eq__ never return",
        """\
class Stubborn:
    def __len__(self):
        while True:
            pass
    __eq__ = __len__
def fit_normalizer(X):
    return Stubborn(), Stubborn()
show(checks.check_fit_normalizer(fit_normalizer))""",
        "mu is a Stubborn object, expected a numpy array",
    ),
    (
        "ignores SIGTERM and SIGINT, then loops",
        """\
def update_running_stats(running_mean, running_var, z, beta=0.9, unbiased=True):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        pass
show(checks.check_update_running_stats(update_running_stats))""",
        "did not return within 0.5 s",
    ),
    (
        "calls os._exit",
        """\
def batchnorm_inference(z, gamma, beta, running_mean, running_var, eps=1e-5):
    os._exit(0)
show(checks.check_batchnorm_inference(batchnorm_inference))""",
        "ended the process instead of returning",
    ),
    (
        "recurses without end",
        """\
def largest_stable_lr(X):
    return largest_stable_lr(X)
show(checks.check_largest_stable_lr(largest_stable_lr))""",
        "RecursionError",
    ),
    (
        "forks, and both copies go on",
        """\
def gradient_descent_step(X, y, w, b, lr):
    os.fork()
    return w, b
show(checks.check_gradient_descent_step(gradient_descent_step))""",
        "w_new differs from the expected value",
    ),
    (
        "closes the standard file descriptors",
        """\
def bn_layer_forward(A_prev, W, gamma, beta, eps=1e-5):
    for fd in (0, 1, 2):
        os.close(fd)
    return A_prev
show(checks.check_bn_layer_forward(bn_layer_forward))""",
        "A differs from the expected value",
    ),
    (
        "crashes (segmentation fault)",
        """\
def batchnorm_forward(z, gamma, beta, eps=1e-5):
    import ctypes
    ctypes.string_at(0)
show(checks.check_batchnorm_forward(batchnorm_forward))""",
        "(a crash, SIGSEGV)",
    ),
]

AFTER = """\
print(json.dumps({"same kernel": os.getpid() == KERNEL, "children": children()}))"""


@pytest.fixture(scope="module")
def executed():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SETUP)]
    nb.cells += [nbformat.v4.new_code_cell(code) for _, code, _ in HOSTILE]
    nb.cells.append(nbformat.v4.new_code_cell(AFTER))
    saved = os.environ.get("COURSE_CHECK_TIMEOUT")
    os.environ["COURSE_CHECK_TIMEOUT"] = LIMIT  # the kernel inherits it
    try:
        NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    finally:
        if saved is None:
            os.environ.pop("COURSE_CHECK_TIMEOUT")
        else:
            os.environ["COURSE_CHECK_TIMEOUT"] = saved
    return nb


def _printed(cell) -> dict:
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    errors = [o for o in cell.outputs if o.output_type == "error"]
    assert not errors, errors
    return json.loads(text.strip().splitlines()[-1])


@pytest.mark.parametrize(("k", "case"), list(enumerate(HOSTILE)), ids=[h[0] for h in HOSTILE])
def test_hostile_code_in_a_kernel_gets_a_failing_result_with_a_hint(executed, k, case):
    said = _printed(executed.cells[1 + k])
    assert said["passed"] is False
    assert case[2] in said["hint"], said["hint"]


def test_the_kernel_survives_and_no_process_is_left(executed):
    said = _printed(executed.cells[-1])
    assert said == {"same kernel": True, "children": []}
