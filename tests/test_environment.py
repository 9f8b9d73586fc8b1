"""The conda/Binder environment and the pip project ask for the same packages."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pip_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return dict(_split(r) for r in reqs)


def _split(req: str) -> tuple[str, str]:
    name, version = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;]+)\s*", req).groups()
    return name.lower().replace("_", "-"), version


def _environment_yml() -> tuple[str, dict[str, str], list[str]]:
    python, pins, other = "", {}, []
    for line in (ROOT / "environment.yml").read_text().splitlines():
        item = line.strip()
        if not item.startswith("- "):
            continue
        spec = item[2:].strip()
        if spec.startswith("python="):
            python = spec.split("=", 1)[1]
        elif "==" in spec:
            name, version = _split(spec)
            pins[name] = version
        elif spec not in ("pip", "pip:"):
            other.append(spec)
    return python, pins, other


def test_environment_yml_pins_the_same_packages_as_pyproject():
    python, pins, _ = _environment_yml()
    assert python.startswith("3.11")
    assert pins == _pip_pins()


def test_environment_yml_installs_the_course_from_the_repo():
    _, _, other = _environment_yml()
    assert "-e ." in other


def test_lock_file_agrees_with_pyproject():
    lock = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = _split(line)
            lock[name] = version
    for name, version in _pip_pins().items():
        assert lock.get(name) == version, f"{name}: pyproject {version}, lock {lock.get(name)}"
