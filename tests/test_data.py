"""The data loaders: shapes, seeding, the documented properties of each data set."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits

from course_lib.data import Split, breast_cancer, digits, two_feature_data


def _all_arrays(split: Split) -> list[np.ndarray]:
    return [split.X_train, split.y_train, split.X_test, split.y_test]


# --------------------------------------------------------------------------- two features
def test_two_feature_shapes_and_names():
    split = two_feature_data(m_train=30, m_test=7)
    assert split.X_train.shape == (30, 2) and split.X_test.shape == (7, 2)
    assert split.y_train.shape == (30,) and split.y_test.shape == (7,)
    assert split.feature_names == ("x1", "x2")
    assert repr(split) == "Split('two features': train (30, 2), test (7, 2), 2 features)"


def test_two_feature_seeding():
    a, b = two_feature_data(seed=3), two_feature_data(seed=3)
    for x, y in zip(_all_arrays(a), _all_arrays(b), strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.X_train, two_feature_data(seed=4).X_train)


def test_two_feature_default_draw_is_a_plain_seeded_normal():
    """Oracle: with correlation 0 the inputs are numpy's own normal draws, bit for bit,
    and the targets follow y = 2 x1 - 3 x2 + 1 + noise with the next draws."""
    rng = np.random.default_rng(0)
    X = rng.normal(loc=(5.0, 2.0), scale=(2.5, 0.5), size=(300, 2))
    y = 2 * X[:, 0] - 3 * X[:, 1] + 1 + 0.5 * rng.normal(size=300)
    split = two_feature_data()
    np.testing.assert_array_equal(np.vstack([split.X_train, split.X_test]), X)
    np.testing.assert_allclose(np.concatenate([split.y_train, split.y_test]), y, rtol=1e-15)


def test_two_feature_shape_like_the_notes_figure():
    """x1 spread widely, x2 narrowly, the cloud away from the origin."""
    X = two_feature_data().X_train
    mu, sd = X.mean(0), X.std(0)
    assert sd[0] > 3 * sd[1]
    assert np.all(np.abs(mu) > 1.5 * sd)  # the origin lies outside the bulk of the cloud


def test_two_feature_parameters_are_honoured():
    split = two_feature_data(
        m_train=20000, m_test=1, center=(-3.0, 7.0), spread=(0.5, 4.0), correlation=-0.6, seed=1
    )
    X = split.X_train
    se = 5 / np.sqrt(len(X))  # five standard errors (in units of the spread)
    np.testing.assert_allclose(X.mean(0), [-3.0, 7.0], atol=se * 4.0)
    np.testing.assert_allclose(X.std(0), [0.5, 4.0], rtol=se * 1.5)
    assert abs(np.corrcoef(X.T)[0, 1] - -0.6) < se


def test_two_feature_sliders_deform_one_cloud():
    """For one seed, changing center/spread is an affine map of the same points."""
    a = two_feature_data(center=(5.0, 2.0), spread=(2.5, 0.5), seed=2).X_train
    b = two_feature_data(center=(-1.0, 4.0), spread=(1.0, 3.0), seed=2).X_train
    np.testing.assert_allclose((b - [-1.0, 4.0]) / [1.0, 3.0], (a - [5.0, 2.0]) / [2.5, 0.5])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"m_train": 1}, "m_train >= 2"),
        ({"m_test": 0}, "m_test >= 1"),
        ({"correlation": 1.0}, "correlation must be in"),
        ({"correlation": -1.5}, "correlation must be in"),
        ({"spread": (1.0, 0.0)}, "spread must be two positive"),
        ({"spread": (1.0,)}, "spread must be two positive"),
        ({"center": (1.0, 2.0, 3.0)}, "center must be two finite"),
        ({"center": (np.nan, 2.0)}, "center must be two finite"),
    ],
)
def test_two_feature_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        two_feature_data(**kwargs)


# --------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def cancer() -> Split:
    return breast_cancer()


def test_breast_cancer_split(cancer):
    full = load_breast_cancer()
    assert cancer.X_train.shape == (426, 30) and cancer.X_test.shape == (143, 30)
    assert cancer.feature_names == tuple(full.feature_names)
    # the split is a partition of the data set: every row exactly once
    both = np.vstack([cancer.X_train, cancer.X_test])
    order = np.lexsort(both.T[::-1])
    order_full = np.lexsort(full.data.T[::-1])
    np.testing.assert_array_equal(both[order], full.data[order_full])
    # stratified: the benign fraction is the same in both parts (to one example)
    frac = full.target.mean()
    assert abs(cancer.y_train.mean() - frac) < 1 / 426 + 1e-12
    assert abs(cancer.y_test.mean() - frac) < 1 / 143 + 1e-12
    assert set(np.unique(cancer.y_train)) == {0, 1}


def test_breast_cancer_scales_as_documented(cancer):
    sd = cancer.X_train.std(0)
    names = np.array(cancer.feature_names)
    assert names[sd.argmin()] == "fractal dimension error" and 0.001 < sd.min() < 0.003
    assert names[sd.argmax()] == "worst area" and 500 < sd.max() < 650
    assert 2e5 < sd.max() / sd.min() < 3e5
    assert cancer.X_train.min() == 0.0 and 4000 < cancer.X_train.max() < 4300


def test_breast_cancer_seeding(cancer):
    again = breast_cancer()
    for x, y in zip(_all_arrays(cancer), _all_arrays(again), strict=True):
        np.testing.assert_array_equal(x, y)
    other = breast_cancer(seed=1)
    assert not np.array_equal(cancer.X_train, other.X_train)
    assert breast_cancer(test_size=0.5).X_test.shape[0] in (284, 285)


def test_loaders_return_fresh_arrays(cancer):
    """Writing into one Split (a mistake) must not leak into the next load."""
    mine = breast_cancer()
    mine.X_train[:] = 0.0
    np.testing.assert_array_equal(breast_cancer().X_train, cancer.X_train)


def test_digits():
    split = digits()
    assert split.X_train.shape[1] == 64 and len(split.X_train) + len(split.X_test) == 1797
    assert split.X_train.min() == 0 and split.X_train.max() == 16
    assert set(np.unique(split.y_train)) == set(range(10))
    assert split.feature_names[0] == "pixel_0_0" and split.feature_names[-1] == "pixel_7_7"
    full = load_digits()
    assert sorted(map(tuple, np.vstack([split.X_train, split.X_test]))) == sorted(
        map(tuple, full.data)
    )
