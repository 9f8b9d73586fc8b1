"""Lesson 04: the figures and the live widget of Batch Norm in a network.

- ``plot_network_diagram``: X -> W[1] -> z[1] -> BN(gamma[1], beta[1]) -> z~[1] -> g -> a[1] ...
- ``plot_training_curves``: mini-batch loss and validation accuracy, without and with BN;
- ``plot_percentiles``: Ioffe & Szegedy's Figure 1(b, c), a sigmoid's input over training;
- ``plot_sweep``: final accuracy against a learning rate or init scale (log axis);
- ``plot_position``, ``plot_bn_batch``, ``plot_why``, ``plot_gamma_beta``: the other
  experiments of the lesson (results from ``course_lib.experiments``);
- ``plot_activation_histograms`` and the widget ``activation_explorer``: every hidden
  layer's sigmoid inputs at a chosen step of training, without and with BN.

Plot functions return a matplotlib Figure; ``ASSETS`` lists the ones saved to assets/.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from . import experiments as ex
from ._widgets import figure_png

PLAIN_COLOR, BN_COLOR = "#c44e52", "#4c72b0"
VALUE_BOX = {"boxstyle": "round,pad=0.35", "fc": "#eef3fb", "ec": BN_COLOR, "lw": 1.2}
PARAM_COLOR = "#dd8452"


def _no_minor_labels(ax: Axes) -> None:
    """Plain numbers on log axes: 0.1, 0.2, 0.5, 1, ... instead of 2x10^-1 at every minor
    tick (x ticks set by the caller stay; only their minor labels are dropped)."""
    ax.xaxis.set_minor_formatter(NullFormatter())
    if ax.get_yscale() == "log":
        plain = FuncFormatter(lambda v, _pos: f"{v:g}")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
        ax.yaxis.set_minor_formatter(plain)


# ------------------------------------------------------------------ the diagram
def plot_network_diagram(sizes: tuple[int, ...] = ex.SIZES) -> Figure:
    """Batch Norm fitted into the network, drawn left to right with every shape.

    Values (blue boxes) carry their shape with rows as examples, (m, n[l]); the
    operations between them carry their parameters (orange) and those shapes.
    """
    n0, n1, nL = sizes[0], sizes[1], sizes[-1]
    L = len(sizes) - 1
    nodes = [
        ("X", f"(m, {n0})"),
        ("$z^{[1]}$", f"(m, {n1})"),
        (r"$\tilde z^{[1]}$", f"(m, {n1})"),
        ("$a^{[1]}$", f"(m, {n1})"),
        (f"$a^{{[{L - 1}]}}$", f"(m, {sizes[-2]})"),
        ("logits", f"(m, {nL})"),
        (r"$\hat y$", f"(m, {nL})"),
    ]
    ops = [
        ("$\\times W^{[1]}$", f"W: ({n0}, {n1})\nno $b^{{[1]}}$"),
        ("BN", f"$\\gamma^{{[1]}}, \\beta^{{[1]}}$: ({n1},)"),
        ("$g = \\sigma$", "(no parameters)"),
        (f"layers 2 … {L - 1}:\nthe same", ""),
        (f"$\\times W^{{[{L}]}} + b^{{[{L}]}}$", f"W: ({sizes[-2]}, {nL}), b: ({nL},)"),
        ("softmax", ""),
    ]
    fig, ax = plt.subplots(figsize=(12, 2.9), layout="constrained")
    xs = np.linspace(0.0, 12.0, len(nodes))
    ax.set_xlim(-0.7, 12.7)
    ax.set_ylim(-1.35, 1.25)
    ax.axis("off")
    for x, (name, shape) in zip(xs, nodes, strict=True):
        ax.text(x, 0.0, name, ha="center", va="center", fontsize=13, bbox=VALUE_BOX)
        ax.text(x, -0.5, shape, ha="center", va="top", fontsize=9, color="#444444")
    for k, (label, params) in enumerate(ops):
        x0, x1 = xs[k] + 0.45, xs[k + 1] - 0.45
        ax.annotate("", (x1, 0.0), (x0, 0.0), arrowprops={"arrowstyle": "-|>", "color": "#333333"})
        mid = 0.5 * (xs[k] + xs[k + 1])
        ax.text(mid, 0.18, label, ha="center", va="bottom", fontsize=11)
        if params:
            ax.text(mid, -0.22, params, ha="center", va="top", fontsize=9, color=PARAM_COLOR)
    ax.text(
        6.0,
        -1.3,
        "hidden layer: linear without bias → Batch Norm (batch statistics in training, "
        "running statistics at inference) → activation",
        ha="center",
        va="bottom",
        fontsize=9.5,
        style="italic",
    )
    return fig


# ------------------------------------------------------------------ training curves
def _smooth(values: np.ndarray, window: int = 25) -> np.ndarray:
    """Running mean over ``window`` steps (shorter at the start)."""
    c = np.cumsum(np.insert(values, 0, 0.0))
    end = np.arange(1, len(values) + 1)
    start = np.maximum(0, end - window)
    return (c[end] - c[start]) / (end - start)


def plot_training_curves(comparison: ex.Comparison | None = None, target: float = 0.95) -> Figure:
    """Left: mini-batch loss (running mean over 25 steps); right: validation accuracy;
    without and with BN. Dotted lines mark the step each first reached ``target``."""
    c = comparison if comparison is not None else ex.default_comparison()
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
    for run, color in ((c.plain, PLAIN_COLOR), (c.bn, BN_COLOR)):
        h = run.history
        steps = np.arange(1, len(h.loss) + 1)
        ax_l.plot(steps, h.loss, color=color, alpha=0.18, lw=0.8)
        ax_l.plot(steps, _smooth(h.loss), color=color, lw=1.8, label=run.label)
        ax_a.plot(h.eval_steps, h.val_acc, color=color, lw=1.8, label=run.label)
        reached = h.steps_to(target)
        if reached is not None:
            ax_a.axvline(reached, color=color, ls=":", lw=1.2)
            ax_a.annotate(
                f"{reached} steps",
                (reached, 0.5 if color == PLAIN_COLOR else 0.3),
                xytext=(4, 0),
                textcoords="offset points",
                color=color,
                fontsize=9,
            )
    ax_l.set(xlabel="step", ylabel="mini-batch cross-entropy", yscale="log", title="loss")
    ax_a.axhline(target, color="#888888", lw=0.8, ls="--")
    ax_a.set(
        xlabel="step",
        ylabel="validation accuracy",
        ylim=(0, 1.01),
        title=f"validation accuracy (dotted: first ≥ {target:.0%})",
    )
    ax_l.legend()
    ax_a.legend(loc="lower right")
    return fig


def plot_percentiles(comparison: ex.Comparison | None = None) -> Figure:
    """Ioffe & Szegedy's Figure 1(b, c) on the digits: the 15th, 50th and 85th
    percentiles of one last-hidden-layer sigmoid's input over training, without
    (left) and with (right) BN, on the validation inputs."""
    c = comparison if comparison is not None else ex.default_comparison()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True, layout="constrained")
    for ax, run, color, tag in zip(
        axes, (c.plain, c.bn), (PLAIN_COLOR, BN_COLOR), ("(b)", "(c)"), strict=True
    ):
        pct = run.probes["pct"]
        for j, (q, ls) in enumerate(zip(ex.PERCENTILES, (":", "-", "--"), strict=True)):
            ax.plot(run.steps, pct[:, j], color=color, ls=ls, lw=1.6, label=f"{q}th percentile")
        ax.fill_between(run.steps, pct[:, 0], pct[:, 2], color=color, alpha=0.12)
        ax.set(title=f"{tag} {run.label}", xlabel="step")
        ax.legend(loc="lower right", fontsize=9)
    axes[0].set_ylabel("input of a sigmoid in layer 3")
    return fig


# ------------------------------------------------------------------ sweeps
def plot_sweep(sweep: ex.Sweep, target: float = 0.9) -> Figure:
    """Final validation accuracy against the swept setting (log axis), both networks."""
    fig, ax = plt.subplots(figsize=(6.2, 3.6), layout="constrained")
    ax.plot(sweep.values, sweep.plain_acc, "o-", color=PLAIN_COLOR, label="without BN")
    ax.plot(sweep.values, sweep.bn_acc, "s-", color=BN_COLOR, label="with BN")
    ax.axhline(target, color="#888888", lw=0.8, ls="--")
    ax.axhline(0.1, color="#bbbbbb", lw=0.8, ls=":")
    ax.text(sweep.values[0], 0.12, "chance", fontsize=8, color="#888888")
    ax.set(
        xscale="log",
        ylim=(0, 1.02),
        xlabel=sweep.setting,
        ylabel="validation accuracy",
        title=f"{sweep.setting} sweep: validation accuracy after {sweep.steps} steps",
    )
    ax.legend(loc="center right")
    return fig


def plot_position(results: list[ex.PositionResult]) -> Figure:
    """Validation accuracy over training, BN before vs after the activation (one
    thin line per seed, a thick line for the mean)."""
    fig, axes = plt.subplots(
        1, len(results), figsize=(5.6 * len(results), 3.4), squeeze=False, layout="constrained"
    )
    for ax, res in zip(axes[0], results, strict=True):
        for pos, color in (("before", BN_COLOR), ("after", PARAM_COLOR)):
            hs = res.histories[pos]
            for h in hs:
                ax.plot(h.eval_steps, h.val_acc, color=color, lw=0.7, alpha=0.5)
            mean = np.mean([h.val_acc for h in hs], axis=0)
            ax.plot(hs[0].eval_steps, mean, color=color, lw=2, label=f"BN {pos} {res.activation}")
        ax.set(
            xlabel="step",
            ylabel="validation accuracy",
            ylim=(0.8, 1.0),
            title="BN before vs after the activation (thin lines: seeds)",
        )
        ax.legend(loc="lower right")
    return fig


def plot_bn_batch(gap: ex.GapResult, noise_sizes, noise) -> Figure:
    """Left: final training and validation loss against the number of examples BN
    normalizes over (ghost batches; the gap between them annotated); right: the
    measured noise of one example's normalized value against the batch size, with
    the 1/sqrt(b) law through the first point."""
    fig, (ax_g, ax_n) = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
    b = gap.bn_batch
    ax_g.plot(b, gap.rows[:, 2], "o-", color="#555555", label="training set")
    ax_g.plot(b, gap.rows[:, 3], "s-", color=BN_COLOR, label="validation set")
    for bi, lt, lv in zip(b, gap.rows[:, 2], gap.rows[:, 3], strict=True):
        ax_g.vlines(bi, lt, lv, color="#bbbbbb", lw=3, zorder=0)
        ax_g.annotate(
            f"gap {lv - lt:.3f}",
            (bi, 0.5 * (lt + lv)),
            xytext=(6, 0),
            textcoords="offset points",
            fontsize=8,
        )
    ax_g.set(
        xscale="log",
        xlim=(b[0] / 1.6, b[-1] * 2.2),
        ylim=(0, None),
        xlabel="examples per BN batch b (SGD batches of 60)",
        ylabel="cross-entropy (inference mode)",
        title="train/validation gap",
    )
    ax_g.set_xticks(b, [str(v) for v in b])
    _no_minor_labels(ax_g)
    ax_g.legend(loc="upper right")
    sizes = np.asarray(noise_sizes, dtype=float)
    ax_n.loglog(sizes, noise, "o-", color=BN_COLOR, label="measured")
    ax_n.loglog(
        sizes,
        noise[0] * np.sqrt(sizes[0] / sizes),
        "--",
        color="#888888",
        label=r"$\propto 1/\sqrt{b}$",
    )
    ax_n.set_xticks(sizes, [str(int(v)) for v in sizes])
    _no_minor_labels(ax_n)
    ax_n.set(
        xlabel="batch size b",
        ylabel=r"std of one example's $\tilde z$",
        title="noise added by the batch statistics (layer 1)",
    )
    ax_n.legend()
    return fig


def plot_why(why: ex.WhyResult) -> Figure:
    """Four measurements along training, without and with BN: layer-input drift,
    gradient coupling (Santurkar et al.'s ICS), loss range and gradient change along
    the gradient direction (their loss-landscape probes)."""
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.3), layout="constrained")
    panels = [  # all on a log scale: the two networks differ by orders of magnitude
        (why.drift, "drift of layer-3 inputs\n(std units per interval)"),
        (why.coupling, r"gradient coupling $\|\Delta G^{[3]}\| / \|G^{[3]}\|$"),
        (why.loss_range, "loss range along the gradient"),
        (why.grad_change, "gradient change along the gradient"),
    ]
    for ax, (data, title) in zip(axes, panels, strict=True):
        for name, color, label in (
            ("plain", PLAIN_COLOR, "without BN"),
            ("bn", BN_COLOR, "with BN"),
        ):
            ax.plot(why.steps, data[name], color=color, lw=1.5, label=label)
        ax.set(title=title, xlabel="step")
        ax.set_yscale("log")
        _no_minor_labels(ax)
    axes[0].legend(fontsize=9)
    return fig


def plot_gamma_beta(result: ex.OptimizerResult) -> Figure:
    """gamma and beta of three units of layer 3 during training, one color per optimizer."""
    fig, (ax_g, ax_b) = plt.subplots(1, 2, figsize=(11, 3.4), layout="constrained")
    colors = {"sgd": "#555555", "momentum": BN_COLOR, "adam": PARAM_COLOR}
    for name, h in result.histories.items():
        color = colors.get(name, None)
        for j in range(result.gamma[name].shape[1]):
            label = f"{name} (lr {result.lrs[name]:g})" if j == 0 else None
            ax_g.plot(h.eval_steps, result.gamma[name][:, j], color=color, lw=1.2, label=label)
            ax_b.plot(h.eval_steps, result.beta[name][:, j], color=color, lw=1.2)
    ax_g.set(title=r"$\gamma^{[3]}$ of three units", xlabel="step")
    ax_b.set(title=r"$\beta^{[3]}$ of the same units", xlabel="step")
    ax_g.legend(fontsize=9)
    return fig


# ------------------------------------------------------------------ activation histograms
class _HistogramGrid:
    """2 rows (without / with BN) x L columns of histograms, updated in place."""

    def __init__(self, fig: Figure, comparison: ex.Comparison) -> None:
        self.c = comparison
        runs = (comparison.plain, comparison.bn)
        L = runs[0].probes["hist"].shape[1]
        axes = fig.subplots(2, L, sharex=True)
        # fixed margins: no layout engine to rerun on every redraw of the widget
        fig.subplots_adjust(left=0.05, right=0.99, bottom=0.12, top=0.86, wspace=0.06, hspace=0.3)
        edges = ex.HIST_EDGES
        self.stairs, self.titles = [], []
        for r, (run, color) in enumerate(zip(runs, (PLAIN_COLOR, BN_COLOR), strict=True)):
            frac = run.probes["hist"] / run.probes["hist"].sum(axis=2, keepdims=True)
            top = frac.max(axis=(0, 2))
            row_stairs = []
            for l in range(L):
                ax: Axes = axes[r, l]
                row_stairs.append(ax.stairs(frac[0, l], edges, fill=True, color=color, alpha=0.8))
                ax.set_ylim(0, 1.05 * top[l])
                ax.set_yticks([])
                ax.set_xlim(edges[0], edges[-1])
                self.titles.append(ax.set_title("", fontsize=9))
                if r == 1:
                    ax.set_xlabel(f"sigmoid input, layer {l + 1}", fontsize=9)
                if l == 0:
                    ax.set_ylabel(run.label, fontsize=10)
            self.stairs.append((row_stairs, frac, run))
        fig.suptitle("", fontsize=10)
        self.fig = fig

    def update(self, k: int) -> None:
        t = 0
        for row_stairs, frac, run in self.stairs:
            mean = run.probes["mean"][k].mean(axis=1)
            spread = run.probes["std"][k].mean(axis=1)
            for l, st in enumerate(row_stairs):
                st.set_data(frac[k, l])
                self.titles[t].set_text(
                    f"mean {round(mean[l], 2) + 0.0:+.2f}, spread {spread[l]:.2f} (unit averages)"
                )
                t += 1
        step = int(self.c.plain.steps[k])
        acc = (self.c.plain.history.val_acc[k], self.c.bn.history.val_acc[k])
        self.fig.suptitle(
            f"step {step}: validation accuracy {acc[0]:.3f} without BN, {acc[1]:.3f} with BN",
            fontsize=10,
        )


def plot_activation_histograms(comparison: ex.Comparison | None = None, step: int = 300) -> Figure:
    """Histograms of every hidden layer's sigmoid inputs on the validation inputs at
    one training step (the evaluation nearest to ``step``), without and with BN.
    The static twin of ``activation_explorer``."""
    c = comparison if comparison is not None else ex.default_comparison()
    k = int(np.argmin(np.abs(c.plain.steps - step)))
    fig = plt.figure(figsize=(10, 4.2))
    grid = _HistogramGrid(fig, c)
    grid.update(k)
    return fig


def activation_explorer(comparison: ex.Comparison | None = None):
    """Live widget: a slider over the training steps; shows the histograms of every
    hidden layer's sigmoid inputs without and with BN at that step.

    Everything is precomputed by training (``experiments.compare_bn``; pass the
    comparison the notebook already has, or the default one is trained, about 2 s);
    moving the slider only redraws. Returns an ipywidgets VBox; ``box.slider`` is
    the slider (its value is a step).
    """
    import ipywidgets as widgets

    c = comparison if comparison is not None else ex.default_comparison()
    steps = c.plain.steps
    fig = Figure(figsize=(9.5, 4.0), dpi=72)
    grid = _HistogramGrid(fig, c)
    image = widgets.Image(format="png", layout=widgets.Layout(width="684px"))
    interval = int(steps[1] - steps[0])
    slider = widgets.IntSlider(
        value=0,
        min=0,
        max=int(steps[-1]),
        step=interval,
        description="step",
        continuous_update=True,
        layout=widgets.Layout(width="684px"),
    )
    cache: dict[int, bytes] = {}

    def redraw(_change=None) -> None:
        k = int(np.argmin(np.abs(steps - slider.value)))
        if k not in cache:
            grid.update(k)
            cache[k] = figure_png(fig)
        image.value = cache[k]

    slider.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([slider, image])
    box.slider = slider
    return box


ASSETS = {
    "04_bn_network_diagram.png": plot_network_diagram,
    "04_sigmoid_input_percentiles.png": plot_percentiles,
    "04_training_with_without_bn.png": plot_training_curves,
}
