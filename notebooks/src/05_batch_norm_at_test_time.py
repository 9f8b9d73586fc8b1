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
# # Lesson 05 · Batch Norm at test time (测试时的 Batch Norm)
#
# *Lesson 5 of 7 · section 3 of the notes, "测试时的 Batch Norm", which the notes leave unfinished.*

# %% [markdown] slideshow={"slide_type": "notes"}
# **Time.** About 45 minutes for the core path (sections 1–6, the two exercises and the
# two written questions included). The "Going deeper" sections after the summary add
# about 10 minutes; you can skip them without losing the thread.
#
# In lessons 03 and 04 every Batch Norm layer (the notes' Batch归一化; 批量规范化 in the
# Chinese edition of d2l) normalized a **mini-batch (小批量)** with that
# batch's own mean and variance. A trained network is used differently: it gets one
# photo, one patient, one sentence at a time. This lesson takes up section 3 of the
# notes, which states the problem and the usual answer (an exponentially weighted
# average over the mini-batches) and then stops. It completes that section: the average
# itself, what the frameworks store, better estimates computed after training, and
# the mistakes people make with training and inference modes.
#
# **After this lesson you can**
#
# 1. explain, and show on a trained network, why batch statistics cannot be used at test time;
# 2. compute an exponentially weighted average (指数加权平均) from its recursion, and say
#    what its effective window $1/(1-\beta)$, its bias at the start and the bias
#    correction $v_t/(1-\beta^t)$ mean;
# 3. translate between this course's $\beta$, PyTorch's `momentum` and Keras's `momentum`,
#    and say which variance each of them stores;
# 4. write `update_running_stats` and `batchnorm_inference` yourself (graded);
# 5. recognize the training and inference mode mistakes and know what each one costs;
# 6. (going deeper) compute inference statistics after training, with the paper's
#    Algorithm 2 or a pass over the whole training set, and recalibrate a trained network.

# %% tags=["imports"]
import matplotlib.pyplot as plt
import numpy as np

from course_lib import batchnorm as bn
from course_lib import checks, ema
from course_lib import experiments as ex
from course_lib import running_stats as rs
from course_lib.network import MLP, sigmoid, train

np.set_printoptions(precision=4, suppress=True)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. The problem: in training mode a prediction depends on the batch
#
# The notes: *at test time examples may come one at a time, so μ and σ² must be
# estimated separately.* Here is why. In **training mode (训练模式)** a BN unit turns the value
# $z^{(i)}$ of example $i$ in the mini-batch $B$ (size $m$) into
#
# $$\tilde z^{(i)} = \gamma\,\frac{z^{(i)}-\mu_B}{\sqrt{\sigma_B^2+\varepsilon}}+\beta,
# \qquad \mu_B=\frac1m\sum_{k\in B} z^{(k)},\qquad
# \sigma_B^2=\frac1m\sum_{k\in B}\bigl(z^{(k)}-\mu_B\bigr)^2 .$$

# %% [markdown] slideshow={"slide_type": "notes"}
# $\mu_B$ and $\sigma_B^2$ are computed from **all** the examples of the batch, so the
# output for example $i$ depends on the other examples that happen to share its batch.
# With a single example ($m=1$) it is worse: $\mu_B=z^{(i)}$ and $\sigma^2_B=0$, so every
# input gives $\tilde z = \beta$.

# %% [markdown] slideshow={"slide_type": "subslide"}
# We take the network from lesson 04: the handwritten-digit images (8×8 pixels, 10 classes),
# inputs normalized with the training set's μ and σ (lesson 01), layers 64–100–100–100–10
# with sigmoid activations and BN before every hidden activation, and plain SGD
# (learning rate 0.5, 600 steps on mini-batches of 60).

# %% [markdown] slideshow={"slide_type": "notes"}
# In training mode the running averages have no effect on the computation, which only
# uses batch statistics. So three copies trained with the same seed, with the running
# averages' $\beta$ set to 0.9, 0.99 and 0.999, end with **identical weights**. Only their
# running statistics differ, and section 6 uses that. At every evaluation we also
# record the accuracy with statistics recomputed from the training set with the weights of
# that moment (its **population statistics, 总体统计量**; "Going deeper" shows how).

# %%
data = ex.digits_data()  # digits, inputs normalized with the training mean and std (lesson 01)
X, y, X_val, y_val = data.X_train, data.y_train, data.X_val, data.y_val


def recalibrated_accuracy(model):
    return rs.recalibrated(model, X, method="whole").accuracy(X_val, y_val)


models, histories = {}, {}
for b in (0.9, 0.99, 0.999):
    models[b] = MLP([64, 100, 100, 100, 10], "sigmoid", batchnorm=True, seed=0, running_beta=b)
    histories[b] = train(models[b], X, y, lr=0.5, steps=600, batch_size=60, seed=0,
                         X_val=X_val, y_val=y_val, eval_every=50, monitor=recalibrated_accuracy)
model = models[0.9]  # the default beta: the network of the next sections
print(model)
print("same weights for every beta:",
      all(np.array_equal(m.flat_params(), model.flat_params()) for m in models.values()))
print(f"validation accuracy (inference mode): {model.accuracy(X_val, y_val):.4f}")

# %% [markdown] slideshow={"slide_type": "subslide"}
# Now take one validation example (a 2) and put it into 20 mini-batches of 8, each time
# with 7 other random validation examples. In training mode (batch statistics)
# its prediction changes with its company; in **inference mode (推理模式)**, with the
# running statistics kept from training, it has a single answer.

# %%
dep = rs.batch_dependence(model, X_val, index=0, batch_size=8, trials=20, seed=0)
true_class = y_val[0]
print("true class:", true_class)
print("training mode, class predicted in each batch:", dep.classes)
print(f"training mode, P(class {true_class}) ranges from "
      f"{dep.probs[:, true_class].min():.3f} to {dep.probs[:, true_class].max():.3f}")
print(f"inference mode: class {dep.inference.argmax()}, P(class {true_class}) = "
      f"{dep.inference[true_class]:.3f} in any batch")

# %% [markdown] slideshow={"slide_type": "notes"}
# In training mode the prediction for this example is wrong in 4 of the 20 batches
# (class 0 or 3 instead of 2), and its probability for the correct class goes from
# 0.005 to 0.976. A deployed model has to be a function of its input alone.
# The fix the notes give: replace $\mu_B$ and $\sigma_B^2$ by fixed estimates $\mu$, $\sigma^2$
# of each unit's mean and variance, kept from training,

# %% [markdown] slideshow={"slide_type": "fragment"}
# $$\hat x=\frac{z-\mu}{\sqrt{\sigma^2+\varepsilon}},\qquad \tilde z=\gamma\, \hat x+\beta$$
#
# ($\hat x$ is the notes' $z_{\text{norm}}$, as in lesson 03).

# %% [markdown] slideshow={"slide_type": "notes"}
# Each example is then treated on its own. `model.predict` does exactly this, so one example
# gets the same prediction alone as inside any batch ("the same" up to floating-point
# round-off: a batch and a single row go through different matrix-product kernels):

# %% slideshow={"slide_type": "subslide"}
rng = np.random.default_rng(1)
alone = model.predict_proba(X_val[0])
gaps, classes = [], []
for size in (2, 8, 60, 450):
    batch = np.concatenate([[0], rng.choice(np.arange(1, len(X_val)), size - 1, replace=False)])
    gaps.append(np.abs(model.predict_proba(X_val[batch])[0] - alone).max())
    classes.append(int(model.predict(X_val[batch])[0]))
print(f"alone: class {int(model.predict(X_val[0]))}; in batches of 2, 8, 60, 450: {classes}")
print("probabilities equal up to round-off (< 1e-12):", max(gaps) < 1e-12)

# %% [markdown] slideshow={"slide_type": "notes"}
# *Aside.* With fixed $\mu$, $\sigma^2$ a BN unit is an affine map,
# $\tilde z = a z + c$ with $a=\gamma/\sqrt{\sigma^2+\varepsilon}$ and $c=\beta-a\mu$. At
# deployment it can be folded into the layer before it ($W \to W\,\mathrm{diag}(a)$,
# bias $c$), which makes BN free at inference time. That only works because the statistics are fixed.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. Exponentially weighted averages (指数加权平均) from first principles

# %% [markdown] slideshow={"slide_type": "notes"}
# The notes' answer: during training the mini-batches $X^{\{1\}}, X^{\{2\}}, X^{\{3\}},\dots$
# go through layer $l$ and give batch means $\mu^{\{1\}[l]}, \mu^{\{2\}[l]}, \mu^{\{3\}[l]},\dots$
# (and variances $\sigma^{2\{t\}[l]}$). An **exponentially weighted average** of
# these values serves as the layer's $\mu$ and $\sigma^2$ at test time: the **running mean
# (滑动平均)** and the running variance. The notes stop here.
# The rest of this section derives what that average is.

# %% [markdown] slideshow={"slide_type": "-"}
# ### 2.1 The recursion
#
# Let $\theta_t$ be the statistic of batch $t$ (say the batch mean of one unit). Start at
# $v_0 = 0$ and, after every batch,
#
# $$v_t = \beta\, v_{t-1} + (1-\beta)\,\theta_t,\qquad 0\le\beta<1 .$$

# %% [markdown] slideshow={"slide_type": "notes"}
# $\beta$ is the weight of the **old** value (the notation of the deeplearning.ai lectures
# the notes come from; the notes themselves give no formula). Substituting the recursion
# into itself:

# %% [markdown] slideshow={"slide_type": "-"}
# $$v_t = (1-\beta)\,\theta_t + (1-\beta)\beta\,\theta_{t-1} + (1-\beta)\beta^2\,\theta_{t-2}
# + \dots + (1-\beta)\beta^{t-1}\theta_1 + \beta^t v_0 .$$

# %% [markdown] slideshow={"slide_type": "notes"}
# Each value has $\beta$ times the weight of the one after it: the weights decay
# exponentially with age. This costs one number of memory per unit, whatever the number of batches.

# %%
theta = np.array([2.0, 4.0, 3.0, 5.0])
beta_ = 0.9
v = 0.0
for t, th in enumerate(theta, start=1):
    v = beta_ * v + (1 - beta_) * th
    print(f"t={t}: v = {v:.4f}")
w = ema.ema_weights(beta_, len(theta))
print("weights of theta_1..theta_4:", w, " sum:", round(w.sum(), 4), "= 1 - 0.9^4 =",
      round(1 - beta_**4, 4))
print("weights @ theta =", round(w @ theta, 4))

# %% alt="The weight of each past value in the running average against its age, for beta 0.5, 0.9 and 0.98, each decaying exponentially, with the window 1/(1 - beta) marked." slideshow={"slide_type": "subslide"}
ema.plot_ema_weights((0.5, 0.9, 0.98), t=120)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 2.2 The effective window ≈ 1/(1−β)

# %% [markdown] slideshow={"slide_type": "notes"}
# A value $k$ steps old weighs $\beta^k$ times the newest one. Write $\beta = 1-\delta$ with $\delta$ small:
# $(1-\delta)^{1/\delta}\approx e^{-1}$. So after $k = 1/(1-\beta)$ steps a value counts only
# about $1/e\approx 0.37$ of the newest, and the last $1/(1-\beta)$ values together hold
# about $1-1/e\approx 63\%$ of the total weight. The average "remembers" roughly $1/(1-\beta)$
# mini-batches: 10 for $\beta=0.9$, 100 for $\beta=0.99$ (the dotted lines above).

# %%
for b in (0.5, 0.9, 0.98, 0.99, 0.999):
    k = ema.effective_window(b)
    print(f"beta = {b:<5}  window 1/(1-beta) = {k:6.0f}   beta^window = {b ** round(k):.3f}")

# %% [markdown] slideshow={"slide_type": "notes"}
# Which β is right? While a network trains its weights change, so the distribution of
# each layer's $z$ drifts. A small β follows the noise of single batches; a large β averages
# more batches but also keeps statistics of older weights, so it lags behind the drift:

# %% alt="Noisy batch means of a unit whose true mean drifts, with their running averages for beta 0.5, 0.9 and 0.99: larger beta is smoother but lags further behind." slideshow={"slide_type": "subslide"}
ema.plot_smoothing((0.5, 0.9, 0.99))
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 2.3 Bias at the start, and the bias correction (偏差修正)
#
# Started at $v_0=0$, the first average is $v_1=(1-\beta)\theta_1$: with $\beta=0.98$ only
# 2 % of the first value. The weights of $\theta_1,\dots,\theta_t$ sum to
#
# $$(1-\beta)\left(1+\beta+\dots+\beta^{t-1}\right) = 1-\beta^t,$$

# %% [markdown] slideshow={"slide_type": "notes"}
# not 1. The missing $\beta^t$ is still on the start value 0. Dividing by the sum of the
# weights gives a weighted mean of the $\theta$'s, correct from the first step:

# %% [markdown] slideshow={"slide_type": "-"}
# $$\hat v_t = \frac{v_t}{1-\beta^t}.$$

# %%
for t in (1, 10, 50, 200):
    print(f"beta = 0.98, t = {t:3d}: sum of weights 1 - beta^t = {1 - 0.98**t:.3f}")

# %% alt="A running average started at 0 creeps up towards the true value over the first steps, while the bias-corrected average is right from the first step." slideshow={"slide_type": "subslide"}
ema.plot_bias_correction(beta=0.98, steps=150, batch_size=16)
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# Batch Norm's running **mean** starts at 0, but its running **variance** starts at **1**
# (PyTorch, Keras and this course), so that an untrained layer used in inference mode
# divides by $\sqrt{1+\varepsilon}$ rather than by $\sqrt{\varepsilon}$. The start value's share is
# still $\beta^t$, and the general correction is

# %% [markdown] slideshow={"slide_type": "fragment"}
# $$\hat v_t = \frac{v_t-\beta^t v_0}{1-\beta^t}\qquad(v_0 = 0 \text{ for the mean},\ 1 \text{ for the variance}).$$

# %% [markdown] slideshow={"slide_type": "notes"}
# PyTorch and Keras do **not** apply it (TensorFlow 1's `tf.contrib.layers.batch_norm` offered
# it for the running mean, `zero_debias_moving_mean=True`, off by default). Training usually
# runs for thousands of steps, and then $\beta^t$ is negligible: $0.9^{600}\approx 3.5\times10^{-28}$ and $0.99^{600}\approx 0.0024$.
# But $0.999^{600}\approx 0.55$, which matters in section 6.2. (Adam's bias correction, which
# `course_lib.network.Adam` uses, is this same formula.)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 2.4 Explore: β, batch size and training length

# %% [markdown] slideshow={"slide_type": "notes"}
# One unit's pre-activation follows $z\sim\mathcal N(3, 2^2)$. Each training step draws a
# mini-batch of $m$ values. The left panel shows the running mean (from 0) and its bias
# correction. The right panel shows the running variance (from 1) of the unbiased batch
# variances (PyTorch), its bias correction, and the biased variances (Keras).
# The static figure comes first, then the live widget.

# %% alt="The running mean (left) and running variance (right) of a unit over 200 steps with beta 0.9 and batches of 8, with and without bias correction, against the population values."
ema.plot_running_estimates(beta=0.9, batch_size=8, steps=200)
plt.show()

# %% slideshow={"slide_type": "subslide"} tags=["widget", "nbval-ignore-output"]
# the live explorer (ipywidgets sliders; each change redraws the figure)
ema.ema_explorer()

# %% [markdown] slideshow={"slide_type": "notes"}
# Things to try: **β = 0.999 with 100 steps** (the uncorrected estimates have barely left
# their start values, while the corrected ones are fine); **batch size 2** (the Keras-style
# biased variance settles at half the population variance, see section 4); **β = 0.5**
# (fast, but as noisy as a couple of batches).

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. One rule, three dialects: the conventions
#
# The update is the same everywhere. The names and the defaults are not. (The notes
# name the exponentially weighted average and stop: the first column is this course's
# choice, `course_lib`, not the notes'.)
#
# | | this course | paper (Ioffe & Szegedy 2015) | PyTorch `BatchNorm1d` | Keras 3 `BatchNormalization` |
# |---|---|---|---|---|
# | parameter | `beta` = weight of the **old** value | — (averages after training, Algorithm 2) | `momentum` = weight of the **new** value | `momentum` = weight of the **old** value |
# | update | $v=\beta v+(1-\beta)\theta$ | $E[x]=E_B[\mu_B]$ | $v=(1-\text{mom})\,v+\text{mom}\,\theta$ | $v=\text{mom}\,v+(1-\text{mom})\,\theta$ |
# | default | $\beta=0.9$ | — | 0.1 (so $\beta=0.9$); `None`: plain cumulative average | 0.99 (so $\beta=0.99$) |
# | variance used to normalize in training | biased, $1/m$ | biased, $1/m$ | biased | biased |
# | variance stored for inference | EWA of unbiased $\frac{m}{m-1}\sigma_B^2$ (switchable) | $\frac{m}{m-1}E_B[\sigma^2_B]$ | EWA of unbiased | EWA of **biased** $\sigma^2_B$ |
# | start values | mean 0, var 1 | — | mean 0, var 1 | mean 0, var 1 |
# | ε default | $10^{-5}$ | unspecified | $10^{-5}$ | $10^{-3}$ |
# | batch of one in training | `ValueError` | needs $m>1$ | `ValueError` | no error, output $=\beta$ |

# %% [markdown] slideshow={"slide_type": "notes"}
# PyTorch's `momentum` weighs the **new** value. That is the opposite of Keras, and of the
# momentum (动量) of gradient descent. `momentum=0.1` in PyTorch is the same average as
# `momentum=0.9` in Keras. Keras's default of 0.99 remembers about 100 batches, PyTorch's
# about 10.

# %% slideshow={"slide_type": "subslide"}
print("PyTorch momentum 0.1  -> beta =", round(rs.beta_from_pytorch_momentum(0.1), 4))
print("Keras momentum 0.99   -> beta =", rs.beta_from_keras_momentum(0.99))
print("beta 0.9 -> PyTorch momentum =", round(rs.pytorch_momentum_from_beta(0.9), 4),
      " Keras momentum =", rs.keras_momentum_from_beta(0.9))
for key, c in rs.CONVENTIONS.items():
    print(f"{key:8s} stores: {c.stored_variance}")

# %% [markdown] slideshow={"slide_type": "fragment"}
# The same batches in two dialects. The running means agree; the running variances differ
# because PyTorch stores the unbiased batch variance and Keras the biased one:

# %%
rng = np.random.default_rng(2)
batches = [rng.normal(3.0, 2.0, size=(4, 2)) for _ in range(5)]
torch_like = rs.ema_statistics(batches, beta=rs.beta_from_pytorch_momentum(0.1), unbiased=True)
keras_like = rs.ema_statistics(batches, beta=rs.beta_from_keras_momentum(0.9), unbiased=False)
print("running mean  PyTorch-style:", torch_like[0], " Keras-style:", keras_like[0])
print("running var   PyTorch-style:", torch_like[1], " Keras-style:", keras_like[1])

# %% [markdown] slideshow={"slide_type": "notes"}
# *Two different β's.* The notes use β twice: for the weight of the old value in the
# average, and for the learned shift of BN ($\tilde z=\gamma \hat x+\beta$). They
# have nothing to do with each other. In the code the `beta` of `update_running_stats` is
# the weight; the `beta` of `batchnorm_inference` is the shift. PyTorch avoids the clash with
# `momentum`/`bias`, Keras with `momentum`/`beta`.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. Biased or unbiased variance? Worked through with numbers
#
# Take a batch $z=(1, 2, 6)$, $m=3$. Mean $\mu_B=3$; deviations $-2,-1,3$; squared
# $4, 1, 9$; sum 14.
#
# * biased: $\sigma_B^2 = 14/3 \approx 4.667$, the batch's own spread. BN normalizes the batch with this one.
# * unbiased: $\frac{m}{m-1}\sigma_B^2 = 14/2 = 7$, an **unbiased estimate (无偏估计)** of
#   the variance of the **population (总体)** the batch came from.

# %% [markdown] slideshow={"slide_type": "notes"}
# Why $m/(m-1)$: the batch's own mean is always closer to its values than the population
# mean is, so on average $E[\sigma_B^2]=\frac{m-1}{m}\sigma^2$. Measured on 20 000 batches of 3
# from a population with $\sigma^2=4$:

# %%
z = np.array([1.0, 2.0, 6.0])
print("biased:", round(z.var(), 4), " unbiased:", z.var(ddof=1),
      " converter:", rs.unbiased_from_biased(z.var(), m=3))
s = ema.batch_stream(3, steps=20_000, seed=1)
print(f"average biased batch variance   {s.var_biased.mean():.3f}  (theory 2/3 * 4 = {2/3*4:.3f})")
print(f"average unbiased batch variance {s.var_unbiased.mean():.3f}  (theory 4)")

# %% [markdown] slideshow={"slide_type": "notes"}
# **Which one should be stored?** In training each batch is normalized by its own biased
# variance, so the normalized values $\hat x$ of every batch have mean square 1 (up to ε). At
# test time, dividing by the population variance $\sigma^2$ keeps that: $\hat x$ has
# variance 1 over the population. The unbiased average estimates $\sigma^2$. The biased one
# estimates $\frac{m-1}{m}\sigma^2$ and makes the test-time $\hat x$ $\sqrt{m/(m-1)}$ times too
# large. That is why the paper and PyTorch store the unbiased variance. For Keras's choice
# the size of the error depends on $m$:

# %%
for m in (2, 4, 16, 60, 256):
    print(f"m = {m:3d}: biased average = {(m - 1) / m:.4f} sigma^2, "
          f"x_hat {np.sqrt(m / (m - 1)):.4f} times too large")

# %% [markdown] slideshow={"slide_type": "subslide"}
# With the usual batch sizes (32 and up) the difference is below 2 %. With tiny batches
# (2–4, common in detection or segmentation, where images are large) it is 15–41 %.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Your turn: the two functions of test time (graded)
#
# ### Exercise 1: `update_running_stats`
#
# Write `update_running_stats(running_mean, running_var, z, beta=0.9, unbiased=True)`:
#
# * `running_mean`, `running_var`: shape `(n,)`, the current estimates (they start at 0 and 1);
# * `z`: shape `(m, n)`, this mini-batch's pre-activations (rows are examples), $m\ge2$;
# * returns the **new** `(running_mean, running_var)`, each `(n,)`:
#
# $$\text{running} \leftarrow \beta\cdot\text{running} + (1-\beta)\cdot\text{batch statistic},$$
#
# where the batch statistics are the mean of each column and its variance, unbiased
# ($\frac{1}{m-1}$, `ddof=1`) when `unbiased=True` and biased ($\frac1m$) otherwise.
# Do not modify the inputs.

# %% nbgrader={"grade": false, "grade_id": "update_running_stats", "locked": false, "schema_version": 3, "solution": true}
def update_running_stats(running_mean, running_var, z, beta=0.9, unbiased=True):
    """One step of the running averages: returns new (running_mean, running_var)."""
    ### BEGIN SOLUTION
    batch_mean = z.mean(axis=0)
    batch_var = z.var(axis=0, ddof=1 if unbiased else 0)
    new_mean = beta * running_mean + (1 - beta) * batch_mean
    new_var = beta * running_var + (1 - beta) * batch_var
    return new_mean, new_var
    ### END SOLUTION


# %% tags=["exercise-feedback"]
checks.check_update_running_stats(update_running_stats)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: `batchnorm_inference`
#
# Write `batchnorm_inference(z, gamma, beta, running_mean, running_var, eps=1e-5)`:
#
# * `z`: shape `(m, n)`, any $m\ge1$; `gamma`, `beta` (the learned scale and shift),
#   `running_mean`, `running_var`: shape `(n,)`;
# * returns $\gamma\,\dfrac{z-\text{running\_mean}}{\sqrt{\text{running\_var}+\varepsilon}}+\beta$, shape `(m, n)`.
#
# The batch's own statistics must not appear anywhere.

# %% nbgrader={"grade": false, "grade_id": "batchnorm_inference", "locked": false, "schema_version": 3, "solution": true}
def batchnorm_inference(z, gamma, beta, running_mean, running_var, eps=1e-5):
    """Batch Norm in inference mode: every example normalized by the fixed statistics."""
    ### BEGIN SOLUTION
    x_hat = (z - running_mean) / np.sqrt(running_var + eps)
    return gamma * x_hat + beta
    ### END SOLUTION


# %% tags=["exercise-feedback"]
checks.check_batchnorm_inference(batchnorm_inference)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. Pitfalls, measured
#
# ### 6.1 Forgetting to switch to inference mode
#
# In PyTorch this is forgetting `model.eval()`. In our network it is calling
# `forward(X, training=True)` to evaluate. The test set is then cut into batches, and each
# batch is normalized by its own statistics:

# %%
print(f"inference mode:                      {model.accuracy(X_val, y_val):.4f}")
for size in (450, 60, 16, 4, 2):
    acc = rs.training_mode_accuracy(model, X_val, y_val, batch_size=size)
    print(f"training mode, random batches of {size:3d}: {acc:.4f}")
for size in (450, 30):
    acc = rs.training_mode_accuracy(model, X_val, y_val, batch_size=size, sort_by_label=True)
    print(f"training mode, batches of {size:3d} sorted by class: {acc:.4f}")

# %% [markdown] slideshow={"slide_type": "notes"}
# With large random batches nothing seems wrong, which is why the mistake survives in
# practice. In PyTorch a training-mode forward pass also **updates** the running statistics
# with the test data; our `training_mode_accuracy` does not.
#
# ### Question 1 (written, graded by hand)

# %% [markdown] slideshow={"slide_type": "notes"}
# Describe what the accuracies above show for small batches and for batches sorted by
# class, and explain why batches of 30 examples of one class do so much worse in training
# mode than in inference mode. Two or three sentences.

# %% [markdown] nbgrader={"grade": true, "grade_id": "training_mode_answer", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false} slideshow={"slide_type": "notes"}
# **Model answer.** In inference mode the accuracy is 0.9756 whatever the batch. In training
# mode it is about the same with large random batches (0.9733 with 60 or 450 examples), falls
# as the batches shrink (0.8244 with 4, 0.6089 with 2), and collapses to 0.2844 with batches
# of 30 sorted by class. Each batch is normalized by its own mean and variance: in a batch of
# one class the mean is that class's typical pattern, so subtracting it removes exactly what
# the examples have in common and leaves only their differences, which the network never
# learned to read. In small batches the statistics are so noisy that each prediction depends
# on its neighbours.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### 6.2 β too close to 1 for a short training run

# %% [markdown] slideshow={"slide_type": "notes"}
# The three copies of section 1 have identical weights. Their running averages used
# β = 0.9, 0.99 and 0.999, whose windows are 10, 100 and 1000 steps. The training run is
# 600 steps long. The dotted vertical lines mark the windows that fit in the run. The
# dashed line uses the population statistics, recomputed from the training set with the
# weights of that moment (see "Going deeper"):

# %% alt="Validation accuracy in inference mode over training for running averages with beta 0.9, 0.99 and 0.999, and with recomputed statistics (dashed): beta 0.999 stays far below the others after 600 steps."
rs.plot_accuracy_by_beta(histories, recalibrated_acc=histories[0.9].monitor)
plt.show()

# %% slideshow={"slide_type": "subslide"}
for b, m_ in models.items():
    fixed = m_.copy()  # bias-corrected running statistics: (v - beta^t v0) / (1 - beta^t)
    fixed.running_mean = [ema.bias_correct(v, b, 600, v0=0.0) for v in m_.running_mean]
    fixed.running_var = [ema.bias_correct(v, b, 600, v0=1.0) for v in m_.running_var]
    print(f"beta = {b:<5}: weight left on the start values beta^600 = {b**600:.2g}; "
          f"val. accuracy: running {m_.accuracy(X_val, y_val):.4f}, "
          f"bias-corrected {fixed.accuracy(X_val, y_val):.4f}, "
          f"recalibrated {recalibrated_accuracy(m_):.4f}")

# %% [markdown] slideshow={"slide_type": "notes"}
# The remedies: a β whose window $1/(1-\beta)$ is much shorter than the run, the bias
# correction (PyTorch and Keras do not apply it), or recalibrating after training ("Going
# deeper"). The same trap awaits Keras's default (`momentum=0.99`, window 100) on a short
# fine-tuning run of a few dozen steps.

# %% [markdown] slideshow={"slide_type": "fragment"}
# ### Question 2 (written, graded by hand)

# %% [markdown] slideshow={"slide_type": "notes"}
# The three copies have identical weights. Use the printed numbers to explain why the
# β = 0.999 copy scores so much lower in inference mode than with recalibrated statistics,
# and why the bias correction repairs most of the gap. Two to four sentences.

# %% [markdown] nbgrader={"grade": true, "grade_id": "short_run_answer", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false} slideshow={"slide_type": "notes"}
# **Model answer.** After 600 steps, β^600 = 0.55 of the running averages' weight is still on
# the start values (mean 0, variance 1), so every running mean is pulled towards 0 and every
# running variance towards 1. Inference mode normalizes with these wrong statistics and the
# accuracy falls to 0.5600, although the weights are good: 0.9733 with the population
# statistics of the same weights. The bias correction (v − β^t v₀)/(1 − β^t) removes the start
# values' share and rescales what is left, an average of batch statistics only: 0.9622. It
# stays a little below because that average still mixes in statistics of older weights.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Self-check

# %% [markdown] slideshow={"slide_type": "notes"}
# 1. A single test example goes through a BN layer in training mode. What comes out, and why?
# 2. β = 0.95: what is the effective window? What weight does a value 20 steps old have,
#    relative to the newest?
# 3. A PyTorch model uses `BatchNorm1d(momentum=0.01)`. What is this course's β, and which
#    Keras `momentum` gives the same average?
# 4. $v_0=0$, β = 0.9, and every batch mean is 5. What are $v_{10}$ and its bias-corrected value?
# 5. The batch is $(2, 4, 9)$. What are its biased and unbiased variances? Which one does
#    PyTorch store in `running_var`?
# 6. Validation accuracy is 97 % during training, but 40 % when a colleague evaluates the
#    model on test images grouped by class. What went wrong?
# 7. You fine-tune for 50 steps with Keras's defaults and the fine-tuned model is much worse
#    in inference mode than in training mode. Why, and what are two fixes?

# %% [markdown] slideshow={"slide_type": "-"}
# <details><summary>Answers</summary>
#
# 1. $\mu_B = z$, $\sigma_B^2 = 0$, so $\hat x=0$ and the output is $\beta$ for every
#    input. PyTorch and this course raise an error instead; Keras returns $\beta$.
# 2. $1/(1-0.95) = 20$ steps; $0.95^{20}\approx 0.36\approx 1/e$.
# 3. β = 1 − 0.01 = 0.99; Keras `momentum=0.99`.
# 4. $v_{10}=5(1-0.9^{10})\approx 3.257$; corrected $3.257/(1-0.9^{10}) = 5$.
# 5. Mean 5, squared deviations 9, 1, 16, sum 26: biased $26/3\approx 8.667$, unbiased 13.
#    PyTorch stores the unbiased one (in its running average).
# 6. The model was evaluated in training mode: each batch was normalized by its own
#    statistics, and a batch of one class loses what its examples have in common. Switch to
#    inference mode (`model.eval()` in PyTorch).
# 7. The window of β = 0.99 is about 100 steps, so after 50 steps the running statistics
#    are still about $0.99^{50}\approx 60\%$ the old ones (the start values or the
#    pre-trained model's). Fixes: recalibrate after fine-tuning (a pass over training data
#    with the final weights), or use a smaller β (a smaller Keras `momentum`). When the BN
#    layers belong to a pre-trained base model, the usual Keras answer is to keep them in
#    inference mode during fine-tuning: call the base model with `training=False` (and
#    setting `trainable = False` on a `BatchNormalization` layer also makes it run in
#    inference mode, since TensorFlow 2.0). Their running statistics then stay those of the
#    pre-training, and the fine-tuned layers learn with the statistics used at test time.
#
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. Summary of the lesson, and of the series

# %% [markdown] slideshow={"slide_type": "notes"}
# **This lesson (section 3 of the notes, completed).** In training mode a BN layer
# normalizes with the statistics of the batch, so a prediction depends on the other
# examples, and a single example always gives $\beta$. At test time the layer uses fixed
# estimates: $\hat x = (z-\mu)/\sqrt{\sigma^2+\varepsilon}$, $\tilde z=\gamma \hat x+\beta$.
# The frameworks keep them with an exponentially weighted average
# $v_t=\beta v_{t-1}+(1-\beta)\theta_t$, which remembers about $1/(1-\beta)$ batches and is
# biased towards its start values for the first few multiples of that window ($v_t/(1-\beta^t)$
# removes the bias; PyTorch and Keras do not apply it). PyTorch's `momentum` is $1-\beta$, Keras's
# is $\beta$; PyTorch stores the unbiased variance, Keras the biased one. A β too close to 1 for
# the length of the run leaves the statistics near their start values. Evaluate in inference
# mode. ("Going deeper": the paper's Algorithm 2 or a whole pass over the training set give
# the statistics of the final weights, and recalibrating after training is cheap.)
#
# **The series.**
#
# * **01 Input normalization (输入归一化):** subtract the training mean μ and divide by
#   the training standard deviation σ (not σ², the notes' error), feature by feature. Apply the
#   *same* μ and σ to the test set.
# * **02 Cost contours:** raw features of very different scales make the cost an elongated
#   bowl. Gradient descent must then use a learning rate below $2/\lambda_{\max}$ and crawls along
#   the flat direction. Normalized features give round contours and far fewer iterations.
# * **03 Batch Norm formulas (Batch归一化, 批量规范化):** per mini-batch $\mu_B$, $\sigma^2_B$ (biased),
#   $\hat x=(z-\mu_B)/\sqrt{\sigma^2_B+\varepsilon}$, $\tilde z=\gamma \hat x+\beta$. The backward pass
#   is derived on the computational graph and gradient-checked. BN can undo itself on a batch
#   ($\gamma=\sqrt{\sigma^2+\varepsilon}$, $\beta=\mu$).
# * **04 Batch Norm in a network:** BN goes before the activation and replaces the bias
#   $b^{[l]}$; lesson 04 measures what it does to training on real data.
# * **05 Batch Norm at test time (测试时的 Batch Norm):** fixed statistics from an
#   exponentially weighted average (or recomputed after training) replace the batch's.
#   Know your framework's conventions and switch modes deliberately.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### References

# %% [markdown] slideshow={"slide_type": "notes"}
# * S. Ioffe, C. Szegedy. *Batch Normalization: Accelerating Deep Network Training by
#   Reducing Internal Covariate Shift.* ICML 2015: Algorithm 2 (inference network,
#   population statistics with $\frac{m}{m-1}E_B[\sigma_B^2]$).
# * Y. Wu, J. Johnson. *Rethinking "Batch" in BatchNorm.* arXiv:2105.07576, 2021
#   (population statistics after training, "precise BN").
# * PyTorch documentation, `torch.nn.BatchNorm1d` (`momentum`, unbiased running variance) and
#   `torch.optim.swa_utils.update_bn`; Keras 3 documentation, `keras.layers.BatchNormalization`
#   (moving statistics update rule).

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# ## Going deeper: three estimates of the statistics, and recalibration
#
# The running average is cheap but approximate. It mixes statistics from the last
# $\approx 1/(1-\beta)$ steps, each computed with slightly different (older) weights.
# Once training has finished the weights are fixed, and the statistics of *this*
# network can be computed directly:
#
# * **Algorithm 2 of the paper** (Ioffe & Szegedy 2015): pass training mini-batches
#   of size $m$ through the trained network in training mode and average:
#   $E[x]=E_B[\mu_B]$, $\mathrm{Var}[x]=\frac{m}{m-1}E_B[\sigma^2_B]$. The inference layer is then
#   $y=\frac{\gamma}{\sqrt{\mathrm{Var}[x]+\varepsilon}}\,x+\bigl(\beta-\frac{\gamma E[x]}{\sqrt{\mathrm{Var}[x]+\varepsilon}}\bigr)$.
# * **A whole pass**: the whole training set as one batch, so each layer gets the mean
#   and variance of its inputs over all training examples, computed from the
#   lower layers in inference mode. These are exactly the statistics of the network used at test time.
#
# The paper itself remarks that moving averages can be used instead, so that a model's
# accuracy can be tracked while it trains; that is what the frameworks do by default.
# `rs.recalibrated(model, X, method)` returns a copy of the model with either set of statistics:

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
estimates = {
    "running average (beta = 0.9)": model,
    "Algorithm 2 (one epoch, m = 60)": rs.recalibrated(model, X, "population", batch_size=60),
    "whole training set": rs.recalibrated(model, X, method="whole"),
}
whole = estimates["whole training set"]
for name, m_ in estimates.items():
    pairs = zip(m_.running_var, whole.running_var, strict=True)
    gap = max(np.abs(v / w - 1).max() for v, w in pairs)
    print(f"{name:32s} validation accuracy {m_.accuracy(X_val, y_val):.4f}   "
          f"largest variance gap to the whole pass {gap:6.1%}")
alg2 = estimates["Algorithm 2 (one epoch, m = 60)"]
ratios = [np.median(a / w) for a, w in zip(alg2.running_var, whole.running_var, strict=True)]
print("Algorithm 2 / whole pass, median variance ratio in layers 1, 2, 3:", np.round(ratios, 3))

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# After a normal run (600 steps, β = 0.9, window ≈ 10 steps) the three estimates agree to
# one validation example in 450 (0.2 %), which is noise. Individual variances still differ
# by up to 19 % between the running average and the whole pass. With β = 0.9 the running
# average rests on the last ≈ 10 batches (≈ 600 examples), so each variance carries sampling
# noise. Algorithm 2 averages a whole epoch and stays within about 5 %. Its variances in
# layers 2 and 3 are still 2–4 % larger than the whole pass's: in training mode an upper layer
# sees lower layers normalized by noisy batch statistics, which adds variance that inference
# mode does not have.
#
# **Recalibrate after training.** It is common practice to recompute the statistics once
# training is over, with the final weights: e.g. "precise BN" (Wu & Johnson 2021), and PyTorch's
# `torch.optim.swa_utils.update_bn`, which resets the running statistics and makes one
# training-mode pass with `momentum=None` (a plain average: Algorithm 2). It is needed
# whenever the running statistics no longer describe the weights: after averaging weights
# (SWA), pruning or editing a trained network, after training too short for β (section 6.2),
# or when the input distribution has changed. In that last case, a pass over new unlabeled
# data updates the statistics without any retraining (AdaBN, Li et al. 2016). It can undo a
# change that shifts and scales each unit; it cannot undo a change of content.

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# ## Going deeper: a batch of one in training mode, library by library
#
# The variance of a single example is 0. Each library handles this differently:

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
one = X_val[:1]
try:
    model.forward(one, training=True)
except ValueError as e:
    print("course_lib network, ValueError:", e)
try:
    bn.batchnorm_forward(np.ones((1, 3)), np.ones(3), np.zeros(3))
except ValueError as e:
    print("course_lib batchnorm_forward, ValueError:", str(e)[:75], "...")

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# PyTorch refuses as well: `ValueError: Expected more than 1 value per channel when
# training, got input size torch.Size([1, 100])`. Keras 3 raises no error. It normalizes
# the single example by its own mean (itself) and variance (0) with $\varepsilon=10^{-3}$, so every
# BN output equals the shift $\beta$, whatever the input. Here is that computation on three different examples:

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
p = model.params
z1 = X_val[:3] @ p["W1"]  # the first BN layer's input for 3 examples
# Keras's computation for a batch of one: its own mean (itself) and variance (0), eps = 1e-3
keras_way = [bn.batchnorm_inference(z1[i:i + 1], p["gamma1"], p["beta1"],
                                    running_mean=z1[i], running_var=np.zeros(100), eps=1e-3)
             for i in range(3)]
print("outputs equal the shift beta1 for all 3:",
      all(np.allclose(o[0], p["beta1"]) for o in keras_way))

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# When every hidden BN layer outputs its $\beta$, the logits are
# $g(\beta^{[3]})\,W^{[4]}+b^{[4]}$ ($g$ the sigmoid), the same for every input. The network then predicts one class for everything:

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
h = sigmoid(p["beta3"])  # the last hidden layer's activations, any input
constant_class = int(np.argmax(h @ p["W4"] + p["b4"]))
print(f"every example gets class {constant_class}: accuracy {np.mean(y_val == constant_class):.4f}")

# %% [markdown] slideshow={"slide_type": "slide"} tags=["graded-checks"]
# ## Graded checks
#
# These cells give the two coding exercises their points (the two written questions are
# graded by hand). What runs where:
#
# - **In your copy** (the exercise version), each cell runs the same checker as the
#   feedback cell under the exercise, nothing more. A failing check stops with an
#   `AssertionError` and its hint.
# - **When an instructor grades** with nbgrader (`nbgrader autograde`), hidden tests on
#   fresh random cases are put back into these cells and run after the checker, so a
#   function written to pass only the checker's cases loses points. In the worked version
#   of this notebook you can read them under the checker.

# %% nbgrader={"grade": true, "grade_id": "update_running_stats_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
checks.check_update_running_stats(update_running_stats).assert_ok()
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(2015)
_cases = [(7, 5, 0.95, True), (3, 2, 0.7, False), (40, 9, 0.999, True), (2, 1, 0.0, True)]
for _m, _n, _b, _u in _cases:
    _rm, _rv, _z = _rng.normal(size=_n), _rng.uniform(0.2, 3.0, _n), _rng.normal(1.0, 2.0, (_m, _n))
    _copies = (_rm.copy(), _rv.copy(), _z.copy())
    _got = update_running_stats(_rm, _rv, _z, beta=_b, unbiased=_u)
    _exp = bn.update_running_stats(_copies[0], _copies[1], _copies[2], beta=_b, unbiased=_u)
    assert np.allclose(_got[0], _exp[0]) and np.allclose(_got[1], _exp[1])
    assert all(np.array_equal(a, c) for a, c in zip((_rm, _rv, _z), _copies, strict=True))
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "batchnorm_inference_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
checks.check_batchnorm_inference(batchnorm_inference).assert_ok()
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(2016)
for _m, _n, _eps in [(1, 6, 1e-5), (9, 4, 0.01), (3, 1, 1e-3)]:
    _args = (_rng.normal(size=(_m, _n)), _rng.uniform(0.5, 2.0, _n), _rng.normal(size=_n),
             _rng.normal(size=_n), _rng.uniform(0.0, 3.0, _n))
    _copies = tuple(a.copy() for a in _args)
    _got = batchnorm_inference(*_args, eps=_eps)
    assert np.allclose(_got, bn.batchnorm_inference(*_copies, eps=_eps))
    assert all(np.array_equal(a, c) for a, c in zip(_args, _copies, strict=True))
### END HIDDEN TESTS
