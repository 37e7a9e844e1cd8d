"""softmax_path and SoftmaxRegressionCV: the path against cold fits, the CV
against scikit-learn's LogisticRegressionCV, warm starts, errors, API."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import get_scorer, log_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastsoftmax import SoftmaxRegression
from fastsoftmax.cv import SoftmaxRegressionCV
from fastsoftmax.path import softmax_path

from . import reference as ref

# One kernel thread: the data here are tiny, and on a busy 2-core machine
# each parallel kernel call then costs milliseconds of thread wake-up, which
# made this file 50x slower. Results do not depend on the thread count
# (test_thread_count_does_not_change_the_path checks that for the path).
THREADS = 1
TIGHT = 1e-10
# The proximal solver can keep iterating to max_iter at 1e-10 where F has
# stopped changing in float64 (elastic-net at C=10 here); 1e-9 is reached.
TIGHT_PROXIMAL = 1e-9
PATH_CS = np.array([0.01, 0.1, 1.0, 10.0])


def model_data(n_samples=400, n_features=6, n_classes=3, seed=0):
    """Data drawn from a softmax model (Gumbel-max): never separable."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    coef = rng.normal(0.0, 0.8, size=(n_classes, n_features))
    y = np.argmax(X @ coef.T + rng.gumbel(size=(n_samples, n_classes)), axis=1)
    return X, y


def scaled(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def fit_path(X, y, Cs, **kwargs):
    return softmax_path(X, y, Cs, n_threads=THREADS, **kwargs)


def plain_model(**params):
    return SoftmaxRegression(n_threads=THREADS, **params)


def cv_model(**params):
    return SoftmaxRegressionCV(n_threads=THREADS, **params)


def quiet(fit, *args, **kwargs):
    """Call ``fit`` with ConvergenceWarning silenced.

    At tol <= 1e-8 a solver may stop where F no longer changes in float64,
    with the gradient a little above tol; objectives and coefficients are
    what the tests compare.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit(*args, **kwargs)


# --- the path ---------------------------------------------------------------


@pytest.mark.parametrize(
    "penalty, l1_ratio",
    [("l2", None), ("l1", None), ("group_lasso", None), ("elasticnet", 0.5)],
)
def test_path_agrees_with_cold_fits(penalty, l1_ratio):
    # K = 3 is odd, so even the L1 optimum is unique and coefficients compare.
    X, y = model_data()
    tol = TIGHT if penalty == "l2" else TIGHT_PROXIMAL
    path = quiet(fit_path, X, y, PATH_CS, penalty=penalty, l1_ratio=l1_ratio,
                 tol=tol, max_iter=5000)
    assert path.coefs.shape == (4, 3, 6) and path.intercepts.shape == (4, 3)
    for i, C in enumerate(PATH_CS):
        cold = quiet(plain_model(C=C, penalty=penalty, l1_ratio=l1_ratio, tol=tol,
                                 max_iter=5000).fit, X, y)
        F = ref.full_objective(path.coefs[i], path.intercepts[i], X, y, C, penalty, l1_ratio)
        assert path.objectives[i] == pytest.approx(F, rel=1e-12)
        assert path.objectives[i] == pytest.approx(cold.objective_, rel=1e-8, abs=1e-8)
        scale = np.linalg.norm(cold.coef_)
        assert np.linalg.norm(path.coefs[i] - cold.coef_) <= 1e-4 * scale
        assert_allclose(path.intercepts[i], cold.intercept_, atol=1e-4 * max(1.0, scale))
        assert ref.kkt_violation(path.coefs[i], path.intercepts[i], X, y, C, penalty,
                                 l1_ratio) < 1e-6


@pytest.mark.parametrize("penalty", ["l2", "l1", "group_lasso"])
def test_warm_starts_take_fewer_iterations_than_cold_fits(penalty):
    X, y = model_data(seed=1)
    Cs = np.logspace(-2, 2, 7)
    path = fit_path(X, y, Cs, penalty=penalty, tol=1e-6, max_iter=2000)
    assert path.converged.all()
    cold = np.array([
        plain_model(C=C, penalty=penalty, tol=1e-6, max_iter=2000).fit(X, y).n_iter_[0]
        for C in Cs
    ])
    # The first C starts near zero either way; every later one starts from
    # the previous optimum and must be cheaper in total. (Cold fits of this
    # small problem take only 8 to 17 iterations, so the saving is modest:
    # 76 against 92 iterations for L1.)
    assert path.n_iter[1:].sum() < 0.9 * cold[1:].sum(), (path.n_iter, cold)
    assert (path.n_evaluations >= path.n_iter).all()
    again = fit_path(X, y, Cs, penalty=penalty, tol=1e-6, max_iter=2000)
    assert_array_equal(again.n_iter, path.n_iter)  # deterministic


def test_thread_count_does_not_change_the_path():
    X, y = model_data(n_samples=3000, n_features=20, n_classes=4)
    one = softmax_path(X, y, [0.01, 1.0], penalty="group_lasso", tol=1e-6, n_threads=1)
    two = softmax_path(X, y, [0.01, 1.0], penalty="group_lasso", tol=1e-6, n_threads=2)
    assert_array_equal(one.coefs, two.coefs)
    assert_array_equal(one.n_evaluations, two.n_evaluations)


def test_results_follow_the_given_order_of_Cs():
    X, y = model_data()
    ascending = fit_path(X, y, [0.01, 0.1, 1.0], penalty="l1", tol=1e-6, max_iter=500)
    shuffled = fit_path(X, y, [1.0, 0.01, 0.1], penalty="l1", tol=1e-6, max_iter=500)
    assert_array_equal(shuffled.Cs, [1.0, 0.01, 0.1])
    # The same solves run in the same (ascending) order: identical bits.
    assert_array_equal(shuffled.coefs, ascending.coefs[[2, 0, 1]])
    assert_array_equal(shuffled.n_iter, ascending.n_iter[[2, 0, 1]])


def test_path_canonical_form_and_classes():
    X, y = model_data(n_classes=4)
    labels = np.array(["a", "b", "c", "d"])[y]
    path = fit_path(X, labels, 3, tol=1e-6)
    assert_array_equal(path.Cs, np.logspace(-4, 4, 3))
    assert_array_equal(path.classes, ["a", "b", "c", "d"])
    assert_allclose(path.intercepts.sum(axis=1), 0.0, atol=1e-12)
    no_intercept = fit_path(X, y, [1.0], fit_intercept=False, tol=1e-6)
    assert_array_equal(no_intercept.intercepts, 0.0)


def test_infinite_C_is_the_unpenalised_fit():
    X, y = model_data()
    path = quiet(fit_path, X, y, [np.inf, 1.0], tol=TIGHT, max_iter=2000)
    plain = quiet(plain_model(penalty=None, tol=TIGHT, max_iter=2000).fit, X, y)
    assert path.objectives[0] == pytest.approx(plain.objective_, rel=1e-8)
    assert np.linalg.norm(path.coefs[0] - plain.coef_) <= 1e-4 * np.linalg.norm(plain.coef_)
    # Without a penalty, every column of coef sums to zero (canonical form).
    assert_allclose(path.coefs[0].sum(axis=0), 0.0, atol=1e-12)


def test_sparse_and_float32_paths_agree_with_dense():
    X, y = model_data()
    X[np.abs(X) < 0.7] = 0.0
    dense = quiet(fit_path, X, y, PATH_CS, penalty="l1", tol=1e-9, max_iter=2000)
    csr = quiet(fit_path, sp.csr_matrix(X), y, PATH_CS, penalty="l1", tol=1e-9,
                max_iter=2000)
    assert_allclose(csr.objectives, dense.objectives, rtol=1e-9)
    assert_allclose(csr.coefs, dense.coefs, atol=1e-5)
    single = fit_path(X.astype(np.float32), y, PATH_CS, penalty="l1", tol=1e-4,
                          max_iter=2000)
    assert_allclose(single.objectives, dense.objectives, rtol=1e-5)


def test_sample_and_class_weights_reach_the_weighted_optimum():
    X, y = model_data()
    sw = np.random.default_rng(3).uniform(0.2, 2.0, y.shape[0])
    path = quiet(fit_path, X, y, [0.1, 1.0], sample_weight=sw, class_weight="balanced",
                 tol=TIGHT, max_iter=2000)
    cold = quiet(plain_model(C=1.0, class_weight="balanced", tol=TIGHT, max_iter=2000).fit,
                 X, y, sample_weight=sw)
    assert path.objectives[1] == pytest.approx(cold.objective_, rel=1e-8)


# --- errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    "Cs, error, match",
    [
        (0, ValueError, "Cs=0 asks for no C values"),
        (-3, ValueError, "asks for no C values"),
        ([], ValueError, "non-empty 1-D"),
        ([[0.1, 1.0]], ValueError, "non-empty 1-D"),
        ([1.0, 0.0], ValueError, r"Cs\[1\] = 0.0"),
        ([1.0, -2.0], ValueError, r"Cs\[1\] = -2.0"),
        ([np.nan], ValueError, "positive number"),
        (["a", "b"], ValueError, "list of positive numbers"),
        (1.0, TypeError, r"single C pass a list such as Cs=\[1.0\]"),
        (True, TypeError, "Cs must be an int"),
        ("10", TypeError, "Cs must be an int"),
    ],
)
def test_bad_Cs_are_rejected_with_advice(Cs, error, match):
    X, y = model_data(n_samples=30)
    with pytest.raises(error, match=match):
        fit_path(X, y, Cs)
    with pytest.raises(error, match=match):
        cv_model(Cs=Cs, cv=3).fit(X, y)


def test_penalty_none_is_rejected_for_a_path():
    X, y = model_data(n_samples=30)
    with pytest.raises(ValueError, match="softmax_path: penalty=None has no strength"):
        fit_path(X, y, [1.0], penalty=None)
    with pytest.raises(ValueError, match="SoftmaxRegressionCV: penalty=None"):
        cv_model(penalty=None, cv=3).fit(X, y)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"tol": -1.0}, "softmax_path: tol must be"),
        ({"penalty": "l3"}, "penalty='l3' is not supported"),
        ({"penalty": "elasticnet"}, "needs l1_ratio"),
        ({"solver": "lbfgs", "penalty": "l1"}, "solver='lbfgs' needs a smooth penalty"),
        ({"max_iter": 0}, "max_iter must be an int >= 1"),
    ],
)
def test_bad_parameters_name_the_caller(kwargs, match):
    X, y = model_data(n_samples=30)
    with pytest.raises(ValueError, match=match):
        fit_path(X, y, [1.0], **kwargs)


def test_bad_data_is_rejected():
    X, y = model_data(n_samples=30)
    with pytest.raises(ValueError, match="at least 2 classes"):
        fit_path(X, np.zeros(30), [1.0])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        fit_path(X, y[:-1], [1.0])
    with pytest.raises(ValueError, match="0 sample"):
        fit_path(X[:0], y[:0], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        fit_path(np.where(X > 2, np.nan, X), y, [1.0])
    with pytest.raises(ValueError, match="refit|Unknown|not a valid scoring"):
        cv_model(scoring="no_such_metric", cv=3).fit(X, y)
    with pytest.raises(TypeError, match="refit must be True or False"):
        cv_model(refit="yes", cv=3).fit(X, y)


# --- cross-validation -------------------------------------------------------


def sklearn_cv(Cs, cv, tol, **kwargs):
    """scikit-learn's LogisticRegressionCV for the multinomial L2 model,
    across the versions whose parameters differ."""
    params = LogisticRegressionCV().get_params()
    extra = {}
    if "use_legacy_attributes" in params:  # scikit-learn >= 1.8
        extra = {"use_legacy_attributes": False, "l1_ratios": (0,)}
    return LogisticRegressionCV(
        Cs=Cs, cv=cv, scoring="neg_log_loss", tol=tol, max_iter=10_000, **extra, **kwargs
    )


def sklearn_scores(model):
    scores = model.scores_
    if isinstance(scores, dict):  # legacy: {class: (n_folds, n_Cs)}, all equal
        return next(iter(scores.values()))
    return scores.reshape(scores.shape[0], -1)  # (n_folds, 1, n_Cs)


def imbalanced_data():
    X, y = model_data(n_samples=600, n_features=10, n_classes=5, seed=4)
    keep = (y != 0) | (np.arange(y.shape[0]) % 4 == 0)  # class 0 made rare
    return X[keep], y[keep]


CV_CASES = {
    "iris": lambda: (*scaled(load_iris), None, None),
    "wine": lambda: (*scaled(load_wine), None, None),
    "synthetic-sample-weights": lambda: (
        *model_data(n_samples=600, n_features=10, n_classes=5, seed=4),
        np.random.default_rng(5).uniform(0.2, 3.0, 600),
        None,
    ),
    "synthetic-balanced": lambda: (*imbalanced_data(), None, "balanced"),
}


@pytest.mark.parametrize("case", list(CV_CASES))
def test_cv_selects_the_C_of_sklearn(case):
    X, y, sample_weight, class_weight = CV_CASES[case]()
    Cs = np.logspace(-3, 3, 7)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    ours = quiet(cv_model(Cs=Cs, cv=cv, tol=1e-8, max_iter=10_000,
                          class_weight=class_weight).fit,
                 X, y, sample_weight=sample_weight)
    theirs = sklearn_cv(Cs, cv, 1e-8, class_weight=class_weight).fit(
        X, y, sample_weight=sample_weight
    )
    their_scores = sklearn_scores(theirs)
    assert ours.scores_.shape == their_scores.shape == (5, 7)
    # atol: at C = 1000 wine is nearly separable and its held-out log-loss
    # (about -0.007) moves by a few 1e-6 within tol=1e-8 of the optimum.
    assert_allclose(ours.scores_, their_scores, rtol=1e-5, atol=1e-5)
    assert ours.C_ == pytest.approx(float(np.ravel(theirs.C_)[0]))
    assert_array_equal(ours.Cs_, Cs)
    scale = np.linalg.norm(theirs.coef_)
    assert np.linalg.norm(ours.coef_ - theirs.coef_) <= 1e-4 * scale
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-5)


def test_cv_scores_are_held_out_log_losses_of_independent_fits():
    # Group lasso has no scikit-learn counterpart: check the CV bookkeeping
    # (folds, scorer, sign, refit) against fits made one by one.
    X, y = model_data(n_samples=300, seed=6)
    Cs = [0.03, 0.3, 3.0]
    folds = list(StratifiedKFold(3, shuffle=True, random_state=1).split(X, y))
    model = quiet(cv_model(Cs=Cs, cv=folds, penalty="group_lasso", tol=1e-9,
                           max_iter=3000).fit, X, y)
    for f, (train, test) in enumerate(folds):
        for j, C in enumerate(Cs):
            fit = quiet(plain_model(C=C, penalty="group_lasso", tol=1e-9,
                                    max_iter=3000).fit, X[train], y[train])
            expected = -log_loss(y[test], fit.predict_proba(X[test]))
            assert model.scores_[f, j] == pytest.approx(expected, rel=1e-6)
    assert model.C_ == Cs[int(np.argmax(model.scores_.sum(axis=0)))]
    refit = quiet(plain_model(C=model.C_, penalty="group_lasso", tol=1e-9,
                              max_iter=3000).fit, X, y)
    assert model.objective_ == pytest.approx(refit.objective_, rel=1e-8)
    assert np.linalg.norm(model.coef_ - refit.coef_) <= 1e-4 * np.linalg.norm(refit.coef_)


def test_log_loss_from_the_kernel_equals_the_scorer_on_probabilities():
    # "neg_log_loss" by name takes the loss-kernel path; the same scorer as an
    # object goes through predict_proba and scikit-learn's log_loss.
    X, y = model_data(n_samples=300, seed=10)
    sw = np.random.default_rng(11).uniform(0.5, 2.0, y.shape[0])
    folds = list(StratifiedKFold(3, shuffle=True, random_state=3).split(X, y))
    by_name = cv_model(Cs=[0.01, 1.0], cv=folds, tol=1e-6).fit(X, y, sample_weight=sw)
    by_scorer = cv_model(Cs=[0.01, 1.0], cv=folds, tol=1e-6,
                         scoring=get_scorer("neg_log_loss")).fit(X, y, sample_weight=sw)
    assert_allclose(by_name.scores_, by_scorer.scores_, rtol=1e-10)


def test_refit_false_averages_each_folds_best_model():
    X, y = model_data(n_samples=300, seed=7)
    Cs = [0.01, 0.1, 1.0]
    folds = list(StratifiedKFold(3, shuffle=True, random_state=2).split(X, y))
    model = cv_model(Cs=Cs, cv=folds, refit=False, tol=1e-6).fit(X, y)
    best = np.argmax(model.scores_, axis=1)
    assert model.C_ == pytest.approx(np.mean(np.array(Cs)[best]))
    assert model.refit_n_iter_ == 0
    fold_models = [
        plain_model(C=Cs[b], tol=1e-6).fit(X[train], y[train])
        for b, (train, _) in zip(best, folds)
    ]
    mean_coef = np.mean([m.coef_ for m in fold_models], axis=0)
    assert_allclose(model.coef_, mean_coef, atol=1e-4)


def test_fold_missing_a_class_is_scored_with_every_class():
    # Class 2's only samples are in the first test fold: the scorer must be
    # told all classes, or log-loss fails on the other folds' test sets.
    X, y = model_data(n_samples=90, seed=8)
    y[:] = np.arange(90) % 2
    y[:3] = 2
    folds = [(np.arange(45, 90), np.arange(0, 45)), (np.arange(0, 45), np.arange(45, 90))]
    model = cv_model(Cs=[0.1, 1.0], cv=folds, tol=1e-6, max_iter=500).fit(X, y)
    assert np.isfinite(model.scores_).all()
    assert_array_equal(model.classes_, [0, 1, 2])


def test_other_scorers_and_score_method():
    X, y = model_data(n_samples=200, seed=9)
    model = cv_model(Cs=3, cv=3, scoring="accuracy").fit(X, y)
    assert ((model.scores_ >= 0) & (model.scores_ <= 1)).all()
    assert model.score(X, y) == pytest.approx(np.mean(model.predict(X) == y))
    default = cv_model(Cs=3, cv=3).fit(X, y)
    # As in LogisticRegressionCV, score() is the selection metric.
    assert default.score(X, y) == pytest.approx(-log_loss(y, default.predict_proba(X)))
    assert default.n_iter_.shape == default.n_evaluations_.shape == (3, 3)


@parametrize_with_checks([SoftmaxRegressionCV(Cs=3, cv=3, n_threads=THREADS)])
def test_sklearn_compatible(estimator, check):
    check(estimator)
