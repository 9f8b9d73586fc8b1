"""The slides (``make slides``) and the course site (``make html``), read as HTML: built for
every lesson, self-contained (nothing remote), every formula and figure there, the static
widgets in place of the live ones, rich text intact, test plumbing gone, and the slides
leaving out what is not for the projector. The site-features fixture
(``tests/fixtures/site_features.py``, executed in a real kernel) covers what the lessons do
not use yet: going-deeper sections, figures with alt text, notes with math.
(``test_browser.py`` opens decks and pages in Chromium with the network cut.)"""

from __future__ import annotations

import base64
import json
import re
import tarfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
from bs4 import BeautifulSoup

import build_site
from conftest import TEST_JUPYTERHUB, TEST_REPOSITORY
from course_lib.lessons import LESSONS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"

REMOTE = re.compile(r"^\s*(https?:)?//", re.IGNORECASE)
# Display math first, so that "$$a$$" is not read as two inline formulas.
FORMULA = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$", re.DOTALL)
TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)+\|?\s*$", re.MULTILINE)

lesson_param = pytest.mark.parametrize("lesson", LESSONS, ids=lambda x: x.notebook)


@pytest.fixture(scope="module")
def built(built_site):
    return built_site


def _notebook(lesson) -> dict:
    return json.loads((NOTEBOOKS / f"{lesson.notebook}.ipynb").read_text(encoding="utf-8"))


def _soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def _source(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def _deck(out: Path, lesson) -> Path:
    return out / "slides" / f"{lesson.notebook}.slides.html"


def _page(out: Path, lesson) -> Path:
    return out / "html" / f"{lesson.notebook}.html"


def _article(soup: BeautifulSoup):
    """The lesson itself on a site page (not the sidebars)."""
    return soup.select_one("article.bd-article") or soup


def _on_slides(nb: dict) -> list[dict]:
    """The cells a deck shows (visible or as notes)."""
    return [
        c
        for c in nb["cells"]
        if not build_site.not_a_slide(c)
        and c["metadata"].get("slideshow", {}).get("slide_type") != "skip"
    ]


# ------------------------------------------------------------------ outputs and links


def test_a_deck_and_a_page_per_lesson(built):
    out, decks, pages = built
    assert [d.name for d in decks] == [f"{x.notebook}.slides.html" for x in LESSONS]
    assert [p.name for p in pages] == [f"{x.notebook}.html" for x in LESSONS]
    anchors = _soup(out / "slides" / "index.html").select("ol.lessons a")
    assert [a["href"] for a in anchors] == [d.name for d in decks]
    assert [a.get_text() for a in anchors] == [f"{x.number} · {x.title}" for x in LESSONS]
    # the home page lists the lessons in order, and every page has the list beside it
    home = _article(_soup(out / "html" / "index.html"))
    links = [a["href"] for a in home.select("a") if a["href"].endswith(".html")]
    assert links == [p.name for p in pages]
    for page in [out / "html" / "index.html", *pages]:
        nav = _soup(page).select(".bd-sidebar-primary nav a")
        targets = {a["href"] for a in nav}
        missing = [p.name for p in pages if p.name not in targets and p != page]
        assert not missing, f"{page.name}: lesson list beside the page lacks {missing}"


def _refs(soup: BeautifulSoup) -> list[str]:
    refs = [t.get("src") for t in soup.find_all(["script", "img"]) if t.get("src")]
    refs += [t.get("href") for t in soup.find_all("link") if t.get("href")]
    return refs


@pytest.mark.parametrize("kind", ["slides", "html"])
def test_nothing_remote_and_every_local_file_exists(built, kind):
    out, _, _ = built
    for path in sorted((out / kind).glob("*.html")):
        soup = _soup(path)
        refs = _refs(soup)
        assert refs or path.name == "index.html", f"{path.name}: no script or stylesheet?"
        remote = [r for r in refs if REMOTE.match(r)]
        assert not remote, f"{path.name} loads from the network: {remote}"
        for ref in refs:
            if ref.startswith(("data:", "#")):
                continue
            local = path.parent / unquote(urlsplit(ref).path)
            assert local.is_file(), f"{path.name}: {ref} is not in the output folder"
        for script in soup.find_all("script"):  # e.g. `import x from "https://..."`
            text = script.string or ""
            assert not re.search(r"""(import|src\s*=)\s*\(?\s*['"](https?:)?//""", text), (
                f"{path.name}: an inline script loads from the network"
            )
    for sheet in (out / kind).rglob("*.css"):
        text = sheet.read_text(encoding="utf-8", errors="replace")
        assert not re.search(r"(@import|url\()\s*['\"]?\s*(https?:)?//", text), sheet


def test_mathjax_is_a_local_copy_outside_the_static_root(built):
    out, decks, pages = built
    for page in pages:
        scripts = [urlsplit(s["src"]).path for s in _soup(page).find_all("script") if s.get("src")]
        assert "_static/vendor/mathjax/tex-chtml.js" in scripts, page.name
        # the theme adds a script tag for each .js at the root of _static: MathJax is not there
        assert not any(re.fullmatch(r"_static/[^/]*(mathjax|tex-)[^/]*\.js", s) for s in scripts)
    assert (out / "html" / "_static" / "vendor" / "mathjax" / "output" / "chtml").is_dir()
    for deck in decks:
        assert _soup(deck).find("script", src="vendor/mathjax/tex-chtml.js"), deck.name


def _formulas(nb: dict) -> list[str]:
    found = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for display, inline in FORMULA.findall(_source(cell)):
                found.append((display or inline).strip())
    return found


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _figures(cells: list[dict]) -> int:
    return sum(
        1
        for cell in cells
        if cell["cell_type"] == "code" and "widget" not in cell["metadata"].get("tags", [])
        for o in cell.get("outputs", [])
        if "image/png" in o.get("data", {}) or "image/jpeg" in o.get("data", {})
    )


@lesson_param
def test_every_formula_and_figure_is_in_the_deck_and_the_page(built, lesson):
    out, _, _ = built
    nb = _notebook(lesson)
    for path, cells in ((_deck(out, lesson), _on_slides(nb)), (_page(out, lesson), nb["cells"])):
        soup = _soup(path)
        text = _squash(soup.get_text())
        formulas = _formulas({"cells": cells})
        assert formulas, "the lesson has no LaTeX formula"
        missing = [f for f in formulas if _squash(f) not in text]
        assert not missing, f"{path.name}: formulas missing: {missing[:3]}"
        images = [
            img
            for img in _article(soup).find_all("img")
            if not img.find_parent(class_="course-static-widget")
        ]
        assert len(images) >= max(_figures(cells), 1), (
            f"{path.name}: {len(images)} images, the notebook has {_figures(cells)} figures"
        )
        for img in images:
            src = img["src"]
            assert src.startswith("data:image/") or (path.parent / src).is_file(), src
            alt = " ".join(img.get("alt", "").split())
            assert len(alt.split()) >= 6 and alt != build_site.DEFAULT_ALT, (
                f"{path.name}: a figure without a description: {alt!r}"
            )
            assert not re.search(r"\.(png|jpe?g|svg)$", alt), f"{path.name}: alt is a file name"


def test_figure_descriptions_come_from_the_cell_metadata():
    """A stored figure gets its alt text from the cell's metadata ``alt`` (a sentence, or
    one per figure), unless the output carries its own (``course_lib.figures.show``)."""
    png = {"image/png": "iVBORw0KGgo="}
    cell = nbformat.v4.new_code_cell(
        "plot()",
        metadata={"alt": ["The first figure.", "The second  figure."]},
        outputs=[
            nbformat.v4.new_output("display_data", data=png),
            nbformat.v4.new_output("stream", text="text"),
            nbformat.v4.new_output("display_data", data=png),
        ],
    )
    own = nbformat.v4.new_code_cell(
        "plot()",
        metadata={"alt": "From the cell."},
        outputs=[
            nbformat.v4.new_output(
                "display_data", data=png, metadata={"image/png": {"alt": "Its own."}}
            )
        ],
    )
    nb = nbformat.v4.new_notebook(cells=[cell, own])
    prepared = build_site.prepare(nb, "t", kind="html", base=ROOT)
    first, _, second = prepared.cells[0].outputs
    assert first.metadata["image/png"]["alt"] == "The first figure."
    assert second.metadata["image/png"]["alt"] == "The second figure."
    assert prepared.cells[1].outputs[0].metadata["image/png"]["alt"] == "Its own."
    assert "alt" not in nb.cells[0].outputs[0].get("metadata", {})  # the input is untouched


# ------------------------------------------------------------------ static widgets


@lesson_param
def test_the_widget_cell_shows_its_static_copy(built, lesson):
    if lesson.skip_reason():  # no PyTorch: lesson 07's widget has a note, not frames
        pytest.skip(f"static widget not drawn: {lesson.skip_reason()}")
    out, _, _ = built
    nb = _notebook(lesson)
    tagged = [c for c in nb["cells"] if "widget" in c["metadata"].get("tags", [])]
    assert len(tagged) == 1, "one cell tagged 'widget' per lesson (its registered widget)"
    for path in (_deck(out, lesson), _page(out, lesson)):
        html = path.read_text(encoding="utf-8")
        assert "application/vnd.jupyter.widget-view+json" not in html
        soup = _soup(path)
        (widget,) = soup.select(".course-static-widget")
        data = json.loads(widget.select_one("script.csw-data").string)
        labels = [x.get_text() for x in widget.select(".csw-control label")]
        assert labels == [c["label"] for c in data["controls"]] and len(labels) >= 1
        assert "JupyterLab" in widget.select_one(".csw-note").get_text()
        base = path.parent / widget["data-frames"]
        names = {n for frame in data["frames"].values() for n in frame["i"]}
        missing = [n for n in names if not (base / n).is_file()]
        assert not missing, f"{path.name}: frames missing: {missing[:3]}"
        start = ",".join(str(c["default"]) for c in data["controls"])
        assert widget.select_one("img.csw-image")["src"].endswith(data["frames"][start]["i"][0])
        assert not re.search(r"\b(VBox|HBox|FloatSlider|IntSlider)\(", soup.get_text())


def test_frames_are_small_enough_for_the_site(built):
    """Only the start frame loads with a page; the others when the reader moves a slider.
    The whole set for the course stays a few MB (stated in the README)."""
    out, _, _ = built
    frames = list((out / "html" / "_static" / "widgets").rglob("*.png"))
    total = sum(p.stat().st_size for p in frames)
    assert frames and total < 6e6, f"{len(frames)} frames, {total / 1e6:.1f} MB"
    assert max(p.stat().st_size for p in frames) < 60e3


# ------------------------------------------------------------------ what the text keeps


def _count_tags(cells: list[dict], tag: str) -> int:
    return sum(
        len(re.findall(rf"<{tag}\b", _source(c))) for c in cells if c["cell_type"] == "markdown"
    )


def _tables(cells: list[dict]) -> int:
    return sum(len(TABLE_RULE.findall(_source(c))) for c in cells if c["cell_type"] == "markdown")


def _content(soup: BeautifulSoup, kind: str):
    root = _article(soup) if kind == "html" else soup.select_one(".reveal .slides")
    for widget in root.select(".course-static-widget, .bd-toc"):
        widget.decompose()
    return root


@lesson_param
@pytest.mark.parametrize("kind", ["slides", "html"])
def test_rich_text_survives(built, lesson, kind):
    """Sub- and superscripts keep their text, answers stay folded inside their <details>,
    tables are tables (52 sub/superscripts were emptied and every answer shown before)."""
    out, _, _ = built
    nb = _notebook(lesson)
    cells = _on_slides(nb) if kind == "slides" else nb["cells"]
    path = _deck(out, lesson) if kind == "slides" else _page(out, lesson)
    root = _content(_soup(path), kind)
    for tag in ("sup", "sub"):
        found = root.find_all(tag)
        assert len(found) == _count_tags(cells, tag), f"{tag}: {len(found)} in the HTML"
        empty = [str(x.parent)[:80] for x in found if not x.get_text(strip=True)]
        assert not empty, f"emptied <{tag}>: {empty[:3]}"
    details = root.find_all("details")
    assert len(details) == _count_tags(cells, "details")
    for d in details:
        assert d.find("summary") is not None and not d.has_attr("open")
        inside = d.get_text(" ", strip=True).removeprefix(d.summary.get_text(" ", strip=True))
        assert len(inside.split()) >= 5, f"the answers are not inside <details>: {inside!r}"
    assert len(root.find_all("table")) == _tables(cells)


@lesson_param
def test_test_plumbing_is_gone(built, lesson):
    out, _, _ = built
    for path in (_deck(out, lesson), _page(out, lesson)):
        html = path.read_text(encoding="utf-8")
        for marker in ("NBVAL_", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "BEGIN SOLUTION"):
            assert marker not in html, f"{path.name} shows {marker}"


# ------------------------------------------------------------------ the decks


@lesson_param
def test_decks_follow_the_slide_metadata(built, lesson):
    out, _, _ = built
    nb = _notebook(lesson)
    kinds = [
        "skip"
        if build_site.not_a_slide(c)
        else c["metadata"].get("slideshow", {}).get("slide_type", "-")
        for c in nb["cells"]
    ]
    assert sum(k in ("slide", "subslide") for k in kinds) >= 2, "no slideshow metadata"
    # nbconvert starts a slide at the first visible cell, then at each slide/subslide.
    first = next(i for i, k in enumerate(kinds) if k not in ("notes", "skip"))
    starts = 1 + sum(k in ("slide", "subslide") for k in kinds[first + 1 :])
    soup = _soup(_deck(out, lesson))
    leaves = [s for s in soup.select(".reveal .slides section") if not s.find("section")]
    assert len(leaves) == starts
    assert len(soup.select("aside.notes")) == sum(k == "notes" for k in kinds)


@lesson_param
def test_imports_and_graded_checks_are_not_slides(built, lesson):
    """Decided by metadata: the cell tagged ``imports``, the heading tagged
    ``graded-checks`` and nbgrader's graded test cells."""
    out, _, _ = built
    nb = _notebook(lesson)
    imports = [c for c in nb["cells"] if "imports" in c["metadata"].get("tags", [])]
    heading = [c for c in nb["cells"] if "graded-checks" in c["metadata"].get("tags", [])]
    graded = [c for c in nb["cells"] if build_site.is_graded_test(c)]
    assert len(imports) == 1 and len(heading) == 1 and graded
    slides = _squash(_soup(_deck(out, lesson)).select_one(".reveal .slides").get_text())
    for cell in imports + heading + graded:
        first = _source(cell).strip().splitlines()[0].lstrip("# ")
        assert _squash(first) not in slides, f"on a slide: {first!r}"
    page = _squash(_soup(_page(out, lesson)).get_text())  # the page keeps them
    assert _squash(_source(imports[0]).splitlines()[0]) in page


def test_no_prompts_on_slides(built):
    _, decks, _ = built
    for deck in decks:
        soup = _soup(deck)
        assert not soup.select(".jp-InputPrompt, .jp-OutputPrompt"), deck.name
        assert not re.search(r"(In|Out)\s*\[\s*\d*\s*\]:", soup.get_text()), deck.name


def test_decks_are_16_by_9():
    from build_site import SLIDE_HEIGHT, SLIDE_WIDTH, SLIDES_FOOTER

    assert (SLIDE_WIDTH, SLIDE_HEIGHT) == (1280, 720)
    assert "width: {width}, height: {height}" in SLIDES_FOOTER


# ------------------------------------------------------------------ the site's own parts


@lesson_param
def test_page_outline_download_and_launch_buttons(built, lesson):
    out, _, _ = built
    page = _page(out, lesson)
    soup = _soup(page)
    outline = [a.get_text(" ", strip=True) for a in soup.select(".bd-toc a")]
    headings = [
        h.get_text(" ", strip=True).rstrip("#").strip() for h in _article(soup).select("h2")
    ]
    assert len(outline) >= len(headings) >= 2
    # the .ipynb to download is the original notebook, not the copy prepared for the page
    download = soup.select_one("a.btn-download-source-button")
    assert download["href"] == f"_sources/{lesson.notebook}.ipynb"
    original = (NOTEBOOKS / f"{lesson.notebook}.ipynb").read_bytes()
    assert (page.parent / download["href"]).read_bytes() == original
    launch = [a["href"] for a in soup.select("a.dropdown-item") if "Launch" in str(a)]
    repo = TEST_REPOSITORY.removeprefix("https://github.com/")
    binder = f"https://mybinder.org/v2/gh/{repo}/main?urlpath=lab/tree/notebooks/{lesson.notebook}"
    assert any(u.startswith(binder) for u in launch), launch
    assert any(u.startswith(f"{TEST_JUPYTERHUB}/hub/user-redirect/git-pull?") for u in launch)
    assert soup.select(".theme-switch-button"), "no light/dark switch"


def test_search_index_holds_the_lessons(built):
    out, _, _ = built
    index = (out / "html" / "searchindex.js").read_text(encoding="utf-8")
    data = json.loads(index[index.index("(") + 1 : index.rindex(")")])
    assert sorted(data["docnames"]) == sorted(["index", *(x.notebook for x in LESSONS)])
    assert "run" in data["terms"] and "mean" in data["terms"]  # (stemmed)


# ------------------------------------------------------------------ the fixture lesson


@pytest.fixture(scope="module")
def fixture_built(built_fixture):
    return built_fixture


def test_show_stores_alt_text_and_font_size_with_the_figure(fixture_built):
    _, path, _, _ = fixture_built
    nb = json.loads(path.read_text(encoding="utf-8"))
    (meta,) = [
        o["metadata"]["image/png"]
        for c in nb["cells"]
        for o in c.get("outputs", [])
        if "image/png" in o.get("data", {})
    ]
    assert meta["alt"] == "A parabola through four points, rising from 0 to 9."
    # tick labels of 15 pt at the inline backend's 100 dpi: 15 * 100 / 72 px
    assert meta["course_min_font_px"] == pytest.approx(15 * 100 / 72, abs=0.01)


def test_fixture_figures_carry_their_alt_text(fixture_built):
    _, _, deck, page = fixture_built
    alt = "A parabola through four points, rising from 0 to 9."
    for path in (deck, page):
        images = _article(_soup(path)).find_all("img")
        assert alt in [img.get("alt") for img in images], path.name
        widget = [i for i in images if i.find_parent(class_="course-static-widget")]
        assert widget and widget[0]["alt"].startswith("A curve whose shape the controls set.")
    deck_img = _soup(deck).find("img", alt=alt)
    assert float(deck_img["data-min-font-px"]) == pytest.approx(20.83, abs=0.01)


def test_fixture_going_deeper_is_marked_on_the_page_and_left_out_of_the_deck(fixture_built):
    _, _, deck, page = fixture_built
    slides = _soup(deck).select_one(".reveal .slides").get_text()
    assert "GOING-DEEPER" not in slides and "Going deeper" not in slides
    soup = _soup(page)
    (section,) = soup.select("section.going-deeper")
    assert "GOING-DEEPER-TEXT" in section.get_text()
    assert "optional" in section.select_one(".going-deeper-note").get_text()
    (cell,) = soup.select("div.cell.tag_going-deeper")
    assert "GOING-DEEPER-OUTPUT" in cell.get_text()
    assert cell.find_parent("section", class_="going-deeper") is section


def test_fixture_deck_leaves_out_imports_and_graded_checks(fixture_built):
    _, _, deck, page = fixture_built
    slides = _soup(deck).select_one(".reveal .slides").get_text()
    for text in ("import toy_widget", "Graded checks", "double(2) == 4", "double(3)"):
        assert text not in slides
    assert "return 2 * x" in slides  # the solution itself is presented
    assert len(_soup(deck).select("aside.notes")) == 6
    page_text = _soup(page).get_text()
    assert "import toy_widget" in page_text and "double(3)" not in page_text


def test_student_site_has_no_solutions(tmp_path):
    """``--student``: the site of the exercise versions (scripts/release.py's release)."""
    import release

    lesson = LESSONS[0]
    release.build_release((lesson.number,), course_dir=tmp_path / "course", out=tmp_path / "rel")
    (page,) = build_site.build_html(
        tmp_path / "rel",
        tmp_path / "html",
        [lesson.number],
        ROOT / "build" / "vendor",
        student=True,
    )
    instructor = _notebook(lesson)
    secrets = release.secret_lines(instructor)
    assert secrets
    text = _squash(_soup(page).get_text())
    assert not [s for s in secrets if _squash(s) in text]
    assert "YOURCODEHERE" in text
    assert "exercise versions" in _soup(tmp_path / "html" / "index.html").get_text()
    released = tmp_path / "rel" / lesson.notebook / f"{lesson.notebook}.ipynb"
    assert (page.parent / "_sources" / f"{lesson.notebook}.ipynb").read_bytes() == (
        released.read_bytes()
    )


def test_markdown_images_are_embedded(tmp_path):
    (tmp_path / "assets").mkdir()
    png = b"\x89PNG\r\n\x1a\n fixture"
    (tmp_path / "assets" / "a.png").write_bytes(png)
    source = (
        '![a figure](assets/a.png "title") <img src="assets/a.png" alt="x"> '
        "![remote](https://example.org/b.png) ![missing](assets/none.png)"
    )
    out = build_site.embed_images(source, tmp_path)
    uri = "data:image/png;base64," + base64.b64encode(png).decode()
    assert f'![a figure]({uri} "title")' in out and f'<img src="{uri}" alt="x">' in out
    assert "(https://example.org/b.png)" in out and "(assets/none.png)" in out


def test_a_tampered_download_is_refused(tmp_path):
    name = "mathjax"
    version, _ = build_site.NPM_PACKAGES[name]
    bad = tmp_path / f"{name}-{version}.tgz"
    with tarfile.open(bad, "w:gz") as tar:
        (tmp_path / "tex-chtml.js").write_text("alert('not the real one')")
        tar.add(tmp_path / "tex-chtml.js", arcname="package/es5/tex-chtml.js")
    with pytest.raises(SystemExit, match="integrity"):
        build_site._verified(bad, name)
