"""Soft targets, label smoothing, cost-sensitive decisions and progress reports."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import ConvergenceWarning

import fastsoftmax as fs
from fastsoftmax import IterationState, SoftmaxRegression

from . import reference as ref
from .problems import make_problem


def _soft_targets(n_samples, n_classes, seed=0, zeros=True):
    rng = np.random.default_rng(seed)
    T = rng.dirichlet(np.full(n_classes, 0.7), n_samples)
    if zeros:  # exact zeros, where a -inf score must not give NaN
        T[::3, 0] = 0.0
        T /= T.sum(axis=1, keepdims=True)
    return T


# --------------------------------------------------------------------------
# Kernels and backend against the NumPy reference and finite differences.

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("shape", [(1, 1, 2), (37, 5, 3), (700, 8, 20)])
def test_soft_target_loss_gradient_matches_reference(dtype, fit_intercept, sparse, shape):
    n, d, K = shape
    X, _, sw, coef, intercept = make_problem(n, d, K, dtype=dtype)
    T = _soft_targets(n, K)
    intercept = intercept if fit_intercept else None
    data = sp.csr_matrix(X) if sparse else X
    loss, g_coef, g_intercept = fs.loss_gradient(coef, intercept, data, T, sample_weight=sw)
    expected = ref.soft_loss_gradient(coef, intercept, X, T, sw)
    rtol = 1e-5 if dtype == np.float32 else 1e-11
    assert_allclose(loss, expected[0], rtol=rtol)
    assert_allclose(g_coef, expected[1], rtol=rtol * 10, atol=rtol * 1e-2)
    if fit_intercept:
        assert_allclose(g_intercept, expected[2], rtol=rtol * 10, atol=rtol * 1e-2)


def test_soft_target_gradient_matches_finite_differences():
    X, _, sw, coef, intercept = make_problem(60, 4, 5)
    T = _soft_targets(60, 5)
    _, g_coef, g_intercept = fs.loss_gradient(coef, intercept, X, T, sample_weight=sw)
    h = 1e-6
    for k, j in [(0, 0), (2, 3), (4, 1)]:
        step = np.zeros_like(coef)
        step[k, j] = h
        plus = fs.loss_gradient(coef + step, intercept, X, T, sample_weight=sw)[0]
        minus = fs.loss_gradient(coef - step, intercept, X, T, sample_weight=sw)[0]
        assert_allclose((plus - minus) / (2 * h), g_coef[k, j], rtol=1e-6, atol=1e-9)
    for k in range(5):
        step = np.zeros(5)
        step[k] = h
        plus = fs.loss_gradient(coef, intercept + step, X, T, sample_weight=sw)[0]
        minus = fs.loss_gradient(coef, intercept - step, X, T, sample_weight=sw)[0]
        assert_allclose((plus - minus) / (2 * h), g_intercept[k], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
def test_label_smoothing_equals_smoothed_soft_targets(smoothing):
    X, y, sw, coef, intercept = make_problem(200, 6, 4)
    smoothed = fs.loss_gradient(coef, intercept, X, y, sample_weight=sw,
                                label_smoothing=smoothing)
    expected = ref.soft_loss_gradient(coef, intercept, X, ref.smoothed(y, 4, smoothing), sw)
    for got, want in zip(smoothed, expected):
        assert_allclose(got, want, rtol=1e-11, atol=1e-14)
    Z = X @ coef.T + intercept
    assert_allclose(fs.cross_entropy(Z, y, label_smoothing=smoothing, sample_weight=sw),
                    expected[0], rtol=1e-12)


def test_one_hot_soft_targets_give_the_hard_label_results_exactly():
    X, y, sw, coef, intercept = make_problem(300, 5, 3)
    hard = fs.loss_gradient(coef, intercept, X, y, sample_weight=sw)
    soft = fs.loss_gradient(coef, intercept, X, np.eye(3)[y], sample_weight=sw)
    for a, b in zip(hard, soft):
        assert_allclose(a, b, rtol=1e-14, atol=1e-16)


def test_soft_cross_entropy_with_excluded_classes():
    Z = np.array([[0.0, -np.inf, 2.0], [1e4, -1e4, 0.0]])
    T = np.array([[0.5, 0.0, 0.5], [1.0, 0.0, 0.0]])
    expected = np.mean([0.5 * (np.logaddexp(0, 2) - 0) + 0.5 * (np.logaddexp(0, 2) - 2), 0.0])
    assert_allclose(fs.cross_entropy(Z, T), expected, rtol=1e-14)
    # Positive target mass on an excluded class: the loss is infinite, not NaN.
    assert fs.cross_entropy(Z, np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])) == np.inf


# --------------------------------------------------------------------------
# The estimator with soft targets.

def test_fit_with_soft_targets_reaches_the_reference_optimum():
    X, _, sw, _, _ = make_problem(400, 5, 4, seed=1)
    T = _soft_targets(400, 4, seed=1)
    clf = SoftmaxRegression(C=0.5, tol=1e-7, max_iter=1000).fit(X, T, sample_weight=sw)
    assert_array_equal(clf.classes_, np.arange(4))
    # Optimality: the reference gradient of F at the returned parameters is ~0.
    loss, g_coef, g_intercept = ref.soft_loss_gradient(
        clf.coef_, clf.intercept_, X, T, sw, l2_reg_strength=1.0 / (0.5 * sw.sum())
    )
    assert max(np.abs(g_coef).max(), np.abs(g_intercept).max()) <= 1e-7
    assert clf.objective_ == pytest.approx(loss, rel=1e-12)
    sparse = SoftmaxRegression(C=0.5, tol=1e-7, max_iter=1000).fit(
        sp.csr_matrix(X), T, sample_weight=sw
    )
    assert sparse.objective_ == pytest.approx(clf.objective_, rel=1e-12)


def test_one_hot_soft_targets_fit_the_same_model_as_labels():
    X, y, _, _, _ = make_problem(300, 4, 3)
    hard = SoftmaxRegression(tol=1e-8, max_iter=1000).fit(X, y)
    soft = SoftmaxRegression(tol=1e-8, max_iter=1000).fit(X, np.eye(3)[y].astype(float))
    # The same objective, summed in a different order (hard labels take the
    # label part of the intercept gradient from class totals): agreement to
    # rounding, not bit for bit.
    assert soft.objective_ == pytest.approx(hard.objective_, rel=1e-14)
    assert_allclose(soft.coef_, hard.coef_, rtol=1e-10, atol=1e-14)
    smoothed = SoftmaxRegression(tol=1e-8, label_smoothing=0.2).fit(X, y)
    as_soft = SoftmaxRegression(tol=1e-8).fit(X, ref.smoothed(y, 3, 0.2))
    assert smoothed.objective_ == pytest.approx(as_soft.objective_, rel=1e-12)
    assert_allclose(smoothed.coef_, as_soft.coef_, rtol=1e-10, atol=1e-12)
    # Smoothing keeps the fitted probabilities away from 0 and 1.
    assert smoothed.predict_proba(X).max() < hard.predict_proba(X).max()


@pytest.mark.parametrize(
    "Y, match",
    [
        (np.full((50, 3), 0.5), "row 0 sums to 1.5"),
        (np.c_[np.full(50, 1.5), np.full(50, -0.5)], "non-negative"),
        (np.full((49, 3), 1 / 3), "49 rows of soft targets but X has 50"),
        (np.c_[np.full(50, np.nan), np.ones(50)], "not finite"),
    ],
)
def test_bad_soft_targets_raise(Y, match):
    X = np.random.default_rng(0).standard_normal((50, 3))
    with pytest.raises(ValueError, match=match):
        SoftmaxRegression().fit(X, Y)


def test_soft_targets_refuse_class_weight_and_bad_smoothing():
    X, _, _, _, _ = make_problem(50, 3, 3)
    T = _soft_targets(50, 3)
    with pytest.raises(ValueError, match="class_weight needs hard labels"):
        SoftmaxRegression(class_weight="balanced").fit(X, T)
    for bad in (-0.1, 1.0, "0.1"):
        with pytest.raises(ValueError, match="label_smoothing"):
            SoftmaxRegression(label_smoothing=bad).fit(X, T)
    with pytest.raises(ValueError, match="3 columns but there are 4 classes"):
        fs.loss_gradient(np.zeros((4, 3)), None, X, T)


# --------------------------------------------------------------------------
# Cost-sensitive decisions.

def test_min_expected_cost_matches_brute_force():
    rng = np.random.default_rng(3)
    P = rng.dirichlet(np.ones(4), 5000)
    C = rng.uniform(0, 5, (4, 4))
    assert_array_equal(fs.min_expected_cost(P, C), ref.expected_cost_decisions(P, C))
    # The 0-1 cost gives the most probable class.
    assert_array_equal(fs.min_expected_cost(P, 1 - np.eye(4)), np.argmax(P, axis=1))


def test_cost_matrix_changes_predictions_and_lowers_the_cost():
    X, y, _, _, _ = make_problem(2000, 4, 3, seed=2)
    C = np.array([[0.0, 1.0, 1.0], [20.0, 0.0, 1.0], [1.0, 1.0, 0.0]])  # missing class 1 is dear
    plain = SoftmaxRegression().fit(X, y)
    costly = SoftmaxRegression(cost_matrix=C).fit(X, y)
    assert_array_equal(costly.predict_proba(X), plain.predict_proba(X))
    assert_array_equal(costly.predict(X), fs.min_expected_cost(plain.predict_proba(X), C))
    total = {name: C[y, model.predict(X)].sum() for name, model in
             [("argmax", plain), ("min cost", costly)]}
    assert total["min cost"] < total["argmax"]


def test_bad_cost_matrices_raise():
    X, y, _, _, _ = make_problem(50, 3, 3)
    with pytest.raises(ValueError, match=r"shape \(2, 2\), but there are 3 classes"):
        SoftmaxRegression(cost_matrix=np.ones((2, 2))).fit(X, y)
    with pytest.raises(ValueError, match="non-finite"):
        SoftmaxRegression(cost_matrix=np.full((3, 3), np.inf)).fit(X, y)
    with pytest.raises(ValueError, match="negative"):
        fs.min_expected_cost(-np.ones((2, 3)), np.ones((3, 3)))


# --------------------------------------------------------------------------
# Progress: verbose lines and the callback.

@pytest.mark.parametrize("penalty", ["l2", "l1"])
def test_callback_sees_every_iteration_and_can_stop(penalty):
    X, y, _, _, _ = make_problem(500, 6, 4)
    states = []
    full = SoftmaxRegression(penalty=penalty, tol=1e-8, max_iter=500,
                             callback=states.append).fit(X, y)
    assert [s.iteration for s in states] == list(range(1, full.n_iter_[0] + 1))
    assert all(isinstance(s, IterationState) for s in states)
    assert states[-1].objective == pytest.approx(full.objective_, rel=1e-12)
    assert states[-1].optimality <= 1e-8
    assert np.all(np.diff([s.objective for s in states]) <= 1e-15)
    # The last state is the returned model (intercepts up to their common shift).
    assert_allclose(states[-1].coef, full.coef_, rtol=1e-12, atol=1e-14)
    assert_allclose(states[-1].intercept - states[-1].intercept.mean(), full.intercept_,
                    rtol=1e-12, atol=1e-14)

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a requested stop is no failure
        stopped = SoftmaxRegression(penalty=penalty, tol=1e-8, max_iter=500,
                                    callback=lambda s: s.iteration >= 3).fit(X, y)
    assert stopped.n_iter_[0] == 3
    assert stopped.objective_ > full.objective_


def test_verbose_prints_an_aligned_line_per_iteration_and_a_summary(capsys):
    X, y, _, _, _ = make_problem(300, 4, 3)
    clf = SoftmaxRegression(verbose=1, tol=1e-8).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("SoftmaxRegression: 300 x 4 dense float64 data, 3 classes")
    assert lines[1].split() == ["iteration", "objective", "optimality", "seconds"]
    rows = lines[2:-1]
    assert len(rows) == clf.n_iter_[0]
    assert len({len(row) for row in rows}) == 1  # aligned columns
    assert [int(row.split()[0]) for row in rows] == list(range(1, clf.n_iter_[0] + 1))
    assert lines[-1].startswith("converged") and f"{clf.n_iter_[0]} iterations" in lines[-1]


def test_bad_callback_raises():
    X, y, _, _, _ = make_problem(50, 3, 3)
    with pytest.raises(TypeError, match="callback must be callable"):
        SoftmaxRegression(callback=3).fit(X, y)


@pytest.mark.parametrize(
    "y",
    [
        np.array([3, 1, 3, 7, 1, 1]),
        np.array([-5, 2, -5, 0], dtype=np.int32),
        np.array([2**40, 7, 2**40], dtype=np.int64),  # too wide to count: np.unique
        np.array([0, 1, 1, 0], dtype=np.uint8),
        np.array(["b", "a", "c", "a"]),
        np.array([1.0, 3.0, 1.0]),
    ],
)
def test_label_encoding_matches_numpy_unique(y):
    from fastsoftmax._targets import encode_labels

    classes, codes = encode_labels(y, "test")
    expected_classes, expected_codes = np.unique(y, return_inverse=True)
    assert_array_equal(classes, expected_classes)
    assert classes.dtype == expected_classes.dtype
    assert_array_equal(codes, expected_codes)
    assert_array_equal(classes[codes], y)


def test_label_encoding_needs_two_classes():
    from fastsoftmax._targets import encode_labels

    with pytest.raises(ValueError, match="only one class: 4"):
        encode_labels(np.array([4, 4, 4]), "test")


def test_continuous_labels_are_still_refused():
    with pytest.raises(ValueError, match="continuous"):
        SoftmaxRegression().fit(np.ones((3, 2)), [0.5, 1.25, 2.75])
