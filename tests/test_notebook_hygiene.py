"""Static checks of the stored notebooks (nbval re-executes them separately)."""

from __future__ import annotations

import ast
import json
import pkgutil
import re
import socket
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest

import course_lib
from course_lib.lessons import LESSONS

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
    assert names == ["01", "02", "03", "04", "05", "06", "07"], names
    assert [p.stem for p in NOTEBOOKS] == [lesson.notebook for lesson in LESSONS]


# ------------------------------------------------------------------ PyTorch stays optional
TORCH_MODULES = ("torch", "course_lib.torch_bridge", "course_lib.pytorch_bn")
WITH_TORCH = {lesson.notebook for lesson in LESSONS if "torch" in lesson.requires}


def _imports(path: Path) -> list[ast.stmt]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    found = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            tree = ast.parse("".join(cell["source"]))
            found += [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    return found


def _imported_names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    return [base] + [f"{base}.{a.name}" for a in node.names]


def _is_torch(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in TORCH_MODULES)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_only_the_pytorch_lesson_imports_pytorch(path: Path):
    names = [n for node in _imports(path) for n in _imported_names(node)]
    torch = sorted({n for n in names if _is_torch(n)})
    if path.stem in WITH_TORCH:
        assert "torch" in torch, "the lesson declares PyTorch but does not import it"
    else:
        assert not torch, f"{path.stem} imports {torch}: only lessons with requires=('torch',) may"


def test_the_other_lessons_and_course_lib_import_without_pytorch():
    """With PyTorch blocked, every import statement of the other lessons and every
    course_lib module but the bridge import fine, and none of them loads PyTorch."""
    statements = {
        ast.unparse(node)
        for path in NOTEBOOKS
        if path.stem not in WITH_TORCH
        for node in _imports(path)
    }
    modules = [
        m.name
        for m in pkgutil.walk_packages(course_lib.__path__, "course_lib.")
        if m.name != "course_lib.torch_bridge"
    ]
    code = "\n".join(
        [
            "import sys",
            "class Blocked:",
            "    def find_spec(self, name, path=None, target=None):",
            "        if name == 'torch' or name.startswith('torch.'):",
            "            raise ImportError('PyTorch imported: ' + name)",
            "sys.meta_path.insert(0, Blocked())",
            *sorted(statements),
            *(f"import {m}" for m in modules),
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))",
        ]
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT / "notebooks"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]", done.stdout
    assert "course_lib.pytorch_bn" in modules and "course_lib.checks.pytorch_bn" in modules


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


def _binds_underscore(tree: ast.Module) -> list[int]:
    """Lines of top-level statements that assign to the name ``_``."""
    found = []
    for node in tree.body:
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.For):
            targets = [node.target]
        names = [n for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        if any(n.id == "_" for n in names):
            found.append(node.lineno)
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_cell_takes_the_name_underscore(path: Path):
    """The feedback cells tell a learner to type ``_.more()`` (IPython's last result):
    once a cell assigns ``_`` itself, IPython stops updating it and that advice fails."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    bad = [
        (cell.get("id"), line)
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
        for line in _binds_underscore(ast.parse("".join(cell["source"])))
    ]
    assert not bad, f"cells binding _ at top level (cell id, line): {bad}"
