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
# # Lesson 07 · Batch Norm in PyTorch: the same numbers, and the mistakes people make
#
# *Lesson 7 of 7 · beyond the notes. Time: about 45 minutes for the core path (sections
# 1–5); the "Going deeper" sections after the summary take about 20 more.*

# %% [markdown] slideshow={"slide_type": "notes"}
# Lessons 01–06 built every formula of Batch Norm (批量规范化 in the Chinese edition of
# d2l, Batch归一化 in the notes) with numpy. Most learners will use it in a framework. This
# lesson takes lesson 04's network to PyTorch: first we check that PyTorch computes the
# same numbers as `course_lib`, then we reproduce the mistakes that fill PyTorch's forums
# and issue tracker, measure what each costs, and fix it.
#
# **After this lesson you can**
#
# 1. map every number of a Batch Norm layer to PyTorch: `weight` = γ, `bias` = β,
#    `running_mean`, `running_var`, `momentum` = 1 − β, `eps`;
# 2. move a network between `course_lib` and PyTorch and show that both train identically;
# 3. recognize, measure and fix the common mistakes: predicting in training mode, a batch of
#    one, a "frozen" BN layer that still learns its statistics, `momentum` read the Keras way,
#    `momentum=None`, `track_running_stats=False`, statistics that no longer fit the weights;
# 4. say what Keras does in the same situations;
# 5. fix a broken training script and convert Batch Norm's state between the paper's,
#    PyTorch's and Keras's conventions (graded).
#
# PyTorch is optional for the rest of the course. If `import torch` fails below, run
# `make torch` in a terminal (it installs the CPU build, a 190 MB download), then restart the kernel.

# %% tags=["imports"]
import copy

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import update_bn
from torch.utils.data import DataLoader, TensorDataset

from course_lib import batchnorm as bn
from course_lib import checks
from course_lib import experiments as ex
from course_lib import norms
from course_lib import pytorch_bn as pbn
from course_lib import running_stats as rs
from course_lib.network import MLP, batches, train
from course_lib.torch_bridge import mlp_to_torch, torch_to_mlp

torch.set_num_threads(1)  # one thread: fast for small networks, the same numbers every run
torch.manual_seed(0)
np.set_printoptions(precision=4, suppress=True)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. One layer: `nn.BatchNorm1d` is lesson 03's Batch Norm
#
# In training mode (训练模式) a BN layer normalizes each unit over the mini-batch (小批量)
# with the batch's mean $\mu_B$ and biased variance $\sigma_B^2$, then scales and shifts:
#
# $$\hat z = \frac{z-\mu_B}{\sqrt{\sigma_B^2+\varepsilon}},\qquad \tilde z = \gamma\,\hat z+\beta .$$

# %% [markdown] slideshow={"slide_type": "notes"}
# It also updates the running averages (滑动平均) that inference mode (推理模式) will use.
# Below, one mini-batch of 8 examples with 4 units goes through PyTorch's layer and through
# `course_lib`. PyTorch's gradients come from automatic differentiation (自动微分, autograd),
# ours from lesson 03's backward pass (反向传播).

# %% slideshow={"slide_type": "subslide"} tags=["slide-output-only"]
rng = np.random.default_rng(0)
z = rng.normal(2.0, 3.0, size=(8, 4))  # a mini-batch: 8 examples, 4 units
gamma, beta = rng.uniform(0.5, 2.0, 4), rng.normal(0.0, 1.0, 4)
dout = rng.normal(size=(8, 4))  # an upstream gradient dL/d(out)

layer = nn.BatchNorm1d(4, dtype=torch.float64)  # a new layer is in training mode
with torch.no_grad():
    layer.weight.copy_(torch.tensor(gamma))  # PyTorch's name for gamma
    layer.bias.copy_(torch.tensor(beta))  # ... and for beta
z_t = torch.tensor(z, requires_grad=True)
out_t = layer(z_t)
out_t.backward(torch.tensor(dout))  # autograd fills z_t.grad, layer.weight.grad, layer.bias.grad

out, cache = bn.batchnorm_forward(z, gamma, beta)
dz, dgamma, dbeta = bn.batchnorm_backward(dout, cache)
running_mean, running_var = bn.update_running_stats(np.zeros(4), np.ones(4), z, beta=0.9)
pairs = {
    "output": (out_t.detach(), out),
    "dL/dz": (z_t.grad, dz),
    "dL/dgamma": (layer.weight.grad, dgamma),
    "dL/dbeta": (layer.bias.grad, dbeta),
    "running mean": (layer.running_mean, running_mean),
    "running var": (layer.running_var, running_var),
}
for name, (theirs, ours) in pairs.items():
    gap = np.abs(theirs.numpy() - ours).max()
    print(f"{name:13s} PyTorch vs course_lib: largest difference {pbn.below(gap, 1e-12)}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# In inference mode, `layer.eval()`, the layer uses its running statistics instead:

# %%
layer.eval()
with torch.no_grad():
    out_eval = layer(torch.tensor(z)).numpy()
ours = bn.batchnorm_inference(z, gamma, beta, running_mean, running_var)
print("inference mode, largest difference:", pbn.below(np.abs(out_eval - ours).max(), 1e-12))
print("momentum:", layer.momentum, " eps:", layer.eps, " batches seen:", int(layer.num_batches_tracked))

# %% [markdown] slideshow={"slide_type": "subslide"}
# The same layer, two vocabularies:
#
# | the notes / `course_lib` | PyTorch `nn.BatchNorm1d` | note |
# |---|---|---|
# | γ (`gamma`) | `weight` | learned, starts at 1 |
# | β (`beta`) | `bias` | learned, starts at 0 |
# | running mean, running var | buffers `running_mean`, `running_var` | not learned: updated by every training-mode forward pass |
# | β = 0.9, the weight of the **old** value | `momentum=0.1` = 1 − β, the weight of the **new** value | the opposite of Keras |
# | unbiased (无偏) $\frac{m}{m-1}\sigma_B^2$ stored | the same | Keras 3 stores the biased one (its source; tf.keras 2 stored the unbiased one in some cases) |
# | `eps=1e-5` | `eps=1e-5` | Keras: `epsilon=1e-3` |
# | `training=True` / `False` | `model.train()` / `model.eval()` | a flag on every module |
#
# "Buffers" are tensors saved with the model (`state_dict`) but not returned by
# `model.parameters()`, so no optimizer touches them.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The whole network: the same training in both libraries

# %% [markdown] slideshow={"slide_type": "notes"}
# `course_lib.torch_bridge.mlp_to_torch` turns lesson 04's `MLP` into an `nn.Sequential`
# with copies of all its numbers (float64), and `torch_to_mlp` turns it back. The network:
# digits (8×8 pixels, 10 classes, inputs normalized as in lesson 01), three hidden layers of
# 100 sigmoid units, BN before each activation.

# %%
data = ex.digits_data()
X, y, X_val, y_val = pbn.as_tensors(data.X_train, data.y_train, data.X_val, data.y_val)
model0 = MLP([64, 100, 100, 100, 10], "sigmoid", batchnorm=True, seed=0)
print(mlp_to_torch(model0))

# %% [markdown] slideshow={"slide_type": "fragment"}
# One forward pass in each mode, on a copy of the network (a training-mode pass updates the
# running statistics, so we keep the original clean):

# %% slideshow={"slide_type": "subslide"}
probe, twin = mlp_to_torch(model0), model0.copy()
with torch.no_grad():
    train_out = probe.train()(X[:60]).numpy()  # training mode: this batch's statistics
    eval_out = probe.eval()(X_val).numpy()  # inference mode: the running statistics
ours_train = twin.forward(data.X_train[:60], training=True)  # updates twin's statistics too
ours_eval = twin.forward(data.X_val, training=False)
print("training mode, 60 examples:  ", pbn.below(np.abs(train_out - ours_train).max(), 1e-12))
print("inference mode, 450 examples:", pbn.below(np.abs(eval_out - ours_eval).max(), 1e-12))

# %% [markdown] slideshow={"slide_type": "subslide"}
# Now 200 steps of SGD with learning rate (学习率) 0.5 in each library, from the same weights
# and on the same mini-batches of 60. `course_lib.network.train` does it in one call. In
# PyTorch the loop is written out; this is the shape of almost every PyTorch training loop:

# %%
course_model = model0.copy()
history = train(course_model, data.X_train, data.y_train, lr=0.5, steps=200, batch_size=60, seed=0)

net = mlp_to_torch(model0)
opt = torch.optim.SGD(net.parameters(), lr=0.5)
torch_losses = []
net.train()  # training mode: batch statistics, running averages updated
for idx in batches(len(X), 60, 200, seed=0):  # the mini-batches `train` used
    idx = torch.from_numpy(idx)
    opt.zero_grad()  # PyTorch adds gradients up: clear them first
    loss = F.cross_entropy(net(X[idx]), y[idx])  # softmax + cross-entropy, mean over the batch
    loss.backward()  # backpropagation: fills p.grad of every parameter
    opt.step()  # p = p - lr * p.grad
    torch_losses.append(loss.item())

# %% alt="The mini-batch losses of the same training in course_lib and in PyTorch, on top of each other (left), and their absolute difference per step on a log scale, far below 1e-10 (right)." slideshow={"slide_type": "subslide"} tags=["slide-output-only"]
back = torch_to_mlp(net)
param_gap = np.abs(back.flat_params() - course_model.flat_params()).max()
stats_gap = max(np.abs(a - b).max() for a, b in zip(back.running_var, course_model.running_var, strict=True))
print("loss, largest difference over 200 steps:  ", pbn.below(np.abs(history.loss - torch_losses).max(), 1e-10))
print("weights, gamma, beta after 200 steps:     ", pbn.below(param_gap, 1e-10))
print("running variances after 200 steps:        ", pbn.below(stats_gap, 1e-10))
print(f"validation accuracy (inference mode): course_lib {course_model.accuracy(data.X_val, data.y_val):.4f}, "
      f"PyTorch {pbn.accuracy(net, X_val, y_val):.4f}")
pbn.plot_training_curves(history.loss, torch_losses)
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# The two curves lie on top of each other: the libraries differ only by floating-point
# round-off, far below $10^{-10}$ after 200 steps. Everything the earlier lessons measured with
# `course_lib` holds in PyTorch. The trained `net` (validation accuracy 0.9667) is the
# network of the next section.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. The mistakes, reproduced, measured and fixed
#
# ### 3.1 Predicting in training mode (forgetting `model.eval()`)

# %% [markdown] slideshow={"slide_type": "notes"}
# `model.train()` and `model.eval()` set a flag on every module. A BN layer in training mode
# normalizes each batch by its own statistics, so a prediction depends on the other examples
# in the batch. Here is the trained network evaluated both ways on the 450 validation images:

# %%
print(f"inference mode (net.eval()):              {pbn.accuracy(net, X_val, y_val):.4f}")
for size in (450, 60, 16, 4):
    acc = pbn.training_mode_accuracy(net, X_val, y_val, batch_size=size)
    print(f"training mode, random batches of {size:3d}:   {acc:.4f}")
for size in (450, 30):
    acc = pbn.training_mode_accuracy(net, X_val, y_val, batch_size=size, sort_by_label=True)
    print(f"training mode, batches of {size:3d} by class: {acc:.4f}")

# %% [markdown] slideshow={"slide_type": "notes"}
# With large random batches the mistake is invisible: a batch of 450 digits has nearly the
# statistics of the training set. With small batches, or a test file sorted by class, accuracy
# collapses (0.2689 for batches of 30 sorted by class). The figure shows the same effect as
# the share of one class in each batch grows:

# %% alt="Training-mode validation accuracy against the share of one class in each batch, one line per batch size, falling as batches get more uniform, and the inference-mode accuracy as a dashed line." slideshow={"slide_type": "subslide"}
pbn.plot_batch_composition(net, X_val, y_val)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Explore.** Choose a batch size and the share of one class in each batch: the curve is the
# training-mode accuracy for that batch size, the dot your setting, the dashed line inference mode.

# %% tags=["widget", "nbval-ignore-output"]
# the live explorer (ipywidgets sliders for the batch size and the share of one class)
pbn.mode_explorer(net, X_val, y_val)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **`torch.no_grad()` is not inference mode.** `no_grad` only stops PyTorch from recording
# the operations for backpropagation. The mode is a separate switch, and a training-mode
# forward pass *updates* the running statistics, gradients or not. Here a copy of the network
# is left in training mode and fed the 45 images of the digit 0 (say a folder of them), 16 at a time:

# %%
leaky = copy.deepcopy(net)
leaky.train()  # the mistake: no leaky.eval()
before = int(pbn.batchnorm_layers(leaky)[0].num_batches_tracked)
with torch.no_grad():  # no gradients, but still training mode
    for chunk in X_val[y_val == 0].split(16):
        if len(chunk) > 1:
            leaky(chunk)
after = int(pbn.batchnorm_layers(leaky)[0].num_batches_tracked)
print(f"batches counted by the first BN layer: {before} -> {after}")
print(f"running statistics moved by up to {pbn.max_buffer_change(net, leaky):.2f}")
print(f"validation accuracy in inference mode afterwards: {pbn.accuracy(leaky, X_val, y_val):.4f} "
      f"(before: {pbn.accuracy(net, X_val, y_val):.4f})")

# %% [markdown] slideshow={"slide_type": "notes"}
# Three batches of zeros moved the statistics the model will use from now on by up to 0.50,
# and accuracy fell from 0.9667 to 0.9578 for every later prediction. **Fix:** `model.eval()` before evaluating, `model.train()` before
# training again; `torch.no_grad()` on top saves memory and time. **Keras** has no mode
# flag on the model: `model.predict(x)`, `model.evaluate(...)` and `model(x)` run BN in
# inference mode; only `fit()` and `model(x, training=True)` use batch statistics.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 3.2 A batch of one in training mode
#
# The variance of a single example is 0, so $\hat z = 0$ and the output would be β for every
# input, with a gradient of zero. PyTorch refuses:

# %%
single = copy.deepcopy(net).train()
try:
    single(X_val[:1])
except ValueError as e:
    print("ValueError:", e)
with torch.no_grad():
    print("the same example in inference mode: class", int(single.eval()(X_val[:1]).argmax()))

# %% [markdown] slideshow={"slide_type": "notes"}
# In practice the batch of one is the last mini-batch of an epoch: 1345 examples in batches
# of 64 leave 1345 − 21·64 = 1 example over, and training crashes at the end of the first
# epoch. **Fix:** `drop_last=True` in the `DataLoader` skips the incomplete batch (a different
# batch size works too). **Keras** raises no error: it normalizes the single example with
# variance 0 and ε = 10⁻³, and every output is β (lesson 05, section 7.2).

# %%
last_one = TensorDataset(X[:1345], y[:1345])
print("last batch sizes, drop_last=False:", [len(xb) for xb, _ in DataLoader(last_one, batch_size=64)][-3:])
print("last batch sizes, drop_last=True: ", [len(xb) for xb, _ in DataLoader(last_one, batch_size=64, drop_last=True)][-3:])

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 3.3 A "frozen" layer that still learns its statistics

# %% [markdown] slideshow={"slide_type": "notes"}
# Fine-tuning (微调): keep a trained body, train only the last layer (the head) on new data.
# The usual way to freeze (冻结) the body in PyTorch is `requires_grad=False` on its
# parameters. That stops the optimizer, but BN's running statistics are not parameters: in
# training mode the body still normalizes with the new data's batch statistics and updates
# its running averages. Here the new data are the same digits from a second scanner, paler
# and brighter (normalized pixels × 0.5 + 1). The head is fine-tuned for 100 steps, the body
# frozen two ways; then the **original** head is put back on the body to see whether the body
# still does its old job:

# %%
X_scanner2 = 0.5 * X + 1.0  # the same digits from a second scanner
for freeze in ("requires_grad", "eval"):
    tuned = copy.deepcopy(net)
    pbn.finetune_head(tuned, X_scanner2, y, steps=100, freeze=freeze)
    old_job = copy.deepcopy(tuned)
    old_job[-1] = copy.deepcopy(net[-1])  # the original head on the fine-tuned body
    print(f"freeze with {freeze!r:15s}: body's running statistics moved by up to "
          f"{pbn.max_buffer_change(net, tuned):.2f}; original task: accuracy "
          f"{pbn.accuracy(old_job, X_val, y_val):.4f}")

# %% [markdown] slideshow={"slide_type": "notes"}
# With `requires_grad=False` alone the "frozen" body changed: its statistics moved by up to
# 2.36 and the original task dropped from 0.9667 to 0.9222. The head was also trained on
# features normalized with batch statistics, which is not what it will see at test time. **Fix:**
# after every `model.train()`, put the frozen part back in inference mode (`body.eval()`, or
# each BN module's `.eval()`). Then the body does not move at all. **Keras** does this for you:
# setting `trainable = False` on a `BatchNormalization` layer makes it run in inference mode,
# and the Keras fine-tuning guide also calls the base model with `training=False`.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 3.4 `momentum` read the wrong way, and `momentum=None`

# %% [markdown] slideshow={"slide_type": "notes"}
# PyTorch's `momentum` (动量) is the weight of the **new** batch: `momentum=0.1` is the notes'
# β = 0.9. Someone used to Keras (where `momentum=0.99` is the weight of the **old** value)
# writes `momentum=0.99` and gets β = 0.01: the running statistics are those of the last
# batch. `momentum=None` is a third rule, the plain (cumulative) average of all batches so
# far. The statistics do not change training (training mode uses batch statistics), so
# three networks trained the same way end with identical weights; only their running
# statistics differ. We compare them with the statistics of the final weights, computed
# after training by `update_bn` (section 3.6):

# %%
twins = {0.1: net}
for momentum in (0.99, None):
    twins[momentum] = pbn.lesson_network(momentum=momentum)
    pbn.train_sgd(twins[momentum], X, y, lr=0.5, steps=200)
print("identical weights:", all(torch.equal(p, q) for t in twins.values()
                                 for p, q in zip(t.parameters(), net.parameters(), strict=True)))
train_batches = [X[torch.from_numpy(idx)] for idx in rs.training_batches(len(X), 60)]
final_stats = copy.deepcopy(net)
update_bn(train_batches, final_stats)  # the statistics of the final weights
for momentum, t in twins.items():
    print(f"momentum={momentum!s:4s}: accuracy {pbn.accuracy(t, X_val, y_val):.4f}, running variances "
          f"off by up to {pbn.relative_variance_gap(t, final_stats):.0%}")

# %% [markdown] slideshow={"slide_type": "notes"}
# Even the right `momentum=0.1` is off by up to 16 %: its window is about 10 batches
# (lesson 05). With `momentum=0.99` the variances come from about one batch of 60 and are
# off by up to 83 %. Accuracy drops only a little here (0.9644 against 0.9667), because 60
# digits give rough but usable statistics; with smaller batches the error grows.
# `momentum=None` weighs the first batches (computed with the initial weights) as much as the
# last ones: off by up to 29 %, with the same accuracy here. Its intended use is a pass over
# data with fixed weights (section 3.6). **Fix:** translate, `momentum = 1 − β`; Keras's default 0.99 is
# PyTorch's `momentum=0.01`. **Keras** reads `momentum` as β; there is no cumulative option.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 3.5 `track_running_stats=False`
#
# A BN layer built with `track_running_stats=False` keeps no running statistics at all, so
# it normalizes with the batch's statistics **in inference mode too**: `model.eval()` no
# longer helps. The same trained weights in such layers:

# %%
stateless = pbn.without_running_stats(net).eval()
print(f"inference mode, all 450 at once:   accuracy {pbn.accuracy(stateless, X_val, y_val):.4f}")
with torch.no_grad():
    by_class = torch.argsort(y_val, stable=True)
    pred = torch.cat([stateless(X_val[by_class][i:i + 30]) for i in range(0, 450, 30)]).argmax(1)
print(f"inference mode, 30 at a time by class: accuracy {(pred == y_val[by_class]).double().mean():.4f}")
try:
    stateless(X_val[:1])
except ValueError as e:
    print("one example in inference mode: ValueError:", str(e)[:55], "...")

# %% [markdown] slideshow={"slide_type": "fragment"}
# It behaves exactly like forgetting `model.eval()`, and cannot be fixed by a mode switch.
# Use it only where a batch must be normalized by itself on purpose. **Keras** has no such option.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 3.6 Statistics that no longer fit the weights: re-estimate them

# %% [markdown] slideshow={"slide_type": "notes"}
# The running statistics describe the weights they were collected with. When the weights
# change after training (weight averaging, pruning (剪枝), editing), the statistics go stale.
# `torch.optim.swa_utils.update_bn(loader, model)` recomputes them: it resets the running
# statistics, sets `momentum=None` and makes one training-mode pass over the data, so it
# stores the plain average over the batches: the population statistics (总体统计量) of the
# paper's Algorithm 2 (lesson 05, section 6).
# Here half of every layer's weights (the smallest) are set to zero:

# %%
pruned = pbn.prune_weights(net, 0.5)
print(f"pruned, old statistics:     accuracy {pbn.accuracy(pruned, X_val, y_val):.4f}")
update_bn(train_batches, pruned)
print(f"pruned, after update_bn:    accuracy {pbn.accuracy(pruned, X_val, y_val):.4f}")
alg2 = rs.recalibrated(torch_to_mlp(pbn.prune_weights(net, 0.5)), data.X_train, "population", batch_size=60)
gap = max(np.abs(layer.running_var.numpy() - v).max()
          for layer, v in zip(pbn.batchnorm_layers(pruned), alg2.running_var, strict=True))
print("update_bn vs lesson 05's Algorithm 2 (recalibrated), running variances:", pbn.below(gap, 1e-12))

# %% [markdown] slideshow={"slide_type": "notes"}
# With the old statistics the pruned network falls from 0.9667 to 0.8822; re-estimating them
# brings it back to 0.9578, without any training. `update_bn` is the same computation as lesson
# 05's Algorithm 2. Do it after SWA, pruning or quantization, and whenever the running
# averages may lag behind the weights. **Keras** has no such function: run the model with
# `training=True` over training data (no optimizer step) until the moving averages settle.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 3.7 The same situations in PyTorch and in Keras 3
#
# | situation | PyTorch | Keras 3 |
# |---|---|---|
# | evaluate, predict | call `model.eval()` first (a flag that stays set) | `predict`, `evaluate`, `model(x)` use inference mode; `training=True` only in `fit` |
# | a batch of one in training | `ValueError` | no error: every BN output equals β |
# | freeze a BN layer | `requires_grad=False` freezes γ, β only; also `.eval()` | `trainable=False` freezes γ, β **and** runs the layer in inference mode |
# | momentum | weight of the new value, default 0.1 | weight of the old value, default 0.99 |
# | stored variance | average of unbiased batch variances | average of biased batch variances |
# | ε | `eps=1e-5` | `epsilon=1e-3` |
# | cumulative average | `momentum=None` | — |
# | no running statistics | `track_running_stats=False` | — |
# | re-estimate after training | `torch.optim.swa_utils.update_bn` | — (run with `training=True` over data) |
# | several devices | `nn.SyncBatchNorm` (Going deeper) | `BatchNormalization(synchronized=True)` |
#
# TensorFlow is not installed here, so the Keras column is taken from the Keras 3
# documentation (see the references), not measured.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Your turn (graded)
#
# ### Exercise 1: fix a colleague's script

# %% [markdown] slideshow={"slide_type": "notes"}
# Your colleague's script trains a small network on the digits, fine-tunes its head on 50
# newly labelled images, and predicts a test file (the validation set, **sorted by
# label**, as it came from a database). It was written to this **specification**:
#
# 1. Right after `torch.manual_seed(seed)`, build in this order a body
#    `Linear(n, 32, bias=False) → BatchNorm1d(32) → ReLU` and a head
#    `Linear(32, 16, bias=False) → BatchNorm1d(16) → ReLU → Linear(16, classes)`, in float64.
#    The running averages use the notes' β = 0.9.
# 2. Train every parameter: 3 epochs of SGD (learning rate 0.1) over `X_train` in
#    mini-batches of 16 consecutive rows; an incomplete last batch is skipped.
# 3. Fine-tune on `(X_new, y_new)` the same way (3 epochs, batches of 16, lr 0.1). Only the
#    head learns. The body, its Batch Norm included, stays exactly as trained: it computes
#    what it will compute at test time.
# 4. Return the class probabilities of `X_test`, one row per test example, computed 64 rows
#    at a time; each row must not depend on the other rows.

# %% [markdown] slideshow={"slide_type": "-"}
# The script has **several** problems, all from section 3. Run it:

# %% slideshow={"slide_type": "subslide"} tags=["slide-output-only"]
def colleague_script(X_train, y_train, X_new, y_new, X_test, seed=0):
    torch.manual_seed(seed)
    n, classes = X_train.shape[1], int(y_train.max()) + 1
    body = nn.Sequential(nn.Linear(n, 32, bias=False, dtype=torch.float64),
                         nn.BatchNorm1d(32, momentum=0.9, dtype=torch.float64), nn.ReLU())
    head = nn.Sequential(nn.Linear(32, 16, bias=False, dtype=torch.float64),
                         nn.BatchNorm1d(16, momentum=0.9, dtype=torch.float64), nn.ReLU(),
                         nn.Linear(16, classes, dtype=torch.float64))
    model = nn.Sequential(body, head)
    X_train, y_train, X_new, y_new, X_test = (torch.tensor(a) for a in (X_train, y_train, X_new, y_new, X_test))

    def mini_batches(X, y):
        for start in range(0, len(X), 16):
            yield X[start:start + 16], y[start:start + 16]

    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        model.train()
        for xb, yb in mini_batches(X_train, y_train):
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
    for p in body.parameters():  # freeze the body
        p.requires_grad = False
    opt = torch.optim.SGD(head.parameters(), lr=0.1)
    for _ in range(3):
        model.train()
        for xb, yb in mini_batches(X_new, y_new):
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
    with torch.no_grad():  # inference
        chunks = [model(X_test[i:i + 64]) for i in range(0, len(X_test), 64)]
        return F.softmax(torch.cat(chunks), dim=1).numpy()


script_data = pbn.exercise_data()  # X_train (1297 rows), y_train, X_new (50), y_new, X_test, y_test
inputs = {k: v for k, v in script_data.items() if k != "y_test"}
try:
    colleague_script(**inputs)
except ValueError as e:
    print("ValueError:", e)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Copy the script into `train_and_predict` below and fix it so that it follows the
# specification. Work step by step: after each fix, run the check. It runs your function on
# small data sets and compares the probabilities it returns with those of a script that
# follows the specification; when they match a known mistake, the hint names it.

# %% nbgrader={"grade": false, "grade_id": "train_and_predict", "locked": false, "schema_version": 3, "solution": true} slideshow={"slide_type": "skip"}
def train_and_predict(X_train, y_train, X_new, y_new, X_test, seed=0):
    """The colleague's script, fixed: returns (len(X_test), classes) probabilities."""
    ### BEGIN SOLUTION
    torch.manual_seed(seed)
    n, classes = X_train.shape[1], int(y_train.max()) + 1
    body = nn.Sequential(nn.Linear(n, 32, bias=False, dtype=torch.float64),
                         nn.BatchNorm1d(32, momentum=0.1, dtype=torch.float64), nn.ReLU())
    head = nn.Sequential(nn.Linear(32, 16, bias=False, dtype=torch.float64),
                         nn.BatchNorm1d(16, momentum=0.1, dtype=torch.float64), nn.ReLU(),
                         nn.Linear(16, classes, dtype=torch.float64))
    model = nn.Sequential(body, head)
    X_train, y_train, X_new, y_new, X_test = (torch.tensor(a) for a in (X_train, y_train, X_new, y_new, X_test))

    def mini_batches(X, y):
        for start in range(0, len(X) - len(X) % 16, 16):  # no incomplete last batch
            yield X[start:start + 16], y[start:start + 16]

    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        model.train()
        for xb, yb in mini_batches(X_train, y_train):
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
    for p in body.parameters():
        p.requires_grad = False
    opt = torch.optim.SGD(head.parameters(), lr=0.1)
    for _ in range(3):
        model.train()
        body.eval()  # the frozen body computes what it will compute at test time
        for xb, yb in mini_batches(X_new, y_new):
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        chunks = [model(X_test[i:i + 64]) for i in range(0, len(X_test), 64)]
        return F.softmax(torch.cat(chunks), dim=1).numpy()
    ### END SOLUTION


# %% slideshow={"slide_type": "subslide"} tags=["exercise-feedback"]
checks.check_train_and_predict(train_and_predict)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: one state, three conventions
#
# A model's Batch Norm statistics often move between frameworks: a Keras model ported to
# PyTorch, a paper's numbers reproduced in either. The three conventions (lesson 05, section 3):
#
# | convention | parameter | the weight of the old value β | stored variance |
# |---|---|---|---|
# | `"paper"` (the notes' β, the paper's variance; this course) | β | β | average of unbiased $\frac{m}{m-1}\sigma_B^2$ |
# | `"pytorch"` | `momentum` | 1 − `momentum` | average of unbiased $\frac{m}{m-1}\sigma_B^2$ |
# | `"keras"` | `momentum` | `momentum` | average of biased $\sigma_B^2$ |

# %% [markdown] slideshow={"slide_type": "subslide"}
# All three start at mean 0 and variance 1 and apply
# $v_t = \beta v_{t-1} + (1-\beta)\,\theta_t$ after every mini-batch of size $m$. Unrolled
# (lesson 05), after $t$ updates the running variance is
#
# $$v_t = \beta^t\cdot 1 + (1-\beta)\sum_{i=1}^{t}\beta^{\,t-i}\,s_i ,$$
#
# where $s_i$ is the batch variance that convention stores. Write
# `convert_bn_state(running_mean, running_var, momentum, batch_size, steps, source, target)`:
#
# * `running_mean`, `running_var`: shape `(n,)`, what `source` stored after `steps` updates
#   with mini-batches of `batch_size`; `momentum`: the source's parameter (β for `"paper"`);
# * `source`, `target`: `"paper"`, `"pytorch"` or `"keras"`;
# * returns `(running_mean, running_var, momentum)`: what `target` would hold after the
#   same batches with the same average, and the parameter `target` needs for it.
#
# Think about each part of $v_t$ before you write code. Do not modify the inputs.

# %% nbgrader={"grade": false, "grade_id": "convert_bn_state", "locked": false, "schema_version": 3, "solution": true} slideshow={"slide_type": "subslide"}
def convert_bn_state(running_mean, running_var, momentum, batch_size, steps, source, target):
    """Batch Norm's state from one convention to another: (running_mean, running_var, momentum)."""
    ### BEGIN SOLUTION
    unbiased = {"paper": True, "pytorch": True, "keras": False}
    beta = 1 - momentum if source == "pytorch" else momentum
    new_momentum = 1 - beta if target == "pytorch" else beta
    var = running_var.copy()
    if unbiased[source] != unbiased[target]:
        m = batch_size
        factor = m / (m - 1) if unbiased[target] else (m - 1) / m
        start = beta ** steps  # the weight left on the start value 1: not a batch variance
        var = start + (running_var - start) * factor
    return running_mean.copy(), var, new_momentum
    ### END SOLUTION


# %% tags=["exercise-feedback"]
checks.check_convert_bn_state(convert_bn_state)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 3: two written answers
#
# Answer each in two or three sentences in the cell below it (an instructor grades these by
# hand; the worked version has a model answer).

# %% [markdown] slideshow={"slide_type": "notes"}
# **(a)** A colleague evaluates a model inside `with torch.no_grad():` and says it is "in
# inference mode". What does `torch.no_grad()` change, what does `model.eval()` change, and
# which of the two matters to a Batch Norm layer?

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_no_grad", "locked": false, "points": 1, "schema_version": 3, "solution": true} slideshow={"slide_type": "notes"}
# *Model answer.* `torch.no_grad()` only stops autograd from recording operations, so no
# gradients can be computed (less memory, faster). `model.eval()` sets every module to
# inference mode: BN then normalizes with its running statistics and stops updating them.
# Batch Norm only looks at the mode, so under `no_grad` alone it still uses batch
# statistics and still changes its running averages (section 3.1).

# %% [markdown]
# **(b)** You port a trained Keras model (`momentum=0.99`, `epsilon=1e-3`) to PyTorch, for
# predictions only. Which settings and buffers of each `nn.BatchNorm1d` must you set for the
# predictions to agree? Would copying `momentum=0.99` as it is change the predictions?

# %% [markdown] nbgrader={"grade": true, "grade_id": "written_port", "locked": false, "points": 1, "schema_version": 3, "solution": true} slideshow={"slide_type": "notes"}
# *Model answer.* Copy γ into `weight`, β into `bias`, the moving mean and moving variance
# into `running_mean` and `running_var` as they are (inference uses exactly these numbers,
# whatever convention produced them), and set `eps=1e-3`, since ε sits inside the square
# root. Inference never updates the statistics, so `momentum` does not change the
# predictions; it matters only if the model is trained again, where it must become
# `momentum=0.01` (and the stored variance is then the biased one).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Self-check

# %% [markdown] slideshow={"slide_type": "notes"}
# 1. Which two numbers of `nn.BatchNorm1d` are learned by the optimizer, and which two are not?
# 2. Test accuracy is 0.97 with batches of 256 and 0.30 when a colleague feeds a test file
#    sorted by class, 32 images at a time. What went wrong, and what one line fixes it?
# 3. Training crashes with "Expected more than 1 value per channel when training" at the
#    end of the first epoch. Why there, and what are two fixes?
# 4. You set `requires_grad=False` on a pre-trained body and fine-tune the head. What still
#    changes in the body, and how do you stop it in PyTorch and in Keras?
# 5. A Keras model uses `BatchNormalization(momentum=0.9)`. Which PyTorch `momentum`
#    averages the same way?
# 6. After averaging the weights of several checkpoints, accuracy drops. What do you run?

# %% [markdown] slideshow={"slide_type": "-"}
# <details><summary>Answers</summary>
#
# 1. γ (`weight`) and β (`bias`) are learned; `running_mean` and `running_var` are buffers,
#    updated by every training-mode forward pass.
# 2. The model was evaluated in training mode: each batch of one class was normalized by its
#    own statistics. `model.eval()` before predicting.
# 3. The last mini-batch of the epoch held one example, whose variance is 0. Skip it
#    (`drop_last=True`) or change the batch size so that no batch of one is left.
# 4. Its BN layers still run in training mode: they normalize with the new data's batch
#    statistics and update their running averages. PyTorch: `.eval()` on the body (after
#    every `model.train()`); Keras: `trainable = False` already runs BN in inference mode.
# 5. `momentum=0.1` (= 1 − 0.9).
# 6. Re-estimate the BN statistics with the new weights: `update_bn` over training data.
#
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Summary of the lesson, and of the series

# %% [markdown] slideshow={"slide_type": "notes"}
# **This lesson.** `nn.BatchNorm1d` computes lesson 03's forward and backward pass and lesson
# 05's running averages: the differences are below $10^{-12}$ for one layer, and the lesson-04
# network trained for 200 steps gives the same losses, weights and statistics in both libraries
# (differences below $10^{-10}$). The mistakes, measured on that network: predicting in
# training mode costs nothing with random batches of 450 and drops accuracy to 0.2689 with
# batches of 30 sorted by class; such a pass under `no_grad` still moves the running statistics;
# a batch of one stops training; `requires_grad=False` leaves a "frozen" body's statistics
# free to move (original task 0.9667 → 0.9222); `momentum=0.99` in PyTorch means β = 0.01;
# `track_running_stats=False` ignores `model.eval()`; pruned weights need fresh statistics
# (0.8822 → 0.9578 with `update_bn`, which is Algorithm 2). Keras avoids some of these by
# design (no global mode flag, `trainable=False` implies inference mode) and has its own
# (no error for a batch of one, the opposite meaning of `momentum`).
#
# **The series.**
#
# * **01 Input normalization (输入归一化):** subtract the training mean μ and divide by the
#   training standard deviation σ (not σ²), feature by feature; apply the same μ, σ to test data.
# * **02 Cost contours:** features of very different scales make an elongated cost; gradient
#   descent must use a learning rate below $2/\lambda_{\max}$ and crawls; normalized features
#   converge in far fewer steps.
# * **03 Batch Norm formulas:** $\hat z=(z-\mu_B)/\sqrt{\sigma_B^2+\varepsilon}$,
#   $\tilde z=\gamma\hat z+\beta$; the backward pass derived and gradient-checked.
# * **04 Batch Norm in a network:** BN before the activation replaces the bias; training is
#   faster and more robust to the learning rate and the initialization.
# * **05 Batch Norm at test time:** running averages (or statistics recomputed after
#   training) replace the batch's; each framework has its own conventions.
# * **06 Beyond the MLP:** BN in convolutional networks (statistics per channel over N·H·W),
#   layer norm and group norm, which do not depend on the batch.
# * **07 Batch Norm in PyTorch:** the same numbers in a framework, and the mode, freezing and
#   momentum mistakes, each with its fix.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### References

# %% [markdown] slideshow={"slide_type": "notes"}
# * S. Ioffe, C. Szegedy. *Batch Normalization: Accelerating Deep Network Training by
#   Reducing Internal Covariate Shift.* ICML 2015 (Algorithm 2: population statistics).
# * PyTorch documentation: `torch.nn.BatchNorm1d` (the `momentum` update rule, `momentum=None`,
#   `track_running_stats`), `torch.nn.SyncBatchNorm`, `torch.optim.swa_utils.update_bn`,
#   `torch.utils.data.DataLoader` (`drop_last`), `torch.no_grad`, `torch.nn.Module.eval`.
# * Keras 3 documentation: `keras.layers.BatchNormalization` (moving statistics, `momentum`,
#   `epsilon`, "About setting `layer.trainable = False` on a BatchNormalization layer",
#   `synchronized`), and the guide "Transfer learning & fine-tuning" (`training=False`).
# * P. Goyal et al. *Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour.* 2017
#   (BN statistics per worker). C. Peng et al. *MegDet: A Large Mini-Batch Object Detector.*
#   CVPR 2018 (cross-GPU, i.e. synchronized, Batch Norm for small per-GPU batches).
# * P. Izmailov et al. *Averaging Weights Leads to Wider Optima and Better Generalization.*
#   UAI 2018 (SWA, and recomputing BN statistics for the averaged weights).
# * Y. Wu, J. Johnson. *Rethinking "Batch" in BatchNorm.* arXiv:2105.07576, 2021.

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# ## Going deeper: the other normalization layers are lesson 06's functions
#
# Lesson 06 wrote Batch Norm for convolutional layers (statistics per channel over the
# N·H·W values), layer norm (层归一化, per example) and group norm (组归一化, per example and
# group of channels). PyTorch's `nn.BatchNorm2d`, `nn.LayerNorm` and `nn.GroupNorm` compute
# the same, outputs and gradients (autograd against lesson 06's backward passes), on 4 images
# of 6 channels of 5×5 and on 8 examples of 6 features:

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
rng = np.random.default_rng(3)
images, rows = rng.normal(1.0, 2.0, size=(4, 6, 5, 5)), rng.normal(1.0, 2.0, size=(8, 6))
g6, b6 = rng.uniform(0.5, 2.0, 6), rng.normal(size=6)  # gamma, beta: one per channel / feature
layers = {  # PyTorch's layer, the input, lesson 06's forward and backward
    "nn.BatchNorm2d(6)": (nn.BatchNorm2d(6, dtype=torch.float64), images,
                          norms.spatial_batchnorm_forward, norms.spatial_batchnorm_backward),
    "nn.LayerNorm(6)": (nn.LayerNorm(6, dtype=torch.float64), rows,
                        norms.layernorm_forward, norms.layernorm_backward),
    "nn.GroupNorm(3, 6)": (nn.GroupNorm(3, 6, dtype=torch.float64), images,
                           lambda x, g, b: norms.groupnorm_forward(x, g, b, groups=3),
                           norms.groupnorm_backward),
}
for name, (norm, x, forward, backward) in layers.items():
    with torch.no_grad():
        norm.weight.copy_(torch.tensor(g6))
        norm.bias.copy_(torch.tensor(b6))
    upstream = rng.normal(size=x.shape)
    x_t = torch.tensor(x, requires_grad=True)
    norm(x_t).backward(torch.tensor(upstream))
    with torch.no_grad():
        theirs = norm(torch.tensor(x)).numpy()
    ours, norm_cache = forward(x, g6, b6)
    dx, dg, db = backward(upstream, norm_cache)
    gap = max(np.abs(a - b).max() for a, b in ((theirs, ours), (x_t.grad.numpy(), dx),
              (norm.weight.grad.numpy(), dg), (norm.bias.grad.numpy(), db)))
    print(f"{name:19s} output and gradients vs lesson 06: largest difference {pbn.below(gap, 1e-12)}")

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# All three agree to round-off. Layer norm and group norm have no running statistics: they
# compute the same in training and inference mode, so the mistakes of section 3 do not
# exist for them. That is one reason they replace Batch Norm where batches are small or
# examples come one at a time. (`nn.InstanceNorm2d` is group norm with one channel per group.)

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# ## Going deeper: several devices and `SyncBatchNorm`
#
# With data parallelism (数据并行) each of k devices (GPUs) gets a slice of the
# mini-batch, computes its gradients, and the devices average the gradients (an
# all-reduce). Batch Norm is the one layer where the slices are not independent: a plain
# `nn.BatchNorm1d` normalizes each device's slice with that slice's statistics. With 8 GPUs
# and a global batch of 64, every BN layer sees batches of 8. `nn.SyncBatchNorm` (同步批量规范化)
# gathers each device's statistics and count (one more collective operation per layer,
# forward and backward) and normalizes every slice with the statistics of the whole
# mini-batch. It synchronizes only across the processes of a distributed process group
# (`torch.distributed`, usually under `DistributedDataParallel` on GPUs); here two and four
# devices are simulated on the CPU instead: `pbn.device_batch_norm` splits a batch and
# normalizes each slice with its own statistics, or with the statistics of the whole
# batch. The simulation keeps running statistics of the whole batch, where DDP keeps
# device 0's slice (see below).

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
rng = np.random.default_rng(2)
zb = torch.tensor(rng.normal(1.0, 2.0, size=(8, 3)), requires_grad=True)  # 8 examples, 3 units
w, b = torch.ones(3, dtype=torch.float64), torch.zeros(3, dtype=torch.float64)  # gamma, beta
upstream = torch.tensor(rng.normal(size=(8, 3)))  # a fixed dL/d(out)
whole = F.batch_norm(zb, None, None, w, b, training=True)  # one device, the whole batch
(grad_whole,) = torch.autograd.grad((whole * upstream).sum(), zb)
print(f"1 device:              mean of unit 1 used {zb[:, 0].mean():.2f}")
for devices, sync in ((2, False), (2, True), (4, True)):
    out, means, _ = pbn.device_batch_norm(zb, w, b, devices, sync)
    (grad,) = torch.autograd.grad((out * upstream).sum(), zb)
    out_gap, grad_gap = (out - whole).abs().max(), (grad - grad_whole).abs().max()
    used = ", ".join(f"{v:.2f}" for v in means[:, 0].tolist())
    print(f"{devices} devices, sync={sync!s:5s}: mean of unit 1 used {used}; "
          f"vs one device: outputs {pbn.below(out_gap, 1e-12) if sync else f'differ by {out_gap:.2f}'}, "
          f"gradients {pbn.below(grad_gap, 1e-12) if sync else f'differ by {grad_gap:.2f}'}")

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# With synchronization the outputs and the gradients equal those of one device holding the
# whole batch, to round-off; without it, each device uses its own mean (here −0.57 and 0.94
# for unit 1, against 0.19 for the whole batch) and everything differs. How much does that cost in training? The
# lesson-04 network, 200 steps on mini-batches of 60, as 15 devices with 4 examples each or
# 30 devices with 2 each, without synchronization, against one set of statistics for all 60
# (SyncBatchNorm). Three seeds (initial weights and batch order) each:

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
for per_device in (None, 4, 2):
    accs = pbn.devices_accuracy(per_device)
    m = 60 if per_device is None else per_device
    what = "synchronized (all 60)" if per_device is None else f"{60 // m} devices × {m}, not synced"
    print(f"{what:28s} statistics from {m:2d} examples (batch mean off by about {1 / np.sqrt(m):.2f} σ); "
          f"seeds reaching 90 % validation accuracy: {int((accs >= 0.9).sum())} of {len(accs)}")

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# With 4 examples per device every seed still reaches 90 %; with 2 per device none does.
# A device's batch mean is off from the population's by about σ/√m, and with
# m = 2 each normalized value is close to ±1 whatever the input: the network learns on
# statistics that inference mode never uses. (Only the count is printed: with so few
# examples per device the accuracies move by a point or more from one CPU to another, an
# amplified round-off, while the synchronized run is stable.)
#
# Batches of 2–4 images per GPU are common in detection and segmentation, where each image
# is large: that is where SyncBatchNorm is used (MegDet, 2018). With 32 or more examples per
# device (Goyal et al. 2017 use 32 without synchronization) the statistics are already close
# to the whole batch's, and synchronizing mostly costs two extra all-reduces per layer. Two more details of plain BN under `DistributedDataParallel`: the
# running statistics come from one device's slice only (by default DDP copies device 0's
# buffers to the others at every forward pass), and at inference time nothing changes, since
# the running statistics are fixed. In PyTorch: `nn.SyncBatchNorm.convert_sync_batchnorm(model)`;
# in Keras: `BatchNormalization(synchronized=True)` under a `tf.distribute` strategy.

# %% [markdown] slideshow={"slide_type": "slide"} tags=["graded-checks"]
# ## Graded checks
#
# These cells grade the two coded exercises (nbgrader). In your copy each runs the same
# checker as the cell after the exercise. When an instructor grades your notebook with
# nbgrader, each cell also runs hidden tests on other data, which are not in your copy. The
# written answers are graded by hand.

# %% nbgrader={"grade": true, "grade_id": "train_and_predict_tests", "locked": true, "points": 3, "schema_version": 3, "solution": false}
checks.check_train_and_predict(train_and_predict).assert_ok()
### BEGIN HIDDEN TESTS
torch.set_num_threads(1)  # as the lesson runs (an autograder may run only the exercises)
_rng = np.random.default_rng(2017)
for _m, _n, _k in [(35, 5, 4), (66, 3, 2)]:
    _X, _y = _rng.normal(size=(_m, _n)), np.arange(_m) % _k
    _X[np.arange(_m), _y % _n] += 3.0
    _Xn, _yn = _rng.normal(0.5, 1.5, size=(20, _n)), np.arange(20) % _k
    _Xt = _rng.normal(size=(70, _n))
    _args = (_X, _y, _Xn, _yn, _Xt)
    _copies = tuple(a.copy() for a in _args)
    _got = train_and_predict(*_args, seed=5)
    assert np.allclose(_got, pbn.train_and_predict(*_copies, seed=5), rtol=1e-6, atol=1e-8)
    assert all(np.array_equal(a, c) for a, c in zip(_args, _copies, strict=True))
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "convert_bn_state_tests", "locked": true, "points": 3, "schema_version": 3, "solution": false}
checks.check_convert_bn_state(convert_bn_state).assert_ok()
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(2018)
for _src, _dst, _mom, _m, _t in [("keras", "paper", 0.95, 6, 12), ("pytorch", "keras", 0.25, 3, 4),
                                 ("paper", "keras", 0.5, 2, 1), ("keras", "pytorch", 0.0, 10, 3)]:
    _args = (_rng.normal(size=4), _rng.uniform(0.1, 3.0, 4), _mom, _m, _t, _src, _dst)
    _copies = (_args[0].copy(), _args[1].copy())
    _got = convert_bn_state(*_args)
    _exp = pbn.convert_bn_state(*_args)
    assert all(np.allclose(g, e, rtol=1e-9, atol=1e-12) for g, e in zip(_got, _exp, strict=True))
    assert np.array_equal(_args[0], _copies[0]) and np.array_equal(_args[1], _copies[1])
### END HIDDEN TESTS
