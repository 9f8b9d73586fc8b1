"""Shared test settings, and the site builds that several test modules read."""

import sys
from pathlib import Path

import matplotlib
import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
# The tools in scripts/ are tested as modules: `import release`, `import build_site`;
# the fixtures' toy widget as `import toy_widget` (also in the processes that draw frames).
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(FIXTURES))

# Tests draw off-screen (this process only: the kernels' environment is set by the
# conftest.py at the top of the repository, for nbval wherever pytest starts).
matplotlib.use("Agg")

# Property tests draw the same examples on every run: a red CI is reproducible,
# never a lucky draw. (`--hypothesis-seed` or another profile explores further.)
settings.register_profile("course", derandomize=True, print_blob=True)
settings.load_profile("course")

# The launch buttons need a repository; these stand in for the real addresses.
TEST_REPOSITORY = "https://github.com/example-org/batchnorm-course"
TEST_JUPYTERHUB = "https://hub.example.edu"


@pytest.fixture(scope="session")
def built_site(tmp_path_factory):
    """Every lesson as a slide deck and as a page (``make slides``, ``make html``), built
    once into a temporary folder: (folder, decks, pages)."""
    import build_site

    out = tmp_path_factory.mktemp("site")
    cache = ROOT / "build" / "vendor"
    notebooks = ROOT / "notebooks"
    decks = build_site.build_slides(notebooks, out / "slides", [], cache)
    pages = build_site.build_html(
        notebooks,
        out / "html",
        [],
        cache,
        repository_url=TEST_REPOSITORY,
        jupyterhub_url=TEST_JUPYTERHUB,
    )
    return out, decks, pages


def fixture_lesson():
    """The site-features fixture as a lesson: its notebook, its toy widget."""
    from course_lib.lessons import Lesson
    from course_lib.static_widgets import FrameSpec

    return Lesson(
        "99",
        "Site features",
        "site_features",
        "toy_widget:toy_explorer",
        FrameSpec(grid=("a", "b"), stops=5, alt="A curve whose shape the controls set."),
    )


@pytest.fixture(scope="session")
def built_fixture(tmp_path_factory):
    """``tests/fixtures/site_features.py`` executed (a real kernel, as ``make outputs``
    runs the lessons), then built as a deck and a page: (folder, notebook, deck, page)."""
    import jupytext
    import nbformat
    from nbclient import NotebookClient

    import build_site

    out = tmp_path_factory.mktemp("fixture-site")
    nb = jupytext.read(FIXTURES / "site_features.py")
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i:03d}"
    NotebookClient(
        nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(FIXTURES)}}
    ).execute()
    nb.metadata.pop("widgets", None)
    notebooks = out / "notebooks"
    notebooks.mkdir()
    path = notebooks / "site_features.ipynb"
    nbformat.write(nb, path)
    lesson = fixture_lesson()
    cache = ROOT / "build" / "vendor"
    (deck,) = build_site.build_slides(notebooks, out / "slides", [], cache, lessons=[lesson])
    (page,) = build_site.build_html(notebooks, out / "html", [], cache, lessons=[lesson])
    return out, path, deck, page
