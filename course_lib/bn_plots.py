"""Lesson 03: the figures and the live widget of the Batch Norm formulas.

- ``plot_batch_histograms``: one feature of a mini-batch before and after Batch
  Norm (the widget's static twin);
- ``plot_computational_graph``: the forward pass as a graph of eight nodes, the
  order in which the backward pass is derived;
- ``plot_gradcheck_steps``: why central differences use h ~ 1e-5 (truncation
  against rounding);
- ``plot_eps_effect``: what ε does to the output's spread when σ is small;
- ``batchnorm_explorer``: sliders for γ, β, ε and the input's mean, spread and shape.

Plot functions return a matplotlib Figure; ``ASSETS`` lists the ones saved to assets/.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._widgets import explorer_box
from .batchnorm import batchnorm_backward, batchnorm_forward
from .gradcheck import (
    BUG_ABOVE,
    CORRECT_BELOW,
    numerical_gradient,
    relative_error,
    upstream_gradient,
)

IN_COLOR, OUT_COLOR = "#4c72b0", "#dd8452"
SHAPES = ("normal", "skewed", "two bumps")
INPUT_RANGE = (-40.0, 40.0)  # fixed axes: moving a slider moves the histogram, not the axis
OUTPUT_RANGE = (-10.0, 10.0)


# ------------------------------------------------------------------ one feature, one batch
def input_sample(shape: str = "normal", m: int = 256, seed: int = 0) -> np.ndarray:
    """m values of one feature with batch mean exactly 0 and batch variance exactly 1.

    shape: "normal", "skewed" (exponential) or "two bumps" (two normals). Scaled by
    the widget's spread and shifted by its mean, so the batch statistics printed
    equal the slider values. Returns an (m,) array.
    """
    rng = np.random.default_rng(seed)
    if shape == "normal":
        u = rng.standard_normal(m)
    elif shape == "skewed":
        u = rng.exponential(size=m)
    elif shape == "two bumps":
        u = rng.standard_normal(m) * 0.35 + rng.choice([-1.0, 1.0], m)
    else:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    return (u - u.mean()) / u.std()


def _bn_column(z: np.ndarray, gamma: float, beta: float, eps: float) -> np.ndarray:
    out, _ = batchnorm_forward(z.reshape(-1, 1), [gamma], [beta], eps)
    return out[:, 0]


class _BlitRenderer:
    """PNG bytes of a figure whose axes, ticks and titles never change: they are drawn
    once into a background, and each frame draws only ``artists`` on a copy of it.

    About 5x less work than redrawing the whole figure (text layout dominates a full
    draw); the pixels are those of a full draw.
    """

    def __init__(self, fig: Figure, artists: list) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.canvas = FigureCanvasAgg(fig)
        self.fig, self.artists = fig, artists
        for artist in artists:
            artist.set_animated(True)  # left out of the full draw: the background
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(fig.bbox)

    def png(self) -> bytes:
        import io

        from PIL import Image

        self.canvas.restore_region(self.background)
        for artist in self.artists:
            artist.axes.draw_artist(artist)
        width, height = self.canvas.get_width_height()
        frame = Image.frombuffer("RGBA", (width, height), self.canvas.buffer_rgba(), "raw")
        buf = io.BytesIO()
        frame.save(buf, format="png", compress_level=1)  # as figure_png: light compression
        return buf.getvalue()


class _HistogramsView:
    """Two panels (before / after BN) whose artists are updated in place."""

    def __init__(self, axes: tuple[Axes, Axes], bins: int = 80) -> None:
        self.axes = axes
        self.edges = [np.linspace(*INPUT_RANGE, bins + 1), np.linspace(*OUTPUT_RANGE, bins + 1)]
        # plain text, no mathtext: parsing it would cost more than the whole redraw
        titles = ("before BN: z (one unit, one batch)", "after BN: z̃ = γ·x̂ + β")
        self.stairs, self.lines = [], []
        for ax, edges, color, title in zip(
            axes, self.edges, (IN_COLOR, OUT_COLOR), titles, strict=True
        ):
            self.stairs.append(ax.stairs(np.zeros(bins), edges, fill=True, color=color, alpha=0.75))
            mean = ax.axvline(0, color="k", lw=1.2)
            lo = ax.axvline(0, color="k", lw=0.9, ls="--")
            hi = ax.axvline(0, color="k", lw=0.9, ls="--")
            self.lines.append((mean, lo, hi))
            ax.set_xlim(edges[0], edges[-1])
            ax.set_xticks(np.linspace(edges[0], edges[-1], 5))  # few labels: text is the cost
            ax.set_title(title, fontsize=10)
            ax.set_yticks([])
            ax.spines[["left", "top", "right"]].set_visible(False)
        for ax in axes:
            ax.set_xlabel("mean: solid line, ± one standard deviation: dashed", fontsize=8)

    def artists(self) -> list:
        """What ``update`` changes (the histograms and the mean and ± std lines)."""
        return [*self.stairs, *(line for lines in self.lines for line in lines)]

    def update(self, z: np.ndarray, out: np.ndarray) -> None:
        for ax, values, edges, stairs, lines in zip(
            self.axes, (z, out), self.edges, self.stairs, self.lines, strict=True
        ):
            # values off the axis pile up in the edge bins instead of vanishing
            counts, _ = np.histogram(np.clip(values, edges[0], edges[-1]), edges)
            stairs.set_data(counts, edges)
            ax.set_ylim(0, max(counts.max(), 1) * 1.08)
            mean, std = values.mean(), values.std()
            for line, x in zip(lines, (mean, mean - std, mean + std), strict=True):
                line.set_xdata([x, x])


def batch_statistics(z: np.ndarray, gamma: float, beta: float, eps: float) -> dict[str, float]:
    """The numbers the widget prints for one feature z (m,): batch and output statistics."""
    out = _bn_column(z, gamma, beta, eps)
    var = float(z.var())
    return {
        "mu": float(z.mean()),
        "var": var,
        "std": float(np.sqrt(var)),
        "denominator": float(np.sqrt(var + eps)),
        "out_mean": float(out.mean()),
        "out_std": float(out.std()),
        "expected_out_std": float(abs(gamma) * np.sqrt(var / (var + eps))),
    }


def plot_batch_histograms(
    gamma: float = 1.5,
    beta: float = 2.0,
    eps: float = 1e-5,
    spread: float = 6.0,
    mean: float = -15.0,
    shape: str = "skewed",
    m: int = 256,
    seed: int = 0,
) -> Figure:
    """One feature of a batch before and after Batch Norm (the widget, drawn once).

    z = mean + spread * u, u from ``input_sample(shape, m, seed)``.
    """
    fig, axes = plt.subplots(1, 2, figsize=(9, 3), layout="constrained")
    z = mean + spread * input_sample(shape, m, seed)
    _HistogramsView(axes).update(z, _bn_column(z, gamma, beta, eps))
    return fig


def _stats_html(stats: dict[str, float], gamma: float, beta: float, eps: float) -> str:
    def f(v: float) -> str:
        return f"{v:.4g}"

    cell = 'style="padding:1px 8px;text-align:right"'
    rows = [
        ("batch mean μ", f(stats["mu"])),
        ("batch variance σ²", f(stats["var"])),
        ("batch std σ", f(stats["std"])),
        ("√(σ² + ε)", f(stats["denominator"])),
        ("output mean", f"{f(stats['out_mean'])}  (β = {f(beta)})"),
        ("output std", f"{f(stats['out_std'])}  (|γ| = {f(abs(gamma))})"),
    ]
    body = "".join(f"<tr><td {cell}>{k}</td><td {cell}>{v}</td></tr>" for k, v in rows)
    shrink = stats["expected_out_std"] / abs(gamma) if gamma else 1.0
    note = (
        f"ε is {f(eps / stats['var'])} × σ²: the output std is only {shrink:.0%} of |γ| "
        "(γ·σ/√(σ²+ε)), ε damps a unit that barely varies"
        if shrink < 0.99
        else "ε ≪ σ²: the output has mean β and std |γ|, whatever the input's mean and spread"
    )
    return (
        f'<table style="font-family:monospace;font-size:12px">{body}</table>'
        f'<div style="font-size:12px;max-width:300px">{note}</div>'
    )


def batchnorm_explorer(m: int = 256, seed: int = 0):
    """Live widget: one feature of a batch before and after Batch Norm.

    Sliders: γ, β, ε (log scale) and the input's mean, spread (log scale) and shape.
    Shows both histograms and prints the batch statistics. Returns an ipywidgets
    HBox; setting a slider's value redraws at once (also outside a notebook).
    ``box.sliders`` maps "gamma", "beta", "eps", "mean", "spread", "shape" to them.
    """
    import ipywidgets as widgets

    samples = {s: input_sample(s, m, seed) for s in SHAPES}  # precomputed
    fig = Figure(figsize=(7.2, 2.6), dpi=72)
    fig.subplots_adjust(left=0.02, right=0.98, bottom=0.2, top=0.88, wspace=0.08)
    view = _HistogramsView(tuple(fig.subplots(1, 2)))
    renderer = _BlitRenderer(fig, view.artists())
    image = widgets.Image(format="png", layout=widgets.Layout(width="520px"))
    table = widgets.HTML()
    style = {"description_width": "70px"}
    layout = widgets.Layout(width="300px")
    common = {"continuous_update": False, "style": style, "layout": layout}
    s = {
        "gamma": widgets.FloatSlider(
            value=1.0, min=0.0, max=2.5, step=0.05, description="γ", **common
        ),
        "beta": widgets.FloatSlider(
            value=0.0, min=-3.0, max=3.0, step=0.1, description="β", **common
        ),
        "eps": widgets.FloatLogSlider(
            value=1e-5,
            base=10,
            min=-8,
            max=1,
            step=0.5,
            description="ε",
            readout_format=".0e",
            **common,
        ),
        "mean": widgets.FloatSlider(
            value=10.0, min=-20.0, max=20.0, step=0.5, description="input mean", **common
        ),
        "spread": widgets.FloatLogSlider(
            value=4.0,
            base=10,
            min=-3,
            max=1,
            step=0.1,
            description="input std",
            readout_format=".3g",
            **common,
        ),
        "shape": widgets.Dropdown(
            options=SHAPES, value="normal", description="shape", style=style, layout=layout
        ),
    }

    def redraw(_change=None) -> None:
        gamma, beta, eps = s["gamma"].value, s["beta"].value, s["eps"].value
        z = s["mean"].value + s["spread"].value * samples[s["shape"].value]
        out = _bn_column(z, gamma, beta, eps)
        view.update(z, out)
        image.value = renderer.png()
        table.value = _stats_html(batch_statistics(z, gamma, beta, eps), gamma, beta, eps)

    return explorer_box(s, table, image, redraw)


# ------------------------------------------------------------------ the computational graph
_NODES = {
    # name: (x, y, label)
    "z": (0.0, 1.0, r"$z_i$"),
    "mu": (1.3, 0.0, "(1)\n" + r"$\mu=\frac{1}{m}\sum_i z_i$"),
    "d": (2.6, 1.0, "(2)\n" + r"$d_i=z_i-\mu$"),
    "q": (3.8, 0.0, "(3)\n" + r"$q_i=d_i^2$"),
    "var": (5.45, 0.0, "(4)\n" + r"$\sigma^2=\frac{1}{m}\sum_i q_i$"),
    "s": (7.25, 0.0, "(5)\n" + r"$s=\sqrt{\sigma^2+\varepsilon}$"),
    "r": (8.8, 0.0, "(6)\n" + r"$r=1/s$"),
    "xhat": (9.7, 1.0, "(7)\n" + r"$\hat x_i=d_i\, r$"),
    "out": (11.3, 1.0, "(8)\n" + r"$\tilde z_i=\gamma\hat x_i+\beta$"),
    "gamma": (10.75, 0.0, r"$\gamma$"),
    "beta": (11.85, 0.0, r"$\beta$"),
}
_EDGES = [
    ("z", "mu", r"$1/m$"),
    ("z", "d", "$1$"),
    ("mu", "d", "$-1$"),
    ("d", "q", r"$2d_i$"),
    ("q", "var", r"$1/m$"),
    ("var", "s", r"$1/(2s)$"),
    ("s", "r", r"$-1/s^2$"),
    ("r", "xhat", r"$d_i$"),
    ("d", "xhat", r"$r$"),
    ("xhat", "out", r"$\gamma$"),
    ("gamma", "out", r"$\hat x_i$"),
    ("beta", "out", "$1$"),
]


def plot_computational_graph() -> Figure:
    """The Batch Norm forward pass of one feature as a graph of eight nodes.

    Each edge carries the local derivative (child with respect to parent) that the
    backward pass multiplies by; a node with two outgoing edges (z, d) adds the
    gradients coming back along them.
    """
    fig, ax = plt.subplots(figsize=(12, 3.6), layout="constrained")
    ax.set_xlim(-0.4, 12.5)
    ax.set_ylim(-0.75, 1.75)
    ax.axis("off")
    box = {"boxstyle": "round,pad=0.35", "fc": "#eef3fb", "ec": IN_COLOR, "lw": 1.2}
    texts = {}
    for name, (x, y, label) in _NODES.items():
        style = dict(box, fc="#fdf0e6", ec=OUT_COLOR) if name in ("gamma", "beta") else box
        texts[name] = ax.text(x, y, label, ha="center", va="center", fontsize=10, bbox=style)
    fig.canvas.draw()  # the boxes need a size before arrows can be clipped to them
    for a, b, local in _EDGES:
        (x0, y0, _), (x1, y1, _) = _NODES[a], _NODES[b]
        rad = -0.16 if (a, b) == ("d", "xhat") else 0.0
        ax.annotate(
            "",
            xy=(x1, y1),
            xytext=(x0, y0),
            arrowprops={
                "arrowstyle": "-|>",
                "color": "0.35",
                "patchA": texts[a].get_bbox_patch(),
                "patchB": texts[b].get_bbox_patch(),
                "shrinkA": 2,
                "shrinkB": 2,
                "connectionstyle": f"arc3,rad={rad}",
            },
        )
        xm, ym = (x0 + x1) / 2, (y0 + y1) / 2 + (0.46 if rad else 0.0)
        ax.text(
            xm,
            ym,
            local,
            ha="center",
            va="center",
            fontsize=11,
            color="#b42318",
            bbox={"fc": "white", "ec": "none", "pad": 0.5},
        )
    ax.text(
        -0.3,
        -0.62,
        "black: the forward pass of one feature (i = 1…m);  red: the local derivative of "
        "each edge, multiplied in on the way back; z and d feed two nodes: their gradients add",
        fontsize=8.5,
        color="0.3",
    )
    return fig


# ------------------------------------------------------------------ gradient checking
def gradcheck_errors(
    steps: np.ndarray, m: int = 4, n: int = 3, eps: float = 1e-5, seed: int = 0
) -> np.ndarray:
    """Relative error of Batch Norm's dz by central differences, for every step h.

    A random (m, n) batch and random dout (seeded); returns one error per step.
    """
    rng = np.random.default_rng(seed)
    z = rng.normal(1.0, 2.0, (m, n))
    gamma, beta = rng.uniform(0.5, 2.0, n), rng.normal(0.0, 1.0, n)
    dout = upstream_gradient((m, n), seed=seed + 1)
    _, cache = batchnorm_forward(z, gamma, beta, eps)
    dz = batchnorm_backward(dout, cache)[0]

    def forward(a: np.ndarray) -> np.ndarray:
        return batchnorm_forward(a, gamma, beta, eps)[0]

    return np.array([relative_error(dz, numerical_gradient(forward, z, dout, h)) for h in steps])


def plot_gradcheck_steps(seed: int = 0) -> Figure:
    """Relative error of the numerical gradient against the step h (log-log): a V.

    Large h: truncation error ~ h²; small h: rounding error ~ 1e-16 / h.
    """
    steps = np.logspace(-12, -1, 23)
    errors = gradcheck_errors(steps, seed=seed)
    fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
    ax.loglog(steps, errors, "o-", color=IN_COLOR, ms=4)
    ax.axvline(1e-5, color="0.5", ls="--", lw=1)
    ax.text(1.2e-5, errors.min() / 3, "h = 1e-5", fontsize=9, color="0.3", va="center")
    # the yardstick of lesson 03, the helpers and the checkers (gradcheck.verdict)
    ax.axhspan(errors.min() / 10, CORRECT_BELOW, color="#e6f4ea", zorder=0)
    ax.axhspan(BUG_ABOVE, errors.max() * 10, color="#fdecea", zorder=0)
    ax.text(
        2e-12,
        errors.min() / 3,
        f"below {CORRECT_BELOW:.0e}: correct",
        fontsize=8,
        color="#1a7f37",
        va="center",
    )
    ax.text(
        1.2e-5,
        errors.max() * 3,
        f"above {BUG_ABOVE:.0e}: a bug",
        fontsize=8,
        color="#b42318",
        va="center",
    )
    ax.set_xlabel("step h")
    ax.set_ylabel("relative error of dz")
    ax.set_title("central differences: rounding (left) against truncation (right)", fontsize=10)
    return fig


# ------------------------------------------------------------------ what eps does
def plot_eps_effect(gamma: float = 1.0) -> Figure:
    """Output standard deviation γσ/√(σ²+ε) of a feature against its batch std σ."""
    sigma = np.logspace(-5, 1, 200)
    fig, ax = plt.subplots(figsize=(6, 3.4), layout="constrained")
    for eps, ls in ((1e-5, "-"), (1e-3, "--"), (1e-1, ":")):
        ax.semilogx(sigma, gamma * sigma / np.sqrt(sigma**2 + eps), ls, label=f"ε = {eps:g}")
        ax.axvline(np.sqrt(eps), color="0.8", lw=0.8, zorder=0)
    ax.set_xlabel("batch standard deviation σ of the feature")
    ax.set_ylabel("output std / γ")
    ax.set_title(
        r"$\gamma\,\sigma/\sqrt{\sigma^2+\varepsilon}$: features with σ ≪ √ε are damped",
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="upper left")
    return fig


ASSETS = {
    "03_bn_graph.png": plot_computational_graph,
    "03_bn_histograms.png": plot_batch_histograms,
    "03_gradcheck_step.png": plot_gradcheck_steps,
}
