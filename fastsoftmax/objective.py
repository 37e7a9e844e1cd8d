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

The data term is the weighted mean cross-entropy of ``shared`` design notes::

    L(w) = (1 / S) * sum_i s_i * (logsumexp(z_i) - z_i[y_i]),   z_i = coef @ x_i + intercept

with ``S = sum_i s_i``. Penalties are added by the solver
(:mod:`fastsoftmax.penalties`), never here.
"""

import numpy as np

from .kernels._config import N_ROW_RANGES
from .kernels.dense import (
    dense_loss,
    dense_loss_gradient,
    reduce_partials,
    row_block_size,
    sum_in_order,
    use_blas_for,
)

_EMPTY = {np.dtype(np.float32): np.empty(0, np.float32), np.dtype(np.float64): np.empty(0)}


class DenseObjective:
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
    """

    def __init__(self, X, y, sample_weight, n_classes, fit_intercept):
        self.X = X
        self.y = y
        self.n_classes = int(n_classes)
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
        self.row_block = row_block_size(d, X.itemsize)
        self.use_blas = use_blas_for(K)
        self._grad_partials = np.empty((N_ROW_RANGES, K, d))
        self._intercept_partials = np.empty((N_ROW_RANGES, K))
        # The kernels run in X's dtype; float32 data needs float32 parameters.
        self._needs_cast = X.dtype != np.float64
        if self._needs_cast:
            self._coef_cast = np.empty((K, d), dtype=X.dtype)
            self._intercept_cast = np.empty(K, dtype=X.dtype)

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

    def _kernel_params(self, w):
        """Parameters in X's dtype, as the kernels take them."""
        coef, intercept = self.unpack(np.asarray(w, dtype=np.float64))
        if intercept is None:
            intercept = _EMPTY[self.X.dtype]
        if not self._needs_cast:
            return coef, intercept
        np.copyto(self._coef_cast, coef, casting="same_kind")
        if self.fit_intercept:
            np.copyto(self._intercept_cast, intercept, casting="same_kind")
            return self._coef_cast, self._intercept_cast
        return self._coef_cast, intercept

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
        coef, intercept = self._kernel_params(w)
        loss_partials = dense_loss_gradient(
            self.X, self.y, self.sample_weight, coef, intercept, self.row_block,
            self.use_blas, self._grad_partials, self._intercept_partials,
        )
        grad_coef, grad_intercept = self.unpack(grad_out)
        if grad_intercept is None:
            grad_intercept = _EMPTY[np.dtype(np.float64)]
        reduce_partials(
            self._grad_partials, self._intercept_partials, 1.0 / self.sum_weights,
            coef, 0.0, grad_coef, grad_intercept,
        )
        return self._mean(loss_partials)

    def loss(self, w):
        """Data term alone (no gradient pass), for line searches.

        Parameters
        ----------
        w : ndarray of shape (n_params,)

        Returns
        -------
        float
        """
        coef, intercept = self._kernel_params(w)
        partials = dense_loss(
            self.X, self.y, self.sample_weight, coef, intercept, self.row_block,
            self.use_blas,
        )
        return self._mean(partials)

    def _mean(self, loss_partials):
        # Ranges added in order, as the gradient partials are: loss() and
        # loss_gradient() return the same bits at the same w.
        return sum_in_order(loss_partials) / self.sum_weights
