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
    grad = np.empty(objective.n_params)
    n_evaluations = 0
    # scipy may return the last trial point's value beside an earlier x (seen
    # when the first line search fails); keep the best point ourselves so the
    # returned w, objective and gradient always belong together.
    best = {"value": np.inf, "w": np.array(w0, dtype=float), "grad": None}
    progress = Progress(objective, verbose, callback)
    n_iter = 0
    stopped = False

    factor = np.ones(objective.n_params) if scale is None else np.asarray(scale, dtype=np.float64)

    def fun(v):
        nonlocal n_evaluations
        n_evaluations += 1
        w = v / factor if scale is not None else v
        value = objective.loss_gradient(w, grad)
        coef, _ = objective.unpack(w)
        grad_coef, _ = objective.unpack(grad)
        value += penalty.value(coef)
        penalty.add_smooth_gradient(coef, grad_coef)
        # scipy memoises the returned gradient by reference; the buffer is
        # overwritten by the next evaluation, so hand it a copy (read-only
        # from here on, so the best point may share it).
        grad_at_w = grad.copy()
        if value < best["value"] or best["grad"] is None:
            best.update(value=value, w=w.copy(), grad=grad_at_w)
        return value, (grad_at_w if scale is None else grad_at_w / factor)

    def report(intermediate_result):
        nonlocal n_iter, stopped
        n_iter += 1
        w = intermediate_result.x if scale is None else intermediate_result.x / factor
        # The accepted point decreased F, so it is normally the best one seen.
        if np.array_equal(best["w"], w):
            optimality = float(np.max(np.abs(best["grad"])))
        else:
            optimality = float("nan")
        if progress.iteration(n_iter, float(intermediate_result.fun), optimality, w):
            stopped = True
            raise StopIteration
        if scale is not None and optimality <= tol:
            raise StopIteration  # converged: scipy's gtol sees the scaled gradient

    result = minimize(
        fun, np.asarray(w0, dtype=np.float64) * factor, method="L-BFGS-B", jac=True,
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
    w, value, grad_at_w = best["w"], float(best["value"]), best["grad"]
    max_abs_grad = float(np.max(np.abs(grad_at_w), initial=0.0))
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
