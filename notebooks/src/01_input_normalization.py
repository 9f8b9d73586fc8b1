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
# # Lesson 01 · Input normalization (输入归一化)
#
# Normalizing the inputs of a network makes training faster. This lesson is about
# *how*: two steps, each fitted on the training set, then applied unchanged to
# every other input. Lesson 02 shows *why* it speeds training up.

# %% [markdown] slideshow={"slide_type": "notes"}
# **After this lesson you can**
#
# 1. compute the per-feature mean μ and standard deviation σ of a training set and
#    normalize with them in two steps: zero mean, then unit variance;
# 2. show with numbers why one divides by σ and not by σ² as the notes (and the
#    lecture slide they follow) say;
# 3. normalize a test set, or a single example, with the *training* μ and σ, and
#    explain what goes wrong with any other choice;
# 4. spot features whose scales differ by a factor of 10⁵ in real data, and get
#    the same result as scikit-learn's `StandardScaler`;
# 5. turn a linear model trained on normalized inputs into one for raw inputs.
#
# **Time: about 40 minutes** (reading and running 20, two written questions 5, three
# short exercises 15). Run the cells in order (*Run > Run All Cells* works too).

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### One convention: examples are rows

# %% [markdown] slideshow={"slide_type": "notes"}
# The notes stack the examples as **columns**: $X$ is $n \times m$ and $x^{(i)}$
# is its $i$-th column. This course, like NumPy, scikit-learn and PyTorch, stacks
# them as **rows**: `X` has shape `(m, n)`, `X[i]` is the example (样本) $x^{(i)}$, and
# a statistic "per feature" (特征) is a statistic per column, `axis=0`. The formulas
# are the same; only the axis changes.

# %% [markdown] slideshow={"slide_type": "-"}
# `course_lib` holds tested versions of everything this lesson computes. We call its
# normalization functions as `norm.fit_normalizer(...)` and `norm.normalize(...)`; at the
# end of the lesson you write your own `fit_normalizer` and `normalize`.

# %% tags=["imports"]
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.preprocessing import StandardScaler

from course_lib import checks, data, scatter
from course_lib import normalization as norm

np.set_printoptions(precision=4, suppress=True)

split = data.two_feature_data()  # seeded: the same numbers on every run
X_train, X_test = split.X_train, split.X_test
print(split)
print("the first three training examples, one per row:")
print(X_train[:3])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## A training set with two features

# %% [markdown] slideshow={"slide_type": "notes"}
# As in the notes, a training set (训练集) with two features (2-D inputs): $x_1$ is
# spread widely, $x_2$ narrowly, and the cloud sits away from the origin. The black
# cross marks the mean (均值), its arms ±1 standard deviation (标准差) along each feature.

# %% alt="Scatter plot of the raw two-feature training set: a long cloud away from the origin, x1 spread about five times wider than x2, with the mean (+) and one standard deviation marked." slideshow={"slide_type": "subslide"}
scatter.plot_raw(X_train)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Step 1: zero mean (零均值)
#
# $$\mu = \frac{1}{m}\sum_{i=1}^{m} x^{(i)}, \qquad X := X - \mu$$
#
# $\mu$ is a vector (向量) with one mean per feature: the sum runs over the examples,
# i.e. over the rows (`axis=0`). Subtracting $\mu$ from every example moves the
# whole training set so that it is centred on the origin.

# %%
mu = X_train.mean(axis=0)  # one mean per feature: shape (2,)
X_centred = X_train - mu  # broadcasting subtracts mu from every row
print("mu                      =", mu)
print("mean of each feature now =", np.round(X_centred.mean(axis=0), 4) + 0.0)

# %% alt="The training set after subtracting the mean: the same elongated cloud, now centred on the origin." slideshow={"slide_type": "subslide"}
scatter.plot_centred(X_train)
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# Centred, but still elongated: $x_1$ varies about five times more than $x_2$.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Step 2: normalize the variance (归一化方差)
#
# $$\sigma^2 = \frac{1}{m}\sum_{i=1}^{m} \left(x^{(i)} - \mu\right)^2, \qquad X := \frac{X}{\sigma}$$

# %% [markdown] slideshow={"slide_type": "notes"}
# The square is element-wise, so $\sigma^2$ is again a vector: one variance (方差) per
# feature. The notes write $\sigma^2 = \frac{1}{m}\sum_i \big(x^{(i)}\big)^2$,
# which is the same thing because they compute it *after* step 1, when the
# data are already centred. Then every feature is divided by its **standard
# deviation** $\sigma = \sqrt{\sigma^2}$. Both steps together:

# %% [markdown] slideshow={"slide_type": "-"}
# $$X := \frac{X - \mu}{\sigma}$$

# %%
sigma2 = (X_centred**2).mean(axis=0)  # after centring, as in the notes
sigma = np.sqrt(sigma2)
X_scaled = X_centred / sigma
print("sigma^2 =", sigma2)
print("sigma   =", sigma)
print("after step 2: mean", np.round(X_scaled.mean(axis=0), 4) + 0.0,
      " variance", np.round(X_scaled.var(axis=0), 4))

# %% alt="The training set after dividing by the standard deviation: a round cloud centred on the origin, both features with variance 1." slideshow={"slide_type": "subslide"}
scatter.plot_scaled(X_train)
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# A round cloud: both features now have mean 0 and variance 1.

# %% [markdown] slideshow={"slide_type": "notes"}
# The average is over $m$ (`np.std`'s default, `ddof=0`), as in the notes and in
# scikit-learn. Dividing by $m-1$ instead would change $\sigma$ by the factor
# $\sqrt{m/(m-1)}$, about 0.25 % here; the only thing that matters is to use the
# same μ and σ everywhere.
#
# `course_lib` holds both steps as two functions, `norm.fit_normalizer` (μ and σ of a
# training set) and `norm.normalize` (apply them to any data); you will write both
# yourself at the end of the lesson.

# %%
mu, sigma = norm.fit_normalizer(X_train)
print("the same as by hand:", np.allclose(norm.normalize(X_train, mu, sigma), X_scaled))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The notes' error: dividing by σ²

# %% [markdown] slideshow={"slide_type": "notes"}
# The notes say "$X := X / \sigma^2$". That is wrong. The error is older than the
# notes: the lecture they follow (deeplearning.ai, *Improving Deep Neural Networks*,
# week 1, "Normalizing inputs") says to "divide by this vector σ²", and its slide
# writes `X /= σ²`. DeepLearning.AI's forum confirms that the slide's formula is
# wrong. If you teach from that slide, correct it on the slide.

# %% [markdown] slideshow={"slide_type": "-"}
# Dividing feature $j$ by its variance $\sigma_j^2$ leaves it with variance
#
# $$\operatorname{Var}\!\left(\frac{x_j - \mu_j}{\sigma_j^2}\right) = \frac{\sigma_j^2}{\sigma_j^4} = \frac{1}{\sigma_j^2},$$
#
# which is 1 only for a feature that already had $\sigma_j = 1$. Here are the numbers:

# %%
X_notes = X_centred / sigma2  # the notes' formula
print("variance after X / sigma^2:", X_notes.var(axis=0))
print("1 / sigma^2               :", 1 / sigma2)
print("variance after X / sigma  :", X_scaled.var(axis=0))

# %% alt="Side by side, the notes' error and the fix: dividing by the variance squeezes x1 and stretches x2 into a cloud elongated the other way; dividing by the standard deviation gives a round cloud." slideshow={"slide_type": "subslide"}
scatter.plot_variance_error(X_train)
plt.show()

# %% [markdown] slideshow={"slide_type": "fragment"}
# The wide feature $x_1$ ($\sigma_1 \approx 2.4$) is squeezed to variance 0.17
# and the narrow $x_2$ ($\sigma_2 \approx 0.5$) is stretched to variance 3.9:
# the cloud is elongated again, the other way round. The correct step divides
# by the standard deviation: $X := (X - \mu)/\sigma$.

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Question 1** (written answer, 1 point). Suppose $x_1$ is a length in metres.
# What is the unit of $(x_1 - \mu_1)/\sigma_1$? And of $(x_1 - \mu_1)/\sigma_1^2$?
# Use the units to explain, in two or three sentences, why only one of the two can
# give every feature variance 1, whatever unit it is measured in.

# %% [markdown] nbgrader={"grade": true, "grade_id": "q_units", "locked": false, "points": 1, "schema_version": 3, "solution": true, "task": false} slideshow={"slide_type": "notes"}
# **Model answer.** $(x_1 - \mu_1)/\sigma_1$ is metres divided by metres: it has no
# unit. $(x_1 - \mu_1)/\sigma_1^2$ has the unit 1/metre. Measure the same lengths in
# centimetres: σ grows 100 times and σ² 10 000 times, so the second result shrinks
# 100 times and its variance 10 000 times. A number whose variance depends on the
# chosen unit cannot be 1 for every unit; $(x - \mu)/\sigma$ does not depend on the
# unit, and its variance is always 1.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Explore: move the cloud

# %% [markdown] slideshow={"slide_type": "notes"}
# Below, the three steps one above the other (all panels share one frame), then the
# same figure live: sliders set the two features' means, spreads and correlation
# (相关性) of the training set; the table beside it gives μ and σ, and the mean and
# standard deviation after normalizing. Try:
#
# * **means**: the raw cloud moves; the centred and scaled ones do not change at all;
# * **spreads**: the scaled cloud always ends with σ = (1, 1);
# * **correlation**: the scaled cloud stays tilted. Normalizing each feature on its
#   own equalizes the scales but cannot remove a correlation between features
#   (that would need a rotation, "whitening" (白化), which this course does not use).

# %% alt="The raw, the centred and the scaled training set drawn one above the other on the same axes." slideshow={"slide_type": "subslide"}
scatter.plot_three_steps(X_train)
plt.show()

# %% slideshow={"slide_type": "subslide"} tags=["widget", "nbval-ignore-output"]
# ipywidgets sliders for the two features' means, spreads and correlation
scatter.normalization_explorer()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The test set uses the training μ and σ

# %% [markdown] slideshow={"slide_type": "notes"}
# The notes: the test set (测试集) must be normalized with *the same* transformation.
# μ and σ are computed once, on the training set, and become part of the model:
# a fixed function $x \mapsto (x - \mu)/\sigma$ applied to every input it will
# ever see, in training, in testing and in use. The test set then has a mean
# *close* to 0 and a variance *close* to 1, not exactly; that is expected.

# %%
# mu, sigma: fitted once, on the training set only (step 2 above)
X_test_n = norm.normalize(X_test, mu, sigma)
print("test set with the training mu, sigma: mean", np.round(X_test_n.mean(axis=0), 3) + 0.0,
      " std", np.round(X_test_n.std(axis=0), 3))

# %% [markdown] slideshow={"slide_type": "subslide"}
# What goes wrong with the test data's own statistics? Three cases.

# %% [markdown] slideshow={"slide_type": "notes"}
# **1. A batch from a shifted distribution.** Suppose a batch of 30 inputs
# arrives in which $x_1$ is 3 units larger than in training (a drifted sensor, a
# different population).

# %%
shifted = X_test[:30] + np.array([3.0, 0.0])
right = norm.normalize(shifted, mu, sigma)
own = norm.normalize(shifted, *norm.fit_normalizer(shifted))
print("batch mean with the training mu, sigma:", np.round(right.mean(axis=0), 2) + 0.0)
print("batch mean with its own mu, sigma     :", np.round(own.mean(axis=0), 2) + 0.0)

# %% alt="A shifted test batch normalized with the training mean and standard deviation keeps its shift (right); normalized with its own statistics the shift disappears (left, wrong)." slideshow={"slide_type": "subslide"}
scatter.plot_test_statistics(X_train, shifted)
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# With the training μ and σ the shift is still there: 3 units of $x_1$ are
# $3/\sigma_1 \approx 1.2$ normalized units (the printed 1.33 adds the small offset
# of these 30 examples), so the model sees inputs unlike its training data, as it
# should. With the batch's own statistics the shift has vanished: the model
# is told that these are ordinary inputs and answers for the wrong $x$.

# %% [markdown] slideshow={"slide_type": "fragment"}
# **2. The same example in two batches.** With each batch's own statistics, one
# example turns into different numbers depending on the examples it comes with:

# %% slideshow={"slide_type": "subslide"}
x = X_test[:1]  # one example, shape (1, 2)
batch_a = np.vstack([x, X_test[1:5]])
batch_b = np.vstack([x, X_test[1:5] + np.array([4.0, 1.0])])
print("x                                    :", x[0])
print("normalized within batch A            :",
      norm.normalize(batch_a, *norm.fit_normalizer(batch_a))[0])
print("normalized within batch B            :",
      norm.normalize(batch_b, *norm.fit_normalizer(batch_b))[0])
print("normalized with the training mu, sigma:", norm.normalize(x, mu, sigma)[0])

# %% [markdown] slideshow={"slide_type": "fragment"}
# **3. One example at a time**, the usual case once a model is in use. A single
# example has no spread: its own σ is 0, and the formula divides 0 by 0.

# %% slideshow={"slide_type": "subslide"}
with np.errstate(invalid="ignore"):  # silence numpy's 0/0 warning, show the result
    print("(x - own mean) / own std       :", ((x - x.mean(axis=0)) / x.std(axis=0))[0])
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    mu_1, sigma_1 = norm.fit_normalizer(x)
print("fit_normalizer warns           :", "; ".join(str(w.message) for w in caught))
print("every example would become     :", norm.normalize(x, mu_1, sigma_1)[0])
print("with the training mu and sigma :", norm.normalize(x, mu, sigma)[0])

# %% [markdown] slideshow={"slide_type": "notes"}
# `nan` with the raw formula; with the constant-feature rule (σ := 1, see the
# exercise below) every example becomes the origin and all its information is
# gone. Only the training μ and σ give a meaningful answer. Batch Normalization
# meets exactly this problem inside the network; lesson 05 solves it the same
# way, with statistics kept from training.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Real data: 30 features on wildly different scales

# %% [markdown] slideshow={"slide_type": "notes"}
# scikit-learn's breast-cancer data set (bundled, no download): 569 examples,
# 30 features measured on images of cell nuclei, such as radius, texture,
# area, smoothness and fractal dimension, each as a mean, a standard error and a
# "worst" value. Split into training and test sets (seeded).

# %%
cancer = data.breast_cancer()
print(cancer)
mu_c, sigma_c = norm.fit_normalizer(cancer.X_train)
Xc_train = norm.normalize(cancer.X_train, mu_c, sigma_c)
Xc_test = norm.normalize(cancer.X_test, mu_c, sigma_c)  # the training mu and sigma, as always

# %% slideshow={"slide_type": "subslide"}
names = ["worst area", "mean area", "mean perimeter", "mean radius",
         "mean smoothness", "fractal dimension error"]
print(f"{'feature':24} {'raw mean':>9} {'raw std':>9} | {'train mean':>10} {'train std':>9}"
      f" | {'test mean':>9} {'test std':>8}")
for name in names:
    j = cancer.feature_names.index(name)
    raw = cancer.X_train[:, j]
    train_mean = round(Xc_train[:, j].mean(), 3) + 0.0  # + 0.0: no "-0.000" from round-off
    print(f"{name:24} {raw.mean():9.4g} {raw.std():9.4g} | {train_mean:10.3f}"
          f" {Xc_train[:, j].std():9.3f} | {Xc_test[:, j].mean():9.3f} {Xc_test[:, j].std():8.3f}")

std_raw, std_after = cancer.X_train.std(axis=0), Xc_train.std(axis=0)
print(f"\nlargest / smallest feature std: {std_raw.max() / std_raw.min():.3g} before,"
      f" {std_after.max() / std_after.min():.3g} after")
std_test = Xc_test.std(axis=0)
print(f"test set, all 30 features: std from {std_test.min():.2f} to {std_test.max():.2f},"
      f" |mean| at most {np.abs(Xc_test.mean(axis=0)).max():.2f}")

# %% [markdown] slideshow={"slide_type": "notes"}
# Before normalization the spreads differ by a factor of about 250 000: no single
# learning rate suits the weights of both "worst area" and "fractal dimension
# error" (lesson 02 makes this precise). After it, every training feature has
# mean 0 and standard deviation 1; the test set, normalized with the training μ
# and σ, comes close without being exactly there (it is another sample: "fractal
# dimension error" has a few large values in the test set). Below on the left,
# the spread of all 30 features; on the right, the normalized values on their
# now common scale.

# %% alt="The spread of each of the 30 breast-cancer features on a log scale, before normalization (over about five orders of magnitude) and after it (all equal to 1)." slideshow={"slide_type": "subslide"}
scatter.plot_feature_scales(cancer.X_train, cancer.X_test, cancer.feature_names)
plt.show()

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The same as scikit-learn's `StandardScaler`
#
# scikit-learn's `StandardScaler` is this transformation: `fit` computes μ
# (`mean_`) and σ (`scale_`, with 1/m, and 1 for a constant feature) on the
# training set, and `transform` applies them to any data.

# %%
scaler = StandardScaler().fit(cancer.X_train)
diff = max(
    np.abs(mu_c - scaler.mean_).max(),
    np.abs(sigma_c - scaler.scale_).max(),
    np.abs(Xc_train - scaler.transform(cancer.X_train)).max(),
    np.abs(Xc_test - scaler.transform(cancer.X_test)).max(),
)
print("max |ours - scikit-learn| over mu, sigma, train and test:",
      "below 1e-12" if diff < 1e-12 else f"{diff:.1e}")


# %% [markdown] slideshow={"slide_type": "notes"}
# The same up to round-off (the last bits of a float64). In practice use `StandardScaler` (or your
# framework's equivalent) and keep the fitted object with the model; the point
# of writing it once yourself is to know exactly what it does.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise 1: `fit_normalizer` (graded)
#
# Write `fit_normalizer(X)` for a training set `X` of shape `(m, n)`, one example
# per row. Return `(mu, sigma)`, two arrays of shape `(n,)`:
#
# * `mu[j]` $= \frac{1}{m}\sum_i X_{ij}$, the mean of feature $j$;
# * `sigma[j]` $= \sqrt{\frac{1}{m}\sum_i (X_{ij} - \mu_j)^2}$, its standard deviation (1/m, not 1/(m−1));
# * a feature that is constant in the training set has $\sigma_j = 0$; give it
#   `sigma[j] = 1` instead, so that normalizing only centres it (as scikit-learn does).

# %% [markdown] slideshow={"slide_type": "notes"}
# Do not modify `X`, and do not call `course_lib`. The cell after yours checks
# your function on several cases and names the mistake if one fails; if you are
# stuck, run it again (or call `.more()` on its result) for a more concrete hint.

# %% nbgrader={"grade": false, "grade_id": "fit_normalizer", "locked": false, "schema_version": 3, "solution": true}
def fit_normalizer(X):
    """Per-feature mean and standard deviation of a training set X (m, n)."""
    ### BEGIN SOLUTION
    mu = X.mean(axis=0)
    sigma = X.std(axis=0)  # ddof=0: divide by m
    sigma = np.where(sigma == 0, 1.0, sigma)
    return mu, sigma
    ### END SOLUTION


# %% tags=["exercise-feedback"]
checks.check_fit_normalizer(fit_normalizer)


# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise 2: `normalize` (graded)

# %% [markdown] slideshow={"slide_type": "notes"}
# Write `normalize(X, mu, sigma)`: `X` has shape `(m, n)` (a training set, a test
# set or a single example of shape `(1, n)`), `mu` and `sigma` have shape `(n,)`
# and come from `fit_normalizer` on the **training** set. Return a new array of
# shape `(m, n)`:

# %% [markdown] slideshow={"slide_type": "-"}
# $$X_{\text{norm}} = \frac{X - \mu}{\sigma}$$
#
# Use the `mu` and `sigma` you are given, not statistics of `X`; do not modify
# any argument.

# %% nbgrader={"grade": false, "grade_id": "normalize", "locked": false, "schema_version": 3, "solution": true}
def normalize(X, mu, sigma):
    """(X - mu) / sigma for X (m, n) with training statistics mu, sigma (n,)."""
    ### BEGIN SOLUTION
    return (X - mu) / sigma
    ### END SOLUTION


# %% tags=["exercise-feedback"]
checks.check_normalize(normalize)


# %% [markdown] slideshow={"slide_type": "slide"}
# ## Exercise 3: back to raw inputs (graded)
#
# A linear model (线性模型) trained on normalized inputs predicts
#
# $$z = \frac{x - \mu}{\sigma} \cdot w + b = \sum_{j=1}^{n} w_j\,\frac{x_j - \mu_j}{\sigma_j} + b .$$

# %% [markdown] slideshow={"slide_type": "notes"}
# To use it, every new input must first be normalized with the training μ and σ.
# But the same function of $x$ can be written as a plain linear model of the
# **raw** input: $z = x \cdot w_{\text{raw}} + b_{\text{raw}}$. The normalization is
# then "folded" into the weights, and the model takes raw inputs directly.
#
# Work out $w_{\text{raw}}$ and $b_{\text{raw}}$ on paper first: expand the sum and
# collect the terms that multiply each $x_j$, and the terms without any $x$. Then
# write `fold_normalization(w, b, mu, sigma)`: `w`, `mu` and `sigma` have shape `(n,)`,
# `b` is a number; return `(w_raw, b_raw)`, an array of shape `(n,)` and a number, such
# that `X @ w_raw + b_raw` equals `((X - mu) / sigma) @ w + b` for every `X`.
# Do not modify the arguments, and do not call `course_lib`.

# %% nbgrader={"grade": false, "grade_id": "fold_normalization", "locked": false, "schema_version": 3, "solution": true}
def fold_normalization(w, b, mu, sigma):
    """Weights and bias on raw inputs of the linear model ((x - mu) / sigma) . w + b."""
    ### BEGIN SOLUTION
    w_raw = w / sigma
    b_raw = b - mu @ w_raw
    return w_raw, b_raw
    ### END SOLUTION


# %% tags=["exercise-feedback"]
checks.check_fold_normalization(fold_normalization)

# %% [markdown] slideshow={"slide_type": "subslide"}
# Folding in action. The synthetic targets of this lesson's data were made as
# $y = 2x_1 - 3x_2 + 1$ plus noise (lesson 02 uses them). Fit a linear model by least
# squares on the *normalized* inputs, then fold it back with `course_lib`'s version:

# %%
Z = norm.normalize(X_train, mu, sigma)
A = np.column_stack([Z, np.ones(len(Z))])  # a column of ones for b
coef = np.linalg.lstsq(A, split.y_train, rcond=None)[0]
w_n, b_n = coef[:2], coef[2]
w_raw, b_raw = norm.fold_normalization(w_n, b_n, mu, sigma)
print("fitted on normalized inputs: w =", w_n, "  b =", round(b_n, 4))
print("folded back to raw inputs  : w =", w_raw, "  b =", round(b_raw, 4))
print("the data were made with    : w = [ 2. -3.]   b = 1.0")

# %% [markdown] slideshow={"slide_type": "notes"}
# The folded weights are the coefficients the data were made with, up to the noise:
# both models make the same predictions. Normalizing the inputs changes how the model
# is written, not which models it can express.

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Question 2** (written answer, 1 point). Which feature matters more for the
# prediction above, $x_1$ or $x_2$? The raw weights (2, −3) say $x_2$; the weights on
# normalized inputs (4.9, −1.5) say $x_1$. Which do you trust, and why? Answer in two
# or three sentences.

# %% [markdown] nbgrader={"grade": true, "grade_id": "q_which_feature", "locked": false, "points": 1, "schema_version": 3, "solution": true, "task": false} slideshow={"slide_type": "notes"}
# **Model answer.** Trust the weights on normalized inputs. A raw weight is the change
# of the prediction per *unit* of its feature, and the units are not comparable: $x_1$
# varies about five times more than $x_2$ (σ ≈ 2.4 against 0.5). A normalized weight
# $w_j = \sigma_j w_{\text{raw},j}$ is the change per *standard deviation*, i.e. over
# the range the feature really takes: moving $x_1$ by one σ changes the prediction by
# about 4.9, moving $x_2$ by one σ by about 1.5. So $x_1$ matters more.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Self-check

# %% [markdown] slideshow={"slide_type": "notes"}
# 1. Why are μ and σ computed on the training set only, and reused for the test set?
# 2. A feature has σ = 0.1. What is its variance after the notes' $X/\sigma^2$, and after $X/\sigma$?
# 3. A deployed model receives one example at a time. What happens if each example
#    is normalized with its own mean and standard deviation?
# 4. After normalization the training features have mean 0 and variance 1 exactly.
#    Should the test features too? What do you do if they do not?
# 5. Two features are strongly correlated. Does input normalization remove the correlation?
# 6. You measure a feature in millimetres instead of metres. What changes after normalization?
# 7. After folding (exercise 3), does the model still need μ and σ?

# %% [markdown] slideshow={"slide_type": "-"}
# <details>
# <summary>Answers</summary>
#
# 1. The normalization is part of the model: one fixed function applied to every
#    input. Statistics of the test set would make the same input map to different
#    numbers depending on the batch, and would hide any difference between test
#    and training data (and the test set must not influence the model at all).
# 2. $1/\sigma^2 = 100$ after $X/\sigma^2$: the feature is blown up instead of
#    normalized. After $X/\sigma$ its variance is 1.
# 3. A single example has σ = 0: the formula divides 0 by 0 (`nan`), or, with the
#    constant-feature rule, every example becomes the origin. Use the training μ and σ.
# 4. Only approximately: the test set is a different sample. That is expected;
#    never re-fit μ and σ on the test set.
# 5. No. Each feature is shifted and scaled on its own, which leaves every
#    correlation unchanged: a tilted cloud stays tilted (see the widget).
# 6. Nothing: μ and σ scale with the unit, so $(x - \mu)/\sigma$ is unchanged.
#    Normalized inputs do not depend on units or on the origin of a scale.
# 7. Not as a separate step: they are inside $w_{\text{raw}}$ and $b_{\text{raw}}$. The
#    folded model takes raw inputs and gives exactly the same predictions.
#
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary

# %% [markdown] slideshow={"slide_type": "notes"}
# * Input normalization (输入归一化) has two steps: zero mean (零均值),
#   $X := X - \mu$, then normalize the variance (归一化方差), $X := X/\sigma$, with
#   $\mu$ and $\sigma^2 = \frac{1}{m}\sum_i (x^{(i)} - \mu)^2$ computed per feature.
# * Divide by the standard deviation σ, not by the variance σ² as the notes (and the
#   lecture's slide) say: dividing by σ² leaves each feature with variance $1/\sigma^2$.
# * μ and σ come from the training set only and transform every input afterwards,
#   test examples and single examples included; a test set's own statistics erase
#   real differences and are undefined for a single example.
# * Real features can differ in scale by 10⁵ (2.5e+05 on the breast-cancer data);
#   after normalization they share one scale. scikit-learn's `StandardScaler` does
#   exactly this.
# * A linear model on normalized inputs is a linear model of the raw inputs too: fold
#   μ and σ into its weights, $w/\sigma$, and its bias, $b - \sum_j w_j\mu_j/\sigma_j$.
#   Compare weights on normalized inputs, not raw ones, to see which feature matters.
# * Normalizing inputs to zero mean and similar variances is a long-standing
#   recommendation for gradient training (LeCun, Bottou, Orr & Müller, *Efficient
#   BackProp*, 1998).

# %% [markdown] slideshow={"slide_type": "-"}
# **Next**, lesson 02: *why* this speeds training up, from the shape of the cost function.

# %% [markdown] slideshow={"slide_type": "skip"} tags=["graded-checks"]
# ## Graded checks
#
# One cell per exercise, for grading with nbgrader. In your copy each cell runs the
# same public checker as the cell after the exercise; `assert_ok()` turns a failure
# into an error. When an instructor grades your notebook, nbgrader puts hidden tests
# back into these cells and runs them after the checker, on other data: a function
# that only fits the checker's cases does not pass.

# %% nbgrader={"grade": true, "grade_id": "fit_normalizer_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false} slideshow={"slide_type": "skip"}
checks.check_fit_normalizer(fit_normalizer).assert_ok()
### BEGIN HIDDEN TESTS
from course_lib.normalization import ConstantFeatureWarning
from course_lib.normalization import fit_normalizer as _ref_fit

_rng = np.random.default_rng(20240601)
_cases = [
    _rng.normal(_rng.uniform(-50, 50, _n), 10 ** _rng.uniform(-2, 2, _n), size=(_m, _n))
    for _m, _n in [(5, 1), (60, 4), (6, 6), (300, 3)]
]
_cases[1][:, -1] = np.round(_cases[1][:, -1])  # ties and repeated values
_cases.append(np.column_stack([_rng.normal(size=9), np.full(9, -2.0), np.full(9, 0.5)]))
for _X in _cases:
    _X_before = _X.copy()
    _mu, _sigma = fit_normalizer(_X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantFeatureWarning)
        _mu_ref, _sigma_ref = _ref_fit(_X)
    assert np.allclose(_mu, _mu_ref) and np.allclose(_sigma, _sigma_ref), _X.shape
    assert np.array_equal(_X, _X_before), "X was modified"
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "normalize_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false} slideshow={"slide_type": "skip"}
checks.check_normalize(normalize).assert_ok()
### BEGIN HIDDEN TESTS
from course_lib.normalization import normalize as _ref_normalize

_rng = np.random.default_rng(20240602)
for _m, _n in [(1, 3), (40, 2), (5, 5), (250, 6)]:
    _mu = _rng.uniform(-20, 20, _n)
    _sigma = 10 ** _rng.uniform(-2, 2, _n)
    _X = _rng.normal(_mu + 3.0, 2.0 * _sigma, size=(_m, _n))  # other statistics than mu, sigma
    _args = (_X.copy(), _mu.copy(), _sigma.copy())
    assert np.allclose(normalize(*_args), _ref_normalize(_X, _mu, _sigma)), (_m, _n)
    assert np.array_equal(_args[0], _X), "X was modified"
    assert np.array_equal(_args[1], _mu) and np.array_equal(_args[2], _sigma), "mu/sigma modified"
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "fold_normalization_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false} slideshow={"slide_type": "skip"}
checks.check_fold_normalization(fold_normalization).assert_ok()
### BEGIN HIDDEN TESTS
_rng = np.random.default_rng(20240603)
for _n in (1, 2, 5, 12):
    _w, _b = _rng.normal(0.0, 3.0, _n), float(_rng.normal())
    _mu, _sigma = _rng.uniform(-100, 100, _n), 10 ** _rng.uniform(-3, 3, _n)
    _X = _mu + _sigma * _rng.normal(size=(20, _n))
    _args = (_w.copy(), _b, _mu.copy(), _sigma.copy())
    _w_raw, _b_raw = fold_normalization(*_args)
    _z = (_X - _mu) / _sigma @ _w + _b  # the defining property: the same predictions
    assert np.allclose(_X @ np.asarray(_w_raw) + float(_b_raw), _z, rtol=1e-7, atol=1e-7), _n
    assert np.shape(_w_raw) == (_n,) and np.ndim(_b_raw) == 0, _n
    assert np.array_equal(_args[0], _w) and np.array_equal(_args[2], _mu), "input modified"
    assert np.array_equal(_args[3], _sigma), "input modified"
### END HIDDEN TESTS
