"""Lesson 04's experiments: each function trains a few small networks on the digits
and returns a small result object, so that a notebook cell is a call and a print.

The set-up is Ioffe & Szegedy's MNIST experiment scaled down: scikit-learn's 8x8
digits (1347 training, 450 validation examples), inputs normalized with the
training set's mean and standard deviation (lesson 01), three hidden layers of 100
sigmoid units, mini-batches of 60, plain SGD; beside it the network a practitioner
would train today, ReLU with He initialization. Everything is seeded: the same call
gives the same numbers.

What the tables print does not depend on the machine (DESIGN.md, "Stored outputs
reproduce on every machine"): the networks train in float64, where two machines'
round-off stays far below what is printed; round-off itself is reported as a bound;
outcomes that vary from seed to seed are summarized over seeds (a median and a range
of steps, or "did every seed get there"), never as the digits of one chaotic run.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from . import gradcheck
from .data import digits
from .network import MLP, History, make_optimizer, train
from .normalization import fit_normalizer, normalize

SIZES = (64, 100, 100, 100, 10)
LR = 0.3
STEPS = 1200
BATCH = 60
PERCENTILES = (15, 50, 85)
HIST_EDGES = np.linspace(-5.0, 5.0, 51)  # bins for the sigmoid inputs (outside: end bins)
HE = float(np.sqrt(2.0))  # He et al. (2015): W ~ N(0, 2 / fan_in) for ReLU


# ------------------------------------------------------------------ data
@dataclass(frozen=True)
class DigitsData:
    """Normalized digits. X_*: (m, 64) float64 (read-only), y_*: (m,) labels 0..9;
    mu, sigma: (64,) the training set's statistics; raw_val: the unnormalized
    validation inputs (pixel values 0..16)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    raw_val: np.ndarray

    def __repr__(self) -> str:
        return (
            f"DigitsData(train {self.X_train.shape}, validation {self.X_val.shape}, "
            "inputs normalized with the training mean and std)"
        )


@functools.cache
def digits_data(seed: int = 0) -> DigitsData:
    """The digits split of ``course_lib.data.digits(seed=seed)``, normalized (lesson 01).

    Constant pixels (always 0 in the training set) are centred and keep scale 1;
    the warning about them is silenced here. Cached: the arrays are read-only.
    """
    split = digits(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mu, sigma = fit_normalizer(split.X_train)
    arrays = [
        normalize(split.X_train, mu, sigma),
        np.asarray(split.y_train),
        normalize(split.X_test, mu, sigma),
        np.asarray(split.y_test),
        mu,
        sigma,
        np.asarray(split.X_test, dtype=np.float64),
    ]
    for a in arrays:
        a.flags.writeable = False
    return DigitsData(*arrays)


def make_mlp(batchnorm: bool, seed: int = 0, **kw) -> MLP:
    """The lesson's network: 64-100-100-100-10, sigmoid, optionally with BN."""
    return MLP(
        SIZES, activation=kw.pop("activation", "sigmoid"), batchnorm=batchnorm, seed=seed, **kw
    )


@dataclass(frozen=True)
class Net:
    """One network of the comparisons: the lesson's layer sizes with an activation,
    with or without BN, and an initial weight scale (W ~ N(0, init_scale^2 / fan_in):
    1 is LeCun's initialization, sqrt(2) He's for ReLU)."""

    label: str
    activation: str = "sigmoid"
    batchnorm: bool = False
    init_scale: float = 1.0
    bn_position: str = "before"

    def model(self, seed: int, init_factor: float = 1.0, ghost_batch: int | None = None) -> MLP:
        """A fresh float64 network; ``init_factor`` multiplies the initial weight scale;
        ``ghost_batch``: BN normalizes groups of that many rows (see ``MLP``)."""
        return make_mlp(
            self.batchnorm,
            seed,
            activation=self.activation,
            init_scale=self.init_scale * init_factor,
            bn_position=self.bn_position,
            ghost_batch=ghost_batch,
        )


SIGMOID = Net("sigmoid, LeCun init (the paper's)")
SIGMOID_BN = Net("sigmoid, LeCun init + BN", batchnorm=True)
SIGMOID_X4 = Net("sigmoid, init x 4 (well initialized)", init_scale=4.0)
RELU = Net("ReLU, He init", "relu", init_scale=HE)
RELU_BN = Net("ReLU, He init + BN", "relu", batchnorm=True, init_scale=HE)
SIGMOID_BN_AFTER = Net("sigmoid + BN after the activation", batchnorm=True, bn_position="after")
NETWORKS = (SIGMOID, SIGMOID_X4, SIGMOID_BN, RELU, RELU_BN)


# ------------------------------------------------------------------ what a run records
class ProbeMonitor:
    """Called by ``train`` at each evaluation: looks at the hidden layers on a fixed
    probe set (the validation inputs) in **inference mode**: with BN, each layer is
    normalized with the running statistics, as at test time. (In training mode the
    batch mean of z~ would be beta by construction, whatever the weights do.)

    Records, per evaluation, a dict with
    "pct": (3,) the 15th/50th/85th percentiles of the input of one sigmoid (layer
        ``layer``, unit ``unit``), as in Ioffe & Szegedy's Figure 1(b, c);
    "hist": (L, bins) histogram counts of every hidden layer's activation inputs
        (edges ``HIST_EDGES``; values beyond go to the end bins);
    "mean", "std": (L, n) per unit mean and standard deviation of the activation
        inputs (z~ with BN, z without);
    "pre_mean", "pre_std": (L, n) the same for the linear outputs z = a W before BN
        (equal to "mean", "std" without BN);
    with labels ``y_probe`` also "acc", "loss": the accuracy and mean cross-entropy
    on the probe set, from the same forward pass.
    """

    def __init__(
        self, X_probe: np.ndarray, layer: int = -1, unit: int = 0, y_probe: np.ndarray | None = None
    ) -> None:
        self.X_probe = X_probe
        self.y_probe = y_probe
        self.layer = layer
        self.unit = unit

    def __call__(self, model: MLP) -> dict:
        values = model.layer_values(self.X_probe, training=False)
        zs = [v["z"] for v in values]
        record = {
            "pct": np.percentile(zs[self.layer][:, self.unit], PERCENTILES),
            "hist": np.stack([_histogram(z) for z in zs]),
            "mean": np.stack([z.mean(0) for z in zs]),
            "std": np.stack([z.std(0) for z in zs]),
        }
        if model.batchnorm and model.bn_position == "before":
            pres = [v["z_pre"] for v in values]
            record["pre_mean"] = np.stack([z.mean(0) for z in pres])
            record["pre_std"] = np.stack([z.std(0) for z in pres])
        else:
            record["pre_mean"], record["pre_std"] = record["mean"], record["std"]
        if self.y_probe is not None:
            L = len(model.sizes) - 1
            logits = values[-1]["a"] @ model.params[f"W{L}"] + model.params[f"b{L}"]
            record["acc"], record["loss"] = _accuracy_and_loss(logits, self.y_probe)
        return record


def _histogram(z: np.ndarray, edges: np.ndarray = HIST_EDGES) -> np.ndarray:
    """Counts of z in the equal bins ``edges`` (values beyond go to the end bins): the
    bin index computed directly, one pass (np.histogram sorts or searches)."""
    bins = len(edges) - 1
    k = np.floor((z.ravel() - edges[0]) * (bins / (edges[-1] - edges[0])))
    np.clip(k, 0, bins - 1, out=k)
    return np.bincount(k.astype(np.intp), minlength=bins)


def _accuracy_and_loss(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Accuracy and mean softmax cross-entropy of logits (m, k) for labels y (m,)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_s = np.log(np.exp(shifted).sum(axis=1))
    loss = float(np.mean(log_s - shifted[np.arange(len(y)), y]))
    return float(np.mean(logits.argmax(axis=1) == y)), loss


@dataclass
class Run:
    """One trained network and what was recorded about it."""

    label: str
    model: MLP
    history: History
    probes: dict = field(default_factory=dict)  # name -> array stacked over evaluations

    @property
    def steps(self) -> np.ndarray:
        return self.history.eval_steps


def _stack(monitored: list[dict]) -> dict:
    return {key: np.stack([m[key] for m in monitored]) for key in monitored[0]}


# ------------------------------------------------------------------ with and without BN
@dataclass
class Comparison:
    """The same network trained with and without BN (same data, seed, lr, steps)."""

    plain: Run
    bn: Run
    lr: float
    steps: int

    def steps_to(self, accuracy: float) -> tuple[int | None, int | None]:
        """Steps (at the evaluation resolution) each run needed to reach a validation
        accuracy; None when it never did."""
        return self.plain.history.steps_to(accuracy), self.bn.history.steps_to(accuracy)

    def accuracy_at(self, step: int) -> tuple[float, float]:
        """Validation accuracy of both runs after ``step`` steps (nearest evaluation)."""
        out = []
        for run in (self.plain, self.bn):
            k = int(np.argmin(np.abs(run.history.eval_steps - step)))
            out.append(float(run.history.val_acc[k]))
        return out[0], out[1]

    def table(self, at: Sequence[int] = (100, 300, 600, 1200)) -> str:
        lines = [
            f"validation accuracy (lr {self.lr:g}, batch {BATCH}, SGD)",
            "  steps   plain    BN",
        ]
        for s in at:
            p, b = self.accuracy_at(s)
            lines.append(f"  {s:5d}   {p:.2f}    {b:.2f}")
        return "\n".join(lines)


def compare_bn(
    lr: float = LR,
    steps: int = STEPS,
    *,
    seed: int = 0,
    eval_every: int = 10,
    layer: int = -1,
    unit: int = 0,
    progress: bool = False,
) -> Comparison:
    """Train the lesson's network without and with BN, recording the validation
    curves and a ``ProbeMonitor`` (percentiles, histograms, layer statistics, in
    inference mode). The training set is scored only after the last step.
    progress: show a progress bar for each run (it does not change the results)."""
    data = digits_data()
    runs = []
    for batchnorm in (False, True):
        model = make_mlp(batchnorm, seed=seed)
        # the probe's forward pass on the validation digits also scores them
        monitor = ProbeMonitor(data.X_val, layer=layer, unit=unit, y_probe=data.y_val)
        history = _train_on_digits(
            model,
            validation=False,
            lr=lr,
            steps=steps,
            batch_size=BATCH,
            seed=seed,
            eval_every=eval_every,
            eval_train=False,
            monitor=monitor,
            progress=progress,
        )
        probes = _stack(history.monitor)
        history.val_acc, history.val_loss = probes.pop("acc"), probes.pop("loss")
        if eval_every == EVAL_EVERY:  # the same runs as in the speed table's first rows
            _remember(SIGMOID_BN if batchnorm else SIGMOID, lr, seed, history, steps)
        label = "with BN" if batchnorm else "without BN"
        runs.append(Run(label, model, history, probes))
    return Comparison(runs[0], runs[1], lr, steps)


def _train_on_digits(model: MLP, *, validation: bool = True, **kw) -> History:
    """``train`` on the normalized digits, evaluated on their validation split unless
    ``validation`` is False; ``kw``: train's other arguments (lr, steps, ...)."""
    data = digits_data()
    if validation:
        kw.update(X_val=data.X_val, y_val=data.y_val)
    return train(model, data.X_train, data.y_train, **kw)


# ------------------------------------------------------------------ runs over seeds
TARGET = 0.90  # validation accuracy that counts as "trained" in the speed comparisons

EVAL_EVERY = 10  # steps between two evaluations of the validation accuracy

# (net, lr, seed, init_factor) -> (eval steps, val accuracies, steps asked for, the target
# the run stopped at or None, diverged): every run trained in this process, so that the
# same run is never trained twice (the notebook's tables share many).
_RUNS: dict[tuple, tuple[np.ndarray, np.ndarray, int, float | None, bool]] = {}


def _known(key: tuple, steps: int, target: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The validation curve of a run already trained, cut at ``steps``, if it answers
    "when did it reach ``target``, within ``steps``?" exactly; else None."""
    if key not in _RUNS:
        return None
    at, acc, _, stopped_at, diverged = _RUNS[key]
    long_enough = at[-1] >= steps
    reached_higher = stopped_at is not None and acc[-1] >= stopped_at and target <= stopped_at
    if diverged or long_enough or reached_higher:
        keep = at <= steps
        return at[keep], acc[keep]
    return None


def _remember(
    net: Net,
    lr: float,
    seed: int,
    history: History,
    steps: int,
    stopped_at: float | None = None,
    init_factor: float = 1.0,
) -> None:
    """Keep a run's validation curve (evaluated every ``EVAL_EVERY`` steps) for reuse."""
    acc = np.nan_to_num(history.val_acc, nan=0.0)
    diverged = len(history.loss) > 0 and not np.isfinite(history.loss[-1])
    key = (net, float(lr), int(seed), float(init_factor))
    _RUNS[key] = (history.eval_steps, acc, steps, stopped_at, diverged)


def _curve(
    net: Net, lr: float, seed: int, steps: int, target: float, init_factor: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Validation accuracy every 10 steps of one run, stopped at ``target`` or after
    ``steps``: (eval steps, accuracies). Runs already trained in this process (by
    this function or by ``compare_bn``) answer without training again."""
    key = (net, float(lr), int(seed), float(init_factor))
    known = _known(key, steps, target)
    if known is not None:
        return known
    with np.errstate(all="ignore"):  # a diverging run overflows: that is the result
        h = _train_on_digits(
            net.model(seed, init_factor),
            lr=lr,
            steps=steps,
            seed=seed,
            eval_every=EVAL_EVERY,
            eval_train=False,
            stop_at=target,
            stop_if_diverged=True,
        )
    _remember(net, lr, seed, h, steps, stopped_at=target, init_factor=init_factor)
    return _known(key, steps, target)


@dataclass(frozen=True)
class Seeds:
    """One network at one setting, trained from several seeds: per seed, the steps it
    needed to reach the target validation accuracy (None: not within ``cap`` steps)
    and the best validation accuracy it had by then."""

    steps: tuple[int | None, ...]
    best: tuple[float, ...]
    cap: int

    @property
    def all_reached(self) -> bool:
        return all(s is not None for s in self.steps)

    @property
    def median(self) -> int | None:
        """Median steps over the seeds (a step count that was measured: odd number of
        seeds), or None unless every seed reached the target."""
        if not self.all_reached:
            return None
        return int(sorted(self.steps)[(len(self.steps) - 1) // 2])


def seeds_run(
    net: Net,
    lr: float,
    seeds: Sequence[int] = range(5),
    *,
    target: float = TARGET,
    steps: int = 300,
    init_factor: float = 1.0,
) -> Seeds:
    """Train ``net`` from each seed (its own weights and its own batch order) until the
    validation accuracy reaches ``target`` (evaluated every 10 steps) or ``steps``."""
    reached, best = [], []
    for seed in seeds:
        at, acc = _curve(net, lr, seed, steps, target, init_factor)
        hit = np.flatnonzero(acc >= target)
        reached.append(int(at[hit[0]]) if hit.size else None)
        best.append(float(acc.max()))
    return Seeds(tuple(reached), tuple(best), steps)


@dataclass
class SpeedTable:
    """Steps to the target accuracy for several networks at one learning rate."""

    rows: dict  # label -> Seeds
    lr: float
    target: float
    seeds: tuple

    def table(self) -> str:
        cap = next(iter(self.rows.values())).cap
        lines = [
            f"steps to {self.target:.0%} validation accuracy, lr {self.lr:g}, "
            f"seeds {self.seeds[0]}-{self.seeds[-1]}: median (fastest - slowest seed)"
        ]
        width = max(len(k) for k in self.rows) + 2
        for label, r in self.rows.items():
            if r.all_reached:
                cell = f"{r.median:>5}  ({min(r.steps)} - {max(r.steps)})"
            else:
                cell = f"    -  (not every seed within {cap} steps)"
            lines.append(f"  {label:<{width}}{cell}")
        return "\n".join(lines)

    def median(self, net: Net) -> int | None:
        return self.rows[net.label].median


def speed_table(
    nets: Sequence[Net] = NETWORKS,
    lr: float = LR,
    seeds: Sequence[int] = range(5),
    *,
    target: float = TARGET,
    steps: int = STEPS,
) -> SpeedTable:
    """Steps each network needs to reach ``target`` validation accuracy at one learning
    rate, over seeds (stopped at ``steps``)."""
    rows = {n.label: seeds_run(n, lr, seeds, target=target, steps=steps) for n in nets}
    return SpeedTable(rows, lr, target, tuple(seeds))


@dataclass
class Grid:
    """Networks trained at each value of one setting (learning rate or initial weight
    scale), over seeds: ``cells[label][k]`` is the ``Seeds`` at ``values[k]``."""

    setting: str
    values: tuple
    cells: dict  # label -> list[Seeds]
    target: float
    steps: int
    lr: float | None = None  # fixed learning rate of an init sweep

    def table(self) -> str:
        n_seeds = len(next(iter(self.cells.values()))[0].steps)
        width = max(len(k) for k in self.cells) + 2
        lines = [
            f"median steps to {self.target:.0%} validation accuracy over {n_seeds} seeds "
            f"(-: not every seed within {self.steps} steps)",
            f"  {self.setting:<{width}}" + "".join(f"{v:>7g}" for v in self.values),
        ]
        for label, row in self.cells.items():
            cells = "".join(f"{'-' if s.median is None else s.median:>7}" for s in row)
            lines.append(f"  {label:<{width}}{cells}")
        return "\n".join(lines)

    def reliable(self, net: Net) -> list[float]:
        """The values at which every seed of ``net`` reached the target."""
        return [v for v, s in zip(self.values, self.cells[net.label], strict=True) if s.all_reached]

    def fastest(self, net: Net) -> tuple[float, int]:
        """(value, median steps) where ``net`` got there in the fewest steps (the
        smaller value on a tie)."""
        row = self.cells[net.label]
        done = [(s.median, k) for k, s in enumerate(row) if s.median is not None]
        if not done:
            raise ValueError(f"{net.label} never reached the target on every seed")
        steps, k = min(done)
        return self.values[k], steps


def lr_sweep(
    nets: Sequence[Net] = (RELU, RELU_BN),
    lrs: Sequence[float] = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0),
    seeds: Sequence[int] = range(5),
    *,
    target: float = TARGET,
    steps: int = 300,
) -> Grid:
    """Steps to ``target`` for each learning rate, over seeds."""
    cells = {
        n.label: [seeds_run(n, lr, seeds, target=target, steps=steps) for lr in lrs] for n in nets
    }
    return Grid("learning rate", tuple(lrs), cells, target, steps)


def init_sweep(
    nets: Sequence[Net] = (RELU, RELU_BN),
    factors: Sequence[float] = (0.1, 0.3, 1.0, 3.0, 10.0),
    lr: float = LR,
    seeds: Sequence[int] = range(5),
    *,
    target: float = TARGET,
    steps: int = 300,
) -> Grid:
    """Steps to ``target`` when every initial weight is multiplied by a factor (1: the
    network's own initialization), at one learning rate, over seeds."""
    cells = {
        n.label: [
            seeds_run(n, lr, seeds, target=target, steps=steps, init_factor=f) for f in factors
        ]
        for n in nets
    }
    return Grid("init scale x", tuple(factors), cells, target, steps, lr)


# ------------------------------------------------------------------ claims 2 and 3: drift
@dataclass
class Drift:
    """How the distribution of one hidden layer's units moved during training, as the
    next layer sees it (inference mode, on the validation digits), from step ``start``
    to the end: per unit, how far its mean moved (in units of its spread at ``start``)
    and by what factor its spread changed; medians over the units."""

    layer: int  # 1-based
    start: int
    end: int
    rows: dict  # label -> (mean moved, spread factor, path of the mean)

    def table(self) -> str:
        lines = [
            f"layer {self.layer}, on the validation digits in inference mode, step {self.start}"
            f" -> {self.end} (median over the units)",
            f"  {'':<34}{'mean moved':>11}{'spread x':>10}",
            f"  {'':<34}{'(spreads)':>11}",
        ]
        for label, (moved, factor, _) in self.rows.items():
            lines.append(f"  {label:<34}{moved:>11.2f}{factor:>10.2f}")
        return "\n".join(lines)


def _unit_drift(mean: np.ndarray, std: np.ndarray, k0: int) -> tuple[float, float, float]:
    """mean, std: (evaluations, units). Median over units of |mean[-1] - mean[k0]| /
    std[k0], of std[-1] / std[k0], and of the path sum_k |mean[k+1] - mean[k]| / std[k0]."""
    scale = std[k0]
    moved = np.abs(mean[-1] - mean[k0]) / scale
    factor = std[-1] / scale
    path = np.abs(np.diff(mean[k0:], axis=0)).sum(axis=0) / scale
    return float(np.median(moved)), float(np.median(factor)), float(np.median(path))


def distribution_drift(comparison: Comparison, layer: int = 2, start: int = 100) -> Drift:
    """The lecture's covariate-shift point, measured on ``compare_bn``'s runs: how much
    layer ``layer``'s units (the input of layer ``layer + 1``) moved from step ``start``
    on, without BN, and with BN before and after the normalization.

    ``start`` > 0 because at step 0 the running averages still hold their initial
    values (0 and 1); after a few dozen steps they follow the batches."""
    k0 = int(np.searchsorted(comparison.plain.steps, start))
    l = layer - 1
    p, b = comparison.plain.probes, comparison.bn.probes
    rows = {
        f"without BN: z[{layer}]": _unit_drift(p["mean"][:, l], p["std"][:, l], k0),
        f"with BN: z[{layer}] before BN": _unit_drift(b["pre_mean"][:, l], b["pre_std"][:, l], k0),
        f"with BN: z~[{layer}] after BN": _unit_drift(b["mean"][:, l], b["std"][:, l], k0),
    }
    return Drift(layer, int(comparison.plain.steps[k0]), int(comparison.plain.steps[-1]), rows)


# ------------------------------------------------------------------ claim 4: noise
def batch_statistics_noise(
    model: MLP,
    X: np.ndarray,
    batch_sizes: Sequence[int] = (4, 8, 16, 32, 64, 128, 256),
    trials: int = 50,
    layer: int = 0,
    seed: int = 0,
) -> np.ndarray:
    """How much one example's normalized value depends on its batch-mates.

    For each batch size b: ``trials`` times, put example 0 of X with b-1 examples drawn
    at random from the rest, run BN layer ``layer`` in training mode, and keep that
    example's BN output z~ (all units). Returns (len(batch_sizes),) the standard
    deviation over trials, averaged over the units: the noise that the mini-batch
    statistics add to every example (about 1/sqrt(b) times the spread of z~).
    """
    rng = np.random.default_rng(seed)
    rest = np.arange(1, X.shape[0])
    out = []
    for b in batch_sizes:
        outs = []
        for _ in range(trials):
            rows = np.concatenate([[0], rng.choice(rest, b - 1, replace=False)])
            outs.append(model.layer_values(X[rows], training=True)[layer]["z"][0])
        out.append(float(np.std(outs, axis=0).mean()))
    return np.array(out)


# ------------------------------------------------------------------ b[l] is redundant
@dataclass
class BiasResult:
    max_grad_b: float  # largest |dL/db[l]| over hidden layers
    max_grad_W: float  # largest |dL/dW[l]|, for scale
    output_change: float  # largest change of the logits when b[l] is set to random values
    max_output: float  # largest |logit|, for scale

    def __str__(self) -> str:
        # Round-off is reported as a bound: its digits differ from machine to machine.
        return (
            f"largest |dL/dW| of the hidden layers:  {self.max_grad_W:.1e}\n"
            f"largest |dL/db| of the hidden layers:  below {_bound(self.max_grad_b)} "
            f"(round-off: 0 in exact arithmetic)\n"
            f"largest change of the logits after setting b[1], b[2], b[3] to random values "
            f"of size 5: below {_bound(self.output_change)} (logits up to {self.max_output:.1f})"
        )


def _bound(value: float, floor: float = 1e-12) -> str:
    """A round number above a round-off level ``value``: ``floor`` (far above the
    1e-17 .. 1e-14 that machines give) unless ``value`` exceeds it."""
    if value < floor:
        return f"{floor:.0e}"
    return f"{10.0 ** np.ceil(np.log10(value)):.0e}"


def bias_redundancy(seed: int = 0) -> BiasResult:
    """A BN network WITH hidden biases (float64, one mini-batch of 60 digits, training
    mode): the gradient of every b[l] is zero up to rounding, and b[l] has no effect."""
    data = digits_data()
    model = make_mlp(True, seed, hidden_bias=True)
    X, y = data.X_train[:BATCH], data.y_train[:BATCH]
    _, grads = model.loss_and_grads(X, y, update_stats=False)
    hidden = range(1, model.n_hidden + 1)
    gb = max(float(np.abs(grads[f"b{l}"]).max()) for l in hidden)
    gw = max(float(np.abs(grads[f"W{l}"]).max()) for l in hidden)
    before = model.forward(X, training=True, update_stats=False)
    rng = np.random.default_rng(seed)
    for l in hidden:
        model.params[f"b{l}"][...] = rng.normal(0, 5, model.params[f"b{l}"].shape)
    after = model.forward(X, training=True, update_stats=False)
    return BiasResult(gb, gw, float(np.abs(after - before).max()), float(np.abs(before).max()))


def gradient_check_text(relative_error: float, n_params: int) -> str:
    """The whole-network gradient check read with lesson 03's yardstick
    (``gradcheck.describe_error``): a verdict, never round-off digits, which differ
    from machine to machine."""
    return (
        f"{n_params} parameters (W, gamma, beta, output b): relative error "
        f"{gradcheck.describe_error(relative_error)}"
    )


# ------------------------------------------------------------------ gamma, beta, optimizers
@dataclass
class OptimizerResult:
    """The BN network trained with different optimizers; gamma/beta of a few units of
    the last hidden layer recorded at every evaluation."""

    histories: dict  # optimizer name -> History
    gamma: dict  # name -> (k, units)
    beta: dict
    lrs: dict

    def table(self) -> str:
        lines = ["optimizer   lr       val acc   gamma (3 units)          beta (3 units)"]
        for name, h in self.histories.items():
            g = np.array2string(self.gamma[name][-1], precision=3, floatmode="fixed")
            b = np.array2string(self.beta[name][-1], precision=3, floatmode="fixed")
            lines.append(f"{name:<10}{self.lrs[name]:<9g}{h.final_val_acc:8.3f}   {g:<24} {b}")
        return "\n".join(lines)


def optimizer_comparison(
    lrs: dict | None = None, steps: int = 400, units: Sequence[int] = (0, 1, 2), seed: int = 0
) -> OptimizerResult:
    """Train the BN network with SGD, momentum and Adam (every parameter, W, gamma and
    beta, updated by the same rule) and record gamma[3], beta[3] of a few units."""
    lrs = dict(lrs or {"sgd": LR, "momentum": LR, "adam": 0.003})
    last = len(SIZES) - 2
    hists, gammas, betas = {}, {}, {}
    for name, lr in lrs.items():
        model = make_mlp(True, seed)

        def monitor(m: MLP) -> tuple:
            return m.params[f"gamma{last}"][list(units)].copy(), m.params[f"beta{last}"][
                list(units)
            ].copy()

        h = _train_on_digits(
            model,
            lr=lr,
            steps=steps,
            optimizer=make_optimizer(name, lr),
            seed=seed,
            eval_every=20,
            eval_train=False,
            monitor=monitor,
        )
        hists[name] = h
        gammas[name] = np.array([g for g, _ in h.monitor])
        betas[name] = np.array([b for _, b in h.monitor])
    return OptimizerResult(hists, gammas, betas, lrs)


# ------------------------------------------------------------------ why BN works
def gradient_coupling(
    model: MLP, X: np.ndarray, y: np.ndarray, lr: float, layer: int | None = None
) -> float:
    """Santurkar et al.'s (2018) measure of internal covariate shift on one batch:
    the relative change of layer ``layer``'s weight gradient caused by updating all
    the layers before it with one SGD step, ||G' - G|| / ||G||.
    layer: 1-based index of a weight matrix (default: the last hidden layer).
    The model is not changed (a copy is stepped)."""
    layer = model.n_hidden if layer is None else layer
    probe = model.copy()
    _, grads = probe.loss_and_grads(X, y, update_stats=False)
    G = {k: g.copy() for k, g in grads.items()}
    for name, g in G.items():
        if int("".join(c for c in name if c.isdigit())) < layer:  # W2 -> 2, gamma1 -> 1
            probe.params[name][...] -= lr * g
    _, grads_after = probe.loss_and_grads(X, y, update_stats=False)
    before, after = G[f"W{layer}"], grads_after[f"W{layer}"]
    return float(np.linalg.norm(after - before) / np.linalg.norm(before))


def along_gradient(
    model: MLP, X: np.ndarray, y: np.ndarray, etas: Sequence[float]
) -> tuple[float, float]:
    """Santurkar et al.'s landscape probes on one batch, moving along the gradient g:
    (range of the loss L(theta - eta g) over etas,
     max over etas of ||grad L(theta - eta g) - g|| / ||g||  (gradient predictiveness)).
    Training mode, running statistics untouched; the model is left as it was."""
    p0 = model.flat_params()
    model.loss_and_grads(X, y, update_stats=False)
    g0 = model.flat_grads()
    norm = np.linalg.norm(g0)
    losses, changes = [], []
    try:
        for eta in etas:
            model.set_flat_params(p0 - eta * g0)
            loss, _ = model.loss_and_grads(X, y, update_stats=False)
            losses.append(loss)
            changes.append(np.linalg.norm(model.flat_grads() - g0) / norm)
    finally:
        model.set_flat_params(p0)
    return float(np.ptp(losses)), float(np.max(changes))


@dataclass
class WhyResult:
    """Measurements along training, without and with BN (arrays over checkpoints)."""

    steps: np.ndarray
    coupling: dict  # -> (k,) gradient change of the last hidden layer (Santurkar's ICS)
    loss_range: dict  # -> (k,) loss variation along the gradient
    grad_change: dict  # -> (k,) gradient predictiveness (relative change)
    lr: float

    def table(self) -> str:
        lines = [
            "mean over training                    without BN   with BN",
        ]
        rows = [
            ("gradient coupling ||dG3|| / ||G3||", self.coupling),
            ("loss range along the gradient", self.loss_range),
            ("gradient change along the gradient", self.grad_change),
        ]
        for name, d in rows:
            lines.append(f"{name:<36}{np.mean(d['plain']):>11.3g}{np.mean(d['bn']):>10.3g}")
        return "\n".join(lines)


def why_bn_works(
    lr: float = LR,
    steps: int = 500,
    every: int = 25,
    etas: Sequence[float] = (0.25, 0.5, 1.0, 2.0, 4.0),
    seed: int = 0,
) -> WhyResult:
    """Train both networks; every ``every`` steps measure on a fresh training batch
    Santurkar et al.'s gradient coupling and the loss/gradient change along the
    gradient for steps eta * lr (etas relative to the learning rate)."""
    data = digits_data()
    out: dict = {k: {} for k in ("coupling", "loss_range", "grad_change")}
    steps_seen = None
    for name in ("plain", "bn"):
        rng = np.random.default_rng(seed + 1)

        def monitor(model: MLP, rng=rng) -> dict:
            rows = rng.choice(data.X_train.shape[0], BATCH, replace=False)
            Xb, yb = data.X_train[rows], data.y_train[rows]
            record = {}
            record["coupling"] = gradient_coupling(model, Xb, yb, lr)
            record["along"] = along_gradient(model, Xb, yb, [lr * e for e in etas])
            return record

        model = make_mlp(name == "bn", seed)
        h = _train_on_digits(
            model,
            validation=False,
            lr=lr,
            steps=steps,
            seed=seed,
            eval_every=every,
            eval_train=False,
            monitor=monitor,
        )
        # from the first evaluation after step 0 on: at step 0 nothing has been learned yet
        out["coupling"][name] = np.array([m["coupling"] for m in h.monitor[1:]])
        along = np.array([m["along"] for m in h.monitor[1:]])
        out["loss_range"][name], out["grad_change"][name] = along[:, 0], along[:, 1]
        steps_seen = h.eval_steps[1:]
    return WhyResult(steps_seen, out["coupling"], out["loss_range"], out["grad_change"], lr)


# ------------------------------------------------- going deeper: data shift after deployment
def shifted_inputs(raw: np.ndarray, kind: str) -> np.ndarray:
    """Validation digits (pixel values 0..16, (m, 64)) changed in one of these ways:
    "none"; "brighter" (+3 on every pixel, clipped to 16); "fainter" (x 0.5);
    "moved" (every image shifted one pixel to the right, wrapping around)."""
    if kind == "none":
        return raw.copy()
    if kind == "brighter":
        return np.clip(raw + 3.0, 0.0, 16.0)
    if kind == "fainter":
        return raw * 0.5
    if kind == "moved":
        return np.roll(raw.reshape(-1, 8, 8), 1, axis=2).reshape(-1, 64)
    raise ValueError(f"kind must be none, brighter, fainter or moved, got {kind!r}")


def restimated(model: MLP, X: np.ndarray) -> MLP:
    """A copy of a BN model whose running statistics are replaced by the mean and
    (biased) variance of each BN input over the data X (m, n[0])."""
    new = model.copy()
    for l, values in enumerate(new.layer_values(X, training=True)):
        z = values["bn_input"]
        new.running_mean[l] = z.mean(0)
        new.running_var[l] = z.var(0)
    return new


def distribution_shift(
    plain: MLP, bn: MLP, kinds: Sequence[str] = ("none", "brighter", "fainter", "moved")
) -> str:
    """Validation accuracy on shifted inputs (normalized with the TRAINING mu, sigma):
    the plain network, the BN network with its stored running statistics, and the BN
    network with statistics re-estimated on the shifted data. Returns a table."""
    data = digits_data()
    lines = ["input change   plain   BN (stored stats)   BN (stats of the new data)"]
    for kind in kinds:
        X = normalize(shifted_inputs(data.raw_val, kind), data.mu, data.sigma)
        accs = (
            plain.accuracy(X, data.y_val),
            bn.accuracy(X, data.y_val),
            restimated(bn, X).accuracy(X, data.y_val),
        )
        lines.append(f"{kind:<12}{accs[0]:>8.3f}{accs[1]:>20.3f}{accs[2]:>29.3f}")
    return "\n".join(lines)


@functools.cache
def default_comparison() -> Comparison:
    """``compare_bn()`` with the lesson's settings, trained once per process and cached
    (for the assets and the widget; do not modify the models it holds)."""
    return compare_bn()


# ------------------------------------------------------------------ claim 4: over-fitting
def small_training_set(n: int = 100, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` training digits, n/10 of each class, drawn with ``seed`` from the lesson's
    training set (normalized as it is): a set small enough to be learned by heart."""
    if n % 10 or not 10 <= n <= 1340:
        raise ValueError(f"n must be a multiple of 10 between 10 and 1340, got {n}")
    data = digits_data()
    rng = np.random.default_rng(seed)
    rows = np.concatenate(
        [rng.choice(np.flatnonzero(data.y_train == c), n // 10, replace=False) for c in range(10)]
    )
    return data.X_train[rows], data.y_train[rows]


@dataclass(frozen=True)
class Setting:
    """How one network is trained in the over-fitting experiments."""

    label: str
    net: Net
    lr: float
    batch_size: int
    steps: int
    ghost_batch: int | None = None  # BN statistics over groups of this many rows


@dataclass
class OverfitResult:
    """Per setting, per seed: final training accuracy, validation accuracy, training
    loss and validation loss (inference mode), after training on a small set."""

    n_train: int
    settings: tuple
    rows: dict  # label -> (seeds, 4) array

    def table(self) -> str:
        n_seeds = len(next(iter(self.rows.values())))
        width = max(len(s.label) for s in self.settings) + 2
        lines = [
            f"{self.n_train} training digits, {n_seeds} seeds: mean (lowest - highest seed)",
            f"  {'':<{width}}{'batch':>6}{'steps':>7}{'train acc':>11}"
            f"{'validation acc':>20}{'validation loss':>23}",
        ]
        for s in self.settings:
            r = self.rows[s.label]
            acc, loss = 100 * r[:, 1], r[:, 3]
            lines.append(
                f"  {s.label:<{width}}{s.batch_size:>6}{s.steps:>7}{100 * r[:, 0].mean():>10.0f}%"
                f"{acc.mean():>9.0f}% ({acc.min():.0f} - {acc.max():.0f})"
                f"{loss.mean():>12.2f} ({loss.min():.2f} - {loss.max():.2f})"
            )
        return "\n".join(lines)


PRACTICE = (
    Setting("ReLU, He init", RELU, 0.1, 20, 300),
    Setting("ReLU, He init + BN", RELU_BN, 0.1, 20, 300),
)
NOISE = (
    Setting("BN, no noise: statistics of all 200", RELU_BN, 1.0, 200, 100),
    Setting("BN, noise: statistics per 20 of them", RELU_BN, 1.0, 200, 100, ghost_batch=20),
)


def overfitting(
    settings: Sequence[Setting] = PRACTICE, n_train: int = 200, seeds: Sequence[int] = range(5)
) -> OverfitResult:
    """Train each setting on ``n_train`` digits until it knows them by heart; score the
    training set and the 450 validation digits."""
    data = digits_data()
    X, y = small_training_set(n_train)
    rows = {}
    for s in settings:
        per_seed = []
        for seed in seeds:
            h = train(
                s.net.model(seed, ghost_batch=s.ghost_batch),
                X,
                y,
                lr=s.lr,
                steps=s.steps,
                batch_size=s.batch_size,
                seed=seed,
                X_val=data.X_val,
                y_val=data.y_val,
                eval_every=s.steps,
            )
            per_seed.append([h.train_acc[-1], h.val_acc[-1], h.train_loss[-1], h.val_loss[-1]])
        rows[s.label] = np.array(per_seed)
    return OverfitResult(n_train, tuple(settings), rows)
