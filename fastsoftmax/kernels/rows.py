"""Row helpers: stable softmax arithmetic on one row of scores.

These are the building blocks of every kernel in this package and part of the
public backend: they are plain ``numba.njit`` functions (not parallel), so a user's
own compiled code can call them::

    from numba import njit
    from fastsoftmax.kernels.rows import row_logsumexp

    @njit(cache=True)
    def mean_logsumexp(Z):
        total = 0.0
        for i in range(Z.shape[0]):
            total += row_logsumexp(Z[i])
        return total / Z.shape[0]

Every helper works in the dtype of its input row (float32 rows give float32
arithmetic) and is stable: the row maximum is subtracted before ``exp``, so
scores of +-1e4 do not overflow and a row of ``-inf`` except one entry gives
probability exactly 1 for that entry. A row whose scores are all ``-inf`` has
no defined softmax; the helpers then return NaN probabilities and a
log-sum-exp of ``-inf``.

Their exponentials and logarithms are the vectorisable ``fast_exp`` and
``fast_log`` of :mod:`fastsoftmax.kernels.elementary` (within 1-2 ulp of the
C library's), not Numba's ``np.exp``, a call of the C library per entry:
measured before and after in docs/performance.md ("Backend functions on
given scores").
"""

import numpy as np
from numba import njit

from ._config import JIT_OPTIONS
from .elementary import fast_exp, fast_log


@njit(cache=True, **JIT_OPTIONS)
def row_max(z):
    """Largest entry of a 1-D array of scores.

    Parameters
    ----------
    z : ndarray of shape (n_classes,)
        Scores of one row, float32 or float64.

    Returns
    -------
    float
        ``max(z)``; ``-inf`` if every entry is ``-inf``.
    """
    m = z[0]
    for k in range(1, z.shape[0]):
        m = max(m, z[k])
    return m


@njit(cache=True, **JIT_OPTIONS)
def row_argmax(z):
    """Index of the first largest entry of a 1-D array of scores.

    Parameters
    ----------
    z : ndarray of shape (n_classes,)
        Scores of one row, float32 or float64.

    Returns
    -------
    int
        ``argmax(z)``: the smallest index among equal largest entries.
    """
    best = 0
    m = z[0]
    for k in range(1, z.shape[0]):
        if z[k] > m:
            m = z[k]
            best = k
    return best


@njit(cache=True, **JIT_OPTIONS)
def _sum_exp_shifted(z, m):
    total = z.dtype.type(0)
    for k in range(z.shape[0]):
        total += fast_exp(z[k] - m)
    return total


@njit(cache=True, **JIT_OPTIONS)
def _softmax_shifted(z, m, out):
    """Write ``softmax(z)`` into ``out`` given ``m = max(z)``; return
    ``sum(exp(z - m))``. Each entry of ``z`` is read before ``out`` is written."""
    total = z.dtype.type(0)
    for k in range(z.shape[0]):
        e = fast_exp(z[k] - m)
        out[k] = e
        total += e
    inv_total = z.dtype.type(1) / total
    for k in range(z.shape[0]):
        out[k] *= inv_total
    return total


@njit(cache=True, **JIT_OPTIONS)
def row_logsumexp(z):
    """Stable ``log(sum(exp(z)))`` of a 1-D array of scores.

    Parameters
    ----------
    z : ndarray of shape (n_classes,)
        Scores of one row, float32 or float64.

    Returns
    -------
    float
        In the dtype of ``z``; ``-inf`` if every entry is ``-inf``.
    """
    m = row_max(z)
    if m == -np.inf:
        return m
    return m + fast_log(_sum_exp_shifted(z, m))


@njit(cache=True, **JIT_OPTIONS)
def softmax_row(z, out):
    """Write ``softmax(z)`` into ``out`` and return ``logsumexp(z)``.

    ``out`` may be ``z`` itself (in-place softmax): each entry is read before
    it is written.

    Parameters
    ----------
    z : ndarray of shape (n_classes,)
        Scores of one row, float32 or float64.
    out : ndarray of shape (n_classes,)
        Receives the probabilities; same dtype as ``z``.

    Returns
    -------
    float
        ``logsumexp(z)``, computed on the way at no extra cost.
    """
    m = row_max(z)
    return m + fast_log(_softmax_shifted(z, m, out))


@njit(cache=True, **JIT_OPTIONS)
def log_softmax_row(z, out):
    """Write ``log(softmax(z)) = z - logsumexp(z)`` into ``out``.

    ``out`` may be ``z`` itself.

    Parameters
    ----------
    z : ndarray of shape (n_classes,)
        Scores of one row, float32 or float64.
    out : ndarray of shape (n_classes,)
        Receives the log-probabilities; same dtype as ``z``.

    Returns
    -------
    float
        ``logsumexp(z)``.
    """
    lse = row_logsumexp(z)
    for k in range(z.shape[0]):
        out[k] = z[k] - lse
    return lse


@njit(cache=True, **JIT_OPTIONS)
def cross_entropy_row(z, label):
    """Cross-entropy ``logsumexp(z) - z[label]`` of one row of scores.

    Computed as ``(max(z) - z[label]) + log(sum(exp(z - max(z))))`` so that the
    large terms cancel before the small one is added: exact to rounding in
    float32 even for scores near 1e4.

    Parameters
    ----------
    z : ndarray of shape (n_classes,)
        Scores of one row, float32 or float64.
    label : int
        Class code in ``[0, n_classes)``.

    Returns
    -------
    float
        The row's cross-entropy, in the dtype of ``z``.
    """
    m = row_max(z)
    return (m - z[label]) + fast_log(_sum_exp_shifted(z, m))


@njit(cache=True, **JIT_OPTIONS)
def softmax_cross_entropy_row(z, label, out):
    """Fused softmax and cross-entropy of one row: the heart of the loss kernels.

    Writes ``softmax(z)`` into ``out`` (which may be ``z``) and returns
    ``logsumexp(z) - z[label]`` (computed as in :func:`cross_entropy_row`),
    with one ``exp`` per class.

    Parameters
    ----------
    z : ndarray of shape (n_classes,)
        Scores of one row, float32 or float64.
    label : int
        Class code in ``[0, n_classes)``.
    out : ndarray of shape (n_classes,)
        Receives the probabilities; same dtype as ``z``.

    Returns
    -------
    float
        The row's cross-entropy, in the dtype of ``z``.
    """
    m = row_max(z)
    margin = m - z[label]  # read before an in-place softmax overwrites z
    return margin + fast_log(_softmax_shifted(z, m, out))


@njit(cache=True, **JIT_OPTIONS)
def target_cross_entropy_row(z, label, q, smoothing, out):
    """Fused softmax, cross-entropy and gradient factor against a target distribution.

    The target ``t`` is the row ``q`` of soft targets when ``q`` has entries,
    otherwise the hard label smoothed: ``(1 - smoothing) * onehot(label) +
    smoothing / n_classes``. Writes ``softmax(z) * sum(t) - t`` (the gradient of
    the loss with respect to ``z``) into ``out``, which may be ``z``, and
    returns ``sum_k t_k * (logsumexp(z) - z_k)``.

    The large terms cancel first, as in :func:`cross_entropy_row`: the loss is
    ``sum_k t_k * (max(z) - z_k) + sum(t) * log(sum(exp(z - max(z))))``, and
    classes with ``t_k = 0`` are skipped, so a ``-inf`` score there is fine.

    Parameters
    ----------
    z : ndarray of shape (n_classes,)
        Scores of one row, float32 or float64.
    label : int
        Class code; read only when ``q`` is empty.
    q : ndarray of shape (n_classes,) or (0,)
        Soft targets of the row (non-negative), or empty for a hard label.
    smoothing : float
        Label smoothing in ``[0, 1)`` for a hard label.
    out : ndarray of shape (n_classes,)
        Receives the gradient factor ``softmax(z) * sum(t) - t``; same dtype
        as ``z``.

    Returns
    -------
    float
        The row's cross-entropy against ``t``, in the dtype of ``z``.
    """
    n_classes = z.shape[0]
    m = row_max(z)
    soft = q.shape[0] > 0
    # Read z before an in-place softmax overwrites it.
    margin = 0.0
    total = 0.0
    if soft:
        for k in range(n_classes):
            if q[k] != 0:
                margin += q[k] * (m - z[k])
                total += q[k]
    elif smoothing == 0:
        margin = m - z[label]
        total = 1.0
    else:
        share = smoothing / n_classes
        for k in range(n_classes):
            margin += share * (m - z[k])
        margin += (1.0 - smoothing) * (m - z[label])
        total = 1.0
    loss = margin + total * fast_log(_softmax_shifted(z, m, out))
    if soft:
        for k in range(n_classes):
            out[k] = out[k] * total - q[k]
    elif smoothing == 0:
        out[label] -= 1
    else:
        share = smoothing / n_classes
        for k in range(n_classes):
            out[k] -= share
        out[label] -= 1.0 - smoothing
    return loss
