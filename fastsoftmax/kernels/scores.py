"""Parallel row-wise kernels on a given matrix of scores Z (n_samples, n_classes).

Thin ``prange`` loops over the row helpers of :mod:`fastsoftmax.kernels.rows`,
except :func:`softmax_rows` with few classes, which runs the block kernels'
class-major softmax on blocks of rows.
Reductions over rows (the cross-entropy) use the same fixed partition into
``N_ROW_RANGES`` ranges as the loss kernels, so they do not depend on the
number of threads.
"""

import numpy as np
from numba import njit, prange

from ._config import JIT_OPTIONS, N_ROW_RANGES
from ._partition import range_bounds
from .blocks import block_probabilities
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


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def softmax_rows(Z, out):
    """``out[i] = softmax(Z[i])`` for every row; ``out`` may be ``Z``."""
    n_samples, n_classes = Z.shape
    if n_classes >= SOFTMAX_BLOCK_MAX_CLASSES:
        for i in prange(n_samples):
            softmax_row(Z[i], out[i])
        return
    no_intercept = np.empty(0, dtype=Z.dtype)
    n_blocks = -(-n_samples // SOFTMAX_BLOCK_ROWS)
    for b in prange(n_blocks):
        b0 = b * SOFTMAX_BLOCK_ROWS
        n_rows = min(SOFTMAX_BLOCK_ROWS, n_samples - b0)
        St = np.empty((n_classes, SOFTMAX_BLOCK_ROWS), dtype=Z.dtype)
        buffers = np.empty((2, SOFTMAX_BLOCK_ROWS), dtype=Z.dtype)
        rows = Z[b0 : b0 + n_rows]
        for i in range(n_rows):
            for k in range(n_classes):
                St[k, i] = rows[i, k]
        # Z's rows are all read before out's are written, so out may be Z.
        block_probabilities(St, n_rows, n_classes, no_intercept, buffers, out[b0 : b0 + n_rows])


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def log_softmax_rows(Z, out):
    """``out[i] = Z[i] - logsumexp(Z[i])`` for every row; ``out`` may be ``Z``."""
    for i in prange(Z.shape[0]):
        log_softmax_row(Z[i], out[i])


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def logsumexp_rows(Z, out):
    """``out[i] = logsumexp(Z[i])`` for every row."""
    for i in prange(Z.shape[0]):
        out[i] = row_logsumexp(Z[i])


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
