"""course_lib: the tested code behind the course on input and Batch Normalization.

Each module maps to a lesson (see the README); the notebooks import from here
and keep only explanation and short experiments.

Conventions used everywhere (see the README, "Conventions"):
rows are examples, columns are features (``X`` has shape ``(m, n)``); variances
are biased (1/m) unless a name says otherwise; functions return new arrays and
never modify their inputs.
"""

__version__ = "1.0.0"
