"""Parallel row-wise kernels on a given matrix of scores Z (n_samples, n_classes).

Thin ``prange`` loops over the row helpers of :mod:`fastsoftmax.kernels.rows`.
Reductions over rows (the cross-entropy) use the same fixed partition into
``N_ROW_RANGES`` ranges as the loss kernels, so they do not depend on the
number of threads.
"""

import numpy as np
from numba import njit, prange

from ._config import JIT_OPTIONS, N_ROW_RANGES
from ._partition import range_bounds
from .rows import (
    log_softmax_row,
    row_logsumexp,
    softmax_row,
    target_cross_entropy_row,
)


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def softmax_rows(Z, out):
    """``out[i] = softmax(Z[i])`` for every row; ``out`` may be ``Z``."""
    for i in prange(Z.shape[0]):
        softmax_row(Z[i], out[i])


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
