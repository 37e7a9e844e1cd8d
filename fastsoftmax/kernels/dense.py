"""Fused loss/gradient and prediction kernels for dense, C-contiguous X.

Design
------
One evaluation reads X once. The rows are split into ``N_ROW_RANGES``
contiguous ranges (a constant, not the thread count) and ``prange`` runs over
the ranges. Inside a range the rows are visited in blocks small enough that a
block of X stays in L2 cache between the two matrix products that touch it:

1. ``Z = X_block @ coef.T + intercept`` (register-tiled loops for few
   classes, BLAS GEMM with BLAS on one thread for many);
2. per row, in place: stable softmax and cross-entropy, then
   ``Z[i] = s_i * (softmax(z_i) - t_i)``, the row's gradient factor, where the
   target ``t_i`` is ``onehot(y_i)`` (label-smoothed if asked) or a row of
   soft targets;
3. ``G = Z.T @ X_block`` (the same choice), added into the range's float64
   partial.

The caller adds the ranges' partials in range order (``reduce_partials``), so
the result is bit-identical for any number of threads. Extra memory is
``N_ROW_RANGES * n_classes * n_features`` float64 for the partials plus one
block buffer per running range, independent of ``n_samples``; the n-by-K
score matrix is never formed.

Inside a block all arithmetic is in X's dtype (float32 X: float32 GEMMs and
exponentials); block results go into float64 accumulators. The BLAS calls run
inside ``prange``, so the caller must hold BLAS to one thread
(``threadpoolctl``), which ``fastsoftmax._threads.kernel_threads`` does.

Sample weights are an array of length ``n_samples`` or of length 0 (all ones);
the intercept likewise is of length ``n_classes`` or 0 (no intercept). Soft
targets are an array of shape (n_samples, n_classes), or of shape (0,
n_classes) when the hard labels ``y`` (smoothed by ``smoothing``) are used.
"""

import numpy as np
from numba import njit, prange

from ._config import (
    JIT_OPTIONS,
    MAX_CLASSES_FOR_TILES,
    MAX_ROW_BLOCK,
    MIN_ROW_BLOCK,
    N_ROW_RANGES,
    ROW_BLOCK_BYTES,
)
from ._partition import range_bounds
from .rows import row_argmax, softmax_row, target_cross_entropy_row
from .tiles import tiled_gradient, tiled_scores


def row_block_size(n_features, itemsize):
    """Rows per block so that one block of X is about ``ROW_BLOCK_BYTES``."""
    rows = ROW_BLOCK_BYTES // max(1, n_features * itemsize)
    return int(min(MAX_ROW_BLOCK, max(MIN_ROW_BLOCK, rows)))


def use_blas_for(n_classes):
    """Whether the block products go to BLAS (many classes) or to the
    register-tiled loops of :mod:`fastsoftmax.kernels.tiles` (few classes)."""
    return n_classes > MAX_CLASSES_FOR_TILES


@njit(cache=True, **JIT_OPTIONS)
def _block_scores(x_block, coef, intercept, z_block, use_blas):
    """``z_block = x_block @ coef.T + intercept``."""
    if use_blas:
        np.dot(x_block, coef.T, z_block)
    else:
        tiled_scores(x_block, coef, z_block)
    if intercept.shape[0] > 0:
        for i in range(z_block.shape[0]):
            for k in range(z_block.shape[1]):
                z_block[i, k] += intercept[k]


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def dense_loss_gradient(
    X, y, soft_targets, smoothing, sample_weight, coef, intercept, row_block, use_blas,
    grad_partials, intercept_partials,
):
    """Weighted sum of cross-entropies and per-range gradient partials.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, C order
    y : ndarray of shape (n_samples,), integer class codes in [0, n_classes)
        May be empty when soft targets are given.
    soft_targets : ndarray of shape (n_samples, n_classes) or (0, n_classes), dtype of X
        Rows of target probabilities, or empty to use ``y``.
    smoothing : float
        Label smoothing of the hard labels, in [0, 1).
    sample_weight : ndarray of shape (n_samples,) or (0,), dtype of X
    coef : ndarray of shape (n_classes, n_features), dtype of X
    intercept : ndarray of shape (n_classes,) or (0,), dtype of X
    row_block : int
        Rows per block.
    use_blas : bool
        BLAS GEMM for the block products, or the tiled loops (see
        :func:`use_blas_for`).
    grad_partials : ndarray of shape (N_ROW_RANGES, n_classes, n_features), float64
        Overwritten with each range's ``sum_i s_i (p_i - t_i) x_i``.
    intercept_partials : ndarray of shape (N_ROW_RANGES, n_classes), float64
        Overwritten with each range's ``sum_i s_i (p_i - t_i)``.

    Returns
    -------
    loss_partials : ndarray of shape (N_ROW_RANGES,), float64
        Each range's ``sum_i s_i * l_i``.
    """
    n_samples, n_features = X.shape
    n_classes = coef.shape[0]
    weighted = sample_weight.shape[0] > 0
    soft = soft_targets.shape[0] > 0
    no_targets = np.empty(0, dtype=soft_targets.dtype)
    loss_partials = np.zeros(N_ROW_RANGES)
    for r in prange(N_ROW_RANGES):
        start, stop = range_bounds(n_samples, N_ROW_RANGES, r)
        scores = np.empty((row_block, n_classes), dtype=X.dtype)
        block_grad = np.empty((n_classes, n_features), dtype=X.dtype)
        grad_r = grad_partials[r]
        icpt_r = intercept_partials[r]
        grad_r[:, :] = 0.0
        icpt_r[:] = 0.0
        loss_r = 0.0
        for b0 in range(start, stop, row_block):
            b1 = min(b0 + row_block, stop)
            x_block = X[b0:b1]
            z_block = scores[: b1 - b0]
            _block_scores(x_block, coef, intercept, z_block, use_blas)
            for i in range(b1 - b0):
                z = z_block[i]
                label = 0 if soft else y[b0 + i]
                q = soft_targets[b0 + i] if soft else no_targets
                w = sample_weight[b0 + i] if weighted else X.dtype.type(1)
                # z becomes the gradient factor softmax(z) - t, in place.
                loss_r += w * target_cross_entropy_row(z, label, q, smoothing, z)
                for k in range(n_classes):
                    z[k] *= w
                    icpt_r[k] += z[k]
            if use_blas:
                np.dot(z_block.T, x_block, block_grad)
            else:
                tiled_gradient(z_block, x_block, block_grad)
            for k in range(n_classes):
                for j in range(n_features):
                    grad_r[k, j] += block_grad[k, j]
        loss_partials[r] = loss_r
    return loss_partials


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def dense_loss(
    X, y, soft_targets, smoothing, sample_weight, coef, intercept, row_block, use_blas
):
    """Loss-only variant of :func:`dense_loss_gradient` (for line searches).

    Returns
    -------
    loss_partials : ndarray of shape (N_ROW_RANGES,), float64
    """
    n_samples = X.shape[0]
    n_classes = coef.shape[0]
    weighted = sample_weight.shape[0] > 0
    soft = soft_targets.shape[0] > 0
    no_targets = np.empty(0, dtype=soft_targets.dtype)
    loss_partials = np.zeros(N_ROW_RANGES)
    for r in prange(N_ROW_RANGES):
        start, stop = range_bounds(n_samples, N_ROW_RANGES, r)
        scores = np.empty((row_block, n_classes), dtype=X.dtype)
        loss_r = 0.0
        for b0 in range(start, stop, row_block):
            b1 = min(b0 + row_block, stop)
            z_block = scores[: b1 - b0]
            _block_scores(X[b0:b1], coef, intercept, z_block, use_blas)
            for i in range(b1 - b0):
                w = sample_weight[b0 + i] if weighted else X.dtype.type(1)
                label = 0 if soft else y[b0 + i]
                q = soft_targets[b0 + i] if soft else no_targets
                z = z_block[i]
                loss_r += w * target_cross_entropy_row(z, label, q, smoothing, z)
        loss_partials[r] = loss_r
    return loss_partials


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def reduce_partials(
    grad_partials, intercept_partials, scale, coef, l2_reg_strength,
    grad_coef_out, grad_intercept_out,
):
    """Add the ranges' gradient partials in range order, scale, add the L2 term.

    Writes ``grad_coef_out = scale * sum_r grad_partials[r] + l2 * coef`` and
    ``grad_intercept_out = scale * sum_r intercept_partials[r]`` (if it has
    length > 0). The order of the additions is fixed, whatever the threads.

    Parameters
    ----------
    grad_partials : ndarray of shape (n_ranges, n_classes, n_features), float64
    intercept_partials : ndarray of shape (n_ranges, n_classes), float64
    scale : float
        ``1 / sum_i s_i``.
    coef : ndarray of shape (n_classes, n_features)
    l2_reg_strength : float
    grad_coef_out : ndarray of shape (n_classes, n_features), float64
    grad_intercept_out : ndarray of shape (n_classes,) or (0,), float64
    """
    n_ranges, n_classes, n_features = grad_partials.shape
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


def sum_in_order(partials):
    """Sum of a 1-D array from first to last entry, as a Python float.

    Loss partials are few (one per row range); adding them in a fixed order in
    Python keeps every caller's result identical, whatever the compiler does.
    """
    total = 0.0
    for value in partials.tolist():
        total += value
    return total


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def dense_scores(X, coef, intercept, row_block, use_blas, out):
    """Scores ``X @ coef.T + intercept`` written into ``out``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C order
    coef : ndarray of shape (n_classes, n_features), dtype of X
    intercept : ndarray of shape (n_classes,) or (0,), dtype of X
    row_block : int
    use_blas : bool
    out : ndarray of shape (n_samples, n_classes), dtype of X, C order
    """
    n_samples = X.shape[0]
    n_blocks = (n_samples + row_block - 1) // row_block
    for blk in prange(n_blocks):
        b0 = blk * row_block
        b1 = min(b0 + row_block, n_samples)
        z_block = out[b0:b1]
        _block_scores(X[b0:b1], coef, intercept, z_block, use_blas)


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def dense_proba(X, coef, intercept, row_block, use_blas, out):
    """Class probabilities ``softmax(X @ coef.T + intercept)`` written into ``out``.

    Each block's scores are turned into probabilities while still in cache.
    Parameters as for :func:`dense_scores`.
    """
    n_samples = X.shape[0]
    n_blocks = (n_samples + row_block - 1) // row_block
    for blk in prange(n_blocks):
        b0 = blk * row_block
        b1 = min(b0 + row_block, n_samples)
        z_block = out[b0:b1]
        _block_scores(X[b0:b1], coef, intercept, z_block, use_blas)
        for i in range(b1 - b0):
            softmax_row(z_block[i], z_block[i])


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def dense_predict(X, coef, intercept, row_block, use_blas, out):
    """Arg-max class code per row, with only a block of scores in memory.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C order
    coef : ndarray of shape (n_classes, n_features), dtype of X
    intercept : ndarray of shape (n_classes,) or (0,), dtype of X
    row_block : int
    use_blas : bool
    out : ndarray of shape (n_samples,), int64
    """
    n_samples = X.shape[0]
    n_classes = coef.shape[0]
    n_blocks = (n_samples + row_block - 1) // row_block
    for blk in prange(n_blocks):
        b0 = blk * row_block
        b1 = min(b0 + row_block, n_samples)
        z_block = np.empty((b1 - b0, n_classes), dtype=X.dtype)
        _block_scores(X[b0:b1], coef, intercept, z_block, use_blas)
        for i in range(b1 - b0):
            out[b0 + i] = row_argmax(z_block[i])
