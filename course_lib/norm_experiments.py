"""Lesson 06's experiments: a small conv net on the 8x8 digits with Batch Norm, Group
Norm, Layer Norm or no normalization, and what the batch size does to each.

The set-up, a miniature of Wu & He (2018): scikit-learn's digits (1347 training and
450 validation images), pixels scaled by one mean and one standard deviation of the
training set; ``course_lib.convnet.ConvNet`` with two conv blocks (8 and 16 channels)
and a dense hidden layer of 64 units (the fully connected layer of LeNet with Batch
Norm in d2l), each followed by the normalization; SGD with momentum 0.9, mini-batches
of 64, learning rate 0.3, 4 epochs; three seeds trained side by side.

The batch-size sweep varies only how many examples share one set of Batch Norm
statistics: each mini-batch of 64 is split into runs of B = 2 ... 64 examples that BN
normalizes separately, as when a batch is spread over 64/B GPUs that each compute BN
on their own share (Wu & He's "batch size per GPU", their Figure 1). Everything else
(the data seen, the number and size of the updates) stays the same. Group Norm, Layer
Norm and no normalization never share statistics between examples: splitting the
batch does not change them (each is trained once), which is their point. Real
mini-batches of 2, where the updates change too, are ``small_batch_experiment``.
Everything is seeded: the same call gives the same numbers.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .convnet import ConvNet, train
from .data import digits

CHANNELS = (8, 16)
HIDDEN = 64
GROUPS = 4
BATCH = 64
EPOCHS = 4
LR = 0.3
OPTIMIZER = "momentum"  # beta = 0.9
SEEDS = (0, 1, 2)
STAT_SIZES = (2, 4, 8, 16, 32, 64)
NORMS = ("batch", "group", "layer", None)
NAMES = {"batch": "Batch Norm", "group": "Group Norm", "layer": "Layer Norm", None: "none"}
# Wu & He 2018, Table 2 / Figure 1: ResNet-50 on ImageNet, validation error (%) against
# the batch size per GPU (images per worker, 8 workers), BN and GN (32 groups).
WU_HE_BATCH = (32, 16, 8, 4, 2)
WU_HE_ERROR = {
    "Batch Norm": (23.6, 23.7, 24.8, 27.3, 34.7),
    "Group Norm": (24.1, 24.2, 24.0, 24.2, 24.1),
}


# ------------------------------------------------------------------ data
@dataclass(frozen=True)
class ImageData:
    """The digits as images. X_*: (m, 64) float64 (read-only), y_*: (m,) labels 0..9;
    mu, sigma: one mean and one standard deviation of all training pixels (scaled to
    0..1), used for every pixel: a pixel's position does not change what its value
    means, as a convolution's shared weights assume."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    mu: float
    sigma: float

    def __repr__(self) -> str:
        return (
            f"ImageData(train {self.X_train.shape}, validation {self.X_val.shape}, "
            "8x8 images, one mean and std for all pixels)"
        )


@functools.cache
def digit_images(seed: int = 0) -> ImageData:
    """The split of ``course_lib.data.digits(seed=seed)``, pixels / 16, then centred and
    scaled by the training set's mean and standard deviation of all pixels. Cached."""
    split = digits(seed=seed)
    train_px = split.X_train / 16.0
    mu, sigma = float(train_px.mean()), float(train_px.std())
    arrays = [
        (train_px - mu) / sigma,
        np.asarray(split.y_train),
        (split.X_test / 16.0 - mu) / sigma,
        np.asarray(split.y_test),
    ]
    for a in arrays:
        a.flags.writeable = False
    return ImageData(*arrays, mu, sigma)


def make_convnet(norm, seeds: int | Sequence[int] = SEEDS, ghost_batch=None, **kw) -> ConvNet:
    """The lesson's network: conv 8 - conv 16 - dense 64 - dense 10 with ``norm``."""
    return ConvNet(
        CHANNELS, norm=norm, groups=GROUPS, seed=seeds, hidden=HIDDEN, ghost_batch=ghost_batch, **kw
    )


def _fit(model: ConvNet, batch: int, epochs: float, lr: float, data: ImageData):
    steps = int(round(epochs * len(data.X_train) / batch))
    return train(
        model,
        data.X_train,
        data.y_train,
        lr=lr,
        steps=steps,
        batch_size=batch,
        optimizer=OPTIMIZER,
        X_val=data.X_val,
        y_val=data.y_val,
        eval_every=None,
        eval_train=False,
    )


def _val_acc(histories) -> np.ndarray:
    histories = histories if isinstance(histories, list) else [histories]
    return np.array([h.final_val_acc for h in histories])


# ------------------------------------------------------------------ the batch-size sweep
@dataclass
class BatchSizeResult:
    """Validation accuracies of the sweep.

    sizes: the numbers B of examples that share one set of BN statistics in training.
    seeds: one network per seed. val_acc: norm -> (len(sizes), len(seeds)) accuracy on
    the validation set in inference mode (BN: running statistics); the rows of the
    other norms repeat their one run. bn_train_mode: BN's validation accuracy when runs
    of B validation examples are normalized with their own statistics, as in training.
    """

    sizes: tuple[int, ...]
    seeds: tuple[int, ...]
    val_acc: dict
    bn_train_mode: np.ndarray
    settings: dict = field(default_factory=dict)
    bn_models: dict = field(default_factory=dict, repr=False)  # B -> the trained BN networks

    def mean(self, norm) -> np.ndarray:
        return self.val_acc[norm].mean(axis=1)

    def table(self, swings: Sequence[int] = (2,)) -> str:
        """Mean ± standard deviation over the seeds. Batch Norm's runs at the sizes in
        ``swings`` change with the last bit of the arithmetic (``sensitivity``): their
        numbers are left out here (the figure shows them; the lesson bounds them)."""

        def cell(values: np.ndarray, b: int) -> str:
            if b in swings:
                return f"{'swings':>15s}"
            return f"{values.mean():>9.3f} ±{values.std():.3f}"

        lines = [
            f"validation accuracy, mean ± standard deviation over {len(self.seeds)} seeds",
            f"{'B = examples per BN statistic':44s}" + "".join(f"{b:>15d}" for b in self.sizes),
        ]
        for label, values in (
            ("Batch Norm, inference (running statistics)", self.val_acc["batch"]),
            ("Batch Norm, normalizing runs of B examples", self.bn_train_mode),
        ):
            cells = "".join(cell(v, b) for v, b in zip(values, self.sizes, strict=True))
            lines.append(f"{label:44s}{cells}")
        for norm in NORMS[1:]:
            acc = self.val_acc[norm][0]
            lines.append(f"{NAMES[norm] + ' (the same for every B)':44s}{cell(acc, 0)}")
        return "\n".join(lines)


def batch_size_experiment(
    sizes: Sequence[int] = STAT_SIZES,
    seeds: Sequence[int] = SEEDS,
    *,
    batch: int = BATCH,
    epochs: float = EPOCHS,
    lr: float = LR,
    progress: bool = False,
) -> BatchSizeResult:
    """Train the lesson's network with BN over runs of B examples (B in ``sizes``, each
    a divisor of ``batch``), and once each with GN, LN and no normalization; every
    setting with all ``seeds`` side by side. See the module docstring."""
    data = digit_images()
    seeds = tuple(seeds)
    sizes = tuple(int(b) for b in sizes)
    if any(batch % b for b in sizes):
        raise ValueError(f"every size must divide batch={batch}, got {sizes}")
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(sizes) + len(NORMS) - 1, leave=False)
    val = {}
    bn_val, bn_train, models = [], [], {}
    try:
        for b in sizes:
            model = make_convnet("batch", seeds, ghost_batch=b if b < batch else None)
            bn_val.append(_val_acc(_fit(model, batch, epochs, lr, data)))
            bn_train.append(model.accuracy(data.X_val, data.y_val, training=True, batch_size=b))
            models[b] = model
            if bar is not None:
                bar.update(1)
        val["batch"] = np.array(bn_val)
        for norm in NORMS[1:]:
            acc = _val_acc(_fit(make_convnet(norm, seeds), batch, epochs, lr, data))
            val[norm] = np.tile(acc, (len(sizes), 1))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    settings = {"batch": batch, "epochs": epochs, "lr": lr, "optimizer": OPTIMIZER}
    bn_train = np.array(bn_train).reshape(len(sizes), -1)
    return BatchSizeResult(sizes, seeds, val, bn_train, settings, models)


# ------------------------------------------------------------------ real small mini-batches
@dataclass
class SmallBatchResult:
    """Real mini-batches of ``batch`` examples (the updates change too), lr scaled."""

    batch: int
    seeds: tuple[int, ...]
    val_acc: dict  # norm -> (len(seeds),), inference mode
    bn_train_mode: np.ndarray  # BN on runs of ``batch`` validation examples, (len(seeds),)
    settings: dict = field(default_factory=dict)


def small_batch_experiment(
    batch: int = 2,
    norms: Sequence = ("batch", "group"),
    seeds: Sequence[int] = SEEDS,
    *,
    epochs: float = EPOCHS,
    lr: float | None = None,
) -> SmallBatchResult:
    """The lesson's network trained on real mini-batches of ``batch`` examples for the
    same number of epochs, with the learning rate scaled linearly (LR * batch / BATCH,
    Wu & He's rule, from Goyal et al. 2017)."""
    data = digit_images()
    lr = LR * batch / BATCH if lr is None else lr
    val, train_mode = {}, None
    for norm in norms:
        model = make_convnet(norm, tuple(seeds))
        val[norm] = _val_acc(_fit(model, batch, epochs, lr, data))
        if norm == "batch":
            train_mode = model.accuracy(data.X_val, data.y_val, training=True, batch_size=batch)
    settings = {"batch": batch, "epochs": epochs, "lr": lr, "optimizer": OPTIMIZER}
    return SmallBatchResult(batch, tuple(seeds), val, np.atleast_1d(train_mode), settings)


# ------------------------------------------------------------------ sensitivity to the last bit
def sensitivity(
    norm, ghost_batch=None, nudge: float = 1e-13, seed: int = 0, epochs: float = EPOCHS
) -> float:
    """How far a relative nudge of ``nudge`` to every initial weight moves the trained
    weights: the largest absolute difference between the two trained networks. Round-off
    on another CPU is such a nudge: where this is large, the run swings with the last bit."""
    data = digit_images()
    runs = []
    for k in range(2):
        model = make_convnet(norm, seed, ghost_batch=ghost_batch)
        if k:
            p = model.flat_params()
            wobble = np.random.default_rng(seed + 1).standard_normal(p.size)
            model.set_flat_params(p * (1.0 + nudge * wobble))
        _fit(model, BATCH, epochs, LR, data)
        runs.append(model.flat_params())
    return float(np.abs(runs[0] - runs[1]).max())


# ------------------------------------------------------------------ the train/inference gap
def dense_layer_x_hat(
    model: ConvNet, X: np.ndarray, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The normalized values x_hat of the dense hidden layer of a Batch Norm network, for
    the examples of X: in training mode, runs of ``batch_size`` examples normalized with
    their own statistics (what the network saw while it learned), and in inference mode
    (running statistics, what it sees when used). Two flat arrays, first network only."""
    if model.norm != "batch" or not model.hidden:
        raise ValueError("model must be a Batch Norm network with a dense hidden layer")
    X = model._inputs(X)
    stop = len(X) - len(X) % batch_size
    train_mode = []
    for i in range(0, stop, batch_size):
        model._forward(model._stack(X[i : i + batch_size]), True, False, keep=True)
        train_mode.append(model._caches[-1].x_hat[0].ravel())
    model._forward(model._stack(X[:stop]), False, False, keep=True)
    inference = model._caches[-1].x_hat[0].ravel().copy()
    model._caches = []
    return np.concatenate(train_mode), inference
