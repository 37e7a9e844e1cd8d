"""The data term of the training objective, on a flat parameter vector.

Conventions
-----------
For ``n_classes = K`` and ``n_features = d`` the parameters are

* ``coef`` of shape (K, d): row ``k`` holds the weights of class ``k``;
* ``intercept`` of shape (K,), present only when ``fit_intercept=True``.

The solvers see one flat float64 vector ``w`` of length ``K * d`` (+ ``K``)::

    w = [coef[0, :], coef[1, :], ..., coef[K-1, :], intercept[0], ..., intercept[K-1]]

that is ``coef.ravel()`` in C order followed by the intercept. ``unpack(w)``
returns views of ``w`` with these shapes, so a gradient written through the
views of a flat buffer needs no copy. This module is the only place that knows
this layout; solvers and penalties go through ``unpack``.

The data term is the weighted mean cross-entropy of the design notes::

    L(w) = (1 / S) * sum_i s_i * sum_k t_ik * (logsumexp(z_i) - z_ik),   z_i = coef @ x_i + intercept

with ``S = sum_i s_i`` and targets ``t_i``: ``onehot(y_i)`` for hard labels
(then the inner sum is ``logsumexp(z_i) - z_i[y_i]``), ``(1 - e) onehot(y_i)
+ e / K`` with label smoothing ``e``, or a row of soft targets. Penalties are added by the solver
(:mod:`fastsoftmax.penalties`), never here.
"""

import os

import numpy as np
import scipy.sparse as sp

from .kernels._config import N_ROW_RANGES, SPARSE_PARTIALS_BYTES
from .kernels.blocks import label_weight_totals
from .kernels.dense import (
    KernelLayout,
    column_second_moments,
    dense_loss,
    dense_loss_gradient,
    reduce_partials,
    sum_in_order,
)
from .kernels.sparse import (
    csr_column_second_moments,
    csr_loss,
    csr_loss_gradient,
    reduce_transposed_partials,
)

_EMPTY = {np.dtype(np.float32): np.empty(0, np.float32), np.dtype(np.float64): np.empty(0)}


class _Objective:
    """What every data source shares: the flat layout, the weights, the casts.

    Subclasses set up their kernels' buffers and implement ``loss_gradient``
    and ``loss``.
    """

    def __init__(
        self, X, y, sample_weight, n_classes, fit_intercept, soft_targets=None,
        label_smoothing=0.0,
    ):
        self.X = X
        self.n_classes = int(n_classes)
        # The kernels take labels and soft targets side by side; the unused
        # one is empty (see the kernel modules).
        self.y = np.empty(0, dtype=np.intp) if y is None else y
        if soft_targets is None:
            soft_targets = np.empty((0, self.n_classes))
        self.soft_targets = np.ascontiguousarray(soft_targets, dtype=X.dtype)
        self.smoothing = float(label_smoothing)
        self.n_features = X.shape[1]
        self.fit_intercept = bool(fit_intercept)
        if sample_weight is None:
            self.sample_weight = _EMPTY[X.dtype]
            self.sum_weights = float(X.shape[0])
        else:
            self.sample_weight = np.asarray(sample_weight, dtype=X.dtype)
            self.sum_weights = float(np.sum(sample_weight, dtype=np.float64))
        K, d = self.n_classes, self.n_features
        self.n_coef = K * d
        self.n_params = self.n_coef + (K if self.fit_intercept else 0)

    def unpack(self, w):
        """Views ``(coef, intercept)`` of a flat vector; intercept is None
        without ``fit_intercept``.

        Parameters
        ----------
        w : ndarray of shape (n_params,)

        Returns
        -------
        coef : ndarray of shape (n_classes, n_features)
        intercept : ndarray of shape (n_classes,) or None
        """
        coef = w[: self.n_coef].reshape(self.n_classes, self.n_features)
        intercept = w[self.n_coef :] if self.fit_intercept else None
        return coef, intercept

    def pack(self, coef, intercept):
        """Flat float64 vector from ``coef`` (n_classes, n_features) and
        ``intercept`` (n_classes,) or None."""
        w = np.zeros(self.n_params)
        w_coef, w_intercept = self.unpack(w)
        w_coef[:] = coef
        if self.fit_intercept and intercept is not None:
            w_intercept[:] = intercept
        return w

    def _mean(self, loss_partials):
        # Ranges added in order, as the gradient partials are: loss() and
        # loss_gradient() return the same bits at the same w.
        return sum_in_order(loss_partials) / self.sum_weights


class DenseObjective(_Objective):
    """Mean weighted cross-entropy of a softmax model on dense data.

    Holds the data and the buffers of the kernels, allocated once: every
    evaluation reuses them. Extra memory is ``N_ROW_RANGES * K * (d + 1)``
    float64 values, independent of ``n_samples``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, C order
        Used as it is, never copied.
    y : ndarray of shape (n_samples,), integer class codes in [0, n_classes)
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights; None means all ones.
    n_classes : int
    fit_intercept : bool
    soft_targets : ndarray of shape (n_samples, n_classes) or None
        Rows of target probabilities used instead of ``y`` (then ``y`` may
        be None); cast to X's dtype once if needed.
    label_smoothing : float, default=0.0
        Smoothing ``e`` of the hard labels, in [0, 1).
    layout : KernelLayout, optional
        The kernels' products and block sizes; by default the ones
        :class:`~fastsoftmax.kernels.dense.KernelLayout` chooses for the
        shape (tests pass another to compare the paths).
    """

    def __init__(self, X, y, sample_weight, n_classes, fit_intercept, layout=None, **targets):
        super().__init__(X, y, sample_weight, n_classes, fit_intercept, **targets)
        K, d = self.n_classes, self.n_features
        self.layout = KernelLayout(d, K, X.itemsize) if layout is None else layout
        self._grad_partials = np.empty((N_ROW_RANGES, self.layout.grad_classes, d))
        self._intercept_partials = np.empty((N_ROW_RANGES, K))
        # The kernels take the coefficients laid out for the score products
        # (transposed or not, padded), in X's dtype.
        self._coef_t = self.layout.coef_array(np.zeros((K, d)), X.dtype)
        self._intercept_cast = np.empty(K, dtype=X.dtype)
        # Per-range label totals (hard labels) are computed by a parallel
        # kernel at the first loss_gradient call, which runs inside the
        # caller's kernel_threads: objectives are built before a fit or a Dask
        # task takes its threads, and a parallel launch here would run on
        # every core (and unguarded under the workqueue layer).
        self._label_totals = np.empty((0, K)) if self.soft_targets.shape[0] > 0 else None

    def _kernel_params(self, w):
        """``(coef, Wt, intercept)``: coef a float64 view of ``w``, the others in X's dtype."""
        coef, intercept = self.unpack(np.asarray(w, dtype=np.float64))
        self.layout.coef_array(coef, self.X.dtype, out=self._coef_t)
        if intercept is None:
            return coef, self._coef_t, _EMPTY[self.X.dtype]
        np.copyto(self._intercept_cast, intercept, casting="same_kind")
        return coef, self._coef_t, self._intercept_cast

    def loss_gradient(self, w, grad_out):
        """Data term and its gradient in one pass over X.

        Parameters
        ----------
        w : ndarray of shape (n_params,)
        grad_out : ndarray of shape (n_params,), float64, C order
            Receives the gradient.

        Returns
        -------
        float
        """
        coef, coef_t, intercept = self._kernel_params(w)
        layout = self.layout
        if self._label_totals is None:
            self._label_totals = label_weight_totals(
                self.y, self.sample_weight, self.n_classes, self.smoothing, N_ROW_RANGES
            )
        loss_partials = dense_loss_gradient(
            self.X, self.y, self.soft_targets, self.smoothing, self.sample_weight, coef_t,
            intercept, self.n_classes, layout.row_block, layout.class_tile, layout.products,
            self._label_totals, self._grad_partials, self._intercept_partials,
        )
        grad_coef, grad_intercept = self.unpack(grad_out)
        if grad_intercept is None:
            grad_intercept = _EMPTY[np.dtype(np.float64)]
        reduce_partials(
            self._grad_partials, self._intercept_partials, 1.0 / self.sum_weights,
            coef, 0.0, grad_coef, grad_intercept,
        )
        return self._mean(loss_partials)

    def feature_second_moments(self):
        """Weighted mean of each feature's square, ``sum_i s_i x_ij^2 / S``.

        Returns
        -------
        ndarray of shape (n_features,), float64
        """
        return column_second_moments(self.X, self.sample_weight) / self.sum_weights

    def loss(self, w):
        """Data term alone (no gradient pass), for line searches.

        Parameters
        ----------
        w : ndarray of shape (n_params,)

        Returns
        -------
        float
        """
        _, coef_t, intercept = self._kernel_params(w)
        partials = dense_loss(
            self.X, self.y, self.soft_targets, self.smoothing, self.sample_weight, coef_t,
            intercept, self.n_classes, self.layout.row_block, self.layout.products,
        )
        return self._mean(partials)


def sparse_n_ranges(n_features, n_classes, n_cores=None):
    """Row ranges for the CSR kernels.

    ``N_ROW_RANGES`` while their gradient partials (``n_features * n_classes``
    float64 each) fit in ``SPARSE_PARTIALS_BYTES``. Wider data gets as many
    as fit in that budget, but no more than the machine has cores: a range
    beyond those would add its partial's memory (16 MB at d = 100,000 and
    K = 20) without adding parallelism. Always at least 2.

    Depends on the shape and the machine only, never on ``n_threads``, so
    results stay the same for every thread count; the price on very wide
    data is parallelism capped at that many threads.

    Parameters
    ----------
    n_features, n_classes : int
    n_cores : int, optional
        The machine's logical CPUs; ``os.cpu_count()`` by default.

    Returns
    -------
    int
    """
    per_range = max(1, n_features * n_classes * 8)
    if N_ROW_RANGES * per_range <= SPARSE_PARTIALS_BYTES:
        return N_ROW_RANGES
    if n_cores is None:
        n_cores = os.cpu_count() or 1
    return int(max(2, min(SPARSE_PARTIALS_BYTES // per_range, n_cores)))


class CsrObjective(_Objective):
    """Mean weighted cross-entropy of a softmax model on CSR data.

    One pass over the stored entries per evaluation; extra memory
    ``n_ranges * (d + 1) * K`` float64 (see :func:`sparse_n_ranges`), never
    n-by-K.

    Parameters
    ----------
    X : scipy.sparse CSR array or matrix of shape (n_samples, n_features)
        float32 or float64 data, int32 or int64 indices; used as it is.
    y, sample_weight, n_classes, fit_intercept, soft_targets, label_smoothing
        As for :class:`DenseObjective`.
    """

    def __init__(self, X, y, sample_weight, n_classes, fit_intercept, **targets):
        super().__init__(X, y, sample_weight, n_classes, fit_intercept, **targets)
        K, d = self.n_classes, self.n_features
        self.n_ranges = sparse_n_ranges(d, K)
        self._grad_t_partials = np.empty((self.n_ranges, d, K))
        self._intercept_partials = np.empty((self.n_ranges, K))
        self._coef_t = np.empty((d, K), dtype=X.dtype)
        self._intercept_cast = np.empty(K, dtype=X.dtype)

    def _kernel_params(self, w):
        """Transposed coefficients and intercept in X's dtype."""
        coef, intercept = self.unpack(np.asarray(w, dtype=np.float64))
        np.copyto(self._coef_t, coef.T, casting="same_kind")
        if intercept is None:
            return coef, self._coef_t, _EMPTY[self.X.dtype]
        np.copyto(self._intercept_cast, intercept, casting="same_kind")
        return coef, self._coef_t, self._intercept_cast

    def loss_gradient(self, w, grad_out):
        """Data term and its gradient in one pass over the stored entries.

        Parameters
        ----------
        w : ndarray of shape (n_params,)
        grad_out : ndarray of shape (n_params,), float64
            Receives the gradient.

        Returns
        -------
        float
        """
        _, coef_t, intercept = self._kernel_params(w)
        X = self.X
        loss_partials = csr_loss_gradient(
            X.data, X.indices, X.indptr, self.y, self.soft_targets, self.smoothing,
            self.sample_weight, coef_t, intercept,
            self._grad_t_partials, self._intercept_partials,
        )
        grad_coef, grad_intercept = self.unpack(grad_out)
        if grad_intercept is None:
            grad_intercept = _EMPTY[np.dtype(np.float64)]
        reduce_transposed_partials(
            self._grad_t_partials, self._intercept_partials, 1.0 / self.sum_weights,
            grad_coef, grad_intercept,
        )
        return self._mean(loss_partials)

    def feature_second_moments(self):
        """Weighted mean of each feature's square, ``sum_i s_i x_ij^2 / S``.

        Returns
        -------
        ndarray of shape (n_features,), float64
        """
        X = self.X
        totals = csr_column_second_moments(
            X.data, X.indices, X.indptr, self.sample_weight, self.n_features
        )
        return totals / self.sum_weights

    def loss(self, w):
        """Data term alone, for line searches."""
        _, coef_t, intercept = self._kernel_params(w)
        X = self.X
        partials = csr_loss(
            X.data, X.indices, X.indptr, self.y, self.soft_targets, self.smoothing,
            self.sample_weight, coef_t, intercept,
            self.n_ranges,
        )
        return self._mean(partials)


def make_objective(
    X, y, sample_weight, n_classes, fit_intercept, *, soft_targets=None, label_smoothing=0.0
):
    """The objective for X's format: :class:`CsrObjective` for scipy.sparse
    CSR input, :class:`DenseObjective` for a C-ordered ndarray.

    ``soft_targets`` (n_samples, n_classes) replaces the labels ``y`` when
    given; ``label_smoothing`` smooths the labels otherwise."""
    cls = CsrObjective if sp.issparse(X) else DenseObjective
    return cls(
        X, y, sample_weight, n_classes, fit_intercept, soft_targets=soft_targets,
        label_smoothing=label_smoothing,
    )
