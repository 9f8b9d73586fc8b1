"""The lessons of the course, in order: one place for the README, the site,
the benchmarks and the browser tests to read titles, notebooks and widgets from.

A lesson's live widget (the cell tagged ``widget`` in its notebook) is registered
here as "module:function"; ``frames`` says how its static copy for the site and the
slides is drawn (``static_widgets.FrameSpec``: which two sliders interact, how many
stops per slider, one sentence saying what the picture shows). A new lesson gets its
static widget by registering its widget the same way.

A lesson may need an optional package (lesson 07: PyTorch). Where it is missing, what
runs the lesson (nbval, the re-run and autograde tests, the browser tests, the
benchmarks) skips it with ``skip_reason``, one line that says why and how to install
it; what only reads the stored notebook (the release, slides and site) keeps it.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field

from .static_widgets import FrameSpec

# Optional packages a lesson may require: import name -> (what it is, how to install it).
OPTIONAL = {"torch": ("PyTorch", "`make torch` installs its CPU build (see the README)")}


@dataclass(frozen=True)
class Lesson:
    number: str
    title: str
    notebook: str  # file name in notebooks/, without extension
    widget: str  # "module:function" returning the lesson's ipywidgets explorer
    frames: FrameSpec = field(default_factory=FrameSpec)  # its static copy
    requires: tuple[str, ...] = ()  # optional packages (import names) it needs

    def missing(self) -> tuple[str, ...]:
        """The optional packages this lesson needs that cannot be imported here."""
        return tuple(m for m in self.requires if importlib.util.find_spec(m) is None)

    def skip_reason(self) -> str | None:
        """None when the lesson can run here; else one line: why not, and the remedy."""
        missing = self.missing()
        if not missing:
            return None
        names = " and ".join(OPTIONAL.get(m, (m, ""))[0] for m in missing)
        remedies = "".join(f"; {OPTIONAL[m][1]}" for m in missing if m in OPTIONAL)
        return (
            f"lesson {self.number} ({self.title}) skipped: it needs {names}, which is not "
            f"installed{remedies}"
        )

    def make_widget(self):
        """Build the lesson's live widget (sliders + an Image/HTML that they redraw)."""
        module, func = self.widget.split(":")
        return getattr(importlib.import_module(module), func)()


LESSONS = (
    Lesson(
        "01",
        "Input normalization",
        "01_input_normalization",
        "course_lib.scatter:normalization_explorer",
        FrameSpec(
            alt="A two-feature training cloud drawn three times, raw, centred and scaled, "
            "beside the training mean and standard deviation of each feature."
        ),
    ),
    Lesson(
        "02",
        "Cost contours",
        "02_cost_contours",
        "course_lib.contours:contour_explorer",
        # The learning rate only means something together with the scale (kappa).
        FrameSpec(
            grid=("x₁ scale (σ₁/σ₂)", "lr / (2/λmax)"),
            stops=13,
            alt="Contours of the cost with the gradient-descent path from w = 0 (left) and "
            "the relative cost gap per step on a log scale (right).",
        ),
    ),
    Lesson(
        "03",
        "Batch Norm formulas",
        "03_batch_norm_formulas",
        "course_lib.bn_plots:batchnorm_explorer",
        FrameSpec(
            alt="Histograms of one feature of a batch before Batch Norm (left) and after "
            "it (right)."
        ),
    ),
    Lesson(
        "04",
        "Batch Norm in a network",
        "04_batch_norm_in_a_network",
        "course_lib.network_plots:activation_explorer",
        FrameSpec(
            stops=25,
            alt="Histograms of the sigmoid inputs of every hidden layer at one training "
            "step, without Batch Norm (top row) and with it (bottom row).",
        ),
    ),
    Lesson(
        "05",
        "Batch Norm at test time",
        "05_batch_norm_at_test_time",
        "course_lib.ema:ema_explorer",
        # How far the estimates get depends on beta and the number of steps together.
        FrameSpec(
            grid=("β", "steps"),
            alt="The running mean (left) and running variance (right) over the training "
            "steps, with and without bias correction, against the population values.",
        ),
    ),
    Lesson(
        "06",
        "Normalization beyond the MLP",
        "06_normalization_beyond_mlp",
        "course_lib.norm_plots:normalization_explorer",
        # The groups only mean something for Group Norm: every kind with every G.
        FrameSpec(
            grid=("normalization", "groups G"),
            alt="A block of feature maps (examples by channels by positions) with the values "
            "that share one mean and variance with example 0's chosen channel in blue, "
            "beside those statistics on the digits.",
        ),
    ),
    Lesson(
        "07",
        "Batch Norm in PyTorch",
        "07_batch_norm_in_pytorch",
        "course_lib.pytorch_bn:mode_explorer",
        # The curve is drawn for one batch size; the share moves the point along it.
        FrameSpec(
            grid=("batch size", "share of one class"),
            alt="Training-mode validation accuracy against the share of one class in each "
            "batch, for one batch size, beside the inference-mode accuracy (dashed line).",
        ),
        requires=("torch",),
    ),
)


def by_notebook(name: str) -> Lesson | None:
    """The lesson whose notebook is ``name`` (file name or stem, e.g. "07_batch_norm_in_pytorch"
    or a path ending in it), or None."""
    stem = (
        str(name).replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".ipynb").removesuffix(".py")
    )
    return next((lesson for lesson in LESSONS if lesson.notebook == stem), None)


def skip_reason(name: str) -> str | None:
    """Why the lesson of notebook ``name`` cannot run here (one line), or None."""
    lesson = by_notebook(name)
    return lesson.skip_reason() if lesson else None
