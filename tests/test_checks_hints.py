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


# ------------------------------------------------------------------ every checker module
# The hints of every checker, found by convention (course_lib.checks._core.Mistake): a
# module's mistakes come from module-level functions whose names end in "mistakes", its
# cases from functions ending in "cases", its wording of generic problems from Advice
# objects. A new checker module is covered as soon as it exists.
import importlib  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import pkgutil  # noqa: E402
import re  # noqa: E402
from pathlib import Path  # noqa: E402

import course_lib.checks  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def _checker_modules() -> dict[str, object]:
    found = {}
    for info in pkgutil.iter_modules(course_lib.checks.__path__):
        if not info.name.startswith("_"):
            found[info.name] = importlib.import_module(f"course_lib.checks.{info.name}")
    return found


MODULES = _checker_modules()


def _zero_arg_functions(module, suffix: str):
    for name, obj in sorted(vars(module).items()):
        if not (inspect.isfunction(obj) and obj.__module__ == module.__name__):
            continue
        if not name.rstrip("_").endswith(suffix):
            continue
        params = inspect.signature(obj).parameters.values()
        if all(
            p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params
        ):
            yield name, obj


def _mistakes(module) -> list[tuple[str, Mistake]]:
    found = []
    for name, fn in _zero_arg_functions(module, "mistakes"):
        found += [(f"{name}[{k}]", m) for k, m in enumerate(fn()) if isinstance(m, Mistake)]
    return found


def _labels(module) -> list[str]:
    return [
        case.label
        for _, fn in _zero_arg_functions(module, "cases")
        for case in fn()
        if isinstance(getattr(case, "label", None), str)
    ]


def _advice(module) -> list[tuple[str, _core.Advice]]:
    return [(n, a) for n, a in sorted(vars(module).items()) if isinstance(a, _core.Advice)]


ALL_MISTAKES = [
    (f"{mod}.{name}", mistake)
    for mod, module in MODULES.items()
    for name, mistake in _mistakes(module)
]


def _solution_lines() -> list[str]:
    """Every code line between BEGIN/END SOLUTION in the notebooks, and the expression
    each one computes (after its `=` or `return`), whitespace removed; names alone and
    tuples of names are left out (the exercise text gives those)."""
    found: set[str] = set()
    for path in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            for region in re.findall(rf"{re.escape(BEGIN)}\n(.*?){re.escape(END)}", source, re.S):
                for line in region.splitlines():
                    code = line.split("#", 1)[0].strip()
                    if not code:
                        continue
                    found.add(_squeeze(code))
                    expression = re.split(r"^return\s|(?<![=!<>])=(?!=)", code, maxsplit=1)[-1]
                    if re.search(r"[.+\-*/@\[]", expression):
                        found.add(_squeeze(expression))
    return sorted(s for s in found if len(s) >= 6)


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text).replace("`", "")


SOLUTION = _solution_lines()


def test_the_conventions_find_every_checker_module_and_its_mistakes():
    assert set(course_lib.checks._LESSON_MODULES) <= set(MODULES)
    for name, module in MODULES.items():
        checkers = [n for n in vars(module) if n.startswith("check_")]
        if not checkers:
            continue
        assert _mistakes(module), (
            f"course_lib.checks.{name}: no typical mistakes found. Return them from a "
            "module-level function whose name ends in 'mistakes' (see _core.Mistake)"
        )
    assert len(ALL_MISTAKES) >= 60
    assert len(SOLUTION) >= 20 and "X.std(axis=0)" in SOLUTION


@pytest.mark.parametrize(("where", "mistake"), ALL_MISTAKES, ids=[w for w, _ in ALL_MISTAKES])
def test_a_first_hint_gives_no_line_of_a_solution(where, mistake):
    said = _squeeze(mistake.hint)
    leaked = [line for line in SOLUTION if line in said]
    assert not leaked, f"{where}: the level-1 hint contains solution code {leaked}: {mistake.hint}"


@pytest.mark.parametrize(("where", "mistake"), ALL_MISTAKES, ids=[w for w, _ in ALL_MISTAKES])
def test_a_second_level_exists_and_adds_something(where, mistake):
    assert mistake.more and len(mistake.more) >= 15, f"{where}: no second level"
    assert _squeeze(mistake.more) not in _squeeze(mistake.hint), f"{where}: says nothing more"


@pytest.mark.parametrize(("where", "mistake"), ALL_MISTAKES, ids=[w for w, _ in ALL_MISTAKES])
def test_a_hint_names_the_mistake_then_the_right_idea(where, mistake):
    """Written as "<what the learner did>: <what is right>" (or two sentences): the
    first part names the mistake, the rest says the right idea in words."""
    parts = [p for p in re.split(r": |\. |; ", mistake.hint) if len(p.split()) >= 2]
    assert len(parts) >= 2, f"{where}: say what went wrong, then what is right: {mistake.hint}"
    assert len(mistake.hint.split()) >= 8, f"{where}: too short to teach: {mistake.hint}"
    assert not re.search(r"\b[A-Z]{3,}\b", mistake.hint), f"{where}: no shouting: {mistake.hint}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_the_generic_wording_and_the_case_labels_give_no_solution_either(module):
    texts = [(f"case {label!r}", label) for label in _labels(MODULES[module])]
    for name, advice in _advice(MODULES[module]):
        for what in ("shapes", "broadcast", "matmul", "call"):
            if getattr(advice, what):
                texts.append((f"{name}.{what}", getattr(advice, what)))
    for where, text in texts:
        leaked = [line for line in SOLUTION if line in _squeeze(text)]
        assert not leaked, f"{module} {where} contains solution code {leaked}: {text}"


def test_the_generic_hints_of_the_core_give_no_solution():
    for names in (("mu", "sigma"), ("X_norm",), ("out", "cache"), ("dz", "dgamma", "dbeta")):
        said = _squeeze(_core.returned_none_hint(names))
        assert not [line for line in SOLUTION if line in said], said


# ------------------------------------------------------------------ run through the checkers
def _recorded_calls(monkeypatch) -> list[tuple[tuple, dict]]:
    """Run every checker on its references, recording its check_against_reference call
    (name, cases, reference, mistakes and settings) for the checkers built on it."""
    import test_checks_hostile as hostile

    calls = []
    original = _core.check_against_reference

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return original(*args, **kwargs)

    for module in MODULES.values():
        if hasattr(module, "check_against_reference"):
            monkeypatch.setattr(module, "check_against_reference", spy)
    for name in hostile.CHECKERS:
        hostile.run_checker(name, *hostile.references(name), timeout=None)
    return calls


def test_every_known_mistake_fails_with_level_one_then_level_two(monkeypatch):
    """Each typical mistake, as a learner's function: the checker fails with a hint of
    the exercise; the first feedback holds no solution line and no level 2; the same
    failure again shows level 2."""
    calls = _recorded_calls(monkeypatch)
    assert len(calls) >= 5
    tried = 0
    for args, kwargs in calls:
        name, _, cases, reference, mistakes = args[:5]
        kwargs = dict(kwargs, timeout=3.0)
        hints = {m.hint: m for m in mistakes}
        for mistake in mistakes:
            _core._last_failure.clear()
            first = _core.check_against_reference(
                name, mistake.produce, cases, reference, mistakes, **kwargs
            )
            if first or first.hint not in hints:  # equal to the answer on these cases,
                continue  # or it does not apply to them (it raises): nothing to say
            tried += 1
            shown = str(first) + first._repr_html_()
            assert hints[first.hint].more not in shown, str(first)
            assert not [line for line in SOLUTION if line in _squeeze(str(first))], str(first)
            again = _core.check_against_reference(
                name, mistake.produce, cases, reference, mistakes, **kwargs
            )
            assert again.level == 2 and f"More: {hints[again.hint].more}" in str(again)
    assert tried >= 40


def test_a_changed_attempt_with_the_same_hint_starts_again_at_level_one():
    """Another wrong answer that gets the same words but other values (another gradient
    check, other accuracies) is a new attempt: its first feedback, so the learner sees
    that the change counted."""

    def failure(*details: str) -> CheckResult:
        return _core.escalate(_core.failed("step", 1, "case A", "the same hint", *details))

    assert failure("dx 3.1e-01: a bug").level == 1
    assert failure("dx 2.0e-02: a bug").level == 1  # changed values: level 1 again
    assert failure("dx 2.0e-02: a bug").level == 2  # the same failure again
