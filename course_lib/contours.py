"""Lesson 02 figures: contours of the cost over (w1, w2) with gradient-descent paths,
raw versus normalized inputs, and the lesson's live widget ``contour_explorer()``.

A linear model on two features has three parameters (w1, w2, b); a contour plot
has two axes. The plots here draw the cost with b at its best value for every w,

    J~(w) = min_b J(w, b),   b*(w) = mean(y) - mean(X) . w,

which is exactly the cost of the centred problem (x - mean(x), y - mean(y)) with b = 0:

    J~(w) = J_min + 1/2 (w - w*)^T S (w - w*),   S = (1/m) Xc^T Xc  (the covariance)

The paths are gradient descent on J~ itself, so the gradient is perpendicular to
the contours it crosses, as in the notes' pictures. On centred data this is
exactly what gradient descent on (w1, w2, b) does to w (b decouples); on raw data
that also updates b, the picture shows what the *scales* do, and lesson 02
measures the rest (``descent.normalization_condition_numbers``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator
from matplotlib.transforms import Bbox

from ._validation import as_matrix, as_vector, check_positive
from ._widgets import Blitter, explorer_box
from .descent import (
    SpeedupTable,
    compare_iterations,
    condition_number,
    gradient_descent,
    iterations_to_tolerance,
    least_squares,
    optimal_lr,
    quadratic_iterations,
    squared_error_hessian,
    stable_lr_bound,
)
from .normalization import fit_normalizer, normalize

__all__ = [
    "ProfileCost",
    "plot_raw_vs_normalized",
    "plot_convergence",
    "explorer_figure",
    "contour_explorer",
    "ASSETS",
]

PATH_COLOR = "#d95f02"
CONTOUR_CMAP = "viridis"
# Contour levels as J_min + fraction x (J0 - J_min), J0 the cost at the start w = 0:
# the same cost values in every panel, so shapes can be compared level by level.
LEVEL_FRACTIONS = (0.002, 0.01, 0.04, 0.12, 0.3, 0.6, 1.0, 1.6)
GRID = 90  # points per axis of the contour grid


# ------------------------------------------------------------------ the cost over (w1, w2)
@dataclass(frozen=True)
class ProfileCost:
    """J over (w1, w2) with b at its optimum: J_min + 1/2 (w - w_star)^T S (w - w_star).

    S: (2, 2) the Hessian of this cost (the features' covariance matrix),
    w_star: (2,) the minimizer, j_min: the minimum (the least-squares cost),
    j0: the cost at w = 0 (the model that predicts mean(y)).
    """

    S: np.ndarray
    w_star: np.ndarray
    j_min: float
    j0: float

    @classmethod
    def from_data(cls, X: np.ndarray, y: np.ndarray) -> ProfileCost:
        """From a training set X (m, 2) and targets y (m,)."""
        X = as_matrix(X, "X").astype(np.float64, copy=False)
        if X.shape[1] != 2:
            raise ValueError(
                f"X must have exactly 2 features to draw J over (w1, w2), got {X.shape}"
            )
        w_star, _, j_min = least_squares(X, y)
        S = squared_error_hessian(X - X.mean(axis=0), fit_intercept=False)
        return cls(S, w_star, j_min, j_min + 0.5 * float(w_star @ S @ w_star))

    def rescaled(self, scale: tuple[float, float]) -> ProfileCost:
        """The same cost for the features multiplied by scale = (s1, s2):
        S -> D S D and w* -> w* / s, D = diag(s); J_min and J0 do not change."""
        s = as_vector(scale, "scale", 2, dtype=np.float64)
        if np.any(s <= 0):
            raise ValueError(f"scale must be positive, got {scale!r}")
        return ProfileCost(self.S * np.outer(s, s), self.w_star / s, self.j_min, self.j0)

    def __call__(self, W1: np.ndarray, W2: np.ndarray) -> np.ndarray:
        """J at the points (W1, W2) (arrays of one shape, e.g. a meshgrid)."""
        d1, d2 = np.asarray(W1) - self.w_star[0], np.asarray(W2) - self.w_star[1]
        S = self.S
        return self.j_min + 0.5 * (S[0, 0] * d1 * d1 + 2 * S[0, 1] * d1 * d2 + S[1, 1] * d2 * d2)

    @property
    def kappa(self) -> float:
        return condition_number(self.S)

    @property
    def lr_bound(self) -> float:
        """2 / lambda_max(S): above it gradient descent diverges."""
        return stable_lr_bound(self.S)

    @property
    def lr_optimal(self) -> float:
        """2 / (lambda_min + lambda_max): the best fixed learning rate."""
        return optimal_lr(self.S)

    def descend(self, lr: float, steps: int, w0=(0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
        """Gradient descent on this cost: w <- w - lr S (w - w*), from w0.

        Returns the path (steps+1, 2) and its costs (steps+1,). Same iterates as
        ``descent.gradient_descent`` on the centred data with b0 = 0 (tested).
        Stops early once the path is far outside any plot (diverging).
        """
        lr = check_positive(lr, "lr")
        w = as_vector(w0, "w0", 2, dtype=np.float64).copy()
        A = np.eye(2) - lr * self.S  # error_{t+1} = A error_t
        e = w - self.w_star
        path = [e]
        big = 1e6 * (1.0 + float(np.abs(e).max()) + float(np.abs(self.w_star).max()))
        for _ in range(int(steps)):
            e = A @ e
            path.append(e)
            if not np.all(np.abs(e) < big):
                break
        P = np.array(path) + self.w_star
        return P, self(P[:, 0], P[:, 1])

    def frame(self, aspect: float = 1.0, pad: float = 0.14) -> tuple[float, float, float, float]:
        """Axis limits (x0, x1, y0, y1) around the contour through the start (J = J0),
        padded, with height/width = aspect in data units (so equal scales fill a box
        of that shape)."""
        Sinv = np.linalg.inv(self.S)
        half = np.sqrt(2.0 * (self.j0 - self.j_min) * np.diag(Sinv)) * (1.0 + pad)
        hx, hy = half
        if hy / hx > aspect:
            hx = hy / aspect
        else:
            hy = hx * aspect
        (cx, cy) = self.w_star
        return (cx - hx, cx + hx, cy - hy, cy + hy)

    def levels(self) -> np.ndarray:
        return self.j_min + (self.j0 - self.j_min) * np.array(LEVEL_FRACTIONS)


def _profile_pair(X: np.ndarray, y: np.ndarray) -> tuple[ProfileCost, ProfileCost]:
    X = as_matrix(X, "X")
    mu, sigma = fit_normalizer(X)
    return ProfileCost.from_data(X, y), ProfileCost.from_data(normalize(X, mu, sigma), y)


# ------------------------------------------------------------------ drawing
def _draw_contours(ax: Axes, cost: ProfileCost, aspect: float) -> None:
    x0, x1, y0, y1 = cost.frame(aspect)
    g1, g2 = np.meshgrid(np.linspace(x0, x1, GRID), np.linspace(y0, y1, GRID))
    levels = cost.levels()
    ax.contour(g1, g2, cost(g1, g2), levels=levels, cmap=CONTOUR_CMAP, linewidths=1.0)
    ax.plot(*cost.w_star, marker="*", ms=11, color="k", zorder=4, lw=0)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel("$w_1$")
    ax.set_ylabel("$w_2$")


def _draw_path(ax: Axes, path: np.ndarray) -> None:
    ax.plot(path[:, 0], path[:, 1], "-o", color=PATH_COLOR, ms=3, lw=1.2, zorder=5)
    ax.plot(*path[0], "s", color=PATH_COLOR, ms=6, zorder=6)


def _fmt(v: float) -> str:
    return "∞" if math.isinf(v) else f"{v:.3g}"


def plot_raw_vs_normalized(
    X: np.ndarray, y: np.ndarray, *, steps: int = 25, lr_factor: float | None = None
) -> Figure:
    """Contours of J over (w1, w2), raw features (left) and normalized (right), each
    with a gradient-descent path from w = 0 (the same model, "predict mean(y)").

    X: (m, 2) raw training set, y: (m,). Normalized = (X - mu)/sigma with the
    training mu, sigma. Both panels: b at its optimum for every w (see the module
    docstring), equal scales on both axes, contour lines at the same cost values.
    Each path takes ``steps`` steps at its own best learning rate
    2/(lambda_min + lambda_max), or at lr_factor x its own bound 2/lambda_max.
    """
    raw, nrm = _profile_pair(X, y)
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 5.2), layout="constrained")
    for ax, cost, name in ((axes[0], raw, "raw"), (axes[1], nrm, "normalized")):
        lr = (
            cost.lr_optimal
            if lr_factor is None
            else check_positive(lr_factor, "lr_factor") * cost.lr_bound
        )
        path, costs = cost.descend(lr, steps)
        _draw_contours(ax, cost, aspect=1.25)
        _draw_path(ax, path)
        gap = (costs[-1] - cost.j_min) / (cost.j0 - cost.j_min)
        gap_text = f"{gap:.1e}" if gap > 1e-13 else "0 (round-off)"
        ax.set_title(
            f"{name}: κ(S) = {_fmt(cost.kappa)}, lr = {_fmt(lr)}\n"
            f"after {len(path) - 1} steps: (J − Jmin)/(J0 − Jmin) = {gap_text}",
            fontsize=9.5,
        )
    fig.suptitle(
        "J over $(w_1, w_2)$, b at its optimum: same contour levels in both panels",
        fontsize=11,
    )
    return fig


def plot_convergence(
    X: np.ndarray, y: np.ndarray, table: SpeedupTable | None = None, *, steps: int = 400
) -> Figure:
    """(J - J_min)/(J0 - J_min) along gradient descent on (w1, ..., wn, b), raw vs
    normalized X (m, n), y (m,), each from w = 0, b = 0.

    Learning rates: the best ones found by ``descent.compare_iterations`` when its
    ``table`` (squared loss, same X, y) is given, else each version's best fixed rate
    2/(lambda_min + lambda_max) of its Hessian (1/m) [X, 1]^T [X, 1]."""
    X = as_matrix(X, "X")
    mu, sigma = fit_normalizer(X)
    _, _, j_min = least_squares(X, y)
    fig, ax = plt.subplots(figsize=(7, 3.6), layout="constrained")
    versions = (("raw", X, "#b42318"), ("normalized", normalize(X, mu, sigma), "#1f77b4"))
    for name, A, color in versions:
        H = squared_error_hessian(A)
        if table is None:
            lr, how = optimal_lr(H), "2/(λmin+λmax)"
        else:
            run = table.raw if name == "raw" else table.normalized
            lr, how = run.lr, f"{run.lr_factor:g} × 2/λmax"
        path = gradient_descent(A, y, lr, steps)
        gap = (path.cost - j_min) / (path.cost[0] - j_min)
        its = iterations_to_tolerance(path.cost, j_min, 1e-6)
        reached = f"{its} steps" if its is not None else f"> {steps} steps"
        label = f"{name}: κ(H) = {_fmt(condition_number(H))}, lr = {how}: 1e-6 after {reached}"
        ax.semilogy(np.maximum(gap, 1e-16), color=color, label=label)
    ax.axhline(1e-6, color="0.6", lw=0.8, ls="--")
    ax.set_ylim(1e-12, 2)
    ax.set_xlabel("iteration")
    ax.set_ylabel("(J − Jmin) / (J0 − Jmin)")
    ax.set_title("gradient descent on (w, b), each at its own learning rate", fontsize=10)
    ax.legend(fontsize=8.5, loc="upper right")
    return fig


# ------------------------------------------------------------------ the live widget
SCALES = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0)
LR_FACTORS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99, 1.0, 1.02, 1.1)


class _ExplorerView:
    """Contours + path (left), relative cost gap per step (right), on a given Figure.

    Fixed layout, artists made once: an update rescales a 2x2 matrix, evaluates a
    quadratic on the grid, replaces the contour set and moves the lines' data.
    (Constrained layout and Axes.clear() would cost more than all the rest.)"""

    def __init__(self, fig: Figure, base: ProfileCost) -> None:
        self.fig = fig
        self.base = base
        width, height = fig.get_size_inches()
        left = fig.add_axes((0.075, 0.13, 0.36, 0.78))
        right = fig.add_axes((0.56, 0.13, 0.42, 0.78))
        # height / width of the left box in inches: equal scales on both axes.
        self.aspect = (0.78 * height) / (0.36 * width)
        self.ax, self.ax_cost = left, right
        # Plain text, fixed title positions and fixed log ticks: mathtext and
        # automatic title placement were most of the drawing time.
        left.set_xlabel("w₁", labelpad=1)
        left.set_ylabel("w₂", labelpad=1)
        self.title = left.set_title(" ", fontsize=10, y=1.01)
        self.contours = None
        (self.path,) = left.plot([], [], "-o", color=PATH_COLOR, ms=3, lw=1.2, zorder=5)
        (self.start,) = left.plot([], [], "s", color=PATH_COLOR, ms=6, zorder=6)
        (self.star,) = left.plot([], [], "*", color="k", ms=11, zorder=4)
        (self.curve,) = right.semilogy([1], [1], "-o", ms=2.5, color=PATH_COLOR)
        right.axhline(1e-6, color="0.6", lw=0.8, ls="--")
        right.set_ylim(1e-9, 1e3)
        right.yaxis.set_major_locator(FixedLocator([1e-9, 1e-6, 1e-3, 1.0, 1e3]))
        right.yaxis.set_major_formatter(
            FuncFormatter(lambda v, _: f"{v:.0e}".replace("+0", "").replace("-0", "-"))
        )
        right.yaxis.set_minor_locator(NullLocator())
        right.set_xlabel("step", labelpad=1)
        right.set_title("(J − Jmin) / (J0 − Jmin) per step", fontsize=10, y=1.01)

    def draw_contours(self, scale: float) -> None:
        """The contour lines of the cost for x1 scaled by ``scale`` (replacing any)."""
        cost = self.base.rescaled((scale, 1.0))
        x0, x1, y0, y1 = cost.frame(self.aspect)
        g1, g2 = np.meshgrid(np.linspace(x0, x1, GRID), np.linspace(y0, y1, GRID))
        if self.contours is not None:
            self.contours.remove()
        self.contours = self.ax.contour(
            g1, g2, cost(g1, g2), levels=cost.levels(), cmap=CONTOUR_CMAP, linewidths=1.0
        )

    def update(self, scale: float, lr_factor: float, steps: int, contours: bool = True) -> dict:
        """Set every artist for these slider values; the contour lines only if
        ``contours`` (the live widget keeps them as pixels). Returns the numbers."""
        cost = self.base.rescaled((scale, 1.0))
        lr = lr_factor * cost.lr_bound
        path, costs = cost.descend(lr, steps)
        ax = self.ax
        x0, x1, y0, y1 = cost.frame(self.aspect)
        if contours:
            self.draw_contours(scale)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        self.path.set_data(path[:, 0], path[:, 1])
        self.start.set_data([path[0, 0]], [path[0, 1]])
        self.star.set_data([cost.w_star[0]], [cost.w_star[1]])
        self.title.set_text(f"x₁ scaled by {scale:g}: κ(S) = {cost.kappa:.3g}")
        gap = (costs - cost.j_min) / (cost.j0 - cost.j_min)
        self.curve.set_data(np.arange(len(gap)), np.maximum(gap, 1e-300))
        self.ax_cost.set_xlim(0, step_axis(steps))  # the live widget's axis too
        e0 = -cost.w_star  # the start w = 0 minus the optimum
        return {
            "kappa": cost.kappa,
            "lr_bound": cost.lr_bound,
            "lr": lr,
            "lr_optimal_factor": cost.lr_optimal / cost.lr_bound,
            "factors": np.abs(1.0 - lr * np.linalg.eigvalsh(cost.S)),
            "gap": float(gap[-1]),
            "steps_done": len(path) - 1,
            "iterations": quadratic_iterations(cost.S, e0, lr, 1e-6),
        }


def _explorer_base() -> ProfileCost:
    from .data import two_feature_data

    split = two_feature_data()
    mu, sigma = fit_normalizer(split.X_train)
    return ProfileCost.from_data(normalize(split.X_train, mu, sigma), split.y_train)


def _explorer_html(info: dict) -> str:
    q_flat, q_steep = info["factors"]  # |1 - lr lambda| for lambda_min, lambda_max
    at_bound = abs(q_steep - 1.0) < 1e-9  # lr = 2/lambda_max up to round-off
    if info["iterations"] is None:
        its = "never (|1 − lr·λmax| ≥ 1)" if q_steep >= 1 or at_bound else "> 10⁷"
    else:
        its = str(info["iterations"])
    if at_bound:
        state = '<b style="color:#b42318">oscillates forever: lr = 2/λmax</b>'
    elif q_steep > 1:
        state = '<b style="color:#b42318">diverges: lr > 2/λmax</b>'
    else:
        state = "converges"
    return (
        '<div style="font-family:monospace;font-size:12px;line-height:1.5">'
        f"condition number κ(S) = λmax/λmin = {info['kappa']:.4g}<br>"
        f"stable bound 2/λmax = {info['lr_bound']:.4g}<br>"
        f"learning rate lr = {info['lr']:.4g}: {state}<br>"
        f"best fixed lr = {info['lr_optimal_factor']:.3f} × bound<br>"
        f"per-step factors |1 − lr·λ|: {q_steep:.3f} (steep), {q_flat:.3f} (flat)<br>"
        f"after {info['steps_done']} steps: (J − Jmin)/(J0 − Jmin) = {info['gap']:.2e}<br>"
        f"steps to reach 1e-6: {its}<br>"
        "■ start (w = 0)   ★ minimum</div>"
    )


def explorer_figure(scale: float = 5.0, lr_factor: float = 0.9, steps: int = 40) -> Figure:
    """The widget's picture, drawn once (the static fallback of ``contour_explorer``).

    The synthetic set of lesson 01, standardized, then x1 multiplied by ``scale``
    (so scale 1 is the normalized set, kappa ~ scale^2); gradient descent from
    w = 0 at lr = lr_factor x 2/lambda_max for ``steps`` steps."""
    fig = plt.figure(figsize=(8.4, 3.9))
    _ExplorerView(fig, _explorer_base()).update(scale, lr_factor, steps)
    return fig


# The x axis of the widget's cost panel runs from 0 to the first of these >= steps, so
# that it changes only now and then (the panel's ticks are then redrawn).
STEP_AXES = (5, 10, 20, 30, 50, 75, 100, 150)


def step_axis(steps: int) -> int:
    """The right end of the widget's step axis for a run of ``steps`` steps."""
    return next((s for s in STEP_AXES if s >= steps), int(steps))


class _LiveExplorer:
    """The widget's drawing: an _ExplorerView whose contours, ticks and titles are kept
    as pixels per scale (left half) and per step axis (right half); a slider move
    redraws only the path and the cost curve (``Blitter``). All 7 scales and every
    step axis are drawn once when the widget is built, so no slider move waits for a
    full drawing."""

    def __init__(self, fig: Figure, base: ProfileCost) -> None:
        self.view = _ExplorerView(fig, base)
        v = self.view
        self.moving = [v.path, v.start, v.curve]
        for artist in self.moving:
            artist.set_animated(True)
        w, h = fig.bbox.width, fig.bbox.height
        middle = 0.5 * (0.435 + 0.56) * w  # between the two panels and their labels
        self.blitter = Blitter(
            fig, {"left": Bbox([[0, 0], [middle, h]]), "right": Bbox([[middle, 0], [w, h]])}
        )
        for k in range(max(len(SCALES), len(STEP_AXES))):
            self.png(SCALES[k % len(SCALES)], 0.9, STEP_AXES[k % len(STEP_AXES)])

    def png(self, scale: float, lr_factor: float, steps: int) -> tuple[bytes, dict]:
        v = self.view
        state = v.update(scale, lr_factor, steps, contours=False)
        keys = {"left": scale, "right": step_axis(steps)}
        return self.blitter.png(keys, self.moving, lambda: v.draw_contours(scale)), state


def contour_explorer(scale: float = 5.0, lr_factor: float = 0.9, steps: int = 40):
    """Live widget: sliders for the scale of feature x1, the learning rate (as a
    fraction of the stable bound 2/lambda_max, log-spaced) and the number of steps;
    redraws the contours, the gradient-descent path and the cost per step, and
    prints kappa, 2/lambda_max and the steps needed at that rate.

    Returns an ipywidgets HBox; setting a slider's value redraws at once, also
    outside a notebook. ``box.sliders`` maps "scale", "lr", "steps" to the sliders.
    """
    import ipywidgets as widgets

    # No pyplot: the figure is drawn to PNG bytes for an Image widget and reused.
    live = _LiveExplorer(Figure(figsize=(8.4, 3.9), dpi=72), _explorer_base())
    image = widgets.Image(format="png", layout=widgets.Layout(width="605px"))
    info = widgets.HTML()
    style = {"description_width": "115px"}
    layout = widgets.Layout(width="330px")
    sliders = {
        "scale": widgets.SelectionSlider(
            options=[(f"{s:g}", s) for s in SCALES],
            value=_closest(SCALES, scale),
            description="x₁ scale (σ₁/σ₂)",
            continuous_update=False,
            style=style,
            layout=layout,
        ),
        "lr": widgets.SelectionSlider(
            options=[(f"{f:g}", f) for f in LR_FACTORS],
            value=_closest(LR_FACTORS, lr_factor),
            description="lr / (2/λmax)",
            continuous_update=False,
            style=style,
            layout=layout,
        ),
        "steps": widgets.IntSlider(
            value=int(steps),
            min=1,
            max=150,
            description="steps",
            continuous_update=False,
            style=style,
            layout=layout,
        ),
    }

    def redraw(_change=None) -> None:
        png, state = live.png(sliders["scale"].value, sliders["lr"].value, sliders["steps"].value)
        image.value = png
        info.value = _explorer_html(state)

    box = explorer_box(sliders, info, image, redraw)
    box.view = live  # for the tests: the drawing
    return box


def _closest(options: tuple[float, ...], value: float) -> float:
    return min(options, key=lambda o: abs(math.log(o) - math.log(max(float(value), 1e-12))))


# ------------------------------------------------------------------ assets (make assets)
def _asset_contours() -> Figure:
    from .data import two_feature_data

    split = two_feature_data()
    return plot_raw_vs_normalized(split.X_train, split.y_train)


def _asset_convergence() -> Figure:
    from .data import two_feature_data

    split = two_feature_data()
    table = compare_iterations(split.X_train, split.y_train)
    return plot_convergence(split.X_train, split.y_train, table, steps=2000)


ASSETS = {
    "02_contours_raw_vs_normalized.png": _asset_contours,
    "02_convergence.png": _asset_convergence,
}
