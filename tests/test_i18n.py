"""The Chinese edition stays in step with the English lessons.

A changed English paragraph has no up-to-date translation until the catalog is updated
(``python scripts/i18n.py update`` marks it fuzzy; a translator fixes it): the tests
below fail and name the lesson and the cell. The Chinese notebooks must be what the
catalogs give (``make zh`` rebuilds them), with the English code cells unchanged.
nbval executes them like the English ones.
"""

from __future__ import annotations

import re

import nbformat
import pytest

import i18n
import release
from course_lib import checks
from course_lib import i18n as lang

LESSONS = release.lesson_notebooks()
CJK = re.compile(r"[\u4e00-\u9fff]")


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


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_every_paragraph_has_an_up_to_date_translation(path):
    trouble = i18n.problems(nbformat.read(path, as_version=4), path.stem)
    assert not trouble, (
        "update the Chinese catalog (python scripts/i18n.py update, then translate):\n"
        + "\n".join(trouble)
    )


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_chinese_notebook_is_the_english_one_translated(path):
    english = nbformat.read(path, as_version=4)
    target = i18n.OUT / path.name
    assert target.exists(), f"{target.name} missing in notebooks/zh_CN: run `make zh`"
    chinese = nbformat.read(target, as_version=4)
    expected = i18n.translate(english, path.stem)
    assert [c.cell_type for c in chinese.cells] == [c.cell_type for c in expected.cells]
    for k, (got, want) in enumerate(zip(chinese.cells, expected.cells, strict=True)):
        assert got.source == want.source, (
            f"{path.stem}: cell {k} of the Chinese notebook is not the translation of the "
            "English one: run `make zh`"
        )
    code_en = [c.source for c in english.cells if c.cell_type == "code"]
    code_zh = [c.source for c in chinese.cells if c.cell_type == "code"][1:]  # language cell
    assert code_zh == code_en, "code cells must be identical to the English ones"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_chinese_markdown_is_chinese(path):
    done, _ = i18n.translations(path.stem)
    english = [m for m in done if i18n.needs_translation(m)]
    not_chinese = [m[:60] for m in english if not CJK.search(done[m])]
    assert not not_chinese, f"{path.stem}: translations without Chinese text: {not_chinese}"


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


def test_a_checker_gives_its_hint_in_chinese(chinese):
    def normalize(X, mu, sigma):
        return (X - mu) / sigma**2  # the notes' error: dividing by the variance

    result = checks.check_normalize(normalize)
    assert not result
    assert CJK.search(str(result)), str(result)


def test_english_stays_the_default():
    def fit_normalizer(X):
        return X.mean(0), X.std(0, ddof=1)

    result = checks.check_fit_normalizer(fit_normalizer)
    assert not result and not CJK.search(str(result))
    assert lang.get_language() == "en"
