"""Static checks of the stored notebooks (nbval re-executes them separately)."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ABSOLUTE_PATH = re.compile(r"(?<![\w:/.~])/(?:home|root|work|tmp|usr|opt|Users|var)/")


def _outputs_text(cell: dict) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append("".join(out.get("text", "")))
        for mime, value in out.get("data", {}).items():
            if mime.startswith("text/"):
                parts.append(value if isinstance(value, str) else "".join(value))
        parts.append("".join(out.get("traceback", [])))
    return "\n".join(parts)


def test_every_lesson_is_there():
    names = [p.stem[:2] for p in NOTEBOOKS]
    assert names == ["01", "02", "03", "04", "05", "06"], names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_hygiene(path: Path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), f"cells not executed in order from 1: {counts}"
    assert any("course_lib" in "".join(c["source"]) for c in code), "does not import course_lib"
    host = socket.gethostname()
    for i, cell in enumerate(code):
        kinds = [o["output_type"] for o in cell.get("outputs", [])]
        assert "error" not in kinds, f"code cell {i} stores an error output"
        assert "execution" not in cell.get("metadata", {}), f"code cell {i} keeps timestamps"
        text = _outputs_text(cell)
        assert not ABSOLUTE_PATH.search(text), f"code cell {i} output shows an absolute path"
        assert host not in text, f"code cell {i} output shows the machine name"
    assert "widgets" not in nb["metadata"], "widget state stored: run `make outputs`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_matches_its_py_source(path: Path):
    """The .ipynb and its jupytext .py source hold the same cells (run `make sync`)."""
    source = path.parent / "src" / path.with_suffix(".py").name
    assert source.exists(), f"{source.name} missing: the .py is the notebook's source"
    from_py = jupytext.read(source)
    from_nb = jupytext.read(path)
    assert [(c.cell_type, c.source) for c in from_py.cells] == [
        (c.cell_type, c.source) for c in from_nb.cells
    ], "notebook and .py differ: run `make sync`, then `make outputs`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_going_deeper_sections_are_marked_for_the_site_and_left_out_of_the_slides(path: Path):
    """Every cell of a "## Going deeper: ..." section (up to the next "## " heading that
    is not one) carries the tag ``going-deeper`` and the slide type ``skip``, and only
    those cells carry the tag (COMMON.md, issue 13)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    inside = False
    for i, cell in enumerate(nb["cells"]):
        source = "".join(cell["source"])
        heading = re.match(r"## (.*)", source) if cell["cell_type"] == "markdown" else None
        if heading:
            inside = heading.group(1).startswith("Going deeper")
        tagged = "going-deeper" in cell["metadata"].get("tags", [])
        assert tagged == inside, f"cell {i} ({source[:50]!r}): tag going-deeper is {tagged}"
        if tagged:
            assert cell["metadata"].get("slideshow", {}).get("slide_type") == "skip", i
