"""The lesson-07 checkers accept correct solutions and name each typical mistake (mutation
tests). That they never raise, whatever the learner's function does:
tests/test_checks_hostile.py.

The wrong functions below are written the way a learner would write them, not taken
from the checkers' lists of mistakes.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from course_lib import checks
from course_lib import pytorch_bn as pbn
from course_lib.checks import _core
from course_lib.checks import pytorch_bn as cp
from course_lib.lessons import skip_reason

TIMEOUT = 5.0  # generous: the machine may be busy; only endless loops wait for it


@pytest.fixture(autouse=True)
def _fresh_state():
    """Each test starts as a fresh kernel would: no failure seen yet (no level 2)."""
    saved = dict(_core._last_failure)
    _core._last_failure.clear()
    yield
    _core._last_failure.clear()
    _core._last_failure.update(saved)


# ------------------------------------------------------------------ convert_bn_state
def check_convert(fn):
    return checks.check_convert_bn_state(fn, timeout=TIMEOUT)


checked_convert = functools.cache(check_convert)

UNBIASED = {"paper": True, "pytorch": True, "keras": False}


def convert_by_table(running_mean, running_var, momentum, batch_size, steps, source, target):
    """Correct, written differently: β first, then the two variance conventions."""
    beta = {"pytorch": 1 - momentum}.get(source, momentum)
    m = batch_size
    w0 = beta**steps
    data_part = running_var - w0
    if source == "keras" and target != "keras":
        data_part = data_part * m / (m - 1)
    elif source != "keras" and target == "keras":
        data_part = data_part * (m - 1) / m
    new_momentum = 1 - beta if target == "pytorch" else beta
    return np.array(running_mean, dtype=float), w0 + data_part, new_momentum


def convert_via_sums(running_mean, running_var, momentum, batch_size, steps, source, target):
    """Correct: undo the start value, convert, redo it."""
    beta = 1 - momentum if source == "pytorch" else momentum
    start = beta**steps
    weighted = running_var - start  # (1 - β) Σ β^(t-i) s_i
    biased = weighted * (batch_size - 1) / batch_size if UNBIASED[source] else weighted
    out = biased * batch_size / (batch_size - 1) if UNBIASED[target] else biased
    return running_mean + 0.0, out + start, (1 - beta) if target == "pytorch" else beta


def test_the_reference_and_other_correct_solutions_pass():
    for fn in (pbn.convert_bn_state, convert_by_table, convert_via_sums):
        result = check_convert(fn)
        assert result, str(result)
    assert result.cases_run == 7


def forgets_pytorch_flip(running_mean, running_var, momentum, batch_size, steps, source, target):
    beta = 1 - momentum if source == "pytorch" else momentum
    w = beta**steps
    f = _factor(batch_size, source, target)
    return running_mean.copy(), w + (running_var - w) * f, momentum


def flips_for_any_change(running_mean, running_var, momentum, batch_size, steps, source, target):
    beta = 1 - momentum if source == "pytorch" else momentum
    w = beta**steps
    new = momentum if source == target else 1 - momentum
    return running_mean.copy(), w + (running_var - w) * _factor(batch_size, source, target), new


def rescales_everything(running_mean, running_var, momentum, batch_size, steps, source, target):
    beta = 1 - momentum if source == "pytorch" else momentum
    f = _factor(batch_size, source, target)
    return running_mean.copy(), running_var * f, 1 - beta if target == "pytorch" else beta


def copies_the_variance(running_mean, running_var, momentum, batch_size, steps, source, target):
    beta = 1 - momentum if source == "pytorch" else momentum
    return running_mean.copy(), running_var.copy(), 1 - beta if target == "pytorch" else beta


def upside_down_factor(running_mean, running_var, momentum, batch_size, steps, source, target):
    beta = 1 - momentum if source == "pytorch" else momentum
    w = beta**steps
    f = 1 / _factor(batch_size, source, target)
    return running_mean.copy(), w + (running_var - w) * f, 1 - beta if target == "pytorch" else beta


def scales_paper_to_pytorch(running_mean, running_var, momentum, batch_size, steps, source, target):
    beta = 1 - momentum if source == "pytorch" else momentum
    m, w = batch_size, beta**steps
    order = ["keras", "paper", "pytorch"]  # "the further right, the more unbiased"
    f = 1.0
    if order.index(target) > order.index(source):
        f = m / (m - 1)
    elif order.index(target) < order.index(source):
        f = (m - 1) / m
    return running_mean.copy(), w + (running_var - w) * f, 1 - beta if target == "pytorch" else beta


def uses_momentum_as_beta_for_the_start(
    running_mean, running_var, momentum, batch_size, steps, source, target
):
    beta = 1 - momentum if source == "pytorch" else momentum
    w = momentum**steps if source == "pytorch" else (1 - beta) ** steps
    f = _factor(batch_size, source, target)
    return running_mean.copy(), w + (running_var - w) * f, 1 - beta if target == "pytorch" else beta


def square_root_factor(running_mean, running_var, momentum, batch_size, steps, source, target):
    beta = 1 - momentum if source == "pytorch" else momentum
    w = beta**steps
    f = np.sqrt(_factor(batch_size, source, target))
    return running_mean.copy(), w + (running_var - w) * f, 1 - beta if target == "pytorch" else beta


def scales_the_mean(running_mean, running_var, momentum, batch_size, steps, source, target):
    beta = 1 - momentum if source == "pytorch" else momentum
    w = beta**steps
    f = _factor(batch_size, source, target)
    return running_mean * f, w + (running_var - w) * f, 1 - beta if target == "pytorch" else beta


def variance_first(running_mean, running_var, momentum, batch_size, steps, source, target):
    mean, var, mom = pbn.convert_bn_state(
        running_mean, running_var, momentum, batch_size, steps, source, target
    )
    return var, mean, mom


def _factor(m, source, target):
    if UNBIASED[source] == UNBIASED[target]:
        return 1.0
    return m / (m - 1) if UNBIASED[target] else (m - 1) / m


CONVERT_MISTAKES = [
    (forgets_pytorch_flip, "momentum is not translated"),
    (flips_for_any_change, "two conventions that agree"),
    (rescales_everything, "start value is rescaled too"),
    (copies_the_variance, "variance is not converted"),
    (upside_down_factor, "scaled the wrong way"),
    (scales_paper_to_pytorch, "between the paper and PyTorch"),
    (uses_momentum_as_beta_for_the_start, "start value's weight is wrong"),
    (square_root_factor, "without a square root"),
    (scales_the_mean, "running mean changes"),
    (variance_first, "outputs are swapped"),
]


@pytest.mark.parametrize(
    ("fn", "words"), CONVERT_MISTAKES, ids=lambda x: getattr(x, "__name__", "")
)
def test_each_conversion_mistake_gets_its_hint(fn, words):
    result = checked_convert(fn)
    assert not result
    assert words in result.hint, str(result)


def test_conversion_hints_are_all_different():
    hints = [checked_convert(fn).hint for fn, _ in CONVERT_MISTAKES]
    assert len(set(hints)) == len(hints)


def test_the_first_hint_gives_no_formula_and_the_second_level_does():
    first = check_convert(rescales_everything)
    assert "β^t" not in first.hint and "β^t" in first.more_hint
    assert "Stuck?" in str(first) and "More:" not in str(first)
    second = check_convert(rescales_everything)
    assert second.level == 2 and "v_new = β^t + (v − β^t) · factor" in str(second)


# ------------------------------------------------------------------ train_and_predict
needs_torch = pytest.mark.skipif(
    not pbn.torch_available(), reason=str(skip_reason("07_batch_norm_in_pytorch"))
)


def make_script(
    momentum=0.1,
    skip="incomplete",
    freeze_bn=True,
    eval_at_end=True,
    loader=False,
    bn_freeze_style="body",
    whole_test_set=False,
    extra_bn_steps=False,
):
    """A learner's version of the script, with switches for what they may get wrong (or
    right in another way). Written independently of course_lib's reference."""

    def train_and_predict(X_train, y_train, X_new, y_new, X_test, seed=0):
        import torch
        import torch.nn.functional as F
        from torch import nn

        torch.manual_seed(seed)
        n, k = X_train.shape[1], int(y_train.max()) + 1
        f64 = torch.float64
        body = nn.Sequential(
            nn.Linear(n, 32, bias=False, dtype=f64),
            nn.BatchNorm1d(32, momentum=momentum, dtype=f64),
            nn.ReLU(),
        )
        head = nn.Sequential(
            nn.Linear(32, 16, bias=False, dtype=f64),
            nn.BatchNorm1d(16, momentum=momentum, dtype=f64),
            nn.ReLU(),
            nn.Linear(16, k, dtype=f64),
        )
        model = nn.Sequential(body, head)
        Xtr, ytr = torch.tensor(X_train), torch.tensor(y_train)
        Xn, yn = torch.tensor(X_new), torch.tensor(y_new)

        def batches(X, y):
            if loader:
                data = torch.utils.data.TensorDataset(X, y)
                yield from torch.utils.data.DataLoader(data, batch_size=16, drop_last=True)
                return
            for s in range(0, len(X), 16):
                xb, yb = X[s : s + 16], y[s : s + 16]
                if skip == "incomplete" and len(xb) < 16:
                    break
                if skip == "one" and len(xb) < 2:
                    break
                yield xb, yb

        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            model.train()
            for xb, yb in batches(Xtr, ytr):
                opt.zero_grad()
                F.cross_entropy(model(xb), yb).backward()
                opt.step()
        for p in body.parameters():
            p.requires_grad_(False)
        opt = torch.optim.SGD(head.parameters(), lr=0.1)
        for _ in range(3):
            model.train()
            if freeze_bn and bn_freeze_style == "body":
                body.eval()
            elif freeze_bn:
                for m in body.modules():
                    if isinstance(m, nn.BatchNorm1d):
                        m.eval()
            if extra_bn_steps:  # "freezes" by setting momentum 0 (the body stays in train mode)
                body[1].momentum = 0.0
            for xb, yb in batches(Xn, yn):
                opt.zero_grad()
                F.cross_entropy(model(xb), yb).backward()
                opt.step()
        if eval_at_end:
            model.eval()
        with torch.no_grad():
            Xt = torch.tensor(X_test)
            if whole_test_set:
                return torch.softmax(model(Xt), dim=1).numpy()
            return torch.softmax(
                torch.cat([model(Xt[i : i + 64]) for i in range(0, len(Xt), 64)]), dim=1
            ).numpy()

    return train_and_predict


SCRIPT_TIMEOUT = 20.0  # a script trains a small network; a busy machine may take seconds


def check_script(fn):
    return checks.check_train_and_predict(fn, timeout=SCRIPT_TIMEOUT)


@needs_torch
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"loader": True},
        {"bn_freeze_style": "modules"},
        {"whole_test_set": True},
        {"momentum": 1 - 0.9},
    ],
    ids=[
        "as written",
        "DataLoader(drop_last=True)",
        "each BN module .eval()",
        "all test rows at once",
        "momentum=1-0.9",
    ],
)
def test_correct_scripts_pass(options):
    result = check_script(make_script(**options))
    assert result, str(result)
    assert result.cases_run == 3 and str(result) == "✔ train_and_predict: all 3 checks passed."


@needs_torch
def test_the_reference_passes():
    assert check_script(pbn.train_and_predict)


SCRIPT_MISTAKES = {
    "Keras's momentum": ({"momentum": 0.9}, "weight of the new batch"),
    "batch of one left in": ({"skip": None}, "a batch of one single row"),
    "only a batch of one skipped": ({"skip": "one"}, "incomplete mini-batch"),
    "frozen BN still in training mode": ({"freeze_bn": False}, "the frozen body is not frozen"),
    "momentum 0 instead of eval": (
        {"freeze_bn": False, "extra_bn_steps": True},
        "differ from those of a script",
    ),
    "no model.eval()": ({"eval_at_end": False}, "made in training mode"),
    "two problems": ({"momentum": 0.9, "eval_at_end": False}, "at least 2 of its problems left"),
    "three problems": ({"momentum": 0.9, "freeze_bn": False, "eval_at_end": False}, "at least 2"),
}


@needs_torch
@pytest.mark.parametrize("name", list(SCRIPT_MISTAKES))
def test_each_script_mistake_gets_its_hint(name):
    options, words = SCRIPT_MISTAKES[name]
    result = check_script(make_script(**options))
    assert not result, f"{name} was accepted"
    assert words in str(result), str(result)
    for code in ("momentum=0.1", "body.eval()", "model.eval()", "% 16"):
        assert code not in result.hint, f"level 1 gives the code away: {result.hint}"


@needs_torch
def test_the_second_level_is_more_concrete():
    broken = make_script(freeze_bn=False)
    first = check_script(broken)
    assert first.level == 1 and "body.eval()" in first.more_hint
    second = check_script(broken)
    assert second.level == 2 and "body.eval()" in str(second)


@needs_torch
def test_the_batch_of_one_hint_is_shown_without_line_numbers():
    result = check_script(make_script(skip=None))
    assert "find where the script can make a batch of one row" in result.hint
    assert not any("(line" in d for d in result.details), result.details


@needs_torch
def test_a_tensor_that_needs_gradients_gets_a_hint():
    def returns_tensor(X_train, y_train, X_new, y_new, X_test, seed=0):
        import torch

        return torch.full((len(X_test), 3), 1 / 3, dtype=torch.float64, requires_grad=True)

    result = check_script(returns_tensor)
    assert not result and "tensor.detach().numpy()" in result.hint, str(result)


@needs_torch
def test_a_plain_tensor_of_the_right_numbers_is_accepted():
    def returns_tensor(X_train, y_train, X_new, y_new, X_test, seed=0):
        import torch

        return torch.tensor(make_script()(X_train, y_train, X_new, y_new, X_test, seed))

    result = check_script(returns_tensor)
    assert result, str(result)


def test_without_pytorch_the_checker_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(cp._ref, "torch_available", lambda: False)
    result = check_script(pbn.train_and_predict)
    assert not result and "make torch" in result.hint and "PyTorch is not installed" in result.hint


@needs_torch
def test_the_checker_leaves_the_callers_pytorch_as_it_was():
    import torch

    threads = torch.get_num_threads()
    state = torch.get_rng_state()
    check_script(make_script(momentum=0.9))
    assert torch.get_num_threads() == threads
    assert torch.equal(state, torch.get_rng_state())
