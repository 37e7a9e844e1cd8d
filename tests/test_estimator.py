"""SoftmaxRegression: agreement with scikit-learn and the NumPy objective, API."""

import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits, load_iris, load_wine, make_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from fastsoftmax import SoftmaxRegression

from . import reference as ref

# At tol=1e-10 both solvers may stop where F no longer changes in float64,
# with the gradient a little above tol; the objectives are what is compared.
pytestmark = pytest.mark.filterwarnings(
    "ignore:SoftmaxRegression did not converge.*floating-point precision"
)



def _scaled(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _assert_agree(ours, theirs_coef, theirs_intercept, X, y, C, sample_weight=None,
                  penalty="l2"):
    """The design notes' "agree": objectives to 1e-8 relative, coef to 1e-4."""
    F_ours = ref.objective(ours.coef_, ours.intercept_, X, ours.classes_.searchsorted(y),
                           C, sample_weight, penalty)
    F_theirs = ref.objective(theirs_coef, theirs_intercept, X,
                             ours.classes_.searchsorted(y), C, sample_weight, penalty)
    assert ours.objective_ == pytest.approx(F_ours, rel=1e-12)
    assert F_ours == pytest.approx(F_theirs, rel=1e-8, abs=1e-8)
    scale = np.linalg.norm(theirs_coef)
    assert np.linalg.norm(ours.coef_ - theirs_coef) <= 1e-4 * scale
    assert_allclose(ours.intercept_, theirs_intercept, atol=1e-4 * max(1.0, scale))


@pytest.mark.parametrize("loader", [load_iris, load_wine, load_digits])
@pytest.mark.parametrize("C", [0.1, 1.0, 100.0])
def test_agrees_with_sklearn_on_datasets(loader, C):
    X, y = _scaled(loader)
    ours = SoftmaxRegression(C=C, tol=1e-10, max_iter=10_000).fit(X, y)
    theirs = LogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(X, y)
    _assert_agree(ours, theirs.coef_, theirs.intercept_, X, y, C)
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_agrees_with_sklearn_synthetic_weighted(fit_intercept):
    X, y = make_classification(
        n_samples=600, n_features=12, n_informative=8, n_classes=5, random_state=0
    )
    sw = np.random.default_rng(0).uniform(0.2, 3.0, X.shape[0])
    kwargs = dict(C=0.5, tol=1e-10, max_iter=10_000, fit_intercept=fit_intercept)
    ours = SoftmaxRegression(**kwargs).fit(X, y, sample_weight=sw)
    theirs = LogisticRegression(**kwargs).fit(X, y, sample_weight=sw)
    _assert_agree(ours, theirs.coef_, theirs.intercept_, X, y, 0.5, sw)


def test_class_weight_matches_sklearn():
    X, y = _scaled(load_wine)
    for class_weight in ("balanced", {0: 1.0, 1: 3.0, 2: 0.5}):
        ours = SoftmaxRegression(class_weight=class_weight, tol=1e-10, max_iter=10_000)
        theirs = LogisticRegression(class_weight=class_weight, tol=1e-10, max_iter=10_000)
        ours.fit(X, y)
        theirs.fit(X, y)
        assert_allclose(ours.coef_, theirs.coef_, atol=1e-5 * np.linalg.norm(theirs.coef_))


def test_balanced_class_weight_with_sample_weight_counts_the_weights():
    # "balanced" divides by each class's total sample weight, not its count,
    # as scikit-learn's compute_class_weight does when given sample_weight.
    X, y = _scaled(load_wine)
    sw = np.where(y == 0, 3.0, 1.0) * np.linspace(0.5, 1.5, y.shape[0])
    totals = np.array([sw[y == k].sum() for k in range(3)])
    by_hand = (sw.sum() / (3 * totals))[y] * sw
    kwargs = dict(C=0.3, tol=1e-10, max_iter=10_000)
    balanced = SoftmaxRegression(class_weight="balanced", **kwargs).fit(X, y, sample_weight=sw)
    explicit = SoftmaxRegression(**kwargs).fit(X, y, sample_weight=by_hand)
    assert_allclose(balanced.coef_, explicit.coef_, atol=1e-8 * np.linalg.norm(explicit.coef_))
    theirs = LogisticRegression(class_weight="balanced", **kwargs).fit(X, y, sample_weight=sw)
    _assert_agree(balanced, theirs.coef_, theirs.intercept_, X, y, 0.3, by_hand)


def test_balanced_class_weight_needs_weight_in_every_class():
    X, y = _scaled(load_wine)
    sw = np.where(y == 1, 0.0, 1.0)
    with pytest.raises(ValueError, match="class 1 has weight zero"):
        SoftmaxRegression(class_weight="balanced").fit(X, y, sample_weight=sw)


def test_no_penalty_is_canonical_and_optimal():
    X, y = make_classification(
        n_samples=400, n_features=5, n_informative=3, n_classes=3, flip_y=0.2, random_state=1
    )
    clf = SoftmaxRegression(penalty=None, tol=1e-9, max_iter=10_000).fit(X, y)
    assert_allclose(clf.coef_.sum(axis=0), 0.0, atol=1e-12)
    assert clf.intercept_.sum() == pytest.approx(0.0, abs=1e-12)
    # At this tol the solver stops where F no longer changes in float64,
    # with the gradient near sqrt(machine epsilon).
    _, grad_coef, grad_intercept = ref.loss_gradient(clf.coef_, clf.intercept_, X, y)
    assert np.max(np.abs(grad_coef)) <= 1e-7
    assert np.max(np.abs(grad_intercept)) <= 1e-7
    theirs = LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000).fit(X, y)
    F_theirs = ref.objective(theirs.coef_, theirs.intercept_, X, y, 1.0, penalty=None)
    assert clf.objective_ <= F_theirs + 1e-8 * abs(F_theirs)


def test_binary_is_symmetric_and_matches_sklearn_with_double_C():
    X, y = make_classification(n_samples=300, n_features=6, random_state=3)
    labels = np.array(["no", "yes"])[y]
    ours = SoftmaxRegression(C=0.7, tol=1e-10, max_iter=10_000).fit(X, labels)
    theirs = LogisticRegression(C=1.4, tol=1e-10, max_iter=10_000).fit(X, labels)
    assert ours.coef_.shape == (2, 6)
    assert_allclose(ours.coef_[0], -ours.coef_[1], atol=1e-12)
    assert_allclose(ours.coef_[1] - ours.coef_[0], theirs.coef_[0], rtol=1e-5, atol=1e-7)
    scores = ours.decision_function(X)
    assert scores.shape == (300,)
    assert_allclose(scores, theirs.decision_function(X), rtol=1e-5, atol=1e-6)
    assert_array_equal(ours.predict(X), theirs.predict(X))
    assert set(ours.classes_) == {"no", "yes"}


def test_prediction_api(rng):
    X, y = _scaled(load_iris)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = SoftmaxRegression(max_iter=1000).fit(X, names)
    P = clf.predict_proba(X)
    assert P.shape == (150, 3)
    assert np.all((P >= 0) & (P <= 1))
    assert_allclose(P.sum(axis=1), 1.0)
    Z = clf.decision_function(X)
    assert_allclose(Z, X @ clf.coef_.T + clf.intercept_, rtol=1e-12, atol=1e-12)
    assert_allclose(clf.predict_log_proba(X), ref.log_softmax(Z), rtol=1e-12, atol=1e-12)
    assert_array_equal(clf.predict(X), clf.classes_[np.argmax(P, axis=1)])
    assert clf.score(X, names) > 0.9
    assert clf.n_iter_.shape == (1,) and clf.n_iter_[0] >= 1
    assert clf.n_features_in_ == 4


def test_float32_stays_float32_and_agrees_with_float64():
    X, y = _scaled(load_digits)
    clf64 = SoftmaxRegression(tol=1e-6, max_iter=5000).fit(X, y)
    clf32 = SoftmaxRegression(tol=1e-6, max_iter=5000).fit(X.astype(np.float32), y)
    assert clf32.coef_.dtype == np.float64
    assert clf32.predict_proba(X.astype(np.float32)).dtype == np.float32
    assert clf32.objective_ == pytest.approx(clf64.objective_, rel=1e-5)


def test_fit_is_bit_identical_across_threads_and_repeats():
    X, y = make_classification(
        n_samples=3000, n_features=20, n_informative=10, n_classes=4, random_state=5
    )
    fits = [SoftmaxRegression(n_threads=t, tol=1e-8, max_iter=500).fit(X, y) for t in (1, 2, 2, 1)]
    for clf in fits[1:]:
        assert_array_equal(clf.coef_, fits[0].coef_)
        assert_array_equal(clf.intercept_, fits[0].intercept_)


def test_warm_start_starts_from_previous_solution():
    X, y = _scaled(load_digits)
    clf = SoftmaxRegression(tol=1e-6, max_iter=5000, warm_start=True).fit(X, y)
    first = clf.n_iter_[0]
    clf.fit(X, y)
    assert clf.n_iter_[0] < first
    cold = SoftmaxRegression(tol=1e-6, max_iter=5000).fit(X, y)
    assert cold.n_iter_[0] == first


def test_convergence_warning_when_max_iter_is_reached():
    X, y = _scaled(load_digits)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        SoftmaxRegression(max_iter=2).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SoftmaxRegression(max_iter=1000).fit(X, y)


def test_pickle_roundtrip():
    X, y = _scaled(load_iris)
    clf = SoftmaxRegression().fit(X, y)
    clone = pickle.loads(pickle.dumps(clf))
    assert_array_equal(clone.predict_proba(X), clf.predict_proba(X))


def test_multi_class_multinomial_as_in_old_sklearn_code():
    X, y = _scaled(load_iris)
    clf = SoftmaxRegression(multi_class="multinomial", solver="lbfgs").fit(X, y)
    assert clf.score(X, y) > 0.9
    with pytest.raises(ValueError, match="multinomial"):
        SoftmaxRegression(multi_class="ovr").fit(X, y)


def test_n_jobs_sets_threads_when_n_threads_is_none(monkeypatch):
    import fastsoftmax.estimator as estimator_module

    requested = []
    real = estimator_module.kernel_threads

    def recording(n_threads=None):
        requested.append(n_threads)
        return real(n_threads)

    monkeypatch.setattr(estimator_module, "kernel_threads", recording)
    X, y = _scaled(load_iris)
    SoftmaxRegression(n_jobs=1).fit(X, y)
    SoftmaxRegression(n_jobs=-1).fit(X, y)
    SoftmaxRegression(n_jobs=-1, n_threads=1).fit(X, y)
    SoftmaxRegression().fit(X, y)  # iris: too small to split, one thread
    rng = np.random.default_rng(0)
    X_big = rng.standard_normal((20_000, 20))
    SoftmaxRegression(max_iter=2).fit(X_big, rng.integers(0, 3, 20_000))  # all cores
    assert requested == [1, -1, 1, 1, None]


def test_concurrent_fits_from_python_threads_give_identical_models():
    from concurrent.futures import ThreadPoolExecutor

    X, y = make_classification(
        n_samples=4000, n_features=30, n_informative=10, n_classes=4, random_state=2
    )
    reference_fit = SoftmaxRegression(tol=1e-8, max_iter=500).fit(X, y)

    def fit(n_threads):
        return SoftmaxRegression(tol=1e-8, max_iter=500, n_threads=n_threads).fit(X, y)

    with ThreadPoolExecutor(max_workers=4) as pool:
        models = list(pool.map(fit, [1, 2, 1, 2]))
    for model in models:
        assert_array_equal(model.coef_, reference_fit.coef_)


def test_fit_does_not_modify_inputs():
    X, y = _scaled(load_wine)
    sw = np.linspace(0.5, 2.0, X.shape[0])
    copies = [a.copy() for a in (X, y, sw)]
    SoftmaxRegression(class_weight="balanced").fit(X, y, sample_weight=sw)
    for before, after in zip(copies, (X, y, sw)):
        assert_array_equal(before, after)


def test_float32_fit_reaches_tol_or_warns():
    X, y = _scaled(load_wine)
    X32 = X.astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = SoftmaxRegression(tol=1e-7, max_iter=1000).fit(X32, y)
    _, g_coef, g_intercept = ref.loss_gradient(
        clf.coef_, clf.intercept_, X32, y, l2_reg_strength=1.0 / X.shape[0]
    )
    reached = max(np.abs(g_coef).max(), np.abs(g_intercept).max())
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    # Within float32 rounding of the gradient, tol was met, or the user was told.
    assert warned or reached <= 1e-7 * (1 + 1e-2)


def test_binary_without_intercept_or_penalty():
    X, y = make_classification(n_samples=200, n_features=4, flip_y=0.3, random_state=0)
    for params in (dict(fit_intercept=False), dict(penalty=None)):
        clf = SoftmaxRegression(tol=1e-8, max_iter=1000, **params).fit(X, y)
        assert_allclose(clf.coef_[0], -clf.coef_[1], atol=1e-12)
        assert clf.decision_function(X).shape == (200,)
        if params.get("fit_intercept") is False:
            assert_array_equal(clf.intercept_, 0.0)


def test_warm_start_ignores_an_incompatible_previous_fit():
    X, y = _scaled(load_iris)
    clf = SoftmaxRegression(warm_start=True, max_iter=1000).fit(X, y)
    clf.fit(X[y < 2], y[y < 2])  # two classes now: starts from zero
    assert clf.coef_.shape == (2, 4)
    clf.fit(X[:, :2], y)  # other features: starts from zero
    assert clf.coef_.shape == (3, 2)


def test_bad_class_weights_raise():
    X, y = _scaled(load_iris)
    with pytest.raises(ValueError, match="finite weights >= 0"):
        SoftmaxRegression(class_weight={0: -5.0, 1: 0.1, 2: 0.1}).fit(X, y)
    with pytest.raises(ValueError, match="class_weight"):
        SoftmaxRegression(class_weight=np.ones(3)).fit(X, y)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(C=0), "C must be a positive"),
        (dict(C=-1.0), "C must be a positive"),
        (dict(penalty="l3"), "not supported"),
        (dict(penalty="l1", solver="lbfgs"), "smooth penalty"),
        (dict(penalty="l2", l1_ratio=1.0), "contradicts"),
        (dict(penalty="elasticnet"), "needs l1_ratio"),
        (dict(l1_ratio=1.5), "l1_ratio"),
        (dict(penalty="none"), "penalty=None"),
        (dict(solver="saga"), "scikit-learn solver"),
        (dict(solver="newton"), "not known"),
        (dict(tol=-1e-3), "tol"),
        (dict(max_iter=0), "max_iter"),
        (dict(class_weight="auto"), "class_weight"),
        (dict(dual=True), "primal"),
        (dict(intercept_scaling=2.0), "never"),
        (dict(n_threads=0), "n_threads"),
        (dict(n_jobs=1.5), "n_jobs"),
        (dict(verbose=-1), "verbose"),
    ],
)
def test_bad_parameters_raise_clear_errors(params, match):
    X, y = _scaled(load_iris)
    with pytest.raises(ValueError, match=match):
        SoftmaxRegression(**params).fit(X, y)


def test_bad_data_raise_clear_errors():
    X, y = _scaled(load_iris)
    with pytest.raises(ValueError, match="at least 2 classes"):
        SoftmaxRegression().fit(X, np.zeros(150))
    with pytest.raises(ValueError, match="negative"):
        SoftmaxRegression().fit(X, y, sample_weight=-np.ones(150))
    with pytest.raises(NotFittedError):
        SoftmaxRegression().predict(X)
    clf = SoftmaxRegression().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :3])


def test_verbose_prints_progress(capsys):
    X, y = _scaled(load_iris)
    with pytest.warns(ConvergenceWarning):
        SoftmaxRegression(verbose=1, max_iter=5).fit(X, y)
    assert "objective" in capsys.readouterr().out
