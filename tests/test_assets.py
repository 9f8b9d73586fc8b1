"""assets/ holds exactly the figures the lesson modules declare (make assets)."""

from __future__ import annotations

from pathlib import Path

import make_assets

ROOT = Path(__file__).resolve().parent.parent


def _declared() -> set[str]:
    return set(make_assets.collect())


def test_assets_match_the_declared_figures():
    declared = _declared()
    on_disk = {p.name for p in (ROOT / "assets").glob("*.png")}
    assert declared, "no lesson module declares ASSETS"
    assert on_disk == declared, "run `make assets`"
    for lesson in ("01", "02", "03", "04", "05", "06"):
        assert any(name.startswith(lesson) for name in declared), f"lesson {lesson} has no asset"
