"""SoftmaxRegression: the scikit-learn compatible estimator.

Validation, label encoding and the scikit-learn API live here; the numerics
are delegated to the objective, the penalties, the solvers and the
prediction functions.
"""

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import assert_all_finite, check_is_fitted, validate_data

from ._diagnostics import SEPARABLE_MESSAGE, feature_scale_hint, separates_training_data
from ._params import check_estimator_params, resolve_penalty
from ._targets import check_cost_matrix, check_soft_targets, encode_labels, looks_like_soft_targets
from ._threads import default_threads, kernel_threads, problem_work
from ._validation import check_sample_weight, combined_weights
from .backend import min_expected_cost
from .distributed import fit_dask, is_dask_collection, predict_dask
from .objective import make_objective
from .penalties import NoPenalty, make_penalty
from .prediction import linear_log_proba, linear_predict, linear_proba, linear_scores
from .solvers import jacobi_scaling, minimize_lbfgs, minimize_proximal


class SoftmaxRegression(ClassifierMixin, BaseEstimator):
    """Multinomial (softmax) logistic regression with fused Numba kernels.

    Minimises the weighted mean cross-entropy plus a penalty::

        F(W, b) = (1/S) * sum_i s_i * (logsumexp(z_i) - z_i[y_i]) + R(W) / (C * S)

    with ``z_i = W x_i + b``, sample weights ``s_i`` (times class weights),
    ``S = sum_i s_i`` and

    * ``R(W) = ||W||_F^2 / 2`` for ``penalty="l2"``;
    * ``R(W) = ||W||_1`` for ``penalty="l1"``;
    * ``R(W) = (1 - r)/2 ||W||_F^2 + r ||W||_1`` for ``penalty="elasticnet"``
      with ``r = l1_ratio``;
    * ``R(W) = sum_j ||W[:, j]||_2`` for ``penalty="group_lasso"``: a feature
      is used by all classes or by none;
    * ``R = 0`` for ``penalty=None`` or ``C=np.inf``.

    With no weights this is the objective of scikit-learn's
    ``LogisticRegression`` for three or more classes at the same ``C``, so
    both reach the same model. The intercept is never penalised.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength, > 0. ``np.inf`` means no penalty.
    penalty : {"auto", "l2", "l1", "elasticnet", "group_lasso"} or None, default="auto"
        "auto" means "l2", or what ``l1_ratio`` selects when it is given
        (scikit-learn >= 1.8 style; "deprecated" is read as "auto").
        ``None`` fits the plain cross-entropy (the optimum may not exist on
        separable data).
    l1_ratio : float in [0, 1] or None, default=None
        Share of the L1 term: with ``penalty="auto"`` 0 selects L2, 1 selects
        L1, values between select elastic-net; required by
        ``penalty="elasticnet"``. A value that contradicts ``penalty`` (say
        ``penalty="l2", l1_ratio=1``) is an error.
    fit_intercept : bool, default=True
        Whether to fit the intercepts ``b``.
    solver : {"auto", "lbfgs", "proximal"}, default="auto"
        "lbfgs" (scipy's L-BFGS-B) for the smooth penalties ("l2", None);
        "proximal" (proximal L-BFGS) for any penalty; "auto" picks L-BFGS
        when the penalty is smooth and "proximal" otherwise.
    tol : float, default=1e-4
        Stop when the largest absolute entry of the gradient of ``F`` is at
        most ``tol``; for L1-type penalties, of its least-norm subgradient
        (the gradient, with each entry at zero shrunk by the penalty), which
        is zero exactly at the minimum. If ``F`` stops decreasing in floating-point arithmetic
        first (possible for ``tol`` below about 1e-8, or about 1e-6 with
        float32 data), the fit stops there with a ``ConvergenceWarning`` that
        gives the gradient reached.
    max_iter : int, default=100
        Maximum solver iterations; reaching it gives a ``ConvergenceWarning``.
    class_weight : dict, "balanced" or None, default=None
        Weights multiplying the sample weights of each class, as in
        scikit-learn. "balanced" uses ``n_samples / (n_classes * bincount(y))``;
        with ``sample_weight``, the weighted version
        ``sum(sample_weight) / (n_classes * bincount(y, sample_weight))``, as
        scikit-learn's ``compute_class_weight`` does.
    warm_start : bool, default=False
        Start from the previous ``coef_`` and ``intercept_`` when refitting
        with the same classes and features.
    n_threads : int or None, default=None
        Threads for the kernels; None uses all cores (or ``n_jobs`` if set),
        except one for problems too small to split (below 200,000
        multiply-adds per pass over the data). Results are bit-identical for
        every thread count.
    verbose : int, default=0
        If > 0, print what is being fitted, then one aligned line per
        iteration (iteration, objective, optimality measure compared with
        ``tol``, elapsed seconds) and a summary at the end.
    n_jobs : int or None, default=None
        scikit-learn's spelling of the thread count; used when ``n_threads``
        is None (-1 means all cores).
    random_state : None, int or RandomState, default=None
        Accepted for compatibility and unused: the fit is deterministic.
    multi_class : {"multinomial"}, default="multinomial"
        Accepted so that code written for scikit-learn < 1.8 with
        ``multi_class="multinomial"`` runs unchanged; other values are errors.
    dual : False, default=False
        Accepted for compatibility; the dual formulation does not exist here.
    intercept_scaling : 1, default=1
        Accepted for compatibility; the intercept is never penalised, so no
        scaling is needed.
    label_smoothing : float in [0, 1), default=0.0
        Fit against ``(1 - e) * onehot(y) + e / n_classes`` instead of the
        hard labels (also applied to soft targets): a regulariser that keeps
        probabilities away from 0 and 1.
    cost_matrix : array-like of shape (n_classes, n_classes) or None, default=None
        Entry ``[i, j]`` is the cost of predicting ``classes_[j]`` when the
        truth is ``classes_[i]``. When given, ``predict`` returns the class of
        least expected cost under ``predict_proba`` instead of the most
        probable one; the fit itself is unchanged.
    callback : callable or None, default=None
        Called after every solver iteration with a
        :class:`fastsoftmax.IterationState` (iteration, objective,
        optimality, elapsed, coef, intercept); returning True stops the fit
        there (without a ``ConvergenceWarning``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    coef_ : ndarray of shape (n_classes, n_features)
        Coefficients, float64. Two rows also when there are two classes (the
        symmetric parametrisation). L1-type penalties give exact zeros;
        ``sparsify()`` stores them as a scipy.sparse matrix.
    intercept_ : ndarray of shape (n_classes,)
        Intercepts, summing to zero (zeros if ``fit_intercept=False``).
    n_iter_ : ndarray of shape (1,)
        Solver iterations, as scikit-learn stores them.
    objective_ : float
        Value of ``F`` at the solution.
    n_features_in_ : int
        Number of features seen by ``fit``.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the features seen by ``fit``; only when X has string feature
        names (e.g. a pandas DataFrame).

    Notes
    -----
    With two classes and ``penalty="l1"`` the optimum equals scikit-learn's
    binary L1 model at the same ``C``; for elastic-net at ``C' = 2C/(1+r)``
    and ``r' = 2r/(1+r)``. With an even number of classes an L1 optimum may
    not be unique (a column can shift by a constant within an interval).

    Soft targets: ``fit(X, Y)`` with ``Y`` a 2-D float array of shape
    (n_samples, n_classes) whose rows are probability distributions
    (non-negative, summing to 1 within 1e-6) fits the cross-entropy against
    them, ``sum_k Y[i, k] * (logsumexp(z_i) - z_ik)``; ``classes_`` is then
    ``arange(n_classes)``. Any other 2-D ``y`` follows scikit-learn's rules
    (a single column is flattened with a warning).

    With two classes the model keeps two coefficient rows; ``decision_function``
    returns ``z_1 - z_0`` of shape (n_samples,). This equals scikit-learn's
    binary ``LogisticRegression`` fitted with ``2 * C``.

    float32 X is fitted and predicted in float32 without a copy (loss and
    gradients are accumulated in float64); other dtypes are converted to
    float64 once. Sparse X (CSR) goes through kernels that visit each stored
    entry once per evaluation and never form n-by-K arrays.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from fastsoftmax import SoftmaxRegression
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = SoftmaxRegression(max_iter=1000).fit(X, y)
    >>> clf.predict_proba(X[:1]).shape
    (1, 3)
    """

    def __init__(
        self,
        C=1.0,
        penalty="auto",
        l1_ratio=None,
        fit_intercept=True,
        solver="auto",
        tol=1e-4,
        max_iter=100,
        class_weight=None,
        warm_start=False,
        n_threads=None,
        verbose=0,
        n_jobs=None,
        random_state=None,
        multi_class="multinomial",
        dual=False,
        intercept_scaling=1,
        label_smoothing=0.0,
        cost_matrix=None,
        callback=None,
    ):
        self.C = C
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.class_weight = class_weight
        self.warm_start = warm_start
        self.n_threads = n_threads
        self.verbose = verbose
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.multi_class = multi_class
        self.dual = dual
        self.intercept_scaling = intercept_scaling
        self.label_smoothing = label_smoothing
        self.cost_matrix = cost_matrix
        self.callback = callback

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    def _threads(self, X=None):
        """Threads for the kernels on ``X``: ``n_threads``, else ``n_jobs``, else
        all cores, or one for a problem too small to split (``default_threads``)."""
        requested = self.n_threads if self.n_threads is not None else self.n_jobs
        if X is None:
            return requested
        n_classes = self.classes_.shape[0] if hasattr(self, "classes_") else 2
        return default_threads(requested, problem_work(X, n_classes))

    def fit(self, X, y, sample_weight=None):
        """Fit the model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. float32 stays float32; other dtypes become float64.
            Dense data that is not C-contiguous is copied to C order once.
            scipy.sparse CSR data (arrays or matrices, int32 or int64
            indices) is used as it is; CSC, COO and other sparse formats are
            converted to CSR once (a copy of the stored entries).
            A memory-mapped array is read through the map, never copied.
            A Dask array (row chunks, dense or CSR) is fitted where its
            chunks live, with the same solvers (see docs/distributed.md).
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
            Class labels (any hashable values that sort), or soft targets: a
            float array whose rows are class probabilities (see Notes). A
            Dask array when X is one (or X is split like it).
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights, not all zero; a Dask array too.

        Returns
        -------
        SoftmaxRegression
            The fitted estimator itself.
        """
        check_estimator_params(self)
        if any(is_dask_collection(arg) for arg in (X, y, sample_weight)):
            return fit_dask(self, X, y, sample_weight)
        if looks_like_soft_targets(y):
            X, classes, y_codes, sample_weight, targets = self._soft_problem(X, y, sample_weight)
        else:
            X, classes, y_codes, sample_weight, targets = self._labelled_problem(
                X, y, sample_weight
            )
        objective = make_objective(
            X, y_codes, sample_weight, classes.shape[0], self.fit_intercept, **targets
        )
        unpenalised = self._fit_objective(
            objective, classes,
            f"{X.shape[0]} x {X.shape[1]} {'CSR' if sp.issparse(X) else 'dense'} {X.dtype} data",
            scale_hint=lambda: feature_scale_hint(X),
            # Dense X was validated without the NaN/inf scan (_labelled_problem).
            check_finite=None if sp.issparse(X) else lambda: assert_all_finite(
                X, input_name="X", estimator_name=type(self).__name__
            ),
        )
        if unpenalised and y_codes is not None and not self.label_smoothing:
            self._warn_if_separable(X, y_codes, sample_weight)
        return self

    def _fit_objective(
        self, objective, classes, data_description, scale_hint, stacklevel=3, check_finite=None,
    ):
        """Minimise ``F`` on any data source and store the solution.

        Shared by in-memory and Dask fits: ``objective`` is any object with
        the interface of :class:`fastsoftmax.objective.DenseObjective`.

        Parameters
        ----------
        objective : object
            ``n_params``, ``unpack``, ``pack``, ``sum_weights``,
            ``loss_gradient`` and ``loss``.
        classes : ndarray of shape (n_classes,)
        data_description : str
            What is fitted, for the ``verbose`` header.
        scale_hint : callable
            Returns a sentence on badly scaled features (or ""); called only
            when the fit does not converge.
        stacklevel : int, default=3
            Of the ``ConvergenceWarning``: 3 points at the caller of ``fit``.
        check_finite : callable or None, default=None
            For data not yet scanned for NaN and inf: raises if the data hold
            any. Called only when the objective's feature second moments (one
            parallel pass, which the solvers' rescaling needs anyway) are not
            all finite, which any NaN or inf in the data makes them.

        Returns
        -------
        bool
            Whether the fit was unpenalised (then the caller may check for
            separable data).
        """
        n_classes = classes.shape[0]
        if self.cost_matrix is not None:
            check_cost_matrix(self.cost_matrix, n_classes)
        penalty_name, l1_ratio = resolve_penalty(self)
        penalty = make_penalty(penalty_name, self.C, objective.sum_weights, l1_ratio)
        solve = minimize_lbfgs if self._uses_lbfgs(penalty) else minimize_proximal
        w0 = self._starting_point(objective, classes)
        with kernel_threads(self._fit_threads(objective, n_classes)) as n_threads:
            if self.verbose > 0:
                print(
                    f"SoftmaxRegression: {data_description}, "
                    f"{n_classes} classes, penalty={penalty_name!r}, C={self.C}, "
                    f"solver={solve.__name__.removeprefix('minimize_')}, "
                    f"tol={self.tol}, {n_threads} threads", flush=True,
                )
            moments = None
            if hasattr(objective, "feature_second_moments"):
                moments = objective.feature_second_moments()
            # Finite moments prove the data finite; the converse does not hold
            # (a huge finite value squares to inf), so then look closer.
            if check_finite is not None and (moments is None or not np.all(np.isfinite(moments))):
                check_finite()
            # Both solvers work on diagonally scaled parameters when their
            # curvatures differ widely (solvers/scaling.py).
            options = {"scale": jacobi_scaling(objective, penalty, moments)}
            result = solve(
                objective, penalty, w0, tol=self.tol, max_iter=self.max_iter,
                verbose=self.verbose, callback=self.callback, **options,
            )
        if not result.converged and not result.stopped_by_callback:
            warnings.warn(
                f"SoftmaxRegression did not converge to tol={self.tol}: "
                f"{result.message}. Increase max_iter, scale the features, or "
                f"loosen tol.{scale_hint()}",
                ConvergenceWarning,
                stacklevel=stacklevel,
            )

        coef, intercept = objective.unpack(result.w)
        self.coef_ = np.array(coef)
        # Adding a constant to every intercept (or, without a penalty, to a
        # column of coef) leaves F unchanged; return the canonical form.
        unpenalised = isinstance(penalty, NoPenalty)
        if unpenalised:
            self.coef_ -= self.coef_.mean(axis=0)
        self.intercept_ = (
            np.array(intercept) - np.mean(intercept)
            if intercept is not None
            else np.zeros(n_classes)
        )
        self.classes_ = classes
        self.objective_ = result.objective
        self.n_iter_ = np.array([result.n_iter], dtype=np.int32)
        return unpenalised

    def _fit_threads(self, objective, n_classes):
        requested = self.n_threads if self.n_threads is not None else self.n_jobs
        X = getattr(objective, "X", None)  # None for Dask: threads per task there
        return default_threads(requested, None if X is None else problem_work(X, n_classes))

    def _labelled_problem(self, X, y, sample_weight):
        """Validated X, the classes, label codes, weights and target options."""
        # Dense X is not scanned for NaN/inf here: the fit learns it from the
        # feature second moments it computes anyway (one read of X saved).
        X, y = validate_data(
            self, X, y, dtype=[np.float64, np.float32], order="C",
            accept_sparse="csr", ensure_min_samples=1, y_numeric=False,
            ensure_all_finite=sp.issparse(X),
        )
        classes, y_codes = encode_labels(y, "SoftmaxRegression")
        sample_weight = combined_weights(sample_weight, self.class_weight, y_codes, classes)
        return X, classes, y_codes, sample_weight, dict(label_smoothing=self.label_smoothing)

    def _soft_problem(self, X, Y, sample_weight):
        """As :meth:`_labelled_problem` for soft targets (no label codes)."""
        if self.class_weight is not None:
            raise ValueError(
                "class_weight needs hard labels to know each sample's class; with "
                "soft targets, weight the samples with sample_weight instead."
            )
        X = validate_data(
            self, X, dtype=[np.float64, np.float32], order="C", accept_sparse="csr",
            ensure_min_samples=1, ensure_all_finite=sp.issparse(X),
        )
        Y = check_soft_targets(Y, X.shape[0], self.label_smoothing)
        sample_weight = check_sample_weight(sample_weight, X.shape[0])
        return X, np.arange(Y.shape[1]), None, sample_weight, dict(soft_targets=Y)

    def _warn_if_separable(self, X, y_codes, sample_weight):
        predicted = linear_predict(X, self.coef_, self._intercept(), self._threads(X))
        if separates_training_data(predicted, y_codes, sample_weight):
            warnings.warn(SEPARABLE_MESSAGE, ConvergenceWarning, stacklevel=3)

    def _uses_lbfgs(self, penalty):
        return self.solver == "lbfgs" or (self.solver == "auto" and penalty.smooth)

    def _starting_point(self, objective, classes):
        """Zeros, or the previous solution when warm-starting a compatible fit."""
        previous = getattr(self, "coef_", None)
        if previous is not None:
            previous = self._dense_coef()
        if (
            self.warm_start
            and previous is not None
            and previous.shape == (objective.n_classes, objective.n_features)
            and np.array_equal(self.classes_, classes)
        ):
            return objective.pack(previous, self.intercept_)
        return np.zeros(objective.n_params)

    def _validated_X(self, X):
        check_is_fitted(self)
        # Dense X is not scanned for NaN/inf here: the prediction kernels
        # detect them from the scores, without reading X a second time.
        return validate_data(
            self, X, reset=False, dtype=[np.float64, np.float32], order="C",
            accept_sparse="csr", ensure_all_finite=sp.issparse(X),
        )

    def _dense_coef(self):
        return self.coef_.toarray() if sp.issparse(self.coef_) else self.coef_

    def sparsify(self):
        """Store ``coef_`` as a scipy.sparse CSR matrix (useful after L1 fits).

        Predictions are unchanged.

        Returns
        -------
        SoftmaxRegression
            The estimator itself, with ``coef_`` a CSR matrix of shape
            (n_classes, n_features).
        """
        check_is_fitted(self)
        self.coef_ = sp.csr_matrix(self._dense_coef())
        return self

    def densify(self):
        """Store ``coef_`` as a dense ndarray again (the default).

        Returns
        -------
        SoftmaxRegression
            The estimator itself, with ``coef_`` an ndarray of shape
            (n_classes, n_features).
        """
        check_is_fitted(self)
        self.coef_ = np.asarray(self._dense_coef())
        return self

    def _intercept(self):
        return self.intercept_ if self.fit_intercept else None

    def decision_function(self, X):
        """Scores ``X @ coef_.T + intercept_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples to score (a Dask array gives a lazy result).

        Returns
        -------
        ndarray of shape (n_samples, n_classes) or (n_samples,)
            The scores ``z_i``, columns following ``classes_``. For two
            classes, shape (n_samples,): ``z_1 - z_0``, the score of
            ``classes_[1]`` over ``classes_[0]``, as scikit-learn's binary
            classifiers return it.
        """
        if is_dask_collection(X):
            return predict_dask(self, X, "decision_function")
        X = self._validated_X(X)
        if self.classes_.shape[0] == 2:
            dense = self._dense_coef()
            coef = (dense[1] - dense[0])[np.newaxis, :]
            intercept = np.array([self.intercept_[1] - self.intercept_[0]])
            return linear_scores(X, coef, intercept, self._threads(X)).ravel()
        return linear_scores(X, self._dense_coef(), self._intercept(), self._threads(X))

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples to predict (a Dask array gives a lazy result).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Rows sum to 1; columns follow ``classes_``. float32 for float32 X.
        """
        if is_dask_collection(X):
            return predict_dask(self, X, "predict_proba")
        X = self._validated_X(X)
        return linear_proba(X, self._dense_coef(), self._intercept(), self._threads(X))

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities, computed stably from the scores.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples to predict (a Dask array gives a lazy result).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            ``log(predict_proba(X))`` without underflow to ``-inf``; columns
            follow ``classes_``.
        """
        if is_dask_collection(X):
            return predict_dask(self, X, "predict_log_proba")
        X = self._validated_X(X)
        return linear_log_proba(X, self._dense_coef(), self._intercept(), self._threads(X))

    def predict(self, X):
        """Predict the most probable class, or the class of least expected cost.

        The class of least expected cost under ``predict_proba`` is returned
        when ``cost_matrix`` is set.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples to predict (a Dask array gives a lazy result).

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        if is_dask_collection(X):
            return predict_dask(self, X, "predict")
        X = self._validated_X(X)
        if self.cost_matrix is not None:
            proba = linear_proba(X, self._dense_coef(), self._intercept(), self._threads(X))
            return self.classes_[min_expected_cost(proba, self.cost_matrix)]
        codes = linear_predict(X, self._dense_coef(), self._intercept(), self._threads(X))
        return self.classes_[codes]
