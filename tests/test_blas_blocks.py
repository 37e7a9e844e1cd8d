"""The GEMM path of the dense kernels (kernels/blas_blocks.py).

Block products against NumPy over the edges (one row, one feature, a block
that starts past row 0, a score buffer wider than the block), then whole
evaluations: the GEMM path against the register tiles on the same problem,
against the NumPy reference at shapes that select it (many classes; narrow
rows with tens of classes), and bit for bit on one and two threads.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastsoftmax._threads import kernel_threads
from fastsoftmax.kernels import blas_blocks
from fastsoftmax.kernels.blas_blocks import (
    BLAS_MIN_CLASSES,
    BLAS_ROW_BLOCK,
    F32_BLOCKS_PER_SUM,
    blas_block_gradient,
    blas_block_scores,
    gemm_available,
    ROWS_MIN_CLASSES,
    prefers_gemm,
    prefers_gemm_for_rows,
    rows_softmax,
)
from fastsoftmax.kernels.dense import (
    GEMM,
    PROBABILITIES,
    SCORES,
    KernelLayout,
    dense_predict,
    dense_rows,
    transposed_coef,
)
from fastsoftmax.objective import DenseObjective
from fastsoftmax.prediction import (
    _kernel_args,
    linear_log_proba,
    linear_predict,
    linear_proba,
    linear_scores,
)

from . import reference as ref
from .problems import make_problem

from .test_blocks import B0, TOL, _setup

SENTINEL = 7.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [2, 7, 450])
@pytest.mark.parametrize("n_features", [1, 6, 33])
@pytest.mark.parametrize("n_rows", [1, 13])
def test_block_products_match_numpy(dtype, n_classes, n_features, n_rows):
    X, Wt, St, _, Z = _setup(dtype, n_classes, n_features, n_rows)
    St.fill(SENTINEL)
    block = X[B0 : B0 + n_rows].astype(np.float64)
    tol = TOL[dtype]

    blas_block_scores(X, B0, n_rows, Wt, St, n_classes)
    assert_allclose(St[:n_classes, :n_rows], Z.T, rtol=tol, atol=tol)
    # Nothing outside the block's scores is written.
    assert_array_equal(St[n_classes:], SENTINEL)
    assert_array_equal(St[:, n_rows:], SENTINEL)

    factors = np.random.default_rng(1).standard_normal((n_classes, n_rows)).astype(dtype)
    St[:n_classes, :n_rows] = factors
    G = np.ones((n_classes + 2, n_features))
    sums = np.empty((n_classes if dtype == np.float32 else 0, n_features), dtype)
    assert blas_block_gradient(St, X, B0, n_rows, n_classes, G, sums, 0, True) == 0
    expected = 1 + factors.astype(np.float64) @ block
    assert_allclose(G[:n_classes], expected, rtol=tol, atol=tol)
    assert_array_equal(G[n_classes:], 1)  # rows past the classes untouched


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float32_block_products_are_summed_then_flushed(dtype):
    # Blocks 0..10 of 5 rows: float32 sums are flushed into G after every
    # F32_BLOCKS_PER_SUM blocks and at the range's last block, never lost.
    n_classes, n_features, n_rows, n_blocks = 6, 9, 5, 11
    rng = np.random.default_rng(4)
    X = rng.standard_normal((n_rows * n_blocks, n_features)).astype(dtype)
    St = rng.standard_normal((n_classes, n_rows * n_blocks)).astype(dtype)
    G = np.zeros((n_classes, n_features))
    sums = np.empty((n_classes if dtype == np.float32 else 0, n_features), dtype)
    pending, seen = 0, []
    for b in range(n_blocks):
        block_St = np.ascontiguousarray(St[:, b * n_rows : (b + 1) * n_rows])
        pending = blas_block_gradient(
            block_St, X, b * n_rows, n_rows, n_classes, G, sums, pending, b == n_blocks - 1
        )
        seen.append(pending)
    if dtype == np.float32:
        first = list(range(1, F32_BLOCKS_PER_SUM)) + [0]
        assert seen[:F32_BLOCKS_PER_SUM] == first and seen[-1] == 0
    else:
        assert seen == [0] * n_blocks
    expected = St.astype(np.float64) @ X.astype(np.float64)
    assert_allclose(G, expected, rtol=TOL[dtype], atol=TOL[dtype])


def _objectives(dtype, n_samples, n_features, n_classes, targets):
    """The same problem twice: register tiles, and GEMM calls forced."""
    X, y, sw, coef, intercept = make_problem(n_samples, n_features, n_classes, dtype)
    kwargs = {}
    if targets == "soft":
        kwargs["soft_targets"] = np.random.default_rng(1).dirichlet(np.ones(n_classes), n_samples)
        y = None
    elif targets == "smoothed":
        kwargs["label_smoothing"] = 0.1
    tiles = DenseObjective(X, y, sw, n_classes, True, **kwargs)
    gemm = KernelLayout(n_features, n_classes, X.itemsize, use_blas=True)
    blas = DenseObjective(X, y, sw, n_classes, True, layout=gemm, **kwargs)
    assert not tiles.layout.use_blas and blas.layout.use_blas
    return tiles, blas, tiles.pack(coef, intercept)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [3, 10, 17])
@pytest.mark.parametrize("targets", ["hard", "smoothed", "soft"])
def test_gemm_path_equals_register_tiles(dtype, n_classes, targets):
    # 40,000 rows: 32 ranges of 1,250 rows, each two full blocks of 512 rows
    # and a partial one.
    tiles, blas, w = _objectives(dtype, 40_000, 6, n_classes, targets)
    g_tiles, g_blas = np.empty(tiles.n_params), np.empty(tiles.n_params)
    with kernel_threads(2):
        value_tiles = tiles.loss_gradient(w, g_tiles)
        value_blas = blas.loss_gradient(w, g_blas)
        assert blas.loss(w) == value_blas
    rtol = 2e-6 if dtype == np.float32 else 1e-13
    assert value_blas == pytest.approx(value_tiles, rel=rtol)
    assert_allclose(g_blas, g_tiles, rtol=rtol * 10, atol=rtol * np.abs(g_tiles).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [5, 2_000])  # 5 rows: most of the 32 ranges are empty
def test_many_classes_match_reference(dtype, n):
    # 130 features: only the class count selects the GEMM path here.
    d, K = 130, BLAS_MIN_CLASSES
    itemsize = np.dtype(dtype).itemsize
    assert not prefers_gemm(d, K - 1, itemsize)
    X, y, sw, coef, intercept = make_problem(n, d, K, dtype)
    objective = DenseObjective(X, y, sw, K, True)
    assert objective.layout.use_blas and objective.layout.row_block == BLAS_ROW_BLOCK
    grad = np.empty(objective.n_params)
    with kernel_threads(2):
        value = objective.loss_gradient(w := objective.pack(coef, intercept), grad)
    loss, g_coef, g_intercept = ref.loss_gradient(coef, intercept, X, y, sw)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    assert value == pytest.approx(loss, rel=tol)
    got_coef, got_intercept = objective.unpack(grad)
    assert_allclose(got_coef, g_coef, rtol=tol, atol=tol * np.abs(g_coef).max())
    assert_allclose(got_intercept, g_intercept, rtol=tol, atol=tol * np.abs(g_intercept).max())
    assert objective.loss(w) == value

    Z = X.astype(np.float64) @ coef.T + intercept
    assert_allclose(linear_scores(X, coef, intercept), Z, rtol=tol, atol=tol)
    assert_allclose(linear_proba(X, coef, intercept), ref.softmax(Z), rtol=tol, atol=tol)
    assert_allclose(linear_log_proba(X, coef, intercept), ref.log_softmax(Z), rtol=tol, atol=tol)
    labels = linear_predict(X, coef, intercept)
    assert np.mean(labels == np.argmax(Z, axis=1)) > 0.99  # float32 near-ties aside
    if dtype == np.float64:
        assert_array_equal(labels, np.argmax(Z, axis=1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_prediction_equals_register_tiles(dtype):
    # 40,000 rows: each of the 32 ranges has two full 512-row blocks and a
    # partial one. Scores, probabilities and labels by both paths.
    n, d, K = 40_000, 6, 17
    X, _, _, coef, intercept = make_problem(n, d, K, dtype)
    Wt = transposed_coef(coef, dtype)
    b = intercept.astype(dtype)
    tol = 2e-6 if dtype == np.float32 else 1e-13
    results = {}
    with kernel_threads(2):
        for use_blas in (False, True):
            layout = KernelLayout(d, K, X.itemsize, use_blas=use_blas)
            got = []
            for what in (SCORES, PROBABILITIES):
                out = np.empty((n, K), dtype)
                assert dense_rows(X, Wt, b, K, layout.row_block, use_blas, what, out) == 0
                got.append(out)
            labels = np.empty(n, np.int64)
            assert dense_predict(X, Wt, b, K, layout.row_block, use_blas, labels) == 0
            results[use_blas] = got + [labels]
    for tiles, gemm in zip(results[False][:2], results[True][:2], strict=True):
        assert_allclose(gemm, tiles, rtol=tol, atol=tol)
    agree = np.mean(results[False][2] == results[True][2])
    assert agree == 1.0 if dtype == np.float64 else agree > 0.999


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("width", [1, 7, 15, 16, 17, 23, 64, 1001])
def test_rows_softmax_finds_the_maximum_anywhere(dtype, width):
    # Rows of 16 entries or more take the maximum with eight running maxima
    # and a scalar tail: put each row's largest (and huge) score at a
    # different place, first entry, any of the eight lanes, or the tail.
    rng = np.random.default_rng(width)
    n_rows = min(width, 40) + 1
    Z = rng.standard_normal((n_rows, width))
    where = np.arange(n_rows) % width
    Z[np.arange(n_rows), where] = 1e4
    Z[-1] = -np.inf
    Z[-1, width // 2] = -3.0  # one finite entry: probability exactly 1 there
    intercept = rng.standard_normal(width).astype(dtype)
    out = Z.astype(dtype)
    assert rows_softmax(out, intercept)
    expected = ref.softmax(Z.astype(dtype).astype(np.float64) + intercept)
    tol = 2e-6 if dtype == np.float32 else 1e-13
    assert_allclose(out, expected, rtol=tol, atol=tol)
    assert out[-1, width // 2] == 1


@pytest.mark.parametrize("position", [0, 5, 40, 99])
def test_rows_softmax_reports_nan_anywhere(position):
    out = np.random.default_rng(0).standard_normal((3, 100))
    out[1, position] = np.nan
    assert not rows_softmax(out, np.empty(0))


def test_non_finite_input_is_reported_on_the_gemm_path():
    X, _, _, coef, intercept = make_problem(1_000, 4, BLAS_MIN_CLASSES)
    X[777, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        linear_proba(X, coef, intercept)
    with pytest.raises(ValueError, match="NaN or infinity"):
        linear_scores(X, coef, intercept)
    with pytest.raises(ValueError, match="NaN or infinity"):
        linear_predict(X, coef, intercept)


def test_gemm_path_gives_the_same_bits_on_one_and_two_threads():
    X, y, sw, coef, intercept = make_problem(20_000, 7, BLAS_MIN_CLASSES, np.float32)
    objective = DenseObjective(X, y, sw, BLAS_MIN_CLASSES, True)
    w = objective.pack(coef, intercept)
    results = []
    for n_threads in (1, 2):
        grad = np.empty(objective.n_params)
        with kernel_threads(n_threads):
            results.append((objective.loss_gradient(w, grad), grad))
    assert results[0][0] == results[1][0]
    assert_array_equal(results[0][1], results[1][1])


def test_prediction_switches_to_gemm_earlier():
    for itemsize, first in ROWS_MIN_CLASSES.items():
        assert first < BLAS_MIN_CLASSES
        assert prefers_gemm_for_rows(5000, first, itemsize)
        assert not prefers_gemm_for_rows(300, first - 1, itemsize)
        # Wherever the loss takes GEMM, so do the rows.
        for d, K in [(16, 40), (64, 100), (128, 100), (300, BLAS_MIN_CLASSES)]:
            assert prefers_gemm_for_rows(d, K, itemsize) or not prefers_gemm(d, K, itemsize)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_prediction_between_the_two_switches_matches_reference(dtype):
    # ROWS_MIN_CLASSES classes at d=130: the loss keeps the register tiles,
    # prediction (scores, probabilities and labels alike) takes GEMM.
    K = ROWS_MIN_CLASSES[np.dtype(dtype).itemsize]
    X, _, _, coef, intercept = make_problem(3_000, 130, K, dtype)
    assert not KernelLayout(130, K, X.itemsize).use_blas
    assert _kernel_args(X, coef, intercept)[3]
    Z = X.astype(np.float64) @ coef.T + intercept
    tol = 2e-5 if dtype == np.float32 else 1e-12
    assert_allclose(linear_scores(X, coef, intercept), Z, rtol=tol, atol=tol * np.abs(Z).max())
    proba = linear_proba(X, coef, intercept)
    assert_allclose(proba, ref.softmax(Z), rtol=tol, atol=tol)
    labels = linear_predict(X, coef, intercept)
    assert np.mean(labels == np.argmax(Z, axis=1)) > 0.99  # float32 near-ties aside
    if dtype == np.float64:
        assert_array_equal(labels, np.argmax(proba, axis=1))


def test_choice_of_products_follows_the_measured_boundaries():
    # The loss: GEMM from BLAS_MIN_CLASSES classes, whatever the row length.
    for itemsize in (4, 8):
        for d in (8, 32, 300, 5000):
            assert prefers_gemm(d, BLAS_MIN_CLASSES, itemsize)
            assert not prefers_gemm(d, BLAS_MIN_CLASSES - 1, itemsize)
    # Prediction on narrow rows: GEMM from 40 classes at d <= 32 (float32:
    # d <= 64), from 100 classes at d <= 64 (float32: d <= 128).
    rows = prefers_gemm_for_rows
    assert rows(32, 40, 8) and not rows(33, 40, 8)
    assert rows(64, 40, 4) and not rows(65, 40, 4)
    assert not rows(32, 39, 4)
    assert rows(64, 100, 8) and not rows(65, 100, 8)
    assert rows(128, 100, 4) and not rows(129, 100, 4)
    assert not rows(100, 10, 4) and not rows(20, 3, 8)
    assert not KernelLayout(16, 40, 8).use_blas
    layout = KernelLayout(16, 40, 8, prediction=True)
    assert layout.use_blas and layout.row_block == BLAS_ROW_BLOCK


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_narrow_rows_with_tens_of_classes_match_reference(dtype):
    # The loss keeps the register tiles here; prediction takes GEMM.
    n, d, K = 3_000, 8, 40
    X, y, sw, coef, intercept = make_problem(n, d, K, dtype)
    objective = DenseObjective(X, y, sw, K, True)
    assert not objective.layout.use_blas
    assert _kernel_args(X, coef, intercept)[3] == GEMM
    grad = np.empty(objective.n_params)
    with kernel_threads(2):
        value = objective.loss_gradient(objective.pack(coef, intercept), grad)
    loss, g_coef, g_intercept = ref.loss_gradient(coef, intercept, X, y, sw)
    tol = 2e-5 if dtype == np.float32 else 1e-12
    assert value == pytest.approx(loss, rel=tol)
    assert_allclose(grad, np.concatenate([g_coef.ravel(), g_intercept]), rtol=tol, atol=tol * 0.1)
    Z = X.astype(np.float64) @ coef.T + intercept
    assert_allclose(linear_proba(X, coef, intercept), ref.softmax(Z), rtol=tol, atol=tol)


def test_gemm_is_checked_before_it_is_chosen(monkeypatch):
    # A tiny product through the same entry point; the layout relies on it.
    assert gemm_available(8) and gemm_available(4)
    assert KernelLayout(300, BLAS_MIN_CLASSES, 8).use_blas
    # Where the check fails, the layout falls back to the register tiles.
    monkeypatch.setitem(blas_blocks._GEMM_WORKS, 8, False)
    assert not KernelLayout(300, BLAS_MIN_CLASSES, 8).use_blas
    assert KernelLayout(300, BLAS_MIN_CLASSES, 4).use_blas
