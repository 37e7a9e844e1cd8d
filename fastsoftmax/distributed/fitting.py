"""What ``SoftmaxRegression`` calls for Dask input: fit and lazy predictions.

The fit prepares the data once (:func:`.inputs.prepare_problem`), wraps it in
a :class:`.objective.DaskObjective` and hands that to the estimator's own
solve step, so penalties, solvers, ``tol``, warm starts, progress lines and
callbacks behave exactly as in memory. Predictions map the estimator's
in-memory methods over the chunks of X and stay lazy.

Threads: parallelism on Dask comes from the chunks (one task per chunk,
as many at once as the workers have threads), so each task runs its kernel on
one Numba thread unless ``n_threads`` (or ``n_jobs``) asks for more per task.
The result does not depend on it.
"""

import copy
import warnings

import dask
import dask.array as da
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from .._diagnostics import (
    SEPARABLE_MESSAGE,
    column_max_abs,
    scale_hint_from_column_max_abs,
    separates_training_data,
)
from ..prediction import linear_predict
from .inputs import as_dask_array, feature_names, prepare_problem
from .objective import DaskObjective


# Warnings point at the user's fit call: SoftmaxRegression.fit ->
# distributed.fit_dask -> fitting.fit_dask -> SoftmaxRegression._fit_objective.
_CALLER_OF_FIT = 5


def task_threads(estimator):
    """Numba threads for one chunk task: ``n_threads`` (or ``n_jobs``) if set, else 1."""
    requested = estimator._threads()
    return 1 if requested is None else requested


def fit_dask(estimator, X, y, sample_weight):
    """Fit ``estimator`` on Dask data with the in-memory solvers.

    Parameters
    ----------
    estimator : SoftmaxRegression
        Its parameters are checked already.
    X : Dask array or dataframe of shape (n_samples, n_features)
        Row chunks, dense or CSR; columns are gathered into one chunk.
    y : Dask array or series of shape (n_samples,) or (n_samples, n_classes)
    sample_weight : Dask array, ndarray, float or None

    Returns
    -------
    SoftmaxRegression
        ``estimator``, fitted.
    """
    problem = prepare_problem(estimator, X, y, sample_weight)
    estimator.n_features_in_ = problem.n_features
    if problem.feature_names is not None:
        estimator.feature_names_in_ = problem.feature_names
    elif hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_
    n_threads = task_threads(estimator)
    objective = DaskObjective(
        problem.chunks, problem.classes.shape[0], problem.n_features, problem.dtype,
        estimator.fit_intercept, problem.sum_weights, estimator.label_smoothing, n_threads,
        persisted=problem.persisted,
    )
    unpenalised = estimator._fit_objective(
        objective, problem.classes, problem.description(),
        scale_hint=lambda: _scale_hint(problem), stacklevel=_CALLER_OF_FIT,
    )
    hard_labels = problem.chunks[0].labels is not None
    if unpenalised and hard_labels and not estimator.label_smoothing:
        if _separates(problem, estimator.coef_, estimator._intercept(), n_threads):
            warnings.warn(SEPARABLE_MESSAGE, ConvergenceWarning, stacklevel=_CALLER_OF_FIT - 1)
    return estimator


def _scale_hint(problem):
    """:func:`fastsoftmax._diagnostics.feature_scale_hint` over all chunks."""
    per_chunk = dask.compute(
        *[dask.delayed(column_max_abs)(chunk.X) for chunk in problem.chunks]
    )
    return scale_hint_from_column_max_abs(np.maximum.reduce(per_chunk))


def _chunk_separated(X, labels, weights, coef, intercept, n_threads):
    if X.shape[0] == 0:
        return True
    predicted = linear_predict(X, coef, intercept, n_threads)
    return separates_training_data(predicted, labels, weights)


def _separates(problem, coef, intercept, n_threads):
    """Whether the model classifies every weighted training sample correctly."""
    task = dask.delayed(_chunk_separated, pure=True)
    return all(dask.compute(*[
        task(chunk.X, chunk.labels, chunk.weights, coef, intercept, n_threads)
        for chunk in problem.chunks
    ]))


def _predict_block(block, model, method, empty):
    if block.shape[0] == 0:  # in-memory validation refuses empty input
        return empty
    return getattr(model, method)(block)


def predict_dask(estimator, X, method):
    """``estimator.method`` mapped lazily over the row chunks of X.

    Parameters
    ----------
    estimator : SoftmaxRegression
        Fitted.
    X : Dask array or dataframe of shape (n_samples, n_features)
        Dense or CSR chunks.
    method : {"predict", "predict_proba", "predict_log_proba", "decision_function"}

    Returns
    -------
    dask.array.Array
        Of shape (n_samples,) for ``predict`` (and ``decision_function`` with
        two classes), else (n_samples, n_classes); nothing is computed yet.
    """
    check_is_fitted(estimator)
    names = feature_names(X)
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if names is not None and fitted_names is not None and not np.array_equal(
        names, fitted_names
    ):
        raise ValueError(
            "The feature names should match those that were passed during fit: "
            f"got {names.tolist()}, fitted with {fitted_names.tolist()}."
        )
    if hasattr(X, "to_dask_array"):
        X = X.to_dask_array()
    elif not isinstance(X, da.Array):
        X = as_dask_array(X, "X")
    if X.ndim != 2 or X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has shape {X.shape}, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    # A copy for the tasks: per-task threads, and no feature names (the
    # chunks are plain arrays; the names were checked above).
    model = copy.copy(estimator)
    model.n_threads, model.n_jobs = task_threads(estimator), None
    model.__dict__.pop("feature_names_in_", None)
    n_classes = estimator.classes_.shape[0]
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    if method == "predict" or (method == "decision_function" and n_classes == 2):
        empty = np.empty(0, dtype=estimator.classes_.dtype if method == "predict" else dtype)
        return X.map_blocks(_predict_block, model, method, empty, drop_axis=1, meta=empty)
    empty = np.empty((0, n_classes), dtype=dtype)
    return X.map_blocks(
        _predict_block, model, method, empty, chunks=(X.chunks[0], (n_classes,)), meta=empty,
    )
