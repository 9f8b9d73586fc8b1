"""Lesson 05: exponentially weighted averages (指数加权平均) from first principles.

A stream of noisy values theta_1, theta_2, ... (for Batch Norm: the mean of one
unit over each mini-batch) is smoothed by the recursion

    v_0 = 0,    v_t = beta * v_{t-1} + (1 - beta) * theta_t        (0 <= beta < 1)

Unrolled, v_t = (1 - beta) * sum_{k=1..t} beta^(t-k) * theta_k + beta^t * v_0:
the newest value weighs (1 - beta), each older one beta times less. So

* the weights of the thetas sum to 1 - beta^t, not 1: with v_0 = 0 the early
  averages are pulled towards 0 (bias at the start), and dividing by that sum,
  v_t / (1 - beta^t), removes the bias (for any v_0: (v_t - beta^t v_0) / (1 - beta^t));
* a value k steps old weighs beta^k times the newest one, and beta^(1/(1-beta)) ~ 1/e:
  the average "remembers" about 1 / (1 - beta) values (the effective window).

Figures and the lesson's widget (``ema_explorer``) live here too.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from ._validation import check_beta
from .i18n import _, fig_, fig_f

# The population the widget and the figures sample from: the pre-activation z of
# one hidden unit, z ~ N(3, 2^2). Far from Batch Norm's starting estimates (0 and 1),
# so that the bias at the start is visible.
POP_MEAN = 3.0
POP_STD = 2.0


def _as_series(theta: object) -> np.ndarray:
    arr = np.asarray(theta, dtype=float)
    if arr.ndim not in (1, 2) or arr.shape[0] == 0:
        raise ValueError(
            "theta must be a non-empty series of shape (T,) or (T, n) (one row per step), "
            f"got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError("theta contains NaN or infinite values")
    return arr


def exponentially_weighted_average(
    theta: np.ndarray, beta: float = 0.9, v0: float | np.ndarray = 0.0
) -> np.ndarray:
    """The recursion v_t = beta * v_{t-1} + (1 - beta) * theta_t, step by step.

    theta: (T,) or (T, n) values, one row per step; beta in [0, 1); v0: the start
    value (scalar or (n,)). Returns v_1 .. v_T, same shape as theta (a new array).
    """
    theta = _as_series(theta)
    beta = check_beta(beta)
    v = np.broadcast_to(np.asarray(v0, dtype=float), theta.shape[1:]).copy()
    out = np.empty_like(theta)
    for t, value in enumerate(theta):
        v = beta * v + (1.0 - beta) * value
        out[t] = v
    return out


def bias_correct(v_t: np.ndarray | float, beta: float, t: int | np.ndarray, v0: float = 0.0):
    """Remove the start value's share from an EWA after t steps.

    v_t: the average after t >= 1 steps (scalar or array; t broadcasts against it).
    Returns (v_t - beta^t * v0) / (1 - beta^t), which is v_t / (1 - beta^t) for v0 = 0:
    the weighted mean of the thetas with weights that sum to 1.
    """
    beta = check_beta(beta)
    t = np.asarray(t)
    if np.any(t < 1):
        raise ValueError(f"t must be >= 1 (the number of values averaged), got {t}")
    decay = beta ** t.astype(float)
    return (np.asarray(v_t, dtype=float) - decay * v0) / (1.0 - decay)


def bias_corrected_average(theta: np.ndarray, beta: float = 0.9) -> np.ndarray:
    """v_t / (1 - beta^t) for t = 1..T, from a zero start: shape of theta."""
    v = exponentially_weighted_average(theta, beta, 0.0)
    t = np.arange(1, v.shape[0] + 1).reshape((-1,) + (1,) * (v.ndim - 1))
    return bias_correct(v, beta, t)


def ema_weights(beta: float, t: int) -> np.ndarray:
    """Weight of theta_1 .. theta_t in v_t (zero start): (1 - beta) * beta^(t-k), shape (t,).

    They sum to 1 - beta^t; the missing beta^t is the weight of v_0.
    """
    beta = check_beta(beta)
    if int(t) != t or t < 1:
        raise ValueError(f"t must be a positive integer, got {t!r}")
    age = np.arange(int(t) - 1, -1, -1)  # theta_1 is t-1 steps old
    return (1.0 - beta) * beta**age


def effective_window(beta: float) -> float:
    """About how many recent values the average remembers: 1 / (1 - beta).

    A value that old has weight beta^(1/(1-beta)) ~ 1/e of the newest one's.
    """
    return 1.0 / (1.0 - check_beta(beta))


# ------------------------------------------------------------------ the batch stream
@dataclass(frozen=True)
class BatchStream:
    """Statistics of T mini-batches of size m drawn from N(POP_MEAN, POP_STD^2).

    means, var_unbiased, var_biased: (T,) per-batch mean and variances (ddof=1, ddof=0).
    """

    batch_size: int
    means: np.ndarray
    var_unbiased: np.ndarray
    var_biased: np.ndarray


def batch_stream(batch_size: int, steps: int = 300, seed: int = 0) -> BatchStream:
    """Draw ``steps`` mini-batches of ``batch_size`` values of one unit and summarize each.

    Seeded per batch size, so every size gives the same stream whatever else was drawn.
    """
    if int(batch_size) != batch_size or batch_size < 2:
        raise ValueError(f"batch_size must be an integer >= 2, got {batch_size!r}")
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    rng = np.random.default_rng([seed, int(batch_size)])
    z = rng.normal(POP_MEAN, POP_STD, size=(int(steps), int(batch_size)))
    return BatchStream(int(batch_size), z.mean(1), z.var(1, ddof=1), z.var(1, ddof=0))


# ------------------------------------------------------------------ figures
def plot_ema_weights(betas=(0.5, 0.9, 0.98), t: int = 120):
    """How much each past value weighs in v_t: (1 - beta) beta^age, with 1/(1-beta) marked."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    for beta in betas:
        w = ema_weights(beta, t)[::-1]  # by age 0, 1, 2, ...
        (line,) = ax.plot(np.arange(t), w, label=f"β = {beta:g}")
        k = effective_window(beta)
        if k < t:
            ax.axvline(k, color=line.get_color(), ls=":", lw=1)
            ax.annotate(
                f"1/(1−β) = {k:.0f}",
                (k, w[0] / np.e),
                xytext=(6, 6),
                textcoords="offset points",
                color=line.get_color(),
                fontsize=8,
            )
    ax.set_yscale("log")
    ax.set_ylim(1e-5, 1)
    ax.set_xlabel(fig_("age of the value (steps before the newest)"))
    ax.set_ylabel(fig_("weight in $v_t$"))
    ax.set_title(fig_("Exponentially weighted average: weights decay by β per step"), fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_smoothing(betas=(0.5, 0.9, 0.99), steps: int = 200, seed: int = 0):
    """Noise versus lag: batch means of a unit whose true mean drifts as training goes on."""
    import matplotlib.pyplot as plt

    t = np.arange(1, steps + 1)
    drift = POP_MEAN - 2.0 * np.exp(-t / 40.0)  # the layer's mean settles as weights train
    rng = np.random.default_rng(seed)
    theta = drift + rng.normal(0.0, POP_STD / np.sqrt(16), size=steps)  # batches of 16
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    ax.plot(t, theta, ".", color="0.6", ms=3, label=fig_("batch means $θ_t$"))
    ax.plot(t, drift, color="k", lw=1, ls="--", label=fig_("true mean (drifting)"))
    for beta in betas:
        ax.plot(
            t,
            bias_corrected_average(theta, beta),
            lw=1.6,
            label=fig_f("β = {beta:g}, corrected", beta=beta),
        )
    ax.set_xlabel(fig_("training step t"))
    ax.set_ylabel(fig_("mean of z"))
    ax.set_title(fig_("Small β follows the noise, large β lags behind the drift"), fontsize=10)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def plot_bias_correction(beta: float = 0.98, steps: int = 150, batch_size: int = 16):
    """A zero-started EWA creeps up from 0; v_t / (1 - beta^t) is right from the first step."""
    import matplotlib.pyplot as plt

    s = batch_stream(batch_size, steps)
    t = np.arange(1, steps + 1)
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    ax.plot(t, s.means, ".", color="0.6", ms=3, label=fig_("batch means $θ_t$"))
    ax.axhline(
        POP_MEAN, color="k", lw=1, ls="--", label=fig_f("true mean {POP_MEAN:g}", POP_MEAN=POP_MEAN)
    )
    ax.plot(t, exponentially_weighted_average(s.means, beta), label=fig_("$v_t$ (start 0)"))
    ax.plot(t, bias_corrected_average(s.means, beta), label="$v_t / (1-β^t)$")
    ax.set_xlabel(fig_("step t"))
    ax.set_ylabel(fig_("estimate of the mean"))
    ax.set_title(
        fig_f("Bias at the start and its correction, β = {beta:g}", beta=beta), fontsize=10
    )
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ the explorer
BETAS = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)
BATCH_SIZES = (2, 4, 8, 16, 32, 64, 128)
MAX_STEPS = 300


@dataclass(frozen=True)
class Estimates:
    """Running estimates after the last step: what the explorer reports."""

    mean_ema: float  # zero start, as Batch Norm's running mean
    mean_corrected: float  # v_t / (1 - beta^t)
    var_unbiased: float  # start 1, unbiased batch variances (paper, PyTorch)
    var_corrected: float  # the same with (v_t - beta^t) / (1 - beta^t)
    var_biased: float  # start 1, biased batch variances (Keras 3)


class _RunningEstimatesPlot:
    """Two panels (mean, variance) of running estimates over training steps.

    Built once on given axes; ``update`` only moves line data. Legends sit below the
    axes, so that the lines never cover them (the widget redraws only the lines).
    xmax: fixed right end of the step axis, or None to follow the number of steps.
    """

    def __init__(self, ax_mean, ax_var, xmax: int | None = None):
        self.ax_mean, self.ax_var, self.xmax = ax_mean, ax_var, xmax
        dots = {"ls": "none", "marker": ".", "ms": 3, "color": "0.65"}
        (self.mean_dots,) = ax_mean.plot([], [], **dots, label=fig_("batch means"))
        (self.mean_ema,) = ax_mean.plot([], [], color="C0", lw=1.6, label=fig_("EWA, start 0"))
        (self.mean_cor,) = ax_mean.plot([], [], color="C1", lw=1.6, label=fig_("bias-corrected"))
        ax_mean.axhline(POP_MEAN, color="k", ls="--", lw=1, label=fig_("population"))
        (self.var_dots,) = ax_var.plot([], [], **dots, label=fig_("unbiased batch var."))
        (self.var_unb,) = ax_var.plot(
            [], [], color="C0", lw=1.6, label=fig_("EWA unbiased (PyTorch)")
        )
        (self.var_cor,) = ax_var.plot([], [], color="C1", lw=1.6, label=fig_("bias-corrected"))
        (self.var_bia,) = ax_var.plot([], [], color="C3", lw=1.2, label=fig_("EWA biased (Keras)"))
        ax_var.axhline(POP_STD**2, color="k", ls="--", lw=1, label=fig_("population"))
        self.lines = (
            self.mean_dots,
            self.mean_ema,
            self.mean_cor,
            self.var_dots,
            self.var_unb,
            self.var_cor,
            self.var_bia,
        )
        ax_mean.set_ylim(-0.5, 7.0)  # fixed limits: moving a slider moves the lines only
        ax_var.set_ylim(0.0, 11.0)
        ax_mean.set_title(fig_("running mean (starts at 0)"), fontsize=9)
        ax_var.set_title(fig_("running variance (starts at 1)"), fontsize=9)
        for ax in (ax_mean, ax_var):
            ax.set_xlabel(fig_("training step"), fontsize=8, labelpad=1)
            ax.tick_params(labelsize=7)
            if xmax is not None:
                ax.set_xlim(0, xmax + 1)
            ax.legend(
                fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, frameon=False
            )

    def update(self, stream: BatchStream, beta: float, steps: int) -> Estimates:
        t = np.arange(1, steps + 1)
        means, var_u, var_b = (
            a[:steps] for a in (stream.means, stream.var_unbiased, stream.var_biased)
        )
        v_mean = exponentially_weighted_average(means, beta, 0.0)
        v_var = exponentially_weighted_average(var_u, beta, 1.0)
        v_bia = exponentially_weighted_average(var_b, beta, 1.0)
        m_cor = bias_correct(v_mean, beta, t)
        var_cor = bias_correct(v_var, beta, t, v0=1.0)
        values = (means, v_mean, m_cor, var_u, v_var, var_cor, v_bia)
        for line, y in zip(self.lines, values, strict=True):
            line.set_data(t, y)
        if self.xmax is None:
            for ax in (self.ax_mean, self.ax_var):
                ax.set_xlim(0, steps + 1)
        return Estimates(
            float(v_mean[-1]),
            float(m_cor[-1]),
            float(v_var[-1]),
            float(var_cor[-1]),
            float(v_bia[-1]),
        )


_FIGSIZE = (8.4, 3.3)
_MARGINS = {"left": 0.06, "right": 0.98, "top": 0.86, "bottom": 0.33, "wspace": 0.18}


def plot_running_estimates(beta: float = 0.9, batch_size: int = 8, steps: int = 200, seed: int = 0):
    """The explorer's figure, drawn once (the static version for pages and slides)."""
    import matplotlib.pyplot as plt

    fig, (ax_m, ax_v) = plt.subplots(1, 2, figsize=_FIGSIZE)
    fig.subplots_adjust(**_MARGINS)
    plot = _RunningEstimatesPlot(ax_m, ax_v)
    plot.update(batch_stream(batch_size, steps, seed), check_beta(beta), steps)
    fig.suptitle(
        fig_f(
            "β = {beta:g}, batch size {batch_size}, {steps} steps",
            beta=beta,
            batch_size=batch_size,
            steps=steps,
        ),
        fontsize=10,
    )
    return fig


def estimates_summary(est: Estimates, beta: float, batch_size: int, steps: int) -> str:
    """The explorer's numbers as a small HTML table."""
    m = batch_size
    rows = [
        (_("effective window 1/(1−β)"), f"{effective_window(beta):.4g} steps"),
        (_("weight left on the start value β<sup>t</sup>"), f"{beta**steps:.3g}"),
        (
            _("running mean (start 0) / bias-corrected"),
            f"{est.mean_ema:.3f} / {est.mean_corrected:.3f}",
        ),
        (_("population mean"), f"{POP_MEAN:.3f}"),
        (
            _("running var., unbiased / bias-corrected"),
            f"{est.var_unbiased:.3f} / {est.var_corrected:.3f}",
        ),
        (_("running var., biased (Keras)"), f"{est.var_biased:.3f}"),
        (
            _("population var. / (m−1)/m of it"),
            f"{POP_STD**2:.3f} / {(m - 1) / m * POP_STD**2:.3f}",
        ),
    ]
    body = "".join(
        f"<tr><td style='text-align:left;padding:0 8px'>{k}</td>"
        f"<td style='text-align:right;padding:0 8px'>{v}</td></tr>"
        for k, v in rows
    )
    return f"<table style='font-size:12px'>{body}</table>"


class _LineRenderer:
    """Redraw only some artists of a figure over a cached background, as PNG bytes.

    Axes, ticks, titles and legends are drawn once; an update restores that image
    and draws the moving lines on it (a few ms instead of a full redraw).
    """

    def __init__(self, fig, artists):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.artists = tuple(artists)
        self.canvas = FigureCanvasAgg(fig)
        for a in self.artists:
            a.set_visible(False)
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(fig.bbox)
        for a in self.artists:
            a.set_visible(True)

    def png(self) -> bytes:
        from PIL import Image

        self.canvas.restore_region(self.background)
        renderer = self.canvas.get_renderer()
        for a in self.artists:
            a.draw(renderer)
        rgb = np.asarray(self.canvas.buffer_rgba())[..., :3]
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format="png", compress_level=1)
        return buf.getvalue()


def ema_explorer(seed: int = 0):
    """The lesson's widget: β, batch size and number of steps as sliders.

    Shows the running mean and variance (with and without bias correction, unbiased
    and biased variance) against the population values, and the final numbers.
    Returns an ipywidgets VBox; each slider change redraws synchronously.
    """
    import ipywidgets as widgets
    from matplotlib.figure import Figure

    streams = {m: batch_stream(m, MAX_STEPS, seed) for m in BATCH_SIZES}
    fig = Figure(figsize=_FIGSIZE, dpi=80)
    fig.subplots_adjust(**_MARGINS)
    ax_m, ax_v = fig.subplots(1, 2)
    plot = _RunningEstimatesPlot(ax_m, ax_v, xmax=MAX_STEPS)
    render = _LineRenderer(fig, plot.lines)

    style = {"description_width": "90px"}
    layout = widgets.Layout(width="420px")
    beta_s = widgets.SelectionSlider(
        options=BETAS, value=0.9, description="β", style=style, layout=layout
    )
    m_s = widgets.SelectionSlider(
        options=BATCH_SIZES, value=8, description=_("batch size m"), style=style, layout=layout
    )
    steps_s = widgets.IntSlider(
        value=200,
        min=10,
        max=MAX_STEPS,
        step=10,
        description=_("steps"),
        style=style,
        layout=layout,
    )
    image = widgets.Image(format="png")
    numbers = widgets.HTML()

    def redraw(_change=None) -> None:
        beta, m, steps = beta_s.value, m_s.value, steps_s.value
        est = plot.update(streams[m], beta, steps)
        image.value = render.png()
        numbers.value = estimates_summary(est, beta, m, steps)

    for s in (beta_s, m_s, steps_s):
        s.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([widgets.VBox([beta_s, m_s, steps_s]), numbers]), image])


ASSETS = {
    "05_ema_weights.png": plot_ema_weights,
    "05_bias_correction.png": plot_bias_correction,
    "05_running_estimates.png": plot_running_estimates,
}
