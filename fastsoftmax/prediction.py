"""Prediction from fitted parameters: scores, probabilities and labels.

Sits between the estimator and the kernels. Inputs are validated by the
caller (X is a C-ordered ndarray or a scipy.sparse CSR matrix); here the
parameters are cast to X's dtype (float32 data is predicted in float32) and
the kernels for X's format run with the requested threads.

Dense X need not be scanned for NaN and infinity beforehand: the dense
kernels report any non-finite score, which a non-finite entry of X always
causes, and the functions here then raise. This saves a whole read of X.
"""

import numpy as np
import scipy.sparse as sp

from ._threads import kernel_threads
from .kernels.dense import (
    PROBABILITIES,
    SCORES,
    KernelLayout,
    dense_predict,
    dense_rows,
)
from .kernels.scores import log_softmax_rows
from .kernels.sparse import csr_predict, csr_proba, csr_scores


def _kernel_args(X, coef, intercept):
    """Coefficients laid out for the score products and the intercept, in X's
    dtype, and the kernels' row block and choice of products (:class:`KernelLayout`).

    Prediction needs no gradient, and GEMM pays from fewer classes than for
    the loss (:func:`~fastsoftmax.kernels.blas_blocks.prefers_gemm_for_rows`);
    scores, probabilities and labels all take the same choice."""
    layout = KernelLayout(X.shape[1], coef.shape[0], X.itemsize, prediction=True)
    coef_t = layout.coef_array(np.asarray(coef), X.dtype)
    if intercept is None:
        intercept = np.empty(0, dtype=X.dtype)
    else:
        intercept = np.ascontiguousarray(intercept, dtype=X.dtype)
    return coef_t, intercept, layout.row_block, layout.products


def _raise_if_not_finite(bad_blocks, coef):
    """The error for a dense kernel that met non-finite scores."""
    if bad_blocks == 0:
        return
    if not np.all(np.isfinite(coef)):
        raise ValueError("The model's coefficients contain NaN or infinity; refit the model.")
    raise ValueError(
        "Input X contains NaN or infinity (or values so large that the scores "
        "overflow); remove or impute them before predicting."
    )


def _write_scores(X, coef, intercept, out, proba):
    """Scores (or probabilities) of dense or CSR X into ``out``; threads set by the caller."""
    if sp.issparse(X):
        coef_t = np.ascontiguousarray(coef.T, dtype=X.dtype)
        intercept = np.empty(0, X.dtype) if intercept is None else intercept.astype(X.dtype)
        kernel = csr_proba if proba else csr_scores
        kernel(X.data, X.indices, X.indptr, coef_t, intercept, out)
    else:
        coef_t, intercept, row_block, products = _kernel_args(X, coef, intercept)
        what = PROBABILITIES if proba else SCORES
        bad_blocks = dense_rows(X, coef_t, intercept, coef.shape[0], row_block, products, what, out)
        _raise_if_not_finite(bad_blocks, coef)


def linear_scores(X, coef, intercept, n_threads=None):
    """``X @ coef.T + intercept``.

    Parameters
    ----------
    X : ndarray (C order) or CSR matrix of shape (n_samples, n_features),
        float32 or float64
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,) or None
    n_threads : int or None

    Returns
    -------
    ndarray of shape (n_samples, n_classes), dtype of X
    """
    out = np.empty((X.shape[0], coef.shape[0]), dtype=X.dtype)
    with kernel_threads(n_threads):
        _write_scores(X, coef, intercept, out, proba=False)
    return out


def linear_proba(X, coef, intercept, n_threads=None):
    """``softmax(X @ coef.T + intercept)`` row-wise, in one pass.

    Same parameters as :func:`linear_scores`; returns probabilities of
    shape (n_samples, n_classes) in X's dtype.
    """
    out = np.empty((X.shape[0], coef.shape[0]), dtype=X.dtype)
    with kernel_threads(n_threads):
        _write_scores(X, coef, intercept, out, proba=True)
    return out


def linear_log_proba(X, coef, intercept, n_threads=None):
    """``log_softmax(X @ coef.T + intercept)`` row-wise.

    Computed from the scores (not as ``log`` of probabilities), so tiny
    probabilities keep their exact logarithm instead of becoming ``-inf``.
    """
    scores = np.empty((X.shape[0], coef.shape[0]), dtype=X.dtype)
    with kernel_threads(n_threads):
        _write_scores(X, coef, intercept, scores, proba=False)
        log_softmax_rows(scores, scores)
    return scores


def linear_predict(X, coef, intercept, n_threads=None):
    """Arg-max class code per row, never holding the n-by-K scores.

    Returns
    -------
    ndarray of shape (n_samples,), int64
    """
    out = np.empty(X.shape[0], dtype=np.int64)
    with kernel_threads(n_threads):
        if sp.issparse(X):
            coef_t = np.ascontiguousarray(coef.T, dtype=X.dtype)
            intercept = np.empty(0, X.dtype) if intercept is None else intercept.astype(X.dtype)
            csr_predict(X.data, X.indices, X.indptr, coef_t, intercept, out)
        else:
            coef_t, intercept, row_block, products = _kernel_args(X, coef, intercept)
            bad_blocks = dense_predict(X, coef_t, intercept, coef.shape[0], row_block, products, out)
            _raise_if_not_finite(bad_blocks, coef)
    return out
