"""L-BFGS through :func:`scipy.optimize.minimize` for smooth penalties."""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from .progress import Progress


@dataclass
class SolverResult:
    """What a solver returns.

    Attributes
    ----------
    w : ndarray of shape (n_params,)
        Final flat parameter vector.
    objective : float
        Objective (data term + penalty) at ``w``.
    n_iter : int
        Iterations taken.
    n_evaluations : int
        Loss/gradient evaluations (passes over the data).
    converged : bool
        True only if the largest absolute entry of the gradient is at most
        ``tol`` (not when the solver stopped for another reason).
    message : str
        The optimiser's own account of why it stopped.
    stopped_by_callback : bool
        True if the progress callback asked the solver to stop.
    """

    w: np.ndarray
    objective: float
    n_iter: int
    n_evaluations: int
    converged: bool
    message: str
    stopped_by_callback: bool = False


def minimize_lbfgs(objective, penalty, w0, *, tol, max_iter, verbose=0, callback=None, scale=None):
    """Minimise ``objective(w) + penalty(coef)`` with L-BFGS-B.

    Stops when the largest absolute entry of the gradient is at most ``tol``
    (scipy's ``gtol``), after ``max_iter`` iterations, or when a step no
    longer decreases the objective at machine precision.

    Parameters
    ----------
    objective : object
        Has ``n_params``, ``unpack(w)`` and ``loss_gradient(w, grad_out)``.
    penalty : object
        Smooth penalty with ``value(coef)`` and ``add_smooth_gradient(coef, grad_out)``.
    w0 : ndarray of shape (n_params,)
        Starting point.
    tol : float
    max_iter : int
    verbose : int
        If > 0, print a line per iteration (objective, max |gradient|,
        seconds) and a summary.
    callback : callable or None
        Called after every iteration with an
        :class:`~fastsoftmax.solvers.progress.IterationState`; returning
        True stops the solver.
    scale : ndarray of shape (n_params,) or None
        Positive factors ``d``: L-BFGS-B then works on ``v = d * w``
        (:mod:`fastsoftmax.solvers.scaling`). The stopping rule still applies
        to the gradient with respect to ``w``, checked after every iteration.

    Returns
    -------
    SolverResult
    """
    if not penalty.smooth:
        raise ValueError(
            "L-BFGS needs a smooth penalty (l2 or None); use solver='proximal'."
        )
    n_params = objective.n_params
    # On wide data (text, hashed features) every parameter-sized array is as
    # large as the gradient, and a fit's peak memory counts each one alive at
    # the same time: keep as few as possible.
    w_scaled_back = np.empty(n_params) if scale is not None else None
    n_evaluations = 0
    # scipy may return the last trial point's value beside an earlier x (seen
    # when the first line search fails); keep the best point ourselves so the
    # returned w, objective and largest gradient entry always belong together.
    best_w = np.array(w0, dtype=np.float64)
    best_value = np.inf
    best_max_abs_grad = np.inf
    have_best = False
    progress = Progress(objective, verbose, callback)
    n_iter = 0
    stopped = False

    factor = None if scale is None else np.asarray(scale, dtype=np.float64)

    def fun(v):
        nonlocal n_evaluations, best_value, best_max_abs_grad, have_best
        n_evaluations += 1
        w = np.divide(v, factor, out=w_scaled_back) if scale is not None else v
        # A new array each time, handed over to scipy (which keeps a reference
        # to the last gradient it was given) rather than copied from a buffer.
        grad = np.empty(n_params)
        value = objective.loss_gradient(w, grad)
        coef, _ = objective.unpack(w)
        grad_coef, _ = objective.unpack(grad)
        value += penalty.value(coef)
        penalty.add_smooth_gradient(coef, grad_coef)
        if value < best_value or not have_best:
            np.copyto(best_w, w)
            best_value, have_best = value, True
            # max |g| without an |g| temporary the size of the parameters.
            best_max_abs_grad = float(np.maximum(grad.max(initial=0.0), -grad.min(initial=0.0)))
        if scale is not None:
            np.divide(grad, factor, out=grad)  # the gradient with respect to v
        return value, grad

    def report(intermediate_result):
        nonlocal n_iter, stopped
        n_iter += 1
        if scale is None:
            w = intermediate_result.x
        else:
            w = np.divide(intermediate_result.x, factor, out=w_scaled_back)
        # The accepted point decreased F, so it is normally the best one seen.
        if np.array_equal(best_w, w):
            optimality = best_max_abs_grad
        else:
            optimality = float("nan")
        if progress.iteration(n_iter, float(intermediate_result.fun), optimality, w):
            stopped = True
            raise StopIteration
        if scale is not None and optimality <= tol:
            raise StopIteration  # converged: scipy's gtol sees the scaled gradient

    result = minimize(
        fun, best_w.copy() if scale is None else best_w * factor, method="L-BFGS-B", jac=True,
        callback=report if (verbose > 0 or callback is not None or scale is not None) else None,
        options={
            "maxiter": max_iter,
            "maxfun": max(15000, 2 * max_iter),
            # Scaled, the rule on the unscaled gradient is checked in report().
            "gtol": tol if scale is None else 0.0,
            # Stop on the gradient, not on small relative decreases of F.
            "ftol": 64 * np.finfo(float).eps,
            "maxls": 50,
        },
    )
    # status 0: the gradient or the objective's decrease reached its
    # tolerance; 1: max_iter or maxfun reached; 2: the line search failed.
    # Only the gradient rule counts as convergence: tol has one meaning.
    w, value, max_abs_grad = best_w, float(best_value), best_max_abs_grad
    # Scaled runs stop themselves on reaching tol (scipy's status 99).
    converged = not stopped and max_abs_grad <= tol
    if stopped:
        message = f"stopped by the callback after {n_iter} iterations"
    elif converged:
        message = f"converged (max |gradient| = {max_abs_grad:.3g} <= tol)"
    elif result.status == 1 and result.nit >= max_iter:
        message = f"the iteration limit was reached (max_iter={max_iter})"
    elif result.status == 0 and not converged:
        message = (
            f"the objective stopped decreasing at floating-point precision after "
            f"{result.nit} iterations with max |gradient| = {max_abs_grad:.3g} > tol"
        )
    elif result.status == 2:
        message = (
            f"the line search found no decrease of the objective after {result.nit} "
            f"iterations (max |gradient| = {max_abs_grad:.3g}); this happens when "
            "the problem is badly scaled or the objective is not finite near the "
            "current point"
        )
    else:
        message = f"L-BFGS-B stopped after {result.nit} iterations: {result.message}"
    result = SolverResult(
        w=w, objective=value, n_iter=int(result.nit),
        n_evaluations=n_evaluations, converged=converged, message=message,
        stopped_by_callback=stopped,
    )
    progress.finish(result)
    return result
