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
# # Lesson 04 · Batch Norm in a network: placement, training, what it does
#
# *Lesson 4 of 7 · section 2 of the notes, "Batch归一化" (Batch Normalization; the Chinese
# edition of d2l calls it 批量规范化), second half: "将 Batch Norm 拟合进神经网络" (fitting
# Batch Norm into a network) and "Batch归一化的作用" (what Batch Norm does).*

# %% [markdown] slideshow={"slide_type": "notes"}
# Lesson 03 built one Batch Norm (BN) layer. Here it goes into every hidden layer (隐藏层) of
# a network, the network is trained, and the notes' four claims about BN become measurements
# on scikit-learn's 8×8 handwritten digits: Ioffe & Szegedy's MNIST set-up (2015) scaled down
# (three hidden layers of 100 sigmoid units, mini-batches (小批量) of 60), and beside it the
# network a practitioner would train today (ReLU units, He initialization).
#
# **Time.** About 45 minutes for the core path, sections 1–8: 25 minutes to read and run,
# 20 for the two exercises and the written questions (the whole notebook runs in about
# 20 seconds). The "Going deeper" sections after the summary add about 25 minutes; you can
# skip them without losing the thread.
#
# **After this lesson you can**
#
# 1. say where BN goes in a network (before the activation), why the bias b<sup>[l]</sup> is
#    dropped, and give the shapes of γ<sup>[l]</sup> and β<sup>[l]</sup>;
# 2. write one hidden layer's forward pass and a whole training step of a BN network (graded);
# 3. measure what BN changes against a fair baseline: speed, usable learning rates, initial weights;
# 4. test the notes' four claims and say what each measurement does and does not show.

# %% [markdown] slideshow={"slide_type": "-"}
# Every experiment is a call into `course_lib.experiments`; the network is `course_lib.network.MLP`.

# %% tags=["imports"]
import matplotlib.pyplot as plt
import numpy as np

from course_lib import batchnorm as bn
from course_lib import checks
from course_lib import experiments as ex
from course_lib import network_plots as npl
from course_lib.gradcheck import relative_error
from course_lib.network import MLP, backprop_and_numerical_grads, make_optimizer, sigmoid, softmax, train_step

np.set_printoptions(precision=3, suppress=True)
data = ex.digits_data()  # digits, inputs normalized with the training mean and std (lesson 01)
data

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Fitting Batch Norm into the network (将 Batch Norm 拟合进神经网络)
#
# The notes' picture: in every hidden layer the linear output z<sup>[l]</sup> is normalized over the
# mini-batch, scaled and shifted, and only then passed to the activation function (激活函数):
#
# $$X \xrightarrow{W^{[1]}} z^{[1]} \xrightarrow{\text{BN}(\gamma^{[1]},\,\beta^{[1]})} \tilde z^{[1]}
# \xrightarrow{g^{[1]}} a^{[1]} \xrightarrow{W^{[2]}} z^{[2]} \xrightarrow{\text{BN}(\gamma^{[2]},\,\beta^{[2]})}
# \tilde z^{[2]} \xrightarrow{g^{[2]}} a^{[2]} \to \cdots$$
#
# With rows as examples, layer *l* of a mini-batch of *m* examples computes
#
# $$z^{[l]} = a^{[l-1]} W^{[l]},\qquad
# \tilde z^{[l]} = \gamma^{[l]} \odot \frac{z^{[l]}-\mu^{[l]}}{\sqrt{\sigma^{2[l]}+\varepsilon}} + \beta^{[l]},\qquad
# a^{[l]} = g(\tilde z^{[l]}),$$

# %% [markdown] slideshow={"slide_type": "notes"}
# with μ<sup>[l]</sup>, σ<sup>2[l]</sup> the per-unit mean and (1/m) variance of z<sup>[l]</sup> over the batch
# (lesson 03). The output layer keeps its bias (偏置) and has no BN: softmax and cross-entropy (交叉熵).

# %% alt="Diagram of the network from left to right, every layer's shapes written out: the linear step without bias, Batch Norm with gamma and beta, then the sigmoid, repeated for each hidden layer, then the output layer." slideshow={"slide_type": "subslide"}
npl.plot_network_diagram()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Shapes.** γ<sup>[l]</sup> and β<sup>[l]</sup> hold one number per unit of layer *l*. The lecture the
# notes follow writes them (n<sup>[l]</sup>, 1) because it stores examples in columns; with rows as examples
# (NumPy, PyTorch, this course) they are vectors of shape (n<sup>[l]</sup>,) that broadcast over
# the m rows. The network of this lesson, parameter by parameter:

# %%
model = MLP([64, 100, 100, 100, 10], activation="sigmoid", batchnorm=True, seed=0)
print(model)
for name, p in model.params.items():
    print(f"{name:7s} {str(p.shape):10s}")

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The bias b<sup>[l]</sup> is redundant
#
# A bias before BN is added to every example of the batch, so it moves the batch mean by
# exactly the same amount and the subtraction removes it:
#
# $$\text{BN}(z + b) = \gamma\,\frac{(z+b)-(\mu+b)}{\sqrt{\sigma^2+\varepsilon}}+\beta = \text{BN}(z).$$

# %% [markdown] slideshow={"slide_type": "notes"}
# So the loss does not depend on b<sup>[l]</sup>, its gradient is 0, and gradient descent (梯度下降)
# never changes it. β<sup>[l]</sup> takes its role: it sets the mean of z̃<sup>[l]</sup>, which is what the
# activation sees. Measured on a BN network that *does* have hidden biases (float64, one
# mini-batch of 60 digits, training mode):

# %%
print(ex.bias_redundancy())

# %% [markdown] slideshow={"slide_type": "notes"}
# Both are 0 in exact arithmetic; the computer's round-off differs from one processor to the
# next, so the cell prints a bound, far below the real gradients (10⁻²). So the network above
# has no `b1`, `b2`, `b3`: a hidden layer with BN is "linear without bias → BN → activation".

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise 1 · `bn_layer_forward` (graded)
#
# Write one hidden layer of the network in training mode (训练模式):
#
# $$z = A_{\text{prev}}\,W,\qquad \tilde z = \gamma\,\frac{z-\mu}{\sqrt{\sigma^2+\varepsilon}}+\beta,\qquad A=g(\tilde z)=\frac{1}{1+e^{-\tilde z}}$$
#
# (g is the sigmoid; σ² here is the batch variance, not the sigmoid).

# %% [markdown] slideshow={"slide_type": "notes"}
# - `A_prev`: (m, n_prev), the previous layer's activations, m ≥ 2; `W`: (n_prev, n);
#   `gamma`, `beta`: (n,); `eps` > 0. Return `A` of shape (m, n).
# - μ and σ² are the per-unit mean and (1/m) variance of z over the batch (axis 0).
# - No bias (section 2), BN before the activation (the sigmoid), do not modify the inputs.

# %% [markdown] slideshow={"slide_type": "-"}
# Do not call `course_lib`'s `bn_layer_forward` or `bn.batchnorm_forward`: write the steps
# yourself with NumPy (you may use `sigmoid`, or write 1/(1 + e^(−z̃))).

# %% nbgrader={"grade": false, "grade_id": "bn_layer_forward", "locked": false, "schema_version": 3, "solution": true}
def bn_layer_forward(A_prev, W, gamma, beta, eps=1e-5):
    """One hidden layer with BN in training mode: (m, n_prev) A_prev -> (m, n) A."""
    ### BEGIN SOLUTION
    z = A_prev @ W
    mu = z.mean(axis=0)
    var = ((z - mu) ** 2).mean(axis=0)
    z_tilde = gamma * (z - mu) / np.sqrt(var + eps) + beta
    return 1.0 / (1.0 + np.exp(-z_tilde))
    ### END SOLUTION


# %% tags=["exercise-feedback"]
checks.check_bn_layer_forward(bn_layer_forward)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Training on mini-batches: backpropagation through BN, and the running statistics

# %% [markdown] slideshow={"slide_type": "notes"}
# Each training step takes the next mini-batch X<sup>{t}</sup> (60 examples) and, in training mode:
#
# 1. **forward**: every hidden layer normalizes its z<sup>[l]</sup> with *this batch's* μ and σ²;
# 2. **running statistics** (滑动平均, running averages): each BN layer also folds the
#    batch's μ and σ² into an exponentially weighted average (指数加权平均),
#    running := β·running + (1 − β)·batch statistic with β = 0.9, the weight of the old
#    value. Training does not use them; inference mode (推理模式, test time) normalizes
#    with them (lesson 05);
# 3. **backward** (反向传播, backpropagation): from the softmax down through every layer:
#    the product with W, the sigmoid, and BN with lesson 03's backward pass, *through* the
#    batch statistics (μ and σ² depend on every example of the batch);
# 4. **update**: every parameter moves against its gradient. γ and β are learnable
#    parameters (学习参数) like W, updated by gradient descent, momentum, RMSprop or Adam
#    with the same rule as the weights,

# %% [markdown] slideshow={"slide_type": "-"}
# $$\gamma^{[l]} := \gamma^{[l]} - \alpha\, d\gamma^{[l]},\qquad \beta^{[l]} := \beta^{[l]} - \alpha\, d\beta^{[l]}
# \qquad\text{(plain gradient descent, learning rate (学习率) } \alpha).$$

# %% [markdown] slideshow={"slide_type": "notes"}
# Before trusting a training curve, check the gradients of the whole network against
# central differences (lesson 03), here on a small network with BN in float64:

# %%
small = MLP([6, 8, 8, 4], batchnorm=True, seed=1, dtype=np.float64)
rng = np.random.default_rng(0)
Xs, ys = rng.normal(size=(10, 6)), rng.integers(0, 4, 10)
analytic, numeric = backprop_and_numerical_grads(small, Xs, ys)
print(ex.gradient_check_text(relative_error(analytic, numeric), analytic.size))

# %% [markdown] slideshow={"slide_type": "subslide"}
# (Lesson 03's yardstick: below 10⁻⁷ correct, above 10⁻⁴ a bug; the digits below the bound
# are round-off and differ between machines.) One training step of the lesson's network on 60
# digits, plain SGD, α = 0.3: every parameter moves by −α times its gradient, and the
# running mean of layer 1 moves from 0 to 0.1 times the batch mean of z<sup>[1]</sup>.

# %%
Xb, yb = data.X_train[:60], data.y_train[:60]
gamma_before, W_before = model.params["gamma1"].copy(), model.params["W1"].copy()
batch_mean = model.layer_values(Xb, training=True)[0]["z_pre"].mean(axis=0)  # mu of z[1]
loss = train_step(model, make_optimizer("sgd", lr=0.3), Xb, yb)
grads = model.grads
print(f"mini-batch loss before the step: {loss:.4f}")
print("gamma1 moved by -0.3 * dgamma1:", np.allclose(model.params["gamma1"] - gamma_before, -0.3 * grads["gamma1"]))
print("W1 moved by -0.3 * dW1:        ", np.allclose(model.params["W1"] - W_before, -0.3 * grads["W1"]))
print("running mean of layer 1 = 0.9 * 0 + 0.1 * batch mean:",
      np.allclose(model.running_mean[0], 0.1 * batch_mean))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise 2 · `bn_train_step`: one training step of a BN network (graded)
#
# This is the lesson in one function. Write a whole training step of a sigmoid network with
# BN in every hidden layer and a softmax output, the four steps above.

# %% [markdown] slideshow={"slide_type": "notes"}
# **The network's state is two dicts.** `params` holds `"W1"`, `"gamma1"`, `"beta1"`, …
# for the hidden layers l = 1 … L−1 (W<sup>[l]</sup>: (n<sup>[l−1]</sup>, n<sup>[l]</sup>);
# γ<sup>[l]</sup>, β<sup>[l]</sup>: (n<sup>[l]</sup>,); no hidden bias) and `"WL"`, `"bL"` for
# the output layer (L = the number of W's). `running` holds `"mean1"`, `"var1"`, … (n<sup>[l]</sup>,):
# the running averages of each hidden layer's z<sup>[l]</sup>.
#
# **`bn_train_step(params, running, X, y, lr, eps=1e-5, running_beta=0.9)`** with `X` the
# mini-batch (m, n<sup>[0]</sup>), m ≥ 2, and `y` its labels (m,). Return
# `(loss, new_params, new_running)`:
#
# - `loss`: the mean cross-entropy of the batch, −(1/m) Σᵢ log p<sub>i, yᵢ</sub> with
#   p = softmax(logits), computed *before* the update;
# - `new_params`: a new dict, every parameter minus `lr` times its gradient;
# - `new_running`: a new dict, running_beta · old + (1 − running_beta) · this batch's
#   statistic, where the statistics are the mean of z<sup>[l]</sup> (BN's input) and its
#   unbiased variance (无偏估计, m/(m − 1) times the batch's own variance, as the paper and
#   PyTorch store it);
# - do not modify `params` or `running` (build new dicts).
#
# **Pieces you may use:** `sigmoid` and `softmax` (row by row) from `course_lib.network`,
# and Batch Norm's forward and backward passes, either your own from lesson 03 (copy them
# into a cell above) or the course's `bn.batchnorm_forward(z, gamma, beta, eps)` →
# `(z̃, cache)` and `bn.batchnorm_backward(dz̃, cache)` → `(dz, dγ, dβ)`. Two facts you
# need: σ'(t) = σ(t)(1 − σ(t)), and the gradient of the mean cross-entropy with respect to
# the logits is (p − onehot(y))/m. Keep the activations of the forward pass for the
# backward pass, and backpropagate with the weights *of the forward pass*.
#
# The checker compares your loss, the gradient each new parameter implies, and the new
# running statistics with the reference on three small networks, then trains a
# 64-32-32-10 network on the digits with your function (150 steps), which must reach
# 90 % validation accuracy within 20 seconds (a NumPy step takes about a millisecond).
# About 25 lines. Stuck? Run the check again (or call `.more()` on its result) for a
# more concrete hint.

# %% nbgrader={"grade": false, "grade_id": "bn_train_step", "locked": false, "schema_version": 3, "solution": true} slideshow={"slide_type": "subslide"}
def bn_train_step(params, running, X, y, lr, eps=1e-5, running_beta=0.9):
    """One SGD step of a sigmoid network with BN in every hidden layer (training mode).

    Returns (loss before the update, new params dict, new running dict)."""
    ### BEGIN SOLUTION
    L = len([name for name in params if name.startswith("W")])
    m = X.shape[0]
    a, caches, new_running = X, [], {}
    for l in range(1, L):
        z = a @ params[f"W{l}"]
        z_tilde, cache = bn.batchnorm_forward(z, params[f"gamma{l}"], params[f"beta{l}"], eps)
        new_running[f"mean{l}"] = running_beta * running[f"mean{l}"] + (1 - running_beta) * z.mean(axis=0)
        new_running[f"var{l}"] = running_beta * running[f"var{l}"] + (1 - running_beta) * z.var(axis=0, ddof=1)
        a_next = sigmoid(z_tilde)
        caches.append((a, cache, a_next))
        a = a_next
    p = softmax(a @ params[f"W{L}"] + params[f"b{L}"])
    loss = -np.mean(np.log(p[np.arange(m), y]))
    dlogits = p.copy()
    dlogits[np.arange(m), y] -= 1
    dlogits /= m
    grads = {f"W{L}": a.T @ dlogits, f"b{L}": dlogits.sum(axis=0)}
    da = dlogits @ params[f"W{L}"].T
    for l in range(L - 1, 0, -1):
        a_prev, cache, a_l = caches[l - 1]
        dz, grads[f"gamma{l}"], grads[f"beta{l}"] = bn.batchnorm_backward(da * a_l * (1 - a_l), cache)
        grads[f"W{l}"] = a_prev.T @ dz
        da = dz @ params[f"W{l}"].T
    new_params = {name: value - lr * grads[name] for name, value in params.items()}
    return loss, new_params, new_running
    ### END SOLUTION


# %% slideshow={"slide_type": "subslide"} tags=["exercise-feedback"]
checks.check_bn_train_step(bn_train_step)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Question 1 (written, graded by hand)

# %% [markdown] slideshow={"slide_type": "notes"}
# In your backward pass, the gradient of layer *l*'s z passes through the batch mean and
# variance. Suppose you treated μ and σ² as constants there. Which of the checked quantities
# would still be right (the loss? the output layer's dW, db? γ's and β's gradients? the lower
# layers' dW?), and why? Two to four sentences.

# %% [markdown] nbgrader={"grade": true, "grade_id": "stats_path_answer", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false} slideshow={"slide_type": "notes"}
# **Model answer.** The forward pass does not change, so the loss is right, and so are the
# output layer's dW and db, which only need the activations and dlogits. In the top hidden
# layer dγ = Σ dz̃·x̂ and dβ = Σ dz̃ are also right: they use dz̃, which arrives from above
# before BN's backward pass. What goes wrong is dz = ∂L/∂z: without the mean and variance
# paths it misses −mean(dz̃) and −x̂·mean(dz̃·x̂) (times γ/√(σ²+ε)), so that layer's dW is
# wrong, and so is everything below it (its da feeds every lower layer's γ, β and W).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Training with and without BN

# %% [markdown] slideshow={"slide_type": "notes"}
# The experiment of Ioffe & Szegedy's Figure 1(a), scaled down: the same network, the same
# data, the same seed, learning rate α = 0.3 and 1200 steps of plain SGD on mini-batches of
# 60, once without BN (sigmoid layers with biases, LeCun's initialization (初始化)
# W ~ N(0, 1/n<sup>[l−1]</sup>)) and once with BN in every hidden layer. The inputs are
# normalized in both cases (lesson 01), so the only difference is the normalization
# *inside* the network. Accuracies are measured every 10 steps on the 450 validation
# digits (验证集) in inference mode (running statistics).

# %% tags=["progress", "nbval-ignore-output"]
# The longest experiment (two runs of 1200 steps), with a progress bar while it trains.
comparison = ex.compare_bn(lr=0.3, steps=1200, progress=True)

# %%
print(comparison.table())
for target in (0.90, 0.95):
    plain_steps, bn_steps = comparison.steps_to(target)
    print(f"steps to reach {target:.0%} validation accuracy: without BN {plain_steps}, with BN {bn_steps}"
          f" ({plain_steps / bn_steps:.0f} times fewer with BN)")

# %% alt="Mini-batch loss (left) and validation accuracy (right) over training steps without and with Batch Norm; dotted lines mark the step each network first reaches the accuracy target, much earlier with Batch Norm." slideshow={"slide_type": "subslide"}
npl.plot_training_curves(comparison)
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# At the same learning rate, the BN network passes 90 % after 40 steps, the plain one
# after 510, 13 times more: early on the plain network is stuck near chance (10 %) while
# its loss barely moves. This is the notes' first claim, "通过归一化所有的输入特征值x,可以加速学习"
# (like normalizing the input features x, it speeds learning up), as the paper showed it.
#
# **Is the baseline fair?** With LeCun's initialization a plain sigmoid network starts badly:
# the sigmoid's slope is at most 1/4, so each layer shrinks the signal and the gradient
# (Glorot & Bengio, 2010, studied why). Two better baselines: the same network with weights
# 4 times larger (which keeps a small signal's size through a layer), and the network people
# train today, ReLU units with He initialization, W ~ N(0, 2/n<sup>[l−1]</sup>) (He et al.,
# 2015), with and without BN. All five at α = 0.3, five seeds each (each seed draws its own
# weights and batch order):

# %% slideshow={"slide_type": "subslide"}
speed = ex.speed_table(ex.NETWORKS, lr=0.3, seeds=range(5))
print(speed.table())

# %% [markdown] slideshow={"slide_type": "notes"}
# The headline gain is mostly the weak baseline's doing. With weights 4 times larger the
# plain sigmoid network needs 100 steps instead of 570, so BN's lead shrinks from 570
# against 30 to 100 against 30. The plain ReLU network with He initialization reaches 90 %
# as fast as the ReLU network with BN (20 steps each, less than one pass over the data).
# Against the network a practitioner would use, BN does not make training at this learning
# rate faster. What it buys there is the subject of the next section.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. What BN buys once initialization is good: learning rates and initial weights

# %% [markdown] slideshow={"slide_type": "notes"}
# The practitioner's networks, ReLU with He initialization, without and with BN: for each
# learning rate, five seeds, at most 300 steps. A cell gives the median number of steps to
# 90 % validation accuracy; "-" means that not every seed got there (it diverged, or it was
# too slow).

# %%
lr_grid = ex.lr_sweep((ex.RELU, ex.RELU_BN), lrs=(0.03, 0.1, 0.3, 1.0, 3.0, 10.0), seeds=range(5))
print(lr_grid.table())
for net in (ex.RELU, ex.RELU_BN):
    print(f"{net.label}: every seed reaches 90 % at learning rates {lr_grid.reliable(net)}")

# %% [markdown] slideshow={"slide_type": "notes"}
# Without BN the ReLU network is reliable up to α = 0.3; at α = 1 some seeds diverge (their
# loss overflows; the figure below shows each seed). With BN it trains up to α = 3, 10 times
# larger, and at its best it is no slower. At α = 0.03 BN does not help. So BN widens the
# band of usable learning rates upward (Ioffe & Szegedy trained with 30 times the learning
# rate of their baseline).
#
# One reason is scale invariance (lesson 03): BN(a·z) = BN(z) for a > 0, so when a large
# step makes W<sup>[l]</sup> larger, the layer's output does not grow with it, and its gradient
# ∂L/∂W<sup>[l]</sup> shrinks as 1/‖W<sup>[l]</sup>‖: large steps brake themselves. The plain
# network has no such brake. The same invariance makes BN indifferent to the scale of the
# initial weights. Every initial weight multiplied by a factor, α = 0.3:

# %%
init_grid = ex.init_sweep((ex.RELU, ex.RELU_BN), factors=(0.1, 0.3, 1.0, 3.0, 10.0), lr=0.3, seeds=range(5))
print(init_grid.table())

# %% alt="Best validation accuracy of every seed against the learning rate (left) and the initial weight scale (right), on log axes, for the networks with and without Batch Norm; the dashed line is the target." slideshow={"slide_type": "subslide"}
npl.plot_grids(lr_grid, init_grid)
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# He's initialization is right for the plain ReLU network, and a factor of 3 too large
# already fails: the signal grows by 3 in every layer, the first logits are huge and the
# loss overflows. At ×0.1 the signal shrinks by 10 in every layer and 300 steps are not
# enough. With BN every factor from 0.1 to 10 trains. It gets slower at ×10 (180
# steps): the gradient of W shrinks as 1/(factor), so a fixed α makes relatively smaller
# steps on larger weights.
#
# **What BN buys, measured:** learning rates up to 10 times larger, and indifference to the
# initial weights' scale over a factor of 100, at no cost in speed at the best settings.
# It does not make a well-initialized network at a good learning rate learn faster here.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Question 2 (written, graded by hand)
#
# A colleague says: "BN makes training 13 times faster, section 4 proved it." Using the
# numbers of sections 4 and 5, what would you answer? Three or four sentences.

# %% [markdown] nbgrader={"grade": true, "grade_id": "fair_baseline_answer", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false} slideshow={"slide_type": "notes"}
# **Model answer.** The factor compares BN with a plain sigmoid network that starts badly
# (LeCun's initialization, slope 1/4 per layer): the same network with 4 times larger
# weights needs 100 steps instead of 570 (BN: 30), and a ReLU network with He initialization
# reaches 90 % as fast without BN as with it (20 steps at α = 0.3). What BN
# measurably buys is robustness: it trains reliably up to α = 3 where the plain ReLU
# network stops at 0.3, and with initial weights from 0.1 to 10 times He's, where the
# plain one trains only at 0.3 and 1 times He's. So: much faster only against a weak
# baseline, no faster than a ReLU network with He initialization, and more forgiving,
# able to take larger steps, than either.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Inside the network: what the next layer sees (claims 2 and 3)

# %% [markdown] slideshow={"slide_type": "notes"}
# The notes' second and third claims are about the distributions inside the network during
# training. Claim 2: *"Batch 归一化解决了输入值改变的问题,使得所有的输入值在一定的范围内,使得神经网络的所有隐藏层的输入更稳定"*
# (BN limits how much the inputs change and keeps every hidden layer's input more stable).
# Claim 3: *"如果神经元的数据分布改变,我们也许需要重新训练数据以拟合新的数据分布,batch归一化可以确保,
# 无论其怎样变化,其均值和方差将保持不变,避免重新训练数据"* (if a neuron's data distribution
# changes, we may need to retrain to fit it; BN makes sure that, however it changes, its
# mean and variance stay the same, which avoids retraining).
#
# This is the lecture's covariate-shift point (协变量偏移: the distribution of a model's
# inputs changes). Its example: a classifier trained on black cats fails on coloured cats,
# because its input distribution moved. Apply it to layer 3: its inputs a<sup>[2]</sup> move at
# every step, because W<sup>[1]</sup> and W<sup>[2]</sup> are being trained, so layer 3 keeps
# re-learning ("retraining") for a shifted input. BN fixes each unit's mean and variance to β
# and γ², so what layer 3 sees should shift less.
#
# **What holds by construction, and what we measure instead.** In training mode each
# batch's mean of z̃ is exactly β and its variance γ²·σ²/(σ² + ε) ≈ γ², whatever W does:
# measuring that would only confirm the formula. So we look at the 450 validation digits in
# inference mode, where BN uses its running statistics (nothing is forced there), and also
# at z before BN. Ioffe & Szegedy's Figure 1(b, c): the 15th, 50th and 85th percentiles of
# one sigmoid's input in layer 3 during the runs of section 4:

# %% alt="The 15th, 50th and 85th percentiles of one last-hidden-layer sigmoid's input over training: drifting and widening without Batch Norm (left), steady with it (right)." slideshow={"slide_type": "subslide"}
npl.plot_percentiles(comparison)
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# For every unit of layer 2 (whose outputs a<sup>[2]</sup> are layer 3's inputs): how far its
# mean moved from step 100 to the end, in units of its spread at step 100, and by what
# factor its spread changed; medians over the 100 units. (From step 100: the running
# averages start at 0 and 1 and need a few dozen steps to follow the batches.)

# %% slideshow={"slide_type": "subslide"}
drift = ex.distribution_drift(comparison, layer=2, start=100)
print(drift.table())

# %% [markdown] slideshow={"slide_type": "notes"}
# Without BN the typical unit moved by 1.67 of its spreads and its spread grew 5.60 times:
# layer 3 learned from a moving target. With BN, z̃<sup>[2]</sup> moved by 0.05 spreads and its
# spread changed by a factor 1.03, at test time, where nothing forces it. The raw z<sup>[2]</sup>
# still moves (0.29 spreads): the layers below keep learning, and BN removes the mean and
# scale of their change from what layer 3 sees. Claims 2 and 3 hold here, in the lecture's
# sense. (Whether this is *why* BN helps is another question: "Going deeper" C.)

# %% [markdown] slideshow={"slide_type": "fragment"}
# ### Explore: every layer, every step
#
# The sigmoid inputs of all three hidden layers, without BN (top) and with BN (bottom), on the
# validation digits in inference mode, at step 300. In the live widget below, move the slider
# through training (everything is precomputed).

# %% alt="Histograms of every hidden layer's sigmoid inputs at step 300, for the network without Batch Norm and the network with it." slideshow={"slide_type": "subslide"}
npl.plot_activation_histograms(comparison, step=300)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Things to look at: without BN the third layer's inputs start very narrow (its sigmoids work
# in their almost linear middle), then drift and widen many times over. With BN every layer
# stays near mean β and spread γ. At step 0 the BN network's running statistics are still
# 0 and 1, so its inputs look like the plain network's.

# %% tags=["widget", "nbval-ignore-output"]
# an ipywidgets slider over the steps of the runs above, and the histograms it redraws
npl.activation_explorer(comparison)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. A slight regularization effect (claim 4)

# %% [markdown] slideshow={"slide_type": "notes"}
# The notes: *"Batch 归一化还有一个作用,它有轻微的正则化效果,避免过拟合"* (BN also has a slight
# regularization (正则化) effect, which avoids over-fitting (过拟合)). The mechanism: in
# training mode an example's z̃ depends on the other examples in its batch, through μ and
# σ². This is noise, and like dropout's noise it makes learning the training set by heart
# harder. Its size shrinks as the batch grows: for one validation digit put into random
# batches of size b, the spread of its normalized value (layer 1 of the trained BN network):

# %%
sizes = (4, 16, 64, 256)
noise = ex.batch_statistics_noise(comparison.bn.model, data.X_val, sizes, trials=50)
for b, s in zip(sizes, noise, strict=True):
    print(f"batch of {b:3d}: std of one example's z~ over batches = {s:.3f}   (x sqrt(b) = {s * np.sqrt(b):.2f})")

# %% [markdown] slideshow={"slide_type": "fragment"}
# It falls roughly like 1/√b, as the mean of b random numbers does (at b = 256 faster:
# batches drawn from 450 examples overlap a lot).

# %% [markdown] slideshow={"slide_type": "notes"}
# Does it reduce over-fitting? To see over-fitting clearly, take a small training set:
# only 200 digits (20 per class), the ReLU network without and with BN, trained until it
# knows them by heart (300 steps of batches of 20, 30 passes), five seeds, scored on the
# 450 validation digits:

# %%
overfit = ex.overfitting(ex.PRACTICE, n_train=200, seeds=range(5))
print(overfit.table())

# %% [markdown] slideshow={"slide_type": "notes"}
# Both networks learn the 200 digits by heart (100 % training accuracy) and lose 9 to 11
# points on the validation digits: that is over-fitting. With BN the validation accuracy is
# higher, 91 % against 89 %, and the validation loss lower (0.40 against 0.51). The effect is
# real but slight: about the size of the spread between seeds (the ranges overlap). Here
# the train/validation gap shrinks because the *validation* side improves while both fit the
# training set perfectly ("Going deeper" E checks that the gain comes from the noise). It
# is no substitute for explicit regularization (weight decay, dropout, more data), and with
# the usual batches of 32 to 256 the noise is smaller still.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Question 3 (written, graded by hand)
#
# With BN, the gap between training and validation loss is often smaller than without it.
# Give one reason why a smaller gap alone does not show a better model, and say what you
# would compare instead. Two or three sentences.

# %% [markdown] nbgrader={"grade": true, "grade_id": "gap_answer", "locked": false, "points": 1, "schema_version": 3, "solution": true, "task": false} slideshow={"slide_type": "notes"}
# **Model answer.** The gap also shrinks when the training loss gets *worse*: noise that
# makes the training set harder to fit raises the training loss, and the validation loss may
# stay the same or even rise. A better model is one that does better on data it has not
# seen: compare the validation (or test) accuracy and loss themselves, over several seeds,
# against the spread between seeds.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. The notes' four claims, measured
#
# | # | the notes' claim (Batch归一化的作用) | what this lesson measured |
# |---|---|---|
# | 1 | like input normalization, it speeds learning up | true against the paper's weak baseline, less so against a well-initialized sigmoid network, not at all against ReLU with He initialization (section 4); what it buys there is learning rates up to 10 times larger and indifference to the initial weights' scale (section 5) |
# | 2 | hidden layers' inputs are more stable; earlier and later layers are less coupled; each layer learns more on its own | the distributions: true, measured at test time (section 6); "less coupling" as the cause of the speed-up is disputed ("Going deeper" C) |
# | 3 | if a unit's input distribution changes, BN keeps its mean and variance, so later layers need not retrain | true during training, in the lecture's sense (section 6); for data that change after deployment see "Going deeper" D |
# | 4 | a slight regularization effect (mini-batch noise) | true, and slight: with 200 training digits, 91 % validation accuracy with BN against 89 % without (five seeds, ranges overlapping); the gain comes from the noise of the batch statistics ("Going deeper" E) |

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Self-check

# %% [markdown] slideshow={"slide_type": "notes"}
# 1. Why can a hidden layer followed by BN drop its bias, and what takes its place?
# 2. What shape do γ<sup>[l]</sup> and β<sup>[l]</sup> have for a layer of 100 units, in the notes'
#    layout and in this course's?
# 3. In a training step, which statistics normalize the batch, and which ones are only
#    updated? At test time?
# 4. Section 5: the plain ReLU network fails at α = 3 and the BN network does not. Give one
#    mechanism.
# 5. Why were the distributions in section 6 measured in inference mode and not in
#    training mode?
# 6. Why does the regularization experiment of section 7 use only 200 training digits?

# %% [markdown] slideshow={"slide_type": "-"}
# <details><summary>Answers</summary>
#
# 1. BN subtracts the batch mean, which removes any constant added to z: the bias has zero
#    gradient and no effect (measured: round-off only). β<sup>[l]</sup> sets the mean of z̃ instead.
# 2. One value per unit: (100, 1) in the lecture's column layout, (100,) with rows as examples.
# 3. Training: the batch's own μ and σ² normalize; the running averages are updated with
#    them. Test time (inference mode): the running averages normalize, nothing is updated.
# 4. Scale invariance: BN's output does not grow with W, and ∂L/∂W shrinks as 1/‖W‖, so a
#    large step that inflates W slows its own later steps; the plain network has no such
#    brake, its activations and loss overflow.
# 5. In training mode each batch's mean and variance of z̃ are β and about γ² by
#    construction; inference mode uses the running statistics, so its stability is a
#    measurement, not a formula.
# 6. To see over-fitting clearly: with 200 digits both networks learn the training set by
#    heart, so the validation accuracy alone shows how well each generalizes.
#
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary

# %% [markdown] slideshow={"slide_type": "notes"}
# - In every hidden layer: linear **without bias** → BN(γ<sup>[l]</sup>, β<sup>[l]</sup>) → activation;
#   γ<sup>[l]</sup>, β<sup>[l]</sup> have one value per unit, (n<sup>[l]</sup>,) with rows as examples
#   ((n<sup>[l]</sup>, 1) in the lecture's column layout). b<sup>[l]</sup> is redundant: its gradient
#   is 0 up to round-off.
# - A training step: forward with each batch's statistics, the running averages updated
#   (β = 0.9), backpropagation through BN *and* its batch statistics (gradient-checked), and
#   W, γ, β updated by the same rule. You wrote it.
# - At the paper's setting (sigmoid, LeCun init, α = 0.3) BN reaches 90 % in 40 steps
#   against 510. Against fair baselines its lead shrinks (sigmoid with weights ×4: 100 steps
#   against 30) or vanishes (ReLU with He init: 20 and 20). What it buys there: learning
#   rates up to 10 times larger, and initial weights anywhere in a factor of 100, where the
#   plain network needs both tuned.
# - The hidden units' distributions, as the next layer sees them at test time, stay put
#   with BN and drift without it (claims 2 and 3).
# - In a small-data regime that over-fits, BN's validation accuracy is 2 points higher
#   (91 % against 89 %, five seeds, ranges overlapping), and the gain comes from the noise of
#   the batch statistics, which falls like 1/√b: a slight regularization effect, as the notes
#   say, and no replacement for real regularization.

# %% [markdown] slideshow={"slide_type": "-"}
# **Next**, lesson 05: the running statistics that the network uses at test time.

# %% [markdown] slideshow={"slide_type": "notes"}
# **References.** S. Ioffe and C. Szegedy, *Batch Normalization: Accelerating Deep Network
# Training by Reducing Internal Covariate Shift*, ICML 2015, [arXiv:1502.03167](https://arxiv.org/abs/1502.03167).
# X. Glorot and Y. Bengio, *Understanding the difficulty of training deep feedforward neural
# networks*, AISTATS 2010. K. He, X. Zhang, S. Ren and J. Sun, *Delving Deep into
# Rectifiers*, ICCV 2015, [arXiv:1502.01852](https://arxiv.org/abs/1502.01852) (He initialization).
# S. Santurkar, D. Tsipras, A. Ilyas and A. Mądry, *How Does Batch Normalization Help
# Optimization?*, NeurIPS 2018, [arXiv:1805.11604](https://arxiv.org/abs/1805.11604).
# Y. Li, N. Wang, J. Shi, J. Liu and X. Hou, *Revisiting Batch Normalization For Practical
# Domain Adaptation*, 2016, [arXiv:1603.04779](https://arxiv.org/abs/1603.04779) (AdaBN).
# E. Hoffer, I. Hubara and D. Soudry, *Train longer, generalize better*, NeurIPS 2017,
# [arXiv:1705.08741](https://arxiv.org/abs/1705.08741) (ghost batch normalization).
# D. P. Kingma and J. Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015,
# [arXiv:1412.6980](https://arxiv.org/abs/1412.6980).

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# ## Going deeper A: γ and β with three optimizers
#
# The same BN network trained with plain SGD, with momentum (v := βv + (1−β)dγ, then
# γ := γ − αv) and with Adam (Kingma & Ba, 2015: momentum plus RMSprop, with bias
# correction). Each updates W, γ and β by one rule; below, γ<sup>[3]</sup> and β<sup>[3]</sup> of
# three units of the last hidden layer during 400 steps. (The β of momentum and Adam is a
# different β from BN's shift: an unlucky clash of names.)

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
optimizers = ex.optimizer_comparison()
print(optimizers.table())

# %% alt="Gamma and beta of three units of layer 3 during training, one colour per optimizer: the gammas grow above 1, the betas stay near 0." slideshow={"slide_type": "skip"} tags=["going-deeper"]
npl.plot_gamma_beta(optimizers)
plt.show()

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# All three learn the digits. The units' γ grow above 1 and their β stay near 0: the
# network asks for somewhat wider sigmoid inputs than "mean 0, variance 1". With momentum in
# the notes' form (an average of gradients) and the same α the path is close to SGD's. Adam
# divides each parameter's averaged gradient by the root of its averaged square, so it moves
# every parameter by *at most* about α per step, and by about α when the gradient keeps its
# sign from step to step, whatever the gradient's size: with α = 0.003 it takes γ further
# in 400 steps. In `course_lib.network` the optimizers update one flat vector that holds
# every parameter, so "γ and β are updated like any parameter" is literally one line:
# `params -= lr * grads`.

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# ## Going deeper B: BN before or after the activation?
#
# The notes (and the paper) normalize z, the input of the activation: "严格来说,真正归一化的
# 不是 a[l−1], 而是 z[l−1]" (strictly, what is normalized is not a but z). The paper's argument:
# z = Wa + b is a sum of many terms, closer to a symmetric, non-sparse distribution than the
# output of a nonlinearity. Normalizing a<sup>[l]</sup> after the activation (z = aW + b → g → BN) is
# also used in practice. Both placements, everything else equal (α = 0.3, five seeds):

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
print(ex.speed_table((ex.SIGMOID_BN, ex.SIGMOID_BN_AFTER), lr=0.3, seeds=range(5)).table())

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# On this network the two placements reach 90 % within a few evaluations of each other
# (20 steps after, 30 before). The choice is a convention more than a law. This
# course follows the notes and the paper (BN before the activation, no bias), which is also
# what lesson 05's inference statistics assume.

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# ## Going deeper C: why does it work? Internal covariate shift or a smoother landscape
#
# **The notes' (and the paper's) explanation: internal covariate shift (内部协变量偏移).**
# The notes' second claim goes on: *"它减弱了前层参数的作用与后层参数的作用之间的联系,它使得网络每层都可以自己学习"*
# (it weakens the coupling between the parameters of earlier and later layers, and lets each
# layer learn on its own). Section 6 measured that the distributions are stabler; the paper
# takes this as the reason BN speeds training.
#
# **Santurkar, Tsipras, Ilyas & Mądry (2018), "How does batch normalization help
# optimization?"** found that (a) BN still works when noise that shifts the distributions is
# injected *after* it on purpose, and (b) with internal covariate shift defined by what
# matters to optimization, how much a layer's *gradient* changes when the earlier layers take
# their step, BN does not reduce it, sometimes the opposite. Their explanation: BN makes the
# **loss landscape smoother**: the loss and its gradient change less, and more predictably,
# along the direction of a step, so larger steps are safe.
#
# One run of each network (sigmoid, LeCun init, α = 0.3, 500 steps); every 25 steps, on a
# fresh training batch:
#
# - **gradient coupling**: ‖G′ − G‖/‖G‖ for the gradient G of W<sup>[3]</sup>, before and after
#   layers 1 and 2 take one SGD step (Santurkar et al.'s measure of internal covariate shift);
# - **loss range along the gradient**: max − min of L(θ − ηg) for η = α·(0.25, 0.5, 1, 2, 4);
# - **gradient change along the gradient**: max over the same η of ‖∇L(θ − ηg) − g‖/‖g‖
#   (how well the current gradient predicts the next one).

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
why = ex.why_bn_works(lr=0.3, steps=500, every=25)
print(why.table())

# %% alt="Three measurements along training, without and with Batch Norm: gradient coupling between layers, the range of the loss along the gradient direction, and the change of the gradient along it." slideshow={"slide_type": "skip"} tags=["going-deeper"]
npl.plot_why(why)
plt.show()

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# What the numbers say on this network:
#
# - **Less coupling: not in the gradient sense.** When layers 1 and 2 step, the gradient of
#   layer 3 changes *more* with BN than without. Through the batch statistics every unit now
#   depends on the whole batch and on all the weights below, so the layers are not
#   decoupled. Stable first and second moments are not the same thing as independence.
# - **Smoother along the path: true here.** Along the gradient direction the loss varies
#   less and the gradient changes less, relative to its size, with BN, as Santurkar et al.
#   found for deep convolutional networks. That is what lets BN use the large learning rates
#   of section 5.
#
# A caveat: the two runs are compared at the same steps, not at the same point of the
# landscape (the BN network is already much further), and one small network proves no
# general law. The honest summary of the literature: BN stabilizes the layer-input
# distributions, as the notes say; that this stability is *why* it speeds training is the
# paper's hypothesis, and today's better-supported account is the smoother,
# better-conditioned optimization problem (with scale invariance, section 5, as one mechanism).

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# ## Going deeper D: when the data change after deployment (AdaBN)
#
# Claim 3 is about training. A different question, often asked about it: does BN also
# protect a *deployed* network when its input data change? Change the validation digits
# after training, normalize them with the *training* μ and σ as always, and classify them
# with the plain network, with the BN network as deployed (its stored running statistics),
# and with the BN network whose statistics are re-estimated on the changed data.

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
print(ex.distribution_shift(comparison.plain.model, comparison.bn.model,
                            kinds=("none", "brighter", "fainter", "moved")))

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# - **As deployed, no.** At test time BN uses **fixed** running statistics (lesson 05): the
#   deployed network does not adapt at all, and does no better than the plain one (brighter
#   images: both fail).
# - **With re-estimated statistics, partly.** If the statistics are recomputed on the new
#   data, a change that shifts and scales the units (brighter, fainter images) is undone:
#   the accuracy comes back without touching a weight. This is "AdaBN" (Li et al., 2016),
#   domain adaptation by recomputing the BN statistics. A change of *which* pixels are on
#   (the images moved one pixel) changes the shape of the distribution and what the
#   features mean; no re-normalization repairs that, and the network must be retrained.

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# ## Going deeper E: is it the noise?
#
# Section 7 compared BN with no BN. Does BN's gain there come from the noise of its batch
# statistics, as the notes say, or from something else BN does? Isolate the noise: train the
# BN network on the 200 digits with plain gradient descent on the whole set at once (100
# steps, α = 1), so that no step is random, and compare two ways of computing its
# statistics: over all 200 digits (the same every step: no noise) or separately over groups
# of 20 of them ("ghost batches", Hoffer et al., 2017: the noise of a batch of 20 is back,
# and nothing else changes).

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
print(ex.overfitting(ex.NOISE, n_train=200, seeds=range(5)).table())

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# Without noise the BN network reaches 89 %, the plain network's accuracy in section 7;
# with the noise of batches of 20 put back, and nothing else changed, it reaches 91 %, the
# gain of section 7. So the slight regularization effect is the noise of the batch
# statistics, as the notes say. Ghost batches are also a practical tool: with very large
# batches, normalizing smaller groups keeps this effect (Hoffer et al., 2017).

# %% [markdown] slideshow={"slide_type": "slide"} tags=["graded-checks"]
# ## Graded checks
#
# These cells give the two coding exercises their points (the three written questions are
# graded by hand). What runs where:
#
# - **In your copy** (the exercise version), each cell runs the same checker as the
#   feedback cell under the exercise, nothing more. A failing check stops with an
#   `AssertionError` and its hint.
# - **When an instructor grades** with nbgrader (`nbgrader autograde`), hidden tests on
#   other layers and networks are put back into these cells and run after the checker, so a
#   function written to pass only the checker's cases loses points. In the worked version
#   of this notebook you can read them under the checker.

# %% nbgrader={"grade": true, "grade_id": "bn_layer_forward_tests", "locked": true, "points": 3, "schema_version": 3, "solution": false}
checks.check_bn_layer_forward(bn_layer_forward).assert_ok()
### BEGIN HIDDEN TESTS
import course_lib.network as _network

_rng = np.random.default_rng(20250404)
for _m, _n_prev, _n, _eps in ((3, 7, 5, 1e-3), (12, 4, 9, 1e-5), (2, 6, 6, 0.2), (40, 20, 3, 1e-5)):
    _A = _rng.uniform(0, 1, (_m, _n_prev))
    _W = _rng.normal(0, 1.5, (_n_prev, _n))
    _g, _b = _rng.uniform(-2, 2, _n), _rng.normal(size=_n)
    _A_copy = _A.copy()
    _got = bn_layer_forward(_A, _W, _g, _b, eps=_eps)
    assert np.allclose(_got, _network.bn_layer_forward(_A, _W, _g, _b, eps=_eps), rtol=1e-6, atol=1e-8)
    assert np.array_equal(_A, _A_copy), "bn_layer_forward modified A_prev"
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "bn_train_step_tests", "locked": true, "points": 5, "schema_version": 3, "solution": false}
checks.check_bn_train_step(bn_train_step).assert_ok()
### BEGIN HIDDEN TESTS
import copy as _copy

import course_lib.network as _network

_rng = np.random.default_rng(20250414)
for _sizes, _m, _lr, _kw in (((7, 5, 3), 4, 0.3, {}), ((3, 6, 6, 6, 5), 9, 0.05, {"eps": 0.01}),
                             ((10, 4, 8, 2), 33, 1.0, {"running_beta": 0.5})):
    _params, _running = _network.bn_network(_sizes, seed=int(_rng.integers(1000)))
    _params = {_k: _v + _rng.normal(0, 0.3, _v.shape) for _k, _v in _params.items()}
    _running = {_k: _v + _rng.uniform(0.1, 0.5, _v.shape) for _k, _v in _running.items()}
    _X, _y = _rng.normal(size=(_m, _sizes[0])), _rng.integers(0, _sizes[-1], _m)
    _before = (_copy.deepcopy(_params), _copy.deepcopy(_running))
    _loss, _new_p, _new_r = bn_train_step(_params, _running, _X, _y, _lr, **_kw)
    _ref_loss, _ref_p, _ref_r = _network.bn_train_step(_params, _running, _X, _y, _lr, **_kw)
    assert abs(_loss - _ref_loss) < 1e-8 * (1 + abs(_ref_loss)), "the loss differs from the reference"
    for _k in _ref_p:
        assert np.allclose(_new_p[_k], _ref_p[_k], rtol=1e-7, atol=1e-10), f"{_k} differs"
    for _k in _ref_r:
        assert np.allclose(_new_r[_k], _ref_r[_k], rtol=1e-7, atol=1e-10), f"{_k} differs"
    for _d, _d0 in zip((_params, _running), _before, strict=True):
        assert all(np.array_equal(_d[_k], _d0[_k]) for _k in _d0), "bn_train_step modified its input"
### END HIDDEN TESTS
