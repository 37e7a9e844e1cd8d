"""The objective layer: flat layout, loss-only variant, prediction kernels."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastsoftmax._threads import kernel_threads
from fastsoftmax.objective import DenseObjective
from fastsoftmax.prediction import (
    linear_log_proba,
    linear_predict,
    linear_proba,
    linear_scores,
)

from . import reference as ref
from .problems import make_problem


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("n_samples", [1, 31, 1000])
def test_loss_only_equals_loss_of_loss_gradient(dtype, fit_intercept, n_samples):
    X, y, sw, coef, intercept = make_problem(n_samples, 5, 3, dtype)
    objective = DenseObjective(X, y, sw, 3, fit_intercept)
    w = objective.pack(coef, intercept)
    grad = np.empty(objective.n_params)
    with kernel_threads():
        value = objective.loss_gradient(w, grad)
        assert objective.loss(w) == value
    expected = ref.loss_gradient(coef, intercept if fit_intercept else None, X, y, sw)[0]
    assert value == pytest.approx(expected, rel=2e-5 if dtype == np.float32 else 1e-12)


def test_flat_layout_round_trip():
    X, y, _, coef, intercept = make_problem(10, 4, 3)
    objective = DenseObjective(X, y, None, 3, True)
    w = objective.pack(coef, intercept)
    assert_array_equal(w, np.concatenate([coef.ravel(), intercept]))
    coef_view, intercept_view = objective.unpack(w)
    assert np.shares_memory(coef_view, w) and np.shares_memory(intercept_view, w)
    assert objective.X is X  # the data is used as given, never copied


def test_zero_sample_weights_drop_rows():
    X, y, sw, coef, intercept = make_problem(40, 3, 3)
    sw[::2] = 0.0
    full = DenseObjective(X, y, sw, 3, True)
    kept = DenseObjective(X[1::2].copy(), y[1::2].copy(), sw[1::2].copy(), 3, True)
    w = full.pack(coef, intercept)
    g_full, g_kept = np.empty(full.n_params), np.empty(full.n_params)
    with kernel_threads():
        assert full.loss_gradient(w, g_full) == pytest.approx(kept.loss_gradient(w, g_kept))
    assert_allclose(g_full, g_kept, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1, 2), (5, 1, 2), (700, 9, 4), (301, 6, 17)])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_prediction_kernels_match_reference(dtype, shape, fit_intercept):
    # C order only: the estimator converts other layouts once before these.
    n, d, K = shape
    X, _, _, coef, intercept = make_problem(n, d, K, dtype)
    intercept = intercept if fit_intercept else None
    Z = X.astype(np.float64) @ coef.T + (0 if intercept is None else intercept)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    scores = linear_scores(X, coef, intercept)
    assert scores.dtype == dtype and scores.shape == (n, K)
    assert_allclose(scores, Z, rtol=tol, atol=tol)
    assert_allclose(linear_proba(X, coef, intercept), ref.softmax(Z), rtol=tol, atol=tol)
    assert_allclose(linear_log_proba(X, coef, intercept), ref.log_softmax(Z), rtol=tol, atol=tol)
    labels = linear_predict(X, coef, intercept)
    # Ties aside, the arg-max of the reference scores.
    assert np.mean(labels == np.argmax(Z, axis=1)) == 1.0
