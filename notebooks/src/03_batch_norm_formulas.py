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
# # Lesson 03 · Batch Norm formulas: forward, backward, gradient checks
#
# *Lesson 3 of 7 · section 2 of the notes, "Batch归一化" (Batch Normalization; 批量规范化
# in the Chinese edition of d2l), the formulas.*

# %% [markdown] slideshow={"slide_type": "notes"}
# **Time.** About 45 minutes for the core path (sections 1–9, the two exercises and the
# two written questions included). The "Going deeper" sections after the summary add
# about 5 minutes; you can skip them without losing the thread.
#
# Lessons 01 and 02 normalized the **inputs** of a network. Batch Normalization
# (Ioffe & Szegedy, 2015) applies the same idea inside the network, to every hidden
# layer, using the statistics of the current **mini-batch (小批量)**.
#
# **After this lesson you can**
#
# 1. compute the four steps of Batch Norm (mean, variance, normalize, scale and shift)
#    by hand and in NumPy, and say what γ, β and ε do;
# 2. show that Batch Norm can undo itself (γ = √(σ² + ε), β = μ), and say for which
#    statistics that holds;
# 3. derive the backward pass yourself on the computational graph, then simplify it to
#    a compact form;
# 4. check any backward pass numerically (central differences, a random upstream
#    gradient, the relative error) and know what result to expect;
# 5. state and test Batch Norm's invariance BN(a·z + b) = BN(z) for a > 0 and what it
#    means for the gradient of the weights.

# %% [markdown] slideshow={"slide_type": "-"}
# Everything runs on the tested functions of `course_lib`; you write your own
# forward and backward pass in two graded exercises.

# %% tags=["imports"]
import matplotlib.pyplot as plt
import numpy as np

from course_lib import batchnorm as bn  # the reference: bn.batchnorm_forward, ...
from course_lib import bn_plots, checks
from course_lib import gradcheck as gc  # gc.numerical_gradients, gc.relative_error, ...

np.set_printoptions(precision=4, suppress=True)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 1. Why normalize the hidden layers too

# %% [markdown] slideshow={"slide_type": "notes"}
# The notes' motivation: normalizing only the input data is not enough. After many
# layers the distributions of the hidden values drift more and more as the weights
# of the earlier layers change, so each hidden layer should have its **input**
# normalized as well.
#
# *Which* value is normalized is a choice. The input of layer *l* is the activation
# a<sup>[l−1]</sup> = g<sup>[l−1]</sup>(z<sup>[l−1]</sup>); the notes (and this course) normalize
# the value **before** the activation instead: "严格来说,真正归一化的不是a[l−1],而是z[l−1]"
# ("strictly speaking, what is normalized is not a<sup>[l−1]</sup> but z<sup>[l−1]</sup>").
# In every layer *l* that means normalizing the pre-activation
# z<sup>[l]</sup> = W<sup>[l]</sup>a<sup>[l−1]</sup> + b<sup>[l]</sup> before g<sup>[l]</sup>, so that

# %% [markdown] slideshow={"slide_type": "-"}
# $$z^{[l]} \;\xrightarrow{\text{BN}}\; \tilde z^{[l]} \;\xrightarrow{g^{[l]}}\; a^{[l]}.$$

# %% [markdown] slideshow={"slide_type": "notes"}
# That is what the original paper does: it inserts the transform "immediately before
# the nonlinearity", arguing that Wu + b is more likely to have a symmetric,
# non-sparse distribution than the output of the previous nonlinearity
# (Ioffe & Szegedy, 2015, §3.2). Normalizing a<sup>[l]</sup> after the activation is
# also used in practice; lesson 04 builds the network with BN before the activation.

# %% [markdown] slideshow={"slide_type": "-"}
# Layout, as everywhere in this course: **rows are examples**. A mini-batch of
# m examples of a layer with n units is an array `z` of shape (m, n); Batch Norm
# works on each column (unit, feature) separately.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 2. The four formulas
#
# For one unit, over the m examples z⁽¹⁾ … z⁽ᵐ⁾ of the mini-batch:
#
# $$
# \begin{aligned}
# &(1)\ \text{mean (均值):} && \mu = \frac{1}{m}\sum_{i=1}^{m} z^{(i)} \\
# &(2)\ \text{variance (方差):} && \sigma^2 = \frac{1}{m}\sum_{i=1}^{m} \left(z^{(i)}-\mu\right)^2 \\
# &(3)\ \text{normalize (归一化处理):} && \hat x^{(i)} = \frac{z^{(i)}-\mu}{\sqrt{\sigma^2+\varepsilon}} \\
# &(4)\ \text{scale and shift (重构):} && \tilde z^{(i)} = \gamma\, \hat x^{(i)} + \beta
# \end{aligned}
# $$

# %% [markdown] slideshow={"slide_type": "notes"}
# - ε is a small number (here 10⁻⁵) that keeps the denominator away from 0.
# - γ and β are **learnable parameters (学习参数)**, one of each per unit, trained by
#   gradient descent like the weights.
# - The variance is the batch's own, with 1/m (np.var's default `ddof=0`), as in the
#   paper's Algorithm 1, PyTorch and Keras; the unbiased 1/(m−1) version appears only
#   at test time (lesson 05).
# - The notes call the normalized value z<sub>norm</sub>; the paper, `course_lib` and this
#   lesson call it **x̂** (`x_hat`).

# %% [markdown] slideshow={"slide_type": "notes"}
# **A correction.** The notes title step (2) "求上一层输出数据的**标准差**": the
# *standard deviation* (标准差). The formula of step (2) computes the **variance**
# σ² (方差), the square of the standard deviation σ. What divides in step (3) is
# √(σ² + ε), a standard deviation with ε added. The worked example below prints both,
# so the difference is a number, not a matter of words.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 3. A worked example: a 4×3 mini-batch, step by step
#
# Four examples (rows), three units (columns) on very different scales.

# %% slideshow={"slide_type": "subslide"} tags=["slide-output-only"]
z = np.array([
    [2.0, 10.0, -1.0],
    [4.0, 30.0, 2.0],
    [6.0, 20.0, 3.0],
    [8.0, 40.0, 8.0],
])
gamma = np.array([1.0, 2.0, 0.5])
beta = np.array([0.0, 1.0, -1.0])
eps = 1e-5
m = z.shape[0]

mu = z.sum(axis=0) / m                       # (1) one mean per unit: sum over the rows
var = ((z - mu) ** 2).sum(axis=0) / m        # (2) the variance (the notes say "standard deviation")
x_hat = (z - mu) / np.sqrt(var + eps)        # (3)
z_tilde = gamma * x_hat + beta               # (4)

print("(1) mu          =", mu)
print("(2) sigma^2     =", var, "  <- a variance")
print("    sigma       =", np.sqrt(var), "  <- the standard deviation is its square root")
print("    sqrt(var+eps) =", np.sqrt(var + eps))
print("(3) x_hat =\n", x_hat)
print("(4) z_tilde =\n", z_tilde)

# %% [markdown] slideshow={"slide_type": "subslide"}
# After step (3) every column has mean 0 and variance σ²/(σ² + ε): 1 up to the tiny
# effect of ε. After step (4) the mean is β and the variance γ²·σ²/(σ² + ε).
# `course_lib`'s `batchnorm_forward` gives the same numbers.

# %%
def show(x):
    """Rounded for printing: 1e-17 of rounding noise shows as 0, never as -0."""
    return np.round(x, 10) + 0.0


print("mean of x_hat:         ", show(x_hat.mean(axis=0)))
print("variance of x_hat:     ", show(x_hat.var(axis=0)))
print("1 - variance, x 1e6:   ", show((1 - x_hat.var(axis=0)) * 1e6), "  = eps / (sigma^2 + eps), x 1e6:", show(eps / (var + eps) * 1e6))
print("mean of z_tilde:       ", show(z_tilde.mean(axis=0)), "  = beta")
print("variance of z_tilde:   ", show(z_tilde.var(axis=0)), "  ~ gamma^2 =", gamma**2)
out, cache = bn.batchnorm_forward(z, gamma, beta, eps)
print("same as bn.batchnorm_forward:", np.allclose(out, z_tilde, rtol=1e-12, atol=1e-12))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 4. γ and β: Batch Norm can undo itself
#
# Normalizing every layer could take away what the layer is able to represent (a unit
# whose useful range is around 5, not 0). Step (4) gives it back: if the network learns
#
# $$\gamma = \sqrt{\sigma^2+\varepsilon}, \qquad \beta = \mu,$$

# %% [markdown] slideshow={"slide_type": "notes"}
# then $\tilde z^{(i)} = \sqrt{\sigma^2+\varepsilon}\,\dfrac{z^{(i)}-\mu}{\sqrt{\sigma^2+\varepsilon}} + \mu = z^{(i)}$:
# the identity. So the normalized layer can represent everything the plain layer could;
# gradient descent chooses the mean β and spread γ that serve the loss, instead of
# inheriting whatever the previous layers produce (Ioffe & Szegedy, 2015, §3).

# %%
gamma_id = np.sqrt(var + eps)
beta_id = mu
z_back, cache_back = bn.batchnorm_forward(z, gamma_id, beta_id, eps)
print("gamma = sqrt(var + eps) =", gamma_id)
print("beta  = mu              =", beta_id)
print("BN(z) with these:\n", z_back)
print("equal to z:", np.allclose(z_back, z, rtol=0, atol=1e-12))

# %% [markdown] slideshow={"slide_type": "notes"}
# **For which statistics?** The identity holds for the μ and σ² of **one** batch, the
# batch γ and β were set from (or at inference, where μ and σ² are fixed numbers, lesson 05).
# In training every mini-batch has its own μ and σ², while γ and β are one pair of
# numbers for all of them. So no γ, β undo Batch Norm on every training batch at once:
# BN always removes each batch's own fluctuation of the mean and the spread. Here are the
# same γ, β on the next mini-batch:

# %% slideshow={"slide_type": "subslide"}
z_next = np.array([
    [1.0, 24.0, 0.0],
    [7.0, 18.0, 5.0],
    [9.0, 52.0, 1.0],
    [3.0, 34.0, 6.0],
])
z_next_back, cache_next_back = bn.batchnorm_forward(z_next, gamma_id, beta_id, eps)
print("mu, sigma^2 of the next batch:", z_next.mean(axis=0), z_next.var(axis=0))
print("BN(z_next) with the same gamma, beta:\n", z_next_back)
print("equal to z_next:", np.allclose(z_next_back, z_next, rtol=0, atol=1e-12))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 5. Explore γ, β, ε and the input's distribution

# %% [markdown] slideshow={"slide_type": "notes"}
# One unit, one batch of 256 values, before and after Batch Norm (solid line: mean,
# dashed: ± one standard deviation). The input below is skewed, centred at −15 with
# spread 6; the output is centred at β = 2 with spread γ = 1.5.

# %% alt="Histograms of one feature of a skewed batch before Batch Norm (mean -15, spread 6) and after it with gamma 1.5 and beta 2 (mean 2, spread 1.5), same shape." slideshow={"slide_type": "subslide"}
bn_plots.plot_batch_histograms(gamma=1.5, beta=2.0, eps=1e-5, spread=6.0, mean=-15.0, shape="skewed")
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Things to try with the sliders:

# %% [markdown] slideshow={"slide_type": "notes"}
# - Move the **input mean** and **input std**: the left histogram moves and stretches,
#   the right one does not move at all. Its mean is β and its spread |γ|.
# - Change the **shape**: the output keeps the input's shape (skew, two bumps).
#   Batch Norm fixes the first two moments, the mean and the variance. It does not make
#   a distribution normal (Gaussian).
# - Set the input std to 0.001 (σ² = 10⁻⁶) and ε = 10⁻⁵: now ε is not small next to σ².
#   The output std drops to γσ/√(σ² + ε), about 30 % of γ. ε damps a unit that
#   barely varies instead of blowing its noise up to unit variance.

# %% tags=["widget", "nbval-ignore-output"]
# ipywidgets sliders for gamma, beta, eps and the input distribution
bn_plots.batchnorm_explorer()


# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise 1 · `batchnorm_forward` (graded)
#
# Write the forward pass (前向传播) in training mode (训练模式).

# %% [markdown] slideshow={"slide_type": "notes"}
# - `z`: shape (m, n), rows are examples, m ≥ 2; `gamma`, `beta`: shape (n,); `eps` > 0.
# - Return `(out, cache)`: `out` of shape (m, n) is z̃ from the four formulas;
#   `cache` is anything your `batchnorm_backward` (exercise 2) will need, for example
#   a tuple `(x_hat, gamma, inv_std)` with `inv_std` = 1/√(σ² + ε). You may come back
#   and add to it when you write the backward pass.
# - Use the batch's own variance (1/m), statistics over `axis=0`, ε inside the square
#   root, and do not modify `z` (write `z - mu`, not `z -= mu`).

# %% [markdown] slideshow={"slide_type": "-"}
# Do not call `bn.batchnorm_forward`: the point is to write the four formulas yourself.

# %% nbgrader={"grade": false, "grade_id": "batchnorm_forward", "locked": false, "schema_version": 3, "solution": true}
def batchnorm_forward(z, gamma, beta, eps=1e-5):
    """Batch Norm in training mode: (m, n) z, (n,) gamma and beta -> (out, cache)."""
    ### BEGIN SOLUTION
    mu = z.mean(axis=0)
    var = ((z - mu) ** 2).mean(axis=0)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (z - mu) * inv_std
    out = gamma * x_hat + beta
    cache = (x_hat, gamma, inv_std)
    return out, cache
    ### END SOLUTION


# %% tags=["exercise-feedback"]
checks.check_batchnorm_forward(batchnorm_forward)

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 6. The backward pass (反向传播) on the computational graph (计算图)

# %% [markdown] slideshow={"slide_type": "notes"}
# In a network, the layer after Batch Norm sends back the gradient of the loss with
# respect to BN's output, ∂L/∂z̃ (shape (m, n)); the code calls it **`dout`**. The backward
# pass must return ∂L/∂z (to pass on to the previous layer) and ∂L/∂γ, ∂L/∂β (to update the
# parameters). We write dv for ∂L/∂v: **dz̃** (= `dout`), **dz, dγ, dβ**, and dx̂ for the
# gradient reaching x̂; the checker's hints use the same names.
#
# The units do not interact (each column has its own μ and σ²), so it is enough to
# derive one unit; the index i runs over the m examples of the batch. The forward pass
# of one unit, split into eight nodes, with the local derivative of each edge in red:

# %% alt="The Batch Norm forward pass of one feature as a computational graph of eight nodes, from z through the mean, the deviations, the variance, the square root and its inverse to x-hat and the output gamma x-hat + beta." slideshow={"slide_type": "subslide"}
bn_plots.plot_computational_graph()
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Three rules are enough to walk the graph backwards (the chain rule, 链式法则):

# %% [markdown] slideshow={"slide_type": "notes"}
# 1. **Multiply.** The gradient a node receives, times the local derivative of an
#    edge, is what flows back along that edge.
# 2. **Sum over the batch.** μ, σ², s and r are *one* number per unit, used by all m
#    examples. Their gradient is a **sum over i** of what each example sends back.
# 3. **Add the paths.** A value that feeds two nodes (z feeds (1) and (2); d feeds (3)
#    and (7)) receives the **sum** of the gradients coming back along both edges.

# %% [markdown] slideshow={"slide_type": "notes"}
# Node (8) as a worked step. z̃ᵢ = γ x̂ᵢ + β, and γ, β are shared by the batch (rule 2):
#
# $$d\beta = \sum_i d\tilde z_i, \qquad d\gamma = \sum_i d\tilde z_i\,\hat x_i, \qquad
# d\hat x_i = \gamma\,d\tilde z_i .$$
#
# From x̂ back to zᵢ there are **three paths**, and dzᵢ is the sum of what each brings:
#
# - the **direct path**, zᵢ → dᵢ → x̂ᵢ (nodes (2) and (7));
# - the **mean path**, zᵢ → μ → every dⱼ (node (1)): μ depends on every example;
# - the **variance path**, zᵢ → dᵢ → qᵢ → σ² → s → r → every x̂ⱼ (nodes (3) to (6)):
#   σ² depends on every example too.

# %% [markdown] slideshow={"slide_type": "notes"}
# Take a sheet of paper and go through the nodes from (7) down to (1), one line per node:
# what gradient does each input of the node receive? Exercise 2 asks for the result.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 7. Gradient checking (梯度检验)

# %% [markdown] slideshow={"slide_type": "notes"}
# How will you know that your derivation is right? Compare it with **finite differences
# (有限差分)**. A layer returns an array, not a loss, so take the scalar
# $L(z) = \sum_{i,j} \text{out}_{ij}(z)\cdot \text{dout}_{ij}$, whose gradient with respect
# to `out` is exactly `dout`, and differentiate it one entry at a time with **central
# differences (中心差分)**:

# %% [markdown] slideshow={"slide_type": "-"}
# $$\frac{\partial L}{\partial z_k} \approx \frac{L(z + h\,e_k) - L(z - h\,e_k)}{2h},
# \qquad \text{error } O(h^2).$$

# %% [markdown] slideshow={"slide_type": "notes"}
# Compare the analytic gradient *a* with the numerical one *b* by the **relative error
# (相对误差)** $\max_k |a_k-b_k| \,/\, \max_k(|a_k|+|b_k|)$ (`gc.relative_error`).
# **The yardstick, the same in this lesson, `course_lib` and the checkers (`gc.verdict`),
# in float64 with h = 10⁻⁵: below 10⁻⁷, correct; above 10⁻⁴, a bug; in between, look
# closer** (a small term such as ε forgotten, or a true gradient so tiny that the finite
# differences' own error matters). A wrong formula is off by a whole term, far above 10⁻⁴;
# a correct backward is at round-off, far below 10⁻⁷. The figure shows why
# h = 10⁻⁵: a larger h adds truncation error (∝ h²); a smaller h lets rounding error
# (∝ 10⁻¹⁶/h) take over.

# %% alt="Relative error of the numerical gradient against the step h on log-log axes: a V shape, the truncation error growing with h on the right, the round-off error growing as h shrinks on the left." slideshow={"slide_type": "subslide"}
bn_plots.plot_gradcheck_steps()
plt.show()


# %% slideshow={"slide_type": "subslide"}
def check_backward(backward, z, gamma, beta, dout, eps=1e-5):
    """Relative error of each gradient of `backward` against central differences."""
    _, cache = bn.batchnorm_forward(z, gamma, beta, eps)
    analytic = backward(dout, cache)
    numerical = gc.numerical_gradients(
        lambda z_, g_, b_: bn.batchnorm_forward(z_, g_, b_, eps)[0], (z, gamma, beta), dout
    )
    return {name: gc.relative_error(a, b)
            for name, a, b in zip(("dz", "dgamma", "dbeta"), analytic, numerical, strict=True)}


print(f"the yardstick: below {gc.CORRECT_BELOW:.0e} correct, above {gc.BUG_ABOVE:.0e} a bug")
rng = np.random.default_rng(0)
z5 = rng.normal(1.0, 2.0, size=(5, 4))
gamma5, beta5 = rng.uniform(0.5, 2.0, 4), rng.normal(size=4)
dout5 = gc.upstream_gradient(z5.shape, seed=1)   # random, standard normal
print("course_lib's backward against central differences (random dout):")
gc.report(check_backward(bn.batchnorm_backward, z5, gamma5, beta5, dout5))


# %% [markdown] slideshow={"slide_type": "subslide"}
# **Use a random `dout`.** The tempting choice `dout = np.ones(...)` (the gradient of
# `out.sum()`) is a trap for normalization layers. For every unit the outputs sum to
# m·β whatever z is, so with dout = 1 the true dz is **zero**. A quick check that only asks
# whether dz is close to the numerical gradient (`np.allclose`) then passes every backward
# pass that returns (almost) zero, even one that returns nothing but zeros:

# %%
def backward_of_zeros(dout, cache):
    """WRONG on purpose: dz = 0 everywhere (dgamma and dbeta are right)."""
    return np.zeros_like(dout), (dout * cache.x_hat).sum(axis=0), dout.sum(axis=0)


def naive_check(backward, dout):
    """Is dz close to the numerical gradient? (np.allclose: an absolute tolerance too)"""
    _, cache = bn.batchnorm_forward(z5, gamma5, beta5)
    dz = backward(dout, cache)[0]
    dz_num = gc.numerical_gradients(lambda z_: bn.batchnorm_forward(z_, gamma5, beta5)[0], (z5,), dout)[0]
    return np.allclose(dz, dz_num)


for label, dout_ in (("dout = ones  ", np.ones_like(z5)), ("dout = random", dout5)):
    print(f"{label}: course_lib's backward passes: {naive_check(bn.batchnorm_backward, dout_)!s:5}"
          f"  dz = 0 passes: {naive_check(backward_of_zeros, dout_)}")

# %% [markdown] slideshow={"slide_type": "notes"}
# The relative error is not fooled in the same way (with dout = 1 it compares two arrays
# of round-off and comes out near 1), but it cannot tell you anything either. Check with a
# random `dout`.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise 2 · `batchnorm_backward` (graded)
#
# Write the backward pass that goes with **your** `batchnorm_forward` of exercise 1,
# from your derivation of section 6.

# %% [markdown] slideshow={"slide_type": "notes"}
# - `dout`: shape (m, n), the upstream gradient ∂L/∂z̃; `cache`: what your
#   `batchnorm_forward` returned (add to it what you need).
# - Return `(dz, dgamma, dbeta)` with shapes (m, n), (n,), (n,).
# - You may write it node by node (one line per node, the way you derived it) or
#   simplify first. Both are fine if the numbers are right.
#
# The checker runs your forward, feeds your cache to your backward with a random
# `dout`, and compares the gradients with the reference **and** with central
# differences of your own forward. When a path is missing, its hint says which one.
# Stuck? Run the check again (or call `.more()` on its result) for a more concrete hint.

# %% nbgrader={"grade": false, "grade_id": "batchnorm_backward", "locked": false, "schema_version": 3, "solution": true}
def batchnorm_backward(dout, cache):
    """Gradients of Batch Norm: (m, n) dout and your cache -> (dz, dgamma, dbeta)."""
    ### BEGIN SOLUTION
    x_hat, gamma, inv_std = cache
    m = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dz = inv_std / m * (m * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0))
    return dz, dgamma, dbeta
    ### END SOLUTION


# %% tags=["exercise-feedback"]
checks.check_batchnorm_backward(batchnorm_forward, batchnorm_backward)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Question 1 (written, graded by hand)

# %% [markdown] slideshow={"slide_type": "notes"}
# Look at your backward pass. In two to four sentences: what do the direct path, the mean
# path and the variance path each add to dzᵢ, and why do two of them contain a sum over
# the whole batch? Write your answer in the cell below.

# %% [markdown] nbgrader={"grade": true, "grade_id": "backward_paths_answer", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false} slideshow={"slide_type": "notes"}
# **Model answer.** With r = 1/√(σ² + ε) and dx̂ⱼ = γ·dz̃ⱼ: the direct path gives
# r·dx̂ᵢ. The mean path gives −(r/m)·Σⱼ dx̂ⱼ: moving zᵢ moves μ, which every example
# subtracts, so the mean of the upstream gradient is removed. The variance path gives
# −(r/m)·x̂ᵢ·Σⱼ dx̂ⱼ x̂ⱼ: moving zᵢ changes σ² and so the r that divides every example, which
# removes the component of the gradient along x̂. The sums appear because μ and σ² are one
# number per unit shared by all m examples (rule 2): their gradient collects what every
# example sends back, so each dzᵢ depends on the whole batch's dz̃.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 8. The compact form (read it after exercise 2)
#
# Collected and simplified, the three paths give the compact form of the backward pass:
#
# $$\boxed{\;dz_i = \frac{\gamma}{\sqrt{\sigma^2+\varepsilon}}\left(d\tilde z_i - \frac{d\beta}{m} - \hat x_i\,\frac{d\gamma}{m}\right),\qquad
# d\beta = \sum_i d\tilde z_i,\quad d\gamma = \sum_i d\tilde z_i\,\hat x_i.\;}$$

# %% [markdown] slideshow={"slide_type": "notes"}
# Read it as: take the upstream gradient, remove its mean (the mean path) and its component
# along x̂ (the variance path), and scale by γ/√(σ² + ε) (the direct path). This is
# `bn.batchnorm_backward`. The derivation, to compare with yours:

# %% [markdown] slideshow={"slide_type": "-"}
# <details><summary>The walk of section 6, node by node, and how it collapses</summary>
#
# One line per node (dd<sub>i</sub> is the gradient reaching d<sub>i</sub>; `+=` means that a
# second path adds to what the first one brought):
#
# $$
# \begin{aligned}
# &(8)\ \tilde z_i=\gamma\hat x_i+\beta: && d\beta=\sum_i d\tilde z_i,\quad d\gamma=\sum_i d\tilde z_i\,\hat x_i,\quad d\hat x_i=\gamma\, d\tilde z_i\\
# &(7)\ \hat x_i=d_i\,r: && dd_i \mathrel{+}= r\, d\hat x_i,\quad dr=\sum_i d_i\, d\hat x_i\\
# &(6)\ r=1/s: && ds=-\frac{dr}{s^2}\\
# &(5)\ s=\sqrt{\sigma^2+\varepsilon}: && d\sigma^2=\frac{ds}{2s}\\
# &(4)\ \sigma^2=\tfrac{1}{m}\textstyle\sum_i q_i: && dq_i=\frac{d\sigma^2}{m}\\
# &(3)\ q_i=d_i^2: && dd_i \mathrel{+}= 2d_i\, dq_i\\
# &(2)\ d_i=z_i-\mu: && dz_i \mathrel{+}= dd_i,\quad d\mu=-\sum_i dd_i\\
# &(1)\ \mu=\tfrac{1}{m}\textstyle\sum_i z_i: && dz_i \mathrel{+}= \frac{d\mu}{m}
# \end{aligned}
# $$
#
# `bn.batchnorm_backward_staged` implements exactly these lines, one node at a time.
#
# **Collapsing them.** Since $\hat x_i = r\,d_i$, collect the three paths.
#
# *The mean path.* Because $\sum_i d_i = 0$, node (3) adds nothing to dμ:
#
# $$d\mu = -\sum_i dd_i = -r\sum_j d\hat x_j - \frac{2\,d\sigma^2}{m}\underbrace{\sum_j d_j}_{=0} = -r\sum_j d\hat x_j.$$
#
# *The variance path.* Nodes (6) and (5) give
# $d\sigma^2 = \dfrac{ds}{2s} = -\dfrac{dr}{2s^3} = -\dfrac{r^3}{2}\sum_j d\hat x_j\, d_j$,
# and node (3) sends back $\dfrac{2 d_i}{m}\, d\sigma^2 = -\dfrac{r^3 d_i}{m}\sum_j d\hat x_j\, d_j = -\dfrac{r}{m}\,\hat x_i\sum_j d\hat x_j\,\hat x_j$
# (using $r\,d_i = \hat x_i$ twice).
#
# *All together*, the direct path $r\,d\hat x_i$ plus the two above:
#
# $$dz_i = r\,d\hat x_i - \frac{r}{m}\,\hat x_i\sum_j d\hat x_j\,\hat x_j - \frac{r}{m}\sum_j d\hat x_j
# = \frac{r}{m}\Big(m\, d\hat x_i - \sum_j d\hat x_j - \hat x_i \sum_j d\hat x_j\,\hat x_j\Big).$$
#
# Finally $d\hat x_j = \gamma\, d\tilde z_j$ with one γ per unit, so $\sum_j d\hat x_j = \gamma\, d\beta$ and
# $\sum_j d\hat x_j\hat x_j = \gamma\, d\gamma$: the backward pass **reuses the parameter
# gradients**, which gives the boxed form above.
#
# </details>
#
# Both forms pass the check, and they agree to round-off:

# %%
print("staged backward against central differences (random dout):")
gc.report(check_backward(bn.batchnorm_backward_staged, z5, gamma5, beta5, dout5))
out5, cache5 = bn.batchnorm_forward(z5, gamma5, beta5)
same = all(np.allclose(a, b, rtol=1e-12, atol=1e-14)
           for a, b in zip(bn.batchnorm_backward(dout5, cache5), bn.batchnorm_backward_staged(dout5, cache5), strict=True))
print("compact == staged:", same)

# %% [markdown] slideshow={"slide_type": "subslide"}
# **The mistake a check with ones hides.** A backward that forgets the variance path
# (it treats σ² as a constant and keeps only the direct and mean paths) also gives
# dz = 0 when dout = 1, so the check with ones of section 7 passes it. The random `dout`
# catches it:

# %%
def backward_without_variance_path(dout, cache):
    """WRONG on purpose: treats sigma^2 as a constant (only the mean path is kept)."""
    m = dout.shape[0]
    dz = cache.gamma * cache.inv_std * (dout - dout.sum(axis=0) / m)
    return dz, (dout * cache.x_hat).sum(axis=0), dout.sum(axis=0)


print("dout = ones:   passes the check with np.allclose:",
      naive_check(backward_without_variance_path, np.ones_like(z5)))
print("dout = random: passes the check with np.allclose:",
      naive_check(backward_without_variance_path, dout5))
gc.report(check_backward(backward_without_variance_path, z5, gamma5, beta5, dout5))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 9. Scale invariance, and ε
#
# ### BN(a·z + b) = BN(z) for a > 0

# %% [markdown] slideshow={"slide_type": "notes"}
# Adding b to a unit moves μ by b; multiplying by a > 0 multiplies z − μ and σ by a.
# Both cancel in step (3), so BN(a·z + b) = BN(z), exactly when ε = 0. With ε the
# identity is BN(a·z + b; ε) = BN(z; ε/a²): scaling only changes how much ε matters.
# This is Batch Norm's scale and shift **invariance (不变性)**.
#
# The consequence for a network: with z = a<sup>[l−1]</sup>W + b, multiplying the
# weights W by a > 0 does not change the layer's output (the bias b is removed as well,
# which is why lesson 04 drops it). Below, the weights of a layer are scaled by 0.1, 10
# and 100; the first column is the change of the BN output, the second compares the
# gradient dL/dW, multiplied by the scale, with the one at scale 1.

# %%
rng = np.random.default_rng(5)
a_prev = rng.normal(size=(64, 10))          # the previous layer's activations, one batch
W, b = rng.normal(scale=0.3, size=(10, 6)), rng.normal(size=6)
g6, b6 = rng.uniform(0.5, 2.0, 6), rng.normal(size=6)
dout6 = gc.upstream_gradient((64, 6), seed=6)


def layer(scale):
    """BN output and dL/dW when the weights are scaled by `scale`."""
    out, cache = bn.batchnorm_forward(a_prev @ (scale * W) + b, g6, b6)
    dz = bn.batchnorm_backward(dout6, cache)[0]
    return out, a_prev.T @ dz


out_1, dW_1 = layer(1.0)
for scale in (0.1, 10.0, 100.0):
    out_a, dW_a = layer(scale)
    print(f"W x {scale:>5}: max |BN change| = {np.abs(out_a - out_1).max():.1e}   "
          f"|dW| x scale / |dW at 1| = {np.linalg.norm(dW_a) * scale / np.linalg.norm(dW_1):.4f}")

# %% [markdown] slideshow={"slide_type": "notes"}
# The small changes left are ε at work: at W × 0.1 the variance of z is about 0.01, and
# ε = 10⁻⁵ is no longer negligible next to it. The second column stays at 1: the gradient
# with respect to W is divided by the scale.

# %% [markdown] slideshow={"slide_type": "fragment"}
# ### Question 2 (written, graded by hand)

# %% [markdown] slideshow={"slide_type": "notes"}
# During training the weights W before a BN layer grow, say by a factor a. With a fixed
# learning rate, what happens to the size of the gradient-descent steps on W *relative to
# W itself*, and why can that be useful? Two or three sentences.

# %% [markdown] nbgrader={"grade": true, "grade_id": "scale_invariance_answer", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false} slideshow={"slide_type": "notes"}
# **Model answer.** BN makes the loss independent of the scale of W, so dL/dW shrinks as
# 1/a (the printed ratio stays 1). A step lr·dW is then a times smaller in absolute size,
# and a² times smaller relative to |W|, which has grown by a. Larger weights take
# relatively smaller steps: the effective learning rate falls as the weights grow, which
# damps further growth and keeps training stable without tuning the learning rate to the
# scale of the weights (Ioffe & Szegedy, 2015, §3.3).

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### What ε does for a constant unit
#
# If a unit takes the same value for every example of the batch, σ² = 0 and step (3)
# without ε computes 0/0. With ε the normalized value is 0 and the output is β:

# %%
z_const = z.copy()
z_const[:, 2] = 5.0                                   # unit 3 constant in this batch
mu_c, var_c = z_const.mean(axis=0), z_const.var(axis=0)
with np.errstate(invalid="ignore"):
    print("without eps:", ((z_const - mu_c) / np.sqrt(var_c))[:, 2])
out_c, cache_c = bn.batchnorm_forward(z_const, gamma, beta, eps)
print("with eps:   ", out_c[:, 2], "= beta =", beta[2])
dz_c = bn.batchnorm_backward(gc.upstream_gradient(z.shape, seed=7), cache_c)[0]
print(f"its gradient is finite but amplified by gamma/sqrt(eps) = {gamma[2] / np.sqrt(eps):.0f}:", dz_c[:, 2])

# %% [markdown] slideshow={"slide_type": "notes"}
# More generally, ε decides what happens to a unit whose spread σ is not large next
# to √ε: its output spread is γσ/√(σ² + ε) instead of γ, so an almost constant unit
# stays almost constant instead of having its noise blown up to variance 1.

# %% alt="The output standard deviation of a Batch Norm unit against the batch standard deviation sigma: close to gamma while sigma is well above the square root of epsilon, falling towards 0 below it." slideshow={"slide_type": "subslide"}
bn_plots.plot_eps_effect()
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 10. Self-check

# %% [markdown] slideshow={"slide_type": "notes"}
# 1. In the worked example the notes' step (2) gives 125 for the second unit. Is that
#    the standard deviation?
# 2. Why does `course_lib` refuse a batch of one example in training mode?
# 3. Your gradient check with `dout = np.ones(...)` passes. Why is that no evidence
#    that your Batch Norm backward is right?
# 4. What does BN compute when γ = √(σ² + ε) and β = μ? And on the next mini-batch?
# 5. All weights of the layer before BN are multiplied by 10. What happens to the
#    BN output and to the gradient with respect to those weights?
# 6. Someone computes the statistics with `axis=1`. What have they built?

# %% [markdown] slideshow={"slide_type": "-"}
# <details><summary>Answers</summary>
#
# 1. No: 125 is the variance σ². The standard deviation is √125 ≈ 11.18; step (3)
#    divides by √(σ² + ε).
# 2. The variance of one example is 0: every output would be β and dz would be 0.
#    Batch Norm needs m ≥ 2 in training mode (better: tens of examples).
# 3. Batch Norm's outputs sum to m·β per unit whatever z is, so with dout = 1 the true
#    dz is 0, and any backward returning about 0 passes. Use a random dout.
# 4. The identity, z̃ = z, for the batch whose μ and σ² were used: BN can undo itself, so
#    it does not limit what the layer can represent. A training batch with other statistics
#    is still normalized by its own μ and σ², so it is not left unchanged.
# 5. The output does not change (up to ε), since BN(a·z) = BN(z) for a > 0; the
#    gradient with respect to the weights is 10 times smaller.
# 6. Layer Normalization (Ba et al., 2016): statistics over the units of each example.
#    Batch Norm uses `axis=0`, over the examples of the batch, one μ and σ² per unit.
#
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## 11. Summary

# %% [markdown] slideshow={"slide_type": "notes"}
# - Batch Norm normalizes each unit's pre-activation z over the mini-batch:
#   μ = mean, σ² = **variance** with 1/m (the notes' "标准差" in step (2) is the variance),
#   x̂ = (z − μ)/√(σ² + ε), then z̃ = γ x̂ + β with learnable γ, β.
# - With γ = √(σ² + ε) and β = μ it is the identity on the batch those statistics come
#   from: nothing is lost. Other training batches are still normalized by their own statistics.
# - The backward pass follows from the computational graph: a direct path, a mean path
#   and a variance path, the last two with a sum over the batch. It simplifies to
#   dz = γ/√(σ² + ε) · (dz̃ − dβ/m − x̂·dγ/m), with dβ = Σ dz̃ and dγ = Σ dz̃·x̂ (dz̃ = `dout`).
# - Check any backward pass with central differences, a **random** upstream gradient
#   and the relative error; in float64 a correct backward gives below 10⁻⁷, a bug above 10⁻⁴.
# - BN(a·z + b) = BN(z) for a > 0: the layer ignores the scale of the previous
#   weights, and the gradient with respect to them shrinks as the weights grow.
# - ε keeps a constant unit finite (output β) and damps units with σ² ≲ ε.

# %% [markdown] slideshow={"slide_type": "-"}
# **Next**, lesson 04 puts Batch Norm into a network and trains it on real data.

# %% [markdown] slideshow={"slide_type": "notes"}
# **References.** S. Ioffe and C. Szegedy, *Batch Normalization: Accelerating Deep
# Network Training by Reducing Internal Covariate Shift*, ICML 2015,
# [arXiv:1502.03167](https://arxiv.org/abs/1502.03167). J. L. Ba, J. R. Kiros and
# G. E. Hinton, *Layer Normalization*, 2016, [arXiv:1607.06450](https://arxiv.org/abs/1607.06450).

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# ## Going deeper: the gradient has no mean and (almost) no component along x̂
#
# The invariances have a mirror image in the gradient. Adding the same c to every zᵢ
# of a unit changes nothing, so the directional derivative along (1, …, 1) is zero:
#
# $$\sum_i dz_i = 0 \quad\text{(exactly; from the boxed formula, since } \textstyle\sum_i \hat x_i = 0).$$
#
# Stretching a unit around its mean changes the output only through ε, so
#
# $$\sum_i dz_i\,\hat x_i = \frac{\gamma}{\sqrt{\sigma^2+\varepsilon}}\, d\gamma\,\Big(1-\frac{1}{m}\sum_i\hat x_i^2\Big)
# = \gamma\, d\gamma\,\frac{\varepsilon}{(\sigma^2+\varepsilon)^{3/2}} \approx 0 .$$
#
# The previous layers are never pushed to change a unit's mean or spread: that is left
# to β and γ. On the batch of section 7:

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
dz5, dgamma5, dbeta5 = bn.batchnorm_backward(dout5, cache5)
print("largest |sum_i dz_i| over the units < 1e-12:", np.abs(dz5.sum(axis=0)).max() < 1e-12)
sci = {"float_kind": lambda v: f"{v:.3e}"}
print("sum_i dz_i x_hat_i            :", np.array2string((dz5 * cache5.x_hat).sum(axis=0), formatter=sci))
print("gamma dgamma eps/(var+eps)^1.5:", np.array2string(gamma5 * dgamma5 * 1e-5 / (cache5.var + 1e-5) ** 1.5, formatter=sci))
print("for scale, largest |dz|       :", f"{np.abs(dz5).max():.2f}")

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# ## Going deeper: batches of one and two
#
# With one example, σ² = 0 for every unit and every output would be β, so `course_lib`
# refuses it in training mode (at test time, lesson 05, fixed statistics make single
# examples fine). With **two** examples, x̂ = ±σ/√(σ² + ε) ≈ ±1 whatever the values are:
# the output hardly depends on z, and neither does the loss, so dz is nearly zero.

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
try:
    bn.batchnorm_forward(z[:1], gamma, beta)
except ValueError as e:
    print("ValueError:", e)

for eps_ in (1e-1, 1e-3, 1e-5):
    _, cache_2 = bn.batchnorm_forward(z[:2], gamma, beta, eps_)
    dz_2 = bn.batchnorm_backward(gc.upstream_gradient((2, 3), seed=8), cache_2)[0]
    print(f"m = 2, eps = {eps_:.0e}: largest |dz| = {np.abs(dz_2).max():.1e}")

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# ## Going deeper: why the compact form is faster
#
# The compact form is not only shorter; it is also faster, for two reasons.
#
# 1. *Fewer passes over the batch.* The staged form makes about twelve passes over
#    (m, n) arrays (eight element-wise operations, each creating a new array, and four
#    sums); the compact form written with numpy, `bn.batchnorm_backward_vectorized`
#    (the formula of exercise 2, arranged to reuse dβ and dγ), makes six: one `einsum`,
#    one sum and four element-wise operations on a single new array.
# 2. *One expression after two sums.* Once dβ and dγ are known, dz is a single
#    element-wise expression of dout and x̂, so a compiled loop can compute it in
#    **one** more pass, with no temporary arrays: two passes in all. That is how
#    frameworks' native kernels do it (PyTorch's CPU kernel, in
#    `aten/src/ATen/native/cpu/batch_norm_kernel.cpp`, sums per unit, then writes dz).
#    `bn.batchnorm_backward` does this with a loop compiled by
#    [numba](https://numba.readthedocs.io). The staged form cannot be fused like this:
#    its sums (dr, dμ) sit between element-wise steps that need their results.
#
# How much faster depends on your machine: `make bench` times the three forms on a batch of
# 256 examples × 512 units (and at larger sizes, against PyTorch when it is installed).
# The three give the same numbers:

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
rng = np.random.default_rng(3)
z_big = rng.normal(size=(256, 512))
gamma_big, beta_big = rng.uniform(0.5, 2.0, 512), rng.normal(size=512)
dout_big = gc.upstream_gradient(z_big.shape, seed=4)
out_big, cache_big = bn.batchnorm_forward(z_big, gamma_big, beta_big)
forms = {"staged": bn.batchnorm_backward_staged, "numpy compact": bn.batchnorm_backward_vectorized,
         "compiled compact": bn.batchnorm_backward}
grads = {name: fn(dout_big, cache_big) for name, fn in forms.items()}
for name, g in grads.items():
    agree = all(np.allclose(a, b, rtol=1e-10, atol=1e-12) for a, b in zip(g, grads["staged"], strict=True))
    print(f"{name:17s} agrees with the staged form to round-off: {agree}")

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
#   other batches are put back into these cells and run after the checker, so a function
#   written to pass only the checker's cases loses points. In the worked version of this
#   notebook you can read them under the checker.

# %% nbgrader={"grade": true, "grade_id": "batchnorm_forward_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false}
checks.check_batchnorm_forward(batchnorm_forward).assert_ok()
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(20250303)
for _m, _n, _eps in ((3, 7, 1e-3), (10, 2, 1e-5), (2, 5, 0.2), (33, 4, 1e-5)):
    _z = _rng.normal(_rng.uniform(-5, 5, _n), _rng.uniform(0.1, 4, _n), size=(_m, _n))
    _g, _b = _rng.uniform(-2, 2, _n), _rng.normal(size=_n)
    _z_copy = _z.copy()
    _out = batchnorm_forward(_z, _g, _b, eps=_eps)[0]
    assert np.allclose(_out, bn.batchnorm_forward(_z, _g, _b, eps=_eps)[0], rtol=1e-6, atol=1e-8)
    assert np.array_equal(_z, _z_copy), "batchnorm_forward modified z"
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "batchnorm_backward_tests", "locked": true, "points": 3, "schema_version": 3, "solution": false}
checks.check_batchnorm_backward(batchnorm_forward, batchnorm_backward).assert_ok()
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(20250304)
for _m, _n, _eps in ((3, 7, 1e-3), (10, 2, 1e-5), (2, 5, 0.2), (33, 4, 1e-5)):
    _z = _rng.normal(_rng.uniform(-5, 5, _n), _rng.uniform(0.1, 4, _n), size=(_m, _n))
    _g, _b = _rng.uniform(-2, 2, _n), _rng.normal(size=_n)
    _dout = _rng.normal(size=(_m, _n))
    _got = batchnorm_backward(_dout, batchnorm_forward(_z, _g, _b, eps=_eps)[1])
    _want = bn.batchnorm_backward(_dout, bn.batchnorm_forward(_z, _g, _b, eps=_eps)[1])
    for _a, _w in zip(_got, _want, strict=True):
        assert np.allclose(_a, _w, rtol=1e-6, atol=1e-8)
### END HIDDEN TESTS
