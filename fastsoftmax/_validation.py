"""Input checks shared by the backend functions and the estimator.

Every check raises an error that says what is wrong and what to do, and
never modifies the caller's arrays: conversions make new arrays.
"""

import numbers

import numpy as np
from numba import njit, prange
from sklearn.utils.class_weight import compute_class_weight

from ._threads import parallel_launch_guard
from .kernels._config import JIT_OPTIONS, N_ROW_RANGES
from .kernels._partition import range_bounds

FLOAT_DTYPES = (np.float32, np.float64)


def as_float_array(a, name, ndim):
    """``a`` as a float32 or float64 ndarray of ``ndim`` dimensions.

    float32 and float64 arrays are kept as they are (no copy); other real
    numeric dtypes are converted to float64 (one copy). Complex, object and
    string data raise ``TypeError``.
    """
    arr = np.asarray(a)
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} is complex ({arr.dtype}); pass real values.")
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers, got dtype {arr.dtype}; convert it "
            "with np.asarray(..., dtype=float) first."
        )
    if arr.dtype not in FLOAT_DTYPES:
        arr = arr.astype(np.float64)
    if arr.ndim != ndim:
        shape = "(n_samples, n_classes)" if name == "Z" else "(n_samples, n_features)"
        raise ValueError(
            f"{name} must be {ndim}-D, got an array of shape {arr.shape}"
            + (f"; pass a 2-D array of shape {shape}." if ndim == 2 else ".")
        )
    return arr


def check_all_finite(arr, name):
    """Raise ``ValueError`` if ``arr`` holds NaN or +-inf, naming the first."""
    flat = arr.reshape(-1) if arr.flags.c_contiguous else arr.ravel()
    with parallel_launch_guard():  # a parallel kernel, maybe outside kernel_threads
        all_finite = _all_finite(flat)
    if not all_finite:
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = tuple(int(i) for i in bad)
        value = arr[where]
        raise ValueError(
            f"{name} contains {value} at index {where if len(where) > 1 else where[0]}; "
            "remove or impute non-finite values first."
        )


# No fast-math here: LLVM may then assume finite values and fold the test away.
@njit(parallel=True, cache=True, **dict(JIT_OPTIONS, fastmath=False))
def _all_finite(flat):
    # A parallel, branch-free scan (counting finite values vectorises where an
    # early exit would not): on large X this check is a full read of the data.
    n_chunks = 64
    counts = np.zeros(n_chunks, dtype=np.int64)
    for c in prange(n_chunks):
        start = (c * flat.shape[0]) // n_chunks
        stop = ((c + 1) * flat.shape[0]) // n_chunks
        count = 0
        for i in range(start, stop):
            count += np.isfinite(flat[i])
        counts[c] = count
    return counts.sum() == flat.shape[0]


def check_scores(Z):
    """Validate a 2-D matrix of scores: no NaN, no +inf, no row of only -inf.

    ``-inf`` entries are allowed (a class that is ruled out for a sample).
    """
    Z = as_float_array(Z, "Z", 2)
    if Z.shape[1] == 0:
        raise ValueError("Z has no columns; softmax needs at least one class.")
    with parallel_launch_guard():  # a parallel kernel, maybe outside kernel_threads
        bad_rows = _count_bad_score_rows(Z)
    if bad_rows == 0:
        return Z
    # Only now the serial scan that names the first bad row and its problem.
    status, row = _scores_status(Z)
    if status == 1:
        raise ValueError(f"Z contains NaN in row {row}; scores must be numbers.")
    if status == 2:
        raise ValueError(
            f"Z contains +inf in row {row}; softmax is undefined there. "
            "Clip the scores or use -inf for excluded classes only."
        )
    if status == 3:
        raise ValueError(
            f"Row {row} of Z is -inf in every class; its softmax is undefined. "
            "At least one class per row needs a finite score."
        )
    return Z


# No fast-math here, as for _all_finite.
@njit(parallel=True, cache=True, **dict(JIT_OPTIONS, fastmath=False))
def _count_bad_score_rows(Z):
    # Rows with a NaN or +inf, or without a finite entry. Parallel and
    # branch-free (counts vectorise where early exits would not): the serial
    # scan below took 12-21 ms for 5,000,000 scores, longer than the softmax
    # it guards.
    counts = np.zeros(N_ROW_RANGES, dtype=np.int64)
    for r in prange(N_ROW_RANGES):
        start, stop = range_bounds(Z.shape[0], N_ROW_RANGES, r)
        count = 0
        for i in range(start, stop):
            row = Z[i]
            not_numbers = 0
            finite = 0
            for k in range(row.shape[0]):
                v = row[k]
                not_numbers += (v != v) | (v == np.inf)
                finite += np.isfinite(v)
            count += (not_numbers > 0) | (finite == 0)
        counts[r] = count
    return counts.sum()


@njit(cache=True, **JIT_OPTIONS)
def _scores_status(Z):
    for i in range(Z.shape[0]):
        any_finite = False
        for k in range(Z.shape[1]):
            v = Z[i, k]
            if v != v:
                return 1, i
            if v == np.inf:
                return 2, i
            if v != -np.inf:
                any_finite = True
        if not any_finite:
            return 3, i
    return 0, -1


def check_class_codes(y, n_samples, n_classes):
    """``y`` as an intp array of class codes in ``[0, n_classes)``."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(
            f"y must be 1-D class codes of shape (n_samples,), got shape {arr.shape}."
        )
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"y has {arr.shape[0]} entries but there are {n_samples} samples; "
            "give one label per row."
        )
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"y must hold integer class codes in [0, {n_classes}), got dtype "
            f"{arr.dtype}. Encode labels first, e.g. with "
            "sklearn.preprocessing.LabelEncoder."
        )
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        bad = arr[(arr < 0) | (arr >= n_classes)][0]
        raise ValueError(
            f"y contains class code {bad}, outside [0, {n_classes}) for "
            f"{n_classes} classes."
        )
    return np.ascontiguousarray(arr, dtype=np.intp)


def check_sample_weight(sample_weight, n_samples):
    """Validated float64 copy of ``sample_weight`` or None.

    Weights must be 1-D, finite, non-negative and not all zero.
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number):
        return check_sample_weight(np.full(n_samples, sample_weight, dtype=float), n_samples)
    sw = as_float_array(sample_weight, "sample_weight", 1).astype(np.float64)
    if sw.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight has {sw.shape[0]} entries but there are {n_samples} "
            "samples; give one weight per row."
        )
    check_all_finite(sw, "sample_weight")
    if np.any(sw < 0):
        i = int(np.argmax(sw < 0))
        raise ValueError(
            f"sample_weight[{i}] = {sw[i]} is negative; weights must be >= 0."
        )
    if not np.any(sw > 0):
        raise ValueError("sample_weight is zero everywhere; at least one weight must be > 0.")
    return sw


def balanced_class_weights(counts, totals, classes):
    """``class_weight="balanced"`` as scikit-learn computes it: the total
    sample weight over (number of classes present times the class's total),
    so that every class carries the same weight.

    Parameters
    ----------
    counts : ndarray of shape (n_classes,)
        Samples of each class.
    totals : ndarray of shape (n_classes,)
        Sum of the sample weights of each class (``counts`` without weights).
    classes : ndarray of shape (n_classes,)
        The class labels, for messages.

    Returns
    -------
    ndarray of shape (n_classes,)
        The weight of each class (1 for a class with no samples).
    """
    present = counts > 0
    empty = present & (totals == 0)
    if np.any(empty):
        label = classes.tolist()[np.argmax(empty)]
        raise ValueError(
            "class_weight='balanced' needs a positive total sample_weight in every "
            f"class, but every sample of class {label!r} has weight zero. Drop those "
            "samples, or give class weights as a dict."
        )
    safe_totals = np.where(present, totals, 1.0)
    return np.where(present, np.sum(totals) / (np.count_nonzero(present) * safe_totals), 1.0)


def combined_weights(sample_weight, class_weight, y_codes, classes):
    """Sample weights times class weights, float64 of shape (n_samples,), or
    None when both are absent (all ones). Shared by SoftmaxRegression,
    softmax_path and SoftmaxRegressionCV."""
    sample_weight = check_sample_weight(sample_weight, y_codes.shape[0])
    if class_weight is None:
        return sample_weight
    if isinstance(class_weight, str) and class_weight == "balanced":
        counts = np.bincount(y_codes, minlength=classes.shape[0]).astype(np.float64)
        totals = counts if sample_weight is None else np.bincount(
            y_codes, weights=sample_weight, minlength=classes.shape[0])
        per_class = balanced_class_weights(counts, totals, classes)
    else:
        per_class = compute_class_weight(class_weight, classes=classes, y=classes[y_codes])
    if not np.all(np.isfinite(per_class) & (per_class >= 0)):
        raise ValueError(
            f"class_weight must give finite weights >= 0, got {per_class.tolist()} "
            f"for classes {classes.tolist()}."
        )
    weights = per_class[y_codes]
    if sample_weight is not None:
        weights = weights * sample_weight
    if not np.any(weights > 0):
        raise ValueError(
            "Every sample has weight zero after applying class_weight; give at least "
            "one present class a positive weight."
        )
    return weights
