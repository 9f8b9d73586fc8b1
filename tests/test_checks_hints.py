"""Two-level hints: ``Mistake(hint, produce, more)``, ``CheckResult.more()`` and the
escalation to level 2 when the same checker fails the same way again."""

from __future__ import annotations

import numpy as np
import pytest

from course_lib.checks import _core
from course_lib.checks._core import Case, CheckResult, Mistake, check_against_reference

LEVEL1 = "you doubled the input instead of tripling it"
LEVEL2 = "return 3 * X"


@pytest.fixture(autouse=True)
def _fresh_state():
    """Every test starts as a fresh kernel would: no failure seen yet."""
    saved = dict(_core._last_failure)
    _core._last_failure.clear()
    yield
    _core._last_failure.clear()
    _core._last_failure.update(saved)


def _triple_check(fn, name="triple") -> CheckResult:
    cases = [Case("X of shape (2, 2)", (np.arange(4.0).reshape(2, 2),))]
    mistakes = [
        Mistake(LEVEL1, lambda X: 2 * X, more=LEVEL2),
        Mistake("you returned X itself", lambda X: X),  # no second level
    ]
    return check_against_reference(name, fn, cases, lambda X: 3 * X, mistakes, timeout=5)


def _double(X):
    return 2 * X


def _double_again(X):  # a new attempt that still fails the same way
    return X + X


def _same(X):
    return X.copy()


def _triple(X):
    return 3 * X


def test_mistake_second_level_is_optional():
    assert Mistake("h", _triple).more is None
    assert Mistake("h", _triple, "m").more == "m"


def test_first_feedback_has_level_one_only():
    result = _triple_check(_double)
    assert not result and result.hint == LEVEL1 and result.more_hint == LEVEL2
    assert result.level == 1
    for first in (str(result), repr(result), result._repr_html_()):
        assert LEVEL1 in first and LEVEL2 not in first
        assert "Stuck? Run this check again, or call .more() on its result" in first
    with pytest.raises(AssertionError) as raised:
        result.assert_ok()
    assert LEVEL1 in str(raised.value) and LEVEL2 not in str(raised.value)


def test_more_gives_the_second_level_as_text_and_html():
    more = _triple_check(_double).more()
    assert str(more) == f"triple, more: {LEVEL2}" and repr(more) == str(more)
    page = more._repr_html_()
    assert page.startswith("<div") and "return 3 * X" in page and "more:" in page


def test_more_without_a_second_level_repeats_the_hint():
    result = _triple_check(_same)
    assert result.hint == "you returned X itself" and result.more_hint is None
    assert "Stuck?" not in str(result)
    assert "no second level for this failure; the hint is: you returned X itself" in str(
        result.more()
    )
    assert "nothing more" in str(_triple_check(_triple).more())


def test_the_same_failure_again_shows_the_second_level():
    first = _triple_check(_double)
    second = _triple_check(_double_again)
    assert first.level == 1 and second.level == 2
    assert f"  More: {LEVEL2}" in str(second).splitlines()
    assert "Stuck?" not in str(second)
    assert f"<b>More:</b> {LEVEL2}" in second._repr_html_()
    with pytest.raises(AssertionError) as raised:  # graded cells: never level 2
        second.assert_ok()
    assert LEVEL2 not in str(raised.value)
    assert _triple_check(_double).level == 2  # and it stays there while it fails so


def test_a_different_failure_or_a_pass_starts_again_at_level_one():
    _triple_check(_double)
    assert _triple_check(_same).level == 1  # another mistake: its own first hint
    assert _triple_check(_double).level == 1
    assert _triple_check(_triple)  # a pass forgets the failure
    assert _triple_check(_double).level == 1
    assert _triple_check(_double).level == 2


def test_the_state_is_per_checker_name_and_small():
    _triple_check(_double, name="triple")
    assert _triple_check(_double, name="other").level == 1
    assert _triple_check(_double, name="triple").level == 2
    assert set(_core._last_failure) == {"triple", "other"}
    _triple_check(_triple, name="other")
    assert set(_core._last_failure) == {"triple"}


def test_passing_output_is_unchanged():
    result = _triple_check(_triple)
    assert str(result) == "✔ triple: all 1 checks passed."
    assert result._repr_html_() == (
        '<div style="border-left:4px solid #1a7f37;background:#e6f4ea;padding:6px 10px;'
        'font-family:sans-serif"><b>✔ triple</b>: all 1 checks passed.</div>'
    )
