"""Parallel row-wise kernels on a given matrix of scores Z (n_samples, n_classes).

Thin ``prange`` loops over the row helpers of :mod:`fastsoftmax.kernels.rows`,
except that the softmax, log-softmax and logsumexp of rows with few classes
run the block kernels' class-major softmax on blocks of rows.
Reductions over rows (the cross-entropy) use the same fixed partition into
``N_ROW_RANGES`` ranges as the loss kernels, so they do not depend on the
number of threads.
"""

import numpy as np
from numba import njit, prange

from ._config import JIT_OPTIONS, N_ROW_RANGES
from ._partition import range_bounds
from .blocks import _add_intercept_and_max, _exp_and_sum, block_probabilities
from .elementary import fast_log
from .simd import use_full_vector_width
from .rows import (
    log_softmax_row,
    row_logsumexp,
    softmax_row,
    target_cross_entropy_row,
)


#: Rows per block of the class-major softmax, and the classes below which
#: it is used. With few classes a row is too short for vector code (at
#: K=10 in float64, one vector and two leftover lanes), while a block of
#: rows, copied class-major, runs the softmax down whole columns of rows.
SOFTMAX_BLOCK_ROWS = 256
SOFTMAX_BLOCK_MAX_CLASSES = 32


@njit(cache=True, **JIT_OPTIONS)
def _class_major(rows, St):
    """``St[k, i] = rows[i, k]``: a block of rows (n_rows, n_classes), copied
    into the first n_rows columns of ``St`` (>= n_classes, >= n_rows)."""
    for i in range(rows.shape[0]):
        for k in range(rows.shape[1]):
            St[k, i] = rows[i, k]


@njit(cache=True, **JIT_OPTIONS)
def _block_logsumexp(rows, St, buffers, lse):
    """``lse[i] = logsumexp(rows[i])`` for a block of rows (n_rows, n_classes),
    down the columns of a class-major copy in ``St``; ``buffers`` (2, >= n_rows)."""
    use_full_vector_width()
    n_rows, n_classes = rows.shape
    _class_major(rows, St)
    row_max, row_sum = buffers[0], buffers[1]
    _add_intercept_and_max(St, n_rows, n_classes, St[0, :0], row_max)
    _exp_and_sum(St, n_rows, n_classes, row_max, row_sum)
    for i in range(n_rows):
        lse[i] = row_max[i] + fast_log(row_sum[i])


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def softmax_rows(Z, out):
    """``out[i] = softmax(Z[i])`` for every row; ``out`` may be ``Z``."""
    n_samples, n_classes = Z.shape
    if n_classes >= SOFTMAX_BLOCK_MAX_CLASSES:
        for i in prange(n_samples):
            softmax_row(Z[i], out[i])
        return
    n_blocks = -(-n_samples // SOFTMAX_BLOCK_ROWS)
    for b in prange(n_blocks):
        b0 = b * SOFTMAX_BLOCK_ROWS
        rows = Z[b0 : b0 + SOFTMAX_BLOCK_ROWS]
        St = np.empty((n_classes, SOFTMAX_BLOCK_ROWS), dtype=Z.dtype)
        buffers = np.empty((2, SOFTMAX_BLOCK_ROWS), dtype=Z.dtype)
        _class_major(rows, St)
        # Z's rows are all read before out's are written, so out may be Z.
        block_probabilities(
            St, rows.shape[0], n_classes, St[0, :0], buffers, out[b0 : b0 + SOFTMAX_BLOCK_ROWS]
        )


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def log_softmax_rows(Z, out):
    """``out[i] = Z[i] - logsumexp(Z[i])`` for every row; ``out`` may be ``Z``."""
    n_samples, n_classes = Z.shape
    if n_classes >= SOFTMAX_BLOCK_MAX_CLASSES:
        for i in prange(n_samples):
            log_softmax_row(Z[i], out[i])
        return
    n_blocks = -(-n_samples // SOFTMAX_BLOCK_ROWS)
    for b in prange(n_blocks):
        b0 = b * SOFTMAX_BLOCK_ROWS
        rows = Z[b0 : b0 + SOFTMAX_BLOCK_ROWS]
        St = np.empty((n_classes, SOFTMAX_BLOCK_ROWS), dtype=Z.dtype)
        buffers = np.empty((3, SOFTMAX_BLOCK_ROWS), dtype=Z.dtype)
        lse = buffers[2]
        _block_logsumexp(rows, St, buffers, lse)
        target = out[b0 : b0 + SOFTMAX_BLOCK_ROWS]
        for i in range(rows.shape[0]):
            for k in range(n_classes):
                target[i, k] = rows[i, k] - lse[i]


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def logsumexp_rows(Z, out):
    """``out[i] = logsumexp(Z[i])`` for every row."""
    n_samples, n_classes = Z.shape
    if n_classes >= SOFTMAX_BLOCK_MAX_CLASSES:
        for i in prange(n_samples):
            out[i] = row_logsumexp(Z[i])
        return
    n_blocks = -(-n_samples // SOFTMAX_BLOCK_ROWS)
    for b in prange(n_blocks):
        b0 = b * SOFTMAX_BLOCK_ROWS
        rows = Z[b0 : b0 + SOFTMAX_BLOCK_ROWS]
        St = np.empty((n_classes, SOFTMAX_BLOCK_ROWS), dtype=Z.dtype)
        buffers = np.empty((2, SOFTMAX_BLOCK_ROWS), dtype=Z.dtype)
        _block_logsumexp(rows, St, buffers, out[b0 : b0 + SOFTMAX_BLOCK_ROWS])


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def cross_entropy_sum(Z, y, soft_targets, smoothing, sample_weight):
    """``sum_i s_i * sum_k t_ik * (logsumexp(Z[i]) - Z[i, k])`` in float64.

    The targets ``t_i`` are the rows of ``soft_targets`` (n_samples,
    n_classes) or, when it has no rows, ``onehot(y[i])`` smoothed by
    ``smoothing`` (for plain labels: ``logsumexp(Z[i]) - Z[i, y[i]]``); see
    :func:`fastsoftmax.kernels.rows.target_cross_entropy_row`.
    ``sample_weight`` has length ``n_samples`` or 0 (all ones).
    """
    n_samples, n_classes = Z.shape
    weighted = sample_weight.shape[0] > 0
    soft = soft_targets.shape[0] > 0
    no_targets = np.empty(0, dtype=soft_targets.dtype)
    partials = np.zeros(N_ROW_RANGES)
    for r in prange(N_ROW_RANGES):
        start, stop = range_bounds(n_samples, N_ROW_RANGES, r)
        scratch = np.empty(n_classes, dtype=Z.dtype)
        total = 0.0
        for i in range(start, stop):
            w = sample_weight[i] if weighted else 1.0
            if w != 0:  # a zero weight removes the row, even an infinite loss
                label = 0 if soft else y[i]
                q = soft_targets[i] if soft else no_targets
                total += w * target_cross_entropy_row(Z[i], label, q, smoothing, scratch)
        partials[r] = total
    result = 0.0
    for r in range(N_ROW_RANGES):
        result += partials[r]
    return result
