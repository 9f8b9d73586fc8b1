"""Lesson 05: running statistics, inference, conventions, population statistics.

Oracles: PyTorch's BatchNorm1d when installed, and, always, the published update
rules (PyTorch docs, Keras 3 docs, the paper's Algorithm 2) re-implemented here
with plain Python loops and math.fsum, independently of the code under test.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import running_stats as rs
from course_lib.batchnorm import batchnorm_forward, batchnorm_inference, update_running_stats


# ------------------------------------------------------------------ independent oracles
def _mean_var(column: list[float], ddof: int) -> tuple[float, float]:
    m = len(column)
    mean = math.fsum(column) / m
    return mean, math.fsum((v - mean) ** 2 for v in column) / (m - ddof)


def pytorch_rule(batches, momentum=0.1):
    """PyTorch docs: x_new = (1 - momentum) * x + momentum * x_t, unbiased variance,
    running_mean starts at 0, running_var at 1."""
    n = batches[0].shape[1]
    mean, var = [0.0] * n, [1.0] * n
    for z in batches:
        for j in range(n):
            bm, bv = _mean_var([float(v) for v in z[:, j]], ddof=1)
            mean[j] = (1 - momentum) * mean[j] + momentum * bm
            var[j] = (1 - momentum) * var[j] + momentum * bv
    return np.array(mean), np.array(var)


def keras_rule(batches, momentum=0.99):
    """Keras 3 docs: moving = moving * momentum + batch * (1 - momentum), biased variance,
    moving_mean starts at 0, moving_variance at 1."""
    n = batches[0].shape[1]
    mean, var = [0.0] * n, [1.0] * n
    for z in batches:
        for j in range(n):
            bm, bv = _mean_var([float(v) for v in z[:, j]], ddof=0)
            mean[j] = mean[j] * momentum + bm * (1 - momentum)
            var[j] = var[j] * momentum + bv * (1 - momentum)
    return np.array(mean), np.array(var)


def algorithm2(batches):
    """Ioffe & Szegedy 2015, Algorithm 2, step 10: E[x] = E_B[mu_B],
    Var[x] = m/(m-1) E_B[sigma_B^2], for batches of one size m."""
    m = batches[0].shape[0]
    n = batches[0].shape[1]
    means, variances = [], []
    for j in range(n):
        stats = [_mean_var([float(v) for v in z[:, j]], ddof=0) for z in batches]
        means.append(math.fsum(s[0] for s in stats) / len(stats))
        variances.append(m / (m - 1) * math.fsum(s[1] for s in stats) / len(stats))
    return np.array(means), np.array(variances)


def _batches(k=6, m=8, n=3, seed=0, loc=2.0, scale=3.0):
    rng = np.random.default_rng(seed)
    return [rng.normal(loc, scale, (m, n)) for _ in range(k)]


def _run(batches, **kw):
    mean, var = np.zeros(batches[0].shape[1]), np.ones(batches[0].shape[1])
    for z in batches:
        mean, var = update_running_stats(mean, var, z, **kw)
    return mean, var


# ------------------------------------------------------------------ update_running_stats
def test_update_matches_published_pytorch_rule():
    batches = _batches()
    mean, var = _run(batches, beta=0.9, unbiased=True)
    ref_mean, ref_var = pytorch_rule(batches, momentum=0.1)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(var, ref_var, rtol=1e-13)


def test_update_matches_pytorch_batchnorm1d():
    torch = pytest.importorskip("torch")
    batches = _batches(k=7, m=5, n=4, seed=3)
    layer = torch.nn.BatchNorm1d(4, momentum=0.1, dtype=torch.float64).train()
    with torch.no_grad():
        for z in batches:
            layer(torch.from_numpy(z))
    mean, var = _run(batches, beta=rs.beta_from_pytorch_momentum(0.1), unbiased=True)
    np.testing.assert_allclose(mean, layer.running_mean.numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(var, layer.running_var.numpy(), rtol=1e-13)


def test_update_matches_keras3_rule():
    batches = _batches(k=5, m=4, seed=1)
    mean, var = _run(batches, beta=rs.beta_from_keras_momentum(0.99), unbiased=False)
    ref_mean, ref_var = keras_rule(batches, momentum=0.99)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(var, ref_var, rtol=1e-13)


def test_update_defaults_are_beta_09_and_unbiased():
    (z,) = _batches(k=1)
    got = update_running_stats(np.zeros(3), np.ones(3), z)
    expected = update_running_stats(np.zeros(3), np.ones(3), z, beta=0.9, unbiased=True)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    assert not np.allclose(got[1], update_running_stats(np.zeros(3), np.ones(3), z, 0.9, False)[1])


def test_update_returns_new_arrays_and_leaves_inputs():
    rm, rv, z = np.array([0.5, -1.0]), np.array([2.0, 0.3]), _batches(k=1, n=2)[0]
    copies = rm.copy(), rv.copy(), z.copy()
    mean, var = update_running_stats(rm, rv, z)
    for before, after in zip(copies, (rm, rv, z), strict=True):
        np.testing.assert_array_equal(before, after)
    for out in (mean, var):
        assert not np.shares_memory(out, rm) and not np.shares_memory(out, rv)
    mean0, var0 = update_running_stats(rm, rv, z, beta=0.0)  # no memory: still new arrays
    assert not np.shares_memory(mean0, z) and not np.shares_memory(var0, rv)


def test_update_accepts_row_vectors_and_lists():
    z = _batches(k=1, n=2)[0]
    a = update_running_stats(np.zeros((1, 2)), [[1.0, 1.0]], z.tolist())
    b = update_running_stats(np.zeros(2), np.ones(2), z)
    np.testing.assert_allclose(a, b)
    assert a[0].shape == (2,)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"beta": 1.0}, "beta"),
        ({"beta": -0.1}, "beta"),
        ({"beta": float("nan")}, "beta"),
        ({"beta": "0.9x"}, "beta"),
        ({"beta": None}, "beta"),
        ({"unbiased": "yes"}, "unbiased"),
        ({"running_var": np.array([1.0, -0.5])}, "running_var"),
        ({"running_mean": np.zeros(3)}, "running_mean"),
        ({"running_var": np.ones((2, 2))}, "running_var"),
        ({"z": np.ones((1, 2))}, "1 example"),
        ({"z": np.ones(2)}, "2-D"),
        ({"z": np.array([[1.0, np.nan], [0.0, 1.0]])}, "NaN"),
        ({"running_mean": np.array([np.inf, 0.0])}, "running_mean"),
    ],
)
def test_update_errors_name_the_argument(kwargs, message):
    args = {"running_mean": np.zeros(2), "running_var": np.ones(2), "z": _batches(k=1, n=2)[0]}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        update_running_stats(**args)


@settings(max_examples=40, deadline=None)
@given(
    beta=st.floats(0.0, 0.999),
    m=st.integers(2, 9),
    seed=st.integers(0, 10_000),
    unbiased=st.booleans(),
)
def test_update_is_a_convex_combination(beta, m, seed, unbiased):
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, (m, 3))
    rm, rv = rng.normal(size=3), rng.uniform(0.1, 3, 3)
    mean, var = update_running_stats(rm, rv, z, beta=beta, unbiased=unbiased)
    batch_var = z.var(0, ddof=int(unbiased))
    np.testing.assert_allclose(mean - rm, (1 - beta) * (z.mean(0) - rm), atol=1e-12)
    np.testing.assert_allclose(var - rv, (1 - beta) * (batch_var - rv), atol=1e-12)
    lo, hi = np.minimum(rv, batch_var), np.maximum(rv, batch_var)
    assert np.all(var >= lo - 1e-12) and np.all(var <= hi + 1e-12)


def test_update_float32_stays_float32():
    z = _batches(k=1, n=2)[0].astype(np.float32)
    mean, var = update_running_stats(np.zeros(2, np.float32), np.ones(2, np.float32), z)
    assert mean.dtype == var.dtype == np.float32


# ------------------------------------------------------------------ batchnorm_inference
def _loop_inference(z, gamma, beta, mean, var, eps):
    out = np.empty_like(z)
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            out[i, j] = gamma[j] * (z[i, j] - mean[j]) / math.sqrt(var[j] + eps) + beta[j]
    return out


def test_inference_formula():
    rng = np.random.default_rng(4)
    z, g, b = rng.normal(size=(5, 3)), rng.uniform(0.5, 2, 3), rng.normal(size=3)
    mean, var = rng.normal(size=3), rng.uniform(0.1, 3, 3)
    for eps in (1e-5, 0.1):
        np.testing.assert_allclose(
            batchnorm_inference(z, g, b, mean, var, eps), _loop_inference(z, g, b, mean, var, eps)
        )


def test_inference_matches_pytorch_eval_mode():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    layer = torch.nn.BatchNorm1d(3, dtype=torch.float64)
    with torch.no_grad():
        for z in _batches(k=4, m=6, seed=6):
            layer.train()(torch.from_numpy(z))
        layer.weight.copy_(torch.from_numpy(rng.uniform(0.5, 2, 3)))
        layer.bias.copy_(torch.from_numpy(rng.normal(size=3)))
        x = rng.normal(2, 3, (4, 3))
        expected = layer.eval()(torch.from_numpy(x)).numpy()
    got = batchnorm_inference(
        x,
        layer.weight.detach().numpy(),
        layer.bias.detach().numpy(),
        layer.running_mean.numpy(),
        layer.running_var.numpy(),
        eps=layer.eps,
    )
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_inference_with_batch_statistics_equals_training_forward():
    rng = np.random.default_rng(7)
    z, g, b = rng.normal(1, 2, (6, 3)), rng.uniform(0.5, 2, 3), rng.normal(size=3)
    train_out, _ = batchnorm_forward(z, g, b)
    np.testing.assert_allclose(batchnorm_inference(z, g, b, z.mean(0), z.var(0)), train_out)


@settings(max_examples=30, deadline=None)
@given(m=st.integers(1, 8), seed=st.integers(0, 10_000))
def test_inference_treats_each_row_alone(m, seed):
    rng = np.random.default_rng(seed)
    z, g, b = rng.normal(size=(m, 4)), rng.uniform(0.5, 2, 4), rng.normal(size=4)
    mean, var = rng.normal(size=4), rng.uniform(0.1, 3, 4)
    whole = batchnorm_inference(z, g, b, mean, var)
    for i in range(m):
        np.testing.assert_array_equal(
            batchnorm_inference(z[i : i + 1], g, b, mean, var)[0], whole[i]
        )


def test_inference_leaves_inputs_and_keeps_float32():
    rng = np.random.default_rng(8)
    args = [rng.normal(size=(3, 2)), np.ones(2), np.zeros(2), np.zeros(2), np.ones(2)]
    copies = [a.copy() for a in args]
    out = batchnorm_inference(*args)
    for a, c in zip(args, copies, strict=True):
        np.testing.assert_array_equal(a, c)
        assert not np.shares_memory(out, a)
    out32 = batchnorm_inference(args[0].astype(np.float32), *args[1:])
    assert out32.dtype == np.float32


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"z": np.ones(2)}, r"reshape\(1, -1\)"),
        ({"running_var": np.array([1.0, -1.0])}, "running_var"),
        ({"running_mean": np.zeros(3)}, "running_mean"),
        ({"gamma": np.ones(3)}, "gamma"),
        ({"eps": 0.0}, "eps"),
        ({"eps": -1e-5}, "eps"),
        ({"z": np.array([[np.inf, 0.0]])}, "NaN or infinite"),
    ],
)
def test_inference_errors_name_the_argument(kwargs, message):
    args = {
        "z": np.ones((2, 2)),
        "gamma": np.ones(2),
        "beta": np.zeros(2),
        "running_mean": np.zeros(2),
        "running_var": np.ones(2),
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        batchnorm_inference(**args)


def test_batch_of_one_in_training_mode_is_an_error_with_advice():
    with pytest.raises(ValueError, match="batchnorm_inference"):
        batchnorm_forward(np.ones((1, 3)), np.ones(3), np.zeros(3))


def test_pytorch_raises_for_a_batch_of_one():
    torch = pytest.importorskip("torch")
    layer = torch.nn.BatchNorm1d(3).train()
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        layer(torch.ones(1, 3))


def test_keras_batch_of_one_returns_the_shift():
    """Keras 3 normalizes a batch of one by its own (zero) variance with eps=1e-3:
    (x - x) / sqrt(0 + eps) * gamma + beta = beta (rule re-implemented here)."""
    x, gamma, beta = np.array([[3.0, -1.0]]), np.array([2.0, 0.5]), np.array([0.7, -0.2])
    out = gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3) + beta
    np.testing.assert_array_equal(out[0], beta)


# ------------------------------------------------------------------ conventions
def test_converters_known_values():
    assert rs.pytorch_momentum_from_beta(0.9) == pytest.approx(0.1)
    assert rs.beta_from_pytorch_momentum(0.1) == pytest.approx(0.9)
    assert rs.keras_momentum_from_beta(0.99) == 0.99
    assert rs.beta_from_keras_momentum(0.99) == 0.99
    assert rs.beta_from_pytorch_momentum(1.0) == 0.0  # momentum 1: only the last batch


@settings(max_examples=40, deadline=None)
@given(beta=st.floats(0.0, 0.9999))
def test_converters_round_trip(beta):
    assert rs.beta_from_pytorch_momentum(rs.pytorch_momentum_from_beta(beta)) == pytest.approx(
        beta, abs=1e-15
    )
    assert rs.beta_from_keras_momentum(rs.keras_momentum_from_beta(beta)) == beta


def test_same_beta_same_running_mean_in_both_frameworks():
    """PyTorch momentum 0.01 and Keras momentum 0.99 are the same beta: same means,
    variances differing exactly by the m/(m-1) of each batch."""
    batches = _batches(k=4, m=5)
    t_mean, t_var = pytorch_rule(batches, momentum=rs.pytorch_momentum_from_beta(0.99))
    k_mean, k_var = keras_rule(batches, momentum=rs.keras_momentum_from_beta(0.99))
    np.testing.assert_allclose(t_mean, k_mean, rtol=1e-12)
    # var_t - 1*beta^k = (m/(m-1)) * (var_k - beta^k): the parts coming from the batches
    decay = 0.99**4
    np.testing.assert_allclose(t_var - decay, 5 / 4 * (k_var - decay), rtol=1e-10)


@pytest.mark.parametrize(
    ("fn", "value"),
    [
        (rs.beta_from_pytorch_momentum, 0.0),
        (rs.beta_from_pytorch_momentum, 1.5),
        (rs.beta_from_pytorch_momentum, None),
        (rs.beta_from_pytorch_momentum, "a"),
        (rs.beta_from_keras_momentum, 1.0),
        (rs.beta_from_keras_momentum, -0.5),
        (rs.pytorch_momentum_from_beta, 1.0),
        (rs.keras_momentum_from_beta, float("nan")),
    ],
)
def test_converters_reject_bad_values(fn, value):
    with pytest.raises(ValueError):
        fn(value)


def test_biased_unbiased_variance_converters():
    z = np.array([1.0, 2.0, 6.0])
    assert rs.unbiased_from_biased(z.var(), 3) == pytest.approx(z.var(ddof=1))
    assert rs.biased_from_unbiased(z.var(ddof=1), 3) == pytest.approx(z.var())
    for bad in (1, 0, 2.5, True):
        with pytest.raises(ValueError, match="m must"):
            rs.unbiased_from_biased(1.0, bad)


def test_conventions_table_covers_the_sources():
    assert set(rs.CONVENTIONS) == {"course", "paper", "pytorch", "keras"}
    assert "unbiased" in rs.CONVENTIONS["pytorch"].stored_variance
    assert "biased" in rs.CONVENTIONS["keras"].stored_variance
    assert "0.99" in rs.CONVENTIONS["keras"].default


# ------------------------------------------------------------------ estimates
def test_ema_statistics_equals_repeated_updates():
    batches = _batches(k=5)
    np.testing.assert_allclose(rs.ema_statistics(batches, beta=0.8), _run(batches, beta=0.8))
    np.testing.assert_allclose(
        rs.ema_statistics(batches, unbiased=False), keras_rule(batches, momentum=0.9)
    )


def test_bias_correction_recovers_constant_statistics():
    """Every batch the same: the corrected estimate is exact after any number of steps;
    the uncorrected one is still pulled towards the start values (0 and 1)."""
    z = np.array([[1.0, 10.0], [3.0, 14.0], [5.0, 12.0]])
    for t in (1, 3, 20):
        mean, var = rs.ema_statistics([z] * t, beta=0.98, bias_correction=True)
        np.testing.assert_allclose(mean, z.mean(0), rtol=1e-12)
        np.testing.assert_allclose(var, z.var(0, ddof=1), rtol=1e-12)
        raw_mean, raw_var = rs.ema_statistics([z] * t, beta=0.98)
        np.testing.assert_allclose(raw_mean, (1 - 0.98**t) * z.mean(0), rtol=1e-12)
        np.testing.assert_allclose(raw_var, 0.98**t + (1 - 0.98**t) * z.var(0, ddof=1))


def test_ema_statistics_errors():
    with pytest.raises(ValueError, match="empty"):
        rs.ema_statistics([])
    with pytest.raises(ValueError, match="beta"):
        rs.ema_statistics(_batches(k=1), beta=1.0)


def test_population_statistics_is_algorithm_2():
    batches = _batches(k=7, m=6, n=4)
    mean, var = rs.population_statistics(batches)
    ref_mean, ref_var = algorithm2(batches)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-13)
    np.testing.assert_allclose(var, ref_var, rtol=1e-13)


def test_population_statistics_equals_pytorch_cumulative_average():
    torch = pytest.importorskip("torch")
    batches = _batches(k=6, m=5, n=3, seed=9)
    layer = torch.nn.BatchNorm1d(3, momentum=None, dtype=torch.float64).train()
    with torch.no_grad():
        for z in batches:
            layer(torch.from_numpy(z))
    mean, var = rs.population_statistics(batches)
    np.testing.assert_allclose(mean, layer.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(var, layer.running_var.numpy(), rtol=1e-12)


def test_population_statistics_unequal_batches_average_unbiased_variances():
    rng = np.random.default_rng(10)
    batches = [rng.normal(size=(m, 2)) for m in (4, 7, 3)]
    mean, var = rs.population_statistics(batches)
    np.testing.assert_allclose(mean, np.mean([z.mean(0) for z in batches], axis=0))
    np.testing.assert_allclose(var, np.mean([z.var(0, ddof=1) for z in batches], axis=0))


def test_population_statistics_errors():
    with pytest.raises(ValueError, match="empty"):
        rs.population_statistics([])
    with pytest.raises(ValueError, match="m >= 2"):
        rs.population_statistics([np.ones((3, 2)), np.ones((1, 2))])
    with pytest.raises(ValueError, match="units"):
        rs.population_statistics([np.ones((3, 2)), np.ones((3, 3))])


def test_batch_statistics_and_whole_set():
    batches = _batches(k=3, m=4, n=2)
    means, variances, sizes = rs.batch_statistics(batches)
    assert means.shape == variances.shape == (3, 2) and sizes.tolist() == [4, 4, 4]
    np.testing.assert_allclose(variances[1], batches[1].var(0))
    whole = np.vstack(batches)
    mean, var = rs.whole_set_statistics(whole)
    np.testing.assert_allclose(mean, whole.mean(0))
    np.testing.assert_allclose(var, whole.var(0))


# ------------------------------------------------------------------ on the lesson-04 network
@pytest.fixture(scope="module")
def trained():
    network = pytest.importorskip("course_lib.network")
    from course_lib.data import digits
    from course_lib.normalization import fit_normalizer, normalize

    d = digits()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mu, sigma = fit_normalizer(d.X_train)
    X, Xv = normalize(d.X_train, mu, sigma), normalize(d.X_test, mu, sigma)
    # float64, so that independent re-computations agree to round-off
    model = network.MLP([64, 32, 32, 10], batchnorm=True, seed=0, dtype=np.float64)
    network.train(model, X, d.y_train, lr=0.5, steps=60, eval_every=1000)
    model.training = True  # left in training mode on purpose: predict must not care
    return model, X, d.y_train, Xv, d.y_test


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def test_predict_of_one_example_equals_its_prediction_in_any_batch(trained):
    model, _, _, Xv, _ = trained
    rng = np.random.default_rng(11)
    for i in (0, 7, 123):
        alone = model.predict_proba(Xv[i])
        alone_2d = model.predict_proba(Xv[i : i + 1])[0]
        np.testing.assert_allclose(alone, alone_2d, rtol=1e-12, atol=1e-15)
        for size in (2, 5, 60):
            rows = rng.permutation(np.delete(np.arange(len(Xv)), i))[: size - 1]
            pos = int(rng.integers(size))
            batch = np.insert(rows, pos, i)
            np.testing.assert_allclose(
                model.predict_proba(Xv[batch])[pos], alone, rtol=1e-10, atol=1e-14
            )
            assert model.predict(Xv[batch])[pos] == model.predict(Xv[i])


def test_predict_in_default_float32_is_batch_independent_to_round_off(trained):
    network = pytest.importorskip("course_lib.network")
    _, X, y, Xv, _ = trained
    model = network.MLP([64, 32, 32, 10], batchnorm=True, seed=0)  # the default dtype
    network.train(model, X, y, lr=0.5, steps=30, eval_every=1000)
    alone = model.predict_proba(Xv[5])
    for size in (2, 17, 300):
        batch = np.arange(5, 5 + size)
        np.testing.assert_allclose(model.predict_proba(Xv[batch])[0], alone, rtol=1e-5, atol=1e-6)
        assert model.predict(Xv[batch])[0] == model.predict(Xv[5])


def test_batch_dependence_training_mode_varies_inference_does_not(trained):
    model, _, _, Xv, _ = trained
    before = [v.copy() for v in model.running_mean]
    dep = rs.batch_dependence(model, Xv, 3, batch_size=4, trials=12, seed=0)
    assert dep.probs.shape == (12, 10) and dep.classes.shape == (12,)
    assert np.ptp(dep.probs[:, dep.inference.argmax()]) > 1e-3  # depends on the batch
    np.testing.assert_allclose(dep.inference, model.predict_proba(Xv[3]))
    for a, b in zip(before, model.running_mean, strict=True):
        np.testing.assert_array_equal(a, b)  # nothing updated
    with pytest.raises(ValueError, match="batch_size"):
        rs.batch_dependence(model, Xv, 3, batch_size=1)
    with pytest.raises(ValueError, match="index"):
        rs.batch_dependence(model, Xv, len(Xv))


def _manual_layer_inputs(model, X, stats=None):
    """z_pre of every BN layer, computed here from the parameters: in training mode
    (stats None: batch statistics) or with the given per-layer (mean, var)."""
    p, out, a = model.params, [], X
    for l in range(model.n_hidden):
        z = a @ p[f"W{l + 1}"]
        out.append(z)
        if stats is None:
            mean, var = z.mean(0), z.var(0)
        else:
            mean, var = stats[l]
        zt = p[f"gamma{l + 1}"] * (z - mean) / np.sqrt(var + model.eps) + p[f"beta{l + 1}"]
        a = _sigmoid(zt)
    return out


def test_recalibrate_whole_is_the_inference_networks_own_statistics(trained):
    model, X, y, Xv, _ = trained
    new = rs.recalibrated(model, X, method="whole")
    stats = [(m_, v_) for m_, v_ in zip(new.running_mean, new.running_var, strict=True)]
    # in inference mode with these statistics every layer's input has exactly them
    for l, z in enumerate(_manual_layer_inputs(model, X, stats)):
        np.testing.assert_allclose(z.mean(0), stats[l][0], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(z.var(0), stats[l][1], rtol=1e-9)
    # and inference with them equals training mode with the whole set as one batch
    acc = rs.training_mode_accuracy(model, X, y, batch_size=len(X))
    assert acc == new.accuracy(X, y)


def test_recalibrate_population_is_algorithm_2_per_layer(trained):
    model, X, _, _, _ = trained
    old_mean = [v.copy() for v in model.running_mean]
    new = rs.recalibrated(model, X, method="population", batch_size=50, seed=2)
    per_batch = [
        _manual_layer_inputs(model, X[idx]) for idx in rs.training_batches(len(X), 50, seed=2)
    ]
    for l in range(model.n_hidden):
        ref_mean, ref_var = algorithm2([zs[l] for zs in per_batch])
        np.testing.assert_allclose(new.running_mean[l], ref_mean, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(new.running_var[l], ref_var, rtol=1e-9)
    for a, b in zip(old_mean, model.running_mean, strict=True):
        np.testing.assert_array_equal(a, b)  # the original model is untouched
    with pytest.raises(ValueError, match="method"):
        rs.recalibrated(model, X, method="ema")


def test_training_batches_cover_an_epoch():
    idx = rs.training_batches(103, 10, seed=1)
    assert len(idx) == 10 and all(len(b) == 10 for b in idx)
    assert len(np.unique(np.concatenate(idx))) == 100
    with pytest.raises(ValueError, match="batch_size"):
        rs.training_batches(10, 1)


def test_training_mode_accuracy_sorted_batches_hurt(trained):
    model, _, _, Xv, yv = trained
    fair = model.accuracy(Xv, yv)
    assert rs.training_mode_accuracy(model, Xv, yv, batch_size=len(Xv)) > fair - 0.05
    assert rs.training_mode_accuracy(model, Xv, yv, 30, sort_by_label=True) < fair - 0.2


def test_network_helpers_need_batchnorm_before_activation():
    network = pytest.importorskip("course_lib.network")
    X = np.zeros((4, 3))
    with pytest.raises(ValueError, match="batchnorm=True"):
        rs.recalibrated(network.MLP([3, 4, 2]), X)
    after = network.MLP([3, 4, 2], batchnorm=True, bn_position="after")
    with pytest.raises(ValueError, match="before"):
        rs.training_mode_accuracy(after, X, np.zeros(4), 2)
