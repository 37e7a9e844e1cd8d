"""The data term on Dask data: per-chunk partials, reduced on the client.

:func:`chunk_partials` evaluates one chunk: it builds the in-memory
objective (:func:`fastsoftmax.objective.make_objective`) on the chunk and
returns the chunk's *unnormalised* weighted loss and gradient.
:class:`DaskObjective` runs it on every chunk where the chunk lives (one
task per chunk, or per group of co-located chunks on a distributed cluster:
:mod:`.placement`), adds the per-chunk results in chunk order and divides by
``S`` once: the same arithmetic as the in-memory objective (a weighted sum
divided by ``S``), with the chunks changing only the order of the additions.
The kernels never see Dask; the solvers never see chunks.
"""

import dask
import numpy as np

from .._threads import kernel_threads
from ..objective import _Objective, make_objective
from .placement import Placement


def chunk_partials(
    X, labels, weights, targets, w, n_classes, fit_intercept, label_smoothing,
    with_gradient, n_threads,
):
    """Weighted loss sum of one chunk and its gradient (a Dask task).

    Parameters
    ----------
    X : ndarray (C order) or CSR matrix of shape (n_rows, n_features)
        float32 or float64, as validated by :mod:`.inputs`.
    labels : ndarray of shape (n_rows,), intp, or None
        Class codes; None with soft targets.
    weights : ndarray of shape (n_rows,), float64, or None
        Sample weights (class weights applied); None means all ones.
    targets : ndarray of shape (n_rows, n_classes), float64, or None
        Soft targets (label smoothing already applied); None with labels.
    w : ndarray of shape (n_params,)
        Flat parameters (layout of :mod:`fastsoftmax.objective`).
    n_classes : int
    fit_intercept : bool
    label_smoothing : float
        For hard labels.
    with_gradient : bool
        False for a loss-only evaluation (line searches).
    n_threads : int
        Numba threads for this task's kernel call.

    Returns
    -------
    loss_sum : float
        ``sum_i s_i l_i`` over the chunk's rows.
    grad_sum : ndarray of shape (n_params,), float64, or None
        Its gradient with respect to ``w``; None if ``with_gradient`` is False.
    """
    objective = make_objective(
        X, labels, weights, n_classes, fit_intercept, soft_targets=targets,
        label_smoothing=0.0 if targets is not None else label_smoothing,
    )
    chunk_weight = objective.sum_weights
    if chunk_weight == 0:  # empty chunk or all weights zero: nothing to add
        return 0.0, np.zeros(objective.n_params) if with_gradient else None
    with kernel_threads(n_threads):
        if not with_gradient:
            loss_mean = objective.loss(w)
            return loss_mean * chunk_weight, None
        grad = np.empty(objective.n_params)
        loss_mean = objective.loss_gradient(w, grad)
    # The in-memory objective returns means over its rows; times the chunk's
    # weight they are sums again (to a rounding or two), and sums add across
    # chunks where means would not.
    grad *= chunk_weight
    return loss_mean * chunk_weight, grad


def batch_partials(X, labels, weights, targets, *args):
    """:func:`chunk_partials` of co-located chunks, one after the other (a Dask task).

    ``X``, ``labels``, ``weights`` and ``targets`` are lists with one entry
    per chunk; ``args`` are the remaining arguments of
    :func:`chunk_partials`. Returns the list of per-chunk results: they are
    added on the client in chunk order, never here, so the grouping does not
    change the result.
    """
    return [
        chunk_partials(*chunk, *args) for chunk in zip(X, labels, weights, targets)
    ]


class DaskObjective:
    """Mean weighted cross-entropy over the chunks of Dask data.

    Has the interface of :class:`fastsoftmax.objective.DenseObjective`
    (``n_params``, ``unpack``, ``pack``, ``sum_weights``,
    ``loss_gradient``, ``loss``), so every solver drives it unchanged. Each
    evaluation is one Dask computation whose tasks run where the chunks are
    persisted (one per chunk; on a distributed cluster one per worker thread
    holding chunks, see :mod:`.placement`); the client receives
    ``K * (d + 1) + 1`` numbers per chunk and adds them in chunk order, so the
    result is the same bits whatever the scheduler, the worker, the grouping
    or the number of retries.

    Parameters
    ----------
    chunks : list of :class:`.inputs.Chunk`
        References to the persisted chunks, in row order.
    n_classes, n_features : int
    dtype : numpy dtype
        X's dtype (float32 or float64).
    fit_intercept : bool
    sum_weights : float
        ``S``, the sum of all sample weights.
    label_smoothing : float
    n_threads : int
        Numba threads per chunk task.
    persisted : tuple, default=()
        The persisted Dask collections the chunks refer to, held while this
        objective lives so that ``dask.distributed`` keeps their data on the
        workers (see :class:`.inputs.DaskProblem`).

    Attributes
    ----------
    n_evaluations : int
        Dask computations made so far (loss-only ones included).
    """

    def __init__(
        self, chunks, n_classes, n_features, dtype, fit_intercept, sum_weights,
        label_smoothing, n_threads, persisted=(),
    ):
        self.chunks = list(chunks)
        self._persisted = persisted
        # The flat layout lives in fastsoftmax.objective only: borrow it from an
        # objective on zero rows instead of restating it.
        self._layout = _Objective(
            np.empty((0, n_features), dtype=dtype), None, None, n_classes, fit_intercept,
        )
        self.n_classes = self._layout.n_classes
        self.n_features = self._layout.n_features
        self.fit_intercept = self._layout.fit_intercept
        self.n_coef = self._layout.n_coef
        self.n_params = self._layout.n_params
        self.sum_weights = float(sum_weights)
        self.label_smoothing = float(label_smoothing)
        self.n_threads = n_threads
        self.n_evaluations = 0
        self._placement = Placement(
            [chunk.X.key for chunk in self.chunks], persisted[0] if persisted else None,
            n_threads,
        )

    def unpack(self, w):
        """Views ``(coef, intercept)`` of ``w``; see :meth:`DenseObjective.unpack`."""
        return self._layout.unpack(w)

    def pack(self, coef, intercept):
        """Flat vector from ``coef`` and ``intercept``; see :meth:`DenseObjective.pack`."""
        return self._layout.pack(coef, intercept)

    def _chunk_results(self, w, with_gradient):
        """``(loss_sum, grad_sum)`` of every chunk, in chunk order."""
        self.n_evaluations += 1
        # One copy of w in the graph (the solver may reuse its buffer); every
        # task refers to it, so a worker receives it once, not once per task.
        w_ref = dask.delayed(np.array(w, dtype=np.float64), pure=True)
        options = (
            w_ref, self.n_classes, self.fit_intercept, self.label_smoothing,
            with_gradient, self.n_threads,
        )
        batches = self._placement.batches()
        task = dask.delayed(batch_partials, pure=True)
        tasks = [
            task(*(
                [getattr(self.chunks[i], part) for i in batch]
                for part in ("X", "labels", "weights", "targets")
            ), *options)
            for batch in batches
        ]
        # The chunks are persisted already: nothing to optimise, and skipping
        # the optimisation saves time on every iteration.
        results = [None] * len(self.chunks)
        for batch, batch_results in zip(batches, dask.compute(*tasks, optimize_graph=False)):
            for i, chunk_result in zip(batch, batch_results):
                results[i] = chunk_result
        return results

    def loss_gradient(self, w, grad_out):
        """Data term and its gradient: one pass over every chunk, where it lives.

        Parameters
        ----------
        w : ndarray of shape (n_params,)
        grad_out : ndarray of shape (n_params,), float64
            Receives the gradient.

        Returns
        -------
        float
        """
        loss_sum = 0.0
        grad_out[:] = 0.0
        for chunk_loss, chunk_grad in self._chunk_results(w, with_gradient=True):
            loss_sum += chunk_loss
            grad_out += chunk_grad
        # As the in-memory reduction: the summed partials times 1 / S.
        grad_out *= 1.0 / self.sum_weights
        return loss_sum / self.sum_weights

    def loss(self, w):
        """Data term alone (no gradient pass), for line searches.

        Parameters
        ----------
        w : ndarray of shape (n_params,)

        Returns
        -------
        float
        """
        loss_sum = 0.0
        for chunk_loss, _ in self._chunk_results(w, with_gradient=False):
            loss_sum += chunk_loss
        return loss_sum / self.sum_weights
