"""Exercise checkers: ``checks.check_<exercise>(learner_fn)`` -> CheckResult.

Each checker has the same signature as the function it checks, runs a set of
cases against the reference, never raises, and returns a result that is truthy
only when everything passed, displays itself (green on success, the failing
case and a hint that names the mistake otherwise), and has ``.assert_ok()`` for
graded test cells. The checkers live next to the lesson they belong to.
"""

from ._core import CheckResult, call_safely
from .batchnorm import check_batchnorm_backward, check_batchnorm_forward
from .descent import check_gradient_descent_step, check_largest_stable_lr
from .network import check_bn_layer_forward, check_bn_train_step
from .normalization import check_fit_normalizer, check_fold_normalization, check_normalize
from .norms import (
    check_groupnorm_backward,
    check_groupnorm_forward,
    check_layernorm_backward,
    check_layernorm_forward,
    check_spatial_batchnorm_backward,
    check_spatial_batchnorm_forward,
)
from .pytorch_bn import check_convert_bn_state, check_train_and_predict
from .running_stats import check_batchnorm_inference, check_update_running_stats

# Lesson modules, in course order (tests iterate over them to find every checker).
_LESSON_MODULES = (
    "normalization",
    "descent",
    "batchnorm",
    "network",
    "running_stats",
    "norms",
    "pytorch_bn",
)

__all__ = [
    "CheckResult",
    "call_safely",
    "check_fit_normalizer",
    "check_normalize",
    "check_fold_normalization",
    "check_gradient_descent_step",
    "check_largest_stable_lr",
    "check_batchnorm_forward",
    "check_batchnorm_backward",
    "check_bn_layer_forward",
    "check_bn_train_step",
    "check_update_running_stats",
    "check_batchnorm_inference",
    "check_layernorm_forward",
    "check_layernorm_backward",
    "check_spatial_batchnorm_forward",
    "check_spatial_batchnorm_backward",
    "check_groupnorm_forward",
    "check_groupnorm_backward",
    "check_train_and_predict",
    "check_convert_bn_state",
]
