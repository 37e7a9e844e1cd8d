"""A loss prepared once for fixed data, evaluated at many coefficients.

An optimiser calls the loss and its gradient tens or hundreds of times on
the same X and y. :class:`SoftmaxLoss` checks the data and sets up the
kernels' buffers once, so that each call does only the pass over X: no
re-validation of y and the weights, no scan of X for NaN, and no fresh
gradient partials (``32 * K * (d + 1)`` float64 numbers, 131 MB at K=1000
and d=512, whose page faults alone cost tens of milliseconds per call when
they are allocated anew). :func:`fastsoftmax.loss_gradient` is this class
used once.
"""

import numbers
import threading

import numpy as np
import scipy.sparse as sp

from ._targets import check_soft_targets, looks_like_soft_targets
from ._threads import kernel_threads
from ._validation import (
    as_float_array,
    check_all_finite,
    check_class_codes,
    check_sample_weight,
)
from .objective import make_objective
from .penalties import L2Penalty

__all__ = ["SoftmaxLoss"]


def as_csr_or_c_array(X):
    """X as a C-ordered float ndarray or a float CSR matrix.

    Dense float32 and float64 arrays in C order are used as they are; other
    real dtypes become float64 and other layouts are copied to C order once.
    Sparse input becomes CSR (once, if it is in another format).
    """
    if not sp.issparse(X):
        return np.ascontiguousarray(as_float_array(X, "X", 2))
    X = X.tocsr()
    if X.dtype.kind == "c" or X.dtype.kind not in "biuf":
        raise TypeError(f"X must hold real numbers, got sparse dtype {X.dtype}.")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    return X


def check_targets(y, n_samples, n_classes, label_smoothing):
    """``(labels, empty (0, n_classes) targets, smoothing)`` for labels,
    ``(empty labels, soft targets, 0.0)`` for a soft-target matrix (with the
    smoothing already applied): the kernels' convention for the unused one."""
    smoothing = float(label_smoothing)
    if not 0 <= smoothing < 1:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}.")
    if looks_like_soft_targets(y):
        Y = check_soft_targets(y, n_samples, smoothing)
        if Y.shape[1] != n_classes:
            raise ValueError(
                f"Soft targets y have {Y.shape[1]} columns but there are {n_classes} "
                "classes; give one column per class."
            )
        return np.empty(0, dtype=np.intp), Y, 0.0
    no_targets = np.empty((0, n_classes))
    return check_class_codes(y, n_samples, n_classes), no_targets, smoothing


def _infer_n_classes(y):
    """K from soft targets' columns, or ``max(y) + 1`` for integer labels."""
    if looks_like_soft_targets(y):
        return np.asarray(y).shape[1]
    arr = np.asarray(y)
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"y must hold integer class codes or be a 2-D float matrix of soft "
            f"targets, got dtype {arr.dtype}. Encode labels first, e.g. with "
            "sklearn.preprocessing.LabelEncoder."
        )
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"y must be 1-D class codes of shape (n_samples,), got shape {arr.shape}."
        )
    return max(int(arr.max()) + 1, 1)


class SoftmaxLoss:
    """Mean cross-entropy of a softmax model on fixed data, with its gradient.

    ``loss = sum_i s_i * l_i / sum_i s_i + l2_reg_strength / 2 * ||coef||_F^2``
    with ``l_i = sum_k t_ik * (logsumexp(z_i) - z_ik)``, ``z_i = coef @ X[i] +
    intercept`` and targets ``t_i`` (one-hot labels, smoothed labels or soft
    targets), as in :func:`fastsoftmax.loss_gradient`. The data are checked
    once, here; each call then reads X once and allocates only its results.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        float32 data is computed in float32, float64 in float64; other real
        dtypes are converted to float64 once, and arrays that are not
        C-contiguous are copied to C order once. scipy.sparse CSR data is
        used as it is; other sparse formats are converted to CSR once.
    y : array-like of shape (n_samples,) or (n_samples, n_classes)
        Integer class codes in ``[0, n_classes)``, or soft targets (float rows
        of class probabilities).
    n_classes : int, optional
        The number of classes K. Default: the columns of soft targets, or
        ``max(y) + 1`` for labels (pass it when the last classes may have no
        rows in ``y``).
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative weights, not all zero. None means all ones.
    label_smoothing : float in [0, 1), default=0.0
        Targets ``(1 - e) t + e / n_classes``.
    check_finite : bool, default=True
        Scan X for NaN and inf once, here. With False, non-finite X gives a
        NaN loss.

    Attributes
    ----------
    n_samples, n_features, n_classes : int

    Notes
    -----
    X (once in C order and a float dtype) is kept by reference, not copied:
    do not change it in place while the object is in use. Memory beyond the
    data does not grow with ``n_samples``: the kernels' per-range partial
    sums, ``32 * K * (d + 1)`` float64 numbers for dense X (for CSR X one
    set per core at most, within 64 MiB), plus a copy of soft targets when
    their dtype is not X's.
    Calls on one object from several Python threads take turns (they share
    its buffers); separate objects run side by side. Results are the same
    bits for every ``n_threads``.

    Examples
    --------
    >>> import numpy as np
    >>> import fastsoftmax as fs
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> loss = fs.SoftmaxLoss(X, [0, 1, 2])
    >>> value, grad_coef, grad_intercept = loss.loss_gradient(np.zeros((3, 2)), np.zeros(3))
    >>> bool(np.isclose(value, np.log(3))), grad_coef.shape, grad_intercept.shape
    (True, (3, 2), (3,))
    """

    def __init__(
        self, X, y, *, n_classes=None, sample_weight=None, label_smoothing=0.0,
        check_finite=True,
    ):
        X = as_csr_or_c_array(X)
        n_samples, n_features = X.shape
        if n_samples == 0:
            raise ValueError("X has no rows; the loss of no samples is undefined.")
        if check_finite:
            check_all_finite(X.data if sp.issparse(X) else X, "X")
        if n_classes is None:
            n_classes = _infer_n_classes(y)
        if not isinstance(n_classes, numbers.Integral) or isinstance(n_classes, bool):
            raise TypeError(f"n_classes must be an integer, got {n_classes!r}.")
        if n_classes < 1:
            raise ValueError(f"n_classes must be a positive integer, got {n_classes!r}.")
        n_classes = int(n_classes)
        labels, soft_targets, smoothing = check_targets(y, n_samples, n_classes, label_smoothing)
        sw = check_sample_weight(sample_weight, n_samples)
        # Always with an intercept: a call without one evaluates at a zero
        # intercept (adding 0.0 changes no score) and drops its gradient.
        self._objective = make_objective(
            X, labels, sw, n_classes, True, soft_targets=soft_targets,
            label_smoothing=smoothing,
        )
        self.n_samples, self.n_features, self.n_classes = n_samples, n_features, n_classes
        self._lock = threading.Lock()

    def _parameters(self, coef, intercept, l2_reg_strength):
        """``(w, coef, penalty)``: the flat float64 parameter vector, coef as
        float64 and the L2 penalty, after checking shapes and values."""
        coef = as_float_array(coef, "coef", 2).astype(np.float64, copy=False)
        if coef.shape != (self.n_classes, self.n_features):
            raise ValueError(
                f"coef has shape {coef.shape} but there are {self.n_classes} classes and "
                f"{self.n_features} features; coef must be "
                f"({self.n_classes}, {self.n_features})."
            )
        check_all_finite(coef, "coef")
        if intercept is not None:
            intercept = as_float_array(intercept, "intercept", 1)
            if intercept.shape != (self.n_classes,):
                raise ValueError(
                    f"intercept has shape {intercept.shape}; with {self.n_classes} classes "
                    f"it must be ({self.n_classes},) or None."
                )
            check_all_finite(intercept, "intercept")
        l2 = float(l2_reg_strength)
        if not (np.isfinite(l2) and l2 >= 0):
            raise ValueError(f"l2_reg_strength must be finite and >= 0, got {l2_reg_strength}.")
        return self._objective.pack(coef, intercept), coef, L2Penalty(l2)

    def loss_gradient(self, coef, intercept=None, *, l2_reg_strength=0.0, n_threads=None):
        """The loss and its gradient at ``(coef, intercept)``, in one pass over X.

        Parameters
        ----------
        coef : array-like of shape (n_classes, n_features)
            Coefficients, one row per class.
        intercept : array-like of shape (n_classes,), optional
            None means no intercept; then ``grad_intercept`` is None.
        l2_reg_strength : float, default=0.0
            Non-negative multiplier of ``||coef||_F^2 / 2``.
        n_threads : int, optional
            Threads for the kernel; None uses all cores.

        Returns
        -------
        loss : float
            The weighted mean cross-entropy plus the L2 term.
        grad_coef : ndarray of shape (n_classes, n_features), float64
            Gradient of ``loss`` with respect to ``coef``.
        grad_intercept : ndarray of shape (n_classes,), float64, or None
            Gradient with respect to ``intercept``; None when ``intercept``
            is None.
        """
        w, coef, penalty = self._parameters(coef, intercept, l2_reg_strength)
        grad = np.empty_like(w)
        with kernel_threads(n_threads), self._lock:
            loss = self._objective.loss_gradient(w, grad)
            # Inside the block, where BLAS is held to one thread: the
            # penalty's dot product would otherwise wake a multi-threaded
            # BLAS whose spinning workers slow the next call's kernel.
            grad_coef, grad_intercept = self._objective.unpack(grad)
            loss += penalty.value(coef)
            penalty.add_smooth_gradient(coef, grad_coef)
        return loss, grad_coef, (None if intercept is None else grad_intercept)

    def loss(self, coef, intercept=None, *, l2_reg_strength=0.0, n_threads=None):
        """The loss alone at ``(coef, intercept)``: one pass over X, no gradient.

        Cheaper than :meth:`loss_gradient` (for line searches, say) and equal
        to its loss in every bit.

        Parameters
        ----------
        coef : array-like of shape (n_classes, n_features)
            Coefficients, one row per class.
        intercept : array-like of shape (n_classes,), optional
            None means no intercept.
        l2_reg_strength : float, default=0.0
            Non-negative multiplier of ``||coef||_F^2 / 2``.
        n_threads : int, optional
            Threads for the kernel; None uses all cores.

        Returns
        -------
        float
            The weighted mean cross-entropy plus the L2 term.
        """
        w, coef, penalty = self._parameters(coef, intercept, l2_reg_strength)
        with kernel_threads(n_threads), self._lock:
            return self._objective.loss(w) + penalty.value(coef)
