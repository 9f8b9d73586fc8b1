"""The Chinese edition: gettext catalogs from the English lessons, Chinese notebooks from
the catalogs (``make zh``).

    python scripts/i18n.py update          # refresh every catalog from the English sources
    python scripts/i18n.py update course_lib   # only course_lib's messages (or lessons: 03)
    python scripts/i18n.py check           # list missing and stale translations (exit 1 if any)
    python scripts/i18n.py build [03 ...]  # write notebooks/zh_CN/NN_name.ipynb and execute them
                                           # (default: every fully translated lesson)

One source of truth, the English lessons. Their prose goes into gettext catalogs in
``locales/zh_CN/LC_MESSAGES/``, which translators can edit with the tools they know
(Poedit, Weblate, Crowdin):

- ``NN_name.po``, one per lesson: each paragraph of each markdown cell is one message
  (paragraphs are separated by blank lines; a display formula, a fenced code block or an
  HTML block with blank lines inside stays whole). Paragraphs without words (a formula
  alone, a tag) are copied as they are.
- ``course_lib.po``: what ``course_lib`` says (checker hints, figure text, widget labels,
  printed messages): the strings wrapped in ``_()`` or ``_f()`` or ``fig_()`` in its code.

``update`` merges the sources into the catalogs as msgmerge does: a new paragraph is
added untranslated; a changed one keeps the old translation marked *fuzzy* (it needs a
look); a removed one becomes obsolete. ``build`` writes each Chinese notebook from its
English one: markdown translated paragraph by paragraph, code cells identical, one
first code cell that sets the language; then executes it in a fresh kernel so that
printed messages, checker feedback and figures are in Chinese. A missing or fuzzy
translation stops the build and names the lesson and the cell (``tests/test_i18n.py``
fails the same way).
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

import release  # this script's folder is on sys.path
import run_notebooks

ROOT = Path(__file__).resolve().parent.parent
LANGUAGE = "zh_CN"
LOCALES = ROOT / "locales"
CATALOGS = LOCALES / LANGUAGE / "LC_MESSAGES"
NOTEBOOKS = ROOT / "notebooks"
OUT = NOTEBOOKS / LANGUAGE
PROJECT = "Input normalization and Batch Normalization, an open course"
LANGUAGE_CELL = (
    'import course_lib\n\ncourse_lib.set_language("zh_CN")  # 提示、图表和输出信息使用中文'
)
LANGUAGE_CELL_ID = "zh-language"

# ------------------------------------------------------------------ paragraphs
_FENCE = re.compile(r"^\s*(```|~~~)")
_WORD = re.compile(r"[A-Za-z\u4e00-\u9fff]{2,}")
_MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]*\$", re.S)
_TAG = re.compile(r"</?[A-Za-z][^>]*>")


def paragraphs(markdown: str) -> list[str]:
    """The paragraphs of a markdown cell: blocks separated by blank lines, where a
    display formula ($$ ... $$), a fenced code block or an HTML comment is never cut."""
    blocks: list[list[str]] = []
    current: list[str] = []
    in_fence = in_math = False
    for line in markdown.split("\n"):
        if not line.strip() and not in_fence and not in_math:
            if current:
                blocks.append(current)
                current = []
            continue
        current.append(line)
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and line.count("$$") % 2 == 1:
            in_math = not in_math
    if current:
        blocks.append(current)
    return ["\n".join(b) for b in blocks]


def needs_translation(paragraph: str) -> bool:
    """False for a paragraph with no words outside formulas and tags (copied as is)."""
    text = _TAG.sub(" ", _MATH.sub(" ", paragraph))
    if _FENCE.match(paragraph):
        return False
    return bool(_WORD.search(text))


@dataclass
class Message:
    text: str
    where: list[tuple[str, int]]  # (notebook name, cell number)


def lesson_messages(nb: nbformat.NotebookNode, name: str) -> dict[str, Message]:
    messages: dict[str, Message] = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for para in paragraphs(cell.source):
            if needs_translation(para):
                messages.setdefault(para, Message(para, [])).where.append((name, index))
    return messages


def code_messages() -> dict[str, Message]:
    """The strings of course_lib wrapped in ``_()`` or ``fig_()``."""
    messages: dict[str, Message] = {}
    found = extract_from_dir(
        str(ROOT / "course_lib"),
        method_map=[("**.py", "python")],
        keywords={"_": None, "_f": None, "fig_": None, "fig_f": None},
        comment_tags=("TRANSLATORS:",),
    )
    for filename, lineno, text, _comments, _context in found:
        if isinstance(text, tuple):
            text = text[0]
        if text:
            where = (f"course_lib/{filename}", lineno)
            messages.setdefault(text, Message(text, [])).where.append(where)
    return messages


# ------------------------------------------------------------------ catalogs
def catalog_path(domain: str) -> Path:
    return CATALOGS / f"{domain}.po"


def read_catalog(domain: str) -> Catalog:
    path = catalog_path(domain)
    if not path.exists():
        return Catalog(locale=LANGUAGE, project=PROJECT, domain=domain)
    with path.open("rb") as f:
        return read_po(f, locale=LANGUAGE, domain=domain)


def write_catalog(catalog: Catalog, domain: str) -> None:
    path = catalog_path(domain)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        write_po(f, catalog, width=100, sort_output=False, include_previous=True, omit_header=False)


def update_catalog(domain: str, messages: dict[str, Message]) -> Catalog:
    """Merge ``messages`` into the domain's catalog as msgmerge does."""
    template = Catalog(locale=LANGUAGE, project=PROJECT, domain=domain)
    for msg in messages.values():
        template.add(msg.text, locations=[(w, n) for w, n in msg.where])
    catalog = read_catalog(domain)
    catalog.update(template, update_header_comment=False, update_creation_date=False)
    catalog.obsolete.clear()  # git keeps history; stale entries only confuse translators
    catalog.project = PROJECT
    catalog.language_team = "Chinese (Simplified)"
    return catalog


def translations(domain: str) -> tuple[dict[str, str], set[str]]:
    """({English: Chinese}, {English messages whose translation is fuzzy})."""
    done: dict[str, str] = {}
    fuzzy: set[str] = set()
    for message in read_catalog(domain):
        if not message.id:
            continue
        if message.fuzzy:
            fuzzy.add(str(message.id))
        elif message.string:
            done[str(message.id)] = str(message.string)
    return done, fuzzy


# ------------------------------------------------------------------ glossary
GLOSSARY = LOCALES / LANGUAGE / "glossary.tsv"
GLOSSARY_NAME = "glossary.ipynb"


def glossary_terms() -> list[tuple[str, str]]:
    """(English, Chinese) for each line of ``locales/zh_CN/glossary.tsv``."""
    terms = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        english, chinese = line.split("\t")[:2]
        terms.append((english.strip(), chinese.strip()))
    return terms


def _cell_text(text: str) -> str:
    return text.replace("|", "\\|")


def glossary_notebook(language: str) -> nbformat.NotebookNode:
    """The bilingual glossary (术语表) of the course's terms, as the English edition
    (``language="en"``: English first) or the Chinese one (Chinese first) shows it."""
    rows = glossary_terms()
    if language == "en":
        head = (
            "# Glossary (术语表)\n\n"
            "The course's terms in English and in Simplified Chinese, as the Chinese "
            "edition (`notebooks/zh_CN/`) uses them: the terms of the source notes, with "
            "the Chinese edition of d2l's term where it differs."
        )
        table = ["| English | 简体中文 |", "|---|---|"]
        table += [f"| {_cell_text(en)} | {_cell_text(zh)} |" for en, zh in rows]
    else:
        head = (
            "# 术语表（Glossary）\n\n"
            "本课程术语的中英对照。中文版使用笔记中的术语；括号中是常用的英文名称，"
            "或《动手学深度学习》中文版的不同译法（如“批量规范化”）。"
        )
        table = ["| 简体中文 | English |", "|---|---|"]
        table += [f"| {_cell_text(zh)} | {_cell_text(en)} |" for en, zh in rows]
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(head),
        nbformat.v4.new_markdown_cell("\n".join(table)),
    ]
    for k, cell in enumerate(nb.cells):
        cell.id = f"glossary-{k}"
    nb.metadata["kernelspec"] = dict(run_notebooks.KERNELSPEC)
    nb.metadata["course"] = {"language": language, "generated_from": "locales/zh_CN/glossary.tsv"}
    return nb


def glossary_paths() -> dict[str, Path]:
    return {"en": NOTEBOOKS / GLOSSARY_NAME, LANGUAGE: OUT / GLOSSARY_NAME}


def write_glossaries() -> None:
    for language, path in glossary_paths().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(glossary_notebook(language), path)
        print(f"{path.relative_to(ROOT)}: the glossary")


# ------------------------------------------------------------------ notebooks
def problems(nb: nbformat.NotebookNode, name: str) -> list[str]:
    """What stops the Chinese edition of lesson ``name``: each missing or stale
    translation, with the cell it comes from."""
    done, fuzzy = translations(name)
    found = []
    for msg in lesson_messages(nb, name).values():
        if msg.text in done:
            continue
        cells = ", ".join(f"cell {n}" for _, n in msg.where)
        state = (
            "stale (the English changed; the old translation is marked fuzzy)"
            if (msg.text in fuzzy)
            else "not translated"
        )
        found.append(f"{name}, {cells}: {state}: {msg.text[:80]!r}")
    return found


def translate(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """The Chinese notebook (no outputs yet): markdown translated paragraph by paragraph,
    code identical, a first code cell that sets the language."""
    trouble = problems(nb, name)
    if trouble:
        raise SystemExit("missing translations:\n  " + "\n  ".join(trouble))
    done, _ = translations(name)
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if cell.cell_type == "markdown":
            cell.source = "\n\n".join(done.get(p, p) for p in paragraphs(cell.source))
        elif cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    language = nbformat.v4.new_code_cell(LANGUAGE_CELL)
    language.id = LANGUAGE_CELL_ID
    language.metadata["tags"] = ["language"]
    first_code = next(i for i, c in enumerate(out.cells) if c.cell_type == "code")
    out.cells.insert(first_code, language)
    out.metadata.pop("jupytext", None)  # generated: no paired source
    out.metadata["language_info"] = out.metadata.get("language_info", {})
    out.metadata["course"] = {"language": LANGUAGE, "translated_from": f"../{name}.ipynb"}
    return out


def english_notebooks(selected: list[str]) -> list[Path]:
    return release.lesson_notebooks(selected)


def complete_lessons(selected: list[str] = ()) -> tuple[list[Path], dict[str, int]]:
    """(English notebooks whose translation is complete, {lesson: paragraphs missing})."""
    ready, waiting = [], {}
    for path in english_notebooks(list(selected)):
        missing = problems(nbformat.read(path, as_version=4), path.stem)
        if missing:
            waiting[path.stem] = len(missing)
        else:
            ready.append(path)
    return ready, waiting


def build(selected: list[str]) -> int:
    """Write and execute the Chinese notebooks: the lessons named (each must be fully
    translated: a missing or stale translation stops the build, naming the cell), or
    every lesson whose translation is complete (the others are listed, not built)."""
    run_notebooks.use_kernel_environment()
    OUT.mkdir(parents=True, exist_ok=True)
    write_glossaries()
    if selected:
        paths = english_notebooks(selected)
    else:
        paths, waiting = complete_lessons()
        for name, count in waiting.items():
            print(f"{name}: not built, {count} paragraph(s) not translated or stale")
    total = 0.0
    for path in paths:
        start = time.perf_counter()
        nb = translate(nbformat.read(path, as_version=4), path.stem)
        nb = run_notebooks.execute(nb, cwd=OUT)
        target = OUT / path.name
        nbformat.write(nb, target)
        took = time.perf_counter() - start
        total += took
        print(f"{target.relative_to(ROOT)}: executed in {took:.1f} s")
    print(f"total {total:.1f} s")
    return 0


def update(selected: list[str]) -> int:
    """Merge the English sources into the catalogs: every catalog, or only the lessons
    given by number and/or ``course_lib`` (the catalog of course_lib's messages)."""
    lessons = [s for s in selected if s != "course_lib"]
    if not selected or lessons:
        for path in english_notebooks(lessons):
            nb = nbformat.read(path, as_version=4)
            write_catalog(update_catalog(path.stem, lesson_messages(nb, path.stem)), path.stem)
    if not selected or "course_lib" in selected:
        write_catalog(update_catalog("course_lib", code_messages()), "course_lib")
    return check()


def check() -> int:
    trouble = []
    for path in english_notebooks([]):
        trouble += problems(nbformat.read(path, as_version=4), path.stem)
    done, fuzzy = translations("course_lib")
    for msg in code_messages().values():
        if msg.text not in done:
            where = ", ".join(f"{f}:{n}" for f, n in msg.where)
            state = "stale" if msg.text in fuzzy else "not translated"
            trouble.append(f"course_lib ({where}): {state}: {msg.text[:80]!r}")
    for line in trouble:
        print(line)
    print(f"{len(trouble)} message(s) to translate" if trouble else "all translated")
    return 1 if trouble else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("update", "check", "build"))
    parser.add_argument(
        "lessons", nargs="*", help="lesson numbers, e.g. 03 (update: also course_lib)"
    )
    args = parser.parse_args(argv)
    if args.command == "update":
        return update(args.lessons)
    if args.command == "check":
        return check()
    return build(args.lessons)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
