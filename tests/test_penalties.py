"""L1, elastic-net and group lasso: against scikit-learn's saga, a plain NumPy
proximal-gradient reference, and first-principles optimality conditions."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits, load_iris, load_wine, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from fastsoftmax import SoftmaxRegression

from . import reference as ref

NON_SMOOTH = [("l1", None), ("elasticnet", 0.5), ("group_lasso", None)]


def _scaled(loader, n_samples=None):
    X, y = loader(return_X_y=True)
    X, y = X[:n_samples], y[:n_samples]
    return StandardScaler().fit_transform(X), y


def _synthetic(n_classes=3):
    X, y = make_classification(
        n_samples=300, n_features=10, n_informative=4, n_redundant=2,
        n_classes=n_classes, n_clusters_per_class=1, random_state=0,
    )
    return X, y


DATASETS = {
    "iris": lambda: _scaled(load_iris),
    "wine": lambda: _scaled(load_wine),
    "digits": lambda: _scaled(load_digits, 400),
    "synthetic": _synthetic,
}


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("penalty, l1_ratio", [("l1", None), ("elasticnet", 0.5)])
def test_agrees_with_sklearn_saga(dataset, penalty, l1_ratio):
    X, y = DATASETS[dataset]()
    C = 0.1
    ours = SoftmaxRegression(C=C, penalty=penalty, l1_ratio=l1_ratio, tol=1e-9, max_iter=5000)
    ours.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        saga = LogisticRegression(
            C=C, solver="saga", l1_ratio=1.0 if penalty == "l1" else l1_ratio,
            tol=1e-10, max_iter=100_000,
        ).fit(X, y)
    F_ours = ref.full_objective(ours.coef_, ours.intercept_, X, y, C, penalty, l1_ratio)
    F_saga = ref.full_objective(saga.coef_, saga.intercept_, X, y, C, penalty, l1_ratio)
    assert ours.objective_ == pytest.approx(F_ours, rel=1e-12)
    assert F_ours == pytest.approx(F_saga, rel=1e-8)
    assert F_ours <= F_saga + 1e-10
    assert_array_equal(ours.coef_ == 0, saga.coef_ == 0)
    assert (ours.coef_ == 0).sum() > 0  # the penalty really makes zeros here


@pytest.mark.parametrize("penalty, l1_ratio", NON_SMOOTH)
def test_optimality_conditions_and_numpy_reference(penalty, l1_ratio):
    X, y = _scaled(load_iris)
    C = 0.05
    clf = SoftmaxRegression(C=C, penalty=penalty, l1_ratio=l1_ratio, tol=1e-9, max_iter=5000)
    clf.fit(X, y)
    # Solver-independent: the optimality conditions hold at the solution.
    assert ref.kkt_violation(clf.coef_, clf.intercept_, X, y, C, penalty, l1_ratio) <= 1e-8
    # A slow, plain proximal-gradient run reaches the same objective.
    coef, intercept = ref.proximal_gradient(X, y, 3, C, penalty, l1_ratio, n_iter=20_000)
    F_ref = ref.full_objective(coef, intercept, X, y, C, penalty, l1_ratio)
    F_ours = ref.full_objective(clf.coef_, clf.intercept_, X, y, C, penalty, l1_ratio)
    assert F_ours == pytest.approx(F_ref, rel=1e-8)
    assert F_ours <= F_ref + 1e-12
    assert np.linalg.norm(clf.coef_ - coef) <= 1e-4 * np.linalg.norm(coef)


def test_group_lasso_zeros_whole_features():
    X, y = _scaled(load_wine)
    clf = SoftmaxRegression(C=0.02, penalty="group_lasso", tol=1e-8, max_iter=2000).fit(X, y)
    column_zero = np.all(clf.coef_ == 0, axis=0)
    any_zero = np.any(clf.coef_ == 0, axis=0)
    assert column_zero.sum() >= 1 and not column_zero.all()
    assert_array_equal(column_zero, any_zero)  # never a partly-zero feature


def test_tol_bounds_the_least_norm_subgradient():
    X, y = _scaled(load_wine)
    for tol in (1e-3, 1e-6):
        clf = SoftmaxRegression(C=0.1, penalty="l1", tol=tol, max_iter=5000).fit(X, y)
        # max-abs of the least-norm subgradient: the L1 violation below.
        assert ref.kkt_violation(clf.coef_, clf.intercept_, X, y, 0.1, "l1") <= tol * (1 + 1e-6)


def test_proximal_solver_also_fits_l2():
    X, y = _scaled(load_wine)
    prox = SoftmaxRegression(solver="proximal", tol=1e-8, max_iter=1000).fit(X, y)
    lbfgs = SoftmaxRegression(solver="lbfgs", tol=1e-8, max_iter=1000).fit(X, y)
    assert prox.objective_ == pytest.approx(lbfgs.objective_, rel=1e-10)


@pytest.mark.parametrize(
    "params, expected",
    [
        (dict(), ("l2", None)),
        (dict(l1_ratio=0.0), ("l2", None)),
        (dict(l1_ratio=1.0), ("l1", None)),
        (dict(l1_ratio=0.3), ("elasticnet", 0.3)),
        (dict(penalty="deprecated", l1_ratio=1), ("l1", None)),
        (dict(penalty="elasticnet", l1_ratio=0.3), ("elasticnet", 0.3)),
        (dict(penalty="l1"), ("l1", None)),
        (dict(penalty="l1", l1_ratio=1.0), ("l1", None)),
        (dict(penalty="l2", l1_ratio=0), ("l2", None)),
        (dict(l1_ratio=1.0, C=np.inf), (None, None)),
        (dict(penalty="group_lasso"), ("group_lasso", None)),
    ],
)
def test_both_sklearn_spellings_select_the_penalty(params, expected):
    from fastsoftmax._params import resolve_penalty

    assert resolve_penalty(SoftmaxRegression(**params)) == expected


def test_l1_ratio_spelling_equals_penalty_spelling():
    X, y = _scaled(load_iris)
    a = SoftmaxRegression(C=0.1, l1_ratio=1.0, tol=1e-8, max_iter=1000).fit(X, y)
    b = SoftmaxRegression(C=0.1, penalty="l1", tol=1e-8, max_iter=1000).fit(X, y)
    assert_array_equal(a.coef_, b.coef_)


@pytest.mark.parametrize(
    "params",
    [
        dict(penalty="l2", l1_ratio=1.0),
        dict(penalty="l1", l1_ratio=0.5),
        dict(penalty=None, l1_ratio=0.5),
        dict(penalty="group_lasso", l1_ratio=0.5),
    ],
)
def test_conflicting_penalty_and_l1_ratio_raise(params):
    X, y = _scaled(load_iris)
    with pytest.raises(ValueError, match="contradicts"):
        SoftmaxRegression(**params).fit(X, y)


def test_sparsify_densify_and_warm_start():
    X, y = _scaled(load_digits, 400)
    clf = SoftmaxRegression(C=0.05, penalty="l1", tol=1e-6, max_iter=2000, warm_start=True)
    clf.fit(X, y)
    first = clf.n_iter_[0]
    proba = clf.predict_proba(X)
    clf.sparsify()
    assert clf.coef_.format == "csr"
    assert clf.coef_.nnz == np.count_nonzero(clf.coef_.toarray())
    assert_allclose(clf.predict_proba(X), proba)
    clf.fit(X, y)  # warm start from the sparse coef_
    assert clf.n_iter_[0] < first
    clf.densify()
    assert isinstance(clf.coef_, np.ndarray)
    assert_allclose(clf.predict_proba(X), proba, atol=1e-6)


def test_max_iter_gives_convergence_warning():
    X, y = _scaled(load_digits, 400)
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        SoftmaxRegression(penalty="l1", C=0.1, max_iter=2).fit(X, y)


def test_binary_l1_matches_sklearn_at_same_C():
    X, y = make_classification(n_samples=300, n_features=8, n_informative=3, random_state=4)
    ours = SoftmaxRegression(C=0.05, penalty="l1", tol=1e-10, max_iter=5000).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs = LogisticRegression(
            C=0.05, l1_ratio=1.0, solver="saga", tol=1e-12, max_iter=100_000
        ).fit(X, y)
    assert_allclose(ours.coef_[1] - ours.coef_[0], theirs.coef_[0], atol=1e-5)
    assert_array_equal(ours.coef_[1] == 0, theirs.coef_[0] == 0)
