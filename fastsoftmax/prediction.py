"""Prediction from fitted parameters: scores, probabilities and labels.

Sits between the estimator and the kernels. Inputs are validated by the
caller; here the parameters are cast to X's dtype (float32 data is predicted
in float32) and the kernels run with the requested threads.
"""

import numpy as np

from ._threads import kernel_threads
from .kernels.dense import (
    dense_predict,
    dense_proba,
    dense_scores,
    row_block_size,
    use_blas_for,
)
from .kernels.scores import log_softmax_rows


def _kernel_args(X, coef, intercept):
    coef = np.ascontiguousarray(coef, dtype=X.dtype)
    if intercept is None:
        intercept = np.empty(0, dtype=X.dtype)
    else:
        intercept = np.ascontiguousarray(intercept, dtype=X.dtype)
    return coef, intercept, row_block_size(X.shape[1], X.itemsize), use_blas_for(coef.shape[0])


def linear_scores(X, coef, intercept, n_threads=None):
    """``X @ coef.T + intercept``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, C order
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None
    n_threads : int or None

    Returns
    -------
    ndarray of shape (n_samples, n_classes), dtype of X
    """
    coef, intercept, row_block, use_blas = _kernel_args(X, coef, intercept)
    out = np.empty((X.shape[0], coef.shape[0]), dtype=X.dtype)
    with kernel_threads(n_threads):
        dense_scores(X, coef, intercept, row_block, use_blas, out)
    return out


def linear_proba(X, coef, intercept, n_threads=None):
    """``softmax(X @ coef.T + intercept)`` row-wise, in one pass.

    Same parameters as :func:`linear_scores`; returns probabilities of
    shape (n_samples, n_classes) in X's dtype.
    """
    coef, intercept, row_block, use_blas = _kernel_args(X, coef, intercept)
    out = np.empty((X.shape[0], coef.shape[0]), dtype=X.dtype)
    with kernel_threads(n_threads):
        dense_proba(X, coef, intercept, row_block, use_blas, out)
    return out


def linear_log_proba(X, coef, intercept, n_threads=None):
    """``log_softmax(X @ coef.T + intercept)`` row-wise.

    Computed from the scores (not as ``log`` of probabilities), so tiny
    probabilities keep their exact logarithm instead of becoming ``-inf``.
    """
    coef, intercept, row_block, use_blas = _kernel_args(X, coef, intercept)
    scores = np.empty((X.shape[0], coef.shape[0]), dtype=X.dtype)
    with kernel_threads(n_threads):
        dense_scores(X, coef, intercept, row_block, use_blas, scores)
        log_softmax_rows(scores, scores)
    return scores


def linear_predict(X, coef, intercept, n_threads=None):
    """Arg-max class code per row, never holding the n-by-K scores.

    Returns
    -------
    ndarray of shape (n_samples,), int64
    """
    coef, intercept, row_block, use_blas = _kernel_args(X, coef, intercept)
    out = np.empty(X.shape[0], dtype=np.int64)
    with kernel_threads(n_threads):
        dense_predict(X, coef, intercept, row_block, use_blas, out)
    return out
