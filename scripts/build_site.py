"""Build the lecture slides and the static site from the lesson notebooks, for offline use.

    python scripts/build_site.py slides    # build/slides/: one reveal.js deck per lesson
    python scripts/build_site.py html      # build/html/: index page + one page per lesson
    python scripts/build_site.py all       # both
    options: --out DIR (default build/), --notebooks DIR (default notebooks/), --only 01 03
    python scripts/build_site.py html --notebooks release --out build/student
                                           # a site of the exercise versions (make student)

Both outputs open with no network at all. nbconvert's templates load reveal.js,
MathJax 2, require.js and jQuery from CDNs by default; here every one of them comes
from a local copy inside the output folder (``vendor/``), so a folder can be zipped,
copied to a lecture-hall laptop or published as it is. The copies are npm packages at
pinned versions, fetched once with the machine's ``npm pack`` into ``build/vendor/``
and checked against their registry integrity hashes.

The notebooks are used as stored (instructor versions, outputs included); they are
not re-executed. What changes on the way to a deck or a page:
- a live widget cannot run without a kernel: the outputs of ``widget``-tagged cells
  (and any other widget view) are replaced by a short note; the cell before shows
  the same figure statically;
- test plumbing is removed: ``# NBVAL_...`` and ``### BEGIN/END SOLUTION`` marker lines
  (the solution itself stays: lecturers present it) and nbgrader hidden tests. For a
  site without solutions, build from the student release (``--notebooks release``).
"""

from __future__ import annotations

import argparse
import base64
import copy
import fnmatch
import hashlib
import html
import logging
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbconvert import HTMLExporter, SlidesExporter
from nbconvert.filters import markdown2html
from traitlets.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # course_lib without an install (a fresh clone)

from course_lib.lessons import LESSONS, Lesson  # noqa: E402

COURSE_TITLE = "Input normalization and Batch Normalization"

# npm packages: version and the registry's integrity hash of the tarball.
NPM_PACKAGES = {
    "reveal.js": (
        "4.6.1",
        "sha512-1CW0auaXNPmwmvQ7TwpszwVxMi2Xr5cTS3J3EBC/HHgbPF32Dn7aiu/LKWDOGjMbaDwKQiGmfqcoGQ74HUHCMw==",
    ),
    "mathjax": (
        "2.7.9",  # nbconvert's templates call the MathJax 2 API (MathJax.Hub)
        "sha512-NOGEDTIM9+MrsqnjPEjVGNx4q0GQxqm61yQwSK+/5S59i26wId5IC5gNu9/bu8+CCVl5p9G2IHcAl/wJa+5+BQ==",
    ),
    "requirejs": (
        "2.3.7",
        "sha512-DouTG8T1WanGok6Qjg2SXuCMzszOo0eHeH9hDZ5Y4x8Je+9JB38HdTLT4/VA8OaUhBa0JPVHJ0pyBkM1z+pDsw==",
    ),
    "jquery": (
        "3.7.1",
        "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
    ),
}

# What each output folder needs from each package: (package, patterns inside it, target).
# Only the "white" reveal theme is copied: it is the one whose fonts ship with reveal.js
# (other themes @import fonts from the web).
REVEAL_FILES = (
    "reveal.js",
    (
        "LICENSE",
        "dist/reveal.js",
        "dist/reveal.css",
        "dist/reset.css",
        "dist/theme/white.css",
        "dist/theme/fonts/source-sans-pro/*",
        "plugin/notes/notes.js",
    ),
    "vendor/reveal.js",
)
MATHJAX_FILES = (
    "mathjax",
    (
        "LICENSE",
        "MathJax.js",
        "config/TeX-AMS_CHTML-full.js",
        "config/Safe.js",
        "extensions/*",
        "jax/input/TeX/*",
        "jax/output/CommonHTML/*",
        "jax/output/PreviewHTML/*",
        "jax/element/*",
        "localization/en/*",
        "fonts/HTML-CSS/TeX/woff/*",
        "fonts/HTML-CSS/TeX/otf/*",
    ),
    "vendor/mathjax",
)
REQUIRE_FILES = ("requirejs", ("require.js", "LICENSE"), "vendor/requirejs")
JQUERY_FILES = ("jquery", ("dist/jquery.min.js", "LICENSE.txt"), "vendor/jquery")

MATHJAX_URL = "vendor/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
REQUIRE_URL = "vendor/requirejs/require.js"
JQUERY_URL = "vendor/jquery/dist/jquery.min.js"
REVEAL_PREFIX = "vendor/reveal.js"

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = (
    "Live widget: in JupyterLab this cell shows sliders that redraw the figure as you "
    "move them. The figure just before it shows where the sliders start."
)

# --- local copies of the web libraries ----------------------------------------------


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def npm_tarball(name: str, cache: Path) -> Path:
    """The package's tarball in ``cache``, fetched with ``npm pack`` if absent; verified."""
    version, integrity = NPM_PACKAGES[name]
    tarball = cache / f"{name}-{version}.tgz"
    if tarball.exists() and _integrity(tarball) != integrity:
        tarball.unlink()  # an interrupted download: fetch it again
    if not tarball.exists():
        if shutil.which("npm") is None:
            sys.exit(
                f"npm is needed once to fetch {name}@{version} (the offline copy the slides "
                f"and pages load); install Node.js/npm, or put {tarball.name} in {cache}"
            )
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "pack", f"{name}@{version}", "--pack-destination", str(cache), "--silent"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return _verified(tarball, name)


def _verified(tarball: Path, name: str) -> Path:
    """``tarball`` if its hash is the pinned one for package ``name``; else delete it, exit."""
    if _integrity(tarball) != NPM_PACKAGES[name][1]:
        tarball.unlink()
        sys.exit(f"{tarball.name}: integrity hash differs from the pinned one; refusing it")
    return tarball


def _unpacked(name: str, patterns: tuple[str, ...], cache: Path) -> Path:
    """The package's files matching ``patterns``, unpacked once under ``cache``."""
    version, _ = NPM_PACKAGES[name]
    target = cache / f"{name}-{version}"
    stamp = target / ".unpacked"
    if stamp.exists() and stamp.read_text() == "\n".join(patterns):
        return target
    tarball = npm_tarball(name, cache)
    shutil.rmtree(target, ignore_errors=True)
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            rel = member.name.removeprefix("package/")
            if member.isfile() and any(fnmatch.fnmatch(rel, p) for p in patterns):
                dest = target / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(tar.extractfile(member).read())
    stamp.write_text("\n".join(patterns))
    return target


def copy_vendor(out: Path, specs: tuple, cache: Path) -> None:
    """Copy the files the output needs from each package into ``out/vendor/...``."""
    for name, patterns, target in specs:
        source = _unpacked(name, patterns, cache)
        shutil.copytree(
            source, out / target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".unpacked")
        )


# --- notebooks -----------------------------------------------------------------------


def _is_marker(line: str) -> bool:
    stripped = line.strip()
    return stripped.startswith("# NBVAL_") or stripped in ("### BEGIN SOLUTION", "### END SOLUTION")


def _strip_source(source: str) -> str:
    """Drop nbval markers, nbgrader solution markers (the solution stays) and hidden tests
    from a code cell's source."""
    kept, hidden = [], False
    for line in source.splitlines():
        stripped = line.strip()
        if stripped == "### BEGIN HIDDEN TESTS":
            hidden = True
        elif stripped == "### END HIDDEN TESTS":
            hidden = False
        elif not hidden and not _is_marker(line):
            kept.append(line)
    return "\n".join(kept).strip("\n")


def _widget_note() -> nbformat.NotebookNode:
    return nbformat.v4.new_output(
        "display_data",
        data={
            "text/html": f'<div class="course-widget-note">{html.escape(WIDGET_NOTE)}</div>',
            "text/plain": WIDGET_NOTE,
        },
    )


def prepare(nb: nbformat.NotebookNode, title: str) -> nbformat.NotebookNode:
    """A copy of the notebook as it should read on a page or a slide (see module doc)."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    nb.metadata["title"] = title
    for cell in nb.cells:
        if cell.cell_type == "markdown":  # a written answer: its model answer, no markers
            lines = cell.source.splitlines()
            cell.source = "\n".join(line for line in lines if not _is_marker(line))
            continue
        if cell.cell_type != "code":
            continue
        cell.source = _strip_source(cell.source)
        tagged = "widget" in cell.metadata.get("tags", [])
        outputs = cell.get("outputs", [])
        has_view = any(WIDGET_MIME in o.get("data", {}) for o in outputs)
        if tagged or has_view:
            kept = [] if tagged else [o for o in outputs if WIDGET_MIME not in o.get("data", {})]
            cell.outputs = [*kept, _widget_note()]
    return nb


def lesson_notebooks(notebooks: Path, only: list[str]) -> list[tuple[Lesson, Path]]:
    found = []
    for lesson in LESSONS:
        if only and lesson.number not in only:
            continue
        # notebooks/NN_name.ipynb, or release/NN_name/NN_name.ipynb (the student release)
        candidates = [notebooks / f"{lesson.notebook}.ipynb"]
        candidates.append(notebooks / lesson.notebook / f"{lesson.notebook}.ipynb")
        path = next((p for p in candidates if p.exists()), None)
        if path is not None:
            found.append((lesson, path))
        else:
            print(f"warning: {lesson.notebook}.ipynb not found in {notebooks}, skipped")
    if not found:
        sys.exit(f"no lesson notebook found in {notebooks}")
    return found


# --- templates -----------------------------------------------------------------------

EXTRA_CSS = """
<style type="text/css">
.course-widget-note { border-left: 4px solid #1976d2; background: #e3f2fd; color: #0d3c61;
  padding: 0.4em 0.8em; margin: 0.3em 0; font-size: 0.9em; }
.course-nav { display: flex; justify-content: space-between; gap: 1em; flex-wrap: wrap;
  padding: 0.6em 0; margin: 0 0 1em 0; border-bottom: 1px solid #ddd;
  font-family: var(--jp-ui-font-family); font-size: 0.95em; }
.course-nav.bottom { border-bottom: none; border-top: 1px solid #ddd; margin: 2em 0 0 0; }
.course-nav a { text-decoration: none; color: #1565c0; }
.course-nav .spacer { visibility: hidden; }
</style>
"""

# Pages: lines of readable length on wide screens.
PAGE_CSS = """
<style type="text/css">
body.jp-Notebook > main { max-width: 1100px; margin: 0 auto; }
</style>
"""

PAGE_TEMPLATE = (
    """{%- extends 'index.html.j2' -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block extra_css -%}"""
    + EXTRA_CSS
    + PAGE_CSS
    + """{%- endblock extra_css -%}
{%- block body_header -%}
{{ super() }}
{{ resources.course_nav_top }}
{%- endblock body_header -%}
{% block body_footer %}
{{ resources.course_nav_bottom }}
{{ super() }}
{% endblock body_footer %}
"""
)

# The white theme sets headings in capitals: that turns "γ, β, ε" into "Γ, Β, Ε".
# Long code lines wrap instead of running off the slide. (These rules come before the
# theme's stylesheet in the page, so they are more specific than its ".reveal h1".)
SLIDES_CSS = """
<style type="text/css">
.reveal .slides h1, .reveal .slides h2, .reveal .slides h3,
.reveal .slides h4, .reveal .slides h5, .reveal .slides h6 { text-transform: none; }
.reveal .jp-InputArea pre { white-space: pre-wrap; overflow-wrap: anywhere; }
</style>
"""

SLIDES_TEMPLATE = (
    """{%- extends 'index.html.j2' -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block html_head_css -%}"""
    + EXTRA_CSS
    + SLIDES_CSS
    + """{%- endblock html_head_css -%}
"""
)


class _QuietAltText(logging.Filter):
    """Drop nbconvert's per-notebook warning that plots have no alt text (it gives them a
    generic one): it would repeat on every build of every lesson."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Alternative text is missing" not in record.getMessage()


def _exporter(cls, template: str, name: str):
    exporter = cls(
        config=_config(),
        extra_loaders=[DictLoader({name: template})],
        template_file=name,
    )
    exporter.log.addFilter(_QuietAltText())
    return exporter


def _config() -> Config:
    c = Config()
    c.HTMLExporter.mathjax_url = MATHJAX_URL
    c.HTMLExporter.require_js_url = REQUIRE_URL
    c.HTMLExporter.jquery_url = JQUERY_URL
    c.HTMLExporter.jupyter_widgets_base_url = "vendor/"  # never used: no widget state kept
    c.HTMLExporter.embed_images = True  # markdown images (assets/) inside the file
    c.SlidesExporter.reveal_url_prefix = REVEAL_PREFIX
    c.SlidesExporter.reveal_theme = "white"
    c.SlidesExporter.reveal_transition = "none"
    c.SlidesExporter.reveal_scroll = True  # long code cells scroll instead of overflowing
    c.SlidesExporter.reveal_number = "c/t"
    c.SlidesExporter.font_awesome_url = ""
    return c


def _resources(path: Path) -> dict:
    return {"metadata": {"name": path.stem, "path": str(path.parent)}}


def _nav(lesson: Lesson, where: str, ext: str) -> str:
    """Previous / index / next links for a lesson page."""
    i = LESSONS.index(lesson)

    def link(other: Lesson | None, arrow: str) -> str:
        if other is None:
            return '<span class="spacer">-</span>'
        label = f"{other.number} {html.escape(other.title)}"
        text = f"&larr; {label}" if arrow == "prev" else f"{label} &rarr;"
        return f'<a href="{other.notebook}{ext}" rel="{arrow}">{text}</a>'

    prev = LESSONS[i - 1] if i > 0 else None
    nxt = LESSONS[i + 1] if i + 1 < len(LESSONS) else None
    return (
        f'<nav class="course-nav {where}">{link(prev, "prev")}'
        f'<a href="index.html">All lessons</a>{link(nxt, "next")}</nav>'
    )


# --- outputs -------------------------------------------------------------------------


def _summary(nb: nbformat.NotebookNode) -> str:
    """The first paragraph after the notebook's title, as HTML (shown on the index)."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        paragraphs = [p.strip() for p in cell.source.split("\n\n")]
        # Not a heading, nor a one-line byline in italics ("*Lesson 3 of 5 ...*").
        body = [
            p
            for p in paragraphs
            if p and not p.startswith("#") and not re.fullmatch(r"([*_]).+\1", p, re.DOTALL)
        ]
        if body:
            return markdown2html(body[0])
    return ""


def _index_page(title: str, heading: str, items: list[str], note: str) -> str:
    rows = "\n".join(items)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{html.escape(title)}</title>
<script type="text/x-mathjax-config">
MathJax.Hub.Config({{
  tex2jax: {{inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]], processEscapes: true}},
  messageStyle: "none"
}});
</script>
<script src="{MATHJAX_URL}"></script>
<style type="text/css">
body {{ font-family: system-ui, sans-serif; max-width: 52em; margin: 2em auto; padding: 0 1em;
  line-height: 1.5; color: #222; }}
h1 {{ font-size: 1.7em; margin-bottom: 0.2em; }}
ol.lessons {{ padding-left: 0; list-style: none; }}
ol.lessons li {{ margin: 1.2em 0; padding: 0.6em 1em; border: 1px solid #ddd; border-radius: 6px; }}
ol.lessons a {{ font-size: 1.15em; font-weight: 600; color: #1565c0; text-decoration: none; }}
.note {{ color: #555; font-size: 0.95em; }}
</style>
</head>
<body>
<h1>{html.escape(heading)}</h1>
<p class="note">{note}</p>
<ol class="lessons">
{rows}
</ol>
</body>
</html>
"""


def build_html(notebooks: Path, out: Path, only: list[str], cache: Path) -> list[Path]:
    """Write ``out/index.html`` and one page per lesson notebook; return the lesson pages."""
    out.mkdir(parents=True, exist_ok=True)
    copy_vendor(out, (MATHJAX_FILES, REQUIRE_FILES), cache)
    exporter = _exporter(HTMLExporter, PAGE_TEMPLATE, "course_page.html.j2")
    pages, items = [], []
    for lesson, path in lesson_notebooks(notebooks, only):
        nb = nbformat.read(path, as_version=4)
        resources = _resources(path)
        resources["course_nav_top"] = _nav(lesson, "top", ".html")
        resources["course_nav_bottom"] = _nav(lesson, "bottom", ".html")
        title = f"{lesson.number} · {lesson.title}"
        body, _ = exporter.from_notebook_node(prepare(nb, title), resources=resources)
        page = out / f"{lesson.notebook}.html"
        page.write_text(body, encoding="utf-8")
        pages.append(page)
        items.append(
            f'<li><a href="{page.name}">{lesson.number} · {html.escape(lesson.title)}</a>'
            f"{_summary(nb)}</li>"
        )
        print(f"{_shown(page)}")
    note = (
        "The lessons as pages, with their figures and stored outputs. To run the code and "
        "move the sliders, open the notebooks in JupyterLab (<code>make lab</code>)."
    )
    (out / "index.html").write_text(
        _index_page(COURSE_TITLE, COURSE_TITLE, items, note), encoding="utf-8"
    )
    print(f"{_shown(out / 'index.html')}")
    return pages


def build_slides(notebooks: Path, out: Path, only: list[str], cache: Path) -> list[Path]:
    """Write one reveal.js deck per lesson notebook into ``out``; return the decks."""
    out.mkdir(parents=True, exist_ok=True)
    copy_vendor(out, (REVEAL_FILES, MATHJAX_FILES, REQUIRE_FILES, JQUERY_FILES), cache)
    exporter = _exporter(SlidesExporter, SLIDES_TEMPLATE, "course_slides.html.j2")
    decks, items = [], []
    for lesson, path in lesson_notebooks(notebooks, only):
        nb = nbformat.read(path, as_version=4)
        title = f"{lesson.number} · {lesson.title}"
        body, _ = exporter.from_notebook_node(prepare(nb, title), resources=_resources(path))
        deck = out / f"{lesson.notebook}.slides.html"
        deck.write_text(body, encoding="utf-8")
        decks.append(deck)
        items.append(f'<li><a href="{deck.name}">{html.escape(title)}</a></li>')
        print(f"{_shown(deck)}")
    note = (
        "One reveal.js deck per lesson, working offline. Keys: arrows or space to move, "
        "<kbd>S</kbd> speaker notes (serve the folder over http for those), "
        "<kbd>F</kbd> full screen, <kbd>Esc</kbd> overview."
    )
    (out / "index.html").write_text(
        _index_page(f"{COURSE_TITLE}: slides", f"{COURSE_TITLE}: slides", items, note),
        encoding="utf-8",
    )
    return decks


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["slides", "html", "all"])
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    parser.add_argument("--notebooks", type=Path, default=ROOT / "notebooks")
    parser.add_argument("--only", nargs="*", default=[], help="lesson numbers, e.g. 01 03")
    args = parser.parse_args(argv)
    cache = ROOT / "build" / "vendor"
    if args.what in ("slides", "all"):
        build_slides(args.notebooks, args.out / "slides", args.only, cache)
        print(f"Slides: open {_shown(args.out / 'slides' / 'index.html')} in a browser.")
    if args.what in ("html", "all"):
        build_html(args.notebooks, args.out / "html", args.only, cache)
        print(f"Site: open {_shown(args.out / 'html' / 'index.html')} in a browser.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
