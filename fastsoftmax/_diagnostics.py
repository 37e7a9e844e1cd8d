"""Explanations for fits that end badly: what went wrong, and what to do.

These checks run only after a fit (never inside the solver loop), and the
costly one only when a fit did not converge, so a good fit pays for none of
them beyond one prediction pass for unpenalised models.
"""

import numpy as np
import scipy.sparse as sp

# A feature this large, or a spread of feature magnitudes this wide, makes the
# Hessian's condition number (about the squared spread) hopeless for L-BFGS.
_LARGE_FEATURE = 1e6
_WIDE_SPREAD = 1e8
# Bounds the temporary of |X| for dense data: a fixed number of bytes, not of
# rows, so that wide or memory-mapped X never brings a large slice into memory.
_CHUNK_BYTES = 4 * 2**20


def column_max_abs(X):
    """Largest absolute value of every column, without a copy of X.

    Dense X is scanned in slices of about 4 MiB through one reused buffer,
    and the stored entries of sparse X in pieces of the same size, so the
    extra memory is bounded whatever the size of X (a memory-mapped X stays
    on disk; scipy's ``abs(X).max(axis=0)`` would make two copies of a CSR X).

    Parameters
    ----------
    X : ndarray or scipy.sparse CSR matrix of shape (n_samples, n_features)

    Returns
    -------
    ndarray of shape (n_features,), float64
    """
    n_samples, n_features = X.shape
    if sp.issparse(X):
        # Implicit zeros count as 0, which the zero start already is.
        result = np.zeros(n_features)
        step = max(1, _CHUNK_BYTES // 8)
        for start in range(0, X.data.shape[0], step):
            magnitudes = np.abs(X.data[start:start + step]).astype(np.float64, copy=False)
            np.maximum.at(result, X.indices[start:start + step], magnitudes)
        return result
    result = np.zeros(n_features)
    rows = max(1, _CHUNK_BYTES // (8 * max(1, n_features)))
    buffer = np.empty((min(rows, n_samples), n_features))
    for start in range(0, n_samples, rows):
        block = buffer[: min(rows, n_samples - start)]
        np.abs(X[start:start + rows], out=block)
        np.maximum(result, block.max(axis=0), out=result)
    return result


def feature_scale_hint(X):
    """A sentence on badly scaled features, or "" if the scales look sane.

    Parameters
    ----------
    X : ndarray or scipy.sparse CSR matrix of shape (n_samples, n_features)

    Returns
    -------
    str
    """
    return scale_hint_from_column_max_abs(column_max_abs(X))


def scale_hint_from_column_max_abs(scales):
    """:func:`feature_scale_hint` from the columns' largest absolute values
    (for data whose columns are scanned elsewhere, such as Dask chunks).

    Parameters
    ----------
    scales : ndarray of shape (n_features,)

    Returns
    -------
    str
    """
    nonzero = scales > 0
    if not np.any(nonzero):
        return ""
    largest = int(np.argmax(scales))
    smallest = int(np.flatnonzero(nonzero)[np.argmin(scales[nonzero])])
    high, low = scales[largest], scales[smallest]
    if high <= _LARGE_FEATURE and high <= _WIDE_SPREAD * low:
        return ""
    return (
        f" The features are badly scaled: their largest absolute values range "
        f"from {low:.3g} (column {smallest}) to {high:.3g} (column {largest}). "
        "Standardise X first, e.g. with sklearn.preprocessing.StandardScaler "
        "(MaxAbsScaler for sparse X)."
    )


def separates_training_data(predicted_codes, y_codes, sample_weight):
    """True if every sample with positive weight is predicted correctly.

    A model that classifies all training samples correctly shows the data
    are linearly separable; the unpenalised cross-entropy then has no
    minimiser (scaling the separating coefficients up keeps lowering it).

    Parameters
    ----------
    predicted_codes : ndarray of shape (n_samples,)
    y_codes : ndarray of shape (n_samples,)
    sample_weight : ndarray of shape (n_samples,) or None

    Returns
    -------
    bool
    """
    correct = predicted_codes == y_codes
    if sample_weight is not None:
        correct |= sample_weight == 0
    return bool(np.all(correct))


SEPARABLE_MESSAGE = (
    "The fitted model classifies every training sample correctly: the data "
    "are linearly separable, and with penalty=None (or C=inf) the optimum may "
    "not exist, since the cross-entropy keeps decreasing as the coefficients "
    "grow. coef_ is finite but depends on tol and max_iter. Use a finite C "
    "(an L2 penalty) for a well-defined model."
)
