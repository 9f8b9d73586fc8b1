"""The language of what course_lib says: checker hints, figure text, widget labels,
printed messages. English by default; Simplified Chinese with

    import course_lib
    course_lib.set_language("zh_CN")      # or COURSE_LANG=zh_CN in the environment

Messages are written in English in the code, wrapped in ``_()``, and translated from
the gettext catalog ``locales/zh_CN/LC_MESSAGES/course_lib.po`` at the top of the
repository (read with Babel, no compiled ``.mo`` file). A message with no translation
is shown in English. Formatted messages translate the template, then fill it in:
``_("{n} checks passed").format(n=3)``.

Figures: Chinese text needs a CJK font. With ``zh_CN`` set, matplotlib uses
"Noto Sans CJK SC" with DejaVu Sans as per-character fallback (for "₁", "σ", ...),
where that font is installed; where it is not, figure text stays in English and one
notice says so (never boxes or missing-glyph warnings).
"""

from __future__ import annotations

import os
import sys
import unicodedata
import warnings
from pathlib import Path

LANGUAGES = ("en", "zh_CN")
CJK_FONT = "Noto Sans CJK SC"
LOCALES = Path(__file__).resolve().parent.parent / "locales"

_language = "en"
_catalogs: dict[str, dict[str, str]] = {}
_figure_language = "en"
_font_notice_shown = False


def _normalize(language: str) -> str:
    if not isinstance(language, str):
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
    key = language.replace("-", "_").strip()
    for known in LANGUAGES:
        if key.lower() == known.lower() or key.lower() == known.split("_")[0]:
            return known
    raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")


def catalog(language: str) -> dict[str, str]:
    """{English message: translation} for ``language`` (fuzzy and empty entries left out)."""
    language = _normalize(language)
    if language == "en":
        return {}
    if language not in _catalogs:
        path = LOCALES / language / "LC_MESSAGES" / "course_lib.po"
        entries: dict[str, str] = {}
        if path.is_file():
            from babel.messages.pofile import read_po

            with path.open("rb") as f:
                for message in read_po(f, locale=language):
                    if message.id and message.string and not message.fuzzy:
                        entries[str(message.id)] = str(message.string)
        _catalogs[language] = entries
    return _catalogs[language]


def set_language(language: str) -> str:
    """Set the language of hints, figure text, widget labels and messages: "en" or
    "zh_CN" ("zh" and "zh-CN" are accepted). Returns the language set."""
    global _language
    _language = _normalize(language)
    _configure_figures()
    return _language


def get_language() -> str:
    return _language


def figure_language() -> str:
    """The language figures are labelled in: the course's language when a font for it
    exists, else English."""
    return _figure_language


def _(message: str) -> str:
    """``message`` in the course's language (English if it has no translation)."""
    if _language == "en":
        return message
    return catalog(_language).get(message, message)


def _f(template: str, /, **values) -> str:
    """``_(template).format(**values)``, where each text value that is itself a message
    (a hint, a case label defined once in English) is translated too. In English it is
    exactly ``template.format(**values)``: the f-string it replaces."""
    if _language == "en":
        return template.format(**values)
    table = catalog(_language)
    values = {k: table.get(v, v) if isinstance(v, str) else v for k, v in values.items()}
    return table.get(template, template).format(**values)


def fig_(message: str) -> str:
    """``message`` for a figure: translated only when a font can draw the translation."""
    if _figure_language == "en":
        return message
    return catalog(_figure_language).get(message, message)


def fig_f(template: str, /, **values) -> str:
    """``fig_(template).format(**values)``, text values translated too (as ``_f``)."""
    if _figure_language == "en":
        return template.format(**values)
    table = catalog(_figure_language)
    values = {k: table.get(v, v) if isinstance(v, str) else v for k, v in values.items()}
    return table.get(template, template).format(**values)


def ljust(text: str, width: int) -> str:
    """``text`` padded with spaces to ``width`` columns of a monospaced display, where a
    Chinese character takes two columns (``str.ljust`` counts it as one)."""
    columns = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - columns)


def cjk_font_available() -> bool:
    """True when matplotlib can use the CJK font. A font installed after matplotlib
    built its font cache (e.g. ``apt install fonts-noto-cjk`` on a machine that had
    run matplotlib before) is not in that cache: look for its files and add them."""
    from matplotlib import font_manager

    def known() -> bool:
        return any(f.name == CJK_FONT for f in font_manager.fontManager.ttflist)

    if known():
        return True
    stem = CJK_FONT.replace(" ", "").replace("SC", "")  # NotoSansCJK-Regular.ttc, ...
    for path in font_manager.findSystemFonts():
        if Path(path).name.startswith((stem, CJK_FONT.replace(" ", ""))):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):  # an unreadable font file
                continue
    return known()


def _configure_figures() -> None:
    global _figure_language, _font_notice_shown
    import matplotlib

    if _language == "en":
        _figure_language = "en"
        return
    if cjk_font_available():
        # A list of families gives per-character fallback; a "sans-serif" family with
        # the list in font.sans-serif does not (missing-glyph warnings).
        matplotlib.rcParams["font.family"] = [CJK_FONT, "DejaVu Sans"]
        _figure_language = _language
        return
    # No font for the language: figures keep their English text (never boxes), and
    # one line says so, once per session.
    _figure_language = "en"
    if not _font_notice_shown:
        _font_notice_shown = True
        print(
            _(
                "Note: no Chinese font ({font}) is installed, so figures keep English "
                "labels (Debian/Ubuntu: apt install fonts-noto-cjk)."
            ).format(font=CJK_FONT),
            file=sys.stderr,
        )


def _from_environment() -> None:
    value = os.environ.get("COURSE_LANG", "").strip()
    if value:
        try:
            set_language(value)
        except ValueError:
            warnings.warn(
                f"COURSE_LANG={value!r} is not one of {LANGUAGES}: using English", stacklevel=2
            )
