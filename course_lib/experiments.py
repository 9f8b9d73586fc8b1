"""Lesson 04's experiments: each function trains a few small networks on the digits
and returns a small result object, so that a notebook cell is a call and a print.

The set-up is Ioffe & Szegedy's MNIST experiment scaled down: scikit-learn's 8x8
digits (1347 training, 450 validation examples), inputs normalized with the
training set's mean and standard deviation (lesson 01), three hidden layers of 100
sigmoid units, mini-batches of 60, plain SGD. Everything is seeded: the same call
gives the same numbers.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .data import digits
from .network import MLP, History, make_optimizer, train
from .normalization import fit_normalizer, normalize

SIZES = (64, 100, 100, 100, 10)
LR = 0.3
STEPS = 1200
BATCH = 60
PERCENTILES = (15, 50, 85)
HIST_EDGES = np.linspace(-5.0, 5.0, 51)  # bins for the sigmoid inputs (outside: end bins)


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


# ------------------------------------------------------------------ what a run records
class ProbeMonitor:
    """Called by ``train`` at each evaluation: looks at the hidden layers on a fixed
    probe set (the validation inputs, one forward pass in training mode so that BN uses
    the probe's own statistics; nothing is updated).

    Records, per evaluation, a dict with
    "pct": (3,) the 15th/50th/85th percentiles of the input of one sigmoid (layer
        ``layer``, unit ``unit``), as in Ioffe & Szegedy's Figure 1(b, c);
    "hist": (L, bins) histogram counts of every hidden layer's sigmoid inputs
        (edges ``HIST_EDGES``; values beyond go to the end bins);
    "mean", "std": (L, n) per unit mean and standard deviation of the sigmoid inputs;
    "saturated": (L,) fraction of sigmoid outputs below 0.02 or above 0.98.
    """

    def __init__(self, X_probe: np.ndarray, layer: int = -1, unit: int = 0) -> None:
        self.X_probe = X_probe
        self.layer = layer
        self.unit = unit

    def __call__(self, model: MLP) -> dict:
        values = model.layer_values(self.X_probe, training=True)
        zs = [v["z"] for v in values]
        hist = np.stack(
            [np.histogram(np.clip(z, HIST_EDGES[0], HIST_EDGES[-1]), HIST_EDGES)[0] for z in zs]
        )
        sat = [float(np.mean((v["a"] < 0.02) | (v["a"] > 0.98))) for v in values]
        return {
            "pct": np.percentile(zs[self.layer][:, self.unit], PERCENTILES),
            "hist": hist,
            "mean": np.stack([z.mean(0) for z in zs]),
            "std": np.stack([z.std(0) for z in zs]),
            "saturated": np.array(sat),
        }


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
            lines.append(f"  {s:5d}   {p:.3f}   {b:.3f}")
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
    curves and a ``ProbeMonitor`` (percentiles, histograms, layer statistics).
    progress: show a progress bar for each run (it does not change the results)."""
    data = digits_data()
    runs = []
    for batchnorm in (False, True):
        model = make_mlp(batchnorm, seed=seed)
        monitor = ProbeMonitor(data.X_val, layer=layer, unit=unit)
        history = _train_on_digits(
            model,
            lr=lr,
            steps=steps,
            batch_size=BATCH,
            seed=seed,
            eval_every=eval_every,
            monitor=monitor,
            progress=progress,
        )
        label = "with BN" if batchnorm else "without BN"
        runs.append(Run(label, model, history, _stack(history.monitor)))
    return Comparison(runs[0], runs[1], lr, steps)


# ------------------------------------------------------------------ sweeps
@dataclass
class Sweep:
    """Final validation accuracy and training loss for each value of one setting."""

    setting: str
    values: np.ndarray
    plain_acc: np.ndarray
    bn_acc: np.ndarray
    plain_loss: np.ndarray  # mean of the last 20 mini-batch losses (NaN if diverged)
    bn_loss: np.ndarray
    steps: int

    def table(self) -> str:
        lines = [
            f"{self.setting:>10}   val acc plain   val acc BN   train loss plain   train loss BN"
        ]
        for v, pa, ba, pl, bl in zip(
            self.values, self.plain_acc, self.bn_acc, self.plain_loss, self.bn_loss, strict=True
        ):
            lines.append(f"{v:>10g}   {pa:13.3f}   {ba:10.3f}   {pl:16.4g}   {bl:13.4g}")
        return "\n".join(lines)

    def good_range(self, accuracy: float = 0.9) -> tuple[list[float], list[float]]:
        """The values at which each network reached ``accuracy`` (plain, BN)."""
        vals = self.values.tolist()
        return (
            [v for v, a in zip(vals, self.plain_acc, strict=True) if a >= accuracy],
            [v for v, a in zip(vals, self.bn_acc, strict=True) if a >= accuracy],
        )


def _final(history: History) -> tuple[float, float]:
    tail = history.loss[-20:]
    return history.final_val_acc, float(tail.mean()) if np.all(np.isfinite(tail)) else np.nan


def _sweep(setting: str, values: Sequence[float], steps: int, make_run) -> Sweep:
    res = np.array([[*_final(make_run(v, False)), *_final(make_run(v, True))] for v in values])
    return Sweep(
        setting, np.asarray(values, float), res[:, 0], res[:, 2], res[:, 1], res[:, 3], steps
    )


def _train_on_digits(model: MLP, *, validation: bool = True, **kw) -> History:
    """``train`` on the normalized digits, evaluated on their validation split unless
    ``validation`` is False; ``kw``: train's other arguments (lr, steps, ...)."""
    data = digits_data()
    if validation:
        kw.update(X_val=data.X_val, y_val=data.y_val)
    return train(model, data.X_train, data.y_train, **kw)


def _quiet_train(model: MLP, lr: float, steps: int, **kw) -> History:
    with np.errstate(all="ignore"):  # a diverging run (huge lr) overflows: that is the result
        return _train_on_digits(model, lr=lr, steps=steps, eval_every=steps, **kw)


def lr_sweep(
    lrs: Sequence[float] = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0), steps: int = 300, seed: int = 0
) -> Sweep:
    """Final validation accuracy after ``steps`` SGD steps for each learning rate."""
    return _sweep(
        "lr", lrs, steps, lambda lr, b: _quiet_train(make_mlp(b, seed), lr, steps, seed=seed)
    )


def init_sweep(
    scales: Sequence[float] = (0.01, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0),
    lr: float = LR,
    steps: int = 300,
    seed: int = 0,
) -> Sweep:
    """Final validation accuracy for each weight-init scale (W ~ N(0, scale^2 / fan_in))."""
    return _sweep(
        "init scale",
        scales,
        steps,
        lambda s, b: _quiet_train(make_mlp(b, seed, init_scale=s), lr, steps, seed=seed),
    )


# ------------------------------------------------------------------ BN before / after g
@dataclass
class PositionResult:
    """BN before vs after the activation: per position, one history per seed."""

    histories: dict  # "before"/"after" -> list[History]
    activation: str

    def summary(self, target: float = 0.95) -> str:
        lines = [
            f"{self.activation}: BN position   steps to {target:.0%} (per seed)   final val acc"
        ]
        for pos, hs in self.histories.items():
            reach = [h.steps_to(target) for h in hs]
            shown = ", ".join("-" if r is None else str(r) for r in reach)
            acc = np.mean([h.final_val_acc for h in hs])
            lines.append(f"  {pos:<8}{shown:>32}   {acc:.3f}")
        return "\n".join(lines)


def bn_position_comparison(
    activations: Sequence[str] = ("sigmoid",),
    seeds: Sequence[int] = (0, 1),
    lr: float = LR,
    steps: int = 400,
) -> list[PositionResult]:
    """Train BN-before and BN-after networks, everything else equal."""
    out = []
    for act in activations:
        hs: dict = {"before": [], "after": []}
        for pos in hs:
            for seed in seeds:
                model = make_mlp(True, seed, activation=act, bn_position=pos)
                hs[pos].append(
                    _train_on_digits(model, lr=lr, steps=steps, seed=seed, eval_every=10)
                )
        out.append(PositionResult(hs, act))
    return out


# ------------------------------------------------------------------ regularization
@dataclass
class GapResult:
    """The BN network trained with different BN batch sizes (ghost batches inside
    the same SGD mini-batches of 60): final train/validation accuracy and loss,
    averaged over seeds."""

    bn_batch: np.ndarray
    steps: int
    lr: float
    seeds: tuple
    rows: np.ndarray  # (k, 4) seed averages: train acc, val acc, train loss, val loss
    per_seed: np.ndarray  # (seeds, k, 4)

    def table(self) -> str:
        lines = [
            f"BN statistics over b examples; SGD batches of {BATCH}, lr {self.lr:g}, "
            f"{self.steps} steps; mean of seeds {list(self.seeds)}",
            "      b   acc train  acc val   loss train  loss val   gap = loss val - loss train",
        ]
        for b, (ta, va, tl, vl) in zip(self.bn_batch, self.rows, strict=True):
            lines.append(f"  {b:5d}   {ta:9.4f}  {va:7.4f}   {tl:10.4f}  {vl:8.4f}   {vl - tl:.4f}")
        return "\n".join(lines)

    @property
    def loss_gap(self) -> np.ndarray:
        """Validation minus training loss (seed average), one per BN batch size."""
        return self.rows[:, 3] - self.rows[:, 2]

    @property
    def accuracy_gap(self) -> np.ndarray:
        """Training minus validation accuracy (seed average), one per BN batch size."""
        return self.rows[:, 0] - self.rows[:, 1]


def bn_batch_gap(
    bn_batches: Sequence[int] = (4, 12, 60),
    steps: int = 800,
    lr: float = LR,
    seeds: Sequence[int] = (0, 1),
) -> GapResult:
    """The regularization effect, isolated: SGD on the same mini-batches of 60 (same
    gradient noise), but BN statistics computed over b of them (ghost batches): the
    smaller b, the noisier each example's normalized value. Records final train and
    validation accuracy and loss (inference mode) for each seed."""
    per_seed = []
    for seed in seeds:
        rows = []
        for b in bn_batches:
            model = make_mlp(True, seed, ghost_batch=None if b == BATCH else b)
            h = _quiet_train(model, lr, steps, seed=seed)
            rows.append([h.final_train_acc, h.final_val_acc, h.train_loss[-1], h.val_loss[-1]])
        per_seed.append(rows)
    per_seed_a = np.array(per_seed)
    return GapResult(
        np.asarray(bn_batches), steps, lr, tuple(seeds), per_seed_a.mean(axis=0), per_seed_a
    )


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


# ------------------------------------------------------------------ why BN works
def layer_drift(run: Run, layer: int = -1) -> np.ndarray:
    """Per evaluation interval: how far the sigmoid inputs of ``layer`` moved, averaged
    over units, as |change of the unit's mean| / (the unit's current std).
    Returns (k-1,) for k evaluations (the covariate-shift view: small = stable)."""
    mean, std = run.probes["mean"][:, layer], run.probes["std"][:, layer]
    return np.mean(np.abs(np.diff(mean, axis=0)) / std[1:], axis=1)


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
    drift: dict  # "plain"/"bn" -> (k,) layer-input drift per interval (std units)
    coupling: dict  # -> (k,) gradient change of the last hidden layer (Santurkar's ICS)
    loss_range: dict  # -> (k,) loss variation along the gradient
    grad_change: dict  # -> (k,) gradient predictiveness (relative change)
    lr: float

    def table(self) -> str:
        lines = [
            "mean over training                    without BN   with BN",
        ]
        rows = [
            ("input drift of layer 3 (std units)", self.drift),
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
    the layer-input drift (covariate shift as the notes describe it), Santurkar et
    al.'s gradient coupling, and the loss/gradient change along the gradient for
    steps eta * lr (etas relative to the learning rate)."""
    data = digits_data()
    out: dict = {k: {} for k in ("drift", "coupling", "loss_range", "grad_change")}
    steps_seen = None
    for name in ("plain", "bn"):
        rng = np.random.default_rng(seed + 1)
        probe = ProbeMonitor(data.X_val)

        def monitor(model: MLP, rng=rng, probe=probe) -> dict:
            rows = rng.choice(data.X_train.shape[0], BATCH, replace=False)
            Xb, yb = data.X_train[rows], data.y_train[rows]
            record = probe(model)
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
            monitor=monitor,
        )
        run = Run(name, model, h, _stack([{"mean": m["mean"], "std": m["std"]} for m in h.monitor]))
        # from the first evaluation after step 0 on: at step 0 nothing has been learned yet
        out["drift"][name] = layer_drift(run)
        out["coupling"][name] = np.array([m["coupling"] for m in h.monitor[1:]])
        along = np.array([m["along"] for m in h.monitor[1:]])
        out["loss_range"][name], out["grad_change"][name] = along[:, 0], along[:, 1]
        steps_seen = h.eval_steps[1:]
    return WhyResult(
        steps_seen, out["drift"], out["coupling"], out["loss_range"], out["grad_change"], lr
    )


# ------------------------------------------------------------------ claim 3: data shift
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
            monitor=monitor,
        )
        hists[name] = h
        gammas[name] = np.array([g for g, _ in h.monitor])
        betas[name] = np.array([b for _, b in h.monitor])
    return OptimizerResult(hists, gammas, betas, lrs)


# ------------------------------------------------------------------ b[l] is redundant
@dataclass
class BiasResult:
    max_grad_b: float  # largest |dL/db[l]| over hidden layers
    max_grad_W: float  # largest |dL/dW[l]|, for scale
    output_change: float  # largest change of the logits when b[l] is set to random values

    def __str__(self) -> str:
        return (
            f"largest |dL/db| of the hidden layers: {self.max_grad_b:.1e}\n"
            f"largest |dL/dW| (for scale):          {self.max_grad_W:.1e}\n"
            f"largest change of the output after setting b[1], b[2], b[3] to random values: "
            f"{self.output_change:.1e}"
        )


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
    return BiasResult(gb, gw, float(np.abs(after - before).max()))


@functools.cache
def default_comparison() -> Comparison:
    """``compare_bn()`` with the lesson's settings, trained once per process and cached
    (for the assets and the widget; do not modify the models it holds)."""
    return compare_bn()
