"""Lesson 01 figures: the training set before and after each normalization step.

One call per figure of the notes (raw, centred, scaled), a side-by-side view of
the three steps, the notes' "X / sigma^2" error drawn next to the correct
"X / sigma", what goes wrong when a test batch is normalized with its own
statistics, the per-feature scales of a real data set before and after, and
the lesson's live widget ``normalization_explorer()``.

Every plot function takes (m, n) arrays (rows are examples; scatter plots use
the first two features) and returns a matplotlib Figure.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._validation import as_matrix
from ._widgets import Blitter, explorer_box
from .normalization import ConstantFeatureWarning, fit_normalizer, normalize

__all__ = [
    "plot_raw",
    "plot_centred",
    "plot_scaled",
    "plot_three_steps",
    "plot_variance_error",
    "plot_test_statistics",
    "plot_feature_scales",
    "normalization_explorer",
    "ASSETS",
]

TRAIN_COLOR = "#1f77b4"
TEST_COLOR = "#d95f02"
WRONG_COLOR = "#b42318"
MEAN_COLOR = "#111111"


# ------------------------------------------------------------------ building blocks
def _points(X: np.ndarray, name: str) -> np.ndarray:
    X = as_matrix(X, name)
    if X.shape[1] < 2:
        raise ValueError(f"{name} needs at least 2 features to draw a scatter, got {X.shape}")
    return X[:, :2]


def _fit_quietly(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """fit_normalizer without the constant-feature warning (a figure shows it anyway)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantFeatureWarning)
        return fit_normalizer(X)


def steps(X: np.ndarray) -> dict[str, np.ndarray]:
    """The training set after each step: {"raw", "centred", "scaled"}, each (m, 2).

    X: (m, n) training set; its first two features are used.
    """
    X = _points(X, "X")
    mu, sigma = _fit_quietly(X)
    return {"raw": X, "centred": X - mu, "scaled": normalize(X, mu, sigma)}


def shared_frame(*clouds: np.ndarray, pad: float = 0.08) -> tuple[float, float, float, float]:
    """Axis limits (x0, x1, y0, y1) holding every cloud and the origin, with a margin."""
    pts = np.vstack([np.asarray(c, dtype=float)[:, :2] for c in clouds] + [np.zeros((1, 2))])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    margin = pad * (hi - lo).max()
    return (lo[0] - margin, hi[0] + margin, lo[1] - margin, hi[1] + margin)


def _num(v: float, digits: int = 2) -> str:
    """v rounded for display, never "-0.00"."""
    return f"{round(float(v), digits) + 0.0:.{digits}f}"


def stats_line(P: np.ndarray, *, variance: bool = False) -> str:
    """'μ = (.., ..)   σ = (.., ..)' of a cloud P (m, 2); the variance instead of σ
    when ``variance`` is true."""
    mu, sd = P.mean(axis=0), P.std(axis=0)
    spread = (
        f"σ² = ({_num(sd[0] ** 2)}, {_num(sd[1] ** 2)})"
        if variance
        else (f"σ = ({_num(sd[0])}, {_num(sd[1])})")
    )
    return f"μ = ({_num(mu[0])}, {_num(mu[1])})   {spread}"


def _decorate(ax: Axes) -> None:
    """Axes through the origin, equal scales on both axes (the box keeps its size)."""
    ax.axhline(0, color="0.75", lw=0.8, zorder=0)
    ax.axvline(0, color="0.75", lw=0.8, zorder=0)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")


class _Cloud:
    """One point cloud on an axis, with its mean (+) and ±1 σ bars along each feature.

    Artists are made once and updated in place, so the widget redraws quickly."""

    def __init__(
        self, ax: Axes, color: str = TRAIN_COLOR, label: str | None = None, stats: bool = True
    ) -> None:
        self.ax = ax
        self.points = ax.scatter(
            np.zeros(0), np.zeros(0), s=9, color=color, alpha=0.6, lw=0, label=label
        )
        self.bars = []
        if stats:
            kw = {"color": MEAN_COLOR, "lw": 1.3, "zorder": 3}
            self.bars = [ax.plot([], [], **kw)[0], ax.plot([], [], **kw)[0]]
            self.bars.append(ax.plot([], [], "+", ms=11, mew=1.6, **kw)[0])

    def update(self, P: np.ndarray) -> None:
        self.points.set_offsets(P)
        if self.bars:
            (m1, m2), (s1, s2) = P.mean(axis=0), P.std(axis=0)
            self.bars[0].set_data([m1 - s1, m1 + s1], [m2, m2])
            self.bars[1].set_data([m1, m1], [m2 - s2, m2 + s2])
            self.bars[2].set_data([m1], [m2])


def _set_frame(ax: Axes, frame: Sequence[float]) -> None:
    """Show at least the frame (x0, x1, y0, y1); equal aspect widens it to fill the box.

    Set as the data limits with autoscaling on (fixed limits and an equal aspect
    would make matplotlib log a warning and ignore them)."""
    ax.dataLim.set_points(np.array([[frame[0], frame[2]], [frame[1], frame[3]]], dtype=float))
    ax.margins(0)
    ax.autoscale_view()


STEP_TITLES = {
    "raw": "raw",
    "centred": "step 1  $X - \\mu$",
    "scaled": "step 2  $(X - \\mu)\\,/\\,\\sigma$",
}


class _StepsView:
    """Raw, centred and scaled clouds on three axes sharing one frame."""

    def __init__(self, axes: Sequence[Axes]) -> None:
        self.axes = list(axes)
        for ax in self.axes:
            _decorate(ax)
        for ax in self.axes[:-1]:  # one frame: x tick labels on the bottom panel only
            ax.tick_params(labelbottom=False)
            ax.set_xlabel("")
        self.clouds = [_Cloud(ax) for ax in self.axes]
        # Plain texts above each axes rather than titles: titles are re-placed at every
        # draw, which is the slowest part of a widget redraw.
        self.titles = [
            ax.text(0, 1.03, "", transform=ax.transAxes, fontsize=10, va="bottom")
            for ax in self.axes
        ]

    def update(self, X: np.ndarray) -> None:
        s = steps(X)
        frame = shared_frame(*s.values())
        for k, (step, P) in enumerate(s.items()):
            self.clouds[k].update(P)
            self.titles[k].set_text(f"{STEP_TITLES[step]}:   {stats_line(P)}")
            _set_frame(self.axes[k], frame)


def _one_step(X: np.ndarray, step: str) -> Figure:
    s = steps(X)
    fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
    _decorate(ax)
    _Cloud(ax).update(s[step])
    ax.set_title(f"{STEP_TITLES[step]}:   {stats_line(s[step])}", fontsize=10, loc="left")
    _set_frame(ax, shared_frame(*s.values()))
    return fig


def plot_raw(X: np.ndarray) -> Figure:
    """The raw training set X (m, 2+), as in the notes' first figure; μ (+) and ±σ marked.

    The three step figures share one frame, so they can be compared by eye."""
    return _one_step(X, "raw")


def plot_centred(X: np.ndarray) -> Figure:
    """The training set after step 1, X - μ: centred on the origin, still elongated."""
    return _one_step(X, "centred")


def plot_scaled(X: np.ndarray) -> Figure:
    """The training set after step 2, (X - μ)/σ: centred, variance 1 per feature."""
    return _one_step(X, "scaled")


def plot_three_steps(X: np.ndarray) -> Figure:
    """Raw, centred and scaled training set X (m, 2+) one above the other, in one frame."""
    fig, axes = plt.subplots(3, 1, figsize=(5.5, 7.2), layout="constrained")
    _StepsView(axes).update(X)
    return fig


def plot_variance_error(X: np.ndarray) -> Figure:
    """The notes' error next to the fix: (X - μ)/σ² versus (X - μ)/σ, X (m, 2+).

    Dividing by the variance leaves feature j with variance 1/σ_j²: a wide
    feature (σ > 1) is squeezed, a narrow one (σ < 1) is stretched."""
    P = _points(X, "X")
    mu, sigma = _fit_quietly(P)
    wrong = (P - mu) / sigma**2
    right = normalize(P, mu, sigma)
    frame = shared_frame(wrong, right)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), layout="constrained")
    for ax, Q, color, title in (
        (axes[0], wrong, WRONG_COLOR, "the notes: $(X - \\mu)\\,/\\,\\sigma^2$  (wrong)"),
        (axes[1], right, TRAIN_COLOR, "corrected: $(X - \\mu)\\,/\\,\\sigma$"),
    ):
        _decorate(ax)
        _Cloud(ax, color).update(Q)
        ax.set_title(f"{title}\n{stats_line(Q, variance=True)}", fontsize=10)
        _set_frame(ax, frame)
    return fig


def plot_test_statistics(X_train: np.ndarray, X_test: np.ndarray) -> Figure:
    """A test batch normalized with the training μ, σ (right) and with its own (wrong).

    X_train: (m, 2+) training set; X_test: (k, 2+) test batch, k >= 2.
    Left: train and test both through the training μ, σ: whatever differs between
    them (a shift, a change of scale) stays visible. Right: the test batch through
    its own μ, σ: it is forced onto the training cloud and the difference is erased.
    """
    P = _points(X_train, "X_train")
    T = _points(X_test, "X_test")
    if T.shape[0] < 2:
        raise ValueError("X_test needs at least 2 examples to have statistics of its own")
    mu, sigma = _fit_quietly(P)
    mu_t, sigma_t = _fit_quietly(T)
    train_n = normalize(P, mu, sigma)
    test_right = normalize(T, mu, sigma)
    test_own = normalize(T, mu_t, sigma_t)
    frame = shared_frame(train_n, test_right, test_own)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), layout="constrained")
    for ax, Q, title in (
        (axes[0], test_right, "test batch with the training μ, σ  (right)"),
        (axes[1], test_own, "test batch with its own μ, σ  (wrong)"),
    ):
        _decorate(ax)
        _Cloud(ax, "0.65", "train (normalized)", stats=False).update(train_n)
        _Cloud(ax, TEST_COLOR, "test batch").update(Q)
        ax.set_title(f"{title}\ntest batch: {stats_line(Q)}", fontsize=10)
        ax.legend(loc="lower right", fontsize=8)
        _set_frame(ax, frame)
    return fig


def plot_feature_scales(
    X_train: np.ndarray,
    X_test: np.ndarray | None = None,
    feature_names: Sequence[str] | None = None,
) -> Figure:
    """Per-feature spread before and after normalization (e.g. the breast-cancer data).

    X_train: (m, n), X_test: (k, n) or None, feature_names: n names or None.
    Left: the standard deviation of every feature on a log axis, raw (dots) and
    after normalization with the training μ, σ (train: exactly 1; test: close to 1).
    Right: the normalized training values of each feature: range (thin line),
    middle half (thick) and median (dot).
    Features are sorted by their raw spread.
    """
    P = as_matrix(X_train, "X_train")
    n = P.shape[1]
    names = list(feature_names) if feature_names is not None else [f"x{j + 1}" for j in range(n)]
    if len(names) != n:
        raise ValueError(f"feature_names must have {n} names, got {len(names)}")
    T = None
    if X_test is not None:
        T = as_matrix(X_test, "X_test")
        if T.shape[1] != n:
            raise ValueError(f"X_test must have {n} features like X_train, got {T.shape[1]}")
    mu, sigma = _fit_quietly(P)
    P_n = normalize(P, mu, sigma)
    raw_sd = P.std(axis=0)
    order = np.argsort(raw_sd)
    rows = np.arange(n)
    fig, (ax0, ax1) = plt.subplots(
        1, 2, figsize=(10, max(3.0, 0.17 * n + 1.0)), sharey=True, layout="constrained"
    )
    ax0.scatter(raw_sd[order], rows, s=18, color=WRONG_COLOR, label="raw train", zorder=3)
    ax0.scatter(P_n.std(axis=0)[order], rows, s=18, color=TRAIN_COLOR, label="normalized train")
    if T is not None:
        T_sd = normalize(T, mu, sigma).std(axis=0)
        ax0.scatter(
            T_sd[order],
            rows,
            s=18,
            marker="x",
            color=TEST_COLOR,
            label="normalized test",
            zorder=4,
        )
    ax0.set_xscale("log")
    ax0.set_xlabel("standard deviation (log scale)")
    ratio = raw_sd.max() / raw_sd.min() if raw_sd.min() > 0 else np.inf
    ax0.set_title(f"spread per feature: max/min = {ratio:.3g} raw, 1 after", fontsize=10)
    ax0.grid(axis="x", which="major", color="0.9")
    ax0.legend(fontsize=8, loc="lower right")
    # Range (thin), middle half (thick) and median (dot) of every normalized feature:
    # a box plot without its outliers' clutter, drawn with three vectorized calls.
    q0, q25, q50, q75, q100 = np.percentile(P_n[:, order], [0, 25, 50, 75, 100], axis=0)
    ax1.hlines(rows, q0, q100, color="0.55", lw=1)
    ax1.hlines(rows, q25, q75, color=TRAIN_COLOR, lw=5)
    ax1.plot(q50, rows, "o", color="white", mec=MEAN_COLOR, ms=3.5, mew=0.8)
    ax1.axvline(0, color="0.75", lw=0.8, zorder=0)
    ax1.set_xlabel("normalized value $(x - \\mu)\\,/\\,\\sigma$")
    ax1.set_title("normalized training values: range, middle half, median", fontsize=10)
    ax0.set_yticks(rows, [names[j] for j in order], fontsize=7)
    ax0.set_ylim(-0.7, n - 0.3)
    return fig


# ------------------------------------------------------------------ the live widget
# Half-widths of the widget's frame, in data units: the frame is centred on the origin
# and jumps to the next size only when a cloud leaves it. The clouds move inside a still
# frame (what moved is then visible), and the widget redraws only the clouds.
FRAME_SIZES = (4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, 150)
LIVE_TITLES = {
    "raw": "raw",
    "centred": "step 1:  X − μ",
    "scaled": "step 2:  (X − μ) / σ",
}


def live_frame(clouds: Sequence[np.ndarray], aspect: float, pad: float = 0.06) -> float:
    """Half-width h of the widget's frame [-h, h] x [-aspect h, aspect h] holding every
    cloud (k, 2): the smallest of FRAME_SIZES that fits (with a margin of ``pad``),
    beyond them the exact fit. aspect: height / width of the panels in inches."""
    pts = np.abs(np.vstack([np.asarray(c, dtype=float)[:, :2] for c in clouds]))
    need = (1.0 + pad) * max(float(pts[:, 0].max()), float(pts[:, 1].max()) / aspect)
    return next((float(h) for h in FRAME_SIZES if h >= need), need)


class _LiveStepsView:
    """The widget's three panels: raw, centred and scaled clouds in one frame centred on
    the origin, still titles; only the clouds and their bars are redrawn (``Blitter``)."""

    def __init__(self, fig: Figure) -> None:
        fig.subplots_adjust(left=0.1, right=0.98, bottom=0.07, top=0.96, hspace=0.22)
        self.axes = list(fig.subplots(3, 1))
        width, height = fig.get_size_inches()
        box = self.axes[0].get_position()
        self.aspect = (box.height * height) / (box.width * width)
        for ax, title in zip(self.axes, LIVE_TITLES.values(), strict=True):
            ax.axhline(0, color="0.75", lw=0.8, zorder=0)
            ax.axvline(0, color="0.75", lw=0.8, zorder=0)
            ax.set_ylabel("x₂")
            ax.text(0, 1.03, title, transform=ax.transAxes, fontsize=10, va="bottom")
        for ax in self.axes[:-1]:
            ax.tick_params(labelbottom=False)
        self.axes[-1].set_xlabel("x₁")
        self.clouds = [_Cloud(ax) for ax in self.axes]
        self.moving = [a for c in self.clouds for a in (c.points, *c.bars)]
        for artist in self.moving:
            artist.set_animated(True)
        self.blitter = Blitter(fig)
        self.half_width = None

    def png(self, X: np.ndarray) -> bytes:
        s = steps(X)
        for cloud, P in zip(self.clouds, s.values(), strict=True):
            cloud.update(P)
        h = live_frame(list(s.values()), self.aspect)
        self.half_width = h
        for ax in self.axes:
            ax.set_xlim(-h, h)
            ax.set_ylim(-h * self.aspect, h * self.aspect)
        return self.blitter.png({"figure": h}, self.moving)


def _explorer_html(raw: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> str:
    scaled = (raw - mu) / sigma
    r = float(np.corrcoef(raw[:, 0], raw[:, 1])[0, 1])
    cell = 'style="padding:1px 10px;text-align:right"'
    rows = "".join(
        f"<tr><td {cell}>{label}</td>"
        + "".join(f"<td {cell}>{_num(v, 3)}</td>" for v in vals)
        + "</tr>"
        for label, vals in (
            ("training μ", mu),
            ("training σ", sigma),
            ("mean after", scaled.mean(axis=0)),
            ("std after", scaled.std(axis=0)),
        )
    )
    return (
        '<table style="font-family:monospace;font-size:12px">'
        f"<tr><td></td><th {cell}>x₁</th><th {cell}>x₂</th></tr>{rows}</table>"
        f'<div style="font-size:12px">correlation of x₁ and x₂: {_num(r)} before and after: '
        "scaling each feature on its own cannot remove it (a tilted cloud stays tilted)</div>"
        '<div style="font-size:12px">+ marks the mean, the bars ±1 standard deviation; '
        "the frame, centred on the origin, grows only when a cloud leaves it</div>"
    )


def normalization_explorer(m: int = 200, seed: int = 0):
    """Live widget: sliders for the two features' means, spreads and correlation;
    redraws raw -> centred -> scaled and prints the training μ, σ.

    m: number of training examples drawn (``data.two_feature_data``, fixed seed, so
    the sliders deform one cloud). Returns an ipywidgets HBox; setting a slider's
    value redraws at once, also outside a notebook. ``box.sliders`` maps names
    ("mean1", "mean2", "spread1", "spread2", "corr") to the sliders.
    """
    import ipywidgets as widgets

    from .data import two_feature_data

    # Made without pyplot (nothing shows up twice in a notebook), drawn with a fixed
    # layout; a slider move redraws only the clouds (see _LiveStepsView).
    view = _LiveStepsView(Figure(figsize=(5.8, 7.0), dpi=72))
    image = widgets.Image(format="png", layout=widgets.Layout(width="418px"))
    table = widgets.HTML()
    style = {"description_width": "95px"}
    layout = widgets.Layout(width="310px")

    def slider(desc: str, value: float, lo: float, hi: float, step: float):
        return widgets.FloatSlider(
            value=value,
            min=lo,
            max=hi,
            step=step,
            description=desc,
            continuous_update=False,
            style=style,
            layout=layout,
        )

    s = {
        "mean1": slider("mean of x₁", 5.0, -10.0, 10.0, 0.5),
        "mean2": slider("mean of x₂", 2.0, -10.0, 10.0, 0.5),
        "spread1": slider("spread of x₁", 2.5, 0.1, 5.0, 0.1),
        "spread2": slider("spread of x₂", 0.5, 0.1, 5.0, 0.1),
        "corr": slider("correlation", 0.0, -0.9, 0.9, 0.1),
    }

    def redraw(_change=None) -> None:
        X = two_feature_data(
            m_train=m,
            m_test=1,
            center=(s["mean1"].value, s["mean2"].value),
            spread=(s["spread1"].value, s["spread2"].value),
            correlation=s["corr"].value,
            seed=seed,
        ).X_train
        image.value = view.png(X)
        table.value = _explorer_html(X, *_fit_quietly(X))

    box = explorer_box(s, table, image, redraw)
    box.view = view  # for the tests: the frame and the drawing
    return box


# ------------------------------------------------------------------ assets (make assets)
def _asset_three_steps() -> Figure:
    from .data import two_feature_data

    return plot_three_steps(two_feature_data().X_train)


def _asset_feature_scales() -> Figure:
    from .data import breast_cancer

    split = breast_cancer()
    return plot_feature_scales(split.X_train, split.X_test, split.feature_names)


def _asset_test_statistics() -> Figure:
    from .data import two_feature_data

    split = two_feature_data()
    return plot_test_statistics(split.X_train, split.X_test[:30] + np.array([3.0, 0.0]))


ASSETS = {
    "01_three_steps.png": _asset_three_steps,
    "01_feature_scales.png": _asset_feature_scales,
    "01_test_statistics.png": _asset_test_statistics,
}
