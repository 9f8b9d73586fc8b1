"""The lessons of the course, in order: one place for the README, the site,
the benchmarks and the browser tests to read titles, notebooks and widgets from."""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Lesson:
    number: str
    title: str
    notebook: str  # file name in notebooks/, without extension
    widget: str  # "module:function" returning the lesson's ipywidgets explorer

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
    ),
    Lesson("02", "Cost contours", "02_cost_contours", "course_lib.contours:contour_explorer"),
    Lesson(
        "03",
        "Batch Norm formulas",
        "03_batch_norm_formulas",
        "course_lib.bn_plots:batchnorm_explorer",
    ),
    Lesson(
        "04",
        "Batch Norm in a network",
        "04_batch_norm_in_a_network",
        "course_lib.network_plots:activation_explorer",
    ),
    Lesson(
        "05", "Batch Norm at test time", "05_batch_norm_at_test_time", "course_lib.ema:ema_explorer"
    ),
    Lesson(
        "06",
        "Normalization beyond the MLP",
        "06_normalization_beyond_mlp",
        "course_lib.norm_plots:normalization_explorer",
    ),
)
