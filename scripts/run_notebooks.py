"""Re-execute the lesson notebooks from their .py sources and store clean outputs.

    python scripts/run_notebooks.py            # every notebook
    python scripts/run_notebooks.py 03 04      # only these lessons

Each ``notebooks/src/NN_name.py`` (jupytext percent format) is the source; the paired
``notebooks/NN_name.ipynb`` is rebuilt from it, executed top to bottom in a fresh kernel, and
written without execution timestamps or widget state (cell tags, nbgrader and
slide metadata and the kernelspec are kept; the transient output of cells tagged
``progress`` is dropped). Cell ids are numbered so that re-running gives the same file.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

import release  # this script's folder is on sys.path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# Sources in notebooks/src/, out of the way of learners who browse notebooks/.
JUPYTEXT_FORMATS = "ipynb,src//py:percent"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def lesson_sources(selected: list[str]) -> list[Path]:
    sources = release.lesson_notebooks(selected, suffix=".py")
    if selected and not sources:
        sys.exit(f"no notebook source matches {selected}")
    return sources


def build(source: Path) -> nbformat.NotebookNode:
    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["jupytext"] = {"formats": JUPYTEXT_FORMATS}
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i:03d}"
    return nb


def use_kernel_environment() -> None:
    """Set what a lesson's kernel inherits from this process: figures inline (no
    MPLBACKEND, which would override the notebook's backend) and a fixed hash seed,
    as the repository's conftest.py sets them for nbval."""
    os.environ.pop("MPLBACKEND", None)
    os.environ["PYTHONHASHSEED"] = "0"


def client(nb: nbformat.NotebookNode, timeout: int = 600) -> NotebookClient:
    """A client that runs ``nb`` in a fresh python3 kernel started in notebooks/."""
    return NotebookClient(
        nb,
        kernel_name="python3",
        timeout=timeout,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
        record_timing=False,
        store_widget_state=False,
    )


def execute(nb: nbformat.NotebookNode, timeout: int = 600) -> nbformat.NotebookNode:
    client(nb, timeout).execute()
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            # A progress bar is only worth seeing while the cell runs.
            progress = "progress" in cell.metadata.get("tags", [])
            cell.outputs = [] if progress else stable_outputs(cell.id, cell.outputs)
    return nb


def stable_outputs(cell_id: str, outputs: list) -> list:
    """Outputs that do not change between identical runs, so diffs show real changes:
    consecutive prints to one stream merged (the kernel flushes them at random
    points), and widget views given ids derived from the cell (their state is not
    stored, so the random model id refers to nothing)."""
    merged: list = []
    for out in outputs:
        prev = merged[-1] if merged else None
        if (
            out.output_type == "stream"
            and prev is not None
            and prev.output_type == "stream"
            and prev.name == out.name
        ):
            prev.text += out.text
            continue
        merged.append(out)
    for k, out in enumerate(merged):
        view = out.get("data", {}).get(WIDGET_VIEW)
        if view is not None:
            view["model_id"] = hashlib.md5(f"{cell_id}-{k}".encode()).hexdigest()
    return merged


def main(argv: list[str]) -> int:
    use_kernel_environment()
    total = 0.0
    for source in lesson_sources(argv):
        start = time.perf_counter()
        nb = execute(build(source))
        target = NOTEBOOKS / source.with_suffix(".ipynb").name
        nbformat.write(nb, target)
        took = time.perf_counter() - start
        total += took
        print(f"{target.relative_to(ROOT)}: executed in {took:.1f} s")
    print(f"total {total:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
