"""One block of rows: scores, softmax and gradient while the block is in cache.

A block is ``n_rows`` consecutive rows of dense, C-ordered X, small enough
(``ROW_BLOCK_BYTES``) to still be in L2 cache when the gradient reads it a
second time. Its scores live in a class-major buffer ``St`` of shape
(n_buffer_classes, max_rows): ``St[k, i]`` is the score of class ``k`` for
row ``b0 + i``. Class-major, because the softmax then runs along rows: every
loop below walks a contiguous row of ``St`` for one class, which LLVM
vectorises whatever the number of classes (3 or 1000), exponentials included
(:mod:`fastsoftmax.kernels.elementary`).

1. :func:`block_scores`: ``St[:kp, :n] = (X[b0:b0+n] @ Wt).T`` with the
   register tiles of :mod:`fastsoftmax.kernels.simd`: ``SCORE_ROWS`` rows of
   X broadcast against a panel of up to two registers of classes (three
   where :func:`wide_score_panels` says so). ``Wt`` is
   the transposed coefficient matrix, its class axis padded with zero columns
   to ``kp``, a whole number of 32-byte units (:func:`score_padding`), so the
   padded classes score exactly 0. In float64 with 2 to 6 and 9 to 11
   classes the rows go in the lanes instead (:func:`row_lane_score_tiles`).
2. :func:`block_softmax_loss` adds the intercept and turns the scores into
   the rows' weighted losses and, if asked, into gradient factors
   ``s_i * (softmax(z_i) - t_i)`` in place, for hard labels, smoothed labels
   or soft targets ``t_i``; for hard labels and up to
   ``ONE_PASS_MAX_CLASSES`` classes in one pass over the rows, a row's
   scores in registers throughout. :func:`block_probabilities` and
   :func:`block_argmax` are its prediction counterparts.
3. :func:`block_gradient`: ``G[:kg] += St[:kg, :n] @ X[b0:b0+n]`` with tiles
   of ``class_tile`` classes times two registers of features, the last panel
   masked so that nothing beyond the end of X is read. Rows of ``St`` from
   ``n_classes`` to ``kg`` are zero, so padded classes add nothing.

Arithmetic is in X's dtype; the gradient tiles add float32 block results into
float64 partials, and losses are summed in float64.
"""

import numpy as np
from numba import njit, prange

from ._config import JIT_OPTIONS
from ._partition import range_bounds
from ._precision import for_precision
from .elementary import exp_flush_tiny, fast_exp, log_at_least_one
from .simd import (
    REGISTER_UNITS, UNIT_BYTES, DotSpan, GroupSpan, RowLaneSpan, RowSpan, TileSpan, grouped_slots,
    make_dot_tile, make_grouped_tile, make_row_lane_tile, make_row_writer, make_tile,
    use_full_vector_width,
)

#: Rows of X per score tile (scalars broadcast against a panel of classes).
#: A tile keeps ``rows x 2`` accumulator registers live. With AVX-512's 32
#: registers, 8 rows load fewer vectors of ``Wt`` per multiply-add than 6;
#: measured on 2 cores, score tiles in cache went from 59-64% to 70% of the
#: GEMM rate per core (float64, K=10 and K=1000) and one evaluation at
#: 200,000 x 784, K=10 from 81 to 75 ms (float64) and 50 to 44 ms (float32);
#: 12 rows spilled registers and were slower. With 16 registers (AVX2), 6.
SCORE_ROWS = 8 if REGISTER_UNITS == 2 else 6
#: Rows of the float32 score tiles whose last 1 or 2 classes are packed
#: several rows to a vector (see ``simd.make_tile(packed_tail=...)``); a
#: multiple of the rows per packed vector (8 lanes / 1 or 2).
PACKED_ROWS = 8
#: How far ahead of a score tile its rows of X are prefetched, in bytes. The
#: tiles read several rows side by side, a pattern the hardware prefetcher
#: follows poorly: without this, the first pass over a block waits for memory
#: instead of overlapping with the arithmetic (measured: 28 ms -> 17 ms for
#: the scores of 320,000 x 100 float64 rows on one core).
PREFETCH_BYTES = 16384
_LINE = 64  # bytes of a cache line
#: Classes per gradient tile that a problem may use (see :func:`gradient_class_tile`).
#: A tile of ``t`` classes keeps ``2 t`` accumulator registers, two of X and a
#: broadcast live. With AVX-512 there are 32 vector registers, so tiles of 10
#: and 12 classes fit: ten classes then read each block of X from L2 once in
#: the gradient instead of twice (two tiles of 5). Measured on 2 cores
#: (one evaluation, bit-identical gradient): 1,000,000 x 100, K=10, 70 -> 58 ms
#: in float64 and 40 -> 33 ms in float32; 100,000 x 300, K=100, 115 -> 103 ms.
#: With 16 registers (AVX2) such tiles would spill, so the set stops at 8.
GRADIENT_CLASS_TILES = (2, 3, 4, 5, 6, 8) + ((10, 12) if REGISTER_UNITS == 2 else ())

_U = REGISTER_UNITS
_PANEL_UNITS = 2 * _U  # a panel is two registers wide
#: Units of a wide score panel: three AVX-512 registers (8 rows x 3 = 24
#: accumulators of 32). With 16 registers (AVX2) a third register would
#: spill, so there panels stay narrow.
_WIDE_PANEL_UNITS = 3 * _U if _U == 2 else _PANEL_UNITS
#: Bytes of L1 a narrow panel's working set (its columns of ``Wt`` and the
#: ``SCORE_ROWS`` rows of X, over all features) may take before wide panels
#: are considered (see :func:`wide_score_panels`): 40 KiB of the 48 KiB L1
#: of the machine measured, the rest left to the score stores and the rows
#: prefetched ahead.
WIDE_PANEL_L1_BYTES = 40 * 1024


@njit(cache=True, **JIT_OPTIONS)
def wide_score_panels(n_features, n_classes, itemsize):
    """Whether :func:`block_scores` runs its class panels three registers wide.

    A wide panel broadcasts each scalar of X against more classes per load,
    and a block of X is read once per panel: it pays when a narrow panel's
    working set no longer fits in L1 (it then comes from L2 either way) and
    the wide panels make fewer passes over the block than the narrow ones.
    Wide panels are only used full of real classes (a panel of 5 units, 2.5
    registers, was slower everywhere); the classes after them take narrow
    panels. Measured in interleaved runs on 2 cores, medians of 24
    evaluations each (``benchmarks/profile_phases.py`` shapes): score phase
    at 100,000 x 300, K=100, 95.7 -> 80.1 ms (float64) and 51.5 -> 44.9 ms
    (float32); 50,000 x 784, K=64, float64, 74.5 -> 66.9 ms. Where the
    number of passes stays the same (K=64 in float32: 4 + 4 units against
    6 + 2) or the narrow panel fits in L1 (d=256 in float32), the wide one
    was level or slower.

    Parameters
    ----------
    n_features, n_classes, itemsize : int

    Returns
    -------
    bool
    """
    if _WIDE_PANEL_UNITS == _PANEL_UNITS:
        return False
    unit = UNIT_BYTES // itemsize
    narrow_bytes = n_features * (_PANEL_UNITS * UNIT_BYTES + SCORE_ROWS * itemsize)
    if narrow_bytes <= WIDE_PANEL_L1_BYTES:
        return False
    units = -(-n_classes // unit)
    n_wide = n_classes // (_WIDE_PANEL_UNITS * unit)
    narrow_passes = -(-units // _PANEL_UNITS)
    wide_passes = n_wide + -(-(units - n_wide * _WIDE_PANEL_UNITS) // _PANEL_UNITS)
    return wide_passes < narrow_passes


def _split_units(n_units):
    """Vectors (in units) that make up ``n_units``: whole registers, then the rest."""
    return (_U,) * (n_units // _U) + ((n_units % _U,) if n_units % _U else ())


def score_padding(n_classes, itemsize):
    """Classes of ``Wt`` and of the score panels: ``n_classes`` rounded up to
    a whole number of 32-byte units (4 float64 or 8 float32 lanes)."""
    lanes = UNIT_BYTES // itemsize
    return -(-n_classes // lanes) * lanes


def gradient_class_tile(n_classes):
    """Classes per gradient tile: the entry of ``GRADIENT_CLASS_TILES`` that
    pads ``n_classes`` least (the largest on ties: fewer passes over X)."""
    return min(GRADIENT_CLASS_TILES, key=lambda t: (-(-n_classes // t) * t, -t))


def gradient_padding(n_classes):
    """Rows of the gradient partials: ``n_classes`` rounded up to the class tile."""
    tile = gradient_class_tile(n_classes)
    return -(-n_classes // tile) * tile


# -- score tiles: SCORE_ROWS rows (or 1) x a panel of 1 .. 4 units, or wide ------
_S1 = make_tile(SCORE_ROWS, _split_units(1), "transposed")
_S2 = make_tile(SCORE_ROWS, _split_units(2), "transposed")
_S3 = make_tile(SCORE_ROWS, _split_units(3), "transposed")
_S4 = make_tile(SCORE_ROWS, _split_units(4), "transposed")
_S_WIDE = make_tile(SCORE_ROWS, _split_units(_WIDE_PANEL_UNITS), "transposed")
_S1_ROW = make_tile(1, _split_units(1), "transposed")
_S2_ROW = make_tile(1, _split_units(2), "transposed")
_S3_ROW = make_tile(1, _split_units(3), "transposed")
_S4_ROW = make_tile(1, _split_units(4), "transposed")
_S_WIDE_ROW = make_tile(1, _split_units(_WIDE_PANEL_UNITS), "transposed")


# float32 panels of ``a`` units plus 1 or 2 packed classes (K = 10 is one
# unit and 2 packed classes: 10 lanes of work where 16 would otherwise be
# done). Measured on one core, K=10, d=100: 87 GFLOP/s of useful work packed
# against 67 padded. In float64 the blends cost more than they save (38
# against 42), so float64 pads.
_P01 = make_tile(PACKED_ROWS, (), "transposed", packed_tail=1)
_P02 = make_tile(PACKED_ROWS, (), "transposed", packed_tail=2)
_P11 = make_tile(PACKED_ROWS, _split_units(1), "transposed", packed_tail=1)
_P12 = make_tile(PACKED_ROWS, _split_units(1), "transposed", packed_tail=2)
_P21 = make_tile(PACKED_ROWS, _split_units(2), "transposed", packed_tail=1)
_P22 = make_tile(PACKED_ROWS, _split_units(2), "transposed", packed_tail=2)
_P31 = make_tile(PACKED_ROWS, _split_units(3), "transposed", packed_tail=1)
_P32 = make_tile(PACKED_ROWS, _split_units(3), "transposed", packed_tail=2)


@njit(cache=True, **JIT_OPTIONS)
def _packed_tiles(units, tail, X, Wt, St, span):
    """A column of ``PACKED_ROWS``-row tiles: ``units`` units and ``tail`` packed classes."""
    if units == 0:
        if tail == 1:
            _P01(X, Wt, St, X, span)
        else:
            _P02(X, Wt, St, X, span)
    elif units == 1:
        if tail == 1:
            _P11(X, Wt, St, X, span)
        else:
            _P12(X, Wt, St, X, span)
    elif units == 2:
        if tail == 1:
            _P21(X, Wt, St, X, span)
        else:
            _P22(X, Wt, St, X, span)
    else:
        if tail == 1:
            _P31(X, Wt, St, X, span)
        else:
            _P32(X, Wt, St, X, span)


#: The packed tiles serve float32 only (``block_scores``).
_float32_packed_tiles = for_precision(4, _packed_tiles, array_arg=2)


@njit(cache=True, **JIT_OPTIONS)
def _score_tiles(units, many, X, Wt, St, span):
    """A column of score tiles of ``units`` units: ``SCORE_ROWS`` rows each
    (``many``) or one row each."""
    if many:
        if units == 1:
            _S1(X, Wt, St, X, span)
        elif units == 2:
            _S2(X, Wt, St, X, span)
        elif units == 3:
            _S3(X, Wt, St, X, span)
        elif units == 4:
            _S4(X, Wt, St, X, span)
        else:
            _S_WIDE(X, Wt, St, X, span)
    else:
        if units == 1:
            _S1_ROW(X, Wt, St, X, span)
        elif units == 2:
            _S2_ROW(X, Wt, St, X, span)
        elif units == 3:
            _S3_ROW(X, Wt, St, X, span)
        elif units == 4:
            _S4_ROW(X, Wt, St, X, span)
        else:
            _S_WIDE_ROW(X, Wt, St, X, span)


# -- rows-in-lanes score tiles, for a few classes in float64 --------------------
#: Numbers of classes with rows-in-lanes score tiles (``simd.make_row_lane_tile``).
ROW_LANE_CLASSES = (2, 3, 4, 5, 6, 9, 10, 11)
#: Rows (and features) per rows-in-lanes tile: one register of float64.
ROW_LANE_ROWS = REGISTER_UNITS * UNIT_BYTES // 8


@njit(cache=True, **JIT_OPTIONS)
def row_lane_score_tiles(n_classes, itemsize):
    """Whether :func:`block_scores` takes rows-in-lanes tiles rather than
    class panels: float64, a number of classes in ``ROW_LANE_CLASSES``, AVX-512.

    Class panels fill 3 of 8 float64 lanes at K=3 and broadcast every entry of
    X; with the rows in the lanes every lane is useful, for ``log2 8 = 3``
    shuffles per 8 entries of X. Score products of one block of 512 rows in
    cache, one thread, ns per row, class panels -> rows in lanes, three
    alternating rounds (AMD Zen 4; docs/performance.md): at d=20, K=2 4.9 to
    5.1 -> 3.1 to 3.3, K=3 4.9 to 5.5 -> 3.7, K=4 5.3 to 6.5 -> 3.9 to 4.1, K=6
    6.2 to 6.9 -> 5.2 to 5.7; K=3 12.6 to 13.4 -> 8.4 to 10.0 at d=50 and 25.5
    to 25.9 -> 16.3 to 16.5 at d=100; K=6 220 -> 192 to 197 at d=784 (a block
    of 3 MB). Eight classes, which fill the panels, were behind in a first
    version (6.71 against 6.34 ns per row at d=20) and stay on them. Where
    :func:`dot_score_tiles` chooses the features-in-lanes tiles (d >= 200),
    :func:`block_scores` is not called; those were also ahead of these in cache
    from d=100 on (K=3, d=200: 29.1 against 39.3 ns per row), but whole
    evaluations with X from memory (float64, 2 threads, best of 5 in three
    rounds) were level or ahead here: K=3, d=200 loss+gradient 22.5 against
    22.6 ms, loss 18.0 against 19.5 ms at 500,000 rows; K=5, d=784, loss 29.4
    against 35.0 ms and loss+gradient 43.3 against 41.4 ms at 200,000 rows.
    Their rule (d >= 200) stays as it was set against the panels. float32 keeps
    its tiles: these were mixed against the classes-and-features tiles at d=20
    (K=2 2.32 against 2.06, K=3 2.59 against 2.99, K=4 3.11 against 2.84 ns per
    row) and at K=3, d=50 (6.31 against 5.88), and against the class panels at
    K=5 and 6 level at d=20 (3.98 against 3.85, 4.30 against 4.63) and 10% to
    16% ahead at d=100 and 300.

    From 9 to 11 classes, the class panels are three units wide (12 float64
    lanes) with 1 to 3 of them idle, and the rows in the lanes win again.
    Score products of one block in cache, one thread, useful GFLOP/s, class
    panels -> rows in lanes, two alternating rounds (AMD Zen 4, 2026-12-07,
    docs/performance.md): d=100, K=9 36.6 and 37.7 -> 45.3 and 47.6; K=10
    40.6 and 42.0 -> 48.4 and 46.2; K=11 44.5 and 46.3 -> 49.9 and 49.5;
    K=10 at d=300 41.7 and 42.9 -> 49.6 and 52.6, at d=784 41.4 and 43.0
    -> 48.2 and 51.6. Where the panels fill their lanes or nearly, they stay:
    K=12 was level (47.7 and 50.1 against 50.8 and 49.5), and K=7 (7 of 8
    lanes) and K=8 lost by 13% and 17%.
    """
    if REGISTER_UNITS != 2 or itemsize != 8:
        return False
    for classes in ROW_LANE_CLASSES:
        if n_classes == classes:
            return True
    return False


_L2, _L3, _L4, _L5, _L6, _L9, _L10, _L11 = (make_row_lane_tile(c) for c in ROW_LANE_CLASSES)


@njit(cache=True, **JIT_OPTIONS)
def _row_lane_scores(X, b0, n_rows, Wt, St, n_classes):
    """:func:`block_scores` by rows-in-lanes tiles (``row_lane_score_tiles``),
    for the first ``n_rows`` rounded down to whole tiles."""
    d = X.shape[1]
    span = RowLaneSpan(
        b0 * d, d,
        0, Wt.shape[1],
        0, St.shape[1],
        d // ROW_LANE_ROWS, d % ROW_LANE_ROWS, n_rows,
        PREFETCH_BYTES // X.itemsize,
    )
    if n_classes == 2:
        _L2(X, Wt, St, span)
    elif n_classes == 3:
        _L3(X, Wt, St, span)
    elif n_classes == 4:
        _L4(X, Wt, St, span)
    elif n_classes == 5:
        _L5(X, Wt, St, span)
    elif n_classes == 6:
        _L6(X, Wt, St, span)
    elif n_classes == 9:
        _L9(X, Wt, St, span)
    elif n_classes == 10:
        _L10(X, Wt, St, span)
    else:
        _L11(X, Wt, St, span)


#: The rows-in-lanes tiles serve float64 only (``row_lane_score_tiles``).
_float64_row_lane_scores = for_precision(8, _row_lane_scores)


# The block functions that the dense kernels call (this one, the other score
# products, the softmax and the gradient) are inlined by Numba into their
# callers. Compiled as functions of their own, each had LLVM optimise and
# compile again everything it calls, tiles included, before the range
# kernels did it once more (docs/performance.md, "Each row range compiled
# once"). Tests and benchmarks still call them from Python.
@njit(inline="always", cache=True, **JIT_OPTIONS)
def block_scores(X, b0, n_rows, Wt, St, n_classes):
    """``St[k, i] = X[b0 + i] @ Wt[:, k]`` for ``i < n_rows``, ``k < n_classes``.

    Rows of ``St`` from ``n_classes`` on are left as they are.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C order
    b0, n_rows : int
        First row of the block and its number of rows.
    Wt : ndarray of shape (n_features, kp), C order, dtype of X
        Transposed coefficients, zero beyond the real classes; ``kp`` as
        returned by :func:`score_padding`.
    St : ndarray of shape (>= n_classes, >= n_rows), C order, dtype of X
        Receives the class-major scores (without intercept).
    n_classes : int
    """
    first = 0  # of the rows the class panels score
    if row_lane_score_tiles(n_classes, X.itemsize):
        _float64_row_lane_scores(X, b0, n_rows, Wt, St, n_classes)
        # Those tiles take whole groups of ROW_LANE_ROWS rows; the panels
        # score the few after them, with the same bits (one multiply-add per
        # feature, in order, for both).
        first = n_rows - n_rows % ROW_LANE_ROWS
        if first == n_rows:
            return
    d = X.shape[1]
    kp = Wt.shape[1]
    ld = St.shape[1]
    unit = UNIT_BYTES // X.itemsize
    ahead = PREFETCH_BYTES // X.itemsize
    wide = wide_score_panels(d, n_classes, X.itemsize)
    k0 = 0
    while k0 < n_classes:
        units = min(_PANEL_UNITS, (kp - k0) // unit)
        left = n_classes - k0
        if wide and left >= _WIDE_PANEL_UNITS * unit:
            units = _WIDE_PANEL_UNITS
        tail = 0
        if X.itemsize == 4 and left < units * unit and left % unit <= 2:
            units, tail = left // unit, left % unit
        n_valid = min(units * unit + tail, left)
        rows_per_tile = PACKED_ROWS if tail else SCORE_ROWS
        n_tiles = (n_rows - first) // rows_per_tile
        full = first + n_tiles * rows_per_tile
        # Class panel outside, rows inside: the panel of Wt stays in cache.
        # X comes from memory during the first panel only.
        span = TileSpan(
            (b0 + first) * d, d, 1, rows_per_tile * d,
            k0, kp, 0,
            k0 * ld + first, 1, ld, rows_per_tile,
            d, n_tiles, n_valid,
            (b0 + first) * d + ahead, rows_per_tile * d,
            -(-rows_per_tile * d * X.itemsize // _LINE) if k0 == 0 else 0,
        )
        if tail:
            _float32_packed_tiles(units, tail, X, Wt, St, span)
        else:
            _score_tiles(units, True, X, Wt, St, span)
        if full < n_rows:
            # The rows left over, one at a time, padded to whole units.
            span = TileSpan(
                (b0 + full) * d, d, 1, d,
                k0, kp, 0,
                k0 * ld + full, 1, ld, 1,
                d, n_rows - full, n_valid,
                0, 0, 0,
            )
            _score_tiles(units + (1 if tail else 0), False, X, Wt, St, span)
        k0 += units * unit + tail


# -- features-in-lanes score tiles, for few classes ----------------------------
#: Rows of X per features-in-lanes score tile (see ``simd.make_dot_tile``).
DOT_ROWS = 4
#: Most classes per features-in-lanes tile: 4 rows x 6 classes keep 24 of
#: the 32 AVX-512 registers as accumulators. More classes take several
#: tiles of balanced sizes (10 classes: 5 + 5).
DOT_MAX_CLASSES = 6
#: Most classes for which :func:`dot_score_tiles` may choose these tiles.
DOT_MAX_TOTAL_CLASSES = 10
#: Fewest features for which :func:`dot_score_tiles` chooses these tiles,
#: as (most classes, fewest features) steps, in float32 and in float64.
DOT_MIN_FEATURES_F32 = ((3, 64), (5, 160), (DOT_MAX_TOTAL_CLASSES, 320))
DOT_MIN_FEATURES_F64 = ((5, 200),)


def dot_score_tiles(n_features, n_classes, itemsize):
    """Whether the scores of a block come from features-in-lanes tiles
    (:func:`block_dot_scores`) rather than from class panels (:func:`block_scores`).

    With classes in the lanes, 3 classes use 3 of 8 float32 lanes and 10
    classes 10 of 16; with the features in the lanes every lane is useful but
    for the last vector of a row, at the price of a few shuffles per score.
    Those shuffles are paid per score, the lanes saved per feature: the tiles
    win on long rows only, and the more classes the longer the rows must be
    (``DOT_MIN_FEATURES_F32`` and ``DOT_MIN_FEATURES_F64``).

    Measured 2026-12-06 on 2 cores, X of 2e7 entries, the two tiles taking
    turns (6 rounds of 3 calls, medians), features-in-lanes time over class
    panels time for loss+gradient / loss / probabilities. float32: K=3,
    d=50 0.97 / 1.11 / 1.11, d=64 0.74 / 0.80 / 0.78, d=784 0.61 / 0.62 /
    0.62; K=5, d=100 1.00 / 1.34 / 1.33, d=200 0.83 / 0.98 / 0.99; K=10,
    d=100 1.19 / 1.60 / 1.54, d=200 1.05 / 1.27 / 1.25, d=400 0.92 / 0.97 /
    0.96, d=784 0.84 / 0.77 / 0.75. float64: K=3, d=100 1.12 / 1.53 /
    1.52, d=160 0.93 / 1.16 / 1.14, d=200 0.92 / 1.09 / 1.10, d=400 0.83 /
    0.90 / 0.87, d=784 0.92 / 1.06 / 1.05; K=5, d=100 1.18 / 1.56 / 1.52,
    d=200 0.87 / 0.84 / 0.83, d=784 0.97 / 1.13 / 1.13. At 20 features
    the panels were ahead by 1.22 to 1.63 everywhere. In float64 from 6
    classes on the panels fill 10 of 12 lanes at K=10 and stay ahead. AVX2's
    16 registers cannot hold the accumulators: there the class panels stay.

    Parameters
    ----------
    n_features, n_classes, itemsize : int

    Returns
    -------
    bool
    """
    if REGISTER_UNITS != 2:
        return False
    steps = DOT_MIN_FEATURES_F32 if itemsize == 4 else DOT_MIN_FEATURES_F64
    for most_classes, fewest_features in steps:
        if n_classes <= most_classes:
            return n_features >= fewest_features
    return False


def dot_coef_padding(n_features, itemsize):
    """Columns of the coefficients for :func:`block_dot_scores`: ``n_features``
    rounded up to whole registers (8 float64 or 16 float32 lanes with AVX-512)."""
    lanes = REGISTER_UNITS * UNIT_BYTES // itemsize
    return -(-n_features // lanes) * lanes


# Tiles of 1 .. DOT_MAX_CLASSES classes: DOT_ROWS rows, and one row.
_D1, _D2, _D3, _D4, _D5, _D6 = (make_dot_tile(DOT_ROWS, c) for c in range(1, DOT_MAX_CLASSES + 1))
_D1_ROW, _D2_ROW, _D3_ROW, _D4_ROW, _D5_ROW, _D6_ROW = (
    make_dot_tile(1, c) for c in range(1, DOT_MAX_CLASSES + 1)
)


@njit(cache=True, **JIT_OPTIONS)
def _dot_tiles(n_classes, many, X, W, St, span):
    """A column of features-in-lanes tiles of ``n_classes`` classes:
    ``DOT_ROWS`` rows each (``many``) or one row each."""
    if many:
        if n_classes == 1:
            _D1(X, W, St, span)
        elif n_classes == 2:
            _D2(X, W, St, span)
        elif n_classes == 3:
            _D3(X, W, St, span)
        elif n_classes == 4:
            _D4(X, W, St, span)
        elif n_classes == 5:
            _D5(X, W, St, span)
        else:
            _D6(X, W, St, span)
    else:
        if n_classes == 1:
            _D1_ROW(X, W, St, span)
        elif n_classes == 2:
            _D2_ROW(X, W, St, span)
        elif n_classes == 3:
            _D3_ROW(X, W, St, span)
        elif n_classes == 4:
            _D4_ROW(X, W, St, span)
        elif n_classes == 5:
            _D5_ROW(X, W, St, span)
        else:
            _D6_ROW(X, W, St, span)


@njit(inline="always", cache=True, **JIT_OPTIONS)
def block_dot_scores(X, b0, n_rows, W, St, n_classes):
    """``St[k, i] = X[b0 + i] @ W[k, :n_features]`` for ``i < n_rows``, ``k < n_classes``,
    by features-in-lanes tiles (see :func:`dot_score_tiles`).

    Rows of ``St`` from ``n_classes`` on are left as they are.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C order
    b0, n_rows : int
        First row of the block and its number of rows.
    W : ndarray of shape (>= n_classes, dp), C order, dtype of X
        The coefficients, zero from ``n_features`` to ``dp``, as returned
        by :func:`dot_coef_padding`.
    St : ndarray of shape (>= n_classes, >= n_rows), C order, dtype of X
        Receives the class-major scores (without intercept).
    n_classes : int
    """
    d = X.shape[1]
    lanes = REGISTER_UNITS * UNIT_BYTES // X.itemsize
    n_chunks = d // lanes
    tail = d - n_chunks * lanes
    w_row = W.shape[1]
    ld = St.shape[1]
    n_tiles = n_rows // DOT_ROWS
    full = n_tiles * DOT_ROWS
    n_groups = -(-n_classes // DOT_MAX_CLASSES)
    k0 = 0
    for g in range(n_groups):
        # Balanced class groups (10 classes: 5 + 5, not 6 + 4).
        size = -(-(n_classes - k0) // (n_groups - g))
        # X comes from memory during the first group only: prefetch it then
        # (as block_scores does, and for the same reason).
        ahead = PREFETCH_BYTES // X.itemsize if g == 0 else 0
        span = DotSpan(
            b0 * d, d, DOT_ROWS * d, k0 * w_row, w_row, k0 * ld, ld, n_chunks, tail, n_tiles, ahead,
        )
        _dot_tiles(size, True, X, W, St, span)
        if full < n_rows:
            span = DotSpan(
                (b0 + full) * d, d, d, k0 * w_row, w_row, k0 * ld + full, ld, n_chunks, tail,
                n_rows - full, 0,
            )
            _dot_tiles(size, False, X, W, St, span)
        k0 += size


# -- classes-and-features score tiles, for 2 to 4 classes --------------------
#: Rows of X per classes-and-features score tile (``simd.make_grouped_tile``):
#: 8 accumulators, enough to hide the latency of the multiply-adds.
GROUPED_ROWS = 8
#: Most classes of these tiles: four slots per register.
GROUPED_MAX_CLASSES = 4


def grouped_score_tiles(n_features, n_classes, itemsize):
    """Whether the scores of a block come from classes-and-features tiles
    (:func:`block_grouped_scores`): with AVX-512, for 2 to 4 classes in
    float32, where :func:`dot_score_tiles` does not choose features-in-lanes
    tiles.

    Class panels give 3 classes 3 of 8 float32 lanes; these tiles fill 12 of
    16 lanes (4 features of 4 class slots) with one broadcast and one
    multiply-add per 4 features. Score products alone, one block of 512
    rows in cache, one thread, ns per row, these tiles / class panels /
    features-in-lanes (2026-12-07, AMD Zen 4), float32: K=3, d=20 2.60 /
    4.84 / 3.79, d=32 3.98 / 7.90 / 3.69, d=64 6.85 / 16.1 / 5.02; K=4,
    d=100 9.93 / 25.3 / 10.3, d=200 19.4 / 51.1 / 17.1; K=2, d=20 1.76 /
    5.04 / 3.09.

    One evaluation, 2 threads, X from memory, best of 15, these tiles /
    class panels, float32: 1,000,000 x 20, K=3 loss+gradient 4.45 and 5.30
    / 5.75 and 5.83 ms, loss 3.04 and 4.07 / 4.23 and 4.52 ms,
    probabilities 2.80 and 3.43 / 3.84 and 4.82 ms; K=2 4.01 and 4.71 /
    5.36 and 6.00, 2.94 and 3.42 / 4.36 and 4.90, 2.76 and 2.90 / 3.88 and
    4.47 ms; 500,000 x 32, K=4 2.83 / 3.82, 1.95 / 2.93, 1.90 / 2.91 ms.

    In float64 (8 lanes) they are left out. At 3 and 4 classes (2 features
    of 4 slots) they were level with the class panels at d=20 in cache
    (4.90 / 4.97 ns a row) and behind the features-in-lanes tiles at every
    d. At 2 classes (4 features of 2 slots) they were twice as fast in
    cache (d=20: 2.56 / 4.94 ns a row), but with X from memory, at
    1,000,000 x 20, the loss took 6.79 and 7.83 ms against 5.97 and 7.03 ms
    with class panels and the probabilities 6.49 and 7.59 against 5.68 and
    6.92 ms.

    Parameters
    ----------
    n_features, n_classes, itemsize : int

    Returns
    -------
    bool
    """
    if REGISTER_UNITS != 2 or itemsize != 4 or not 2 <= n_classes <= GROUPED_MAX_CLASSES:
        return False
    return not dot_score_tiles(n_features, n_classes, itemsize)


def grouped_coef_shape(n_features, n_classes, itemsize):
    """Shape of the coefficients of :func:`block_grouped_scores`: one row
    per chunk of features (``lanes / grouped_slots(n_classes)`` of them), a
    register of lanes wide."""
    lanes = REGISTER_UNITS * UNIT_BYTES // itemsize
    group = lanes // grouped_slots(n_classes)
    return -(-n_features // group), lanes


_GS2, _GS4 = make_grouped_tile(GROUPED_ROWS, 2), make_grouped_tile(GROUPED_ROWS, 4)
_GS2_ROW, _GS4_ROW = make_grouped_tile(1, 2), make_grouped_tile(1, 4)


@njit(cache=True, **JIT_OPTIONS)
def _grouped_tiles(slots, many, X, Wg, St, span):
    """A column of classes-and-features tiles: ``GROUPED_ROWS`` rows each
    (``many``) or one row each."""
    if slots == 2:
        if many:
            _GS2(X, Wg, St, span)
        else:
            _GS2_ROW(X, Wg, St, span)
    else:
        if many:
            _GS4(X, Wg, St, span)
        else:
            _GS4_ROW(X, Wg, St, span)


@njit(inline="always", cache=True, **JIT_OPTIONS)
def block_grouped_scores(X, b0, n_rows, Wg, St, n_classes):
    """``St[k, i] = X[b0 + i] @ W[k]`` for ``i < n_rows``, ``k < n_classes``
    (2 to ``GROUPED_MAX_CLASSES``), by classes-and-features tiles.

    Rows of ``St`` from ``n_classes`` on are left as they are.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C order
    b0, n_rows : int
        First row of the block and its number of rows.
    Wg : ndarray, C order, dtype of X
        The coefficients in chunks of features, of the shape
        :func:`grouped_coef_shape` gives (see
        :func:`~fastsoftmax.kernels.dense.grouped_coef`).
    St : ndarray of shape (>= n_classes, >= n_rows), C order, dtype of X
        Receives the class-major scores (without intercept).
    n_classes : int
    """
    d = X.shape[1]
    lanes = Wg.shape[1]
    slots = grouped_slots(n_classes)
    group = lanes // slots
    n_chunks = d // group
    tail = d - n_chunks * group
    ld = St.shape[1]
    n_tiles = n_rows // GROUPED_ROWS
    full = n_tiles * GROUPED_ROWS
    span = GroupSpan(
        b0 * d, d, GROUPED_ROWS * d, 0, lanes, 0, ld, n_chunks, tail, n_tiles, n_classes,
        PREFETCH_BYTES // X.itemsize,
    )
    _grouped_tiles(slots, True, X, Wg, St, span)
    if full < n_rows:
        span = GroupSpan(
            (b0 + full) * d, d, d, 0, lanes, full, ld, n_chunks, tail, n_rows - full, n_classes, 0,
        )
        _grouped_tiles(slots, False, X, Wg, St, span)


# -- gradient tiles: class_tile classes x a panel of features -----------------
# MAIN: full panels of two registers. REST: the last features, in 1 to 4
# 32-byte units (whole registers, then one unit; two AVX-512 registers at
# most), masked to the features that are left; up to 6 units for up to
# WIDE_GRADIENT_MAX_CLASSES classes, where the last full panel joins them.
# With AVX2 (one unit per register) the rest takes at most 2 units, 3 with
# the last panel: the wider tiles exist but are never called there.
_FULL = (_U, _U)
#: Lines of the next block that each row step of a masked tile prefetches
#: when that tile is the block's only gradient tile (few classes and a last
#: panel that joins the rest, as at d=20), by itemsize. At d=20 in float64 a
#: row is 2.5 lines: one line a step left three fifths of the next block to
#: its score phase, which then waited on memory. One evaluation of 1,000,000
#: x 20, X from memory, two lines against one (the same X in one process,
#: ``benchmarks/compare_revisions.py``; docs/performance.md): at K=3 a
#: median of 5% faster over 10 processes (0.92 to 1.01 of the time), at K=2
#: and K=4 3% to 5% faster in each of 5; three lines were level. In float32
#: (d=40, K=3) two lines were 2% to 4% slower, in two processes.
_REST_PREFETCH_LINES_F64, _REST_PREFETCH_LINES_F32 = 2, 1
_REST_PREFETCH_LINES = {8: _REST_PREFETCH_LINES_F64, 4: _REST_PREFETCH_LINES_F32}


def _rest_tiles(class_tile, most_units):
    """Masked tiles of ``class_tile`` classes over the last features, 1 to
    ``most_units`` units wide.

    Counted in units rather than registers, because a multiply-add on an
    AVX-512 register takes Zen 4 as long as two on 32-byte vectors (it runs
    in two halves), masked lanes included: the last 4 float32
    features of a row (d=100) take a 32-byte vector instead of a 64-byte
    one, the last 20 (d=20) a register and a unit instead of two registers.
    Gradient tiles of one block in cache, one thread, ns per row, two
    alternating rounds, registers -> units: d=20, K=3 2.57 and 2.56 -> 2.15
    and 2.14 (float64), 1.84 and 1.84 -> 1.60 and 1.59 (float32); d=100,
    K=10 36.5 and 38.7 -> 35.2 and 35.2 (float64), 19.6 and 19.6 -> 18.8
    and 18.6 (float32). The lanes computed are the same, in the same order:
    so are the bits."""
    return tuple(
        make_tile(class_tile, _split_units(u), "add", True, lines_per_step=_REST_PREFETCH_LINES)
        for u in range(1, most_units + 1)
    )


_G2_MAIN, _G3_MAIN, _G4_MAIN, _G5_MAIN, _G6_MAIN, _G8_MAIN, _G10_MAIN, _G12_MAIN = (
    make_tile(c, _FULL, "add") for c in (2, 3, 4, 5, 6, 8, 10, 12)
)
_G2_R1, _G2_R2, _G2_R3, _G2_R4, _G2_R5, _G2_R6 = _rest_tiles(2, 6)
_G3_R1, _G3_R2, _G3_R3, _G3_R4, _G3_R5, _G3_R6 = _rest_tiles(3, 6)
_G4_R1, _G4_R2, _G4_R3, _G4_R4, _G4_R5, _G4_R6 = _rest_tiles(4, 6)
_G5_R1, _G5_R2, _G5_R3, _G5_R4 = _rest_tiles(5, 4)
_G6_R1, _G6_R2, _G6_R3, _G6_R4 = _rest_tiles(6, 4)
_G8_R1, _G8_R2, _G8_R3, _G8_R4 = _rest_tiles(8, 4)
_G10_R1, _G10_R2, _G10_R3, _G10_R4 = _rest_tiles(10, 4)
_G12_R1, _G12_R2, _G12_R3, _G12_R4 = _rest_tiles(12, 4)


# Full panels and the masked rest are two functions, not one with a ``kind``
# argument: the call for full panels passes a constant kind, which Numba would
# compile as a second specialisation holding every tile again.
@njit(cache=True, **JIT_OPTIONS)
def _gradient_main_tiles(class_tile, St, X, G, span):
    """A row of gradient tiles of ``class_tile`` classes over full panels."""
    if class_tile == 2:
        _G2_MAIN(St, X, G, X, span)
    elif class_tile == 3:
        _G3_MAIN(St, X, G, X, span)
    elif class_tile == 4:
        _G4_MAIN(St, X, G, X, span)
    elif class_tile == 5:
        _G5_MAIN(St, X, G, X, span)
    elif class_tile == 6:
        _G6_MAIN(St, X, G, X, span)
    elif class_tile == 8:
        _G8_MAIN(St, X, G, X, span)
    elif class_tile == 10:
        _G10_MAIN(St, X, G, X, span)
    else:
        _G12_MAIN(St, X, G, X, span)


@njit(cache=True, **JIT_OPTIONS)
def _gradient_rest_tiles(class_tile, units, St, X, G, span):
    """The masked tile of ``class_tile`` classes over the last features,
    ``units`` units wide (:func:`_rest_tiles`; more than 4 only up to
    ``WIDE_GRADIENT_MAX_CLASSES`` classes)."""
    if class_tile == 2:
        if units == 1:
            _G2_R1(St, X, G, X, span)
        elif units == 2:
            _G2_R2(St, X, G, X, span)
        elif units == 3:
            _G2_R3(St, X, G, X, span)
        elif units == 4:
            _G2_R4(St, X, G, X, span)
        elif units == 5:
            _G2_R5(St, X, G, X, span)
        else:
            _G2_R6(St, X, G, X, span)
    elif class_tile == 3:
        if units == 1:
            _G3_R1(St, X, G, X, span)
        elif units == 2:
            _G3_R2(St, X, G, X, span)
        elif units == 3:
            _G3_R3(St, X, G, X, span)
        elif units == 4:
            _G3_R4(St, X, G, X, span)
        elif units == 5:
            _G3_R5(St, X, G, X, span)
        else:
            _G3_R6(St, X, G, X, span)
    elif class_tile == 4:
        if units == 1:
            _G4_R1(St, X, G, X, span)
        elif units == 2:
            _G4_R2(St, X, G, X, span)
        elif units == 3:
            _G4_R3(St, X, G, X, span)
        elif units == 4:
            _G4_R4(St, X, G, X, span)
        elif units == 5:
            _G4_R5(St, X, G, X, span)
        else:
            _G4_R6(St, X, G, X, span)
    elif class_tile == 5:
        if units == 1:
            _G5_R1(St, X, G, X, span)
        elif units == 2:
            _G5_R2(St, X, G, X, span)
        elif units == 3:
            _G5_R3(St, X, G, X, span)
        else:
            _G5_R4(St, X, G, X, span)
    elif class_tile == 6:
        if units == 1:
            _G6_R1(St, X, G, X, span)
        elif units == 2:
            _G6_R2(St, X, G, X, span)
        elif units == 3:
            _G6_R3(St, X, G, X, span)
        else:
            _G6_R4(St, X, G, X, span)
    elif class_tile == 8:
        if units == 1:
            _G8_R1(St, X, G, X, span)
        elif units == 2:
            _G8_R2(St, X, G, X, span)
        elif units == 3:
            _G8_R3(St, X, G, X, span)
        else:
            _G8_R4(St, X, G, X, span)
    elif class_tile == 10:
        if units == 1:
            _G10_R1(St, X, G, X, span)
        elif units == 2:
            _G10_R2(St, X, G, X, span)
        elif units == 3:
            _G10_R3(St, X, G, X, span)
        else:
            _G10_R4(St, X, G, X, span)
    else:
        if units == 1:
            _G12_R1(St, X, G, X, span)
        elif units == 2:
            _G12_R2(St, X, G, X, span)
        elif units == 3:
            _G12_R3(St, X, G, X, span)
        else:
            _G12_R4(St, X, G, X, span)


#: Largest class tile whose last full panel of features and the features
#: after it (at most one register) run as one tile of up to three registers
#: (5 or 6 units, the last masked). Alone, those features would be a tile of ``class_tile``
#: accumulators, each taking one multiply-add per row: with so few, the
#: latency of the chained multiply-adds sets the pace, not their rate. One
#: block of 512 rows in cache, one thread, ns per row, before -> after
#: (AMD Zen 4; docs/performance.md): d=20, K=3 4.32 and 3.06 -> 2.65 and
#: 2.68 (float64); d=100, K=3 15.6 -> 11.4 to 13.6 (float64), 7.9 -> 6.8
#: (float32); d=20, K=4 3.9 -> 3.4 (float64). Five classes gained 1% to 3%
#: and are left out. With 16 registers (AVX2), four classes would leave too
#: few for the operands.
WIDE_GRADIENT_MAX_CLASSES = 4 if _U == 2 else 3


@njit(inline="always", cache=True, **JIT_OPTIONS)
def block_gradient(St, X, b0, n_rows, class_tile, G, next_rows):
    """``G[k, :] += sum_i St[k, i] * X[b0 + i, :]`` for every row ``k`` of ``G``.

    While the tiles compute from cache, the next ``next_rows`` rows of X are
    prefetched, one line per tile step (two in float64 where a lone masked
    tile does it, see ``_REST_PREFETCH_LINES``): the memory bus would
    otherwise idle here, and the next block's scores then find their rows in
    cache.

    Parameters
    ----------
    St : ndarray of shape (>= kg, >= n_rows), C order, dtype of X
        Gradient factors, class-major; rows beyond the real classes zero.
    X : ndarray of shape (n_samples, n_features), C order
    b0, n_rows : int
    class_tile : int
        One of ``GRADIENT_CLASS_TILES``; ``kg`` is a multiple of it.
    G : ndarray of shape (kg, n_features), C order, float64 or dtype of X
        Accumulated into.
    next_rows : int
        Rows after the block to prefetch (0 for none).
    """
    kg, d = G.shape
    lda = St.shape[1]
    unit = UNIT_BYTES // X.itemsize  # lanes of one unit
    reg = _U * unit  # lanes of one register
    panel = 2 * reg
    n_panels = d // panel
    full = n_panels * panel
    rest = d - full
    line = _LINE // X.itemsize
    pf_off = (b0 + n_rows) * d
    pf_left = -(-next_rows * d // line)
    wide = class_tile <= WIDE_GRADIENT_MAX_CLASSES and n_panels > 0 and 0 < rest <= reg
    if wide:
        # The last full panel joins the features after it.
        n_panels -= 1
        full -= panel
        rest += panel
    # With no full panel left, the last tile prefetches instead, at
    # _REST_PREFETCH_LINES lines a step.
    last_prefetches = wide and n_panels == 0
    rest_lines = _REST_PREFETCH_LINES_F64 if X.itemsize == 8 else _REST_PREFETCH_LINES_F32
    for k0 in range(0, kg, class_tile):
        # Classes outside, features inside: the tile's rows of St stay in
        # L1 while the block of X is read from L2 once per class tile.
        pf_lines = n_rows if pf_left > 0 else 0
        span = TileSpan(
            k0 * lda, lda, 1, 0,
            b0 * d, d, panel,
            k0 * d, d, 1, panel,
            n_rows, n_panels, panel,
            pf_off, n_rows * line, pf_lines,
        )
        _gradient_main_tiles(class_tile, St, X, G, span)
        if pf_lines > 0:
            pf_off += n_panels * n_rows * line
            pf_left -= n_panels * n_rows
        if rest > 0:
            span = TileSpan(
                k0 * lda, lda, 1, 0,
                b0 * d + full, d, 0,
                k0 * d + full, d, 1, 0,
                n_rows, 1, rest,
                pf_off, 0, rest_lines * pf_lines if last_prefetches else 0,
            )
            if last_prefetches and pf_lines > 0:
                pf_off += rest_lines * n_rows * line
                pf_left -= rest_lines * n_rows
            _gradient_rest_tiles(class_tile, -(-rest // unit), St, X, G, span)


# -- softmax on class-major scores -------------------------------------------


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def label_weight_totals(y, sample_weight, n_classes, smoothing, n_ranges):
    """``(1 - smoothing) * sum of s_i`` over the rows of each range with label ``k``.

    The part of the intercept gradient that :func:`block_softmax_loss` leaves
    out for hard labels, per row range; it depends on the data only. The
    ranges are those of :func:`~fastsoftmax.kernels._partition.range_bounds`,
    counted in parallel, each in row order (the same bits for any thread
    count).

    Parameters
    ----------
    y : ndarray of shape (n_samples,), integer class codes in [0, n_classes)
    sample_weight : ndarray of shape (n_samples,) or (0,)
    n_classes, n_ranges : int
    smoothing : float

    Returns
    -------
    ndarray of shape (n_ranges, n_classes), float64
    """
    n_samples = y.shape[0]
    weighted = sample_weight.shape[0] > 0
    totals = np.zeros((n_ranges, n_classes))
    for r in prange(n_ranges):
        start, stop = range_bounds(n_samples, n_ranges, r)
        totals_r = totals[r]
        if weighted:
            for i in range(start, stop):
                totals_r[y[i]] += np.float64(sample_weight[i])
        else:
            for i in range(start, stop):
                totals_r[y[i]] += 1.0
        for k in range(n_classes):
            totals_r[k] *= 1.0 - smoothing
    return totals


# Per-block arrays are sliced to the block first: indexing with ``b0 + i``
# makes Numba check for negative indices, which stops LLVM from vectorising.


#: Classes up to which the gradient factors take the label's part by one
#: vector pass per class (a compare and a select) rather than by a scalar
#: read-modify-write per row at an address that depends on the label; the
#: same arithmetic, so the same bits. Measured on 2 cores, old and new code
#: in alternating processes (4 rounds, medians of 23 evaluations): one
#: evaluation at 1,000,000 x 20, K=3, 9.8-10.7 -> 9.1-9.9 ms in float64 and
#: 6.1-6.7 -> 6.0-6.1 ms in float32; at K=5 level (11.2-12.8 against
#: 11.5-11.8 ms, 7.5-7.8 against 7.5-8.1 ms). Through the public loss on
#: the benchmark's data, K=3: level in float64, 6.5-7.6 -> 6.3-6.4 ms in
#: float32 (docs/performance.md). The loss's own read of the label's score
#: (``_target_margins``) stays scalar: a select pass there was slower
#: in float64 (one block of 512 rows in cache, K=3: +0.3 ns a row).
SELECT_MAX_CLASSES = 4


@njit(cache=True, **JIT_OPTIONS)
def _add_intercept_and_max(St, n_rows, n_classes, intercept, row_max):
    """``St[k, :n] += intercept[k]`` and ``row_max[i] = max_k St[k, i]``."""
    use_full_vector_width()
    has_intercept = intercept.shape[0] > 0
    for k in range(n_classes):
        scores = St[k]
        shift = intercept[k] if has_intercept else scores.dtype.type(0)
        if k == 0:
            for i in range(n_rows):
                value = scores[i] + shift
                scores[i] = value
                row_max[i] = value
        else:
            for i in range(n_rows):
                value = scores[i] + shift
                scores[i] = value
                row_max[i] = max(row_max[i], value)


@njit(cache=True, **JIT_OPTIONS)
def _exp_and_sum(St, n_rows, n_classes, row_max, row_sum, flush_tiny=False):
    """``St[k, i] = exp(St[k, i] - row_max[i])`` and ``row_sum[i] = sum_k St[k, i]``.

    With ``flush_tiny``, exponentials below the smallest normal number are
    0 (:func:`~fastsoftmax.kernels.elementary.exp_flush_tiny`): fine for a
    loss and its gradient, where such a term is lost in a sum of at least 1,
    but not for probabilities handed to a user."""
    use_full_vector_width()
    for i in range(n_rows):
        row_sum[i] = 0
    for k in range(n_classes):
        scores = St[k]
        if flush_tiny:
            for i in range(n_rows):
                e = exp_flush_tiny(scores[i] - row_max[i])
                scores[i] = e
                row_sum[i] += e
        else:
            for i in range(n_rows):
                e = fast_exp(scores[i] - row_max[i])
                scores[i] = e
                row_sum[i] += e


@njit(cache=True, **JIT_OPTIONS)
def _target_margins(St, n_rows, n_classes, labels, targets, smoothing, row_max, margin, total):
    """Per row, before the exponentials: ``margin[i] = sum_k t_ik (max_i - z_ik)``
    and ``total[i] = sum_k t_ik`` for the row's target ``t_i`` (the block's
    ``labels`` smoothed by ``smoothing``, or its rows of soft ``targets``).

    Classes with a zero soft target are skipped, so a ``-inf`` score there
    gives no NaN.
    """
    use_full_vector_width()
    if targets.shape[0] > 0:
        for i in range(n_rows):
            margin[i] = 0
            total[i] = 0
        for k in range(n_classes):
            scores = St[k]
            for i in range(n_rows):
                q = targets[i, k]
                margin[i] += q * (row_max[i] - scores[i]) if q != 0 else 0
                total[i] += q
        return
    for i in range(n_rows):
        margin[i] = row_max[i] - St[np.uint64(labels[i]), i]
        total[i] = 1
    if smoothing != 0:
        # t = (1 - e) onehot(y) + e / K: the smoothed part adds
        # e / K * sum_k (max - z_k) to the margin.
        share = smoothing / n_classes
        for i in range(n_rows):
            margin[i] *= 1 - smoothing
        for k in range(n_classes):
            scores = St[k]
            for i in range(n_rows):
                margin[i] += share * (row_max[i] - scores[i])


@njit(cache=True, **JIT_OPTIONS)
def _gradient_factors(St, n_rows, n_classes, labels, targets, smoothing, weights, row_sum, total, icpt):
    """``St[k, i] = s_i * (softmax_ik * total_i - t_ik)`` from the exponentials
    in ``St`` (block-local ``labels``, ``targets`` and ``weights`` as in
    :func:`block_softmax_loss`). Their sums over rows are added to ``icpt``,
    except the label's part ``s_i (1 - smoothing)`` of a hard target, which
    is the same at every evaluation (see :func:`block_softmax_loss`).
    Overwrites ``row_sum``."""
    use_full_vector_width()
    weighted = weights.shape[0] > 0
    one = row_sum.dtype.type(1)
    for i in range(n_rows):
        w = weights[i] if weighted else one
        row_sum[i] = w * total[i] / row_sum[i]
    soft = targets.shape[0] > 0
    share = row_sum.dtype.type(smoothing / n_classes)
    # One pass per class: scale, subtract the spread-out part of the target,
    # and sum for the intercept while the row of St is in registers.
    for k in range(n_classes):
        scores = St[k]
        block_total = scores.dtype.type(0)
        if soft:
            for i in range(n_rows):
                w = weights[i] if weighted else one
                value = scores[i] * row_sum[i] - w * targets[i, k]
                scores[i] = value
                block_total += value
        elif smoothing != 0:
            for i in range(n_rows):
                w = weights[i] if weighted else one
                value = scores[i] * row_sum[i] - w * share
                scores[i] = value
                block_total += value
        else:
            for i in range(n_rows):
                value = scores[i] * row_sum[i]
                scores[i] = value
                block_total += value
        icpt[k] += block_total
    if not soft:
        # The label's part of a hard target, row by row. Its sum over rows is
        # not added to icpt here: rows sharing a label would make a chain of
        # dependent read-modify-writes, and the sum is a constant of the data.
        hit = row_sum.dtype.type(1 - smoothing)
        if n_classes <= SELECT_MAX_CLASSES:
            for k in range(n_classes):
                scores = St[k]
                for i in range(n_rows):
                    w = weights[i] if weighted else one
                    scores[i] = scores[i] - w * hit if labels[i] == k else scores[i]
            return
        for i in range(n_rows):
            w = weights[i] if weighted else one
            St[np.uint64(labels[i]), i] -= w * hit


#: Most classes for which :func:`block_softmax_loss` turns the scores of
#: hard, unsmoothed labels into the loss and the gradient factors in one
#: pass over the rows, each row's scores held in registers, instead of one
#: pass per step through buffers in L1. With the gradient, one block of 512
#: rows in cache, one thread, ns per row, two alternating rounds (AMD Zen 4):
#: K=3 5.72, 6.28 -> 4.82, 4.95 (float64), 3.27, 3.14 -> 2.93, 3.35
#: (float32); K=2 4.85, 4.64 -> 3.93, 4.08 and 2.58, 2.49 -> 2.25, 2.40. The
#: loss alone, where the exponentials and the logarithm set the pace, gained
#: nothing (level in float64, slower in float32 in those rounds). At four classes LLVM no longer unrolls the loops over the classes
#: and the pass is not vectorised.
ONE_PASS_MAX_CLASSES = 3


@njit(inline="always", cache=True, **JIT_OPTIONS)
def _one_pass_weighted(St, n_rows, n_classes, intercept, labels, weights):
    """Loss of hard labels with sample weights ``s_i`` and ``St[k, i] = s_i
    softmax_ik``, one row at a time (without weights: :func:`_one_pass_by_groups`).

    ``n_classes`` must be a constant where this is inlined: LLVM then unrolls
    the loops over the classes and vectorises the loop over the rows."""
    has_intercept = intercept.shape[0] > 0
    zero = St.dtype.type(0)
    loss = 0.0
    for i in range(n_rows):
        label = labels[i]
        row_max = St[0, i] + (intercept[0] if has_intercept else zero)
        label_score = row_max
        for k in range(1, n_classes):
            score = St[k, i] + (intercept[k] if has_intercept else zero)
            row_max = max(row_max, score)
            label_score = score if label == k else label_score
        row_sum = zero
        for k in range(n_classes):
            # The same sum as above: the largest score less row_max is 0.
            score = St[k, i] + (intercept[k] if has_intercept else zero)
            e = exp_flush_tiny(score - row_max)
            St[k, i] = e
            row_sum += e
        w = weights[i]
        loss += float(w * ((row_max - label_score) + log_at_least_one(row_sum)))
        scale = w / row_sum
        for k in range(n_classes):
            St[k, i] *= scale
    return loss


#: Rows whose sums of exponentials are multiplied before one logarithm is
#: taken, in :func:`_one_pass_by_groups`. Each sum lies in [1, n_classes]
#: with at most ``ONE_PASS_MAX_CLASSES`` = 3 classes, and 3**512 = 1.9e244
#: is a finite float64.
LOG_PRODUCT_ROWS = 512


@njit(inline="always", cache=True, **JIT_OPTIONS)
def _one_pass_unweighted_rows(St, start, stop, n_classes, intercept, labels):
    """:func:`_one_pass_weighted` without sample weights over the rows
    ``start`` to ``stop``, returning the sum of the margins ``max_i -
    z_i,label`` and the product of the sums of exponentials (whose logarithm
    is the sum of theirs) instead of the loss."""
    has_intercept = intercept.shape[0] > 0
    one = St.dtype.type(1)
    zero = St.dtype.type(0)
    margins = 0.0
    product = 1.0
    # Unsigned indices: with signed ones from a start other than 0, LLVM
    # did not vectorise this loop. Its first lines repeat those of
    # _one_pass_weighted: the same lines as an inlined function returning the
    # margin and the sum were not vectorised either (K=3, one block in cache,
    # 14 to 41 ns per row instead of about 5).
    for i in range(np.uint64(start), np.uint64(stop)):
        label = labels[i]
        row_max = St[0, i] + (intercept[0] if has_intercept else zero)
        label_score = row_max
        for k in range(1, n_classes):
            score = St[k, i] + (intercept[k] if has_intercept else zero)
            row_max = max(row_max, score)
            label_score = score if label == k else label_score
        row_sum = zero
        for k in range(n_classes):
            score = St[k, i] + (intercept[k] if has_intercept else zero)
            e = exp_flush_tiny(score - row_max)
            St[k, i] = e
            row_sum += e
        margins += float(row_max - label_score)
        product *= float(row_sum)
        scale = one / row_sum
        for k in range(n_classes):
            St[k, i] *= scale
    return margins, product


@njit(inline="always", cache=True, **JIT_OPTIONS)
def _one_pass_by_groups(St, n_rows, n_classes, intercept, labels):
    """:func:`_one_pass_weighted` without sample weights, with one
    logarithm per ``LOG_PRODUCT_ROWS`` rows (of the product of their sums
    of exponentials) instead of one, with its division, per row.

    ``n_classes`` must be a constant where this is inlined."""
    loss = 0.0
    for start in range(0, n_rows, LOG_PRODUCT_ROWS):
        margins, product = _one_pass_unweighted_rows(
            St, start, min(start + LOG_PRODUCT_ROWS, n_rows), n_classes, intercept, labels,
        )
        # product is NaN for NaN scores, as a row's logarithm would be.
        loss += margins + log_at_least_one(product)
    return loss


@njit(cache=True, **JIT_OPTIONS)
def _intercept_sums_and_labels(St, n_rows, n_classes, labels, weights, icpt):
    """``icpt[k] += sum_i St[k, i]``, then ``St[label_i, i] -= s_i``."""
    use_full_vector_width()
    weighted = weights.shape[0] > 0
    one = St.dtype.type(1)
    for k in range(n_classes):
        scores = St[k]
        block_total = scores.dtype.type(0)
        for i in range(n_rows):
            value = scores[i]
            block_total += value
            w = weights[i] if weighted else one
            scores[i] = value - w if labels[i] == k else value
        icpt[k] += block_total


@njit(cache=True, **JIT_OPTIONS)
def _softmax_loss_few_classes(St, n_rows, n_classes, intercept, labels, weights, gradient, icpt):
    """:func:`block_softmax_loss` for hard, unsmoothed labels and at most
    ``ONE_PASS_MAX_CLASSES`` classes.

    The loss-only call makes the same pass, gradient factors included: the
    loss then has the same bits as with ``gradient``, which line searches
    that compare the two rely on."""
    use_full_vector_width()
    if weights.shape[0] > 0:
        if n_classes == 2:
            loss = _one_pass_weighted(St, n_rows, 2, intercept, labels, weights)
        else:
            loss = _one_pass_weighted(St, n_rows, 3, intercept, labels, weights)
    elif n_classes == 2:
        loss = _one_pass_by_groups(St, n_rows, 2, intercept, labels)
    else:
        loss = _one_pass_by_groups(St, n_rows, 3, intercept, labels)
    if gradient:
        _intercept_sums_and_labels(St, n_rows, n_classes, labels, weights, icpt)
    return loss


@njit(inline="always", cache=True, **JIT_OPTIONS)
def block_softmax_loss(
    St, n_rows, n_classes, intercept, b0, y, soft_targets, smoothing, sample_weight,
    buffers, gradient, icpt,
):
    """Weighted sum of the block's cross-entropies; gradient factors in place.

    Parameters
    ----------
    St : ndarray of shape (>= n_classes, >= n_rows)
        Class-major scores without intercept (from :func:`block_scores`).
        With ``gradient``, overwritten by ``s_i * (softmax(z_i) - t_i)``.
    n_rows, n_classes : int
    intercept : ndarray of shape (n_classes,) or (0,), dtype of St
    b0 : int
        First row of the block, to index ``y``, the targets and the weights.
    y : ndarray of shape (n_samples,), integer codes (unused with soft targets)
    soft_targets : ndarray of shape (n_samples, n_classes) or (0, n_classes)
    smoothing : float
        Label smoothing of hard labels.
    sample_weight : ndarray of shape (n_samples,) or (0,)
    buffers : ndarray of shape (4, >= n_rows), dtype of St
        Scratch space (row maxima, sums, margins, target totals).
    gradient : bool
        Whether to write gradient factors and intercept sums.
    icpt : ndarray of shape (n_classes,), float64
        With ``gradient``, ``sum_i s_i * (softmax_ik * sum(t_i) - t_ik)`` over
        the block is added to it, except, for hard labels, the term
        ``-s_i * (1 - smoothing)`` of each row's label: the caller adds
        those from the class totals (:func:`label_weight_totals`).

    Returns
    -------
    float
        ``sum_i s_i * sum_k t_ik * (logsumexp(z_i) - z_ik)`` over the block.
    """
    use_full_vector_width()
    row_max, row_sum, margin, total = buffers[0], buffers[1], buffers[2], buffers[3]
    soft = soft_targets.shape[0] > 0
    labels = y[b0 : b0 + n_rows] if not soft else y[:0]
    targets = soft_targets[b0 : b0 + n_rows] if soft else soft_targets
    weighted = sample_weight.shape[0] > 0
    weights = sample_weight[b0 : b0 + n_rows] if weighted else sample_weight
    if not soft and smoothing == 0 and 2 <= n_classes <= ONE_PASS_MAX_CLASSES:
        return _softmax_loss_few_classes(
            St, n_rows, n_classes, intercept, labels, weights, gradient, icpt,
        )
    _add_intercept_and_max(St, n_rows, n_classes, intercept, row_max)
    _target_margins(St, n_rows, n_classes, labels, targets, smoothing, row_max, margin, total)
    _exp_and_sum(St, n_rows, n_classes, row_max, row_sum, flush_tiny=True)
    one = row_sum.dtype.type(1)
    loss = 0.0
    for i in range(n_rows):
        # l_i = sum_k t_k (max - z_k) + sum(t) * log(sum_k exp(z_k - max)):
        # the large terms cancel before the logarithm is added.
        # row_sum >= 1: the row's largest score contributes exp(0) = 1.
        row_loss = margin[i] + total[i] * log_at_least_one(row_sum[i])
        w = weights[i] if weighted else one
        loss += float(w * row_loss)
    if gradient:
        _gradient_factors(
            St, n_rows, n_classes, labels, targets, smoothing, weights, row_sum, total, icpt,
        )
    return loss


#: Rows per group and most classes for which probabilities cross from the
#: class-major block into the row-major output by in-register transposes
#: (:func:`_write_rows`; measurements in docs/performance.md).
WRITE_ROWS = 8
WRITE_MAX_CLASSES = 16
_WRITE_4 = make_row_writer(WRITE_ROWS, 4)
_WRITE_8 = make_row_writer(WRITE_ROWS, 8)
_WRITE_16 = make_row_writer(WRITE_ROWS, 16)
_SHIFT_4 = make_row_writer(WRITE_ROWS, 4, "shift_classes")
_SHIFT_8 = make_row_writer(WRITE_ROWS, 8, "shift_classes")
_SHIFT_16 = make_row_writer(WRITE_ROWS, 16, "shift_classes")


@njit(cache=True, **JIT_OPTIONS)
def block_probabilities(St, n_rows, n_classes, intercept, buffers, out):
    """``out[i, k] = softmax(St[:, i] + intercept)[k]`` for ``i < n_rows``.

    Parameters
    ----------
    St : ndarray of shape (>= n_classes, >= n_rows)
        Class-major scores without intercept; overwritten.
    intercept : ndarray of shape (n_classes,) or (0,)
    buffers : ndarray of shape (>= 2, >= n_rows)
    out : ndarray of shape (n_rows, n_classes)
        The block's rows of the output.

    Returns
    -------
    bool
        Whether every score was finite. A NaN or infinite entry of X makes
        some score of its row NaN or infinite, and then the row's sum of
        exponentials is NaN (an infinite score also shifts the others to
        -inf - inf), so this doubles as a finiteness check of X.
    """
    use_full_vector_width()
    row_max, row_sum = buffers[0], buffers[1]
    _add_intercept_and_max(St, n_rows, n_classes, intercept, row_max)
    _exp_and_sum(St, n_rows, n_classes, row_max, row_sum)
    check = 0.0
    for i in range(n_rows):
        check += row_sum[i]
        row_sum[i] = 1 / row_sum[i]
    done = _write_rows(St, row_sum, out, n_rows, n_classes)
    for i in range(done, n_rows):
        target = out[i]
        for k in range(n_classes):
            target[k] = St[k, i] * row_sum[i]
    return np.isfinite(check)


@njit(cache=True, **JIT_OPTIONS)
def _write_rows(St, scale, out, n_rows, n_classes, shift_classes=False):
    """``out[i, k] = St[k, i] * scale[i]`` (or with ``shift_classes``,
    ``St[k, i] + scale[k]``, ``scale`` holding ``WRITE_MAX_CLASSES`` values)
    for whole groups of ``WRITE_ROWS`` rows by
    :func:`~fastsoftmax.kernels.simd.make_row_writer`, up to
    ``WRITE_MAX_CLASSES`` classes and where ``out``'s rows are contiguous;
    returns the rows written (the caller writes the rest)."""
    row_stride = out.strides[0] // out.itemsize
    if (
        n_classes > WRITE_MAX_CLASSES
        or out.strides[1] != out.itemsize
        or row_stride * out.itemsize != out.strides[0]
    ):
        return 0
    n_groups = n_rows // WRITE_ROWS
    span = RowSpan(0, St.strides[0] // St.itemsize, 0, 0, row_stride, n_classes, n_groups)
    if shift_classes:
        if n_classes <= 4:
            _SHIFT_4(St, scale, out, span)
        elif n_classes <= 8:
            _SHIFT_8(St, scale, out, span)
        else:
            _SHIFT_16(St, scale, out, span)
    elif n_classes <= 4:
        _WRITE_4(St, scale, out, span)
    elif n_classes <= 8:
        _WRITE_8(St, scale, out, span)
    else:
        _WRITE_16(St, scale, out, span)
    return n_groups * WRITE_ROWS


@njit(cache=True, **JIT_OPTIONS)
def class_shifts(intercept, n_classes):
    """The intercept (n_classes,) or (0,), zero-padded to at least
    ``WRITE_MAX_CLASSES`` entries (all zero without one): what
    :func:`block_write_scores` adds, built once per call of a kernel."""
    shifts = np.zeros(max(n_classes, WRITE_MAX_CLASSES), dtype=intercept.dtype)
    shifts[: intercept.shape[0]] = intercept
    return shifts


@njit(cache=True, **JIT_OPTIONS)
def block_write_scores(St, n_rows, n_classes, shifts, out):
    """``out[i, k] = St[k, i] + shifts[k]``: the block's scores, row-major,
    into its rows ``out`` (n_rows, n_classes).

    Parameters
    ----------
    St : ndarray of shape (>= n_classes, >= n_rows)
        Class-major scores without intercept.
    shifts : ndarray of shape (>= max(n_classes, WRITE_MAX_CLASSES),)
        The intercept as :func:`class_shifts` pads it.
    out : ndarray of shape (n_rows, n_classes)

    Returns
    -------
    bool
        Whether the scores' sum is finite (false for any NaN or infinite
        score, or scores so large that their sum overflows).
    """
    use_full_vector_width()
    check = 0.0
    for k in range(n_classes):
        scores = St[k]
        for i in range(n_rows):
            check += scores[i] + shifts[k]
    done = _write_rows(St, shifts, out, n_rows, n_classes, True)
    for i in range(done, n_rows):
        target = out[i]
        for k in range(n_classes):
            target[k] = St[k, i] + shifts[k]
    return np.isfinite(check)


@njit(cache=True, **JIT_OPTIONS)
def block_argmax(St, n_rows, n_classes, intercept, buffers, out):
    """``out[i]`` = the first class of largest score of the block's row ``i``.

    Returns
    -------
    bool
        Whether the scores' sum is finite (see :func:`block_write_scores`).
    """
    use_full_vector_width()
    row_max = buffers[0]
    has_intercept = intercept.shape[0] > 0
    check = 0.0
    for i in range(n_rows):
        value = St[0, i] + (intercept[0] if has_intercept else St.dtype.type(0))
        row_max[i] = value
        check += value
        out[i] = 0
    for k in range(1, n_classes):
        scores = St[k]
        shift = intercept[k] if has_intercept else St.dtype.type(0)
        for i in range(n_rows):
            value = scores[i] + shift
            check += value
            if value > row_max[i]:
                row_max[i] = value
                out[i] = k
    return np.isfinite(check)
