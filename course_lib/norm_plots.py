"""Lesson 06: the figures and the live widget of normalization beyond the MLP.

- ``plot_statistic_groups``: which entries of an (N, C, H, W) block share one mean and
  variance, for Batch, Layer, Instance and Group Norm (the picture of Wu & He 2018,
  Figure 2, drawn here): the widget's static twin;
- ``plot_feature_maps``: digits and the feature maps of a conv layer;
- ``plot_batch_size``: the measured batch-size sweep, beside Wu & He's ImageNet numbers;
- ``normalization_explorer``: pick the normalization, the batch size N, the groups and
  a channel; see the entries that share statistics with it and their statistics on
  real feature maps.

Plot functions return a matplotlib Figure; ``ASSETS`` lists the ones saved to assets/.
"""

from __future__ import annotations

import functools
import html

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from . import norm_experiments as nx
from . import norms
from ._widgets import explorer_box

SHARED, OTHER = "#4c72b0", "#e6e9ef"
KIND_NAMES = {"batch": "Batch Norm", "layer": "Layer Norm", "instance": "Instance Norm"}
KINDS = ("batch", "layer", "instance", "group")


def _kind_title(kind: str, groups: int) -> str:
    return KIND_NAMES.get(kind, f"Group Norm ({groups} groups)")


# ------------------------------------------------------------------ the block of values
class _Block:
    """An (N, C, H·W) block drawn as a box: the front face holds example 0 (C columns,
    H·W rows), the top face the first position of every example, the right face the
    last channel of every example. Faces are PolyCollections whose colors change."""

    DEPTH = (0.45, 0.32)  # screen offset of one step along N

    def __init__(self, ax, n: int, c: int, hw: int) -> None:
        self.ax, self.shape = ax, (n, c, hw)
        dx, dy = self.DEPTH
        front, top, side = [], [], []
        self.front_ids, self.top_ids, self.side_ids = [], [], []
        for ci in range(c):  # front face: example 0, channel ci, position p (top row p = 0)
            for p in range(hw):
                y = hw - 1 - p
                front.append([(ci, y), (ci + 1, y), (ci + 1, y + 1), (ci, y + 1)])
                self.front_ids.append((0, ci, p))
        for k in range(n):  # top face: example k, channel ci, position 0
            for ci in range(c):
                x0, y0 = ci + k * dx, hw + k * dy
                top.append([(x0, y0), (x0 + 1, y0), (x0 + 1 + dx, y0 + dy), (x0 + dx, y0 + dy)])
                self.top_ids.append((k, ci, 0))
        for k in range(n):  # right face: example k, last channel, position p
            for p in range(hw):
                x0, y0 = c + k * dx, hw - 1 - p + k * dy
                side.append([(x0, y0), (x0 + dx, y0 + dy), (x0 + dx, y0 + 1 + dy), (x0, y0 + 1)])
                self.side_ids.append((k, c - 1, p))
        style = {"edgecolors": "white", "linewidths": 0.8}
        self.faces = [
            PolyCollection(front, **style),
            PolyCollection(top, **style),
            PolyCollection(side, **style),
        ]
        for face in self.faces:
            ax.add_collection(face)
        ax.set_xlim(-1.3, c + n * dx + 0.3)
        ax.set_ylim(-1.0, hw + n * dy + 0.9)
        ax.set_aspect("equal")
        ax.axis("off")
        kw = {"fontsize": 9, "color": "#444444"}
        ax.text(c / 2, -0.55, "C (channels)", ha="center", va="center", **kw)
        ax.text(-0.45, hw / 2, "H·W", ha="center", va="center", rotation=90, **kw)
        ax.text(c + n * dx / 2 + 0.55, hw + n * dy / 2 + 0.1, "N", ha="center", va="center", **kw)
        self.title = ax.set_title("", fontsize=10)

    def color(self, ids: np.ndarray, shared: int) -> None:
        """Color the cells whose statistic id (``norms.statistic_groups``) is ``shared``;
        ids may cover fewer examples than the drawing (the others are left out)."""
        n = ids.shape[0]
        for face, cells in zip(
            self.faces, (self.front_ids, self.top_ids, self.side_ids), strict=True
        ):
            colors = [
                (SHARED if ids[k, ci, p] == shared else OTHER) if k < n else "none"
                for k, ci, p in cells
            ]
            face.set_facecolor(colors)
            face.set_edgecolor(["white" if k < n else "none" for k, _, _ in cells])


class _RasterBlock:
    """The widget's drawing of an (N, C, H·W) block, recolored without matplotlib.

    matplotlib draws the block once into two layers: a label image (the index of the
    cell under every pixel, cells filled with distinct colors, no antialiasing) and a
    transparent layer with the cell edges and the axis labels. A redraw paints each
    cell's color through the label image and lays the edges over it: a few numpy
    operations instead of a matplotlib render (a redraw then takes milliseconds)."""

    def __init__(self, n: int, c: int, hw: int, figsize=(4.6, 3.0), dpi: int = 80) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        fig = Figure(figsize=figsize, dpi=dpi)
        ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
        block = _Block(ax, n, c, hw)
        self.cells = block.front_ids + block.top_ids + block.side_ids
        canvas = FigureCanvasAgg(fig)
        # 1. labels: cell i filled with the color (i + 1) encoded in red and green
        start = 0
        parts = (block.front_ids, block.top_ids, block.side_ids)
        for face, ids in zip(block.faces, parts, strict=True):
            codes = np.arange(start + 1, start + len(ids) + 1)
            zero = np.zeros(len(ids))
            face.set_facecolor(np.stack([codes % 256 / 255, codes // 256 / 255, zero, zero + 1], 1))
            face.set_edgecolor("none")
            face.set_antialiased(False)
            start += len(ids)
        for text in ax.texts:
            text.set_visible(False)
        canvas.draw()
        rgba = np.asarray(canvas.buffer_rgba()).astype(np.int64)
        cell = rgba[..., 0] + 256 * rgba[..., 1] - 1
        self.labels = np.where(rgba[..., 2] == 0, cell, len(self.cells))  # background: last
        # 2. decoration: edges and texts on a transparent figure
        fig.patch.set_alpha(0.0)
        for face in block.faces:
            face.set_facecolor("none")
            face.set_edgecolor("white")
            face.set_antialiased(True)
        for text in ax.texts:
            text.set_visible(True)
        canvas.draw()
        deco = np.asarray(canvas.buffer_rgba()).astype(np.float32) / 255.0
        self.alpha = deco[..., 3:4]
        self.deco = deco[..., :3] * self.alpha  # premultiplied
        self.palette = {
            "shared": np.array([0x4C, 0x72, 0xB0]) / 255.0,
            "other": np.array([0xE6, 0xE9, 0xEF]) / 255.0,
            "none": np.ones(3),
        }

    def png(self, ids: np.ndarray, shared: int) -> bytes:
        """The PNG of the block with the cells of statistic ``shared`` in blue (ids of
        ``_ids``; examples beyond ids.shape[0] are left out)."""
        import io

        from PIL import Image

        n = ids.shape[0]
        colors = np.empty((len(self.cells) + 1, 3))
        colors[-1] = self.palette["none"]
        for i, (k, ci, p) in enumerate(self.cells):
            key = "none" if k >= n else ("shared" if ids[k, ci, p] == shared else "other")
            colors[i] = self.palette[key]
        painted = colors.astype(np.float32)[self.labels]
        painted *= 1.0 - self.alpha
        painted += self.deco
        pixels = (painted * 255.0 + 0.5).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(pixels, "RGB").save(buf, format="png", compress_level=1)
        return buf.getvalue()


def _ids(kind: str, n: int, c: int, hw: int, groups: int) -> np.ndarray:
    """Statistic ids of an (N, C, H·W) block (H·W as one axis)."""
    return norms.statistic_groups(kind, (n, c, hw, 1), groups)[..., 0]


def plot_statistic_groups(
    n: int = 4, c: int = 6, hw: int = 6, groups: int = 3, channel: int = 1
) -> Figure:
    """Four blocks (N, C, H·W) with the entries that share one mean and variance with
    example 0, channel ``channel`` in blue: Batch Norm (one channel, all examples and
    positions), Layer Norm (one example), Instance Norm (one example and channel) and
    Group Norm (one example, the channels of one group). After Wu & He 2018, Figure 2."""
    fig, axes = plt.subplots(1, 4, figsize=(10.0, 3.0), dpi=100)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.86, wspace=0.05)
    for ax, kind in zip(axes, KINDS, strict=True):
        block = _Block(ax, n, c, hw)
        ids = _ids(kind, n, c, hw, groups)
        block.color(ids, ids[0, channel, 0])
        block.title.set_text(_kind_title(kind, groups))
    return fig


# ------------------------------------------------------------------ feature maps
def plot_feature_maps(images: np.ndarray, maps: np.ndarray, examples: int = 3) -> Figure:
    """Rows: a few digits (images (m, 8, 8)) and the C feature maps (maps (m, C, H, W))
    that one conv layer computes from them. Each map is one feature (one filter)
    evaluated at every position."""
    k, c = min(examples, len(images)), maps.shape[1]
    fig, axes = plt.subplots(k, c + 1, figsize=(1.0 * (c + 1), 1.05 * k + 0.3), squeeze=False)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.86, wspace=0.08, hspace=0.1)
    lim = np.abs(maps[:k]).max()
    for i in range(k):
        axes[i, 0].imshow(images[i], cmap="gray_r")
        for j in range(c):
            axes[i, j + 1].imshow(maps[i, j], cmap="RdBu_r", vmin=-lim, vmax=lim)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].set_title("digit", fontsize=9)
    for j in range(c):
        axes[0, j + 1].set_title(f"channel {j}", fontsize=9)
    return fig


# ------------------------------------------------------------------ the batch-size sweep
def plot_batch_size(result: nx.BatchSizeResult) -> Figure:
    """Left: validation accuracy against the number B of examples per BN statistic
    (every seed a dot, the line the mean), BN in inference and with batch statistics,
    and the per-example normalizations (which do not depend on B). Right: Wu & He's
    ImageNet error of BN and GN against the batch size per GPU, quoted from the paper."""
    fig, (ax, ref) = plt.subplots(1, 2, figsize=(10.0, 3.6), gridspec_kw={"width_ratios": [1.6, 1]})
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.88, wspace=0.28)
    sizes = np.array(result.sizes)
    styles = {
        "group": ("#55a868", "Group Norm"),
        "layer": ("#c44e52", "Layer Norm"),
        None: ("#8c8c8c", "no normalization"),
    }
    for norm, (color, label) in styles.items():
        acc = result.val_acc[norm][0]
        ax.axhspan(acc.min(), acc.max(), color=color, alpha=0.15, lw=0)
        ax.axhline(acc.mean(), color=color, lw=1.5, label=f"{label} (any B)")
    for values, color, label, ls in (
        (result.val_acc["batch"], "#4c72b0", "Batch Norm, inference (running statistics)", "-"),
        (result.bn_train_mode, "#dd8452", "Batch Norm, with the statistics of B examples", "--"),
    ):
        for k in range(values.shape[1]):
            ax.plot(sizes, values[:, k], "o", color=color, ms=3.5, alpha=0.6)
        ax.plot(sizes, values.mean(axis=1), ls, color=color, lw=1.8, label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(b) for b in sizes])
    ax.set_xlabel("B, examples that share one set of Batch Norm statistics")
    ax.set_ylabel("validation accuracy")
    ax.set_title(
        f"digits, conv net, {len(result.seeds)} seeds (dots), "
        f"mini-batches of {result.settings.get('batch')}",
        fontsize=10,
    )
    ax.set_ylim(0.3, 1.0)
    ax.legend(fontsize=7.5, loc="lower right")
    batch = np.array(nx.WU_HE_BATCH)
    for (label, errors), color in zip(nx.WU_HE_ERROR.items(), ("#4c72b0", "#55a868"), strict=True):
        ref.plot(batch, errors, "o-", color=color, label=label)
    ref.set_xscale("log", base=2)
    ref.set_xticks(batch, [str(b) for b in batch])
    ref.set_xlabel("images per GPU")
    ref.set_ylabel("ImageNet validation error (%)")
    ref.set_title("Wu & He 2018, ResNet-50 (quoted)", fontsize=10)
    ref.legend(fontsize=8)
    return fig


# ------------------------------------------------------------------ the widget
@functools.cache
def _explorer_maps(n_max: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature maps of the first conv layer (random He-initialized weights, seed 0) for
    the first ``n_max`` validation digits, (n_max, C, H, W), and each channel's mean and
    variance over all 1347 training digits (the "population" that Batch Norm's running
    statistics estimate), (C,) each."""
    data = nx.digit_images()
    model = nx.make_convnet(None, 0)
    population = model.feature_maps(data.X_train)
    return (
        model.feature_maps(data.X_val[:n_max]),
        population.mean(axis=(0, 2, 3)),
        population.var(axis=(0, 2, 3)),
    )


def explorer_statistics(kind: str, n: int, groups: int, channel: int) -> dict:
    """What the widget shows: the statistic of example 0, channel ``channel`` computed
    on the first ``n`` validation digits' feature maps, and how it compares with the
    same statistic on the whole training set."""
    batch_maps, pop_mean, pop_var = _explorer_maps()
    x = batch_maps[:n]
    c, hw = x.shape[1], x.shape[2] * x.shape[3]
    ids = norms.statistic_groups(kind, x.shape, groups)
    shared = ids == ids[0, channel, 0, 0]
    values = x[shared]
    stats = {
        "count": int(values.size),
        "statistics": int(ids.max() + 1),
        "mean": float(values.mean()),
        "var": float(values.var()),
        "hw": hw,
        "c": c,
    }
    if kind == "batch":
        stats["population_mean"] = float(pop_mean[channel])
        stats["population_var"] = float(pop_var[channel])
    return stats


def _stats_html(kind: str, n: int, groups: int, channel: int, s: dict) -> str:
    title = _kind_title(kind, groups)
    count = {
        "batch": f"N·H·W = {n}·{s['hw']}",
        "layer": f"C·H·W = {s['c']}·{s['hw']}",
        "instance": f"H·W = {s['hw']}",
        "group": f"(C/G)·H·W = {s['c'] // max(groups, 1)}·{s['hw']}",
    }[kind]
    rows = [
        ("values per mean and variance", f"{count} = {s['count']}"),
        ("means and variances in the block", f"{s['statistics']}"),
        ("μ of the blue values", f"{s['mean']:.3f}"),
        ("σ² of the blue values", f"{s['var']:.3f}"),
    ]
    if kind == "batch":
        rows += [
            ("channel's μ over all 1347 training digits", f"{s['population_mean']:.3f}"),
            ("channel's σ² over all 1347 training digits", f"{s['population_var']:.3f}"),
        ]
        note = (
            "Batch Norm: the statistics depend on which examples share the batch. The "
            "smaller N, the further they can be from the whole data's, which inference uses."
        )
    else:
        note = (
            f"{title}: example 0's statistics use example 0 only, so they are the same "
            "for every batch size N (and in training and inference)."
        )
    body = "".join(
        f"<tr><td>{html.escape(a)}</td><td style='text-align:right'>{html.escape(b)}</td></tr>"
        for a, b in rows
    )
    return (
        f'<table style="font-family:monospace;font-size:12px">{body}</table>'
        f'<div style="font-size:12px;max-width:320px">{html.escape(note)}</div>'
    )


def normalization_explorer():
    """Live widget: which entries of an (N, C, H·W) block of feature maps share one mean
    and variance, and those statistics on real data (the first conv layer's maps of
    the first N validation digits; C = 8 channels, H·W = 8·8).

    Sliders: normalization ("batch", "layer", "instance", "group"), N (1 .. 8), groups
    (for Group Norm) and the channel of example 0 whose set is shown. Returns an
    ipywidgets HBox; ``box.sliders`` maps "norm", "N", "groups", "channel" to them.
    """
    import ipywidgets as widgets

    c, hw_drawn, n_max = 8, 8, 8  # the drawing shows 8 of the 64 positions
    block = _RasterBlock(n_max, c, hw_drawn)  # examples beyond N are left out
    title = widgets.HTML()
    image = widgets.Image(format="png", layout=widgets.Layout(width="370px"))
    table = widgets.HTML()
    style = {"description_width": "90px"}
    layout = widgets.Layout(width="330px")
    common = {"continuous_update": False, "style": style, "layout": layout}
    s = {
        "norm": widgets.SelectionSlider(
            options=KINDS, value="batch", description="normalization", **common
        ),
        "N": widgets.SelectionSlider(
            options=(1, 2, 4, 8), value=4, description="batch size N", **common
        ),
        "groups": widgets.SelectionSlider(
            options=(1, 2, 4, 8), value=2, description="groups G", **common
        ),
        "channel": widgets.IntSlider(value=1, min=0, max=c - 1, description="channel", **common),
    }

    def redraw(_change=None) -> None:
        kind, n, groups, channel = (s[k].value for k in ("norm", "N", "groups", "channel"))
        ids = _ids(kind, n, c, hw_drawn, groups)
        image.value = block.png(ids, ids[0, channel, 0])
        title.value = (
            f"<b>{html.escape(_kind_title(kind, groups))}</b>: in blue, the values that share "
            f"one mean and variance with example 0, channel {channel}"
        )
        stats = explorer_statistics(kind, n, groups, channel)
        table.value = _stats_html(kind, n, groups, channel, stats)

    return explorer_box(s, widgets.VBox([title, table]), image, redraw)


ASSETS = {"06_statistic_groups.png": plot_statistic_groups}

__all__ = [
    "ASSETS",
    "explorer_statistics",
    "normalization_explorer",
    "plot_batch_size",
    "plot_feature_maps",
    "plot_statistic_groups",
]
