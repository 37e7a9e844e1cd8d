"""Regularisation paths: the model at a sequence of C values, warm-started.

How it is built: the data are validated and bound into one objective
(:func:`fastsoftmax.objective.make_objective`) whose kernel buffers serve
every C; the C values are visited from the smallest (strongest penalty,
solution near zero, so cheap from a zero start) to the largest, each solve
starting from the previous solution, as glmnet and scikit-learn's
``LogisticRegressionCV`` do. Neighbouring optima are close, so a warm solve
needs far fewer passes over the data than a cold one. Results are returned
in the order the caller gave the C values.

One more pass per C is saved by :class:`_LastEvaluation`: the data term and
its gradient do not depend on C, and every solver starts by evaluating them
at its starting point, which is the point where the previous solve ended.

Every solve stops at the same ``tol`` as :class:`~fastsoftmax.SoftmaxRegression`
(largest absolute entry of the least-norm subgradient of F), so each model of
the path is what a cold fit at that C reaches, not a looser intermediate.
"""

import numbers
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_X_y

from ._params import check_estimator_params, resolve_penalty
from ._targets import encode_labels
from ._threads import kernel_threads
from ._validation import combined_weights
from .objective import make_objective
from .penalties import make_penalty
from .solvers import jacobi_scaling, minimize_lbfgs, minimize_proximal


@dataclass
class SoftmaxPath:
    """The models of a regularisation path, one per C, in the order of ``Cs``.

    Attributes
    ----------
    Cs : ndarray of shape (n_Cs,)
        The C values, as given (or ``np.logspace(-4, 4, Cs)`` for an int).
    coefs : ndarray of shape (n_Cs, n_classes, n_features)
        Coefficients at each C (float64).
    intercepts : ndarray of shape (n_Cs, n_classes)
        Intercepts at each C, summing to zero over classes (zeros without
        ``fit_intercept``).
    objectives : ndarray of shape (n_Cs,)
        Value of F (data term + penalty at that C) at each solution.
    n_iter : ndarray of shape (n_Cs,)
        Solver iterations spent at each C.
    n_evaluations : ndarray of shape (n_Cs,)
        Passes over the data (loss+gradient or loss-only) spent at each C.
    converged : ndarray of shape (n_Cs,), bool
        Whether each solve reached ``tol``.
    classes : ndarray of shape (n_classes,)
        Class labels, sorted; rows of ``coefs`` follow them.
    """

    Cs: np.ndarray
    coefs: np.ndarray
    intercepts: np.ndarray
    objectives: np.ndarray
    n_iter: np.ndarray
    n_evaluations: np.ndarray
    converged: np.ndarray
    classes: np.ndarray


def check_Cs(Cs, caller):
    """The grid of C values as a float64 array of shape (n_Cs,).

    An int ``n`` >= 1 gives ``np.logspace(-4, 4, n)`` (scikit-learn's
    ``LogisticRegressionCV`` grid); otherwise a non-empty 1-D sequence of
    positive numbers, ``np.inf`` allowed (no penalty).
    """
    if isinstance(Cs, numbers.Integral) and not isinstance(Cs, bool):
        if Cs < 1:
            raise ValueError(
                f"{caller}: Cs={Cs} asks for no C values; pass an int >= 1 (that many "
                "values on np.logspace(-4, 4)) or a list of positive C values."
            )
        return np.logspace(-4, 4, int(Cs))
    if isinstance(Cs, numbers.Real) and not isinstance(Cs, bool):
        raise TypeError(
            f"{caller}: Cs must be an int (number of values) or a list of C values, "
            f"got {Cs!r}; for a single C pass a list such as Cs=[{Cs!r}]."
        )
    if isinstance(Cs, (bool, str)):
        raise TypeError(
            f"{caller}: Cs must be an int (number of values) or a list of C values, "
            f"got {Cs!r}."
        )
    try:
        grid = np.asarray(Cs, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{caller}: Cs must be an int or a list of positive numbers, got {Cs!r}."
        ) from None
    if grid.ndim != 1 or grid.size == 0:
        raise ValueError(
            f"{caller}: Cs must be a non-empty 1-D list of C values, got an array of "
            f"shape {grid.shape}."
        )
    bad = np.flatnonzero(~(grid > 0))  # catches NaN as well as C <= 0
    if bad.size:
        raise ValueError(
            f"{caller}: every C must be a positive number (np.inf for no penalty), "
            f"but Cs[{bad[0]}] = {float(grid[bad[0]])!r}."
        )
    return grid


_PARAM_DEFAULTS = {
    "C": 1.0, "penalty": "auto", "l1_ratio": None, "solver": "auto", "tol": 1e-4,
    "max_iter": 100, "class_weight": None, "verbose": 0, "n_threads": None, "n_jobs": None,
    "multi_class": "multinomial", "dual": False, "intercept_scaling": 1,
    "fit_intercept": True, "warm_start": False,
}


def params_object(caller, **values):
    """An object with SoftmaxRegression's parameters as attributes.

    ``_params``' checks read estimator attributes and name the estimator's
    class in their messages; this lets them validate a function's arguments
    (or a CV estimator's, whose C is not a parameter) with the same messages,
    spoken by ``caller``.
    """
    params = type(caller, (), {})()
    params.__dict__.update(_PARAM_DEFAULTS, **values)
    return params


def resolve_path_penalty(params):
    """Check ``params`` and return the penalty name and L1 ratio of the path.

    ``penalty=None`` is rejected: without a penalty C changes nothing, so a
    path would fit the same model n_Cs times.
    """
    check_estimator_params(params)
    penalty, l1_ratio = resolve_penalty(params)
    if penalty is None:
        name = type(params).__name__
        raise ValueError(
            f"{name}: penalty=None has no strength to vary, so every C would give the "
            "same model. Choose a penalty ('l2', 'l1', 'elasticnet', 'group_lasso'; "
            "put np.inf in Cs to include the unpenalised fit), or fit "
            "SoftmaxRegression(penalty=None) once."
        )
    return penalty, l1_ratio


def null_model_start(objective, y_codes, weights):
    """Flat starting point: zero coefficients, intercepts at the log class frequencies.

    That is the optimum as C -> 0 (the intercept is never penalised), so the
    smallest C of a path, where it starts, is a few iterations away from it.
    Without ``fit_intercept`` it is zero.

    Parameters
    ----------
    objective : object
        From :func:`fastsoftmax.objective.make_objective`.
    y_codes : ndarray of shape (n_samples,)
    weights : ndarray of shape (n_samples,) or None

    Returns
    -------
    ndarray of shape (n_params,)
    """
    w0 = np.zeros(objective.n_params)
    _, intercept = objective.unpack(w0)
    if intercept is not None:
        counts = np.bincount(y_codes, weights=weights, minlength=objective.n_classes)
        # A class absent from the data (possible in a CV fold) has its optimal
        # intercept at -inf; a large finite start is as good as any.
        log_freq = np.log(np.maximum(counts / counts.sum(), 1e-12))
        intercept[:] = log_freq - log_freq.mean()
    return w0


class _LastEvaluation:
    """An objective that remembers its last loss+gradient evaluation.

    A warm-started solve begins by evaluating the data term at the point the
    previous solve ended on, which the previous solve has just evaluated; the
    data term does not depend on C, so that pass is answered from memory.
    ``n_passes`` counts the passes over the data actually made.
    """

    def __init__(self, objective):
        self._objective = objective
        self._last_w = None
        self._last_grad = np.empty(objective.n_params)
        self._last_loss = None
        self.n_passes = 0

    def __getattr__(self, name):
        # unpack, pack, n_params, sum_weights, ...: those of the objective.
        return getattr(self._objective, name)

    def loss_gradient(self, w, grad_out):
        if self._last_w is not None and np.array_equal(w, self._last_w):
            grad_out[...] = self._last_grad
            return self._last_loss
        self.n_passes += 1
        loss = self._objective.loss_gradient(w, grad_out)
        self._last_w = np.array(w, dtype=np.float64)
        self._last_grad[...] = grad_out
        self._last_loss = loss
        return loss

    def loss(self, w):
        self.n_passes += 1
        return self._objective.loss(w)


class PathSolutions(NamedTuple):
    """What :func:`solve_path` returns, in the order of its ``Cs``."""

    solutions: np.ndarray  # (n_Cs, n_params), flat, raw
    objectives: np.ndarray  # (n_Cs,)
    n_iter: np.ndarray  # (n_Cs,)
    n_evaluations: np.ndarray  # (n_Cs,) passes over the data
    converged: np.ndarray  # (n_Cs,) bool
    messages: list  # (n_Cs,) the solvers' reasons for stopping


def solve_path(objective, penalty_name, l1_ratio, Cs, *, solver, tol, max_iter, n_threads,
               verbose=0, w0=None):
    """Minimise F at every C of ``Cs``, smallest first, each from the previous optimum.

    Parameters
    ----------
    objective : object
        As made by :func:`fastsoftmax.objective.make_objective`; reused for every C.
    penalty_name : {"l2", "l1", "elasticnet", "group_lasso"}
    l1_ratio : float or None
    Cs : ndarray of shape (n_Cs,)
        Positive, in any order; ``np.inf`` means no penalty.
    solver : {"auto", "lbfgs", "proximal"}
    tol, max_iter, n_threads, verbose
        As for :class:`~fastsoftmax.SoftmaxRegression`.
    w0 : ndarray of shape (n_params,), optional
        Start of the first (smallest-C) solve; zeros by default (see
        :func:`null_model_start` for a better one).

    Returns
    -------
    PathSolutions
        Everything in the order of ``Cs``; ``solutions`` are flat and raw
        (not canonical).
    """
    cached = _LastEvaluation(objective)
    n_Cs = Cs.shape[0]
    solutions = np.empty((n_Cs, objective.n_params))
    objectives = np.empty(n_Cs)
    n_iter = np.zeros(n_Cs, dtype=np.int32)
    n_evaluations = np.zeros(n_Cs, dtype=np.int32)
    converged = np.zeros(n_Cs, dtype=bool)
    messages = [""] * n_Cs
    w = np.zeros(objective.n_params) if w0 is None else np.array(w0, dtype=np.float64)
    with kernel_threads(n_threads):
        # One pass for the diagonal scaling of every solve on the path.
        second_moments = getattr(objective, "feature_second_moments", None)
        moments = second_moments() if second_moments is not None else None
        for index in np.argsort(Cs, kind="stable"):
            penalty = make_penalty(penalty_name, Cs[index], objective.sum_weights, l1_ratio)
            use_lbfgs = solver == "lbfgs" or (solver == "auto" and penalty.smooth)
            solve = minimize_lbfgs if use_lbfgs else minimize_proximal
            options = {"scale": jacobi_scaling(cached, penalty, moments)}
            passes_before = cached.n_passes
            result = solve(
                cached, penalty, w, tol=tol, max_iter=max_iter, verbose=max(0, verbose - 1),
                **options,
            )
            w = result.w
            solutions[index] = w
            objectives[index] = result.objective
            n_iter[index] = result.n_iter
            n_evaluations[index] = cached.n_passes - passes_before
            converged[index] = result.converged
            messages[index] = result.message
            if verbose > 0:
                print(f"C={Cs[index]:.4g}: objective {result.objective:.12g}, "
                      f"{result.n_iter} iterations, {n_evaluations[index]} passes")
    return PathSolutions(solutions, objectives, n_iter, n_evaluations, converged, messages)


def canonical(objective, w, C):
    """``(coef, intercept)`` copies of a flat solution in canonical form.

    Intercepts sum to zero over classes; without a penalty (C = inf) every
    column of ``coef`` does too, as in :class:`~fastsoftmax.SoftmaxRegression`.
    """
    coef, intercept = objective.unpack(w)
    coef = np.array(coef)
    if np.isinf(C):
        coef -= coef.mean(axis=0)
    if intercept is None:
        return coef, np.zeros(objective.n_classes)
    return coef, np.array(intercept) - np.mean(intercept)


def warn_unconverged(caller, tol, Cs, path):
    """One ConvergenceWarning for all the C values of ``path`` (a
    :class:`PathSolutions`) whose solve stopped before ``tol``."""
    failed = np.flatnonzero(~path.converged)
    if failed.size == 0:
        return
    shown = ", ".join(f"{Cs[i]:.3g}" for i in failed[:5])
    more = f" and {failed.size - 5} more" if failed.size > 5 else ""
    warnings.warn(
        f"{caller} did not converge to tol={tol} at C = {shown}{more} (at C = "
        f"{Cs[failed[0]]:.3g}: {path.messages[failed[0]]}). Increase max_iter, scale "
        "the features, or loosen tol.",
        ConvergenceWarning,
        stacklevel=3,
    )


def softmax_path(X, y, Cs=10, *, penalty="auto", l1_ratio=None, fit_intercept=True,
                 sample_weight=None, class_weight=None, solver="auto", tol=1e-4,
                 max_iter=100, n_threads=None, verbose=0):
    """Softmax regression at a sequence of C values, with warm starts.

    Fits the model of :class:`~fastsoftmax.SoftmaxRegression` (same objective,
    penalties, stopping rule and canonical form) at every C. The data are
    validated and bound to the kernels once; the C values are solved from
    the smallest to the largest, each starting from the previous solution,
    which costs far fewer passes over the data than independent fits.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        float32 stays float32; other dtypes become float64. CSR is used as
        it is; other sparse formats are converted to CSR once.
    y : array-like of shape (n_samples,)
        Class labels.
    Cs : int or array-like of shape (n_Cs,), default=10
        C values (inverse regularisation strengths, > 0; ``np.inf`` is the
        unpenalised fit, which may not exist on separable data). An int
        ``n`` means ``np.logspace(-4, 4, n)``.
    penalty : {"auto", "l2", "l1", "elasticnet", "group_lasso"}, default="auto"
        As for SoftmaxRegression; ``None`` is an error (C would change nothing).
    l1_ratio : float in [0, 1] or None, default=None
        As for SoftmaxRegression.
    fit_intercept : bool, default=True
        Whether to fit the intercepts.
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative weights, not all zero; None means all ones.
    class_weight : dict, "balanced" or None, default=None
        Weights multiplying the sample weights of each class, as in
        SoftmaxRegression.
    solver : {"auto", "lbfgs", "proximal"}, default="auto"
        As for SoftmaxRegression: L-BFGS for smooth penalties, proximal
        L-BFGS otherwise.
    tol : float, default=1e-4
        Stopping tolerance of every solve (largest absolute entry of the
        least-norm subgradient of F).
    max_iter : int, default=100
        Maximum iterations per C.
    n_threads : int or None, default=None
        Kernel threads; None uses all cores.
    verbose : int, default=0
        1 prints a line per C; 2 also prints the solver's progress.

    Returns
    -------
    SoftmaxPath
        ``coefs`` of shape (n_Cs, n_classes, n_features), ``intercepts``
        (n_Cs, n_classes), ``objectives``, ``n_iter``, ``n_evaluations`` and
        ``converged`` of shape (n_Cs,), ``Cs`` and ``classes``; all in the
        order of ``Cs``. Memory: one copy of the results, plus the kernels'
        O(threads * K * d) buffers; X is not copied when it is float32 or
        float64 in C order (or CSR).

    Warns
    -----
    ConvergenceWarning
        Once, naming the C values whose solve stopped before ``tol``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from fastsoftmax import softmax_path
    >>> X, y = load_iris(return_X_y=True)
    >>> path = softmax_path(X, y, Cs=[0.01, 0.1, 1.0], penalty="l1", max_iter=500)
    >>> path.coefs.shape
    (3, 3, 4)
    """
    caller = "softmax_path"
    params = params_object(
        caller, penalty=penalty, l1_ratio=l1_ratio, fit_intercept=fit_intercept,
        class_weight=class_weight, solver=solver, tol=tol, max_iter=max_iter,
        n_threads=n_threads, verbose=verbose,
    )
    penalty_name, ratio = resolve_path_penalty(params)
    grid = check_Cs(Cs, caller)
    X, y = check_X_y(
        X, y, accept_sparse="csr", dtype=[np.float64, np.float32], order="C",
        ensure_min_samples=1,
    )
    classes, y_codes = encode_labels(y, caller)
    weights = combined_weights(sample_weight, class_weight, y_codes, classes)
    objective = make_objective(X, y_codes, weights, classes.shape[0], fit_intercept)
    path = solve_path(
        objective, penalty_name, ratio, grid, solver=solver, tol=tol, max_iter=max_iter,
        n_threads=n_threads, verbose=verbose,
        w0=null_model_start(objective, y_codes, weights),
    )
    warn_unconverged(caller, tol, grid, path)
    coefs = np.empty((grid.shape[0], objective.n_classes, objective.n_features))
    intercepts = np.empty((grid.shape[0], objective.n_classes))
    for i, (w, C) in enumerate(zip(path.solutions, grid)):
        coefs[i], intercepts[i] = canonical(objective, w, C)
    return SoftmaxPath(
        Cs=grid, coefs=coefs, intercepts=intercepts, objectives=path.objectives,
        n_iter=path.n_iter, n_evaluations=path.n_evaluations, converged=path.converged,
        classes=classes,
    )


__all__ = ["SoftmaxPath", "softmax_path"]
