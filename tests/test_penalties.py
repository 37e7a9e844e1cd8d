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
from fastsoftmax.penalties import (
    ElasticNetPenalty,
    GroupLassoPenalty,
    L2Penalty,
    NoPenalty,
)

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


@pytest.mark.parametrize("n_classes", [2, 3, 4, 7])
@pytest.mark.parametrize(
    "penalty",
    [L2Penalty(0.3), ElasticNetPenalty(l1=0.2), ElasticNetPenalty(l1=0.2, l2=0.2),
     ElasticNetPenalty(l1=1e-3, l2=2.0), ElasticNetPenalty(l1=2.0, l2=1e-3),
     GroupLassoPenalty(0.5), NoPenalty()],
    ids=["l2", "l1", "elasticnet", "mostly-l2", "mostly-l1", "group_lasso", "none"],
)
def test_column_shift_minimises_the_penalty_along_the_flat_direction(n_classes, penalty):
    rng = np.random.default_rng(n_classes)
    coef = rng.normal(size=(n_classes, 40))
    coef[:, :5] = 0.0  # all-zero columns
    coef[0, 5:10] = coef[1, 5:10]  # ties
    coef[rng.random(coef.shape) < 0.2] = 0.0
    shift = penalty.column_shift(coef)
    assert shift.shape == (coef.shape[1],)
    for j in range(coef.shape[1]):
        column = coef[:, j:j + 1]

        def phi(c, column=column):
            return penalty.value(column - c)

        best = phi(shift[j])
        slack = 1e-13 * max(1.0, best)
        # phi is convex in c: no better point nearby means no better point
        # anywhere. The kinks are checked as well.
        for delta in (1e-7, 1e-4, 1e-1):
            assert best <= min(phi(shift[j] - delta), phi(shift[j] + delta)) + slack
        assert best <= min(phi(c) for c in column.ravel()) + slack
        # Of several minimisers, the one nearest 0: moving towards 0 costs.
        if shift[j] != 0:
            assert phi(shift[j] - np.sign(shift[j]) * min(1e-4, abs(shift[j]))) > best


def test_column_shift_of_elastic_net_against_a_scalar_minimiser():
    from scipy.optimize import minimize_scalar

    rng = np.random.default_rng(0)
    penalty = ElasticNetPenalty(l1=0.3, l2=0.7)
    coef = rng.normal(size=(10, 25))
    shift = penalty.column_shift(coef)
    for j in range(coef.shape[1]):
        found = minimize_scalar(lambda c: penalty.value(coef[:, j:j + 1] - c),
                                bounds=(-3, 3), method="bounded", options={"xatol": 1e-12})
        assert shift[j] == pytest.approx(found.x, abs=1e-7)


@pytest.mark.parametrize("penalty, l1_ratio", NON_SMOOTH)
def test_a_start_off_the_best_column_shift_converges_at_once(penalty, l1_ratio):
    # The loss is the same for every constant added to a column of coef, so
    # a start at the optimum plus such constants is the optimum for the
    # loss; the solver moves the columns back before its first step.
    X, y = _scaled(load_iris)
    clf = SoftmaxRegression(C=0.05, penalty=penalty, l1_ratio=l1_ratio, tol=1e-8,
                            max_iter=5000, warm_start=True).fit(X, y)
    optimum = clf.objective_
    clf.coef_ = clf.coef_ + np.random.default_rng(0).normal(size=X.shape[1])
    clf.fit(X, y)
    assert clf.n_iter_[0] == 0
    assert clf.objective_ == pytest.approx(optimum, rel=1e-12)
