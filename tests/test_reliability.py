"""The estimator under bad input, extreme numbers, odd array types and round trips.

Each test here is a row of docs/reliability.md: an input or condition, the
expected outcome, and the check that it happens.
"""

import pickle
import tracemalloc
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression

from fastsoftmax import SoftmaxRegression

from . import reference as ref


def _problem(n_samples=300, n_features=5, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    y = rng.integers(0, n_classes, n_samples)
    return X, y


def _with(a, index, value):
    a = np.array(a, dtype=float)
    a[index] = value
    return a


X0, Y0 = _problem()


# --------------------------------------------------------------------------
# Bad input: a clear error, and the caller's arrays untouched.

BAD_FIT_INPUTS = [
    ("NaN in X", dict(X=_with(X0, (3, 1), np.nan)), ValueError, "NaN"),
    ("inf in X", dict(X=_with(X0, (3, 1), np.inf)), ValueError, "infinity"),
    ("NaN in y", dict(y=_with(Y0, 4, np.nan)), ValueError, "NaN"),
    ("inf in y", dict(y=_with(Y0, 4, np.inf)), ValueError, "infinity"),
    ("continuous y", dict(y=Y0 + 0.5), ValueError, "continuous"),
    ("NaN weight", dict(sample_weight=_with(np.ones(300), 7, np.nan)), ValueError,
     "sample_weight contains nan at index 7"),
    ("negative weight", dict(sample_weight=_with(np.ones(300), 7, -1.0)), ValueError,
     r"sample_weight\[7\] = -1.0 is negative"),
    ("all-zero weights", dict(sample_weight=np.zeros(300)), ValueError, "zero everywhere"),
    ("weights of wrong length", dict(sample_weight=np.ones(299)), ValueError,
     "299 entries but there are 300"),
    ("empty X", dict(X=np.empty((0, 5)), y=np.empty(0)), ValueError, "0 sample"),
    ("no features", dict(X=np.empty((300, 0))), ValueError, "0 feature"),
    ("1-D X", dict(X=X0[:, 0]), ValueError, "Expected 2D array"),
    ("3-D X", dict(X=X0[:, :, None]), ValueError, "dim 3"),
    ("mismatched lengths", dict(y=Y0[:-1]), ValueError, "inconsistent numbers of samples"),
    ("one class", dict(y=np.zeros(300)), ValueError, "at least 2 classes"),
    ("complex X", dict(X=X0 + 1j), ValueError, "Complex data not supported"),
    ("text X", dict(X=np.full((300, 5), "a", dtype=object)), ValueError,
     "could not convert string to float"),
    ("float y of shape (n, 3), rows not distributions", dict(y=np.ones((300, 3))), ValueError,
     "read as soft targets .* row 0 sums to 3"),
    ("integer y of shape (n, 3)", dict(y=np.ones((300, 3), dtype=int)), ValueError, "1d array"),
]


@pytest.mark.parametrize(
    "kwargs, error, match", [case[1:] for case in BAD_FIT_INPUTS],
    ids=[case[0] for case in BAD_FIT_INPUTS],
)
def test_bad_fit_input_raises_clearly_and_modifies_nothing(kwargs, error, match):
    args = dict(X=X0, y=Y0, sample_weight=None)
    args.update(kwargs)
    before = {k: None if v is None else np.array(v, copy=True) for k, v in args.items()}
    with pytest.raises(error, match=match):
        SoftmaxRegression().fit(args["X"], args["y"], sample_weight=args["sample_weight"])
    for name, value in args.items():
        if value is not None:
            assert_array_equal(np.asarray(value), before[name], err_msg=name)


BAD_PARAMETERS = [
    (dict(C=np.nan), "C must be a positive"),
    (dict(C="1"), "C must be a positive"),
    (dict(tol=np.nan), "tol"),
    (dict(max_iter=2.5), "max_iter"),
    (dict(solver="sag"), "scikit-learn solver"),
    (dict(penalty="l1", solver="lbfgs"), "use solver='proximal'"),
    (dict(penalty="group_lasso", solver="lbfgs"), "use solver='proximal'"),
    (dict(class_weight={7: 2.0}), "not in class_weight"),
    (dict(class_weight={0: np.nan, 1: 1.0, 2: 1.0}), "finite weights"),
]


@pytest.mark.parametrize("params, match", BAD_PARAMETERS)
def test_bad_parameters_raise_at_fit(params, match):
    with pytest.raises(ValueError, match=match):
        SoftmaxRegression(**params).fit(X0, Y0)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba",
                                    "decision_function"])
def test_prediction_input_is_checked(method):
    with pytest.raises(NotFittedError, match="not fitted yet"):
        getattr(SoftmaxRegression(), method)(X0)
    clf = SoftmaxRegression().fit(X0, Y0)
    with pytest.raises(ValueError, match="has 4 features, but SoftmaxRegression is expecting 5"):
        getattr(clf, method)(X0[:, :4])
    with pytest.raises(ValueError, match="NaN"):
        getattr(clf, method)(_with(X0, (0, 0), np.nan))
    with pytest.raises(ValueError, match="Expected 2D array"):
        getattr(clf, method)(X0[0])


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("penalty", ["l2", "l1"])
def test_non_finite_fit_input_is_found_from_the_second_moments(value, dtype, penalty):
    # Dense X is validated without a NaN/inf scan; the fit's one pass for the
    # feature second moments must find any non-finite entry, also in a row of
    # weight zero, with soft targets and for the proximal solver.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((600, 5)).astype(dtype)
    y = np.arange(600) % 3
    message = "NaN" if np.isnan(value) else "infinity"
    for position in [(0, 0), (311, 2), (599, 4)]:
        bad = _with(X, position, value)
        with pytest.raises(ValueError, match=message):
            SoftmaxRegression(penalty=penalty).fit(bad, y)
        weights = np.ones(600)
        weights[position[0]] = 0.0
        with pytest.raises(ValueError, match=message):
            SoftmaxRegression(penalty=penalty).fit(bad, y, sample_weight=weights)
        with pytest.raises(ValueError, match=message):
            SoftmaxRegression(penalty=penalty).fit(bad, np.eye(3)[y])
    # Finite values whose squares overflow are not an error.
    huge = _with(X.astype(np.float64), (5, 1), 1e200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        SoftmaxRegression(penalty=penalty, max_iter=3).fit(huge, y)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba",
                                    "decision_function"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_classes", [2, 3, 11])
def test_non_finite_prediction_input_is_found_by_the_kernels(method, value, dtype, n_classes):
    # Dense X is not scanned beforehand; a single NaN or infinity anywhere
    # (first row, a row inside a block, the last row and feature) must still
    # raise, and finite input must not.
    rng = np.random.default_rng(n_classes)
    X = rng.standard_normal((2000, 7)).astype(dtype)
    clf = SoftmaxRegression().fit(X, np.arange(2000) % n_classes)
    getattr(clf, method)(X)
    for position in [(0, 0), (777, 3), (1999, 6)]:
        with pytest.raises(ValueError, match="NaN or infinity"):
            getattr(clf, method)(_with(X, position, value))
    with pytest.raises(ValueError, match="NaN|infinity"):
        getattr(clf, method)(sp.csr_matrix(_with(X, (5, 5), value)))


# --------------------------------------------------------------------------
# Extreme numbers.

def test_huge_scores_give_exact_probabilities():
    clf = SoftmaxRegression().fit(X0, Y0)
    clf.coef_ = clf.coef_ * 1e4  # scores of order +-1e4
    Z = X0 @ clf.coef_.T + clf.intercept_
    P = clf.predict_proba(X0)
    assert np.all(np.isfinite(P))
    assert_allclose(P.sum(axis=1), 1.0, rtol=1e-14)
    assert_allclose(P, ref.softmax(Z), rtol=1e-12, atol=1e-300)
    assert_allclose(clf.predict_log_proba(X0), ref.log_softmax(Z), rtol=1e-12)
    assert_array_equal(clf.predict(X0), np.argmax(Z, axis=1))


def test_badly_scaled_features_fail_with_a_clear_warning():
    X = X0 * np.array([1e-150, 1.0, 1e150, 1.0, 1.0])
    with pytest.warns(ConvergenceWarning, match=r"badly scaled.*e\+150 \(column 2\)"):
        clf = SoftmaxRegression().fit(X, Y0)
    # What is returned is still a finite model whose objective is its own.
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.predict_proba(X)))
    _, value = _objective_at(clf, X, Y0)
    assert clf.objective_ == pytest.approx(value, rel=1e-12)


def test_tiny_features_fit_like_a_model_without_them():
    # Features of size 1e-150 cannot move the scores: the model is the fit
    # without them (with their coefficients held at the penalty's optimum, 0).
    X = np.c_[X0, 1e-150 * X0[:, :2]]
    clf = SoftmaxRegression(tol=1e-10, max_iter=1000).fit(X, Y0)
    without = SoftmaxRegression(tol=1e-10, max_iter=1000).fit(X0, Y0)
    assert clf.objective_ == pytest.approx(without.objective_, rel=1e-10)
    assert_allclose(clf.coef_[:, :5], without.coef_, rtol=1e-6, atol=1e-8)


def _objective_at(clf, X, y, C=1.0):
    value, _, _ = ref.loss_gradient(
        clf.coef_, clf.intercept_, X, y, l2_reg_strength=1.0 / (C * X.shape[0])
    )
    return clf, value


@pytest.mark.parametrize("max_iter", [10, 100, 10_000])
@pytest.mark.parametrize("solver", ["lbfgs", "proximal"])
def test_separable_data_without_penalty_warns_and_stays_finite(max_iter, solver):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 2))
    y = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = SoftmaxRegression(penalty=None, max_iter=max_iter, tol=0.0, solver=solver)
        clf.fit(X, y)
    messages = [str(w.message) for w in caught]
    assert any("optimum may not exist" in m for m in messages), messages
    assert np.all(np.isfinite(clf.coef_)) and np.all(np.isfinite(clf.intercept_))
    P = clf.predict_proba(X)
    assert np.all(np.isfinite(P)) and np.all((P >= 0) & (P <= 1))
    assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)


def test_no_separation_warning_when_the_optimum_exists():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SoftmaxRegression(penalty=None, max_iter=1000).fit(X0, Y0)
        # Separable, but penalised: the optimum exists.
        X = np.r_[X0, X0 + 10]
        SoftmaxRegression(max_iter=1000).fit(X, np.r_[np.zeros(300), np.ones(300)])


def test_constant_and_duplicated_features_and_rows():
    X = np.c_[X0, np.ones(300), X0[:, :1]]  # a constant and a repeated column
    clf = SoftmaxRegression(tol=1e-10, max_iter=1000).fit(X, Y0)
    # The constant column is a penalised second intercept: the free intercept
    # takes all of it. The repeated column shares the weight of its twin
    # equally (the L2 optimum is unique).
    assert np.abs(clf.coef_[:, 5]).max() <= 1e-5
    assert_allclose(clf.coef_[:, 6], clf.coef_[:, 0], rtol=1e-6, atol=1e-10)
    # Duplicated rows are the same problem as weights of 2.
    doubled = SoftmaxRegression(tol=1e-10, max_iter=1000).fit(np.r_[X0, X0], np.r_[Y0, Y0])
    weighted = SoftmaxRegression(tol=1e-10, max_iter=1000).fit(
        X0, Y0, sample_weight=np.full(300, 2.0)
    )
    assert doubled.objective_ == pytest.approx(weighted.objective_, rel=1e-10)
    assert_allclose(doubled.coef_, weighted.coef_, rtol=1e-6, atol=1e-9)


def test_class_with_one_sample_and_one_feature_agree_with_sklearn():
    y = Y0.copy()
    y[0] = 3  # a class seen once
    for X in (X0, X0[:, :1]):
        ours = SoftmaxRegression(tol=1e-10, max_iter=2000).fit(X, y)
        theirs = LogisticRegression(tol=1e-10, max_iter=2000).fit(X, y)
        value = ref.loss_gradient(theirs.coef_, theirs.intercept_, X, y,
                                  l2_reg_strength=1.0 / X.shape[0])[0]
        assert ours.objective_ == pytest.approx(value, rel=1e-8)
        assert_allclose(ours.coef_, theirs.coef_, atol=1e-4 * np.linalg.norm(theirs.coef_))


def test_a_thousand_classes():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3000, 8))
    y = rng.integers(0, 1000, 3000)
    clf = SoftmaxRegression(max_iter=500).fit(X, y)
    P = clf.predict_proba(X[:50])
    assert P.shape == (50, clf.classes_.shape[0])
    assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    _, g_coef, g_intercept = ref.loss_gradient(
        clf.coef_, clf.intercept_, X, np.searchsorted(clf.classes_, y),
        l2_reg_strength=1.0 / X.shape[0],
    )
    assert max(np.abs(g_coef).max(), np.abs(g_intercept).max()) <= 1e-4


# --------------------------------------------------------------------------
# Inputs as they come: accepted, converted at most once.

N_BIG, D_BIG = 40_000, 25  # 8 MB as float64: copies stand out from buffers
XB, YB = _problem(N_BIG, D_BIG, 4, seed=3)


def _inputs(tmp_path):
    mapped = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", shape=XB.shape)
    mapped[:] = XB
    mapped.flush()
    readonly = np.load(tmp_path / "X.npy", mmap_mode="r")
    wide = np.zeros((N_BIG, 2 * D_BIG))
    wide[:, ::2] = XB
    return {
        # name: (X, expected copies of X as float64, reference float64 array)
        "C float64": (XB, 0, XB),
        "read-only memmap": (readonly, 0, XB),
        "C float32": (XB.astype(np.float32), 0, None),
        "Fortran order": (np.asfortranarray(XB), 1, XB),
        "strided slice": (wide[:, ::2], 1, XB),
        "int64": ((XB * 10).astype(np.int64), 1, (XB * 10).astype(np.int64).astype(float)),
        "bool": (XB > 0, 1, (XB > 0).astype(float)),
        "float16": (XB.astype(np.float16), 1, XB.astype(np.float16).astype(float)),
    }


@pytest.mark.parametrize(
    "kind", ["C float64", "read-only memmap", "C float32", "Fortran order",
             "strided slice", "int64", "bool", "float16"],
)
def test_inputs_as_they_come_are_converted_at_most_once(kind, tmp_path):
    X, copies, reference_X = _inputs(tmp_path)[kind]
    clf = SoftmaxRegression(tol=1e-6, max_iter=300)
    # The first fit of a kind of array in a process loads (or compiles) its
    # kernels, which allocates Python objects too; that is not a copy of X.
    SoftmaxRegression(max_iter=5).fit(X[:200], YB[:200])
    tracemalloc.start()
    try:
        clf.fit(X, YB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    x64_bytes = N_BIG * D_BIG * 8
    # Everything besides copies of X (buffers, partial sums, the labels) is
    # far below one copy of X at this size.
    assert peak < (copies + 0.5) * x64_bytes, f"{kind}: peak {peak / 2**20:.1f} MiB"
    if reference_X is not None:
        expected = SoftmaxRegression(tol=1e-6, max_iter=300).fit(reference_X, YB)
        assert_array_equal(clf.coef_, expected.coef_)
    else:
        assert clf.predict_proba(X[:5]).dtype == np.float32


def test_read_only_memmap_is_not_written(tmp_path):
    X, _, _ = _inputs(tmp_path)["read-only memmap"]
    clf = SoftmaxRegression().fit(X, YB)
    assert not X.flags.writeable
    assert_array_equal(np.asarray(X), XB)
    assert clf.predict(X).shape == (N_BIG,)


def test_pandas_dataframe_keeps_feature_names():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X0, columns=[f"f{j}" for j in range(5)])
    clf = SoftmaxRegression().fit(frame, pd.Series(Y0))
    assert list(clf.feature_names_in_) == list(frame.columns)
    assert_array_equal(clf.predict_proba(frame), clf.predict_proba(X0))
    with pytest.warns(UserWarning, match="feature names"):
        clf.predict(X0)
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame[frame.columns[::-1]])


# --------------------------------------------------------------------------
# Same bits every time.

@pytest.mark.parametrize("penalty", ["l2", "l1", "group_lasso"])
def test_sparse_and_proximal_fits_are_bit_identical_across_threads(penalty):
    X = sp.random(2000, 300, density=0.05, format="csr", random_state=4)
    y = np.random.default_rng(4).integers(0, 5, 2000)
    fits = [
        SoftmaxRegression(penalty=penalty, C=0.5, n_threads=t, tol=1e-8, max_iter=500).fit(X, y)
        for t in (1, 2, 1, 2)
    ]
    for clf in fits[1:]:
        assert_array_equal(clf.coef_, fits[0].coef_)
        assert_array_equal(clf.intercept_, fits[0].intercept_)


# --------------------------------------------------------------------------
# Round trips.

def test_joblib_clone_and_set_params_round_trips(tmp_path):
    clf = SoftmaxRegression(C=0.5, penalty="l1", tol=1e-8, max_iter=1000).fit(X0, Y0)
    joblib.dump(clf, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    assert_array_equal(loaded.predict_proba(X0), clf.predict_proba(X0))
    restored = pickle.loads(pickle.dumps(clf.sparsify()))
    assert sp.issparse(restored.coef_)
    assert_array_equal(restored.predict_proba(X0), clf.predict_proba(X0))

    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params()
    assert not hasattr(fresh, "coef_")
    refit = fresh.fit(X0, Y0)
    assert_array_equal(refit.coef_, clf.densify().coef_)

    fresh.set_params(C=2.0, penalty="l2", solver="lbfgs")
    assert fresh.get_params()["C"] == 2.0
    fresh.fit(X0, Y0)
    assert fresh.objective_ < clf.objective_


def test_warm_start_refit_after_set_params_agrees_with_cold_fit():
    clf = SoftmaxRegression(C=0.1, tol=1e-8, max_iter=1000, warm_start=True).fit(X0, Y0)
    clf.set_params(C=1.0)
    clf.fit(X0, Y0)
    cold = SoftmaxRegression(C=1.0, tol=1e-8, max_iter=1000).fit(X0, Y0)
    assert clf.objective_ == pytest.approx(cold.objective_, rel=1e-10)
    assert_allclose(clf.coef_, cold.coef_, atol=1e-6)
    clf.fit(X0, Y0)  # from the optimum: nothing left to do
    assert clf.n_iter_[0] <= 1
