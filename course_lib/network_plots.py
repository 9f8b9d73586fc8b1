"""Lesson 04: the figures and the live widget of Batch Norm in a network.

- ``plot_network_diagram``: X -> W[1] -> z[1] -> BN(gamma[1], beta[1]) -> z~[1] -> g -> a[1] ...
- ``plot_training_curves``: mini-batch loss and validation accuracy, without and with BN;
- ``plot_percentiles``: Ioffe & Szegedy's Figure 1(b, c), a sigmoid's input over training;
- ``plot_grids``: every seed's accuracy against a learning rate or init scale (log axis);
- ``plot_why``, ``plot_gamma_beta``: the "Going deeper" experiments of the lesson
  (results from ``course_lib.experiments``);
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


def plot_training_curves(comparison: ex.Comparison | None = None, target: float = 0.90) -> Figure:
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
def plot_grids(*grids: ex.Grid) -> Figure:
    """One panel per sweep (learning rate, initial weight scale): the best validation
    accuracy of every seed (dots) before its run stopped (at the target, or after the
    sweep's steps), per network, on a log axis; the dashed line is the target."""
    fig, axes = plt.subplots(
        1, len(grids), figsize=(5.6 * len(grids), 3.6), squeeze=False, layout="constrained"
    )
    colors = (PLAIN_COLOR, BN_COLOR, PARAM_COLOR, "#555555")
    for ax, grid in zip(axes[0], grids, strict=True):
        values = np.asarray(grid.values, dtype=float)
        n_nets = len(grid.cells)
        for j, (label, row) in enumerate(grid.cells.items()):
            spread = 1.0 + 0.06 * (j - (n_nets - 1) / 2)  # side by side on the log axis
            best = np.array([s.best for s in row])  # (values, seeds)
            xs = np.repeat(values * spread, best.shape[1])
            ax.plot(xs, best.ravel(), "o", ms=4, alpha=0.6, color=colors[j % 4])
            ax.plot(values * spread, np.median(best, axis=1), "-", color=colors[j % 4], label=label)
        ax.axhline(grid.target, color="#888888", lw=0.8, ls="--")
        ax.axhline(0.1, color="#bbbbbb", lw=0.8, ls=":")
        title = f"{grid.setting} (dots: seeds, line: median)"
        if grid.lr is not None:
            title += f", lr {grid.lr:g}"
        ax.set(xscale="log", ylim=(0, 1.02), xlabel=grid.setting, title=title)
        ax.set_xticks(values, [f"{v:g}" for v in values])
        _no_minor_labels(ax)
        ax.set_ylabel(
            f"best validation accuracy\n(a run stops at {grid.target:.0%} or {grid.steps} steps)"
        )
        ax.legend(loc="lower center", fontsize=9)
    return fig


def plot_why(why: ex.WhyResult) -> Figure:
    """Three measurements along training, without and with BN: gradient coupling
    (Santurkar et al.'s ICS), loss range and gradient change along the gradient
    direction (their loss-landscape probes)."""
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.3), layout="constrained")
    panels = [  # all on a log scale: the two networks differ by orders of magnitude
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
            # the titles' numbers for every step at once: unit averages per layer
            mean = run.probes["mean"].mean(axis=2)
            spread = run.probes["std"].mean(axis=2)
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
            self.stairs.append((row_stairs, frac, mean, spread))
        self.suptitle = fig.suptitle("", fontsize=10)
        self.fig = fig

    @property
    def artists(self) -> list:
        """The histograms, the only part of the figure that ``set_step`` changes."""
        return [st for row, *_ in self.stairs for st in row]

    def set_step(self, k: int) -> None:
        """Show the histograms of evaluation ``k`` (the titles are left as they are)."""
        for row_stairs, frac, _, _ in self.stairs:
            for l, st in enumerate(row_stairs):
                st.set_data(frac[k, l])

    def numbers(self, k: int) -> tuple[str, list[list[str]]]:
        """The step's headline and, per run and layer, "mean .., spread .." texts."""
        step = int(self.c.plain.steps[k])
        acc = (self.c.plain.history.val_acc[k], self.c.bn.history.val_acc[k])
        head = (
            f"step {step}: validation accuracy {acc[0]:.3f} without BN, {acc[1]:.3f} with BN "
            "(inference mode)"
        )
        cells = [
            [
                f"mean {round(mean[k, l], 2) + 0.0:+.2f}, spread {spread[k, l]:.2f}"
                for l in range(mean.shape[1])
            ]
            for _, _, mean, spread in self.stairs
        ]
        return head, cells

    def update(self, k: int) -> None:
        """Histograms and titles of evaluation ``k`` (the static figure)."""
        self.set_step(k)
        head, cells = self.numbers(k)
        for title, text in zip(self.titles, [t for row in cells for t in row], strict=True):
            title.set_text(f"{text} (unit averages)")
        self.suptitle.set_text(head)

    def html(self, k: int) -> str:
        """The numbers of evaluation ``k`` as a small HTML table (the widget's text)."""
        head, cells = self.numbers(k)
        rows = "".join(
            f"<tr><th style='text-align:left;padding-right:8px'>{run.label}</th>"
            + "".join(f"<td style='padding-right:12px'>{t}</td>" for t in row)
            + "</tr>"
            for run, row in zip((self.c.plain, self.c.bn), cells, strict=True)
        )
        layers = "".join(
            f"<th style='text-align:left'>layer {l + 1}</th>" for l in range(len(cells[0]))
        )
        return (
            f"<div style='font-family:sans-serif;font-size:12px'><b>{head}</b>"
            f"<table><tr><th></th>{layers}</tr>{rows}</table>"
            "<i>mean and spread of the sigmoid inputs, averaged over the units</i></div>"
        )


class _BlitPNG:
    """Renders a figure whose only changing parts are ``artists`` as PNG bytes, fast.

    The figure without them is drawn once and kept as a pixel buffer; each frame copies
    that background back, draws only the changing artists on it (blitting), and encodes
    the pixels with light compression. Text is the slow part of drawing (glyphs are
    rasterized at every draw): keep changing text out of ``artists``."""

    def __init__(self, fig: Figure, artists: list) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.fig, self.artists = fig, artists
        self.canvas = FigureCanvasAgg(fig)
        for a in artists:
            a.set_animated(True)  # left out of the full draw below
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(fig.bbox)

    def png(self) -> bytes:
        import io

        from PIL import Image

        self.canvas.restore_region(self.background)
        for a in self.artists:
            self.fig.draw_artist(a)
        rgba = np.asarray(self.canvas.buffer_rgba())
        buf = io.BytesIO()
        # the figure is opaque: RGB is enough, and a quarter smaller to compress
        Image.fromarray(rgba[..., :3]).save(buf, format="png", compress_level=1)
        return buf.getvalue()


def plot_activation_histograms(comparison: ex.Comparison | None = None, step: int = 300) -> Figure:
    """Histograms of every hidden layer's sigmoid inputs on the validation inputs at
    one training step (the evaluation nearest to ``step``), without and with BN, in
    inference mode. The static twin of ``activation_explorer``."""
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
    comparison the notebook already has, or the default one is trained, a few
    seconds); moving the slider only redraws the parts that change (blitting) and
    keeps each frame for a second visit; the numbers (accuracy, mean and spread per
    layer) are HTML text above the image, which costs nothing to redraw. Returns an
    ipywidgets VBox; ``box.sliders`` maps "step" to the slider (``box.slider`` is the
    same slider).
    """
    import ipywidgets as widgets

    c = comparison if comparison is not None else ex.default_comparison()
    steps = c.plain.steps
    fig = Figure(figsize=(9.5, 4.0), dpi=72)
    grid = _HistogramGrid(fig, c)
    renderer = _BlitPNG(fig, grid.artists)
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

    text = widgets.HTML()

    def redraw(_change=None) -> None:
        k = int(np.argmin(np.abs(steps - slider.value)))
        if k not in cache:
            grid.set_step(k)
            cache[k] = renderer.png()
        image.value = cache[k]
        text.value = grid.html(k)

    slider.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([slider, text, image])
    box.slider = slider
    box.sliders = {"step": slider}
    return box


ASSETS = {
    "04_bn_network_diagram.png": plot_network_diagram,
    "04_sigmoid_input_percentiles.png": plot_percentiles,
    "04_training_with_without_bn.png": plot_training_curves,
}
