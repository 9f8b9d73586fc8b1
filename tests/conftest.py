"""Shared test settings, and the site build that two test modules read."""

import sys
from pathlib import Path

import matplotlib
import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
# The tools in scripts/ are tested as modules: `import release`, `import build_site`.
sys.path.insert(0, str(ROOT / "scripts"))

# Tests draw off-screen (this process only: the kernels' environment is set by the
# conftest.py at the top of the repository, for nbval wherever pytest starts).
matplotlib.use("Agg")

# Property tests draw the same examples on every run: a red CI is reproducible,
# never a lucky draw. (`--hypothesis-seed` or another profile explores further.)
settings.register_profile("course", derandomize=True, print_blob=True)
settings.load_profile("course")


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """Every lesson as a slide deck and as a page (``make slides``, ``make html``), built
    once into a temporary folder: (folder, decks, pages)."""
    import build_site

    out = tmp_path_factory.mktemp("site")
    cache = ROOT / "build" / "vendor"
    notebooks = ROOT / "notebooks"
    decks = build_site.build_slides(notebooks, out / "slides", [], cache)
    pages = build_site.build_html(notebooks, out / "html", [], cache)
    return out, decks, pages
