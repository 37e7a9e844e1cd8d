"""Property-based checks of invariants on random inputs (backend and estimator).

The number of examples comes from the hypothesis profile chosen in
conftest.py: a quick one by default, thousands with ``python -m pytest -m fuzz``.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose

import fastsoftmax as fs

from . import reference as ref

pytestmark = pytest.mark.fuzz

scores = st.integers(1, 12).flatmap(
    lambda n: st.integers(1, 9).flatmap(
        lambda k: arrays(
            np.float64, (n, k), elements=st.floats(-1e4, 1e4, allow_nan=False)
        )
    )
)


@st.composite
def problems(draw, max_samples=30, max_features=4, max_classes=4):
    """A small classification problem: X, labels covering every class, weights."""
    n_classes = draw(st.integers(2, max_classes))
    n_samples = draw(st.integers(n_classes, max_samples))
    n_features = draw(st.integers(1, max_features))
    X = draw(arrays(np.float64, (n_samples, n_features),
                    elements=st.floats(-5, 5, allow_nan=False)))
    y = np.array(draw(st.lists(st.integers(0, n_classes - 1),
                               min_size=n_samples, max_size=n_samples)))
    y[:n_classes] = np.arange(n_classes)
    weights = np.array(draw(st.lists(st.floats(0.1, 3.0), min_size=n_samples,
                                     max_size=n_samples)))
    return X, y, weights


@given(Z=scores, shift=st.floats(-1e3, 1e3))
def test_softmax_is_a_distribution_and_shift_invariant(Z, shift):
    P = fs.softmax(Z)
    assert np.all((P >= 0) & (P <= 1))
    assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    assert_allclose(fs.softmax(Z + shift), P, atol=1e-9)
    assert_allclose(fs.logsumexp(Z + shift), fs.logsumexp(Z) + shift, rtol=1e-12, atol=1e-9)


@given(Z=scores, data=st.data())
def test_fused_cross_entropy_equals_two_pass(Z, data):
    y = np.array(data.draw(st.lists(st.integers(0, Z.shape[1] - 1),
                                    min_size=Z.shape[0], max_size=Z.shape[0])))
    two_pass = -np.mean(fs.log_softmax(Z)[np.arange(Z.shape[0]), y])
    assert_allclose(fs.cross_entropy(Z, y), two_pass, rtol=1e-10, atol=1e-9)
    assert_allclose(fs.cross_entropy(Z, y), ref.cross_entropy(Z, y), rtol=1e-10, atol=1e-9)


@given(problem=problems(), seed=st.integers(0, 2**31 - 1), fit_intercept=st.booleans())
def test_loss_gradient_equals_two_pass_reference_and_finite_differences(
    problem, seed, fit_intercept
):
    X, y, weights = problem
    n_classes = int(y.max()) + 1
    rng = np.random.default_rng(seed)
    coef = rng.standard_normal((n_classes, X.shape[1]))
    intercept = rng.standard_normal(n_classes) if fit_intercept else None
    loss, g_coef, g_intercept = fs.loss_gradient(coef, intercept, X, y, sample_weight=weights)
    expected = ref.loss_gradient(coef, intercept, X, y, sample_weight=weights)
    assert_allclose(loss, expected[0], rtol=1e-12, atol=1e-12)
    assert_allclose(g_coef, expected[1], rtol=1e-9, atol=1e-11)
    # Central differences along a random direction: (F(w+hv) - F(w-hv)) / 2h.
    direction = rng.standard_normal(coef.shape)
    h = 1e-6
    plus = fs.loss_gradient(coef + h * direction, intercept, X, y, sample_weight=weights)[0]
    minus = fs.loss_gradient(coef - h * direction, intercept, X, y, sample_weight=weights)[0]
    assert_allclose((plus - minus) / (2 * h), np.sum(g_coef * direction), rtol=1e-5, atol=1e-7)
    if fit_intercept:
        assert_allclose(g_intercept, expected[2], rtol=1e-9, atol=1e-11)


@given(problem=problems(), seed=st.integers(0, 2**31 - 1),
       penalty=st.sampled_from(["l2", "l1", "group_lasso"]))
def test_estimator_probabilities_and_row_permutation(problem, seed, penalty):
    X, y, weights = problem
    model = fs.SoftmaxRegression(penalty=penalty, C=2.0, tol=1e-9, max_iter=2000)
    with warnings.catch_warnings():
        # Tiny random problems may stop at float64 precision above tol.
        warnings.simplefilter("ignore")
        model.fit(X, y, sample_weight=weights)
        order = np.random.default_rng(seed).permutation(X.shape[0])
        permuted = fs.SoftmaxRegression(**model.get_params()).fit(
            X[order], y[order], sample_weight=weights[order]
        )
    P = model.predict_proba(X)
    assert np.all((P >= 0) & (P <= 1))
    assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    # predict picks a most probable class (ties may break either way).
    codes = np.searchsorted(model.classes_, model.predict(X))
    assert np.all(P[np.arange(P.shape[0]), codes] >= P.max(axis=1) - 1e-12)
    # The same problem with its rows in another order has the same optimum.
    assert permuted.objective_ == pytest.approx(model.objective_, rel=1e-7, abs=1e-9)
    assert_allclose(permuted.predict_proba(X), P, atol=1e-4)
