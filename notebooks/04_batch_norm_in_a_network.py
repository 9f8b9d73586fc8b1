# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown] slideshow={"slide_type": "slide"}
# # Lesson 04 · Batch Norm in a network: placement, training, why it works
#
# *Lesson 4 of 5 · section 2 of the notes, "Batch归一化" (Batch Normalization), second half:
# "将 Batch Norm 拟合进神经网络" (fitting Batch Norm into a network) and
# "Batch归一化的作用" (what Batch Norm does).*
#
# Lesson 03 built one Batch Norm layer and checked its formulas. Here it goes into every
# hidden layer of a network, and the notes' claims about it become measurements on real
# data: scikit-learn's 8×8 handwritten digits, with the set-up of Ioffe & Szegedy's MNIST
# experiment (2015) scaled down: three hidden layers of 100 sigmoid units, mini-batches of 60.
#
# **After this lesson you can**
#
# 1. draw a network with BN in every hidden layer, say where BN goes (before the activation),
#    why the bias b<sup>[l]</sup> is dropped, and give the shapes of γ<sup>[l]</sup> and β<sup>[l]</sup>;
# 2. train it on mini-batches, with γ and β updated by SGD, momentum or Adam like the weights;
# 3. measure what BN changes: speed, the range of usable learning rates and initial weights,
#    the distributions inside the network, and the train/validation gap;
# 4. weigh the two explanations of why BN works, the notes' internal covariate shift and the
#    smoother loss landscape of Santurkar et al. (2018), against measurements;
# 5. say which of the notes' four claims hold as stated, and correct the one that does not;
# 6. write one hidden layer's forward pass with BN yourself (graded).
#
# Every experiment is a call into `course_lib.experiments`; the network is `course_lib.network.MLP`.

# %% tags=["imports"]
import matplotlib.pyplot as plt
import numpy as np

from course_lib import checks
from course_lib import experiments as ex
from course_lib import network_plots as npl
from course_lib.gradcheck import relative_error
from course_lib.network import MLP, backprop_and_numerical_grads, make_optimizer, sigmoid, train_step

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
#
# with μ<sup>[l]</sup>, σ<sup>2[l]</sup> the per-unit mean and (1/m) variance of z<sup>[l]</sup> over the batch
# (lesson 03). The output layer keeps its bias and has no BN: softmax and cross-entropy.

# %% slideshow={"slide_type": "subslide"}
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
#
# So the loss does not depend on b<sup>[l]</sup>, its gradient is 0, and gradient descent never
# changes it. β<sup>[l]</sup> takes its role: it sets the mean of z̃<sup>[l]</sup>, which is what the
# activation sees. Measured on a BN network that *does* have hidden biases (float64, one
# mini-batch of 60 digits, training mode):

# %%
print(ex.bias_redundancy())

# %% [markdown] slideshow={"slide_type": "fragment"}
# The gradient of b is zero up to rounding (about 10⁻¹⁷), and biases of size 5 change the
# output by rounding error only. That is why the network above has no `b1`, `b2`, `b3`:
# a hidden layer with BN is "linear without bias → BN → activation". (With BN placed *after*
# the activation, section 6, the bias is before a nonlinearity and does matter.)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. Training on mini-batches: backpropagation through BN, and γ, β like any parameter
#
# BN works per mini-batch: each step takes the next batch X<sup>{t}</sup> (60 examples), runs the
# forward pass with *that batch's* μ and σ², backpropagates through everything
# (softmax, the output layer, and in each hidden layer the sigmoid, BN with lesson 03's
# backward pass, and the product with W), and updates every parameter. γ and β are
# learnable parameters (学习参数) like W, updated by gradient descent, momentum, RMSprop or
# Adam with the same rule as the weights (a point of the lecture the notes leave implicit),
#
# $$\gamma^{[l]} := \gamma^{[l]} - \alpha\, d\gamma^{[l]},\qquad \beta^{[l]} := \beta^{[l]} - \alpha\, d\beta^{[l]}
# \qquad\text{(plain gradient descent)}.$$
#
# Before trusting a training curve, check the gradients of the whole network against
# central differences (lesson 03), here on a small network with BN in float64:

# %%
small = MLP([6, 8, 8, 4], batchnorm=True, seed=1, dtype=np.float64)
rng = np.random.default_rng(0)
Xs, ys = rng.normal(size=(10, 6)), rng.integers(0, 4, 10)
analytic, numeric = backprop_and_numerical_grads(small, Xs, ys)
err = relative_error(analytic, numeric)
print(f"{analytic.size} parameters (W, gamma, beta, output b); relative error {err:.0e}; below 1e-7: {err < 1e-7}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# One training step of the lesson's network on the first 60 training digits, with plain SGD
# (α = 0.3): forward, backward, and every parameter moved by −α times its gradient.

# %%
Xb, yb = data.X_train[:60], data.y_train[:60]
gamma_before, W_before = model.params["gamma1"].copy(), model.params["W1"].copy()
batch_mean = model.layer_values(Xb, training=True)[0]["z_pre"].mean(axis=0)  # mu of z[1]
loss = train_step(model, make_optimizer("sgd", lr=0.3), Xb, yb)
grads = model.grads
print(f"mini-batch loss before the step: {loss:.4f}")
print("gamma1 moved by -0.3 * dgamma1:", np.allclose(model.params["gamma1"] - gamma_before, -0.3 * grads["gamma1"]))
print("W1 moved by -0.3 * dW1:        ", np.allclose(model.params["W1"] - W_before, -0.3 * grads["W1"]))
print("running mean of layer 1 = 0.9 * 0 + 0.1 * batch mean (lesson 05):",
      np.allclose(model.running_mean[0], 0.1 * batch_mean))

# %% [markdown] slideshow={"slide_type": "subslide"}
# **γ and β with three optimizers.** The same BN network trained with plain SGD, with
# momentum (v := βv + (1−β)dγ, then γ := γ − αv) and with Adam (Kingma & Ba, 2015: momentum
# plus RMSprop, with bias correction). Each updates W, γ and β by one rule; below, γ<sup>[3]</sup>
# and β<sup>[3]</sup> of three units of the last hidden layer during 400 steps. (The β of
# momentum and Adam is a different β from BN's shift: an unlucky clash of names.)

# %%
optimizers = ex.optimizer_comparison()
print(optimizers.table())

# %% slideshow={"slide_type": "subslide"}
npl.plot_gamma_beta(optimizers)
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# All three learn the digits. The units' γ grow above 1 and their β stay near 0: the
# network asks for somewhat wider sigmoid inputs than "mean 0, variance 1". With momentum in
# the notes' form (an average of gradients) and the same α the path is close to SGD's; Adam
# moves every parameter by about α per step whatever its gradient's size, so with
# α = 0.003 it takes γ further in 400 steps. In `course_lib.network`
# the optimizers update one flat vector that holds every parameter, so "γ and β are
# updated like any parameter" is literally one line: `params -= lr * grads`.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Training with and without BN
#
# The experiment of Ioffe & Szegedy's Figure 1(a), scaled down: the same network, the same
# data, the same seed, learning rate α = 0.3 and 1200 steps of plain SGD on mini-batches of
# 60, once without BN (sigmoid layers with biases) and once with BN in every hidden layer.
# The inputs are normalized in both cases (lesson 01), so the only difference is the
# normalization *inside* the network. Accuracies are measured every 10 steps on the 450
# validation digits in inference mode (running statistics, lesson 05).

# %% tags=["progress"]
# NBVAL_IGNORE_OUTPUT
# The longest experiment (two runs of 1200 steps), with a progress bar while it trains.
comparison = ex.compare_bn(lr=0.3, steps=1200, progress=True)

# %%
print(comparison.table())
plain_600, bn_600 = comparison.accuracy_at(600)
print(f"after 600 steps: with BN {bn_600:.1%} (at least 95%: {bn_600 >= 0.95}), without BN {plain_600:.1%}")
for target in (0.90, 0.95):
    plain_steps, bn_steps = comparison.steps_to(target)
    print(f"steps to reach {target:.0%} validation accuracy: without BN {plain_steps}, with BN {bn_steps}"
          f" ({plain_steps / bn_steps:.0f} times fewer with BN)")

# %% slideshow={"slide_type": "subslide"}
npl.plot_training_curves(comparison)
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# With the same learning rate and the same number of steps, the BN network passes 95 %
# after a few dozen steps and the plain network needs many hundreds; early on the plain
# network is stuck near chance (10 %) while its loss barely moves. This is the notes'
# first claim, "通过归一化所有的输入特征值x,可以加速学习" (like normalizing the input
# features x, it speeds learning up), measured. The plain network does get
# there in the end, as in the paper's Figure 1(a); BN changes how fast, and (section 5)
# how large a step one may take.

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Inside the network: Ioffe & Szegedy's Figure 1(b, c)
#
# The paper shows how the input of one sigmoid in the last hidden layer is distributed
# during training, as its 15th, 50th and 85th percentiles. Here: unit 0 of layer 3, over the
# 450 validation digits, at every evaluation of the runs above.

# %% slideshow={"slide_type": "subslide"}
npl.plot_percentiles(comparison)
plt.show()

# %%
for run in (comparison.plain, comparison.bn):
    pct = np.round(run.probes["pct"], 2) + 0.0  # + 0.0: no "-0.00"
    print(f"{run.label:10s}: median from {pct[0, 1]:+.2f} to {pct[-1, 1]:+.2f} "
          f"(range over training {np.ptp(pct[:, 1]):.2f}); "
          f"15th-85th spread from {pct[0, 2] - pct[0, 0]:.2f} to {pct[-1, 2] - pct[-1, 0]:.2f}")

# %% [markdown] slideshow={"slide_type": "fragment"}
# As in the paper: without BN the distribution that this sigmoid sees keeps moving, first
# down and then wider, because every update of the layers below changes it. With BN its
# median stays near β ≈ 0 and its spread changes only as γ does, slowly.

# %% [markdown] slideshow={"slide_type": "slide"}
# ### Explore: every layer, every step
#
# The histograms of the sigmoid inputs of all three hidden layers, without BN (top) and with
# BN (bottom), on the validation digits. Here at step 300; in the live widget below, move
# the slider through training (everything is precomputed, so it redraws at once).

# %% slideshow={"slide_type": "subslide"}
npl.plot_activation_histograms(comparison, step=300)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Things to look at: without BN the first layer's inputs widen as W<sup>[1]</sup> grows, while the
# third layer's start very narrow (its sigmoids work in their almost linear middle, and
# the gradient reaching the lower layers is small), then drift and widen many times over. With BN every layer starts and stays
# at mean β, spread γ, whatever the layers below do.

# %% tags=["widget"]
# NBVAL_IGNORE_OUTPUT
# an ipywidgets slider over the steps of the runs above, and the histograms it redraws
npl.activation_explorer(comparison)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Robustness: learning rate and initial weights
#
# Faster learning comes largely from larger usable steps. A sweep over the learning rate
# (log scale, 300 steps each, both networks from the same initial weights):

# %%
lr_sweep = ex.lr_sweep((0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0), steps=300)
print(lr_sweep.table())
plain_ok, bn_ok = lr_sweep.good_range(0.9)
print(f"learning rates reaching 90% validation accuracy: without BN {plain_ok}, with BN {bn_ok}")

# %% slideshow={"slide_type": "subslide"}
npl.plot_sweep(lr_sweep)
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# Without BN only a narrow band of learning rates works in 300 steps: below it the deep
# sigmoid network hardly moves (its loss stays near ln 10 ≈ 2.30, chance), above it the
# first updates throw the weights so far that the sigmoids saturate and learning stops.
# With BN the band covers orders of magnitude. One reason is scale invariance (lesson 03):
# BN(a·z) = BN(z) for a > 0, so when a large step makes W<sup>[l]</sup> larger, the layer's
# output does not grow with it, and its gradient ∂L/∂W<sup>[l]</sup> shrinks as 1/‖W<sup>[l]</sup>‖:
# large steps brake themselves.
#
# The same scale invariance makes BN indifferent to the initial scale of the weights,
# W ~ N(0, s²/n<sup>[l−1]</sup>) for s from 0.01 to 100 (α = 0.3, 300 steps):

# %%
init_sweep = ex.init_sweep((0.01, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0), lr=0.3, steps=300)
print(init_sweep.table())
plain_ok, bn_ok = init_sweep.good_range(0.9)
print(f"init scales reaching 90% validation accuracy: without BN {plain_ok}, with BN {bn_ok}")

# %% slideshow={"slide_type": "subslide"}
npl.plot_sweep(init_sweep)
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# Without BN, small weights make every layer's signal (and gradient) shrink on the way
# through three sigmoids, and large weights saturate them. With BN the hidden layers
# do not see the scale of W at all. What remains is a mild effect at both ends: the
# gradient with respect to W scales as 1/s, so a fixed α makes relatively huge steps
# for tiny weights and tiny steps for huge ones.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. BN before or after the activation?
#
# The notes (and the paper) normalize z, the input of the activation: "严格来说,真正归一化的
# 不是 a[l−1], 而是 z[l−1]" (strictly, what is normalized is not a but z). The paper's argument:
# z = Wa + b is a sum of many terms, closer to a symmetric, non-sparse distribution than the
# output of a nonlinearity. Normalizing a<sup>[l]</sup> after the activation (z = aW + b → g → BN) is
# also used in practice. Both placements, everything else equal (α = 0.3, 400 steps, two seeds):

# %%
(position,) = ex.bn_position_comparison(("sigmoid",), seeds=(0, 1), lr=0.3, steps=400)
print(position.summary(0.95))

# %% slideshow={"slide_type": "subslide"}
npl.plot_position([position])
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# On this network the two placements end up within noise of each other; "after" even starts
# a little faster here, since its sigmoids receive un-normalized z and its BN outputs feed
# the next layer with zero-mean inputs. The choice is a convention more than a law. This
# course follows the notes and the paper (BN before the activation, no bias), which is
# also what lesson 05's inference statistics assume.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. What Batch Norm does (Batch归一化的作用): the notes' four claims, measured
#
# The notes list four effects. Each one below gets a measurement and a verdict.
#
# | # | the notes' claim | verdict |
# |---|---|---|
# | 1 | like input normalization, it speeds learning up | **true**: sections 4 and 5 |
# | 2 | hidden layers' inputs are more stable (less covariate shift); earlier and later layers are less coupled; each layer learns more on its own | the distributions: **true**; "less coupling" as the cause of the speed-up: **disputed** (7.1) |
# | 3 | if the data distribution changes, the normalized mean and variance stay fixed, so there is less need to retrain | **overstated** (7.2) |
# | 4 | a slight regularization effect (mini-batch noise) | **true, and slight** (7.3) |
#
# Claim 1 has been measured: at α = 0.3 the BN network reached 95 % many times sooner
# (section 4), and it trains over a band of learning rates and initial scales that is
# orders of magnitude wider (section 5).

# %% [markdown] slideshow={"slide_type": "slide"}
# ### 7.1 Why does it work? Two explanations, each measured
#
# **The notes' (and the paper's) explanation: internal covariate shift (内部协变量偏移).**
# The notes' second claim: *"Batch 归一化解决了输入值改变的问题…使得神经网络的所有隐藏层的输入更稳定,
# 它减弱了前层参数的作用与后层参数的作用之间的联系，它使得网络每层都可以自己学习"* (BN limits how
# much the inputs change, makes every hidden layer's input more stable, weakens the coupling
# between the parameters of earlier and later layers, and lets each layer learn on its own).
# Covariate shift (协变量偏移) is a change in the distribution of a model's inputs. Inside a
# network the inputs of layer *l* are the outputs of layer *l*−1, which change at every step;
# so layer *l* chases a moving target, and its parameters are coupled to those of all the
# layers before it. BN fixes each unit's mean and variance to β and γ², so (the argument
# goes) the later layers see stable inputs and can learn on their own.
#
# **Santurkar, Tsipras, Ilyas & Mądry (2018), "How does batch normalization help
# optimization?"** measured this and found that (a) BN still works when noise that shifts
# the distributions is injected *after* it on purpose, and (b) with internal covariate shift
# defined by what matters to optimization, how much a layer's *gradient* changes when
# the earlier layers take their step, BN does not reduce it, sometimes the opposite. Their
# explanation: BN makes the **loss landscape smoother**. The loss and its gradient change
# less, and more predictably, along the direction of a step, so larger steps are safe.
#
# One run of each network (α = 0.3, 500 steps); every 25 steps, on a fresh training batch:
#
# - **input drift**: how far the mean of each layer-3 unit's input moved since the last
#   check, in units of its current spread (the notes' view);
# - **gradient coupling**: ‖G′ − G‖/‖G‖ for the gradient G of W<sup>[3]</sup>, before and after
#   layers 1 and 2 take one SGD step (Santurkar et al.'s measure of internal covariate shift);
# - **loss range along the gradient**: max − min of L(θ − ηg) for η = α·(0.25, 0.5, 1, 2, 4);
# - **gradient change along the gradient**: max over the same η of ‖∇L(θ − ηg) − g‖/‖g‖
#   (how well the current gradient predicts the next one).

# %%
why = ex.why_bn_works(lr=0.3, steps=500, every=25)
print(why.table())

# %% slideshow={"slide_type": "subslide"}
npl.plot_why(why)
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# What the numbers say on this network:
#
# - **The distributions are stabler: true.** The mean of a layer-3 input moves by a
#   sizeable fraction of its spread every 25 steps without BN and by almost nothing with BN.
#   This is what the notes (and Figure 1(b, c)) describe.
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
# distributions, as the notes say; that this stability is *why* it speeds training is
# the paper's hypothesis, and today's better-supported account is the smoother,
# better-conditioned optimization problem (with scale invariance, section 5, as one mechanism).

# %% [markdown] slideshow={"slide_type": "slide"}
# ### 7.2 "If the data distribution changes, no need to retrain": an overstatement
#
# The notes: *"如果神经元的数据分布改变…batch归一化可以确保,无论其怎样变化,其均值和方差将保持不变,
# 避免重新训练数据"* (whatever the change, BN keeps the mean and variance fixed, which avoids
# retraining). Test it: change the validation digits after training, normalize them with the
# *training* μ and σ as always, and classify them with the plain network, with the BN network
# as deployed (its stored running statistics), and with the BN network whose statistics are
# re-estimated on the changed data.

# %%
print(ex.distribution_shift(comparison.plain.model, comparison.bn.model,
                            kinds=("none", "brighter", "fainter", "moved")))

# %% [markdown] slideshow={"slide_type": "fragment"}
# - **What is true.** In training mode each mini-batch is normalized with its own statistics,
#   so *there* every unit's mean and variance are β and γ² whatever the data; and if the
#   statistics are re-estimated on the new data, a change that shifts and scales the units
#   (brighter, fainter images) is undone: the accuracy comes back without touching a weight.
#   This is the idea behind "AdaBN" (Li et al., 2016), domain adaptation by recomputing the
#   BN statistics.
# - **What is not.** (a) At test time BN uses **fixed** running statistics (lesson 05): the
#   deployed network does not adapt at all, and does no better than the plain one (brighter
#   images: both fail). (b) Even with re-estimated statistics only the per-unit mean and
#   variance are restored. A change of *which* pixels are on (the images moved one pixel)
#   changes the shape of the distribution and what the features mean, and no re-normalization
#   repairs that: the network must be retrained (重新训练). (c) BN fixes two numbers per
#   unit, each unit on its own; inputs can change in ways that leave every unit's mean and
#   variance as they were and still change what the network computes.
#
# Corrected: *BN fixes the mean and variance of each hidden unit over the batch it
# normalizes. On new data this helps only if the statistics are recomputed on that data
# and the change is (roughly) a per-unit shift and scale; other changes still need retraining.*

# %% [markdown] slideshow={"slide_type": "slide"}
# ### 7.3 A slight regularization effect (正则化), from noisy batch statistics
#
# In training mode an example's z̃ depends on the other examples in its batch, through μ
# and σ². This is noise, and like dropout's noise it makes memorizing the training set
# harder, which reduces over-fitting (过拟合). Its size shrinks as the batch grows: for one
# validation digit put into random batches of size b, the spread of its normalized value
# (layer 1 of the trained BN network):

# %%
sizes = (4, 8, 16, 32, 64, 128, 256)
noise = ex.batch_statistics_noise(comparison.bn.model, data.X_val, sizes, trials=50)
for b, s in zip(sizes, noise, strict=True):
    print(f"batch of {b:3d}: std of one example's z~ over batches = {s:.3f}   (x sqrt(b) = {s * np.sqrt(b):.2f})")

# %% [markdown] slideshow={"slide_type": "subslide"}
# It falls roughly like 1/√b, as the mean of b random numbers does (the product with √b
# stays between about 1.1 and 1.6; at b = 256 the noise falls faster because batches
# drawn from only 450 examples overlap a lot).
#
# To measure the effect on the train/validation gap, change **only** this noise: keep SGD on
# the same mini-batches of 60 (so the noise of the gradient stays the same), but let BN
# normalize groups of b of them with their own statistics ("ghost batches", Hoffer et al.,
# 2017; b = 60 is ordinary BN). Changing the batch size of SGD itself would change both
# noises at once.

# %%
gap = ex.bn_batch_gap((4, 12, 60), steps=800, lr=0.3, seeds=(0, 1))
print(gap.table())
print("train - validation accuracy:", np.round(gap.accuracy_gap, 3))

# %% slideshow={"slide_type": "subslide"}
npl.plot_bn_batch(gap, sizes, noise)
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# The smaller the batch BN normalizes over, the noisier the training: at b = 4 the training
# loss is three times that of ordinary BN (0.084 against 0.028) and the training accuracy
# 98.2 % instead of 99.8 %, while the validation loss rises less (0.144 against 0.108), so
# the gap between them shrinks (0.079 → 0.060), and so does the accuracy gap (3.1 % → 2.3 %).
# The validation *accuracy* itself does not improve: it moves by a few of the 450 examples
# (one example is 0.2 %), within the noise of this small experiment. The effect is real
# and **slight**, as the notes say, and it depends on the batch size: with the usual
# batches of 32 to 256 it fades, so BN is no substitute for explicit regularization (weight decay, dropout, more
# data). At test time the noise is gone (fixed statistics), as with dropout.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise · `bn_layer_forward` (graded)
#
# Write one hidden layer of the network in training mode:
#
# $$z = A_{\text{prev}}\,W,\qquad \tilde z = \gamma\,\frac{z-\mu}{\sqrt{\sigma^2+\varepsilon}}+\beta,\qquad A=g(\tilde z)=\frac{1}{1+e^{-\tilde z}}$$
#
# (g is the sigmoid; σ² here is the batch variance, not the sigmoid).
#
# - `A_prev`: (m, n_prev), the previous layer's activations, m ≥ 2; `W`: (n_prev, n);
#   `gamma`, `beta`: (n,); `eps` > 0. Return `A` of shape (m, n).
# - μ and σ² are the per-unit mean and (1/m) variance of z over the batch (axis 0).
# - No bias (section 2), BN before the activation (the sigmoid), do not modify the inputs.
#
# Do not call `course_lib`'s `bn_layer_forward` or `batchnorm_forward`: write the steps
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
# ## 8. Self-check
#
# 1. Why can a hidden layer followed by BN drop its bias, and what takes its place?
# 2. What shape do γ<sup>[l]</sup> and β<sup>[l]</sup> have for a layer of 100 units, in the notes'
#    layout and in this course's?
# 3. In section 5 the plain network fails at α = 10 and the BN network does not. Give one
#    mechanism.
# 4. Is "BN reduces internal covariate shift" true? Answer for the two definitions measured
#    in 7.1.
# 5. A deployed BN network gets images that are all brighter than the training images.
#    Does BN "keep the mean and variance fixed" so that nothing needs to be done?
# 6. Why do the ghost-batch experiments keep SGD's batch size at 60 instead of changing it?
#
# <details><summary>Answers</summary>
#
# 1. BN subtracts the batch mean, which removes any constant added to z: the bias has zero
#    gradient and no effect (measured: ~10⁻¹⁷). β<sup>[l]</sup> sets the mean of z̃ instead.
# 2. One value per unit: (100, 1) in the lecture's column layout, (100,) with rows as examples.
# 3. Scale invariance: BN's output does not grow with W, and ∂L/∂W shrinks as 1/‖W‖, so a
#    large step that inflates W slows its own later steps; the plain network has no such
#    brake and its weights and sigmoid inputs blow up. (The smoother loss landscape of 7.1
#    is the general form of this statement.)
# 4. For the distribution of each layer's inputs (mean, spread, percentiles): yes, strongly.
#    For Santurkar et al.'s gradient-based definition (how much a layer's gradient changes
#    when the earlier layers step): no, it was larger with BN here.
# 5. No. At test time BN uses its stored running statistics, so the brighter inputs pass
#    through un-corrected (the accuracy collapsed in 7.2). Re-estimating the statistics on
#    the new images repairs this kind of shift; a change in the content (moved images) needs
#    retraining.
# 6. The SGD batch size also sets the gradient noise. Ghost batches change only the noise
#    of the BN statistics, so the change in the train/validation gap can be attributed to it.
#
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9. Summary
#
# - In every hidden layer: linear **without bias** → BN(γ<sup>[l]</sup>, β<sup>[l]</sup>) → activation;
#   γ<sup>[l]</sup>, β<sup>[l]</sup> have one value per unit, (n<sup>[l]</sup>,) with rows as examples
#   ((n<sup>[l]</sup>, 1) in the lecture's column layout). b<sup>[l]</sup> is redundant: its gradient is 0.
# - BN works per mini-batch in training; backpropagation goes through the batch statistics
#   (gradient-checked); γ and β are updated by SGD, momentum or Adam like W.
# - Measured on the digits with the paper's set-up scaled down: at the same α and steps the BN
#   network reaches 95 % in a few dozen steps, the plain one needs hundreds; BN trains over
#   orders of magnitude of learning rates and initial scales; BN before or after the
#   activation makes little difference here.
# - The notes' four claims: (1) faster learning, true; (2) stabler layer inputs, true, but
#   "less coupling" is disputed, and the smoother loss landscape (Santurkar et al., 2018)
#   explains the speed-up better; (3) "no retraining when the data change" is an
#   overstatement: the deployed network uses fixed statistics; re-estimating them repairs
#   only per-unit shifts and scalings; (4) a slight regularization effect from the noise of
#   batch statistics, ∝ 1/√b, which shrinks the train/validation gap a little.
#
# **Next**, lesson 05: the running statistics that the network uses at test time.
#
# **References.** S. Ioffe and C. Szegedy, *Batch Normalization: Accelerating Deep Network
# Training by Reducing Internal Covariate Shift*, ICML 2015, [arXiv:1502.03167](https://arxiv.org/abs/1502.03167).
# S. Santurkar, D. Tsipras, A. Ilyas and A. Mądry, *How Does Batch Normalization Help
# Optimization?*, NeurIPS 2018, [arXiv:1805.11604](https://arxiv.org/abs/1805.11604).
# E. Hoffer, I. Hubara and D. Soudry, *Train longer, generalize better*, NeurIPS 2017,
# [arXiv:1705.08741](https://arxiv.org/abs/1705.08741) (ghost batch normalization).
# Y. Li, N. Wang, J. Shi, J. Liu and X. Hou, *Revisiting Batch Normalization For Practical
# Domain Adaptation*, 2016, [arXiv:1603.04779](https://arxiv.org/abs/1603.04779) (AdaBN).
# D. P. Kingma and J. Ba, *Adam: A Method for Stochastic Optimization*, ICLR 2015,
# [arXiv:1412.6980](https://arxiv.org/abs/1412.6980).

# %% [markdown] slideshow={"slide_type": "slide"} tags=["graded-checks"]
# ## Graded checks
#
# This cell grades the exercise (nbgrader): the checker above, plus hidden tests on other layers.

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
