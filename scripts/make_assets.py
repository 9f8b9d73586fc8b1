"""Regenerate every figure in assets/ from course_lib code (``make assets``).

Each lesson module may define ``ASSETS = {"file_name.png": make_figure, ...}``,
where ``make_figure()`` returns a matplotlib Figure. This script draws them all
with the Agg backend at a fixed size and resolution, so the files reproduce.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import course_lib  # noqa: E402
from course_lib.lessons import OPTIONAL  # noqa: E402

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"


def collect() -> dict[str, object]:
    found: dict[str, object] = {}
    for info in pkgutil.iter_modules(course_lib.__path__):
        if info.name.startswith("_") or info.ispkg:
            continue
        try:
            module = importlib.import_module(f"course_lib.{info.name}")
        except ModuleNotFoundError as exc:
            if exc.name in OPTIONAL:  # the module of a lesson whose package is not installed
                continue
            raise
        for name, make in getattr(module, "ASSETS", {}).items():
            if name in found:
                raise SystemExit(f"asset {name} is defined twice")
            found[name] = make
    return found


def main() -> int:
    ASSETS_DIR.mkdir(exist_ok=True)
    for name, make in sorted(collect().items()):
        fig = make()
        # No metadata (software version, date): the PNG bytes depend only on the figure.
        fig.savefig(ASSETS_DIR / name, dpi=100, metadata={"Software": None})
        plt.close(fig)
        print(f"assets/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
