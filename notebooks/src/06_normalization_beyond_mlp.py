# ---
# jupyter:
#   jupytext:
#     formats: ipynb,src//py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # Lesson 06 · Normalization beyond the MLP: Batch Norm in conv nets, Layer Norm, Group Norm
#
# *Lesson 6 · beyond the notes. Core path: about 45 minutes (reading, running, five
# exercises, two short written answers). The "Going deeper" sections after the summary
# take about 20 minutes more; you can skip them.*

# %% [markdown] slideshow={"slide_type": "notes"}
# The notes stop at fully connected layers. Most networks you will meet are
# **convolutional** (卷积神经网络) or **transformers**, and they normalize differently:
# Batch Norm (the notes' Batch归一化; 批量规范化 in the Chinese edition of d2l) is
# applied per channel in conv nets, and transformers use **Layer Norm** (层归一化,
# d2l: 层规范化). **Group Norm** (组归一化) sits between the two. All of them compute the
# two lines of lesson 03,

# %% [markdown] slideshow={"slide_type": "-"}
# $$\hat x = \frac{x-\mu}{\sqrt{\sigma^2+\varepsilon}}, \qquad y = \gamma\,\hat x + \beta,$$
#
# and differ only in **which values share one μ and one σ²**.

# %% [markdown] slideshow={"slide_type": "notes"}
# **After this lesson you can**
#
# 1. say which values share their statistics in Batch Norm for conv layers, Layer Norm,
#    Instance Norm (实例归一化) and Group Norm, and draw it;
# 2. write spatial Batch Norm as a reshape of lesson 03's Batch Norm, and say why the
#    reshape needs a transpose first;
# 3. write Layer Norm and Group Norm, forward and backward, and check them;
# 4. explain why Layer Norm needs no running statistics and works for a batch of one;
# 5. read a measured experiment: Batch Norm fails when only two examples share its
#    statistics, Group Norm and Layer Norm do not care, and why (the gap between
#    training and inference).

# %% tags=["imports"]
import matplotlib.pyplot as plt
import numpy as np

from course_lib import batchnorm as bn  # lesson 03's Batch Norm
from course_lib import checks, norm_plots, norms
from course_lib import norm_experiments as nx

np.set_printoptions(precision=4, suppress=True)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Convolutional layers: a feature map is one feature

# %% [markdown] slideshow={"slide_type": "notes"}
# A **convolutional layer** (卷积层) slides small filters (here 3×3) over the image and
# computes, at every position, the weighted sum of the pixels under the filter. One
# filter gives one **feature map** (特征图): the same feature, say "a stroke going up",
# measured at every position. A layer with C filters has C **channels** (通道). For a
# mini-batch (小批量) of N images the layer's output is an array of shape

# %% [markdown] slideshow={"slide_type": "-"}
# $$(N,\ C,\ H,\ W) \qquad \text{(examples, channels, height, width: PyTorch's layout)}.$$
#
# Below, the first layer of this lesson's network (8 filters, random weights for now)
# applied to 32 digits of the validation set.

# %% alt="Three digits (left column) and the 8 feature maps the first conv layer computes from each, one map per channel." slideshow={"slide_type": "subslide"}
data = nx.digit_images()
net = nx.make_convnet(None, seeds=0)  # the lesson's conv net (section 5), no normalization
maps = net.feature_maps(data.X_val[:32], layer=1)  # what the first normalization layer sees
print("feature maps of 32 digits:", maps.shape, "= (N, C, H, W)")
norm_plots.plot_feature_maps(data.X_val[:3].reshape(-1, 8, 8), maps, examples=3)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Which values should share a mean and a variance?** In a fully connected layer each
# unit is one feature, normalized over the m examples of the batch. In a conv layer the
# same filter (the same weights) computes a channel at every position, so the channel is
# the feature. Ioffe & Szegedy (2015, §3.2) normalize it "in the same way" at every
# location: one μ and one σ² per channel, over all examples **and** all positions, and
# one γ, β per channel. The batch of values behind each statistic is then
# N·H·W (their m·p·q), not N:

# %%
n, c, h, w = maps.shape
mu = maps.mean(axis=(0, 2, 3))        # one mean per channel: over examples and positions
var = maps.var(axis=(0, 2, 3))
print(f"one statistic per channel: {c} means, each over N·H·W = {n}·{h * w} = {n * h * w} values")
print("channel means:    ", mu)
print("channel variances:", var)

# %% [markdown] slideshow={"slide_type": "notes"}
# Per-position statistics (one μ per channel **and** position, over the N examples only)
# would normalize the same pattern differently depending on where it appears in the
# image. That breaks what convolution is for, and it would give 8·64 = 512 statistics
# from 32 values each instead of 8 statistics from 2048 values each.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Spatial Batch Norm is lesson 03's Batch Norm on a reshaped array
#
# Lesson 03's `batchnorm_forward` normalizes the columns of an (m, n) array over its m
# rows. Spatial Batch Norm is the same computation if each row is one (example,
# position) and each column one channel: an array of shape (N·H·W, C).

# %% [markdown] slideshow={"slide_type": "notes"}
# The array is stored as (N, C, H, W): in memory, the W values of one row of one channel
# come one after the other. A plain `x.reshape(-1, C)` cuts that memory into pieces of C
# numbers, which are neighbouring **positions**, not channels. The channels must first be
# moved to the last axis with a transpose, (N, C, H, W) → (N, H, W, C); then a reshape
# to (N·H·W, C) puts one channel in each column.

# %%
channel_of = np.broadcast_to(np.arange(c)[None, :, None, None], maps.shape)  # channel of each value
plain = channel_of.reshape(-1, c)
print("channels found in column 0 after a plain reshape:", np.unique(plain[:, 0]))

# %% [markdown] slideshow={"slide_type": "subslide"}
# In the two exercises below you reuse lesson 03's functions. If you solved lesson 03,
# you may paste your own `batchnorm_forward` and `batchnorm_backward` into the next
# cell; otherwise it uses the course's tested ones.

# %%
# Lesson 03's Batch Norm, used by exercises 1 and 2.
batchnorm_forward = bn.batchnorm_forward
batchnorm_backward = bn.batchnorm_backward

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise 1 · `spatial_batchnorm_forward` (graded)

# %% [markdown] slideshow={"slide_type": "notes"}
# - `x`: shape (N, C, H, W); `gamma`, `beta`: shape (C,); `eps` > 0.
# - Return `(out, cache)`: `out` of shape (N, C, H, W), Batch Norm in training mode with
#   one μ and σ² per channel over N, H and W; `cache`: whatever your backward needs
#   (lesson 03's cache will do).
# - Use `batchnorm_forward` from the cell above, on the (N·H·W, C) array; bring the
#   result back to (N, C, H, W). Do not modify `x`.

# %% nbgrader={"grade": false, "grade_id": "spatial_batchnorm_forward", "locked": false, "schema_version": 3, "solution": true}
def spatial_batchnorm_forward(x, gamma, beta, eps=1e-5):
    """Batch Norm of conv feature maps: (N, C, H, W) x, (C,) gamma and beta -> (out, cache)."""
    ### BEGIN SOLUTION
    n, c, h, w = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, c)  # one row per (example, position)
    out_rows, cache = batchnorm_forward(rows, gamma, beta, eps)
    out = out_rows.reshape(n, h, w, c).transpose(0, 3, 1, 2)
    return out, cache
    ### END SOLUTION


# %% tags=["exercise-feedback"]
checks.check_spatial_batchnorm_forward(spatial_batchnorm_forward)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise 2 · `spatial_batchnorm_backward` (graded)
#
# The backward pass is lesson 03's backward on the same (N·H·W, C) arrangement: `dout`
# must go through the same transpose and reshape, and `dx` back again.
#
# - `dout`: shape (N, C, H, W); `cache`: what your `spatial_batchnorm_forward` returned.
# - Return `(dx, dgamma, dbeta)` of shapes (N, C, H, W), (C,), (C,).
#
# Before you write it: over which values are `dgamma` and `dbeta` summed now?

# %% nbgrader={"grade": false, "grade_id": "spatial_batchnorm_backward", "locked": false, "schema_version": 3, "solution": true}
def spatial_batchnorm_backward(dout, cache):
    """Gradients of spatial Batch Norm: (N, C, H, W) dout and your cache -> (dx, dgamma, dbeta)."""
    ### BEGIN SOLUTION
    n, c, h, w = dout.shape
    dout_rows = dout.transpose(0, 2, 3, 1).reshape(-1, c)
    dx_rows, dgamma, dbeta = batchnorm_backward(dout_rows, cache)
    dx = dx_rows.reshape(n, h, w, c).transpose(0, 3, 1, 2)
    return dx, dgamma, dbeta
    ### END SOLUTION


# %% tags=["exercise-feedback"]
checks.check_spatial_batchnorm_backward(spatial_batchnorm_forward, spatial_batchnorm_backward)

# %% [markdown] slideshow={"slide_type": "notes"}
# `course_lib.norms.spatial_batchnorm_forward` computes the same without the reshape (the
# means run over the axes (0, 2, 3) directly); the tests check it against PyTorch's
# `batch_norm` on 4-D input. Since γ and β are used at every position of their channel,
# `dgamma` and `dbeta` are sums over N, H **and** W.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Layer Norm: statistics per example

# %% [markdown] slideshow={"slide_type": "notes"}
# Layer Norm (Ba, Kiros & Hinton, 2016) turns Batch Norm's axis around. For an input
# $x$ of shape (m, d), each **row** (example) $i$ is normalized over its own d features:

# %% [markdown] slideshow={"slide_type": "-"}
# $$\mu_i = \frac{1}{d}\sum_{j=1}^{d} x_{ij},\qquad
# \sigma_i^2 = \frac{1}{d}\sum_{j=1}^{d} (x_{ij}-\mu_i)^2,\qquad
# y_{ij} = \gamma_j\,\frac{x_{ij}-\mu_i}{\sqrt{\sigma_i^2+\varepsilon}} + \beta_j .$$
#
# γ and β still have one value per feature (shape (d,)). Nothing is shared between the
# examples, which has three consequences:
#
# - training and inference compute exactly the same thing: no running statistics
#   (滑动平均), no inference mode (推理模式) to forget;
# - a batch of one example is fine;
# - an example's output does not depend on the rest of its batch.

# %% slideshow={"slide_type": "subslide"}
rng = np.random.default_rng(0)
x = rng.normal(2.0, 3.0, size=(5, 6))
g, b = rng.uniform(0.5, 2.0, 6), rng.normal(size=6)
in_batch = norms.layernorm_forward(x, g, b)[0][0]
alone = norms.layernorm_forward(x[:1], g, b)[0][0]
others = x.copy()
others[1:] *= 10.0  # change every other example of the batch
print("Layer Norm, example 0 alone = in its batch:", np.allclose(alone, in_batch, rtol=0, atol=1e-12))
print("Layer Norm, example 0 after the others changed, unchanged:",
      np.allclose(norms.layernorm_forward(others, g, b)[0][0], in_batch, rtol=0, atol=1e-12))
print("Batch Norm (training mode), example 0 after the others changed, unchanged:",
      np.allclose(bn.batchnorm_forward(others, g, b)[0][0], bn.batchnorm_forward(x, g, b)[0][0]))

# %% [markdown] slideshow={"slide_type": "notes"}
# **Why transformers and recurrent networks use it.** Ba et al. introduced Layer Norm for
# recurrent networks (循环神经网络): the statistics of a time step are computed from that
# example alone, so sequences of different lengths pose no problem, and the same
# computation runs at every step of training and of use. Transformers (Vaswani et al.,
# 2017) normalize every token's vector of d features the same way. A language model that
# generates one token for one user at a time cannot rely on a batch, and in training,
# examples do not influence each other's outputs.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise 3 · `layernorm_forward` (graded)
#
# - `x`: shape (m, d), any m ≥ 1; `gamma`, `beta`: shape (d,); `eps` > 0.
# - Return `(out, cache)` with `out` of shape (m, d), using the biased variance (1/d),
#   ε inside the square root, and without modifying `x`.

# %% nbgrader={"grade": false, "grade_id": "layernorm_forward", "locked": false, "schema_version": 3, "solution": true}
def layernorm_forward(x, gamma, beta, eps=1e-5):
    """Layer Norm: (m, d) x, (d,) gamma and beta -> (out, cache); statistics per row."""
    ### BEGIN SOLUTION
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv_std
    out = gamma * x_hat + beta
    return out, (x_hat, gamma, inv_std)
    ### END SOLUTION


# %% tags=["exercise-feedback"]
checks.check_layernorm_forward(layernorm_forward)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise 4 · `layernorm_backward` (graded)

# %% [markdown] slideshow={"slide_type": "notes"}
# Lesson 03's derivation carries over, with one row in the role of the batch: μ_i and
# σ_i² are shared by the d values of row i, so the mean path and the variance path sum
# over the **features of a row**. Derive it before you write it; two questions to settle
# on paper first:
#
# 1. Which sums run over the row, and which over the examples? (γ and β are used by
#    every example.)
# 2. In lesson 03 the compact form took γ out of the sums, because γ was one number per
#    feature and the sums ran over examples. Can you still do that here?
#
# - `dout`: shape (m, d); `cache`: what your `layernorm_forward` returned.
# - Return `(dx, dgamma, dbeta)` with shapes (m, d), (d,), (d,).

# %% nbgrader={"grade": false, "grade_id": "layernorm_backward", "locked": false, "schema_version": 3, "solution": true}
def layernorm_backward(dout, cache):
    """Gradients of Layer Norm: (m, d) dout and your cache -> (dx, dgamma, dbeta)."""
    ### BEGIN SOLUTION
    x_hat, gamma, inv_std = cache
    dx_hat = dout * gamma
    mean_dx_hat = dx_hat.mean(axis=1, keepdims=True)
    mean_dx_hat_x_hat = (dx_hat * x_hat).mean(axis=1, keepdims=True)
    dx = inv_std * (dx_hat - mean_dx_hat - x_hat * mean_dx_hat_x_hat)
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
    ### END SOLUTION


# %% tags=["exercise-feedback"]
checks.check_layernorm_backward(layernorm_forward, layernorm_backward)

# %% [markdown] slideshow={"slide_type": "notes"}
# **Written question 1** (graded by your instructor). Batch Norm keeps running
# statistics for inference; Layer Norm keeps none. Explain in two or three sentences why
# Layer Norm does not need them, and what this means for a batch of one example at
# inference. Write your answer in the next cell.

# %% [markdown] nbgrader={"grade": true, "grade_id": "layernorm_no_running_statistics", "locked": false, "points": 1, "schema_version": 3, "solution": true} slideshow={"slide_type": "notes"}
# *Model answer.* Layer Norm's μ and σ² come from the example itself (its own d
# features), never from other examples, so the statistics it needs are always at hand:
# the same computation serves training and inference. There is nothing to estimate
# from the training data beforehand, and a single example at inference is normalized
# exactly as in training, with no mode to switch.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Group Norm, with Layer Norm and Instance Norm as its two extremes

# %% [markdown] slideshow={"slide_type": "notes"}
# Group Norm (Wu & He, 2018) keeps Layer Norm's idea (statistics per example) for conv
# layers, but does not lump all channels together. The C channels are split into G
# groups of C/G **consecutive** channels (channel c is in group c // (C/G), as in
# PyTorch), and each example and group gets its own μ and σ², over the (C/G)·H·W values
# of that group. γ and β stay per channel.
#
# - G = 1: one group, statistics over all C·H·W values of an example: **Layer Norm** of a
#   conv layer.
# - G = C: one channel per group, statistics over the H·W values of one channel of one
#   example: **Instance Norm** (Ulyanov, Vedaldi & Lempitsky, 2016), which removes each
#   image's own contrast; it was introduced for style transfer.

# %% [markdown] slideshow={"slide_type": "-"}
# The blue entries below share one mean and variance with example 0, channel 1 (after
# Wu & He's Figure 2).

# %% alt="Four blocks of examples by channels by positions with, in blue, the values that share one mean and variance with example 0, channel 1: Batch Norm, Layer Norm, Instance Norm and Group Norm."
norm_plots.plot_statistic_groups(n=4, c=6, hw=6, groups=3, channel=1)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Explore.** Pick the normalization and the batch size N, then move the channel: the
# picture shows which entries of an (N, C, H·W) block share one μ and σ² with example 0,
# and the numbers on the right are those statistics, computed on the first N validation
# digits' feature maps of section 1 (C = 8 channels of 8·8 positions; the drawing shows
# 8 of the 64 positions).

# %% [markdown] slideshow={"slide_type": "notes"}
# Things to try:
#
# - Batch Norm, N = 1 … 8: the number of values per statistic grows with N, and the
#   blue μ and σ² change with the examples that share the batch. Compare them with the
#   whole training set's (printed below them): with only a few examples they can be far
#   from it.
# - Layer, Instance and Group Norm: change N. Example 0's statistics do not change.
# - Group Norm with G = 1 and with G = 8: the same blue sets as Layer and Instance Norm.

# %% tags=["widget", "nbval-ignore-output"]
# ipywidgets sliders for the normalization, the batch size, the groups and the channel
norm_plots.normalization_explorer()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise 5 · `groupnorm_forward` (graded)

# %% [markdown] slideshow={"slide_type": "notes"}
# - `x`: shape (N, C, H, W); `gamma`, `beta`: shape (C,); `groups` divides C; `eps` > 0.
# - Return `(out, cache)`: `out` of shape (N, C, H, W), statistics per example and group
#   of consecutive channels, over those channels and all positions; γ and β per channel.
# - A reshape to (N, G, C/G, H, W) gives each group an axis of its own; this one needs no
#   transpose (why?).

# %% nbgrader={"grade": false, "grade_id": "groupnorm_forward", "locked": false, "schema_version": 3, "solution": true}
def groupnorm_forward(x, gamma, beta, groups, eps=1e-5):
    """Group Norm: (N, C, H, W) x, (C,) gamma and beta, G groups -> (out, cache)."""
    ### BEGIN SOLUTION
    n, c, h, w = x.shape
    xg = x.reshape(n, groups, c // groups, h, w)
    mu = xg.mean(axis=(2, 3, 4), keepdims=True)
    inv_std = 1.0 / np.sqrt(xg.var(axis=(2, 3, 4), keepdims=True) + eps)
    x_hat = ((xg - mu) * inv_std).reshape(n, c, h, w)
    out = gamma.reshape(1, c, 1, 1) * x_hat + beta.reshape(1, c, 1, 1)
    return out, (x_hat, gamma, inv_std, groups)
    ### END SOLUTION


# %% tags=["exercise-feedback"]
checks.check_groupnorm_forward(groupnorm_forward)

# %% [markdown] slideshow={"slide_type": "subslide"}
# The two extremes, checked with `course_lib.norms` on random feature maps: Group Norm
# with one group equals Layer Norm of each example's C·H·W values (γ repeated over the
# positions), and with C groups it equals Instance Norm, which is spatial Batch Norm
# applied to each example alone.

# %%
x4 = rng.normal(1.0, 2.0, size=(3, 6, 4, 4))
g4, b4 = rng.uniform(0.5, 2.0, 6), rng.normal(size=6)
gn_1 = norms.groupnorm_forward(x4, g4, b4, groups=1)[0]
ln = norms.layernorm_forward(x4.reshape(3, -1), np.repeat(g4, 16), np.repeat(b4, 16))[0]
print("G = 1 equals Layer Norm:   ", np.allclose(gn_1.reshape(3, -1), ln, rtol=0, atol=1e-12))
gn_c = norms.groupnorm_forward(x4, g4, b4, groups=6)[0]
inorm = np.concatenate([norms.spatial_batchnorm_forward(x4[i:i + 1], g4, b4)[0] for i in range(3)])
print("G = C equals Instance Norm:", np.allclose(gn_c, inorm, rtol=0, atol=1e-12))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Measured: what the batch size does to each normalization

# %% [markdown] slideshow={"slide_type": "notes"}
# Wu & He's Figure 1 is the reason Group Norm exists: ResNet-50 on ImageNet, with Batch
# Norm, goes from 23.6 % validation error at 32 images per GPU to 34.7 % at 2, while
# Group Norm stays between 24.0 and 24.2 %. Batch Norm computes its statistics on each GPU's own
# images, and detection, segmentation and video models often fit only 1 or 2 images per
# GPU.
#
# The same experiment, in miniature, on the digits. The network
# (`norm_experiments.make_convnet`, written in numpy in `course_lib.convnet`): two conv
# blocks (3×3 convolution with 8 and 16 channels, normalization, ReLU, 2×2 max
# pooling (池化)), a fully connected layer (全连接层) of 64 units with normalization and
# ReLU, and the output layer; Group Norm uses 4 groups. Every run: SGD with momentum 0.9,
# learning rate 0.3, mini-batches of 64, 4 epochs, three seeds.
#
# What changes is only **B, the number of examples that share one set of Batch Norm
# statistics**: each mini-batch of 64 is normalized in runs of B examples, as when it is
# spread over 64/B GPUs that each compute Batch Norm on their own share (Wu & He's "batch
# size per GPU"). The data seen, the number and size of the updates stay the same. Group
# Norm, Layer Norm and no normalization never share statistics between examples, so B
# cannot change them: they are trained once. Validation accuracy is measured in inference
# mode, Batch Norm with its running statistics (lesson 05).

# %% tags=["progress", "nbval-ignore-output"]
# About ten seconds on a laptop: 9 settings × 3 seeds (trained side by side) × 84 steps.
sweep = nx.batch_size_experiment(progress=True)

# %%
print(sweep.table())
acc = sweep.val_acc["batch"]
two, rest = acc[0], acc[1:]
print(f"Batch Norm, B = 2: every seed below 0.85: {bool((two < 0.85).all())}; "
      f"B = 4 to 64: every seed above 0.94: {bool((rest > 0.94).all())}")

# %% alt="Validation accuracy against the number of examples per Batch Norm statistic, every seed a dot, for Batch Norm in inference and training mode and the per-example normalizations (left); Wu and He's ImageNet error of Batch Norm and Group Norm against the batch size per GPU (right)." slideshow={"slide_type": "subslide"}
norm_plots.plot_batch_size(sweep)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **What the numbers show.**

# %% [markdown] slideshow={"slide_type": "notes"}
# - With B = 2, Batch Norm fails: every seed ends below 0.85 (the figure shows each).
#   From B = 4 on, it reaches 0.959 to 0.964. The collapse is
#   sharper and later than on ImageNet (there, 4 images per GPU already cost 3.7 points):
#   in the conv layers of this small network even B = 2 gives 2·64 and 2·16 values per
#   statistic, but the dense layer has only B values per statistic.
# - Group Norm (0.948), Layer Norm (0.953) and no normalization (0.946) do not depend on
#   B at all. On this small, well-initialized ReLU network (He initialization) they are
#   within the seeds' spread of each other after 4 epochs. Batch Norm with B ≥ 4 is
#   about 0.01 higher than Group Norm and no normalization, more than their spread
#   (±0.004, ±0.006); Layer Norm's seeds spread too widely (±0.016) to rank it
#   against Batch Norm with 3 seeds.
# - The row "normalizing runs of B examples" evaluates Batch Norm as it ran during
#   training: each run of B validation examples normalized with its own statistics.
#   Noisy statistics cost accuracy: 0.868 at B = 4 against 0.959 with the running
#   statistics. The running statistics remove that noise at inference, as long as the
#   network trained with it still learned something useful.
#
# **The gap between training and inference at B = 2.** With two examples, lesson 03
# showed that x̂ = ±σ/√(σ² + ε) ≈ ±1 for every unit: in the dense layer the network
# trains on values that are almost exactly +1 or −1. At inference, the running statistics
# give values spread over a range. The next layer never saw such inputs.

# %% alt="Histograms of the dense layer's x-hat: in training mode with pairs of examples nearly every value sits at -1 or +1; with the running statistics of inference the values spread over a range." slideshow={"slide_type": "subslide"} tags=["slide-output-only"]
x_train_mode, x_inference = nx.dense_layer_x_hat(sweep.bn_models[2], data.X_val, batch_size=2)


def near_one(values):
    """The fraction of the values within 0.05 of +1 or -1."""
    return float(np.mean(np.abs(np.abs(values) - 1.0) < 0.05))


print("dense layer, share of x̂ within 0.05 of ±1:")
print("  training mode (pairs normalized with their own statistics), above 95%:", near_one(x_train_mode) > 0.95)
print("  inference mode (running statistics), below 50%:", near_one(x_inference) < 0.5)
fig, ax = plt.subplots(figsize=(6.5, 2.4))
bins = np.linspace(-4, 4, 81)
ax.hist(x_train_mode, bins=bins, alpha=0.6, label="training mode: pairs, their own statistics")
ax.hist(x_inference, bins=bins, alpha=0.6, label="inference: running statistics")
ax.set_xlabel("x̂ of the dense layer (validation digits, first seed)")
ax.legend(fontsize=8)
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# **Written question 2** (graded by your instructor). A segmentation model trains with 2
# images per GPU on 8 GPUs, and Batch Norm computes its statistics on each GPU. Would
# you keep Batch Norm or switch to Group Norm? Give two reasons from this lesson's
# measurements. Write your answer in the next cell.

# %% [markdown] nbgrader={"grade": true, "grade_id": "small_batches_bn_or_gn", "locked": false, "points": 1, "schema_version": 3, "solution": true} slideshow={"slide_type": "notes"}
# *Model answer.* Switch to Group Norm. With 2 examples per statistic, Batch Norm
# trained on nearly binary normalized values (±1) and met different values at inference:
# on the digits its accuracy fell below 0.85 for every seed, against 0.96 with 4 or more
# examples. Group Norm's statistics come from one example, so the number of images per
# GPU does not change them (0.948 for every B here; 24.0 to 24.2 % error for every batch
# size in Wu & He's ImageNet runs). (Synchronizing Batch Norm's statistics over the 8 GPUs would
# also work, at the cost of communication.)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Self-check

# %% [markdown] slideshow={"slide_type": "notes"}
# 1. A conv layer's output has shape (32, 16, 8, 8). How many means does spatial Batch
#    Norm compute, and over how many values each? And Group Norm with 4 groups?
# 2. Why does `x.reshape(-1, C)` not give one channel per column for x of shape
#    (N, C, H, W)?
# 3. Which normalization gives the same output for an example whatever the rest of its
#    batch is: Batch, Layer, Instance, Group Norm?
# 4. Group Norm with G = 1 and with G = C: which normalizations are these?
# 5. In Layer Norm's backward pass, why can γ not be taken out of the sums over the row?
# 6. At B = 2, why is Batch Norm's accuracy in inference mode no help, although the
#    running statistics are accurate?

# %% [markdown] slideshow={"slide_type": "-"}
# <details><summary>Answers</summary>
#
# 1. 16 means (one per channel), each over 32·8·8 = 2048 values. Group Norm: 32·4 = 128
#    means (per example and group), each over 4·8·8 = 256 values.
# 2. In memory the last axis (W) varies fastest, so C consecutive numbers are C
#    neighbouring positions of one channel. Transpose to (N, H, W, C) first.
# 3. Layer, Instance and Group Norm; Batch Norm only in inference mode.
# 4. Layer Norm (over C·H·W) and Instance Norm (over H·W).
# 5. γ_j differs from feature to feature within the row, and the sums run over the row.
#    In Batch Norm the sums run over examples, along which γ is constant.
# 6. The network learned its later layers on inputs normalized with two values (≈ ±1);
#    accurate statistics give it inputs it never saw in training.
#
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Summary

# %% [markdown] slideshow={"slide_type": "notes"}
# - All these normalizations compute (x − μ)/√(σ² + ε), then γ·x̂ + β; they differ in the
#   values that share μ and σ².
# - Batch Norm in a conv layer: one μ, σ² (and one γ, β) per channel, over N·H·W values
#   (Ioffe & Szegedy §3.2). It is lesson 03's Batch Norm on the (N·H·W, C) array, after a
#   transpose that moves the channels last.
# - Layer Norm: per example, over its features; the same in training and inference, fine
#   for a batch of one; used in recurrent networks and transformers.
# - Group Norm: per example and group of consecutive channels; Layer Norm is G = 1,
#   Instance Norm G = C.
# - Measured on the digits: with 2 examples per statistic Batch Norm fails (every seed
#   below 0.85, against 0.959 to 0.964 from B = 4 on); Group Norm (0.948) and Layer Norm
#   (0.953) do not depend on B. At B = 2 the dense layer trains on values of ±1 and meets
#   spread-out values at inference.

# %% [markdown] slideshow={"slide_type": "-"}
# **Next**, lesson 07 builds the same networks in PyTorch.

# %% [markdown] slideshow={"slide_type": "notes"}
# **References.** S. Ioffe and C. Szegedy, *Batch Normalization*, ICML 2015,
# [arXiv:1502.03167](https://arxiv.org/abs/1502.03167), §3.2. J. L. Ba, J. R. Kiros and
# G. E. Hinton, *Layer Normalization*, 2016, [arXiv:1607.06450](https://arxiv.org/abs/1607.06450).
# D. Ulyanov, A. Vedaldi and V. Lempitsky, *Instance Normalization: The Missing Ingredient
# for Fast Stylization*, 2016, [arXiv:1607.08022](https://arxiv.org/abs/1607.08022).
# Y. Wu and K. He, *Group Normalization*, ECCV 2018,
# [arXiv:1803.08494](https://arxiv.org/abs/1803.08494) (Figures 1 and 2, Table 2).
# A. Vaswani et al., *Attention Is All You Need*, NeurIPS 2017,
# [arXiv:1706.03762](https://arxiv.org/abs/1706.03762). P. Goyal et al., *Accurate, Large
# Minibatch SGD*, 2017, [arXiv:1706.02677](https://arxiv.org/abs/1706.02677) (the linear
# learning-rate rule).

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# ## Going deeper: the backward pass of Group Norm (exercise 6, optional, graded separately)
#
# Within a group, Group Norm is Layer Norm of the group's (C/G)·H·W values, and γ varies
# with the channel inside the group, as it varied with the feature in Layer Norm.
#
# - `dout`: shape (N, C, H, W); `cache`: what your `groupnorm_forward` returned.
# - Return `(dx, dgamma, dbeta)` with shapes (N, C, H, W), (C,), (C,).

# %% nbgrader={"grade": false, "grade_id": "groupnorm_backward", "locked": false, "schema_version": 3, "solution": true} slideshow={"slide_type": "skip"} tags=["going-deeper"]
def groupnorm_backward(dout, cache):
    """Gradients of Group Norm: (N, C, H, W) dout and your cache -> (dx, dgamma, dbeta)."""
    ### BEGIN SOLUTION
    x_hat, gamma, inv_std, groups = cache
    n, c, h, w = dout.shape
    grouped = (n, groups, c // groups, h, w)
    dx_hat = (dout * gamma.reshape(1, c, 1, 1)).reshape(grouped)
    xg_hat = x_hat.reshape(grouped)
    mean_d = dx_hat.mean(axis=(2, 3, 4), keepdims=True)
    mean_dx = (dx_hat * xg_hat).mean(axis=(2, 3, 4), keepdims=True)
    dx = (inv_std * (dx_hat - mean_d - xg_hat * mean_dx)).reshape(n, c, h, w)
    return dx, (dout * x_hat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))
    ### END SOLUTION


# %% slideshow={"slide_type": "skip"} tags=["exercise-feedback", "going-deeper"]
checks.check_groupnorm_backward(groupnorm_forward, groupnorm_backward)

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# ## Going deeper: real mini-batches of two
#
# The sweep above kept the updates fixed and changed only Batch Norm's statistics. With
# real mini-batches of 2, the updates change too: 32 times more of them, each from 2
# examples. The learning rate is scaled by 2/64 (the linear rule of Goyal et al., 2017,
# which Wu & He use), for the same 4 epochs. Batch Norm and Group Norm, three seeds each:

# %% slideshow={"slide_type": "skip"} tags=["progress", "going-deeper", "nbval-ignore-output"]
small = nx.small_batch_experiment(batch=2, norms=("batch", "group"))

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
gn_small = small.val_acc["group"]
print(f"Group Norm, mini-batches of 2:  {gn_small.mean():.3f} ± {gn_small.std():.3f} "
      f"(mini-batches of 64: {sweep.val_acc['group'][0].mean():.3f})")
print(f"Batch Norm, mini-batches of 2: every seed below 0.85 in inference: "
      f"{bool((small.val_acc['batch'] < 0.85).all())}, and with the statistics of each pair: "
      f"{bool((small.bn_train_mode < 0.85).all())}")

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# Group Norm trains as well with 2 examples per update as with 64; Batch Norm fails in
# both modes, as in the sweep.

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# ## Going deeper: runs that swing with the last bit
#
# Why does the table print "swings" for B = 2 instead of numbers? Round-off differs from
# one CPU to another in the last bits of every result. A healthy training run forgets such
# differences; a chaotic one amplifies them until the result is a different network. The
# test: nudge every initial weight by a relative 10⁻¹³ (less than the round-off of a few
# operations), train again, and compare the trained weights.

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
for label, norm, ghost in (("Batch Norm, B = 2", "batch", 2), ("Batch Norm, B = 4", "batch", 4),
                           ("Group Norm", "group", None)):
    moved = nx.sensitivity(norm, ghost_batch=ghost, nudge=1e-13)
    print(f"{label:18s}: largest change of a trained weight {'above 1e-3' if moved > 1e-3 else 'below 1e-6' if moved < 1e-6 else 'between 1e-6 and 1e-3'}")

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# With B = 2 a nudge in the 13th digit gives a different network: on another machine the
# accuracies of that column come out different. With B = 4 and with Group Norm the nudge
# stays at round-off level. So the lesson reports B = 2 only with bounds that hold
# whatever the last bits do ("every seed below 0.85"), and its figure shows the values
# this machine computed.

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# ## Going deeper: the convolution as one matrix product
#
# `course_lib.convnet.conv_forward` computes a 3×3 convolution without a loop over
# pixels. A strided view of the zero-padded input (`numpy.lib.stride_tricks.as_strided`)
# lists, for every position, the 3×3 patch of every channel, without copying; one copy
# turns it into a matrix of shape (C·9, N·H·W), and one product with the weights
# (F, C·9) gives all F feature maps at every position. The gradient with respect to the
# input is the same operation on the padded upstream gradient with the kernel flipped.
# Below, the product against the definition, a double loop over the 3×3 offsets:

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
from course_lib import convnet

x5 = rng.normal(size=(1, 2, 3, 5, 5))      # (networks, C, N, H, W): one network
w5 = rng.normal(size=(1, 4, 2, 3, 3))      # (networks, F, C, 3, 3)
out5, conv_cache5 = convnet.conv_forward(x5, w5)
padded = np.pad(x5[0], ((0, 0), (0, 0), (1, 1), (1, 1)))
by_definition = sum(np.einsum("fc,cnhw->fnhw", w5[0][:, :, di, dj], padded[:, :, di:di + 5, dj:dj + 5])
                    for di in range(3) for dj in range(3))
print("one matrix product = sum over the 3×3 offsets:", np.allclose(out5[0], by_definition, rtol=0, atol=1e-12))

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# `make bench` times one training step of this lesson's network against the same network
# in PyTorch on one thread (see the README's performance table).

# %% [markdown] slideshow={"slide_type": "slide"} tags=["graded-checks"]
# ## Graded checks
#
# One graded cell per exercise (nbgrader). In your copy each runs the same checker as the
# feedback cell after its exercise. When an instructor grades the notebook with nbgrader,
# hidden tests on other inputs run in these cells as well.

# %% nbgrader={"grade": true, "grade_id": "spatial_batchnorm_forward_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
checks.check_spatial_batchnorm_forward(spatial_batchnorm_forward).assert_ok()
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(20260601)
for _shape in ((3, 5, 2, 3), (1, 2, 4, 4), (6, 3, 1, 1), (2, 4, 3, 4)):
    _x = _rng.normal(_rng.uniform(-3, 3, (1, _shape[1], 1, 1)), 2.0, size=_shape)
    _g, _b = _rng.uniform(-2, 2, _shape[1]), _rng.normal(size=_shape[1])
    _copy = _x.copy()
    _out = spatial_batchnorm_forward(_x, _g, _b, eps=1e-3)[0]
    assert np.allclose(_out, norms.spatial_batchnorm_forward(_x, _g, _b, eps=1e-3)[0], rtol=1e-6, atol=1e-8)
    assert np.array_equal(_x, _copy), "spatial_batchnorm_forward modified x"
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "spatial_batchnorm_backward_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
checks.check_spatial_batchnorm_backward(spatial_batchnorm_forward, spatial_batchnorm_backward).assert_ok()
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(20260602)
for _shape in ((3, 5, 2, 3), (2, 4, 3, 4)):
    _x = _rng.normal(size=_shape)
    _g, _b, _d = _rng.uniform(-2, 2, _shape[1]), _rng.normal(size=_shape[1]), _rng.normal(size=_shape)
    _got = spatial_batchnorm_backward(_d, spatial_batchnorm_forward(_x, _g, _b)[1])
    _want = norms.spatial_batchnorm_backward(_d, norms.spatial_batchnorm_forward(_x, _g, _b)[1])
    for _a, _e in zip(_got, _want, strict=True):
        assert np.allclose(_a, _e, rtol=1e-6, atol=1e-8)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "layernorm_forward_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
checks.check_layernorm_forward(layernorm_forward).assert_ok()
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(20260603)
for _m, _d in ((1, 9), (7, 3), (4, 4), (12, 2)):
    _x = _rng.normal(_rng.uniform(-3, 3, (_m, 1)), _rng.uniform(0.2, 3, (_m, 1)), size=(_m, _d))
    _g, _b = _rng.uniform(-2, 2, _d), _rng.normal(size=_d)
    _copy = _x.copy()
    _out = layernorm_forward(_x, _g, _b, eps=1e-4)[0]
    assert np.allclose(_out, norms.layernorm_forward(_x, _g, _b, eps=1e-4)[0], rtol=1e-6, atol=1e-8)
    assert np.array_equal(_x, _copy), "layernorm_forward modified x"
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "layernorm_backward_tests", "locked": true, "points": 3, "schema_version": 3, "solution": false}
checks.check_layernorm_backward(layernorm_forward, layernorm_backward).assert_ok()
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(20260604)
for _m, _d in ((1, 9), (7, 3), (5, 8)):
    _x = _rng.normal(size=(_m, _d))
    _g, _b, _dout = _rng.uniform(-2, 2, _d), _rng.normal(size=_d), _rng.normal(size=(_m, _d))
    _got = layernorm_backward(_dout, layernorm_forward(_x, _g, _b)[1])
    _want = norms.layernorm_backward(_dout, norms.layernorm_forward(_x, _g, _b)[1])
    for _a, _e in zip(_got, _want, strict=True):
        assert np.allclose(_a, _e, rtol=1e-6, atol=1e-8)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "groupnorm_forward_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
checks.check_groupnorm_forward(groupnorm_forward).assert_ok()
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(20260605)
for _shape, _groups in (((2, 8, 3, 3), 4), ((1, 6, 2, 5), 3), ((3, 4, 4, 1), 2), ((2, 5, 2, 2), 5)):
    _x = _rng.normal(_rng.uniform(-3, 3, (1, _shape[1], 1, 1)), 2.0, size=_shape)
    _g, _b = _rng.uniform(-2, 2, _shape[1]), _rng.normal(size=_shape[1])
    _copy = _x.copy()
    _out = groupnorm_forward(_x, _g, _b, _groups, eps=1e-4)[0]
    assert np.allclose(_out, norms.groupnorm_forward(_x, _g, _b, _groups, eps=1e-4)[0], rtol=1e-6, atol=1e-8)
    assert np.array_equal(_x, _copy), "groupnorm_forward modified x"
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "groupnorm_backward_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
checks.check_groupnorm_backward(groupnorm_forward, groupnorm_backward).assert_ok()
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(20260606)
for _shape, _groups in (((2, 8, 3, 3), 4), ((1, 6, 2, 5), 3)):
    _x = _rng.normal(size=_shape)
    _g, _b, _d = _rng.uniform(-2, 2, _shape[1]), _rng.normal(size=_shape[1]), _rng.normal(size=_shape)
    _got = groupnorm_backward(_d, groupnorm_forward(_x, _g, _b, _groups)[1])
    _want = norms.groupnorm_backward(_d, norms.groupnorm_forward(_x, _g, _b, _groups)[1])
    for _a, _e in zip(_got, _want, strict=True):
        assert np.allclose(_a, _e, rtol=1e-6, atol=1e-8)
### END HIDDEN TESTS
