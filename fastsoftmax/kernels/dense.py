"""Fused loss/gradient and prediction kernels for dense, C-contiguous X.

Design
------
One evaluation reads X once from memory. The rows are split into
``N_ROW_RANGES`` contiguous ranges (a constant, not the thread count), which
run in parallel: each kernel here is a Python function that hands the ranges
to :func:`~fastsoftmax.kernels._launch.each_range`, with the work of one
range a compiled function of its own (which keeps compile time down; see
that module). Inside a range the rows are visited in
blocks that stay in L2 cache between the two products that touch them
(:mod:`fastsoftmax.kernels.blocks`):

1. class-major scores ``St = (X_block @ coef.T).T`` from register tiles
   (classes in the vector lanes, or with few classes features in the lanes,
   or both sharing them);
2. intercept, stable softmax and cross-entropy along the rows of ``St``
   (vectorised exponentials), then in place the gradient factors
   ``s_i * (softmax(z_i) - t_i)``, where the target ``t_i`` is
   ``onehot(y_i)`` (label-smoothed if asked) or a row of soft targets;
3. ``G += St @ X_block`` from register tiles, into the range's float64
   partial.

With many classes, steps 1 and 3 are GEMM calls on larger blocks instead
(:mod:`fastsoftmax.kernels.blas_blocks`), chosen by :class:`KernelLayout`;
prediction switches earlier, also on narrow rows with tens of classes.

The caller adds the ranges' partials in range order (:func:`reduce_partials`),
so the result is bit-identical for any number of threads. Extra memory is
``N_ROW_RANGES * kg * n_features`` float64 for the partials plus, per running
range, a class-major score buffer of ``row_block`` columns (and, on the GEMM
path with float32 X, a float32 ``n_classes * n_features`` buffer of block
sums); it does not grow with ``n_samples``, and the n-by-K score matrix is
never formed.

Inside a block all arithmetic is in X's dtype (float32 X: float32 products
and exponentials); block results go into float64 accumulators.

Conventions of the arguments: ``Wt`` is the coefficient matrix transposed,
of shape (n_features, kp), in X's dtype, with zero columns from
``n_classes`` to ``kp = score_padding(n_classes, X.itemsize)``
(:func:`transposed_coef` builds it), except for the features-in-lanes tiles
(``products == DOT``), which read the coefficients untransposed, each row
padded with zeros to whole registers (:func:`dot_coef`), and the
classes-and-features tiles (``products == GROUPED``), which read them in
chunks of features with the classes side by side (:func:`grouped_coef`);
``KernelLayout.coef_array`` builds whichever the layout needs. Sample
weights are an array of length ``n_samples`` or of length 0 (all ones); the
intercept likewise is of length ``n_classes`` or 0 (no intercept). Soft targets are an array of shape
(n_samples, n_classes), or of shape (0, n_classes) when the hard labels
``y`` (smoothed by ``smoothing``) are used.
"""

import numpy as np
from numba import njit, prange

from ._config import JIT_OPTIONS, MAX_ROW_BLOCK, MIN_ROW_BLOCK, N_ROW_RANGES, ROW_BLOCK_BYTES
from ._partition import range_bounds
from .blas_blocks import (
    BLAS_ROW_BLOCK,
    blas_block_gradient,
    blas_block_row_scores,
    blas_block_scores,
    gemm_available,
    prefers_gemm,
    prefers_gemm_for_rows,
    rows_add_intercept,
    rows_softmax,
)
from ._launch import each_range
from .blocks import (
    SCORE_ROWS,
    block_argmax,
    block_dot_scores,
    block_gradient,
    block_grouped_scores,
    block_probabilities,
    block_scores,
    block_softmax_loss,
    block_write_scores,
    class_shifts,
    dot_coef_padding,
    dot_score_tiles,
    gradient_class_tile,
    gradient_padding,
    grouped_coef_shape,
    grouped_score_tiles,
    score_padding,
)
from .simd import grouped_slots


def row_block_size(n_features, itemsize):
    """Rows per block: about ``ROW_BLOCK_BYTES`` of X, a multiple of
    ``SCORE_ROWS``, at most ``MAX_ROW_BLOCK``."""
    rows = ROW_BLOCK_BYTES // max(1, n_features * itemsize)
    rows = min(MAX_ROW_BLOCK, max(MIN_ROW_BLOCK, SCORE_ROWS, rows))
    return int(rows - rows % SCORE_ROWS)


def _zero_padded(values, padded_shape, dtype, out):
    """``values`` copied into the top-left corner of ``out`` (by default a new
    zero array of ``padded_shape`` in ``dtype``); the rest of ``out`` is left
    as it is, so a reused ``out`` keeps its zero padding."""
    if out is None:
        out = np.zeros(padded_shape, dtype=dtype)
    rows, columns = values.shape
    np.copyto(out[:rows, :columns], values, casting="same_kind")
    return out


def transposed_coef(coef, dtype, out=None):
    """``coef.T`` in ``dtype``, padded with zero columns to the score panels.

    Parameters
    ----------
    coef : ndarray of shape (n_classes, n_features)
    dtype : numpy dtype
        X's dtype.
    out : ndarray of shape (n_features, kp), optional
        Reused when given (its padding columns must be zero, as this function
        leaves them).

    Returns
    -------
    ndarray of shape (n_features, kp), C order
        ``kp = score_padding(n_classes, itemsize)``.
    """
    n_classes, n_features = coef.shape
    kp = score_padding(n_classes, np.dtype(dtype).itemsize)
    return _zero_padded(coef.T, (n_features, kp), dtype, out)


def dot_coef(coef, dtype, out=None):
    """``coef`` in ``dtype``, each row padded with zeros to whole registers
    of features, for the features-in-lanes tiles (``products == DOT``).

    Parameters
    ----------
    coef : ndarray of shape (n_classes, n_features)
    dtype : numpy dtype
        X's dtype.
    out : ndarray of shape (n_classes, dp), optional
        Reused when given (its padding columns must be zero).

    Returns
    -------
    ndarray of shape (n_classes, dp), C order
        ``dp = dot_coef_padding(n_features, itemsize)``.
    """
    n_classes, n_features = coef.shape
    dp = dot_coef_padding(n_features, np.dtype(dtype).itemsize)
    return _zero_padded(coef, (n_classes, dp), dtype, out)


def grouped_coef(coef, dtype, out=None):
    """``coef`` in ``dtype`` in chunks of features, for the
    classes-and-features tiles (``products == GROUPED``).

    Row ``j`` holds, in lane ``s G + f``, the coefficient of class ``s`` for
    feature ``j G + f`` (``G`` features per chunk, ``grouped_slots``
    classes), zero past the classes and the features.

    Parameters
    ----------
    coef : ndarray of shape (n_classes, n_features)
    dtype : numpy dtype
        X's dtype.
    out : ndarray, optional
        Reused when given, of the shape below.

    Returns
    -------
    ndarray of shape ``grouped_coef_shape(n_features, n_classes, itemsize)``, C order
    """
    n_classes, n_features = coef.shape
    n_chunks, lanes = grouped_coef_shape(n_features, n_classes, np.dtype(dtype).itemsize)
    slots = grouped_slots(n_classes)
    group = lanes // slots
    padded = np.zeros((slots, n_chunks * group), dtype=dtype)
    padded[:n_classes, :n_features] = coef
    chunked = padded.reshape(slots, n_chunks, group).transpose(1, 0, 2).reshape(n_chunks, lanes)
    if out is None:
        return np.ascontiguousarray(chunked)
    out[...] = chunked
    return out


#: The products of a block (``KernelLayout.products``): register tiles with
#: classes in the lanes, GEMM calls, register tiles with features in the
#: lanes, or with classes and features sharing the lanes. ``False`` and
#: ``True`` (the former ``use_blas``) mean the first two.
PANELS, GEMM, DOT, GROUPED = 0, 1, 2, 3


class KernelLayout:
    """The block and padding sizes the dense kernels use for one problem shape.

    Parameters
    ----------
    n_features, n_classes : int
    itemsize : int
        8 for float64 X, 4 for float32.
    use_blas : bool or None, default=None
        None chooses by :func:`~fastsoftmax.kernels.blas_blocks.prefers_gemm`
        (many classes), or for ``prediction`` by
        :func:`~fastsoftmax.kernels.blas_blocks.prefers_gemm_for_rows`, when
        :func:`~fastsoftmax.kernels.blas_blocks.gemm_available`; a bool forces
        the choice (tests compare the two paths).
    prediction : bool, default=False
        The layout of the prediction kernels (no gradient), where GEMM pays
        from fewer classes than for the loss.

    Attributes
    ----------
    products : int
        ``GEMM`` for GEMM calls; otherwise register tiles, ``DOT`` (features
        in the lanes) for the scores where
        :func:`~fastsoftmax.kernels.blocks.dot_score_tiles` chooses them,
        ``GROUPED`` (classes and features sharing the lanes) where
        :func:`~fastsoftmax.kernels.blocks.grouped_score_tiles` does, else
        ``PANELS`` (classes in the lanes).
    use_blas : bool
        Whether the block products are GEMM calls rather than register tiles.
    row_block : int
        Rows per block.
    class_tile : int
        Classes per gradient tile (unused by the GEMM calls).
    grad_classes : int
        Rows of the gradient partials (``n_classes`` padded to the class tile).
    """

    def __init__(self, n_features, n_classes, itemsize, use_blas=None, prediction=False):
        if use_blas is None:
            prefers = prefers_gemm_for_rows if prediction else prefers_gemm
            use_blas = prefers(n_features, n_classes, itemsize) and gemm_available(itemsize)
        self.use_blas = bool(use_blas)
        if self.use_blas:
            self.products = GEMM
        elif grouped_score_tiles(n_features, n_classes, itemsize):
            self.products = GROUPED
        elif dot_score_tiles(n_features, n_classes, itemsize):
            self.products = DOT
        else:
            self.products = PANELS
        if self.use_blas:
            self.row_block = BLAS_ROW_BLOCK
        else:
            self.row_block = row_block_size(n_features, itemsize)
        self.class_tile = gradient_class_tile(n_classes)
        self.grad_classes = gradient_padding(n_classes)

    def coef_array(self, coef, dtype, out=None):
        """The coefficients as the score products read them: :func:`dot_coef`
        for ``DOT``, :func:`grouped_coef` for ``GROUPED``, else
        :func:`transposed_coef` (same arguments)."""
        if self.products == DOT:
            return dot_coef(coef, dtype, out)
        if self.products == GROUPED:
            return grouped_coef(coef, dtype, out)
        return transposed_coef(coef, dtype, out)


# Inlined into the range kernels, as the block functions are (see
# blocks.block_scores).
@njit(inline="always", cache=True, **JIT_OPTIONS)
def dense_block_scores(X, b0, n_rows, Wt, St, n_classes, products):
    """A block's class-major scores, by GEMM or by register tiles."""
    if products == GEMM:
        blas_block_scores(X, b0, n_rows, Wt, St, n_classes)
    elif products == DOT:
        block_dot_scores(X, b0, n_rows, Wt, St, n_classes)
    elif products == GROUPED:
        block_grouped_scores(X, b0, n_rows, Wt, St, n_classes)
    else:
        block_scores(X, b0, n_rows, Wt, St, n_classes)


@njit(cache=True, **JIT_OPTIONS)
def score_buffer_rows(Wt, n_classes, products):
    """Rows of a block's class-major score buffer for the score products:
    the class padding of ``transposed_coef``, or the real classes for ``DOT``
    and ``GROUPED``."""
    if products == DOT or products == GROUPED:
        return n_classes
    return Wt.shape[1]


def dense_loss_gradient(
    X, y, soft_targets, smoothing, sample_weight, Wt, intercept, n_classes, row_block,
    class_tile, products, label_totals, grad_partials, intercept_partials,
):
    """Weighted sum of cross-entropies and per-range gradient partials.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, C order
    y : ndarray of shape (n_samples,), integer class codes in [0, n_classes)
        May be empty when soft targets are given.
    soft_targets : ndarray of shape (n_samples, n_classes) or (0, n_classes), dtype of X
    smoothing : float
        Label smoothing of the hard labels, in [0, 1).
    sample_weight : ndarray of shape (n_samples,) or (0,), dtype of X
    Wt : ndarray, dtype of X
        The coefficients as ``KernelLayout.coef_array`` lays them out for
        ``products``: of shape (n_features, kp), transposed and zero-padded
        (:func:`transposed_coef`), or for ``DOT`` of shape (n_classes, dp)
        (:func:`dot_coef`), or for ``GROUPED`` in chunks of features
        (:func:`grouped_coef`).
    intercept : ndarray of shape (n_classes,) or (0,), dtype of X
    n_classes : int
    row_block : int
        Rows per block (:class:`KernelLayout`).
    class_tile : int
        Classes per gradient tile (:class:`KernelLayout`).
    products : int or bool
        ``PANELS``, ``GEMM``, ``DOT`` or ``GROUPED`` (:class:`KernelLayout`).
    label_totals : ndarray of shape (N_ROW_RANGES, n_classes) or (0, n_classes), float64
        For hard labels, :func:`~fastsoftmax.kernels.blocks.label_weight_totals`
        (subtracted from each range's intercept partial); empty for soft targets.
    grad_partials : ndarray of shape (N_ROW_RANGES, kg, n_features), float64
        Overwritten with each range's ``sum_i s_i (p_i - t_i) x_i`` in its
        first ``n_classes`` rows (``kg``, a multiple of ``class_tile``, is
        ``KernelLayout.grad_classes``; the rows past ``n_classes`` are zero).
    intercept_partials : ndarray of shape (N_ROW_RANGES, n_classes), float64
        Overwritten with each range's ``sum_i s_i (p_i - t_i)``.

    Returns
    -------
    loss_partials : ndarray of shape (N_ROW_RANGES,), float64
        Each range's ``sum_i s_i * l_i``.
    """
    loss_partials = np.zeros(N_ROW_RANGES)
    each_range(
        _loss_gradient_range, X, y, soft_targets, smoothing, sample_weight, Wt, intercept,
        n_classes, row_block, class_tile, products, label_totals, grad_partials,
        intercept_partials, True, loss_partials,
    )
    return loss_partials


@njit(cache=True, **JIT_OPTIONS)
def _loss_gradient_range(
    r, X, y, soft_targets, smoothing, sample_weight, Wt, intercept, n_classes, row_block,
    class_tile, products, label_totals, grad_partials, intercept_partials, gradient,
    loss_partials,
):
    """Range ``r`` of :func:`dense_loss_gradient`, or with ``gradient`` False
    of :func:`dense_loss` (the partials then have no class rows)."""
    n_samples, n_features = X.shape
    use_blas = products == GEMM
    n_buffer = max(score_buffer_rows(Wt, n_classes, products), grad_partials.shape[1])
    n_scratch = n_classes if gradient and use_blas and X.itemsize == 4 else 0
    start, stop = range_bounds(n_samples, N_ROW_RANGES, r)
    # Zero rows past the real classes stay zero: the softmax never
    # writes them and the gradient tiles read them as padding. GEMM reads
    # only the real classes' rows, all written by the scores first, and the
    # loss alone reads no row past them.
    if use_blas:
        St = np.empty((n_classes, row_block), dtype=X.dtype)
    elif gradient:
        St = np.zeros((n_buffer, row_block), dtype=X.dtype)
    else:
        St = np.empty((n_buffer, row_block), dtype=X.dtype)
    buffers = np.empty((4, row_block), dtype=X.dtype)
    f32_sums = np.empty((n_scratch, n_features), dtype=X.dtype)
    pending = 0
    grad_r = grad_partials[r]
    icpt_r = intercept_partials[r]
    grad_r[:, :] = 0.0
    icpt_r[:] = 0.0
    loss_r = 0.0
    for b0 in range(start, stop, row_block):
        n_rows = min(row_block, stop - b0)
        dense_block_scores(X, b0, n_rows, Wt, St, n_classes, products)
        loss_r += block_softmax_loss(
            St, n_rows, n_classes, intercept, b0, y, soft_targets, smoothing,
            sample_weight, buffers, gradient, icpt_r,
        )
        if not gradient:
            continue
        if use_blas:
            pending = blas_block_gradient(
                St, X, b0, n_rows, n_classes, grad_r, f32_sums, pending, b0 + n_rows >= stop
            )
        else:
            block_gradient(St, X, b0, n_rows, class_tile, grad_r, min(row_block, stop - b0 - n_rows))
    if label_totals.shape[0] > 0:
        for k in range(n_classes):
            icpt_r[k] -= label_totals[r, k]
    loss_partials[r] = loss_r


def dense_loss(
    X, y, soft_targets, smoothing, sample_weight, Wt, intercept, n_classes, row_block, products,
):
    """Loss-only variant of :func:`dense_loss_gradient` (for line searches).

    Returns
    -------
    loss_partials : ndarray of shape (N_ROW_RANGES,), float64
    """
    # The loss+gradient range kernel without its gradient: the same compiled
    # code (a loss with the same bits), with no class tile and partials of
    # no classes.
    n_features = X.shape[1]
    loss_partials = np.zeros(N_ROW_RANGES)
    each_range(
        _loss_gradient_range, X, y, soft_targets, smoothing, sample_weight, Wt, intercept,
        n_classes, row_block, 0, products,
        np.empty((0, n_classes)), np.empty((N_ROW_RANGES, 0, n_features)),
        np.empty((N_ROW_RANGES, 0)), False, loss_partials,
    )
    return loss_partials


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def reduce_partials(
    grad_partials, intercept_partials, scale, coef, l2_reg_strength,
    grad_coef_out, grad_intercept_out,
):
    """Add the ranges' gradient partials in range order, scale, add the L2 term.

    Writes ``grad_coef_out = scale * sum_r grad_partials[r, :K] + l2 * coef`` and
    ``grad_intercept_out = scale * sum_r intercept_partials[r]`` (if it has
    length > 0). The order of the additions is fixed, whatever the threads.

    Parameters
    ----------
    grad_partials : ndarray of shape (n_ranges, kg >= n_classes, n_features), float64
    intercept_partials : ndarray of shape (n_ranges, n_classes), float64
    scale : float
        ``1 / sum_i s_i``.
    coef : ndarray of shape (n_classes, n_features)
    l2_reg_strength : float
    grad_coef_out : ndarray of shape (n_classes, n_features), float64
    grad_intercept_out : ndarray of shape (n_classes,) or (0,), float64
    """
    n_ranges = grad_partials.shape[0]
    n_classes, n_features = grad_coef_out.shape
    for k in prange(n_classes):
        for j in range(n_features):
            total = 0.0
            for r in range(n_ranges):
                total += grad_partials[r, k, j]
            grad_coef_out[k, j] = scale * total + l2_reg_strength * coef[k, j]
        if grad_intercept_out.shape[0] > 0:
            total = 0.0
            for r in range(n_ranges):
                total += intercept_partials[r, k]
            grad_intercept_out[k] = scale * total


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def column_second_moments(X, sample_weight):
    """``sum_i s_i x_ij^2`` for every feature, summed in a fixed order.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C order
    sample_weight : ndarray of shape (n_samples,) or (0,)

    Returns
    -------
    ndarray of shape (n_features,), float64
    """
    n_samples, n_features = X.shape
    weighted = sample_weight.shape[0] > 0
    partials = np.zeros((N_ROW_RANGES, n_features))
    for r in prange(N_ROW_RANGES):
        start, stop = range_bounds(n_samples, N_ROW_RANGES, r)
        acc = partials[r]
        rows = X[start:stop]
        weights = sample_weight[start:stop] if weighted else sample_weight
        for i in range(stop - start):
            w = weights[i] if weighted else 1.0
            row = rows[i]
            for j in range(n_features):
                value = np.float64(row[j])
                acc[j] += w * value * value
    total = np.zeros(n_features)
    for r in range(N_ROW_RANGES):
        for j in range(n_features):
            total[j] += partials[r, j]
    return total


def sum_in_order(partials):
    """Sum of a 1-D array from first to last entry, as a Python float.

    Loss partials are few (one per row range); adding them in a fixed order in
    Python keeps every caller's result identical, whatever the compiler does.
    """
    total = 0.0
    for value in partials.tolist():
        total += value
    return total


# -- prediction: the same blocks, one output row per input row ----------------

SCORES, PROBABILITIES = 0, 1


def dense_rows(X, Wt, intercept, n_classes, row_block, products, what, out):
    """Scores or probabilities of every row, written into ``out``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C order
    Wt : ndarray, dtype of X
        The coefficients as ``KernelLayout.coef_array`` lays them out.
    intercept : ndarray of shape (n_classes,) or (0,), dtype of X
    n_classes, row_block : int
    products : int or bool
        ``PANELS``, ``GEMM``, ``DOT`` or ``GROUPED`` (:class:`KernelLayout`).
    what : int
        ``SCORES`` (``X @ coef.T + intercept``) or ``PROBABILITIES`` (their
        row-wise softmax, computed while the block is in cache).
    out : ndarray of shape (n_samples, n_classes), dtype of X, C order

    Returns
    -------
    int
        Number of blocks with a non-finite score: X holds NaN or infinity
        (or values so large that scores overflow) exactly when it is not 0,
        so the caller need not scan X beforehand.
    """
    bad_blocks = np.zeros(N_ROW_RANGES, dtype=np.int64)
    shifts = class_shifts(intercept, n_classes)
    each_range(
        _rows_range, X, Wt, intercept, shifts, n_classes, row_block, products, what, out, bad_blocks,
    )
    return int(bad_blocks.sum())


@njit(cache=True, **JIT_OPTIONS)
def _rows_range(r, X, Wt, intercept, shifts, n_classes, row_block, products, what, out, bad_blocks):
    """Range ``r`` of :func:`dense_rows`, with the intercept padded as
    :func:`~fastsoftmax.kernels.blocks.class_shifts` pads it; counts its
    non-finite blocks in ``bad_blocks[r]``."""
    n_samples = X.shape[0]
    use_blas = products == GEMM
    start, stop = range_bounds(n_samples, N_ROW_RANGES, r)
    St = np.empty((0 if use_blas else score_buffer_rows(Wt, n_classes, products), row_block),
                  dtype=X.dtype)
    buffers = np.empty((2, row_block), dtype=X.dtype)
    for b0 in range(start, stop, row_block):
        n_rows = min(row_block, stop - b0)
        rows = out[b0 : b0 + n_rows]
        if use_blas:
            # Row-major scores straight into the output (see blas_blocks).
            blas_block_row_scores(X, b0, n_rows, Wt, n_classes, rows)
            if what == PROBABILITIES:
                finite = rows_softmax(rows, intercept)
            else:
                finite = rows_add_intercept(rows, intercept)
        else:
            dense_block_scores(X, b0, n_rows, Wt, St, n_classes, products)
            if what == PROBABILITIES:
                finite = block_probabilities(St, n_rows, n_classes, intercept, buffers, rows)
            else:
                finite = block_write_scores(St, n_rows, n_classes, shifts, rows)
        if not finite:
            bad_blocks[r] += 1


def dense_predict(X, Wt, intercept, n_classes, row_block, products, out):
    """Arg-max class code per row, with only a block of scores in memory.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C order
    Wt : ndarray, dtype of X
        The coefficients as ``KernelLayout.coef_array`` lays them out.
    intercept : ndarray of shape (n_classes,) or (0,), dtype of X
    n_classes, row_block : int
    products : int or bool
        ``PANELS``, ``GEMM``, ``DOT`` or ``GROUPED`` (:class:`KernelLayout`).
    out : ndarray of shape (n_samples,), int64

    Returns
    -------
    int
        Number of blocks with a non-finite score (see :func:`dense_rows`).
    """
    bad_blocks = np.zeros(N_ROW_RANGES, dtype=np.int64)
    each_range(_predict_range, X, Wt, intercept, n_classes, row_block, products, out, bad_blocks)
    return int(bad_blocks.sum())


@njit(cache=True, **JIT_OPTIONS)
def _predict_range(r, X, Wt, intercept, n_classes, row_block, products, out, bad_blocks):
    """Range ``r`` of :func:`dense_predict`; counts its non-finite blocks in ``bad_blocks[r]``."""
    n_samples = X.shape[0]
    start, stop = range_bounds(n_samples, N_ROW_RANGES, r)
    St = np.empty((score_buffer_rows(Wt, n_classes, products), row_block), dtype=X.dtype)
    buffers = np.empty((1, row_block), dtype=X.dtype)
    for b0 in range(start, stop, row_block):
        n_rows = min(row_block, stop - b0)
        dense_block_scores(X, b0, n_rows, Wt, St, n_classes, products)
        if not block_argmax(St, n_rows, n_classes, intercept, buffers, out[b0 : b0 + n_rows]):
            bad_blocks[r] += 1
