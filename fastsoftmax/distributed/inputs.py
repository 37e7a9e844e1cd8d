"""Dask inputs to validated, row-aligned chunks persisted where they live.

What :func:`prepare_problem` does, in the order that loads the data once:

1. X, y and the sample weights become Dask arrays with the same row chunks
   (dataframes through ``to_dask_array``; an in-memory array beside a Dask
   one is split like it) and X has a single column chunk;
2. every chunk is validated by the same rules as in-memory input
   (:func:`sklearn.utils.check_array`: float32 stays float32, other dtypes
   become float64, dense chunks C-ordered, sparse chunks CSR, no NaN or inf);
3. X, y and the weights are persisted together: from here on the chunks sit
   in the workers' memory (or, with the local schedulers, in this process),
   and each later evaluation only ships parameters;
4. the classes are found once, over all chunks (``da.unique``), and each
   chunk's labels are encoded against them; class weights ("balanced": counts and
   weight totals over all chunks) and sample weights are combined chunk by chunk exactly as
   :func:`fastsoftmax._validation.combined_weights` does in memory;
5. ``S``, the sum of the weights, is added up chunk by chunk in chunk order.
"""

import warnings
from dataclasses import dataclass

import dask
import dask.array as da
import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import DataConversionWarning
from sklearn.utils import check_array
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets

from .._targets import check_soft_targets
from .._validation import as_float_array, balanced_class_weights

FLOAT_DTYPES = (np.float64, np.float32)


@dataclass
class Chunk:
    """References (``dask.delayed.Delayed``) to one chunk's persisted pieces.

    ``labels`` is None for soft targets, ``targets`` None for hard labels,
    ``weights`` None when every weight is 1.
    """

    X: object
    labels: object
    weights: object
    targets: object


@dataclass
class DaskProblem:
    """Everything a fit needs from the data, prepared once.

    ``persisted`` holds the persisted collections that ``chunks`` refer to:
    while it is referenced their data stays in the workers' memory; once it
    is dropped, ``dask.distributed`` frees it (a chunk reference alone does
    not keep it).
    """

    chunks: list
    persisted: tuple
    classes: np.ndarray
    n_samples: int
    n_features: int
    dtype: np.dtype
    sparse: bool
    sum_weights: float
    feature_names: np.ndarray | None

    def description(self):
        """What is fitted, for the ``verbose`` header."""
        layout = "CSR" if self.sparse else "dense"
        return (
            f"{self.n_samples} x {self.n_features} {layout} {self.dtype} Dask array "
            f"in {len(self.chunks)} row chunks"
        )


def feature_names(X):
    """Column names of a (Dask) dataframe if they are all strings, else None.

    Parameters
    ----------
    X : object

    Returns
    -------
    ndarray of shape (n_features,), object, or None
    """
    columns = getattr(X, "columns", None)
    if columns is None:
        return None
    names = np.asarray(list(columns), dtype=object)
    return names if all(isinstance(name, str) for name in names) else None


def as_dask_array(data, name, row_chunks=None):
    """``data`` as a Dask array with known chunk sizes.

    Dask dataframes and series are converted with their partition lengths;
    in-memory data is split into ``row_chunks`` (one chunk if None).

    Parameters
    ----------
    data : Dask array, dataframe or series, ndarray, sparse matrix or array-like
    name : str
        For error messages.
    row_chunks : tuple of int or None

    Returns
    -------
    dask.array.Array
    """
    if hasattr(data, "to_dask_array"):
        data = data.to_dask_array(lengths=True)
    elif not isinstance(data, da.Array):
        if hasattr(data, "__dask_graph__"):
            raise TypeError(
                f"{name} is a Dask {type(data).__name__}; pass a dask.array.Array "
                "(or a Dask dataframe or series)."
            )
        if not sp.issparse(data):
            data = np.asarray(data)
        chunks = (row_chunks or (data.shape[0],),) + tuple((n,) for n in data.shape[1:])
        return da.from_array(data, chunks=chunks, asarray=not sp.issparse(data))
    if any(np.isnan(size) for size in data.chunks[0]):
        data = data.compute_chunk_sizes()
    return data


def _aligned(data, row_chunks, n_samples, name):
    """``data`` re-chunked to X's row chunks (columns in one chunk)."""
    if data.shape[0] != n_samples:
        raise ValueError(
            f"Found input variables with inconsistent numbers of samples: X has "
            f"{n_samples} rows but {name} has {data.shape[0]}."
        )
    chunks = (row_chunks,) + tuple((n,) for n in data.shape[1:])
    return data if data.chunks == chunks else data.rechunk(chunks)


def _validated_X_block(block):
    # The checks and conversions of in-memory input, chunk by chunk.
    return check_array(
        block, dtype=list(FLOAT_DTYPES), order="C", accept_sparse="csr",
        ensure_min_samples=0, input_name="X",
    )


def _validated_weights_block(block, block_info=None):
    weights = as_float_array(block, "sample_weight", 1).astype(np.float64)
    start = block_info[0]["array-location"][0][0] if block_info else 0
    if not np.all(np.isfinite(weights)):
        i = int(np.argmax(~np.isfinite(weights)))
        raise ValueError(
            f"sample_weight contains {weights[i]} at index {start + i}; remove or "
            "impute non-finite values first."
        )
    if np.any(weights < 0):
        i = int(np.argmax(weights < 0))
        raise ValueError(
            f"sample_weight[{start + i}] = {weights[i]} is negative; weights must be >= 0."
        )
    return weights


def _soft_targets_block(block, label_smoothing, block_info=None):
    start = block_info[0]["array-location"][0][0] if block_info else 0
    try:
        return check_soft_targets(block, block.shape[0], label_smoothing)
    except ValueError as error:
        raise ValueError(
            f"In the chunk of rows {start} to {start + block.shape[0]} of y "
            f"(row numbers below count from the chunk's first row): {error}"
        ) from None


def _encode_labels(block, classes):
    return np.searchsorted(classes, block).astype(np.intp)


def _combine_weights(codes, sample_weight, per_class):
    # The same products as combined_weights in memory, element by element.
    weights = per_class[codes]
    return weights if sample_weight is None else weights * sample_weight


def _chunk_sum(block):
    return float(np.sum(block, dtype=np.float64))


def _class_weights(class_weight, classes, codes, sample_weight):
    """Per-class weights as in memory (see ``combined_weights``), from counts
    and weight totals made chunk by chunk."""
    if isinstance(class_weight, str) and class_weight == "balanced":
        n_classes = classes.shape[0]
        counts = da.bincount(codes, minlength=n_classes)
        totals = counts if sample_weight is None else da.bincount(
            codes, weights=sample_weight, minlength=n_classes)
        counts, totals = dask.compute(counts, totals)
        per_class = balanced_class_weights(
            counts.astype(np.float64), totals.astype(np.float64), classes)
    else:
        per_class = compute_class_weight(class_weight, classes=classes, y=classes)
    per_class = np.asarray(per_class, dtype=np.float64)
    if not np.all(np.isfinite(per_class) & (per_class >= 0)):
        raise ValueError(
            f"class_weight must give finite weights >= 0, got {per_class.tolist()} "
            f"for classes {classes.tolist()}."
        )
    return per_class


def _labels(y):
    """y as 1-D labels or 2-D soft targets (returns ``(y, is_soft)``)."""
    if y.ndim == 2 and y.shape[1] >= 2 and y.dtype.kind == "f":
        return y, True
    if y.ndim == 2 and y.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please "
            "change the shape of y to (n_samples,), for example using ravel().",
            DataConversionWarning, stacklevel=5,
        )
        return y[:, 0], False
    if y.ndim != 1:
        raise ValueError(
            f"y must be 1-D labels of shape (n_samples,) or soft targets of shape "
            f"(n_samples, n_classes), got a Dask array of shape {y.shape}."
        )
    return y, False


def prepare_problem(estimator, X, y, sample_weight):
    """Validate, align and persist Dask training data; encode labels once.

    Parameters
    ----------
    estimator : SoftmaxRegression
        Its ``class_weight`` and ``label_smoothing`` are applied.
    X : Dask array or dataframe of shape (n_samples, n_features)
        Dense or CSR chunks. In-memory X beside a Dask y is split like y.
    y : Dask array or series of shape (n_samples,) or (n_samples, n_classes)
        Labels, or soft targets (2-D float, rows of class probabilities).
    sample_weight : Dask array, ndarray, float or None

    Returns
    -------
    DaskProblem
    """
    names = feature_names(X)
    y_rows = y.to_dask_array(lengths=True) if hasattr(y, "to_dask_array") else y
    row_chunks = y_rows.chunks[0] if isinstance(y_rows, da.Array) else None
    X = as_dask_array(X, "X", row_chunks)
    if X.ndim != 2:
        raise ValueError(
            f"X must be 2-D of shape (n_samples, n_features), got a Dask array of "
            f"shape {X.shape}."
        )
    n_samples, n_features = X.shape
    if n_samples < 1 or n_features < 1:
        raise ValueError(
            f"Found array with {n_samples} sample(s) and {n_features} feature(s) "
            "while at least 1 of each is required."
        )
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})  # each task needs whole rows
    row_chunks = X.chunks[0]
    sparse = sp.issparse(X._meta)
    dtype = np.dtype(X.dtype if X.dtype in FLOAT_DTYPES else np.float64)
    meta = sp.csr_matrix((0, 0), dtype=dtype) if sparse else np.empty((0, 0), dtype=dtype)
    X = X.map_blocks(_validated_X_block, dtype=dtype, meta=meta)

    y, soft = _labels(
        _aligned(as_dask_array(y_rows, "y", row_chunks), row_chunks, n_samples, "y")
    )
    if soft and estimator.class_weight is not None:
        raise ValueError(
            "class_weight needs hard labels to know each sample's class; with "
            "soft targets, weight the samples with sample_weight instead."
        )
    if soft:
        y = y.map_blocks(
            _soft_targets_block, estimator.label_smoothing, dtype=np.float64,
        )
    if sample_weight is not None:
        if np.ndim(sample_weight) == 0 and not isinstance(sample_weight, da.Array):
            sample_weight = da.full(n_samples, float(sample_weight), chunks=(row_chunks,))
        sample_weight = _aligned(
            as_dask_array(sample_weight, "sample_weight", row_chunks), row_chunks,
            n_samples, "sample_weight",
        ).map_blocks(_validated_weights_block, dtype=np.float64)
    # One load of the data: X, y and the weights come into memory together.
    X, y, sample_weight = dask.persist(X, y, sample_weight)

    if soft:
        classes = np.arange(y.shape[1])
        labels, targets, weights = None, y, sample_weight
    else:
        classes = np.asarray(da.unique(y).compute())
        check_classification_targets(classes)
        if classes.shape[0] < 2:
            raise ValueError(
                "SoftmaxRegression needs samples of at least 2 classes in the "
                f"data, but the data contains only one class: {classes[0]!r}."
            )
        labels = y.map_blocks(_encode_labels, classes, dtype=np.intp)
        targets, weights = None, sample_weight
        if estimator.class_weight is not None:
            per_class = _class_weights(estimator.class_weight, classes, labels, sample_weight)
            weights = da.map_blocks(
                _combine_weights, labels, sample_weight, per_class, dtype=np.float64,
            ) if sample_weight is not None else labels.map_blocks(
                _combine_weights, None, per_class, dtype=np.float64,
            )
        labels, weights = dask.persist(labels, weights)

    sum_weights = _sum_weights(weights, n_samples, estimator.class_weight)
    persisted = (X, labels, weights, targets)
    blocks = [
        None if part is None else list(part.to_delayed(optimize_graph=False).ravel())
        for part in persisted
    ]
    chunks = [
        Chunk(*(None if part is None else part[i] for part in blocks))
        for i in range(len(row_chunks))
    ]
    return DaskProblem(
        chunks, persisted, classes, n_samples, n_features, dtype, sparse, sum_weights, names,
    )


def _sum_weights(weights, n_samples, class_weight):
    """``S``: chunk sums added in chunk order (the number of rows without weights)."""
    if weights is None:
        return float(n_samples)
    chunk_sums = dask.compute(
        *[dask.delayed(_chunk_sum)(block)
          for block in weights.to_delayed(optimize_graph=False).ravel()]
    )
    total = 0.0
    for chunk_sum in chunk_sums:
        total += chunk_sum
    if not total > 0:
        if class_weight is not None:
            raise ValueError(
                "Every sample has weight zero after applying class_weight; give at "
                "least one present class a positive weight."
            )
        raise ValueError("sample_weight is zero everywhere; at least one weight must be > 0.")
    return total
