"""Diagonal scaling of L-BFGS and of the proximal solver: the same minimum,
the same tol, fewer iterations."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose
from sklearn.exceptions import ConvergenceWarning

from fastsoftmax import SoftmaxRegression
from fastsoftmax._threads import kernel_threads
from fastsoftmax.objective import make_objective
from fastsoftmax.penalties import make_penalty
from fastsoftmax.solvers import jacobi_scaling, minimize_lbfgs, minimize_proximal

from . import reference as ref


def _badly_scaled(n=2000, d=30, K=4, seed=0, sparse=False):
    """Features whose scales span four orders of magnitude (or, sparse,
    whose frequencies do), labels from a softmax model."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.logspace(-2, 2, d)
    if sparse:
        X[rng.random((n, d)) < np.linspace(0.0, 0.98, d)] = 0.0
        X = sp.csr_matrix(X)
    W = rng.standard_normal((K, d)) / np.logspace(-2, 2, d)
    y = np.argmax(np.asarray(X @ W.T) + rng.gumbel(size=(n, K)), axis=1)
    return X, y


@pytest.mark.parametrize("sparse", [False, True])
def test_second_moments_match_numpy(sparse):
    X, y = _badly_scaled(sparse=sparse)
    weights = np.random.default_rng(1).uniform(0.5, 2.0, X.shape[0])
    objective = make_objective(X, y, weights, 4, True)
    dense = X.toarray() if sparse else X
    expected = (weights[:, None] * dense**2).sum(axis=0) / weights.sum()
    with kernel_threads():
        assert_allclose(objective.feature_second_moments(), expected, rtol=1e-12)


def test_well_scaled_problems_are_left_alone():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 8))
    objective = make_objective(X, rng.integers(0, 3, 500), None, 3, True)
    with kernel_threads():
        assert jacobi_scaling(objective, make_penalty("l2", 1.0, 500.0)) is None


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("penalty", ["l2", None])
def test_scaled_lbfgs_reaches_the_minimum_in_fewer_iterations(sparse, penalty):
    X, y = _badly_scaled(sparse=sparse)
    objective = make_objective(X, y, None, 4, True)
    pen = make_penalty(penalty, 1.0, objective.sum_weights)
    w0 = np.zeros(objective.n_params)
    with kernel_threads():
        scale = jacobi_scaling(objective, pen)
        assert scale is not None and np.all(scale > 0)
        scaled = minimize_lbfgs(objective, pen, w0, tol=1e-6, max_iter=2000, scale=scale)
        plain = minimize_lbfgs(objective, pen, w0, tol=1e-6, max_iter=2000)
        grad = np.empty(objective.n_params)
        objective.loss_gradient(scaled.w, grad)
    coef, _ = objective.unpack(scaled.w)
    grad_coef, _ = objective.unpack(grad)
    pen.add_smooth_gradient(coef, grad_coef)
    # tol keeps its meaning: the gradient of F itself, at the returned point.
    assert scaled.converged and np.max(np.abs(grad)) <= 1e-6
    assert scaled.n_iter < plain.n_iter
    # Objectives, not coefficients: the coefficients of the low-variance
    # features are barely determined at this tol, by either run.
    if plain.converged:
        assert scaled.objective == pytest.approx(plain.objective, rel=1e-10)
    else:
        # Unscaled L-BFGS does not get there in 2000 iterations (seen for the
        # dense problem, where scaled L-BFGS needs about 20).
        assert scaled.objective <= plain.objective + 1e-12


def test_estimator_fits_a_badly_scaled_problem_to_tol():
    X, y = _badly_scaled(sparse=True, seed=3)
    clf = SoftmaxRegression(tol=1e-7, max_iter=5000).fit(X, y)
    objective = make_objective(X, y, None, 4, True)
    grad = np.empty(objective.n_params)
    with kernel_threads():
        objective.loss_gradient(objective.pack(clf.coef_, clf.intercept_), grad)
    grad_coef, _ = objective.unpack(grad)
    grad_coef += clf.coef_ / X.shape[0]  # L2 with C=1: strength 1 / (C * S)
    assert np.max(np.abs(grad)) <= 1e-7


NON_SMOOTH = [("l1", None), ("elasticnet", 0.5), ("group_lasso", None)]


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("penalty, l1_ratio", NON_SMOOTH)
def test_scaled_proximal_solver_reaches_the_minimum_in_fewer_iterations(
    sparse, penalty, l1_ratio
):
    X, y = _badly_scaled(sparse=sparse)
    C = 0.1
    objective = make_objective(X, y, None, 4, True)
    pen = make_penalty(penalty, C, objective.sum_weights, l1_ratio)
    w0 = np.zeros(objective.n_params)
    with kernel_threads():
        scale = jacobi_scaling(objective, pen)
        assert scale is not None
        scaled = minimize_proximal(objective, pen, w0, tol=1e-7, max_iter=2000, scale=scale)
        plain = minimize_proximal(objective, pen, w0, tol=1e-7, max_iter=300)
    assert scaled.converged
    assert scaled.n_iter < plain.n_iter
    # tol keeps its meaning: the optimality conditions of F in the original
    # coefficients, checked from first principles.
    coef, intercept = objective.unpack(scaled.w)
    dense = X.toarray() if sparse else X
    assert ref.kkt_violation(coef, intercept, dense, y, C, penalty, l1_ratio) <= 1e-7 * (1 + 1e-6)
    assert scaled.objective == pytest.approx(
        ref.full_objective(coef, intercept, dense, y, C, penalty, l1_ratio), rel=1e-12)
    assert scaled.objective <= plain.objective + 1e-12


@pytest.mark.parametrize("penalty, l1_ratio", NON_SMOOTH)
def test_estimator_fits_badly_scaled_features_with_non_smooth_penalties(penalty, l1_ratio):
    # Before the proximal solver was scaled, these fits stopped at max_iter
    # far from the minimum.
    X, y = _badly_scaled(seed=3)
    clf = SoftmaxRegression(C=0.1, penalty=penalty, l1_ratio=l1_ratio, tol=1e-6, max_iter=200)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf.fit(X, y)
    assert ref.kkt_violation(clf.coef_, clf.intercept_, X, y, 0.1, penalty, l1_ratio) <= 1e-6
