"""The Chinese edition stays in step with the English lessons.

A changed English paragraph has no up-to-date translation until the catalog is updated
(``python scripts/i18n.py update`` marks it fuzzy; a translator fixes it): the tests
below fail and name the lesson and the cell. The Chinese notebooks must be what the
catalogs give (``make zh`` rebuilds them), with the English code cells unchanged.
nbval executes them like the English ones (they lie in ``notebooks/zh_CN/``).

Lessons whose translation is not complete yet are in ``NOT_YET``: their tests are
expected to fail (strict xfail, so a lesson that becomes complete must leave the set,
and its Chinese notebook must then exist and be current).
"""

from __future__ import annotations

import io
import re
import warnings
from contextlib import redirect_stderr

import matplotlib.pyplot as plt
import nbformat
import pytest

import i18n
import release
from course_lib import checks, ema
from course_lib import i18n as lang

LESSONS = release.lesson_notebooks()
CJK = re.compile(r"[\u4e00-\u9fff]")

# Lessons whose Chinese catalog is not complete yet (numbers). `python scripts/i18n.py
# check` lists what is missing; when a lesson is complete, `make zh` builds its Chinese
# notebook and the lesson leaves this set.
NOT_YET: set[str] = set()


def _lessons() -> list:
    params = []
    for path in LESSONS:
        marks = []
        if path.name[:2] in NOT_YET:
            marks.append(
                pytest.mark.xfail(strict=True, reason="Chinese translation not complete yet")
            )
        params.append(pytest.param(path, id=path.stem, marks=marks))
    return params


@pytest.fixture
def chinese():
    previous = lang.get_language()
    lang.set_language("zh_CN")
    yield
    lang.set_language(previous)


def test_paragraphs_keep_formulas_code_and_html_blocks_whole():
    text = "First para.\nstill first.\n\n$$\na\n\nb\n$$\n\n```python\nx = 1\n\ny = 2\n```\n\nLast."
    assert i18n.paragraphs(text) == [
        "First para.\nstill first.",
        "$$\na\n\nb\n$$",
        "```python\nx = 1\n\ny = 2\n```",
        "Last.",
    ]
    assert not i18n.needs_translation("$$x = \\frac{a}{b}$$")
    assert not i18n.needs_translation("</details>")
    assert i18n.needs_translation("The mean $\\mu$ of each feature.")


@pytest.mark.parametrize("path", _lessons())
def test_every_paragraph_has_an_up_to_date_translation(path):
    trouble = i18n.problems(nbformat.read(path, as_version=4), path.stem)
    assert not trouble, (
        "update the Chinese catalog (python scripts/i18n.py update, then translate):\n"
        + "\n".join(trouble)
    )


@pytest.mark.parametrize("path", _lessons())
def test_chinese_notebook_is_the_english_one_translated(path):
    english = nbformat.read(path, as_version=4)
    target = i18n.OUT / path.name
    assert target.exists(), f"{target.name} missing in notebooks/zh_CN: run `make zh`"
    chinese = nbformat.read(target, as_version=4)
    expected = i18n.translate(english, path.stem)
    assert [c.cell_type for c in chinese.cells] == [c.cell_type for c in expected.cells], (
        f"{path.stem}: the Chinese notebook's cells are not the English ones': run `make zh`"
    )
    for k, (got, want) in enumerate(zip(chinese.cells, expected.cells, strict=True)):
        assert got.source == want.source, (
            f"{path.stem}: cell {k} of the Chinese notebook is not the translation of the "
            "English one: run `make zh`"
        )
        assert got.metadata == want.metadata, f"{path.stem}: cell {k}'s metadata: run `make zh`"
    code_en = [c.source for c in english.cells if c.cell_type == "code"]
    code_zh = [c for c in chinese.cells if c.cell_type == "code"]
    assert code_zh[0].id == i18n.LANGUAGE_CELL_ID
    assert [c.source for c in code_zh[1:]] == code_en, "code cells identical to the English"
    # Stored outputs: every code cell was executed (nbval compares only executed cells).
    assert all(c.execution_count for c in code_zh), f"{path.stem}: run `make zh` (outputs)"


@pytest.mark.parametrize("path", _lessons())
def test_chinese_notebook_prose_is_chinese(path):
    """Every markdown paragraph with words is Chinese (formulas, code, names aside)."""
    target = i18n.OUT / path.name
    assert target.exists(), f"{target.name} missing in notebooks/zh_CN: run `make zh`"
    chinese = nbformat.read(target, as_version=4)
    english = [
        (k, p)
        for k, c in enumerate(chinese.cells)
        if c.cell_type == "markdown"
        for p in i18n.paragraphs(c.source)
        if i18n.needs_translation(p) and not CJK.search(p)
    ]
    assert not english, f"{path.stem}: paragraphs without Chinese: {english[:5]}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_translations_are_chinese(path):
    done, _ = i18n.translations(path.stem)
    english = [m for m in done if i18n.needs_translation(m)]
    not_chinese = [m[:60] for m in english if not CJK.search(done[m])]
    assert not not_chinese, f"{path.stem}: translations without Chinese text: {not_chinese}"


def test_a_changed_english_sentence_is_reported_with_lesson_and_cell(tmp_path, monkeypatch):
    """The staleness check can fail: change one translated English paragraph, and the
    lesson's problems name the cell; after ``update`` its old translation is kept but
    marked fuzzy (stale), and the build refuses the lesson, naming the cell."""
    path = LESSONS[0]
    nb = nbformat.read(path, as_version=4)
    catalog = i18n.read_catalog(path.stem)
    done, _ = i18n.translations(path.stem)
    candidates = [
        (k, p)
        for k, c in enumerate(nb.cells)
        if c.cell_type == "markdown"
        for p in i18n.paragraphs(c.source)
        if i18n.needs_translation(p)
    ]
    translated = [(k, p) for k, p in candidates if p in done] or candidates[:1]
    k, para = max(translated, key=lambda kp: len(kp[1]))
    if para not in done:  # nothing translated yet: give this paragraph a translation
        catalog[para].string = "一段译文。"
    monkeypatch.setattr(i18n, "CATALOGS", tmp_path)
    i18n.write_catalog(catalog, path.stem)

    def about(text: str) -> list[str]:
        return [
            t
            for t in i18n.problems(nb, path.stem)
            if t.startswith(f"{path.stem}, cell {k}:") and repr(text[:80]) in t
        ]

    assert about(para) == []
    changed = para + " One more sentence."
    nb.cells[k].source = nb.cells[k].source.replace(para, changed)
    assert len(about(changed)) == 1 and "not translated" in about(changed)[0]

    merged = i18n.update_catalog(path.stem, i18n.lesson_messages(nb, path.stem))
    i18n.write_catalog(merged, path.stem)
    assert len(about(changed)) == 1 and ": stale " in about(changed)[0], about(changed)
    with pytest.raises(SystemExit, match=f"{path.stem}, cell {k}:"):
        i18n.translate(nb, path.stem)


def test_every_course_lib_message_is_translated():
    done, fuzzy = i18n.translations("course_lib")
    missing = [
        f"{m.where[0][0]}:{m.where[0][1]} {'stale' if m.text in fuzzy else 'missing'}: {m.text!r}"
        for m in i18n.code_messages().values()
        if m.text not in done
    ]
    assert not missing, "translate in locales/zh_CN/LC_MESSAGES/course_lib.po:\n" + "\n".join(
        missing
    )


def test_course_lib_translations_keep_their_placeholders():
    """A translated template fills in the same values as the English one."""
    done, _ = i18n.translations("course_lib")
    field = re.compile(r"\{[^{}]*\}")
    wrong = [
        (en, zh)
        for en, zh in done.items()
        if sorted(field.findall(en.replace("{{", "").replace("}}", "")))
        != sorted(field.findall(zh.replace("{{", "").replace("}}", "")))
    ]
    assert not wrong, wrong[:5]


def test_set_language_accepts_common_spellings_and_refuses_others():
    previous = lang.get_language()
    try:
        assert lang.set_language("zh-CN") == "zh_CN"
        assert lang.set_language("zh") == "zh_CN"
        assert lang.set_language("en") == "en"
        with pytest.raises(ValueError, match="language must be one of"):
            lang.set_language("fr")
    finally:
        lang.set_language(previous)


def test_a_checker_gives_its_hints_in_chinese_at_both_levels(chinese):
    def normalize(X, mu, sigma):
        return (X - mu) / sigma**2  # the notes' error: dividing by the variance

    checks._core._last_failure.clear()
    result = checks.check_normalize(normalize)
    assert not result
    text = str(result)
    assert "提示：" in text and "除以了 σ²" in text, text
    assert CJK.search(result._repr_html_())
    assert CJK.search(str(result.more()))
    again = checks.check_normalize(normalize)  # the same failure: level 2 shown
    assert "更多：" in str(again)


def test_a_passing_check_reads_in_chinese(chinese):
    from course_lib.normalization import normalize

    result = checks.check_normalize(lambda X, mu, sigma: normalize(X, mu, sigma))
    assert result and "全部" in str(result) and "项检查通过" in str(result)


def test_english_stays_the_default():
    def fit_normalizer(X):
        return X.mean(0), X.std(0, ddof=1)

    result = checks.check_fit_normalizer(fit_normalizer)
    assert not result and not CJK.search(str(result))
    assert str(result).startswith("✘ fit_normalizer: failed on ")
    assert lang.get_language() == "en"


def _glyph_warnings(fig) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(io.BytesIO(), format="png")
    return [str(w.message) for w in caught if "missing from" in str(w.message)]


@pytest.mark.skipif(not lang.cjk_font_available(), reason="no CJK font (fonts-noto-cjk)")
def test_figures_in_chinese_draw_every_character(chinese):
    fig = ema.plot_ema_weights()
    ax = fig.axes[0]
    assert CJK.search(ax.get_title()) and CJK.search(ax.get_xlabel())
    assert _glyph_warnings(fig) == []  # CJK font + DejaVu fallback: no boxes
    plt.close(fig)


def test_without_a_cjk_font_figures_keep_english_with_one_notice(monkeypatch):
    previous = lang.get_language()
    monkeypatch.setattr(lang, "CJK_FONT", "No Such CJK Font")
    monkeypatch.setattr(lang, "_font_notice_shown", False)
    err = io.StringIO()
    try:
        with redirect_stderr(err):
            lang.set_language("zh_CN")
            lang.set_language("zh_CN")
        assert lang.figure_language() == "en"
        notice = err.getvalue().strip().splitlines()
        assert len(notice) == 1 and "fonts-noto-cjk" in notice[0], notice
        fig = ema.plot_ema_weights()
        assert not CJK.search(fig.axes[0].get_title())
        assert _glyph_warnings(fig) == []
        plt.close(fig)
        assert CJK.search(lang._("  Hint: {hint}"))  # the rest stays Chinese
    finally:
        lang.set_language(previous)


@pytest.mark.parametrize("language", ["en", "zh_CN"])
def test_the_glossary_pages_are_current(language):
    """Both editions carry the bilingual glossary (术语表) made from glossary.tsv."""
    path = i18n.glossary_paths()[language]
    assert path.exists(), f"{path.name} missing: run `make zh`"
    stored = nbformat.read(path, as_version=4)
    assert [c.source for c in stored.cells] == [
        c.source for c in i18n.glossary_notebook(language).cells
    ], "the glossary changed: run `make zh`"
    table = stored.cells[1].source
    for english, chinese in i18n.glossary_terms():
        assert english.replace("|", "\\|") in table and chinese in table
    assert ("术语表" in stored.cells[0].source) and CJK.search(table)


def _chinese_or_formula(text: str) -> bool:
    """Chinese text, or a formula / code with no English prose to translate."""
    return bool(CJK.search(text)) or not re.search(r"\b[a-z]{3,} [a-z]{3,} [a-z]{3,}\b", text)


def test_chinese_first_hints_give_no_line_of_a_solution_either(chinese):
    """The rule of the two-level hints holds in Chinese too: the level-1 hint of every
    typical mistake (made in Chinese), every case label and the exercises' wording of
    generic problems contain no line of a solution; level 2 exists and is Chinese."""
    import test_checks_hints as hints

    checked = 0
    for name, module in hints.MODULES.items():
        mistakes = hints._mistakes(module)
        for where, mistake in mistakes:
            assert mistake.more, f"{name}.{where}: no second level"
            assert _chinese_or_formula(lang._(mistake.more)), f"{where}: {mistake.more}"
        texts = [(f"{name}.{where}", m.hint) for where, m in mistakes]
        texts += [(f"{name} case", label) for label in hints._labels(module)]
        for where, text in texts:
            shown = lang._(text)
            assert _chinese_or_formula(shown), f"{where}: not translated: {shown}"
            leaked = [line for line in hints.SOLUTION if line in hints._squeeze(shown)]
            assert not leaked, f"{where}: the Chinese hint contains solution code {leaked}"
            checked += 1
    assert checked >= 150
