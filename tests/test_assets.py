"""assets/ holds exactly the figures the lesson modules declare (make assets)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _declared() -> set[str]:
    spec = importlib.util.spec_from_file_location("make_assets", ROOT / "scripts/make_assets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return set(module.collect())


def test_assets_match_the_declared_figures():
    declared = _declared()
    on_disk = {p.name for p in (ROOT / "assets").glob("*.png")}
    assert declared, "no lesson module declares ASSETS"
    assert on_disk == declared, "run `make assets`"
    for lesson in ("01", "02", "03", "04", "05"):
        assert any(name.startswith(lesson) for name in declared), f"lesson {lesson} has no asset"
