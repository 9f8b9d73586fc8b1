"""Build the lecture slides, their PDFs and the course site from the lesson notebooks, offline.

    python scripts/build_site.py slides   # build/slides/: one reveal.js deck per lesson, 16:9
    python scripts/build_site.py html     # build/html/: the course site (Sphinx + MyST-NB)
    python scripts/build_site.py pdf      # build/slides-pdf/: one PDF per deck (Chromium)
    python scripts/build_site.py all      # the three
    options: --out DIR (default build/), --notebooks DIR (default notebooks/), --only 01 03,
             --student (the exercise versions: --notebooks release --out build/student),
             --repository-url URL, --jupyterhub-url URL (the site's launch buttons)

Everything opens with no network. The decks are nbconvert's reveal.js exporter with
the course's template; reveal.js and MathJax are copied into ``vendor/`` from npm
packages at pinned versions, fetched once with the machine's ``npm pack`` into
``build/vendor/`` and checked against their registry integrity hashes. The site is
Sphinx with MyST-NB and the book theme (search, the lesson list and a page outline,
the notebook to download, launch buttons, light and dark mode), MathJax from the same
local copy. PDFs are printed by headless Chromium (reveal.js print mode).

The notebooks are used as stored (outputs included; nothing is re-executed). What
changes on the way to a slide or a page (``prepare``):
- a live widget cannot run without a kernel: the output of the cell tagged ``widget``
  becomes the widget's static copy (frames drawn by ``course_lib.static_widgets``,
  cached by ``static_frames.py``), with a note that the live version runs in JupyterLab;
- test plumbing is removed: ``# NBVAL_...`` and ``### BEGIN/END SOLUTION`` marker lines
  (the solution itself stays: lecturers present it) and nbgrader hidden tests. For
  pages and decks without solutions, build from the student release (``--student``);
- slides leave out what is not for the projector, decided by metadata, not by text:
  cells tagged ``imports``, ``graded-checks`` or ``going-deeper`` and nbgrader's
  graded test cells are ``skip``; the site marks ``going-deeper`` sections as optional;
  a code cell tagged ``slide-output-only`` shows only its output on a slide;
- markdown images are embedded, so a page or a deck is one file plus ``vendor/``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import copy
import fnmatch
import hashlib
import html
import io
import logging
import mimetypes
import re
import shutil
import subprocess
import sys
import tarfile
import time
import warnings as warnings_module
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbconvert import SlidesExporter
from traitlets.config import Config

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
SITE = HERE / "site"  # Sphinx configuration, the course's CSS and JavaScript
sys.path.insert(0, str(ROOT))  # course_lib without an install (a fresh clone)
sys.path.insert(0, str(SITE))  # course_sphinx: what the site's Sphinx extension shares

import static_frames  # noqa: E402
from course_lib.lessons import LESSONS, Lesson  # noqa: E402

COURSE_TITLE = "Input normalization and Batch Normalization"

# npm packages: version and the registry's integrity hash of the tarball.
NPM_PACKAGES = {
    "reveal.js": (
        "4.6.1",
        "sha512-1CW0auaXNPmwmvQ7TwpszwVxMi2Xr5cTS3J3EBC/HHgbPF32Dn7aiu/LKWDOGjMbaDwKQiGmfqcoGQ74HUHCMw==",
    ),
    "mathjax": (
        "3.2.2",
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
    ),
}

# What each output needs from each package: (package, patterns inside it, target,
# prefix stripped from the package's paths). Only reveal's "white" theme is copied: its
# fonts ship with reveal.js (other themes @import fonts from the web).
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
    "",
)
# MathJax 3's browser build: the TeX-to-HTML component, the extensions it loads on
# demand, its fonts and the accessibility menu's parts.
MATHJAX_FILES = (
    "mathjax",
    (
        "LICENSE",
        "es5/tex-chtml.js",
        "es5/input/tex/extensions/*",
        "es5/output/chtml/fonts/woff-v2/*",
        "es5/ui/*",
        "es5/a11y/*",
        "es5/sre/*",
    ),
    "vendor/mathjax",
    "es5/",
)

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
NO_FRAMES_NOTE = (
    "Live widget: in JupyterLab this cell shows sliders that redraw the figure as you "
    "move them. The figure just before it shows where the sliders start."
)
# Cells that are not slides, whatever their slide type says (see the module doc).
SKIP_TAGS = ("imports", "graded-checks", "going-deeper")
# A code cell too long for a slide: the deck shows its output only (the page shows both).
OUTPUT_ONLY_TAG = "slide-output-only"
DEFAULT_ALT = "No description has been provided for this image"  # nbconvert's

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


def _unpacked(name: str, patterns: tuple[str, ...], strip: str, cache: Path) -> Path:
    """The package's files matching ``patterns``, unpacked once under ``cache``."""
    version, _ = NPM_PACKAGES[name]
    target = cache / f"{name}-{version}"
    stamp = target / ".unpacked"
    signature = "\n".join((strip, *patterns))
    if stamp.exists() and stamp.read_text() == signature:
        return target
    tarball = npm_tarball(name, cache)
    shutil.rmtree(target, ignore_errors=True)
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            rel = member.name.removeprefix("package/")
            if member.isfile() and any(fnmatch.fnmatch(rel, p) for p in patterns):
                dest = target / rel.removeprefix(strip)
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(tar.extractfile(member).read())
    stamp.write_text(signature)
    return target


def copy_vendor(out: Path, specs: tuple, cache: Path) -> None:
    """Copy the files an output needs from each package into ``out/<target>``."""
    for name, patterns, target, strip in specs:
        source = _unpacked(name, patterns, strip, cache)
        stamp = out / target / ".copied"
        if stamp.exists() and stamp.read_text() == (source / ".unpacked").read_text():
            continue
        shutil.copytree(
            source, out / target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".unpacked")
        )
        stamp.write_text((source / ".unpacked").read_text())


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


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def is_graded_test(cell) -> bool:
    """nbgrader's autograder cells: graded, not a solution (the "Graded checks")."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution")


def not_a_slide(cell) -> bool:
    """A cell the decks leave out whatever its slide type (see the module doc)."""
    return any(t in _tags(cell) for t in SKIP_TAGS) or is_graded_test(cell)


_MD_IMAGE = re.compile(r"(!\[[^\]]*\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))")
_HTML_IMAGE = re.compile(r"""(<img\b[^>]*\bsrc=)(["'])([^"']+)\2""", re.IGNORECASE)


def _data_uri(src: str, base: Path) -> str | None:
    if re.match(r"^[a-z][a-z0-9+.-]*:", src, re.IGNORECASE) or src.startswith("/"):
        return None  # a URL, a data: URI or an absolute path: left as it is
    path = (base / src).resolve()
    kind = mimetypes.guess_type(path.name)[0]
    if not path.is_file() or not kind or not kind.startswith("image/"):
        return None
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


def embed_images(source: str, base: Path) -> str:
    """Markdown and HTML images with a relative path, embedded as data URIs."""

    def md(m: re.Match) -> str:
        uri = _data_uri(m.group(2), base)
        return m.group(0) if uri is None else f"{m.group(1)}{uri}{m.group(3)}"

    def tag(m: re.Match) -> str:
        uri = _data_uri(m.group(3), base)
        return m.group(0) if uri is None else f"{m.group(1)}{m.group(2)}{uri}{m.group(2)}"

    return _HTML_IMAGE.sub(tag, _MD_IMAGE.sub(md, source))


def _describe_figures(cell) -> None:
    """A figure's alt text: the output's own (``course_lib.figures.show``), else the cell's
    metadata ``alt`` (one sentence; a list of them for a cell that draws several figures),
    so that a stored figure gets its description without re-running the lesson."""
    alts = cell.metadata.get("alt")
    if not alts:
        return
    alts = [alts] if isinstance(alts, str) else list(alts)
    figures = [
        (o, mime)
        for o in cell.get("outputs", [])
        for mime in ("image/png", "image/jpeg")
        if mime in o.get("data", {})
    ]
    for (output, mime), alt in zip(figures, alts, strict=False):
        meta = output.setdefault("metadata", {}).setdefault(mime, {})
        meta.setdefault("alt", " ".join(str(alt).split()))


def _widget_output(frame_set, base: str, uid: str) -> nbformat.NotebookNode:
    if frame_set is None:
        body = f'<div class="course-widget-note">{html.escape(NO_FRAMES_NOTE)}</div>'
        text = NO_FRAMES_NOTE
    else:
        body = static_frames.widget_html(frame_set, base, uid)
        text = static_frames.LIVE_NOTE
    return nbformat.v4.new_output("display_data", data={"text/html": body, "text/plain": text})


_HEADING = re.compile(r"^(#{1,6})\s")


def _mark_going_deeper(cells) -> None:
    """Site: a flag under the heading of each going-deeper section (``course_sphinx.py``
    marks the section as optional); a going-deeper markdown cell outside such a section
    is wrapped in a ``<div class="going-deeper">``."""
    from course_sphinx import GOING_DEEPER_FLAG

    in_section = False
    for cell in cells:
        if cell.cell_type != "markdown":
            continue
        first, _, rest = cell.source.partition("\n")
        deeper = "going-deeper" in _tags(cell)
        if _HEADING.match(first):
            in_section = deeper
            if deeper:
                cell.source = f"{first}\n\n{GOING_DEEPER_FLAG}\n\n{rest.strip()}\n"
        elif deeper and not in_section:
            cell.source = f'<div class="going-deeper">\n\n{cell.source}\n\n</div>\n'


def prepare(
    nb: nbformat.NotebookNode,
    title: str,
    *,
    kind: str,
    base: Path,
    frame_set=None,
    frames_url: str = "",
    uid: str = "w",
) -> nbformat.NotebookNode:
    """A copy of the notebook as it should read on a slide (``kind="slides"``) or a page
    (``kind="html"``); see the module doc. ``base``: the notebook's folder (for images)."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    nb.metadata["title"] = title
    widgets = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":  # a written answer: its model answer, no markers
            lines = cell.source.splitlines()
            cell.source = "\n".join(line for line in lines if not _is_marker(line))
            cell.source = embed_images(cell.source, base)
        elif cell.cell_type == "code":
            cell.source = _strip_source(cell.source)
            _describe_figures(cell)
            tagged = "widget" in _tags(cell)
            outputs = cell.get("outputs", [])
            has_view = any(WIDGET_MIME in o.get("data", {}) for o in outputs)
            if tagged:
                cell.outputs = [_widget_output(frame_set, frames_url, f"{uid}-{widgets}")]
                widgets += 1
            elif has_view:
                kept = [o for o in outputs if WIDGET_MIME not in o.get("data", {})]
                cell.outputs = [*kept, _widget_output(None, "", "")]
        if kind == "slides" and not_a_slide(cell):
            cell.metadata.setdefault("slideshow", {})["slide_type"] = "skip"
        if kind == "slides" and OUTPUT_ONLY_TAG in _tags(cell):  # a long cell: its result
            cell.metadata["transient"] = {"remove_source": True}
    if widgets > 1 and frame_set is not None:
        raise ValueError(
            f"{title}: {widgets} cells tagged 'widget'; a lesson registers one live widget"
        )
    if kind == "html":
        _mark_going_deeper(nb.cells)
    return nb


def lesson_notebooks(notebooks: Path, only: list[str], lessons=LESSONS) -> list:
    """(lesson, path) of each lesson's notebook in ``notebooks`` (or ``release/``'s layout)."""
    found = []
    for lesson in lessons:
        if only and lesson.number not in only:
            continue
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


def _title(lesson: Lesson) -> str:
    return f"{lesson.number} · {lesson.title}"


# --- slides --------------------------------------------------------------------------

SLIDE_WIDTH, SLIDE_HEIGHT = 1280, 720

# The white theme sets headings in capitals: that turns "γ, β, ε" into "Γ, Β, Ε".
# Code wraps only between words, never inside one; no prompts (the exporter drops them).
SLIDES_CSS = """
.reveal .slides { text-align: left; }
.reveal .slides h1, .reveal .slides h2, .reveal .slides h3,
.reveal .slides h4, .reveal .slides h5, .reveal .slides h6 { text-transform: none; }
.reveal .jp-InputArea pre {
  white-space: pre-wrap; overflow-wrap: normal; word-break: normal; }
/* printed output keeps its lines (tables stay aligned, "1e-12" stays whole); the rare
   line wider than the slide scrolls inside its box */
.reveal .jp-OutputArea pre { white-space: pre; overflow-x: auto; }
.reveal .jp-Cell { padding: 0; }
.reveal aside.notes { display: none; }
.reveal .course-static-widget img { max-height: 440px; width: auto; }
/* a figure keeps its proportions and fits the slide with a line of code above it */
.reveal .jp-OutputArea-output img { max-height: 560px; max-width: 100%; width: auto;
  height: auto; }
/* print mode (PDF): no empty page after the last slide */
html.print-pdf .reveal .slides .pdf-page:last-child {
  break-after: auto !important; page-break-after: auto !important; }
"""

# MathJax 3: formulas on the slides are typeset; formulas in speaker notes are left as
# TeX by the typesetter and turned into MathML, which the speaker view (a plain window
# without MathJax) shows natively, once.
SLIDES_MATHJAX = r"""
<script>
window.MathJax = {
  tex: {
    inlineMath: [["$", "$"], ["\\(", "\\)"]],
    displayMath: [["$$", "$$"], ["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
    tags: "ams"
  },
  options: { ignoreHtmlClass: "tex2jax_ignore|notes" },
  startup: {
    pageReady: function () {
      return MathJax.startup.defaultPageReady().then(function () {
        courseNotesToMathML();
        document.documentElement.setAttribute("data-course-math", "ready");
      });
    }
  }
};
function courseNotesToMathML() {
  var pattern = /\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\]|\\\(([\s\S]+?)\\\)|\$((?:\\\$|[^$])+?)\$/g;
  document.querySelectorAll("aside.notes").forEach(function (aside) {
    var walker = document.createTreeWalker(aside, NodeFilter.SHOW_TEXT);
    var texts = [];
    while (walker.nextNode()) texts.push(walker.currentNode);
    texts.forEach(function (node) {
      var text = node.nodeValue, last = 0, found = false, frag = document.createDocumentFragment();
      text.replace(pattern, function (all, d1, d2, i1, i2, at) {
        found = true;
        frag.appendChild(document.createTextNode(text.slice(last, at)));
        var display = d1 !== undefined || d2 !== undefined;
        var tex = d1 || d2 || i1 || i2;
        var holder = document.createElement("span");
        holder.className = "course-notes-math";
        try { holder.innerHTML = MathJax.tex2mml(tex, { display: display }); }
        catch (e) { holder.textContent = all; }
        frag.appendChild(holder);
        last = at + all.length;
        return all;
      });
      if (!found) return;
      frag.appendChild(document.createTextNode(text.slice(last)));
      node.parentNode.replaceChild(frag, node);
    });
  });
}
</script>
<script defer src="vendor/mathjax/tex-chtml.js"></script>
"""

SLIDES_FOOTER = """
<script src="{prefix}/dist/reveal.js"></script>
<script src="{prefix}/plugin/notes/notes.js"></script>
<script>
{widget_js}
</script>
<script>
Reveal.initialize({{
  width: {width}, height: {height}, margin: 0.04, minScale: 0.2, maxScale: 2.0,
  center: false, controls: true, progress: true, history: true, hash: true,
  transition: "none", slideNumber: "c/t",
  pdfSeparateFragments: false, pdfMaxPagesPerSlide: 1,
  plugins: [RevealNotes]
}});
</script>
"""

SLIDES_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- from 'course_image.j2' import course_image -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}
{{ resources.course_mathjax }}
{%- endblock html_head_js_mathjax -%}
{%- block html_head_css -%}
<style type="text/css">{{ resources.course_css }}</style>
{%- endblock html_head_css -%}
{% block footer_js %}{{ resources.course_footer }}{% endblock footer_js %}
{% block data_png scoped %}{{ course_image(output, 'image/png') }}{% endblock data_png %}
{% block data_jpg scoped %}{{ course_image(output, 'image/jpeg') }}{% endblock data_jpg %}
"""

# Figures with their alt text and the size of their smallest text, both from the output's
# metadata (course_lib.figures.show writes them; this nbconvert does not read alt).
IMAGE_MACRO = """{%- macro course_image(output, mime) -%}
<div class="jp-RenderedImage jp-OutputArea-output">
<img src="data:{{ mime }};base64,{{ output.data[mime] | escape_html }}"
{%- set alt = output | get_metadata('alt', mime) -%}
{%- if alt %} alt="{{ alt | escape_html }}"{% endif -%}
{%- set font = output | get_metadata('course_min_font_px', mime) -%}
{%- if font is not none %} data-min-font-px="{{ font }}"{% endif -%}
{%- set width = output | get_metadata('width', mime) -%}
{%- if width is not none %} width="{{ width | escape_html }}"{% endif -%}
{%- set height = output | get_metadata('height', mime) -%}
{%- if height is not none %} height="{{ height | escape_html }}"{% endif -%}
>
</div>
{%- endmacro -%}
"""


class _QuietAltText(logging.Filter):
    """nbconvert's per-notebook warning that figures have no alt text: the site tests
    check every figure's alt text instead (one report, not one line per build)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Alternative text is missing" not in record.getMessage()


def _slides_exporter() -> SlidesExporter:
    c = Config()
    c.SlidesExporter.reveal_url_prefix = "vendor/reveal.js"
    c.SlidesExporter.reveal_theme = "white"
    c.SlidesExporter.reveal_transition = "none"
    c.SlidesExporter.reveal_scroll = False
    c.SlidesExporter.font_awesome_url = ""
    c.TemplateExporter.exclude_input_prompt = True
    c.TemplateExporter.exclude_output_prompt = True
    # nbconvert's image embedding re-parses each piece of raw HTML on its own, which
    # closes an open <sup> or <details> at once (emptied superscripts, answers outside
    # their <details>); markdown images are embedded by prepare() instead.
    c.HTMLExporter.embed_images = False
    exporter = SlidesExporter(
        config=c,
        extra_loaders=[
            DictLoader({"course_slides.html.j2": SLIDES_TEMPLATE, "course_image.j2": IMAGE_MACRO})
        ],
        template_file="course_slides.html.j2",
    )
    exporter.log.addFilter(_QuietAltText())
    return exporter


def _course_css() -> str:
    return (SITE / "course.css").read_text(encoding="utf-8")


def _index_page(title: str, items: list[str], note: str) -> str:
    rows = "\n".join(items)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{html.escape(title)}</title>
<style type="text/css">
body {{ font-family: system-ui, sans-serif; max-width: 52em; margin: 2em auto; padding: 0 1em;
  line-height: 1.5; color: #222; }}
h1 {{ font-size: 1.7em; margin-bottom: 0.2em; }}
ol.lessons {{ padding-left: 0; list-style: none; }}
ol.lessons li {{ margin: 0.8em 0; padding: 0.6em 1em; border: 1px solid #ddd; border-radius: 6px; }}
ol.lessons a {{ font-size: 1.15em; font-weight: 600; color: #1565c0; text-decoration: none; }}
.note {{ color: #444; font-size: 0.95em; }}
</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<p class="note">{note}</p>
<ol class="lessons">
{rows}
</ol>
</body>
</html>
"""


def build_slides(
    notebooks: Path, out: Path, only: list[str], cache: Path, lessons=LESSONS, frames=None
) -> list[Path]:
    """Write one reveal.js deck per lesson notebook into ``out``; return the decks."""
    out.mkdir(parents=True, exist_ok=True)
    copy_vendor(out, (REVEAL_FILES, MATHJAX_FILES), cache)
    found = lesson_notebooks(notebooks, only, lessons)
    if frames is None:
        frames = static_frames.frame_sets([lesson for lesson, _ in found])
    exporter = _slides_exporter()
    resources_common = {
        "course_css": _course_css() + SLIDES_CSS,
        "course_mathjax": SLIDES_MATHJAX,
        "course_footer": SLIDES_FOOTER.format(
            prefix="vendor/reveal.js",
            widget_js=static_frames.script(),
            width=SLIDE_WIDTH,
            height=SLIDE_HEIGHT,
        ),
    }
    decks, items = [], []
    for lesson, path in found:
        nb = nbformat.read(path, as_version=4)
        frame_set = frames.get(lesson.number)
        url = f"widgets/{lesson.number}/"
        if frame_set is not None:
            static_frames.copy_frames(frame_set, out / url)
        prepared = prepare(
            nb,
            _title(lesson),
            kind="slides",
            base=path.parent,
            frame_set=frame_set,
            frames_url=url,
            uid=f"widget-{lesson.number}",
        )
        resources = {"metadata": {"name": path.stem, "path": str(path.parent)}}
        resources.update(resources_common)
        body, _ = exporter.from_notebook_node(prepared, resources=resources)
        deck = out / f"{lesson.notebook}.slides.html"
        deck.write_text(body, encoding="utf-8")
        decks.append(deck)
        items.append(f'<li><a href="{deck.name}">{html.escape(_title(lesson))}</a></li>')
        print(_shown(deck))
    note = (
        "One reveal.js deck per lesson, working offline (16:9). Keys: → or Space next, "
        "↓ into a section, <kbd>S</kbd> speaker notes, <kbd>Esc</kbd> overview, "
        "<kbd>F</kbd> full screen. The sliders of a static widget move with the mouse."
    )
    index = _index_page(f"{COURSE_TITLE}: slides", items, note)
    (out / "index.html").write_text(index, encoding="utf-8")
    return decks


# --- PDF handouts ----------------------------------------------------------------------


def build_pdfs(decks: list[Path], out: Path, context=None) -> list[Path]:
    """One PDF per deck, printed by headless Chromium in reveal.js print mode (one page per
    slide, fragments shown), with every request to the network refused: the decks are
    offline. ``context``: a Playwright browser context to print in (default: a new one)."""
    out.mkdir(parents=True, exist_ok=True)
    if context is not None:
        return _print_decks(context, decks, out)
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("PDFs need Chromium (Debian: apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
            headless=True,
        )
        context = browser.new_context()
        outside: list[str] = []

        def refuse(route) -> None:
            outside.append(route.request.url)
            route.abort()

        context.route(re.compile(r"^(https?|wss?|ftp):"), refuse)
        pdfs = _print_decks(context, decks, out)
        browser.close()
    if outside:
        sys.exit(f"the decks asked for remote resources: {outside[:5]}")
    return pdfs


def _print_decks(context, decks: list[Path], out: Path) -> list[Path]:
    pdfs = []
    for deck in decks:
        page = context.new_page()
        page.set_viewport_size({"width": SLIDE_WIDTH, "height": SLIDE_HEIGHT})
        page.goto(deck.as_uri() + "?print-pdf", timeout=120_000)
        page.wait_for_selector(".reveal.ready", timeout=60_000)
        page.wait_for_function(
            "document.documentElement.getAttribute('data-course-math') === 'ready'",
            timeout=60_000,
        )
        page.wait_for_function("[...document.images].every(i => i.complete)", timeout=60_000)
        pdf = out / f"{deck.name.removesuffix('.slides.html')}.pdf"
        page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
        page.close()
        pdfs.append(pdf)
        print(_shown(pdf))
    return pdfs


# --- the site (Sphinx) -----------------------------------------------------------------


def _summary(nb: nbformat.NotebookNode) -> str:
    """The first paragraph after the notebook's title (markdown), for the home page."""
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
            return " ".join(body[0].split())
    return ""


def _write_if_changed(path: Path, data: str | bytes) -> None:
    """Write only what changed, so that Sphinx rereads only the changed pages."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if path.exists() and path.read_bytes() == raw:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(raw)


def _home_page(title: str, entries: list[tuple[Lesson, Path, str]], student: bool) -> str:
    lines = [f"# {title}", ""]
    lines.append(
        "An open course on normalization in neural networks: normalizing a data set's "
        "inputs, Batch Normalization inside a network and at test time. Each lesson is a "
        "Jupyter notebook; these pages show it with its stored outputs. Code runs, and "
        "the widgets recompute, in JupyterLab (`make lab`, or the launch button on a "
        "lesson's page); here each widget is a static copy with pictures drawn in advance."
    )
    lines.append("")
    if student:
        lines += ["These are the **exercise versions**: solutions are left for you.", ""]
    lines += ["## Lessons", ""]
    for lesson, _, summary in entries:
        lines.append(f"- **[{_title(lesson)}]({lesson.notebook}.ipynb)**: {summary}")
    lines += ["", "```{toctree}", ":caption: Lessons", ":hidden:", ""]
    lines += [lesson.notebook for lesson, _, _ in entries]
    lines += ["```", ""]
    return "\n".join(lines)


def _git_repository_url() -> str | None:
    """The repository's https URL from ``git remote get-url origin``, if there is one."""
    try:
        url = subprocess.run(
            ["git", "-C", str(ROOT), "remote", "get-url", "origin"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    match = re.match(r"^git@([^:]+):(.+?)(\.git)?$", url)
    if match:
        url = f"https://{match.group(1)}/{match.group(2)}"
    return url.removesuffix(".git") if url.startswith("https://") else None


def _theme_options(repository_url: str | None, jupyterhub_url: str | None) -> dict:
    options = {
        "home_page_in_toc": True,
        "show_toc_level": 2,
        "use_download_button": True,
        "use_fullscreen_button": True,
    }
    if repository_url:
        options.update(
            repository_url=repository_url,
            repository_branch="main",
            path_to_docs="notebooks",
            use_repository_button=True,
            launch_buttons={
                "binderhub_url": "https://mybinder.org",
                "jupyterhub_url": jupyterhub_url or "",
                "notebook_interface": "jupyterlab",
            },
        )
    return options


@contextlib.contextmanager
def _quiet_deprecations():
    """Sphinx extensions' notices about Sphinx's future API: not the course's to fix."""
    with warnings_module.catch_warnings():
        warnings_module.simplefilter("ignore", DeprecationWarning)
        warnings_module.simplefilter("ignore", PendingDeprecationWarning)
        yield


def build_html(
    notebooks: Path,
    out: Path,
    only: list[str],
    cache: Path,
    lessons=LESSONS,
    frames=None,
    *,
    student: bool = False,
    repository_url: str | None = None,
    jupyterhub_url: str | None = None,
) -> list[Path]:
    """Build the Sphinx site into ``out`` from the lesson notebooks; return the lesson pages.

    Sources and doctrees live beside ``out`` (``.<name>-sphinx/``) and are kept, so a
    second build rereads only the notebooks that changed."""
    from sphinx.application import Sphinx
    from sphinx.util.docutils import docutils_namespace, patch_docutils

    found = lesson_notebooks(notebooks, only, lessons)
    if frames is None:
        frames = static_frames.frame_sets([lesson for lesson, _ in found])
    work = out.parent / f".{out.name}-sphinx"
    src, static = work / "src", work / "src" / "_course_static"
    copy_vendor(static, (MATHJAX_FILES,), cache)  # -> _static/vendor/mathjax
    for name in ("course.css", "static-widget.js"):
        _write_if_changed(static / "course" / name, (SITE / name).read_bytes())
    entries, originals, docs = [], {}, {"index"}
    for lesson, path in found:
        nb = nbformat.read(path, as_version=4)
        frame_set = frames.get(lesson.number)
        url = f"_static/widgets/{lesson.number}/"
        if frame_set is not None:
            static_frames.copy_frames(frame_set, static / "widgets" / lesson.number)
        prepared = prepare(
            nb,
            _title(lesson),
            kind="html",
            base=path.parent,
            frame_set=frame_set,
            frames_url=url,
            uid=f"widget-{lesson.number}",
        )
        _write_if_changed(src / f"{lesson.notebook}.ipynb", nbformat.writes(prepared))
        entries.append((lesson, path, _summary(nb)))
        originals[lesson.notebook] = str(path.resolve())
        docs.add(lesson.notebook)
    for stale in src.glob("*.ipynb"):  # lessons left out of this build
        if stale.stem not in docs:
            stale.unlink()
    title = COURSE_TITLE + (" (exercise versions)" if student else "")
    _write_if_changed(src / "index.md", _home_page(title, entries, student))
    if repository_url is None:
        repository_url = _git_repository_url()
    overrides = {
        "project": title,
        "html_title": title,
        "html_static_path": [str(static)],
        "mathjax_path": "vendor/mathjax/tex-chtml.js",
        "html_theme_options": _theme_options(repository_url, jupyterhub_url),
        "course_original_notebooks": originals,
    }
    status, warnings = io.StringIO(), io.StringIO()
    with patch_docutils(str(SITE)), docutils_namespace(), _quiet_deprecations():
        app = Sphinx(
            str(src),
            str(SITE),
            str(out),
            str(work / "doctrees"),
            "html",
            confoverrides=overrides,
            status=status,
            warning=warnings,
            keep_going=True,
        )
        app.build()
    for line in warnings.getvalue().splitlines():
        print(f"sphinx: {line}")
    if app.statuscode:
        sys.exit(f"Sphinx failed ({app.statuscode}); its log:\n{status.getvalue()[-3000:]}")
    pages = [out / f"{lesson.notebook}.html" for lesson, _ in found]
    for page in pages:
        print(_shown(page))
    if not repository_url:
        print("note: no repository URL (git remote or --repository-url): no launch buttons")
    return pages


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["slides", "html", "pdf", "all"])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--notebooks", type=Path, default=None)
    parser.add_argument("--only", nargs="*", default=[], help="lesson numbers, e.g. 01 03")
    parser.add_argument(
        "--student", action="store_true", help="the exercise versions (release/, make student)"
    )
    parser.add_argument("--repository-url", default=None, help="for the launch buttons")
    parser.add_argument("--jupyterhub-url", default=None, help="a JupyterHub launch button")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or (ROOT / "release" if args.student else ROOT / "notebooks")
    out = args.out or (ROOT / "build" / "student" if args.student else ROOT / "build")
    cache = ROOT / "build" / "vendor"
    start = time.perf_counter()
    found = lesson_notebooks(notebooks, args.only)
    frames = static_frames.frame_sets([lesson for lesson, _ in found])
    if args.what in ("slides", "pdf", "all"):
        decks = build_slides(notebooks, out / "slides", args.only, cache, frames=frames)
        print(f"Slides: open {_shown(out / 'slides' / 'index.html')} in a browser.")
        if args.what in ("pdf", "all"):
            build_pdfs(decks, out / "slides-pdf")
            print(f"PDFs: {_shown(out / 'slides-pdf')}")
    if args.what in ("html", "all"):
        build_html(
            notebooks,
            out / "html",
            args.only,
            cache,
            frames=frames,
            student=args.student,
            repository_url=args.repository_url,
            jupyterhub_url=args.jupyterhub_url,
        )
        print(f"Site: open {_shown(out / 'html' / 'index.html')} in a browser.")
    size = sum(f.size() for f in frames.values())
    print(f"static widgets: {size / 1e6:.2f} MB of frames for {len(frames)} widgets")
    print(f"built in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
