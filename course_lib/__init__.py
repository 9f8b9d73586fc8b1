"""course_lib: the tested code behind the course on input and Batch Normalization.

Each module maps to a lesson (see the README); the notebooks import from here
and keep only explanation and short experiments.

Conventions used everywhere (see the README, "Conventions"):
rows are examples, columns are features (``X`` has shape ``(m, n)``); variances
are biased (1/m) unless a name says otherwise; functions return new arrays and
never modify their inputs. ``set_language("zh_CN")`` switches hints, figure text,
widget labels and messages to Simplified Chinese (see ``course_lib.i18n``).
"""

__version__ = "1.0.0"

from . import i18n
from .i18n import get_language, set_language

i18n._from_environment()  # COURSE_LANG=zh_CN

__all__ = ["get_language", "set_language"]
