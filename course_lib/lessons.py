"""The lessons of the course, in order: one place for the README, the site,
the benchmarks and the browser tests to read titles, notebooks and widgets from.

A lesson's live widget (the cell tagged ``widget`` in its notebook) is registered
here as "module:function"; ``frames`` says how its static copy for the site and the
slides is drawn (``static_widgets.FrameSpec``: which two sliders interact, how many
stops per slider, one sentence saying what the picture shows). A new lesson gets its
static widget by registering its widget the same way.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from .static_widgets import FrameSpec


@dataclass(frozen=True)
class Lesson:
    number: str
    title: str
    notebook: str  # file name in notebooks/, without extension
    widget: str  # "module:function" returning the lesson's ipywidgets explorer
    frames: FrameSpec = field(default_factory=FrameSpec)  # its static copy

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
)
