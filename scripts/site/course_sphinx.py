"""The course's additions to Sphinx and MyST-NB (loaded by conf.py).

- Alt text of figures: MyST-NB takes an image's ``alt`` only from cell metadata; the
  course stores one sentence per figure in the output's metadata
  (``{"image/png": {"alt": ...}}``, written by ``course_lib.figures.show``), as
  nbconvert reads it. Here MyST-NB's image renderer reads it too.
- "Going deeper" sections: the builder puts a marker (``GOING_DEEPER_FLAG``) right
  under the heading of a section whose cells carry the tag ``going-deeper``; here the
  section gets the class ``going-deeper`` and a visible note in place of the marker.
- Downloads: the ``.ipynb`` a reader downloads is the original notebook (the builder's
  ``course_original_notebooks``), not the copy prepared for the page.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from docutils import nodes
from myst_nb.core.render import NbElementRenderer
from sphinx.application import Sphinx
from sphinx.transforms import SphinxTransform

GOING_DEEPER_FLAG = '<div class="going-deeper-flag"></div>'
GOING_DEEPER_NOTE = (
    "Going deeper (optional): beyond the lesson's core path. The slides leave this out."
)

_render_image = NbElementRenderer.render_image


def _render_image_with_alt(self, data):
    found = _render_image(self, data)
    alt = data.output_metadata.get(data.mime_type, {}).get("alt")
    if alt:
        for node in found:
            if isinstance(node, nodes.image) and not node.get("alt"):
                node["alt"] = str(alt)
    return found


class GoingDeeper(SphinxTransform):
    default_priority = 500

    def apply(self, **kwargs) -> None:
        for raw in list(self.document.findall(nodes.raw)):
            if GOING_DEEPER_FLAG not in raw.astext():
                continue
            section = raw.parent
            while section is not None and not isinstance(section, nodes.section):
                section = section.parent
            note = nodes.paragraph("", GOING_DEEPER_NOTE, classes=["going-deeper-note"])
            raw.replace_self(note)
            if section is not None:
                section["classes"].append("going-deeper")


def _copy_originals(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for docname, original in app.config.course_original_notebooks.items():
        target = Path(app.outdir) / "_sources" / f"{docname}.ipynb"
        if target.parent.is_dir():
            shutil.copyfile(original, target)


def setup(app: Sphinx) -> dict:
    NbElementRenderer.render_image = _render_image_with_alt
    app.add_transform(GoingDeeper)
    app.add_config_value("course_original_notebooks", {}, "html", dict)
    app.connect("build-finished", _copy_originals)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
