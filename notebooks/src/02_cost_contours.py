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
# # Lesson 02 · Cost contours: why normalized inputs speed up gradient descent

# %% [markdown] slideshow={"slide_type": "notes"}
# Lesson 01 showed *how* to normalize the inputs. This lesson shows *why* it makes
# training faster. The answer is the shape of the cost function. Raw features give a
# long, narrow bowl, which gradient descent can only cross with small steps that
# zig-zag. Normalized features give a round bowl, which it crosses almost directly.
#
# **After this lesson you can**
#
# 1. write the cost function $J(w, b)$ of linear regression, derive its gradient, check
#    it with finite differences, and take one gradient-descent step;
# 2. draw $J$ over $(w_1, w_2)$ and say what the elongated and the round contours of
#    the notes mean;
# 3. derive, from the eigenvalues of the Hessian (黑塞矩阵), the largest learning rate
#    that converges, and explain why gradient descent zig-zags across a narrow valley
#    and why the number of steps grows with the condition number (条件数)
#    $\kappa = \lambda_{\max}/\lambda_{\min}$;
# 4. measure the speed-up that normalization gives, each version at its own best
#    learning rate.
#
# **Time: about 45 minutes** for the core path (reading and running 25, two exercises
# 15, two written questions 5). The two "Going deeper" sections at the end (what each
# step of normalization does to the Hessian; logistic regression on real data, 20
# minutes together) can be skipped without losing the thread. Run the cells in order
# (*Run > Run All Cells* works too).

# %% tags=["imports"]
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression

from course_lib import checks, contours, data, descent
from course_lib.normalization import fit_normalizer, normalize

np.set_printoptions(precision=4, suppress=True)

split = data.two_feature_data()  # the synthetic set of lesson 01, seeded
X, y = split.X_train, split.y_train
mu, sigma = fit_normalizer(X)
X_norm = normalize(X, mu, sigma)
print(split)
print("target: y = 2 x1 - 3 x2 + 1 + noise;  first rows of [X | y]:")
print(np.column_stack([X, y])[:3])

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The cost function (代价函数)
#
# The notes start from the cost of a model with parameters $w$ and $b$:
#
# $$J(w, b) = \frac{1}{m}\sum_{i=1}^{m} L\big(\hat y^{(i)}, y^{(i)}\big)$$

# %% [markdown] slideshow={"slide_type": "notes"}
# $L$ is the **loss** (损失函数) of one example, $J$ the **cost** (代价函数), the average
# loss over the $m$ training examples. (The notes call $J$ "the loss function $J$" in
# one sentence and "the cost function" in the next. We keep the two names apart: loss
# for one example, cost for the average.)

# %% [markdown] slideshow={"slide_type": "-"}
# The pictures use a linear model (线性回归, linear regression) on the two features of
# lesson 01: $\hat y = w_1 x_1 + w_2 x_2 + b = x \cdot w + b$, with the squared error
#
# $$L = \tfrac12\,(\hat y - y)^2 .$$

# %% [markdown] slideshow={"slide_type": "notes"}
# **Which squared error?** This course keeps the ½, so that the derivative of $L$ with
# respect to $\hat y$ is just $\hat y - y$. Without it ($L = (\hat y - y)^2$) the cost,
# its gradient and its Hessian all double, and every learning rate below halves.
# Nothing else changes.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Gradient descent (梯度下降) and the learning rate (学习率)
#
# Gradient descent starts somewhere, here at $w = 0,\ b = 0$, and repeats
#
# $$w := w - \alpha\,\frac{\partial J}{\partial w}, \qquad b := b - \alpha\,\frac{\partial J}{\partial b}$$

# %% [markdown] slideshow={"slide_type": "notes"}
# with the **learning rate** $\alpha > 0$. Both gradients (梯度) are taken at the
# *current* $(w, b)$, and then both parameters are updated. Each step moves against the
# gradient, which is perpendicular to the contour line through the current point. The
# code calls $\alpha$ `lr`.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 1: derive the gradient, take one step (graded)

# %% [markdown] slideshow={"slide_type": "notes"}
# **First on paper.** Find $\partial J/\partial w_j$ and $\partial J/\partial b$ for the
# linear model with $L = \tfrac12(\hat y - y)^2$. Use the chain rule (链式法则):
# $\partial L/\partial \hat y = \hat y - y$, and $\hat y^{(i)} = x^{(i)}\cdot w + b$
# depends on $w_j$ only through the term $w_j x_j^{(i)}$. Then write your result for all
# $j$ at once, with the matrix $X$ (one example per row) and the vector of residuals
# $\hat y - y$.

# %% [markdown] slideshow={"slide_type": "-"}
# **Then in code.** Write `gradient_descent_step(X, y, w, b, lr)`:
#
# * `X` has shape `(m, n)`, `y` shape `(m,)`, `w` shape `(n,)`, `b` and `lr` are numbers;
# * compute $\hat y = Xw + b$, then both gradients at the **old** $(w, b)$, then
#   return `(w_new, b_new)`: `w_new` of shape `(n,)` and `b_new` a number.

# %% [markdown] slideshow={"slide_type": "notes"}
# Do not modify the arguments, and do not call `course_lib`. The cell after yours
# checks your function and names the mistake if one fails; if you are stuck, run it
# again (or call `.more()` on its result) for a more concrete hint.

# %% nbgrader={"grade": false, "grade_id": "gradient_descent_step", "locked": false, "schema_version": 3, "solution": true}
def gradient_descent_step(X, y, w, b, lr):
    """One step of gradient descent on J(w, b) = (1/m) sum 1/2 (X w + b - y)^2."""
    ### BEGIN SOLUTION
    m = X.shape[0]
    residual = X @ w + b - y  # y_hat - y, shape (m,)
    dw = X.T @ residual / m
    db = residual.mean()
    return w - lr * dw, b - lr * db
    ### END SOLUTION


# %% tags=["exercise-feedback"]
checks.check_gradient_descent_step(gradient_descent_step)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### The gradient, and a check with finite differences
#
# By the chain rule, $\partial L^{(i)}/\partial w_j = (\hat y^{(i)} - y^{(i)})\,x_j^{(i)}$
# and $\partial L^{(i)}/\partial b = \hat y^{(i)} - y^{(i)}$. Averaged over the examples,
# with rows as examples ($X$ is $m \times n$):
#
# $$\frac{\partial J}{\partial w} = \frac1m X^\top(\hat y - y), \qquad
#   \frac{\partial J}{\partial b} = \frac1m \sum_{i=1}^m \big(\hat y^{(i)} - y^{(i)}\big).$$

# %% [markdown] slideshow={"slide_type": "notes"}
# **Logistic regression** (逻辑回归), used at the end of the lesson, predicts
# $\hat y = \operatorname{sigmoid}(x\cdot w + b)$ with
# $\operatorname{sigmoid}(z) = 1/(1 + e^{-z})$ and the cross-entropy (交叉熵) loss
# $L = -y\log\hat y - (1-y)\log(1-\hat y)$. Its gradient has *exactly the same form*.
# (Many texts write the sigmoid as $\sigma(z)$. In this course $\sigma$ always means a
# standard deviation, as in lesson 01, so we write "sigmoid".)

# %% [markdown] slideshow={"slide_type": "-"}
# A formula should not be taken on trust, so we check both gradients against finite
# differences (有限差分),
# $\partial J/\partial\theta_k \approx \big(J(\theta + h e_k) - J(\theta - h e_k)\big)/2h$:

# %% slideshow={"slide_type": "subslide"}
rng = np.random.default_rng(0)
w_test, b_test = rng.normal(size=2), 0.5
dw, db = descent.squared_error_gradients(X, y, w_test, b_test)
ndw, ndb = descent.numerical_gradients(X, y, w_test, b_test)
print("squared error  dJ/dw =", dw, " dJ/db =", round(db, 4))
print("               finite differences agree to 1e-7:",
      np.allclose(dw, ndw, rtol=1e-7) and np.isclose(db, ndb, rtol=1e-7))

y_class = (y > np.median(y)).astype(float)  # a 0/1 target, only to test the formula
dw, db = descent.logistic_gradients(X, y_class, w_test, b_test)
ndw, ndb = descent.numerical_gradients(X, y_class, w_test, b_test, loss="logistic")
print("logistic       dJ/dw =", dw, " dJ/db =", round(db, 4))
print("               finite differences agree to 1e-7:",
      np.allclose(dw, ndw, rtol=1e-7) and np.isclose(db, ndb, rtol=1e-7))

# %% [markdown] slideshow={"slide_type": "slide"}
# ## The notes' two pictures: $J$ over $(w_1, w_2)$
#
# The notes draw $J$ as contour lines (等高线) over the two weights. Without
# normalization the contours are **long and narrow** (细长狭窄). With normalized features
# they are **round** (球形轮廓, "spherical contours").

# %% [markdown] slideshow={"slide_type": "notes"}
# **What about $b$?** The model has three parameters and a contour plot has two axes.
# We set $b$ to its best value for every $w$: for fixed $w$, $J$ is a parabola in $b$,
# minimized at $b^*(w) = \bar y - \bar x\cdot w$. What remains is

# %% [markdown] slideshow={"slide_type": "-"}
# $$\tilde J(w) = \min_b J(w, b) = J_{\min} + \tfrac12\,(w - w^*)^\top S\,(w - w^*),
#   \qquad S = \tfrac1m (X - \bar x)^\top (X - \bar x),$$

# %% [markdown] slideshow={"slide_type": "notes"}
# a quadratic bowl whose Hessian is $S$, the covariance matrix (协方差矩阵) of the
# features. It is the cost of the *centred* problem. There, gradient descent on
# $(w_1, w_2, b)$ moves $w$ exactly as gradient descent on $\tilde J$ does, because $b$
# decouples (see below). So this picture shows what the **scales** of the features do.
# Raw, uncentred data, where gradient descent must find $b$ as well, is worse still,
# and we measure that further down.
#
# Both panels start from $w = 0$. That is the same model in both (it predicts
# $\bar y$), so both start at the same cost $J_0$. The contour lines sit at the same cost
# values in both panels. Both axes of each panel have the same scale, and each path
# runs at its own best learning rate.

# %% alt="Contours of the cost over (w1, w2) with a gradient-descent path from w = 0: elongated ellipses and a zig-zag path for raw features (left), round contours and a direct path for normalized ones (right)." slideshow={"slide_type": "subslide"}
contours.plot_raw_vs_normalized(X, y, steps=25)
plt.show()

# %% [markdown] slideshow={"slide_type": "notes"}
# **Left, raw features.** $x_1$ is spread widely ($\sigma_1 \approx 2.4$) and $x_2$
# narrowly ($\sigma_2 \approx 0.5$). Changing $w_1$ changes every prediction a lot, so $J$
# rises steeply along $w_1$; changing $w_2$ does little, so $J$ is flat along $w_2$.
# The bowl is a narrow valley. Gradient descent bounces from one wall to the
# other (a **zig-zag**) and creeps along the valley floor: after 25 steps it is
# still far from the minimum (★).

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Right, normalized features.** Both features have variance 1, the contours are
# (nearly) circles, and the gradient points straight at the minimum. The first step lands
# almost on it.

# %% [markdown] slideshow={"slide_type": "notes"}
# The notes' figure of the raw case comes with ranges like 1…1000 against 0…1. They
# are easily read as ranges of $w_1$ and $w_2$, but they belong to the **features**
# ($x_1 \in [1, 1000]$, $x_2 \in [0, 1]$), not to the weights. A wide feature makes the
# bowl **narrow** along its own weight $w_1$ and long along $w_2$, as on the left.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Why: the Hessian and its condition number
#
# The squared-error cost is exactly a quadratic in $\theta = (w, b)$. Its Hessian
# (the matrix of second derivatives) is constant:
#
# $$H = \frac1m \tilde X^\top \tilde X, \qquad \tilde X = [\,X,\ \mathbf 1\,]\ \text{(a column of ones for } b).$$

# %% [markdown] slideshow={"slide_type": "notes"}
# Write $e_t = \theta_t - \theta^*$ for the distance to the minimum (最小值). One step
# gives $e_{t+1} = (I - \alpha H)\,e_t$. In the basis of the eigenvectors (特征向量) of $H$
# ($H v_i = \lambda_i v_i$, eigenvalues (特征值) $\lambda_i > 0$) each component evolves
# on its own:

# %% [markdown] slideshow={"slide_type": "-"}
# $$e_{t+1,i} = (1 - \alpha\lambda_i)\, e_{t,i}.$$
#
# Everything in this section follows from this one line.

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Exercise 2: the largest stable learning rate (graded)
#
# **First on paper.** From $e_{t+1,i} = (1 - \alpha\lambda_i)\,e_{t,i}$: for which
# learning rates $\alpha > 0$ does the component $i$ shrink at every step? Which
# eigenvalue gives the strictest condition? Write down the largest $\alpha$ below which
# *every* component shrinks.

# %% [markdown] slideshow={"slide_type": "notes"}
# **Then in code.** Write `largest_stable_lr(X)` for linear regression with
# $L = \tfrac12(\hat y - y)^2$ that fits **both $w$ and $b$** by gradient descent. `X`
# has shape `(m, n)`. Build the Hessian $H = \frac1m \tilde X^\top \tilde X$ above
# ($\tilde X$ has shape `(m, n+1)`) and return the bound you derived (the rates below it
# converge). `np.linalg.eigvalsh` gives the eigenvalues of a symmetric matrix, in
# ascending order. Do not call `course_lib`.

# %% nbgrader={"grade": false, "grade_id": "largest_stable_lr", "locked": false, "schema_version": 3, "solution": true}
def largest_stable_lr(X):
    """The largest learning rate for which gradient descent on J(w, b) converges."""
    ### BEGIN SOLUTION
    m = X.shape[0]
    X1 = np.hstack([X, np.ones((m, 1))])
    H = X1.T @ X1 / m
    return 2.0 / np.linalg.eigvalsh(H)[-1]
    ### END SOLUTION


# %% tags=["exercise-feedback"]
checks.check_largest_stable_lr(largest_stable_lr)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### What the recursion says

# %% [markdown] slideshow={"slide_type": "notes"}
# * **Stability.** Component $i$ shrinks when $|1 - \alpha\lambda_i| < 1$, i.e.
#   $0 < \alpha < 2/\lambda_i$. The steepest direction is the strictest:
#   $$\alpha < \frac{2}{\lambda_{\max}}.$$
#   Above this bound the steep component is multiplied by a factor below $-1$ each
#   step: it flips sign and grows, and the cost explodes. *At* the bound the factor is
#   exactly $-1$: the steep component flips sign and keeps its size forever.
# * **Speed.** The flattest direction shrinks by $1 - \alpha\lambda_{\min}$ per step,
#   which is at least $1 - 2/\kappa$ with $\kappa = \lambda_{\max}/\lambda_{\min}$ the
#   **condition number**. The best fixed rate, $\alpha = 2/(\lambda_{\min}+\lambda_{\max})$,
#   multiplies every component by a factor of size at most $(\kappa-1)/(\kappa+1)$. Cutting
#   $J - J_{\min}$ by a factor `tol` then takes about $\frac{\kappa}{4}\ln\frac{1}{\text{tol}}$
#   steps (iterations, 迭代).
# * **The zig-zag.** Near the best rate the steep factor $1 - \alpha\lambda_{\max}$ is
#   close to $-1$. The steep component changes sign at every step, a bounce across the
#   narrow valley, and shrinks only slowly. The flat factor is close to $+1$, a crawl
#   along the valley. The gradient is perpendicular to the contours, and on a narrow
#   ellipse that points mostly *across* the valley, not toward the minimum.
#
# On round contours ($\kappa = 1$) all eigenvalues are equal. Then
# $\alpha = 1/\lambda$ makes every factor 0, and one step reaches the minimum. These
# are the "larger steps" (较大步长) of the notes. LeCun, Bottou, Orr & Müller (*Efficient
# BackProp*, 1998) give this analysis and draw from it the advice to normalize inputs.

# %% [markdown] slideshow={"slide_type": "-"}
# Here are the numbers for the picture above. Its Hessian is $S$, the $2\times 2$ block
# for $w$ with $b$ at its optimum; we write $\kappa(S)$ for its condition number, to tell
# it from $\kappa(H)$ of the whole model $(w, b)$ further down.

# %%
costs = {"raw": contours.ProfileCost.from_data(X, y),
         "normalized": contours.ProfileCost.from_data(X_norm, y)}
for name, cost in costs.items():
    lam = np.linalg.eigvalsh(cost.S)
    lr = cost.lr_optimal
    factors = 1 - lr * lam
    print(f"{name:>10}: eigenvalues of S {lam.round(3)}, kappa(S) = {lam[-1] / lam[0]:.3g},"
          f" 2/lambda_max = {2 / lam[-1]:.3g}")
    print(f"{'':>10}  best rate {lr:.3g}: factors per step (steep, flat) ="
          f" ({factors[1]:+.3f}, {factors[0]:+.3f})")

# %% [markdown] slideshow={"slide_type": "notes"}
# The raw steep factor is $-0.92$ and its flat factor $+0.92$: each step flips the
# steep component and keeps 92 % of it. Normalized, both factors are about $\pm 0.05$,
# so one step removes 95 % of the error. The raw path above, as distances to the minimum:

# %% slideshow={"slide_type": "subslide"}
raw_cost = costs["raw"]
path, path_costs = raw_cost.descend(raw_cost.lr_optimal, steps=8)
print("w - w*  along the raw path (w1 flips sign each step, w2 creeps):")
print(path - raw_cost.w_star)

# %% [markdown] slideshow={"slide_type": "subslide"}
# ### Below and above $2/\lambda_{\max}$
#
# The same on the whole model $(w_1, w_2, b)$, raw data, at 0.99 and at 1.01 times the bound:

# %%
H_raw = descent.squared_error_hessian(X)  # (3, 3): w1, w2 and b
bound = descent.stable_lr_bound(H_raw)
print(f"2 / lambda_max = {bound:.4g}")
for factor in (0.99, 1.01):
    run = descent.gradient_descent(X, y, factor * bound, steps=600)
    shown = ", ".join(f"J_{t} = {run.cost[t]:.3g}" for t in (0, 10, 100, 600))
    print(f"lr = {factor} x bound: {shown}")

# %% [markdown] slideshow={"slide_type": "fragment"}
# At 0.99 × the bound the cost falls at every step. At 1.01 × the bound it rises from
# the first step on and then explodes: the steep component grows by
# $|1 - 1.01 \cdot 2| = 1.02$ per step, so the cost grows by $1.02^2 \approx 1.04$ per step.

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Question 1** (written answer, 1 point). Now take $\alpha$ exactly equal to the
# bound, $2/\lambda_{\max}$. What happens, step after step, to the component of the
# error along the steepest eigenvector? Does the cost still fall at every step, and
# does gradient descent reach the minimum? Two or three sentences.

# %% [markdown] nbgrader={"grade": true, "grade_id": "q_at_the_bound", "locked": false, "points": 1, "schema_version": 3, "solution": true, "task": false} slideshow={"slide_type": "notes"}
# **Model answer.** Its factor is $1 - \alpha\lambda_{\max} = -1$: the component flips
# sign at every step and keeps exactly its size. The other components still shrink, so
# the cost falls at first, but never below $J_{\min}$ plus the part the steep component
# carries, $\tfrac12\lambda_{\max}e_{0,\max}^2$; in the end the cost stays level while
# the parameters jump between two points on opposite walls of the valley. Gradient
# descent does not reach the minimum: at the bound the cost can only stop rising, a
# decrease at every step needs $\alpha < 2/\lambda_{\max}$ strictly.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## A limit the notes do not mention: correlated features

# %% [markdown] slideshow={"slide_type": "notes"}
# The notes promise that with normalized inputs gradient descent heads to the minimum
# "from any starting point". That is true only if the contours become round, and for
# that the features must also be **uncorrelated**. Normalization scales each feature
# on its own and leaves correlations untouched. For two normalized features with
# correlation $\rho$, the matrix $S$ of the picture is $\begin{pmatrix} 1 & \rho \\ \rho & 1\end{pmatrix}$
# (the correlation matrix, 相关系数矩阵), with eigenvalues $1 \pm \rho$, so
# $\kappa = (1 + \rho)/(1 - \rho)$; for the whole model, $\kappa(H)$ is the same (the
# eigenvalue 1 that $b$ adds lies between them):

# %%
correlated = data.two_feature_data(correlation=0.9).X_train
k = descent.normalization_condition_numbers(correlated)
print(f"correlation 0.9: kappa(H) raw = {k['raw']:.3g}, normalized = {k['normalized']:.3g}"
      f"  (formula (1 + r)/(1 - r) = {(1 + 0.9) / (1 - 0.9):.3g} for r = 0.9)")

# %% [markdown] slideshow={"slide_type": "notes"}
# The normalized contours are still ellipses, tilted along the correlation.
# Normalization helps a lot, but it does not make every bowl round. Removing
# correlations as well would take a rotation (whitening, 白化), and adaptive optimizers
# such as Adam partly compensate for uneven curvature. Batch Norm (lessons 03 to 05)
# also normalizes each unit on its own.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Measured: iterations to converge, raw vs normalized

# %% [markdown] slideshow={"slide_type": "notes"}
# The notes claim that gradient descent needs many iterations on raw inputs and fewer
# on normalized ones. Here we measure it. For each version of the data we run gradient
# descent on the full model $(w, b)$ from $w = 0, b = 0$. Each version gets **its own
# best learning rate**: we try $\alpha = c \times 2/\lambda_{\max}$ for
# $c \in \{0.1, 0.2, \dots, 0.9, 0.95, 0.99\}$ and keep the fastest. We count the steps
# until $J - J_{\min} \le 10^{-6}\,(J_0 - J_{\min})$: a strict target, close to the
# minimum, so the count measures how fast each run converges, not how good its first
# step is. Normalizing only re-parametrizes the same family of models, so both
# versions have the same $J_0$ and the same $J_{\min}$.

# %%
synthetic = descent.compare_iterations(X, y, dataset="synthetic set (lesson 01)")
print(synthetic)

# %% alt="The relative cost gap per gradient-descent step on a log scale: the normalized run falls to 1e-6 within a few steps, the raw run takes about 1500." slideshow={"slide_type": "subslide"}
contours.plot_convergence(X, y, synthetic, steps=2000)
plt.show()

# %% [markdown] slideshow={"slide_type": "subslide"}
# Raw inputs need 1547 steps, normalized ones 3: 516 times fewer, each at its own best
# learning rate. The raw run did not lose for lack of a good learning rate. Its best
# rate is bounded by the steepest direction, and it is then far too small for the
# flattest one.

# %% [markdown] slideshow={"slide_type": "notes"}
# On the log scale the raw curve drops quickly at first (the error along the steeper
# directions is removed), then falls at a slow, steady rate: the flattest direction,
# shrinking by $|1 - \alpha\lambda_{\min}|$ per step. The normalized curve drops to
# round-off in a handful of steps.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Explore: scale, learning rate, steps

# %% [markdown] slideshow={"slide_type": "notes"}
# The widget below starts from the normalized synthetic set and multiplies $x_1$ by a
# factor $s$. The ratio of the spreads is then $s$ and $\kappa(S) \approx s^2$ ($s = 1$ is
# the normalized set, $s \approx 5$ the raw spreads). The data stay centred, as in the
# contour picture above, so $s \approx 5$ gives the $\kappa(S) \approx 24$ of the raw
# features, not the $\kappa(H) \approx 760$ of the raw, uncentred model. You choose the
# learning rate as a fraction of the bound $2/\lambda_{\max}$, and the number of steps.
# On the left are the contours and the path; on the right,
# $(J - J_{\min})/(J_0 - J_{\min})$ per step; beside them, $\kappa(S)$, the bound, the
# factors $|1 - \alpha\lambda|$, and the exact number of steps to reach 10⁻⁶ at this
# rate. Try:
#
# * **scale 1, lr 0.5**: almost all the way to the minimum in one step;
# * **scale 5 or 10, lr 0.9 to 0.99**: the zig-zag, and a curve that falls slowly;
# * **lr 0.3 at scale 10**: no zig-zag (the steep factor is positive), but an even slower crawl;
# * **lr 1.0 and 1.02**: at the bound the steep component oscillates forever; just above, it explodes.

# %% [markdown] slideshow={"slide_type": "-"}
# First the same figure as a static picture (for reading on a page), then the live widget.

# %% alt="The explorer's picture at feature scale 5 and learning rate 0.9 times the stable limit: contours with the gradient-descent path (left) and the cost gap per step on a log scale (right)." slideshow={"slide_type": "subslide"}
contours.explorer_figure(scale=5.0, lr_factor=0.9, steps=40)
plt.show()

# %% slideshow={"slide_type": "subslide"} tags=["widget", "nbval-ignore-output"]
# ipywidgets sliders: feature scale, learning rate, number of steps
contours.contour_explorer()

# %% [markdown] slideshow={"slide_type": "subslide"}
# **Question 2** (written answer, 1 point). The best learning rate was 0.0604 on the
# raw synthetic data and 0.949 on the normalized data. A classmate concludes:
# "normalization helps because it allows a larger learning rate." Is the size of
# $\alpha$ what matters? Answer in two or three sentences (self-check question 4
# below may help).

# %% [markdown] nbgrader={"grade": true, "grade_id": "q_larger_rate", "locked": false, "points": 1, "schema_version": 3, "solution": true, "task": false} slideshow={"slide_type": "notes"}
# **Model answer.** No. The size of $\alpha$ depends on the units of the features and
# weights: multiply every feature by 10 and the bound $2/\lambda_{\max}$ falls 100
# times, yet (without $b$) the path and the number of steps stay exactly the same.
# What costs steps is the condition number $\kappa = \lambda_{\max}/\lambda_{\min}$:
# one $\alpha$ serves every direction, the steepest one caps it, and the flattest one
# then needs about $\kappa$ steps. Normalization helps because it makes $\kappa$ small,
# so that one $\alpha$ suits every direction; "a larger learning rate" in the notes
# means large compared with what the flat directions need.

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Self-check

# %% [markdown] slideshow={"slide_type": "notes"}
# 1. What is the difference between the loss $L$ and the cost $J$?
# 2. The largest eigenvalue of the Hessian is 40. Which learning rates converge? Which
#    one lands exactly on the minimum along that direction?
# 3. Why does gradient descent zig-zag across a narrow valley instead of following it?
# 4. All features are multiplied by 10. What happens to $\kappa$, to $2/\lambda_{\max}$
#    and to the number of iterations?
# 5. Your features are normalized but two of them are strongly correlated. Are the
#    contours round?
# 6. Why may the contour picture set $b$ to its optimum for every $w$, and when is that
#    exactly what gradient descent does?

# %% [markdown] slideshow={"slide_type": "-"}
# <details>
# <summary>Answers</summary>
#
# 1. $L$ measures the error on one example; $J$ is the average of $L$ over the
#    training set. Gradient descent minimizes $J$.
# 2. Every $0 < \alpha < 2/40 = 0.05$ converges (given that the other directions are
#    flatter). At exactly 0.05 the steepest component oscillates forever.
#    $\alpha = 1/40 = 0.025$ makes the factor $1 - \alpha\lambda_{\max}$ zero.
# 3. The gradient is perpendicular to the contours. On a narrow ellipse that direction
#    points mostly across the valley. A step large enough to make progress along the
#    flat floor overshoots the steep walls, so the steep component flips sign at every step.
# 4. Without $b$: $H = \frac1m X^\top X$ is multiplied by 100, so $2/\lambda_{\max}$ is
#    divided by 100 while $\kappa$ stays the same. At the rescaled rate the path (in
#    units of $10\,w$) and the iteration count are exactly the same as before. With $b$,
#    its entry of $H$ does not scale, so $\kappa$ changes as well. The learning rate
#    depends on units; the iteration count depends on $\kappa$.
# 5. No. Normalization sets each variance to 1 but keeps correlations. For
#    correlation $\rho$ the eigenvalues are $1 \pm \rho$: elongated, tilted contours.
# 6. $\min_b J(w, b)$ is an honest function of $w$ alone: the best cost reachable with
#    these weights. On centred features $b$ decouples from $w$, and gradient descent on
#    $(w, b)$ moves $w$ exactly as gradient descent on $\min_b J$ does.
#
# </details>

# %% [markdown] slideshow={"slide_type": "slide"}
# ## Summary

# %% [markdown] slideshow={"slide_type": "notes"}
# * The cost function (代价函数) $J(w,b) = \frac1m\sum_i L(\hat y^{(i)}, y^{(i)})$ averages
#   the loss of each example. For the squared error $\tfrac12(\hat y - y)^2$ and for
#   the logistic loss the gradient is $\frac1m X^\top(\hat y - y)$, $\frac1m\sum(\hat y - y)$.
# * Gradient descent (梯度下降) with learning rate (学习率) $\alpha$ on a quadratic
#   multiplies the error along eigenvector $i$ of the Hessian (黑塞矩阵) by
#   $1 - \alpha\lambda_i$. It converges iff $0 < \alpha < 2/\lambda_{\max}$ (at the bound
#   the steepest component oscillates forever) and needs about
#   $\frac\kappa4\ln\frac1{\text{tol}}$ steps, $\kappa = \lambda_{\max}/\lambda_{\min}$ the
#   condition number (条件数).
# * Raw features on different scales, or far from the origin, give long, narrow
#   (细长狭窄) contours and a large $\kappa$: small steps, a zig-zag across the valley,
#   many iterations. Normalized features give round contours (球形轮廓), $\kappa \approx 1$,
#   and a nearly direct path.
# * Measured on the synthetic set, each at its own best learning rate, to within 10⁻⁶
#   of the minimum: 1547 steps on raw inputs, 3 on normalized ones.
# * What matters is $\kappa$, not the size of $\alpha$, which depends on units.
# * Normalization does not remove correlations: correlated features still give
#   elongated contours.

# %% [markdown] slideshow={"slide_type": "-"}
# **Next**, lesson 03: the same idea inside the network, Batch Normalization.

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# ## Going deeper: what each step of normalization does to the Hessian
#
# For the whole model $(w, b)$ the Hessian has the block form
#
# $$H = \begin{pmatrix} \frac1m X^\top X & \bar x \\ \bar x^\top & 1 \end{pmatrix}.$$
#
# * **Step 1, zero mean** (零均值), makes $\bar x = 0$. The off-diagonal block
#   vanishes and $b$ **decouples** from $w$: the Hessian becomes
#   $\begin{pmatrix} S & 0 \\ 0 & 1\end{pmatrix}$. A cloud far from the origin instead
#   couples $b$ with $w$ in a long diagonal valley.
# * **Step 2, unit variance** (归一化方差), makes the diagonal of $S$ all ones. What
#   remains of $S$ is the **correlation** matrix.
#
# Here is $\kappa(H)$ after each step of lesson 01, and the number of steps that
# guarantee `tol` = 10⁻⁶ at the best rate:

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
kappas = descent.normalization_condition_numbers(X)
for name, kappa in kappas.items():
    print(f"{name:>10}: kappa(H) = {kappa:7.3g}   steps for 1e-6 guaranteed:"
          f" {descent.iterations_bound(kappa, 1e-6):6d}")

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# On this data set centring does more than scaling, because the cloud sits far from
# the origin. Together they bring $\kappa(H)$ from about 760 to about 1.1. (Centred,
# $\kappa(H) = \kappa(S)$ here: the eigenvalue 1 that $b$ adds lies between those of $S$.)

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# ## Going deeper: real data, logistic regression
#
# The notes' claim, tested on lesson 01's breast-cancer data: 30 features whose
# spreads differ by a factor of about 250 000, and logistic regression (a linear model
# with a sigmoid output, the same gradient formula). First, a property of this
# training set that decides how to measure: it is **linearly separable** (线性可分).
# A logistic regression with almost no penalty (scikit-learn's, $C = 10^4$) classifies
# every training example correctly:

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
cancer = data.breast_cancer()
Z_cancer = normalize(cancer.X_train, *fit_normalizer(cancer.X_train))
accuracy = LogisticRegression(C=1e4, max_iter=10_000).fit(Z_cancer, cancer.y_train).score(
    Z_cancer, cancer.y_train)
print(f"training accuracy of a nearly unregularized logistic regression: {accuracy:.1%}")

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# On separable data, scaling up any separating $w$ lowers the cost further: the cost
# has no minimum, only the infimum 0, and "converged" means nothing. A target such as
# "$J \le 0.2$" measures progress, not convergence, and a loose one flatters whoever
# makes a good first step (normalized descent gets there in one step).
#
# So we give the cost a minimum, as practitioners do: the L2 penalty (正则化,
# regularization) of scikit-learn's default, $C = 1$,
#
# $$J(w, b) = \frac1m\sum_{i=1}^m L^{(i)} + \frac{\lambda}{2}\,\|w\|^2, \qquad \lambda = \frac{1}{C\,m}.$$
#
# Now each version has exactly one minimum $J_{\min}$, which Newton's method (牛顿法)
# finds in a few steps whatever the scales (we check it against scikit-learn). The
# penalty acts on the weights each version trains, as it would in scikit-learn, so
# raw and normalized have slightly different minima; each run is measured against its
# own, with the same strict target as above, $J - J_{\min} \le 10^{-6}\,(J_0 - J_{\min})$.

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
lam = 1.0 / len(cancer.y_train)  # C = 1
w_min, b_min, j_min = descent.logistic_minimum(Z_cancer, cancer.y_train, lam)
sk = LogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(Z_cancer, cancer.y_train)
j_sk = descent.logistic_cost(Z_cancer, cancer.y_train, sk.coef_[0], sk.intercept_[0], lam)
print(f"normalized: J_min = {j_min:.6f} by Newton's method;"
      f" scikit-learn's minimum is {'the same to 1e-9' if abs(j_sk - j_min) < 1e-9 else j_sk}")

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# The learning-rate search: the logistic cost's Hessian is at most
# $L = \lambda_{\max}/4 + \lambda$ in every direction, because
# $\operatorname{sigmoid}'(z) \le \tfrac14$ ($\lambda_{\max}$ of $\frac1m\tilde X^\top\tilde X$
# as above). A step $\alpha = 2/L$ therefore never lets the cost rise; only steps
# strictly below $2/L$ are guaranteed to lower it. We try $c \times 2/L$ for
# $c \in \{1, 2, 4, \dots, 64\}$ (larger steps often work, because the true curvature is
# smaller than $L$) and keep the fastest run. We allow at most 10 000 steps.

# %% slideshow={"slide_type": "skip"} tags=["going-deeper"]
real = descent.compare_iterations(
    cancer.X_train, cancer.y_train, loss="logistic", l2=lam,
    max_iter=10_000, dataset="breast cancer (30 features)",
)
print(real)
print("\nsteps for each factor c tried (-: diverged, or not within 10 000 steps):")
for run in (real.raw, real.normalized):
    print(f"{run.data:>10}:", ", ".join(f"c={c:g}: {i if i is not None else '-'}"
                                        for c, i in run.tried))

# %% [markdown] slideshow={"slide_type": "skip"} tags=["going-deeper"]
# Normalized, gradient descent converged in 160 steps. Raw, it did not converge in
# 10 000 steps at any of the rates tried: after them it still had 0.16 of its initial
# gap $J_0 - J_{\min}$ left. The ratio is therefore at least 10 000 / 160 ≈ 62. It is
# surely far larger (in 10 000 steps the raw run removed 84 % of its gap, the
# normalized one removed all but 10⁻⁶ of it in 160), but we quote only what we measured.
#
# Two honest remarks:
#
# * After normalization the breast-cancer features still give $\kappa(H) \approx 10^5$.
#   Radius, perimeter and area are strongly correlated, and correlated features keep
#   elongated contours (see "A limit the notes do not mention"). The penalty adds
#   $\lambda$ to the curvature along every weight, so the flattest directions are not
#   as flat as $\kappa(H)$ suggests; that is why 160 steps suffice.
# * The raw learning rate is tiny ($\sim 10^{-5}$) and the normalized one is not, but,
#   as in question 2, the size of $\alpha$ itself means nothing: what costs iterations
#   is the ratio of the steepest to the flattest curvature.

# %% [markdown] slideshow={"slide_type": "skip"} tags=["graded-checks"]
# ## Graded checks
#
# One cell per exercise, for grading with nbgrader. In your copy each cell runs the
# same public checker as the cell after the exercise; `assert_ok()` turns a failure
# into an error. When an instructor grades your notebook, nbgrader puts hidden tests
# back into these cells and runs them after the checker, on other data: a function
# that only fits the checker's cases does not pass.

# %% nbgrader={"grade": true, "grade_id": "gradient_descent_step_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false} slideshow={"slide_type": "skip"}
checks.check_gradient_descent_step(gradient_descent_step).assert_ok()
### BEGIN HIDDEN TESTS
from course_lib.descent import gradient_descent_step as _ref_step

_rng = np.random.default_rng(20240611)
for _m, _n in [(1, 1), (7, 2), (30, 5), (200, 3)]:
    _X = _rng.normal(_rng.uniform(-5, 5, _n), 10 ** _rng.uniform(-1, 1, _n), size=(_m, _n))
    _y = _rng.normal(size=_m) * 3
    _w, _b, _lr = _rng.normal(size=_n), float(_rng.normal()), float(10 ** _rng.uniform(-3, -1))
    _args = (_X.copy(), _y.copy(), _w.copy(), _b, _lr)
    _w_new, _b_new = gradient_descent_step(*_args)
    _w_ref, _b_ref = _ref_step(_X, _y, _w, _b, _lr)
    assert np.allclose(_w_new, _w_ref) and np.isclose(_b_new, _b_ref), (_m, _n)
    assert all(np.array_equal(a, b) for a, b in zip(_args[:3], (_X, _y, _w), strict=True)), "input modified"
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "largest_stable_lr_tests", "locked": true, "points": 2, "schema_version": 3, "solution": false} slideshow={"slide_type": "skip"}
checks.check_largest_stable_lr(largest_stable_lr).assert_ok()
### BEGIN HIDDEN TESTS
from course_lib.descent import largest_stable_lr as _ref_lr

_rng = np.random.default_rng(20240612)
for _m, _n in [(2, 1), (9, 2), (40, 4), (300, 6)]:
    _X = _rng.normal(_rng.uniform(-10, 10, _n), 10 ** _rng.uniform(-1, 1.5, _n), size=(_m, _n))
    _X_before = _X.copy()
    assert np.isclose(float(largest_stable_lr(_X)), _ref_lr(_X), rtol=1e-6), (_m, _n)
    assert np.array_equal(_X, _X_before), "X was modified"
### END HIDDEN TESTS
