"""The slides (``make slides``) and the static site (``make html``): built for every lesson,
self-contained (no remote script or stylesheet), with every lesson's formulas and figures.
(``test_browser.py`` opens a deck and the pages in Chromium with the network blocked.)"""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from bs4 import BeautifulSoup

import build_site
from course_lib.lessons import LESSONS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
# Display math first, so that "$$a$$" is not read as two inline formulas.
FORMULA = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$", re.DOTALL)


@pytest.fixture(scope="module")
def built(built_site):
    return built_site


def _notebook(lesson) -> dict:
    return json.loads((NOTEBOOKS / f"{lesson.notebook}.ipynb").read_text(encoding="utf-8"))


def _soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def _outputs(path: Path) -> list[Path]:
    return sorted(path.glob("*.html"))


def test_a_deck_and_a_page_per_lesson(built):
    out, decks, pages = built
    assert [d.name for d in decks] == [f"{x.notebook}.slides.html" for x in LESSONS]
    assert [p.name for p in pages] == [f"{x.notebook}.html" for x in LESSONS]
    for index in (out / "html" / "index.html", out / "slides" / "index.html"):
        anchors = _soup(index).select("ol.lessons a")
        expected = [p.name for p in (pages if "html" in index.parent.name else decks)]
        assert [a["href"] for a in anchors] == expected, f"{index}: {anchors}"
        # each lesson named once: "01 · Input normalization"
        assert [a.get_text() for a in anchors] == [f"{x.number} · {x.title}" for x in LESSONS]


def test_pages_link_to_their_neighbours(built):
    _, _, pages = built
    for i, page in enumerate(pages):
        soup = _soup(page)
        navs = soup.select("nav.course-nav")
        assert len(navs) == 2, f"{page.name}: navigation at top and bottom"
        links = {a.get("rel", [None])[0] or "index": a["href"] for a in navs[0].select("a")}
        assert links["index"] == "index.html"
        assert links.get("prev") == (pages[i - 1].name if i else None)
        assert links.get("next") == (pages[i + 1].name if i + 1 < len(pages) else None)
        for href in links.values():
            assert (page.parent / href).exists(), f"{page.name}: broken link {href}"


@pytest.mark.parametrize("kind", ["slides", "html"])
def test_no_remote_script_or_stylesheet_and_local_ones_exist(built, kind):
    out, _, _ = built
    for path in _outputs(out / kind):
        soup = _soup(path)
        refs = [t.get("src") for t in soup.find_all("script") if t.get("src")]
        refs += [t.get("href") for t in soup.find_all("link") if t.get("href")]
        assert refs, f"{path.name}: no script or stylesheet at all?"
        remote = [r for r in refs if REMOTE.match(r)]
        assert not remote, f"{path.name} loads from the network: {remote}"
        for ref in refs:
            local = path.parent / unquote(urlsplit(ref).path)
            assert local.is_file(), f"{path.name}: {ref} is not in the output folder"
        for script in soup.find_all("script"):  # e.g. `import x from "https://..."`
            text = script.string or ""
            assert not re.search(r"""(import|src\s*=)\s*\(?\s*['"](https?:)?//""", text), (
                f"{path.name}: an inline script loads from the network"
            )


@pytest.mark.parametrize("kind", ["slides", "html"])
def test_vendored_stylesheets_import_nothing_remote(built, kind):
    out, _, _ = built
    sheets = list((out / kind / "vendor").rglob("*.css"))
    assert sheets or kind == "html"
    for sheet in sheets:
        text = sheet.read_text(encoding="utf-8", errors="replace")
        assert not re.search(r"(@import|url\()\s*['\"]?\s*(https?:)?//", text), sheet.name


def _skipped(cell: dict) -> bool:
    """A cell decks leave out (slide type skip: the "Going deeper" sections)."""
    return cell["metadata"].get("slideshow", {}).get("slide_type") == "skip"


def _formulas(nb: dict, deck: bool = False) -> list[str]:
    found = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown" and not (deck and _skipped(cell)):
            for display, inline in FORMULA.findall("".join(cell["source"])):
                found.append((display or inline).strip())
    return found


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda x: x.notebook)
def test_every_formula_and_figure_is_in_the_deck_and_the_page(built, lesson):
    out, _, _ = built
    nb = _notebook(lesson)
    formulas = _formulas(nb)
    assert formulas, "the lesson has no LaTeX formula"
    for path, deck in (
        (out / "slides" / f"{lesson.notebook}.slides.html", True),
        (out / "html" / f"{lesson.notebook}.html", False),
    ):
        figures = sum(
            1
            for cell in nb["cells"]
            if cell["cell_type"] == "code" and "widget" not in cell["metadata"].get("tags", [])
            if not (deck and _skipped(cell))
            for o in cell.get("outputs", [])
            if "image/png" in o.get("data", {}) or "image/jpeg" in o.get("data", {})
        )
        soup = _soup(path)
        text = _squash(soup.get_text())
        missing = [f for f in _formulas(nb, deck) if _squash(f) not in text]
        assert not missing, f"{path.name}: formulas missing: {missing[:3]}"
        embedded = [
            img for img in soup.find_all("img") if img.get("src", "").startswith("data:image/")
        ]
        assert len(embedded) >= max(figures, 1), (
            f"{path.name}: {len(embedded)} embedded images, the notebook has {figures} figures"
        )
        loose = [img["src"] for img in soup.find_all("img") if not img["src"].startswith("data:")]
        assert not loose, f"{path.name}: images not embedded: {loose}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda x: x.notebook)
def test_widgets_degrade_and_test_plumbing_is_gone(built, lesson):
    out, _, _ = built
    nb = _notebook(lesson)
    tagged = sum("widget" in c["metadata"].get("tags", []) for c in nb["cells"])
    assert tagged >= 1, "no cell tagged 'widget'"
    for path in (
        out / "slides" / f"{lesson.notebook}.slides.html",
        out / "html" / f"{lesson.notebook}.html",
    ):
        html = path.read_text(encoding="utf-8")
        assert "application/vnd.jupyter.widget-view+json" not in html
        assert html.count('class="course-widget-note"') >= tagged
        assert not re.search(r"\b(VBox|HBox|FloatSlider|IntSlider)\(", _soup(path).get_text())
        for marker in ("NBVAL_", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "BEGIN SOLUTION"):
            assert marker not in html, f"{path.name} shows {marker}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda x: x.notebook)
def test_decks_follow_the_slide_metadata(built, lesson):
    out, _, _ = built
    nb = _notebook(lesson)
    kinds = [c["metadata"].get("slideshow", {}).get("slide_type", "-") for c in nb["cells"]]
    assert sum(k in ("slide", "subslide") for k in kinds) >= 2, "no slideshow metadata"
    # nbconvert starts a slide at the first visible cell, then at each slide/subslide.
    first = next(i for i, k in enumerate(kinds) if k not in ("notes", "skip"))
    starts = 1 + sum(k in ("slide", "subslide") for k in kinds[first + 1 :])
    soup = _soup(out / "slides" / f"{lesson.notebook}.slides.html")
    leaves = [s for s in soup.select(".reveal .slides section") if not s.find("section")]
    assert len(leaves) == starts
    assert len(soup.select("aside.notes")) == sum(k == "notes" for k in kinds)


def test_a_tampered_download_is_refused(tmp_path):
    name = "requirejs"
    version, _ = build_site.NPM_PACKAGES[name]
    bad = tmp_path / f"{name}-{version}.tgz"
    with tarfile.open(bad, "w:gz") as tar:
        (tmp_path / "require.js").write_text("alert('not the real one')")
        tar.add(tmp_path / "require.js", arcname="package/require.js")
    with pytest.raises(SystemExit, match="integrity"):
        build_site._verified(bad, name)
