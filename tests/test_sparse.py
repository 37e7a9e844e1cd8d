"""CSR input: the same objective, gradient and model as dense input."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits

import fastsoftmax as fs
from fastsoftmax import SoftmaxRegression

from . import reference as ref
from .problems import make_problem

pytestmark = pytest.mark.filterwarnings(
    "ignore:SoftmaxRegression did not converge.*floating-point precision"
)


def _sparse_problem(n=300, d=40, K=4, density=0.1, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=seed, dtype=dtype)
    X.data = (3 * rng.standard_normal(X.nnz)).astype(dtype)
    _, y, sw, coef, intercept = make_problem(n, d, K, seed=seed)
    return X, y, sw, coef, intercept


def _relative(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("container", [sp.csr_matrix, sp.csr_array])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_sparse_and_dense_loss_gradient_agree(dtype, index_dtype, container, fit_intercept):
    X, y, sw, coef, intercept = _sparse_problem(dtype=dtype)
    X = container(X)
    X.indices = X.indices.astype(index_dtype)
    X.indptr = X.indptr.astype(index_dtype)
    intercept = intercept if fit_intercept else None
    dense = fs.loss_gradient(coef, intercept, X.toarray(), y, sample_weight=sw)
    sparse = fs.loss_gradient(coef, intercept, X, y, sample_weight=sw)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    assert sparse[0] == pytest.approx(dense[0], rel=tol)
    assert _relative(sparse[1], dense[1]) <= tol
    if fit_intercept:
        assert _relative(sparse[2], dense[2]) <= tol
    expected = ref.loss_gradient(coef, intercept, X.toarray(), y, sw)
    assert sparse[0] == pytest.approx(expected[0], rel=max(tol, 1e-12))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [2, 8, 9, 17, 33, 65, 70])
def test_sparse_rows_of_every_register_count_agree_with_dense(dtype, n_classes):
    # 1 to 4 registers of classes in the row gather and scatter (8 or 16
    # lanes each), and wider rows that fall back to loops over the classes.
    X, y, sw, coef, intercept = _sparse_problem(n=200, d=30, K=n_classes, dtype=dtype, seed=3)
    dense = fs.loss_gradient(coef, intercept, X.toarray(), y, sample_weight=sw)
    sparse = fs.loss_gradient(coef, intercept, X, y, sample_weight=sw)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    assert sparse[0] == pytest.approx(dense[0], rel=tol)
    assert _relative(sparse[1], dense[1]) <= tol
    assert _relative(sparse[2], dense[2]) <= tol
    clf = SoftmaxRegression(max_iter=5).fit(X, y)
    assert_allclose(clf.predict_proba(X), clf.predict_proba(X.toarray()), rtol=10 * tol, atol=tol)


def _awkward_csr():
    """Empty rows and columns, explicit zeros, unsorted and duplicate indices."""
    data = np.array([1.0, 0.0, 2.0, -1.0, 0.5, 3.0, 1.5])
    indices = np.array([3, 0, 1, 3, 3, 0, 2])  # row 2: [3, 3] duplicates, unsorted
    indptr = np.array([0, 2, 2, 5, 7, 7])  # rows 1 and 4 empty; column 4 empty
    X = sp.csr_matrix((data, indices, indptr), shape=(5, 5))
    assert not X.has_sorted_indices
    return X


def test_awkward_csr_structures():
    X = _awkward_csr()
    dense = X.toarray()  # scipy adds duplicates, as the kernels do
    rng = np.random.default_rng(1)
    coef, intercept = rng.standard_normal((3, 5)), rng.standard_normal(3)
    y = np.array([0, 1, 2, 0, 1])
    sparse_result = fs.loss_gradient(coef, intercept, X, y)
    dense_result = fs.loss_gradient(coef, intercept, dense, y)
    assert sparse_result[0] == pytest.approx(dense_result[0], rel=1e-14)
    assert_allclose(sparse_result[1], dense_result[1], rtol=1e-13, atol=1e-15)
    clf = SoftmaxRegression(tol=1e-10, max_iter=1000).fit(X, y)
    clf_dense = SoftmaxRegression(tol=1e-10, max_iter=1000).fit(dense, y)
    assert clf.objective_ == pytest.approx(clf_dense.objective_, rel=1e-10)
    assert_allclose(clf.predict_proba(X), clf_dense.predict_proba(dense), atol=1e-6)


def test_one_by_one_matrix():
    X = sp.csr_matrix(np.array([[2.0]]))
    loss, g_coef, g_intercept = fs.loss_gradient(np.zeros((2, 1)), np.zeros(2), X, [1])
    assert loss == pytest.approx(np.log(2))
    assert_allclose(g_coef, [[1.0], [-1.0]])
    assert_allclose(g_intercept, [0.5, -0.5])


@pytest.mark.parametrize("penalty, l1_ratio", [("l2", None), ("l1", None), ("group_lasso", None)])
def test_sparse_and_dense_fits_agree(penalty, l1_ratio):
    X, y = load_digits(return_X_y=True)
    X = X[:500] / 16.0
    y = y[:500]
    kwargs = dict(penalty=penalty, l1_ratio=l1_ratio, C=0.5, tol=1e-10, max_iter=5000)
    dense = SoftmaxRegression(**kwargs).fit(X, y)
    sparse = SoftmaxRegression(**kwargs).fit(sp.csr_matrix(X), y)
    assert sparse.objective_ == pytest.approx(dense.objective_, rel=1e-10)
    assert np.linalg.norm(sparse.coef_ - dense.coef_) <= 1e-4 * np.linalg.norm(dense.coef_)
    for method in ("predict_proba", "decision_function", "predict_log_proba"):
        assert_allclose(
            getattr(sparse, method)(sp.csr_matrix(X)), getattr(dense, method)(X),
            rtol=1e-5, atol=1e-5,
        )
    assert_array_equal(sparse.predict(sp.csc_matrix(X)), sparse.predict(X))


def test_other_sparse_formats_are_converted_and_float32_kept():
    X, y, _, _, _ = _sparse_problem(dtype=np.float32)
    for convert in (sp.csc_matrix, sp.coo_matrix, sp.csc_array):
        clf = SoftmaxRegression(max_iter=500).fit(convert(X), y)
        assert clf.predict_proba(convert(X)).dtype == np.float32


def test_sparse_fit_is_bit_identical_across_threads():
    X, y, _, _, _ = _sparse_problem(n=3000, d=200, K=5, density=0.05)
    fits = [SoftmaxRegression(n_threads=t, tol=1e-8).fit(X, y) for t in (1, 2, 1)]
    for clf in fits[1:]:
        assert_array_equal(clf.coef_, fits[0].coef_)


def test_sparse_nan_is_rejected():
    X, y, _, coef, intercept = _sparse_problem()
    X.data[3] = np.nan
    with pytest.raises(ValueError, match="NaN|nan"):
        fs.loss_gradient(coef, intercept, X, y)
    with pytest.raises(ValueError, match="NaN|nan"):
        SoftmaxRegression().fit(X, y)


def test_wide_data_gets_fewer_ranges_and_bounded_memory():
    from fastsoftmax.kernels._config import N_ROW_RANGES, SPARSE_PARTIALS_BYTES
    from fastsoftmax.objective import sparse_n_ranges

    assert sparse_n_ranges(100, 10) == N_ROW_RANGES
    assert sparse_n_ranges(100, 10, n_cores=1) == N_ROW_RANGES  # small partials: always 32
    wide = sparse_n_ranges(100_000, 20)
    assert 2 <= wide < N_ROW_RANGES
    assert wide * 100_000 * 20 * 8 <= SPARSE_PARTIALS_BYTES
    # Wide data: the memory budget allows 4 partials of 16 MB; a machine with
    # fewer cores gets only as many as it can fill, never fewer than 2.
    per_range = 100_000 * 20 * 8
    assert sparse_n_ranges(100_000, 20, n_cores=64) == SPARSE_PARTIALS_BYTES // per_range
    assert sparse_n_ranges(100_000, 20, n_cores=3) == 3
    assert sparse_n_ranges(100_000, 20, n_cores=2) == 2
    assert sparse_n_ranges(100_000, 20, n_cores=1) == 2
