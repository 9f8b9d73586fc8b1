"""Sphinx configuration of the course site (``make html``, ``scripts/build_site.py html``).

The builder writes the prepared notebooks and an ``index.md`` into a source folder and
runs Sphinx with this folder as the configuration directory; what depends on the build
(title, launch links, static folders, the original notebooks) comes as overrides.
Notebooks are rendered from their stored outputs: nothing is executed.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # course_sphinx

project = "Input normalization and Batch Normalization"
author = "the course authors"
copyright = "the course authors, MIT licence"  # noqa: A001 - Sphinx's name

extensions = ["myst_nb", "course_sphinx"]

# MyST-NB: the stored outputs, as they are.
nb_execution_mode = "off"
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type"]

exclude_patterns = ["_build", "**.ipynb_checkpoints", "_course_static"]  # (static files)
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
master_doc = "index"
language = "en"


html_theme = "sphinx_book_theme"
html_title = project
html_copy_source = True
html_sourcelink_suffix = ""  # "_sources/NN_name.ipynb": the download is the notebook
html_show_sphinx = False
# Search results without a snippet: a snippet needs the result page fetched, which a
# browser refuses for a site opened from files (the site works offline, from a folder).
html_show_search_summary = False
html_last_updated_fmt = None
html_css_files = ["course/course.css"]
html_js_files = ["course/static-widget.js"]
html_theme_options = {
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "use_download_button": True,
    "use_fullscreen_button": True,
}
