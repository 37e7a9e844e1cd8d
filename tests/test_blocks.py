"""One block of rows (kernels/blocks.py) against NumPy, over the padding edges.

Class counts cross the score panels (4 / 8 lanes per unit, two registers per
panel, three in wide panels) and the gradient class tiles; feature counts
cross the gradient panels and their masked tails, and the registers of the
features-in-lanes score tiles and the chunks of the classes-and-features
ones; row counts cross the score tiles (6 rows, 8 with AVX-512; 4 with
features in the lanes, 8 with classes and features) and leave single rows
over. The block starts at a row other than 0.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastsoftmax.kernels.blocks import (
    DOT_MAX_TOTAL_CLASSES,
    DOT_ROWS,
    GRADIENT_CLASS_TILES,
    GROUPED_MAX_CLASSES,
    GROUPED_ROWS,
    LOG_PRODUCT_ROWS,
    ONE_PASS_MAX_CLASSES,
    ROW_LANE_CLASSES,
    block_argmax,
    block_dot_scores,
    block_gradient,
    block_grouped_scores,
    block_probabilities,
    block_scores,
    block_softmax_loss,
    block_write_scores,
    class_shifts,
    dot_score_tiles,
    gradient_class_tile,
    gradient_padding,
    grouped_coef_shape,
    grouped_score_tiles,
    label_weight_totals,
    row_lane_score_tiles,
    wide_score_panels,
)
from fastsoftmax.kernels.simd import REGISTER_UNITS, grouped_slots, make_grouped_tile
from fastsoftmax._threads import kernel_threads
from fastsoftmax.kernels.dense import (
    DOT,
    GROUPED,
    N_ROW_RANGES,
    PANELS,
    PROBABILITIES,
    KernelLayout,
    dense_loss,
    dense_loss_gradient,
    dense_predict,
    dense_rows,
    dot_coef,
    grouped_coef,
    transposed_coef,
)

from . import reference as ref

TOL = {np.float32: 3e-5, np.float64: 1e-12}
B0 = 3  # first row of the block


def _setup(dtype, n_classes, n_features, n_rows, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((B0 + n_rows + 2, n_features)).astype(dtype)
    coef = rng.standard_normal((n_classes, n_features)) * 0.5
    intercept = rng.standard_normal(n_classes).astype(dtype)
    Wt = transposed_coef(coef, dtype)
    rows = max(Wt.shape[1], gradient_padding(n_classes))
    St = np.zeros((rows, n_rows + 4), dtype=dtype)
    block = X[B0 : B0 + n_rows].astype(np.float64)
    Z = block @ Wt[:, :n_classes].astype(np.float64)
    return X, Wt, St, intercept, Z


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [2, 3, 5, 9, 17, 33])
@pytest.mark.parametrize("n_features", [1, 7, 16, 21, 40])
@pytest.mark.parametrize("n_rows", [1, 5, 6, 13])
def test_scores_and_gradient_match_numpy(dtype, n_classes, n_features, n_rows):
    X, Wt, St, _, Z = _setup(dtype, n_classes, n_features, n_rows)
    block_scores(X, B0, n_rows, Wt, St, n_classes)
    tol = TOL[dtype]
    assert_allclose(St[:n_classes, :n_rows], Z.T, rtol=tol, atol=tol)
    assert_array_equal(St[n_classes:], 0)  # padding rows untouched

    factors = np.random.default_rng(1).standard_normal((n_classes, n_rows)).astype(dtype)
    St[:n_classes, :n_rows] = factors
    kg = gradient_padding(n_classes)
    G = np.ones((kg, n_features))
    block_gradient(St, X, B0, n_rows, gradient_class_tile(n_classes), G, 2)
    expected = 1 + factors.astype(np.float64) @ X[B0 : B0 + n_rows].astype(np.float64)
    assert_allclose(G[:n_classes], expected, rtol=tol, atol=tol)
    assert_array_equal(G[n_classes:], 1)  # zero factors in the padding rows


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [2, 3, 4, 5, 10, 12])
def test_gradient_of_every_width_of_the_last_features(dtype, n_classes):
    # From 1 to 50 features the last ones take every masked rest tile: 1 to
    # 4 units of 32 bytes, and for up to four classes 5 and 6 units with the
    # last full panel. The row after the block is NaN: a lane beyond the
    # last feature whose sum reached G would spread NaN into it.
    rng = np.random.default_rng(5)
    n_rows = 9
    kg = gradient_padding(n_classes)
    for n_features in range(1, 51):
        X = rng.standard_normal((B0 + n_rows + 1, n_features)).astype(dtype)
        X[B0 + n_rows] = np.nan
        factors = np.zeros((kg, n_rows), dtype=dtype)
        factors[:n_classes] = rng.standard_normal((n_classes, n_rows))
        G = np.ones((kg, n_features))
        block_gradient(factors, X, B0, n_rows, gradient_class_tile(n_classes), G, 0)
        expected = 1 + factors[:n_classes].astype(np.float64) @ X[B0 : B0 + n_rows].astype(np.float64)
        tol = TOL[dtype]
        assert_allclose(G[:n_classes], expected, rtol=tol, atol=tol, err_msg=f"d={n_features}")
        assert_array_equal(G[n_classes:], 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [23, 24, 25, 47, 48, 50, 100])
@pytest.mark.parametrize("n_features", [200, 256, 257, 301])
@pytest.mark.parametrize("n_rows", [1, 13])
def test_wide_score_panels_match_numpy(dtype, n_classes, n_features, n_rows):
    # Wide panels (three registers: 24 float64 / 48 float32 classes) where
    # wide_score_panels chooses them, only while full of real classes, then
    # narrow panels and packed tails; the features cross the rule's edge.
    X, Wt, St, _, Z = _setup(dtype, n_classes, n_features, n_rows)
    block_scores(X, B0, n_rows, Wt, St, n_classes)
    tol = TOL[dtype] * np.sqrt(n_features / 40)
    assert_allclose(St[:n_classes, :n_rows], Z.T, rtol=tol, atol=tol)
    assert_array_equal(St[n_classes:], 0)
    assert_array_equal(St[:, n_rows:], 0)  # no column beyond the block written


def test_wide_score_panels_rule():
    cases = [(d, K, itemsize) for d in (200, 256, 257, 301) for K in (23, 24, 25, 47, 48, 50, 100)
             for itemsize in (4, 8)]
    chosen = [wide_score_panels(*case) for case in cases]
    if REGISTER_UNITS == 1:
        assert not any(chosen)  # a third register would spill with 16 of them
        return
    assert any(chosen) and not all(chosen)  # the test above covers both kinds
    assert wide_score_panels(300, 100, 4) and wide_score_panels(300, 100, 8)
    assert wide_score_panels(784, 64, 8)
    # The narrow panel fits in L1 (float32, d=256), or wide panels would not
    # save a pass over the block (float32 K=64: 6 + 2 units against 4 + 4).
    assert not wide_score_panels(256, 100, 4)
    assert not wide_score_panels(784, 64, 4)
    assert not wide_score_panels(784, 10, 4) and not wide_score_panels(784, 10, 8)


@pytest.mark.parametrize("n_classes", [2, 3, 4, 6, 7, 9, 10, 11, 12])
@pytest.mark.parametrize("n_features", [1, 7, 8, 9, 20, 40])
@pytest.mark.parametrize("n_rows", [1, 7, 8, 9, 17])
def test_row_lane_scores_match_numpy(n_classes, n_features, n_rows):
    # float64 rows in the lanes (ROW_LANE_CLASSES): whole tiles of 8 rows,
    # the rows after them by one-row class panels, whole chunks of 8
    # features and a masked tail; 7 and 12 classes take the class panels.
    X, Wt, St, _, Z = _setup(np.float64, n_classes, n_features, n_rows)
    St[:] = 7.0
    block_scores(X, B0, n_rows, Wt, St, n_classes)
    assert_allclose(St[:n_classes, :n_rows], Z.T, rtol=1e-13, atol=1e-13)
    assert_array_equal(St[n_classes:], 7.0)  # padding rows untouched
    assert_array_equal(St[:, n_rows:], 7.0)  # no column beyond the block written


@pytest.mark.parametrize("n_classes", [3, 10])
def test_row_lane_scores_of_a_row_do_not_depend_on_its_tile(n_classes):
    # Each lane adds its row's products in feature order, and so does a
    # one-row class panel for the rows after the last whole tile: a row's
    # scores are the same bits wherever it sits.
    n_rows = 19
    X, Wt, St, _, _ = _setup(np.float64, n_classes, 21, n_rows)
    block_scores(X, B0, n_rows, Wt, St, n_classes)
    for first in range(n_rows):
        for count in (1, n_rows - first):
            alone = np.zeros_like(St)
            block_scores(X, B0 + first, count, Wt, alone, n_classes)
            assert_array_equal(alone[:n_classes, :count], St[:n_classes, first : first + count])


def test_row_lane_score_tiles_rule():
    assert not row_lane_score_tiles(3, 4)  # float32 keeps its tiles
    for n_classes in range(1, 40):
        expected = REGISTER_UNITS == 2 and n_classes in ROW_LANE_CLASSES
        assert row_lane_score_tiles(n_classes, 8) == expected
    # Panels that fill (or all but fill) their lanes keep them.
    assert not any(row_lane_score_tiles(k, 8) for k in (1, 7, 8, 12, 16))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [1, 2, 3, 5, 6, 7, 10, 12])
@pytest.mark.parametrize("n_features", [1, 16, 17, 40])
@pytest.mark.parametrize("n_rows", [1, 4, 13])
def test_dot_scores_match_numpy(dtype, n_classes, n_features, n_rows):
    # Features in the lanes: whole registers of 8 / 16 lanes and a masked
    # last one; classes in balanced groups of up to 6; rows in tiles of 4
    # and single rows after them.
    X, _, St, _, Z = _setup(dtype, n_classes, n_features, n_rows)
    coef = np.random.default_rng(0).standard_normal((n_classes, n_features)) * 0.5
    W = dot_coef(coef, dtype)
    Z = X[B0 : B0 + n_rows].astype(np.float64) @ W[:, :n_features].astype(np.float64).T
    block_dot_scores(X, B0, n_rows, W, St, n_classes)
    tol = TOL[dtype]
    assert_allclose(St[:n_classes, :n_rows], Z.T, rtol=tol, atol=tol)
    assert_array_equal(St[n_classes:], 0)
    assert_array_equal(St[:, n_rows:], 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dot_scores_of_a_row_do_not_depend_on_its_tile(dtype):
    # The lane sums add in the same order for a row in a tile of DOT_ROWS
    # and for a row left over after the tiles: the same bits.
    X, _, St, _, _ = _setup(dtype, 7, 45, 2 * DOT_ROWS + 1)
    W = dot_coef(np.random.default_rng(3).standard_normal((7, 45)), dtype)
    block_dot_scores(X, B0, 2 * DOT_ROWS + 1, W, St, 7)
    for i in range(2 * DOT_ROWS + 1):
        alone = np.zeros_like(St)
        block_dot_scores(X, B0 + i, 1, W, alone, 7)
        assert_array_equal(alone[:7, 0], St[:7, i])


def test_dot_score_tiles_rule():
    if REGISTER_UNITS == 1:
        assert not dot_score_tiles(100, 3, 8)  # 24 accumulators need 32 registers
        return
    # float32: from 64 features up to 3 classes, 160 up to 5, 320 up to 10.
    assert dot_score_tiles(64, 3, 4) and not dot_score_tiles(63, 3, 4)
    assert dot_score_tiles(160, 5, 4) and not dot_score_tiles(159, 4, 4)
    assert dot_score_tiles(320, 10, 4) and not dot_score_tiles(319, 6, 4)
    assert dot_score_tiles(784, 10, 4) and not dot_score_tiles(100, 10, 4)
    # float64: from 200 features up to 5 classes, never from 6.
    assert dot_score_tiles(200, 5, 8) and dot_score_tiles(784, 3, 8)
    assert not dot_score_tiles(199, 2, 8) and not dot_score_tiles(784, 6, 8)
    assert not dot_score_tiles(10_000, DOT_MAX_TOTAL_CLASSES + 1, 4)
    assert KernelLayout(784, 10, 4).products == DOT
    assert KernelLayout(100, 10, 4).products == PANELS
    assert KernelLayout(20, 3, 8).products == PANELS
    assert KernelLayout(784, 16, 4).products == PANELS
    layout = KernelLayout(65, 3, 4)
    assert layout.coef_array(np.ones((3, 65)), np.float32).shape == (3, 80)


def test_grouped_coef_puts_chunks_of_features_beside_each_class():
    coef = np.arange(3 * 10, dtype=np.float64).reshape(3, 10) + 1
    for dtype in (np.float32, np.float64):
        Wg = grouped_coef(coef, dtype)
        n_chunks, lanes = grouped_coef_shape(10, 3, np.dtype(dtype).itemsize)
        group = lanes // grouped_slots(3)
        assert Wg.shape == (n_chunks, lanes) and Wg.dtype == dtype and Wg.flags.c_contiguous
        for j in range(n_chunks):
            for slot in range(grouped_slots(3)):
                for f in range(group):
                    feature = j * group + f
                    expected = coef[slot, feature] if slot < 3 and feature < 10 else 0
                    assert Wg[j, slot * group + f] == expected
        # A reused output is rewritten whole.
        out = np.full_like(Wg, 7)
        assert grouped_coef(coef, dtype, out) is out
        assert_array_equal(out, Wg)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [2, 3, 4])
@pytest.mark.parametrize("n_features", [1, 3, 4, 9, 16, 21, 40])
@pytest.mark.parametrize("n_rows", [1, 8, 13, 17])
def test_grouped_scores_match_numpy(dtype, n_classes, n_features, n_rows):
    # Chunks of 2 to 8 features (whole ones and a masked last one), two or
    # four class slots (the fourth empty at K=3), tiles of 8 rows and single
    # rows after them.
    X, _, St, _, _ = _setup(dtype, n_classes, n_features, n_rows)
    St[:] = -1
    coef = np.random.default_rng(0).standard_normal((n_classes, n_features)) * 0.5
    Wg = grouped_coef(coef, dtype)
    Z = X[B0 : B0 + n_rows].astype(np.float64) @ coef.astype(dtype).astype(np.float64).T
    block_grouped_scores(X, B0, n_rows, Wg, St, n_classes)
    tol = TOL[dtype]
    assert_allclose(St[:n_classes, :n_rows], Z.T, rtol=tol, atol=tol)
    assert_array_equal(St[n_classes:], -1)  # the empty slot is not stored
    assert_array_equal(St[:, n_rows:], -1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grouped_scores_of_a_row_do_not_depend_on_its_tile(dtype):
    # Partial sums fold in the same order in a tile of GROUPED_ROWS rows and
    # for a row left over after the tiles: the same bits.
    n_rows = 2 * GROUPED_ROWS + 3
    X, _, St, _, _ = _setup(dtype, 3, 45, n_rows)
    Wg = grouped_coef(np.random.default_rng(3).standard_normal((3, 45)), dtype)
    block_grouped_scores(X, B0, n_rows, Wg, St, 3)
    for i in range(n_rows):
        alone = np.zeros_like(St)
        block_grouped_scores(X, B0 + i, 1, Wg, alone, 3)
        assert_array_equal(alone[:3, 0], St[:3, i])


def test_grouped_tiles_refuse_other_shapes():
    with pytest.raises(ValueError, match="slots"):
        make_grouped_tile(8, 3)
    with pytest.raises(ValueError, match="power of two"):
        make_grouped_tile(6, 4)


def test_grouped_score_tiles_rule():
    if REGISTER_UNITS == 1:
        assert not any(grouped_score_tiles(20, k, 4) for k in range(1, 6))
        return
    # float32: 2 to 4 classes, where the features-in-lanes tiles are not chosen.
    assert all(grouped_score_tiles(20, k, 4) for k in (2, 3, 4))
    assert not grouped_score_tiles(20, 1, 4) and not grouped_score_tiles(20, 5, 4)
    assert grouped_score_tiles(63, 3, 4) and not grouped_score_tiles(64, 3, 4)
    assert grouped_score_tiles(159, 4, 4) and not grouped_score_tiles(160, 4, 4)
    # float64: never.
    assert not any(grouped_score_tiles(20, k, 8) for k in range(1, 6))
    layout = KernelLayout(20, 3, 4)
    assert layout.products == GROUPED
    assert layout.coef_array(np.ones((3, 20)), np.float32).shape == grouped_coef_shape(20, 3, 4)
    assert KernelLayout(20, 3, 4, prediction=True).products == GROUPED


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [2, 3, 5, 10])
def test_whole_kernels_on_either_register_tile(dtype, n_classes):
    # The rules pick one tile per shape; force each here, so all stay
    # tested whatever the rules pick. 20,000 rows of 45 features: every range
    # has full row blocks and a partial one.
    n, d = 20_000, 45
    rng = np.random.default_rng(4)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, n_classes, n)
    coef = 0.3 * rng.standard_normal((n_classes, d))
    intercept = rng.standard_normal(n_classes).astype(dtype)
    loss, g_coef, g_icpt = ref.loss_gradient(coef, intercept, X, y)
    Z = X.astype(np.float64) @ coef.T + intercept
    tol = 2e-5 if dtype == np.float32 else 1e-12
    layout = KernelLayout(d, n_classes, X.itemsize, use_blas=False)
    rb, tile = layout.row_block, layout.class_tile
    no_soft, no_weight = np.zeros((0, n_classes), dtype), np.zeros(0, dtype)
    totals = label_weight_totals(y, no_weight, n_classes, 0.0, N_ROW_RANGES)
    labels = {}
    tiles = [(PANELS, transposed_coef(coef, dtype)), (DOT, dot_coef(coef, dtype))]
    if n_classes <= GROUPED_MAX_CLASSES:
        tiles.append((GROUPED, grouped_coef(coef, dtype)))
    for products, Wt in tiles:
        grad = np.zeros((N_ROW_RANGES, layout.grad_classes, d))
        icpt = np.zeros((N_ROW_RANGES, n_classes))
        with kernel_threads(2):
            partials = dense_loss_gradient(
                X, y, no_soft, 0.0, no_weight, Wt, intercept, n_classes, rb, tile, products,
                totals, grad, icpt,
            )
            loss_only = dense_loss(
                X, y, no_soft, 0.0, no_weight, Wt, intercept, n_classes, rb, products
            )
            proba = np.empty((n, n_classes), dtype)
            assert dense_rows(X, Wt, intercept, n_classes, rb, products, PROBABILITIES, proba) == 0
            labels[products] = np.empty(n, np.int64)
            assert dense_predict(X, Wt, intercept, n_classes, rb, products, labels[products]) == 0
        assert partials.sum() / n == pytest.approx(loss, rel=tol)
        assert loss_only.sum() == pytest.approx(partials.sum(), rel=tol)
        assert_allclose(grad.sum(axis=0)[:n_classes] / n, g_coef, rtol=tol, atol=tol)
        assert_allclose(icpt.sum(axis=0) / n, g_icpt, rtol=tol, atol=tol)
        assert_allclose(proba, ref.softmax(Z), rtol=tol, atol=tol)
    for products, _ in tiles[1:]:
        agree = np.mean(labels[PANELS] == labels[products])
        assert agree == 1.0 if dtype == np.float64 else agree > 0.999
    assert np.mean(labels[PANELS] == np.argmax(Z, axis=1)) > 0.999


def _targets(kind, n_classes, n_rows, dtype):
    rng = np.random.default_rng(2)
    y = rng.integers(0, n_classes, B0 + n_rows)
    soft = np.empty((0, n_classes), dtype)
    smoothing = 0.0
    if kind == "soft":
        soft = rng.dirichlet(np.ones(n_classes), B0 + n_rows).astype(dtype)
        soft[B0, 0] = 0  # a zero target, renormalised below
        soft /= soft.sum(axis=1, keepdims=True)
        T = soft[B0:].astype(np.float64)
    else:
        if kind == "smoothed":
            smoothing = 0.2
        T = np.eye(n_classes)[y[B0:]] * (1 - smoothing) + smoothing / n_classes
    return y, soft, smoothing, T


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# 4 and 5 sit on either side of SELECT_MAX_CLASSES (how the label's part of
# the gradient factors is written).
@pytest.mark.parametrize("n_classes", [2, 3, 4, 5, 10, 33])
@pytest.mark.parametrize("kind", ["hard", "smoothed", "soft"])
@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_loss_and_gradient_factors(dtype, n_classes, kind, weighted):
    n_rows = 13
    X, Wt, St, intercept, Z = _setup(dtype, n_classes, 5, n_rows)
    Z = Z + intercept.astype(np.float64)
    y, soft, smoothing, T = _targets(kind, n_classes, n_rows, dtype)
    rng = np.random.default_rng(3)
    sw = rng.uniform(0, 2, B0 + n_rows).astype(dtype) if weighted else np.empty(0, dtype)
    s = sw[B0:].astype(np.float64) if weighted else np.ones(n_rows)
    block_scores(X, B0, n_rows, Wt, St, n_classes)
    buffers = np.empty((4, St.shape[1]), dtype)
    icpt = np.full(n_classes, 0.5)
    loss = block_softmax_loss(
        St, n_rows, n_classes, intercept, B0, y, soft, smoothing, sw, buffers, True, icpt
    )
    P = ref.softmax(Z)
    log_p = ref.log_softmax(Z)
    expected_loss = -np.sum(s[:, None] * T * log_p)
    factors = s[:, None] * (P * T.sum(axis=1, keepdims=True) - T)
    tol = TOL[dtype]
    assert loss == pytest.approx(expected_loss, rel=10 * tol)
    assert_allclose(St[:n_classes, :n_rows], factors.T, rtol=10 * tol, atol=tol)
    expected_icpt = 0.5 + factors.sum(axis=0)
    if kind != "soft":
        # The label's part of a hard target is left to the caller.
        expected_icpt += (1 - smoothing) * np.bincount(y[B0:], weights=s, minlength=n_classes)
    assert_allclose(icpt, expected_icpt, rtol=10 * tol, atol=10 * tol)
    # The loss-only variant returns the same loss and leaves icpt alone.
    block_scores(X, B0, n_rows, Wt, St, n_classes)
    again = block_softmax_loss(
        St, n_rows, n_classes, intercept, B0, y, soft, smoothing, sw, buffers, False, icpt[:0]
    )
    assert again == loss


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# 3 and 4 sit on either side of ONE_PASS_MAX_CLASSES (one pass over the rows
# or one per step).
@pytest.mark.parametrize("n_classes", [2, 3, 4])
@pytest.mark.parametrize("with_intercept", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_loss_of_extreme_scores(dtype, n_classes, with_intercept, weighted):
    """Equal scores, scores so far apart that exponentials flush to 0, -inf
    for classes other than the label and a large common offset, over a
    row count that leaves a partial vector, with and without an intercept."""
    assert ONE_PASS_MAX_CLASSES == 3
    n_rows = 37
    rng = np.random.default_rng(4)
    y = rng.integers(0, n_classes, B0 + n_rows)
    Z = rng.standard_normal((n_rows, n_classes)) * 3
    Z[0] = 1.5
    Z[1, 0], Z[1, 1:] = 300.0, -300.0
    y[B0 + 1] = 1  # the label's probability underflows; its loss is 600
    y[B0 + 2] = 0
    Z[2, 1:] = -np.inf
    Z[3] += 1e4
    Z = Z.astype(dtype)
    intercept = (rng.standard_normal(n_classes) if with_intercept else np.empty(0)).astype(dtype)
    sw = rng.uniform(0, 2, B0 + n_rows).astype(dtype) if weighted else np.empty(0, dtype)
    s = sw[B0:].astype(np.float64) if weighted else np.ones(n_rows)
    St = np.zeros((8, n_rows + 4), dtype)
    St[:n_classes, :n_rows] = Z.T
    buffers = np.empty((4, St.shape[1]), dtype)
    icpt = np.zeros(n_classes)
    loss = block_softmax_loss(
        St.copy(), n_rows, n_classes, intercept, B0, y, np.empty((0, n_classes), dtype), 0.0,
        sw, buffers, False, icpt[:0],
    )
    gradient_loss = block_softmax_loss(
        St, n_rows, n_classes, intercept, B0, y, np.empty((0, n_classes), dtype), 0.0,
        sw, buffers, True, icpt,
    )
    Zr = Z.astype(np.float64) + (intercept.astype(np.float64) if with_intercept else 0)
    labels = y[B0:]
    P = ref.softmax(Zr)
    expected_loss = -np.sum(s * ref.log_softmax(Zr)[np.arange(n_rows), labels])
    factors = s[:, None] * (P - np.eye(n_classes)[labels])
    tol = TOL[dtype]
    assert np.isfinite(loss) and gradient_loss == loss
    assert loss == pytest.approx(expected_loss, rel=10 * tol)
    assert_allclose(St[:n_classes, :n_rows], factors.T, rtol=10 * tol, atol=tol)
    # The label's part of each row is left to the caller (label_weight_totals).
    expected_icpt = factors.sum(axis=0) + np.bincount(labels, weights=s, minlength=n_classes)
    assert_allclose(icpt, expected_icpt, rtol=10 * tol, atol=10 * tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize(
    "n_rows", [LOG_PRODUCT_ROWS - 1, LOG_PRODUCT_ROWS, LOG_PRODUCT_ROWS + 1, 4 * LOG_PRODUCT_ROWS]
)
def test_one_pass_loss_over_groups_of_rows(dtype, n_classes, n_rows):
    """Without weights, the one-pass loss of two or three classes takes one
    logarithm per ``LOG_PRODUCT_ROWS`` rows, of the product of their sums of
    exponentials. The largest product (every score of a row equal, so that
    each sum is ``n_classes``) stays finite; whole and partial groups add up
    to the NumPy loss; a NaN score makes the loss NaN."""
    assert n_classes ** LOG_PRODUCT_ROWS < np.finfo(np.float64).max
    rng = np.random.default_rng(5)
    y = rng.integers(0, n_classes, n_rows)
    Z = rng.standard_normal((n_rows, n_classes)) * 3
    Z[: LOG_PRODUCT_ROWS - 1] = 0.75  # the first group's sums all at their largest
    Z = Z.astype(dtype)
    St = np.zeros((n_classes, n_rows + 3), dtype)
    St[:, :n_rows] = Z.T
    buffers = np.empty((4, St.shape[1]), dtype)
    no_soft, no_weight = np.empty((0, n_classes), dtype), np.empty(0, dtype)
    icpt = np.zeros(n_classes)
    loss = block_softmax_loss(
        St, n_rows, n_classes, np.empty(0, dtype), 0, y, no_soft, 0.0, no_weight, buffers,
        True, icpt,
    )
    Zr = Z.astype(np.float64)
    expected_loss = -np.sum(ref.log_softmax(Zr)[np.arange(n_rows), y])
    assert loss == pytest.approx(expected_loss, rel=TOL[dtype])
    factors = ref.softmax(Zr) - np.eye(n_classes)[y]
    assert_allclose(St[:, :n_rows], factors.T, rtol=10 * TOL[dtype], atol=TOL[dtype])

    St[:, :n_rows] = Z.T
    St[1, n_rows - 1] = np.nan
    loss = block_softmax_loss(
        St, n_rows, n_classes, np.empty(0, dtype), 0, y, no_soft, 0.0, no_weight, buffers,
        False, icpt[:0],
    )
    assert np.isnan(loss)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [2, 3, 10, 16, 17, 33])
@pytest.mark.parametrize("n_rows", [5, 13, 24])
def test_prediction_blocks(dtype, n_classes, n_rows):
    # Up to WRITE_MAX_CLASSES classes, whole groups of WRITE_ROWS rows cross
    # into the output by in-register transposes, the rest one by one.
    X, Wt, St, intercept, Z = _setup(dtype, n_classes, 6, n_rows)
    Z = Z + intercept.astype(np.float64)
    buffers = np.empty((2, St.shape[1]), dtype)
    tol = TOL[dtype]

    out = np.empty((n_rows, n_classes), dtype)
    block_scores(X, B0, n_rows, Wt, St, n_classes)
    shifts = class_shifts(intercept, n_classes)
    assert_array_equal(shifts[:n_classes], intercept)
    assert shifts.shape[0] >= n_classes and not shifts[n_classes:].any()
    assert block_write_scores(St, n_rows, n_classes, shifts, out)
    assert_allclose(out, Z, rtol=tol, atol=tol)
    # The same sums as NumPy's of the class-major scores in X's dtype.
    assert_array_equal(out, (St[:n_classes, :n_rows] + intercept[:, None]).T)
    without = np.empty_like(out)
    assert block_write_scores(St, n_rows, n_classes, class_shifts(intercept[:0], n_classes), without)
    assert_array_equal(without, St[:n_classes, :n_rows].T)
    St[n_classes - 1, n_rows - 1] = np.inf
    assert not block_write_scores(St, n_rows, n_classes, shifts, without)
    block_scores(X, B0, n_rows, Wt, St, n_classes)

    block_probabilities(St, n_rows, n_classes, intercept, buffers, out)
    assert_allclose(out, ref.softmax(Z), rtol=10 * tol, atol=tol)

    labels = np.empty(n_rows, np.int64)
    block_scores(X, B0, n_rows, Wt, St, n_classes)
    block_argmax(St, n_rows, n_classes, intercept, buffers, labels)
    assert_array_equal(labels, np.argmax(out, axis=1))


def test_label_weight_totals_per_range():
    y = np.array([0, 2, 2, 1, 0, 2, 1])
    w = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])
    totals = label_weight_totals(y, w, 3, 0.25, 2)
    # Ranges [0, 3) and [3, 7).
    assert_allclose(totals, 0.75 * np.array([[1.0, 0.0, 5.0], [5.0, 11.0, 6.0]]))
    unweighted = label_weight_totals(y, np.empty(0), 3, 0.0, 2)
    assert_allclose(unweighted, [[1, 0, 2], [1, 2, 1]])


def test_label_weight_totals_match_bincount_per_range():
    from fastsoftmax.kernels._partition import range_bounds

    rng = np.random.default_rng(3)
    n, K, n_ranges = 10_007, 7, 32
    y = rng.integers(0, K, n)
    for weights in (rng.random(n), rng.random(n).astype(np.float32)):
        totals = label_weight_totals(y, weights, K, 0.1, n_ranges)
        for r in range(n_ranges):
            start, stop = range_bounds(n, n_ranges, r)
            expected = (1 - 0.1) * np.bincount(
                y[start:stop], weights=weights[start:stop].astype(np.float64), minlength=K
            )
            # Both sum in row order in float64: the same bits.
            assert_array_equal(totals[r], expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("class_tile", GRADIENT_CLASS_TILES)
# Feature counts that reach every kind of tile in both precisions: full
# panels, the masked last one, two or three registers (28: two in float64;
# 64: full panels in float32 for the class tiles that take the last panel
# into three registers).
@pytest.mark.parametrize("n_features", [5, 16, 19, 28, 37, 64])
def test_every_gradient_class_tile_matches_numpy(dtype, class_tile, n_features):
    # The class counts of the other tests choose only some tiles; here each
    # tile runs over several tiles' worth of classes with zero padding rows.
    n_classes, n_rows = 2 * class_tile + 1, 13
    kg = -(-n_classes // class_tile) * class_tile
    rng = np.random.default_rng(3)
    X = rng.standard_normal((B0 + n_rows + 2, n_features)).astype(dtype)
    St = np.zeros((kg, n_rows + 4), dtype=dtype)
    St[:n_classes, :n_rows] = rng.standard_normal((n_classes, n_rows))
    G = np.ones((kg, n_features))
    block_gradient(St, X, B0, n_rows, class_tile, G, 2)
    expected = 1 + St[:n_classes, :n_rows].astype(np.float64) @ X[B0 : B0 + n_rows].astype(np.float64)
    assert_allclose(G[:n_classes], expected, rtol=TOL[dtype], atol=TOL[dtype])
    assert_array_equal(G[n_classes:], 1)


def test_gradient_class_tile_pads_least():
    # Ten classes fill one tile where the host has registers for it (AVX-512).
    assert gradient_class_tile(10) == (10 if 10 in GRADIENT_CLASS_TILES else 5)
    assert gradient_class_tile(3) == 3
    assert gradient_class_tile(16) == 8
    for n_classes in range(2, 200):
        tile, padded = gradient_class_tile(n_classes), gradient_padding(n_classes)
        assert padded % tile == 0
        # A tile of 2 always pads by at most one class; the choice is never worse.
        assert n_classes <= padded <= n_classes + 1
