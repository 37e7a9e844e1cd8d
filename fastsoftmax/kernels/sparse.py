"""Fused loss/gradient and prediction kernels for CSR X.

Design
------
One evaluation visits every stored entry of X once. The rows are split into
a fixed number of contiguous ranges (``n_ranges``, chosen from the shape by
the caller, never from the thread count) and ``prange`` runs over them. For
each row, in one visit of its stored entries:

1. ``z = intercept + sum_p data[p] * coef_t[indices[p], :]``;
2. in place: stable softmax and cross-entropy, then
   ``z = s_i * (softmax(z) - t_i)`` with the target ``t_i`` as in
   :mod:`fastsoftmax.kernels.dense` (hard label, smoothed label, or soft row);
3. ``grad_t[indices[p], :] += data[p] * z`` into the range's float64 partial.

The parameters are used transposed, ``coef_t`` of shape (n_features,
n_classes), so that both the gather in 1 and the scatter in 3 touch ``K``
contiguous numbers per stored entry; up to 32 classes (64 for a float32
gather) those rows are held in vector registers and the row of an entry 24
ahead is prefetched (:mod:`fastsoftmax.kernels.sparse_simd`). The partials are added in range order
by :func:`reduce_transposed_partials`, so results do not depend on the thread
count. Their memory is ``n_ranges * n_features * n_classes`` float64, which
for wide data (d in the hundreds of thousands) is why the caller lowers
``n_ranges`` there; the n-by-K scores are never formed.

Duplicate column indices in a row add up (as scipy does), explicit zeros
contribute nothing, and indices need not be sorted. float32 data is computed
in float32 (scores and softmax); the gradient is accumulated in float64.
"""

import numpy as np
from numba import njit, prange

from ._config import JIT_OPTIONS
from ._partition import range_bounds
from .rows import row_argmax, softmax_row, target_cross_entropy_row
from .simd import prefetch
from .sparse_simd import PREFETCH_ENTRIES, make_row_gather, make_row_scatter, register_lanes

# Rows of up to 4 registers of classes in registers (32 float64 or 64 float32
# classes for the gather, 32 for the float64 scatter); wider rows fall back
# to loops over the classes.
_GATHER_1, _GATHER_2, _GATHER_3, _GATHER_4 = (make_row_gather(n) for n in (1, 2, 3, 4))
_SCATTER_1, _SCATTER_2, _SCATTER_3, _SCATTER_4 = (make_row_scatter(n) for n in (1, 2, 3, 4))
_LANES_64 = register_lanes(8)
_LANES_32 = register_lanes(4)


@njit(cache=True, **JIT_OPTIONS)
def _prefetch_row_of(table, indices, p, n_stored):
    """Prefetch the row ``table[indices[p + PREFETCH_ENTRIES]]`` (all its lines)."""
    ahead = p + PREFETCH_ENTRIES
    if ahead < n_stored:
        width = table.shape[1]
        base = np.int64(indices[ahead]) * width
        for offset in range(0, width, 64 // table.itemsize):
            prefetch(table, base + offset)
        prefetch(table, base + width - 1)


@njit(cache=True, **JIT_OPTIONS)
def _gather_row(data, indices, start, stop, coef_t, z):
    """``z = sum_p data[p] * coef_t[indices[p]]`` over ``[start, stop)``."""
    n_classes = z.shape[0]
    lanes = _LANES_64 if data.itemsize == 8 else _LANES_32
    n_vectors = -(-n_classes // lanes)
    if n_vectors == 1:
        _GATHER_1(data, indices, start, stop, coef_t, z, n_classes)
    elif n_vectors == 2:
        _GATHER_2(data, indices, start, stop, coef_t, z, n_classes)
    elif n_vectors == 3:
        _GATHER_3(data, indices, start, stop, coef_t, z, n_classes)
    elif n_vectors == 4:
        _GATHER_4(data, indices, start, stop, coef_t, z, n_classes)
    else:
        z[:] = 0
        n_stored = indices.shape[0]
        for p in range(start, stop):
            _prefetch_row_of(coef_t, indices, p, n_stored)
            value = data[p]
            w = coef_t[np.uint64(indices[p])]
            for k in range(n_classes):
                z[k] += value * w[k]


@njit(cache=True, **JIT_OPTIONS)
def _scatter_row(data, indices, start, stop, grad_t, z):
    """``grad_t[indices[p]] += data[p] * z`` over ``[start, stop)``, in grad_t's dtype."""
    n_classes = z.shape[0]
    n_vectors = -(-n_classes // (_LANES_64 if grad_t.itemsize == 8 else _LANES_32))
    if n_vectors == 1:
        _SCATTER_1(data, indices, start, stop, grad_t, z, n_classes)
    elif n_vectors == 2:
        _SCATTER_2(data, indices, start, stop, grad_t, z, n_classes)
    elif n_vectors == 3:
        _SCATTER_3(data, indices, start, stop, grad_t, z, n_classes)
    elif n_vectors == 4:
        _SCATTER_4(data, indices, start, stop, grad_t, z, n_classes)
    else:
        n_stored = indices.shape[0]
        for p in range(start, stop):
            _prefetch_row_of(grad_t, indices, p, n_stored)
            value = data[p]
            g = grad_t[np.uint64(indices[p])]
            for k in range(n_classes):
                g[k] += value * z[k]


@njit(cache=True, **JIT_OPTIONS)
def _row_scores(data, indices, start, stop, coef_t, intercept, z):
    """``z = intercept + X[i] @ coef_t`` for the row stored in ``[start, stop)``."""
    _gather_row(data, indices, start, stop, coef_t, z)
    if intercept.shape[0] > 0:
        for k in range(z.shape[0]):
            z[k] += intercept[k]


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def csr_loss_gradient(
    data, indices, indptr, y, soft_targets, smoothing, sample_weight, coef_t, intercept,
    grad_t_partials, intercept_partials,
):
    """Weighted sum of cross-entropies and per-range transposed gradient partials.

    Parameters
    ----------
    data, indices, indptr : ndarrays
        The CSR arrays of X (n_samples, n_features); data float32 or float64.
    y : ndarray of shape (n_samples,), integer class codes (may be empty with soft targets)
    soft_targets : ndarray of shape (n_samples, n_classes) or (0, n_classes), dtype of data
    smoothing : float
        Label smoothing of the hard labels, in [0, 1).
    sample_weight : ndarray of shape (n_samples,) or (0,), dtype of data
    coef_t : ndarray of shape (n_features, n_classes), dtype of data
    intercept : ndarray of shape (n_classes,) or (0,), dtype of data
    grad_t_partials : ndarray of shape (n_ranges, n_features, n_classes), float64
        Overwritten with each range's ``sum_i s_i x_i (p_i - t_i)^T``.
    intercept_partials : ndarray of shape (n_ranges, n_classes), float64
        Overwritten with each range's ``sum_i s_i (p_i - t_i)``.

    Returns
    -------
    loss_partials : ndarray of shape (n_ranges,), float64
    """
    n_samples = indptr.shape[0] - 1
    n_ranges, _, n_classes = grad_t_partials.shape
    weighted = sample_weight.shape[0] > 0
    soft = soft_targets.shape[0] > 0
    no_targets = np.empty(0, dtype=soft_targets.dtype)
    loss_partials = np.zeros(n_ranges)
    for r in prange(n_ranges):
        start, stop = range_bounds(n_samples, n_ranges, r)
        z = np.empty(n_classes, dtype=data.dtype)
        grad_r = grad_t_partials[r]
        icpt_r = intercept_partials[r]
        grad_r[:, :] = 0.0
        icpt_r[:] = 0.0
        loss_r = 0.0
        for i in range(start, stop):
            w = sample_weight[i] if weighted else data.dtype.type(1)
            p0, p1 = indptr[i], indptr[i + 1]
            _row_scores(data, indices, p0, p1, coef_t, intercept, z)
            label = 0 if soft else y[i]
            q = soft_targets[i] if soft else no_targets
            loss_r += w * target_cross_entropy_row(z, label, q, smoothing, z)
            for k in range(n_classes):
                z[k] *= w
                icpt_r[k] += z[k]
            _scatter_row(data, indices, p0, p1, grad_r, z)
        loss_partials[r] = loss_r
    return loss_partials


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def csr_loss(
    data, indices, indptr, y, soft_targets, smoothing, sample_weight, coef_t, intercept,
    n_ranges,
):
    """Loss-only variant of :func:`csr_loss_gradient` (for line searches).

    Returns
    -------
    loss_partials : ndarray of shape (n_ranges,), float64
    """
    n_samples = indptr.shape[0] - 1
    n_classes = coef_t.shape[1]
    weighted = sample_weight.shape[0] > 0
    soft = soft_targets.shape[0] > 0
    no_targets = np.empty(0, dtype=soft_targets.dtype)
    loss_partials = np.zeros(n_ranges)
    for r in prange(n_ranges):
        start, stop = range_bounds(n_samples, n_ranges, r)
        z = np.empty(n_classes, dtype=data.dtype)
        loss_r = 0.0
        for i in range(start, stop):
            w = sample_weight[i] if weighted else data.dtype.type(1)
            _row_scores(data, indices, indptr[i], indptr[i + 1], coef_t, intercept, z)
            label = 0 if soft else y[i]
            q = soft_targets[i] if soft else no_targets
            loss_r += w * target_cross_entropy_row(z, label, q, smoothing, z)
        loss_partials[r] = loss_r
    return loss_partials


#: Row ranges of :func:`csr_column_second_moments` (each holds a partial of
#: ``n_features`` float64).
MOMENT_RANGES = 8


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def csr_column_second_moments(data, indices, indptr, sample_weight, n_features):
    """``sum_i s_i x_ij^2`` for every column of CSR X, summed in a fixed order.

    Parameters
    ----------
    data, indices, indptr : ndarrays
        The CSR arrays of X (n_samples, n_features).
    sample_weight : ndarray of shape (n_samples,) or (0,)
    n_features : int

    Returns
    -------
    ndarray of shape (n_features,), float64
    """
    n_samples = indptr.shape[0] - 1
    weighted = sample_weight.shape[0] > 0
    partials = np.zeros((MOMENT_RANGES, n_features))
    for r in prange(MOMENT_RANGES):
        start, stop = range_bounds(n_samples, MOMENT_RANGES, r)
        acc = partials[r]
        for i in range(start, stop):
            w = np.float64(sample_weight[i]) if weighted else 1.0
            for p in range(indptr[i], indptr[i + 1]):
                value = np.float64(data[p])
                acc[np.uint64(indices[p])] += w * value * value
    total = np.zeros(n_features)
    for r in range(MOMENT_RANGES):
        for j in range(n_features):
            total[j] += partials[r, j]
    return total


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def reduce_transposed_partials(
    grad_t_partials, intercept_partials, scale, grad_coef_out, grad_intercept_out
):
    """``grad_coef_out[k, j] = scale * sum_r grad_t_partials[r, j, k]``, in range order.

    Parameters
    ----------
    grad_t_partials : ndarray of shape (n_ranges, n_features, n_classes), float64
    intercept_partials : ndarray of shape (n_ranges, n_classes), float64
    scale : float
    grad_coef_out : ndarray of shape (n_classes, n_features), float64
    grad_intercept_out : ndarray of shape (n_classes,) or (0,), float64
    """
    n_ranges, n_features, n_classes = grad_t_partials.shape
    for j in prange(n_features):
        for k in range(n_classes):
            total = 0.0
            for r in range(n_ranges):
                total += grad_t_partials[r, j, k]
            grad_coef_out[k, j] = scale * total
    if grad_intercept_out.shape[0] > 0:
        for k in range(n_classes):
            total = 0.0
            for r in range(n_ranges):
                total += intercept_partials[r, k]
            grad_intercept_out[k] = scale * total


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def csr_scores(data, indices, indptr, coef_t, intercept, out):
    """Scores ``X @ coef_t + intercept`` of CSR X written into ``out`` (n_samples, K)."""
    for i in prange(indptr.shape[0] - 1):
        _row_scores(data, indices, indptr[i], indptr[i + 1], coef_t, intercept, out[i])


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def csr_proba(data, indices, indptr, coef_t, intercept, out):
    """Probabilities ``softmax(X @ coef_t + intercept)`` written into ``out``."""
    for i in prange(indptr.shape[0] - 1):
        _row_scores(data, indices, indptr[i], indptr[i + 1], coef_t, intercept, out[i])
        softmax_row(out[i], out[i])


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def csr_predict(data, indices, indptr, coef_t, intercept, out):
    """Arg-max class code per row into ``out`` (n_samples,), one row of scores at a time."""
    n_samples = indptr.shape[0] - 1
    n_classes = coef_t.shape[1]
    n_chunks = min(n_samples, 256)
    for c in prange(n_chunks):
        z = np.empty(n_classes, dtype=data.dtype)
        start, stop = range_bounds(n_samples, n_chunks, c)
        for i in range(start, stop):
            _row_scores(data, indices, indptr[i], indptr[i + 1], coef_t, intercept, z)
            out[i] = row_argmax(z)
