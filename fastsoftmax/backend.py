"""Public numerical functions: the kernels with validation, for other libraries.

Every function here checks its inputs and raises a clear error for bad ones;
none modifies its inputs unless an ``out=`` buffer says so. float32 inputs are
computed in float32 and float64 in float64; other real dtypes are converted
to float64 once.

For use inside a user's own ``numba.njit`` code, call the row helpers of
:mod:`fastsoftmax.kernels.rows` instead (``softmax_row``, ``row_logsumexp``,
``cross_entropy_row``, ...): they do no validation.
"""

import numpy as np

from ._targets import check_cost_matrix
from ._threads import parallel_launch_guard
from ._validation import as_float_array, check_all_finite, check_sample_weight, check_scores
from .kernels.scores import (
    cross_entropy_sum,
    log_softmax_rows,
    logsumexp_rows,
    softmax_rows,
)
from .softmax_loss import SoftmaxLoss, check_targets

__all__ = [
    "cross_entropy",
    "log_softmax",
    "logsumexp",
    "loss_gradient",
    "min_expected_cost",
    "softmax",
]


def _check_out(out, Z):
    if out is None:
        return np.empty_like(Z, order="C")
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy array, got {type(out).__name__}.")
    if out.shape != Z.shape or out.dtype != Z.dtype:
        raise ValueError(
            f"out must have the shape and dtype of Z, {Z.shape} {Z.dtype}; "
            f"got {out.shape} {out.dtype}."
        )
    if not out.flags.writeable:
        raise ValueError("out is read-only; pass a writeable array.")
    return out


def _separate_or_same(Z, out):
    """``Z`` itself, or a copy if ``out`` overlaps it without being it.

    A row-wise kernel may write a row of ``out`` in place over the same row
    of ``Z``; any other overlap would overwrite scores before they are read.
    """
    same = (
        out.__array_interface__["data"][0] == Z.__array_interface__["data"][0]
        and out.strides == Z.strides
    )
    if not same and np.shares_memory(Z, out):
        return Z.copy()
    return Z


def softmax(Z, *, out=None):
    """Row-wise softmax: ``exp(Z[i]) / sum(exp(Z[i]))``, computed stably.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_classes)
        Scores. ``-inf`` marks an excluded class; NaN, ``+inf`` and rows of
        only ``-inf`` are errors.
    out : ndarray of shape (n_samples, n_classes), optional
        Buffer for the result, of Z's dtype (float32 or float64). May be
        ``Z`` itself for an in-place softmax. If None, a new array is
        allocated.

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        Probabilities in [0, 1], each row summing to 1; ``out`` if given.

    Examples
    --------
    >>> import numpy as np
    >>> from fastsoftmax import softmax
    >>> softmax(np.array([[0.0, np.log(3.0)]]))
    array([[0.25, 0.75]])
    """
    Z = check_scores(Z)
    out = _check_out(out, Z)
    with parallel_launch_guard():
        softmax_rows(_separate_or_same(Z, out), out)
    return out


def log_softmax(Z, *, out=None):
    """Row-wise log-softmax: ``Z[i] - logsumexp(Z[i])``.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_classes)
        Scores, as for :func:`softmax`.
    out : ndarray of shape (n_samples, n_classes), optional
        Buffer for the result, of Z's dtype; may be ``Z`` itself.

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        Log-probabilities (``-inf`` where Z is ``-inf``); ``out`` if given.
    """
    Z = check_scores(Z)
    out = _check_out(out, Z)
    with parallel_launch_guard():
        log_softmax_rows(_separate_or_same(Z, out), out)
    return out


def logsumexp(Z):
    """Row-wise ``log(sum(exp(Z[i])))``, computed stably.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_classes)
        Scores, as for :func:`softmax`.

    Returns
    -------
    ndarray of shape (n_samples,)
        In Z's dtype (float32 or float64).
    """
    Z = check_scores(Z)
    out = np.empty(Z.shape[0], dtype=Z.dtype)
    with parallel_launch_guard():
        logsumexp_rows(Z, out)
    return out


def cross_entropy(Z, y, *, sample_weight=None, label_smoothing=0.0):
    """Weighted mean cross-entropy of scores against labels or soft targets.

    ``sum_i s_i * sum_k t_ik * (logsumexp(Z[i]) - Z[i, k]) / sum_i s_i``, with
    targets ``t_i = onehot(y[i])`` for labels (that is, ``logsumexp(Z[i]) -
    Z[i, y[i]]``), smoothed to ``(1 - e) onehot(y[i]) + e / n_classes`` by
    ``label_smoothing=e``, or the rows of a soft-target matrix ``y``.

    Parameters
    ----------
    Z : array-like of shape (n_samples, n_classes)
        Scores (logits), as for :func:`softmax`.
    y : array-like of shape (n_samples,) or (n_samples, n_classes)
        Integer class codes in ``[0, n_classes)``, or soft targets: float
        rows of class probabilities (non-negative, summing to 1).
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative weights, not all zero. None means all ones.
    label_smoothing : float in [0, 1), default=0.0
        Applied to labels and soft targets alike.

    Returns
    -------
    float
        The mean, accumulated in float64 (``inf`` if a true class has score
        ``-inf``).
    """
    Z = check_scores(Z)
    n_samples, n_classes = Z.shape
    if n_samples == 0:
        raise ValueError("Z has no rows; the mean cross-entropy of no samples is undefined.")
    y, soft_targets, smoothing = check_targets(y, n_samples, n_classes, label_smoothing)
    sw = check_sample_weight(sample_weight, n_samples)
    total_weight = float(n_samples) if sw is None else float(np.sum(sw))
    sw = np.empty(0, dtype=Z.dtype) if sw is None else sw.astype(Z.dtype)
    with parallel_launch_guard():
        total = cross_entropy_sum(Z, y, soft_targets.astype(Z.dtype, copy=False), smoothing, sw)
    return total / total_weight


def loss_gradient(
    coef, intercept, X, y, *, sample_weight=None, l2_reg_strength=0.0, label_smoothing=0.0,
    n_threads=None, check_finite=True,
):
    """Loss and gradient of L2-regularised softmax regression, in one pass over X.

    ``loss = sum_i s_i * l_i / sum_i s_i + l2_reg_strength / 2 * ||coef||_F^2``
    with ``l_i = logsumexp(z_i) - z_i[y_i]`` and ``z_i = coef @ X[i] + intercept``.

    Parameters
    ----------
    coef : array-like of shape (n_classes, n_features)
        Coefficients, one row per class.
    intercept : array-like of shape (n_classes,) or None
        None fits no intercept; then ``grad_intercept`` is None.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        float32 data is computed in float32 (not copied); float64 in float64.
        Other dtypes are converted to float64, and arrays that are not
        C-contiguous are copied to C order once. scipy.sparse CSR data is
        used as it is (one visit of each stored entry); other sparse formats
        are converted to CSR once.
    y : array-like of shape (n_samples,) or (n_samples, n_classes)
        Integer class codes in ``[0, n_classes)``, or soft targets (float
        rows of class probabilities); see :func:`cross_entropy`.
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative weights, not all zero. None means all ones.
    l2_reg_strength : float, default=0.0
        Non-negative multiplier of ``||coef||_F^2 / 2``.
    label_smoothing : float in [0, 1), default=0.0
        Targets ``(1 - e) t + e / n_classes``; see :func:`cross_entropy`.
    n_threads : int, optional
        Threads for the kernel; None uses all cores. The result is the same
        bits for every thread count.
    check_finite : bool, default=True
        Scan X for NaN and inf first. That scan reads X once more; an
        optimiser that calls this function many times on the same, already
        checked X may pass False (non-finite X then gives a NaN loss).

    Returns
    -------
    loss : float
        The weighted mean cross-entropy plus the L2 term.
    grad_coef : ndarray of shape (n_classes, n_features), float64
        Gradient of ``loss`` with respect to ``coef``.
    grad_intercept : ndarray of shape (n_classes,), float64, or None
        Gradient with respect to ``intercept``; None when ``intercept`` is None.

    Notes
    -----
    Allocates the two gradients and ``32 * n_classes * (n_features + 1)``
    float64 partial sums; memory does not grow with ``n_samples``. An
    optimiser calling this many times on the same data should build a
    :class:`SoftmaxLoss` once instead: it checks the data and allocates the
    partials once, and its calls do only the pass over X.
    """
    coef = as_float_array(coef, "coef", 2)
    if coef.shape[0] == 0:
        raise ValueError("coef has no rows; it needs one row per class.")
    prepared = SoftmaxLoss(
        X, y, n_classes=coef.shape[0], sample_weight=sample_weight,
        label_smoothing=label_smoothing, check_finite=check_finite,
    )
    return prepared.loss_gradient(
        coef, intercept, l2_reg_strength=l2_reg_strength, n_threads=n_threads
    )


_COST_ROWS_PER_BLOCK = 4096  # bounds the (rows, K) block of expected costs


def min_expected_cost(proba, cost_matrix):
    """Class of least expected cost for each row of probabilities.

    The decision that minimises the expected cost under ``proba``:
    ``argmin_j sum_i proba[n, i] * cost_matrix[i, j]``. With the 0-1 cost
    (``1 - identity``) this is the most probable class.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        Non-negative class probabilities (e.g. from ``predict_proba``).
    cost_matrix : array-like of shape (n_classes, n_classes)
        ``cost_matrix[i, j]``: the cost of predicting class ``j`` when the
        truth is class ``i``. Finite; any sign.

    Returns
    -------
    ndarray of shape (n_samples,), intp
        Class codes in ``[0, n_classes)``; ties go to the lowest code.

    Notes
    -----
    Works through blocks of rows, so the extra memory is a
    ``(4096, n_classes)`` block, whatever ``n_samples``.
    """
    P = as_float_array(proba, "proba", 2)
    check_all_finite(P, "proba")
    if P.shape[1] == 0:
        raise ValueError("proba has no columns; it needs one column per class.")
    if np.any(P < 0):
        i, k = np.argwhere(P < 0)[0]
        raise ValueError(f"proba[{i}, {k}] = {P[i, k]} is negative; probabilities are >= 0.")
    cost = check_cost_matrix(cost_matrix, P.shape[1]).astype(P.dtype)
    codes = np.empty(P.shape[0], dtype=np.intp)
    for start in range(0, P.shape[0], _COST_ROWS_PER_BLOCK):
        block = P[start:start + _COST_ROWS_PER_BLOCK]
        codes[start:start + block.shape[0]] = np.argmin(block @ cost, axis=1)
    return codes
