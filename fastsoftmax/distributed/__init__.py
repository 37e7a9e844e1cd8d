"""The Dask adapter: fitting and prediction on ``dask.array`` data.

Design
------
The fused loss/gradient is a sum over rows, so it is a map-reduce over the
row chunks of X. One evaluation of the data term at parameters ``w`` is

    map:     for every chunk c, on the worker that holds it,
             (L_c, G_c) = (sum_{i in c} s_i l_i, its gradient)
             by the in-memory objective (the same kernels) on that chunk;
    reduce:  on the client, in the fixed order of the chunks,
             L = (L_1 + ... + L_m) / S,   G = (G_1 + ... + G_m) * (1 / S)

with ``S`` the sum of all weights. A chunk ships ``K * (d + 1)`` numbers to
the client (its gradient, plus one for the loss) and receives ``w``, as many
again; X itself never moves after it is persisted on the workers at the start
of the fit. :class:`~fastsoftmax.distributed.objective.DaskObjective` has the
interface of the in-memory objectives, so the solvers (L-BFGS, proximal)
drive it unchanged, on the client.

Exactness: partials are summed unnormalised and divided once, in chunk order,
so the result does not depend on the scheduler, on which worker ran a chunk,
on retries after a failure, or on thread counts; for float64 data it equals
the in-memory objective to rounding (about 1e-15 relative), the chunks only
changing the order of the additions.

Modules: :mod:`.inputs` (Dask inputs to validated, persisted, row-aligned
chunks; labels encoded once), :mod:`.objective` (the per-chunk evaluation and
the client-side objective), :mod:`.placement` (on ``dask.distributed``, the
chunks one worker holds share a task per worker thread, each chunk still
returning its own partial), :mod:`.fitting` (what ``SoftmaxRegression``
calls).
This package imports Dask only when Dask input arrives, so Dask stays an
optional dependency (``pip install fastsoftmax[dask]``).
"""


def is_dask_collection(obj):
    """True for a Dask collection (array, dataframe, series), without importing Dask.

    Parameters
    ----------
    obj : object

    Returns
    -------
    bool
    """
    graph = getattr(type(obj), "__dask_graph__", None)
    return callable(graph) and obj.__dask_graph__() is not None


def fit_dask(estimator, X, y, sample_weight):
    """Fit ``estimator`` on Dask data; see :func:`.fitting.fit_dask`."""
    from .fitting import fit_dask as fit

    return fit(estimator, X, y, sample_weight)


def predict_dask(estimator, X, method):
    """Lazy predictions on a Dask array; see :func:`.fitting.predict_dask`."""
    from .fitting import predict_dask as predict

    return predict(estimator, X, method)
