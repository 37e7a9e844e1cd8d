"""Progress reports shared by the solvers: printed lines and a user callback.

A solver calls :meth:`Progress.iteration` once per iteration with the
objective and the optimality measure (the largest entry of the gradient, or
of the least-norm subgradient: the quantity compared with ``tol``), and
:meth:`Progress.finish` once at the end. With ``verbose > 0`` each call prints
one aligned line; the callback, if any, receives an :class:`IterationState`
and stops the solver by returning True.
"""

import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class IterationState:
    """What a progress callback receives after every solver iteration.

    Attributes
    ----------
    iteration : int
        Iterations done so far (1 after the first).
    objective : float
        Objective ``F`` at the current point.
    optimality : float
        Largest absolute entry of the gradient of ``F`` (least-norm
        subgradient for L1-type penalties); the fit stops when it is <= tol.
    elapsed : float
        Seconds since the solver started.
    coef : ndarray of shape (n_classes, n_features)
        Current coefficients (a copy the callback may keep).
    intercept : ndarray of shape (n_classes,) or None
        Current intercepts, None without an intercept.
    """

    iteration: int
    objective: float
    optimality: float
    elapsed: float
    coef: np.ndarray
    intercept: np.ndarray | None


class Progress:
    """Prints iteration lines and calls the callback.

    Parameters
    ----------
    objective : object
        Gives ``unpack(w)`` to turn the flat vector into coef and intercept.
    verbose : int
        Print a line per iteration and a summary if > 0.
    callback : callable or None
        ``callback(state: IterationState) -> bool | None``; True stops the solver.
    """

    def __init__(self, objective, verbose=0, callback=None):
        self.objective = objective
        self.verbose = verbose
        self.callback = callback
        self.start = time.perf_counter()
        if verbose > 0:
            print(f"{'iteration':>9}  {'objective':>20}  {'optimality':>11}  {'seconds':>9}",
                  flush=True)

    def elapsed(self):
        return time.perf_counter() - self.start

    def iteration(self, n_iter, objective, optimality, w):
        """Report an iteration; True if the callback asks to stop."""
        elapsed = self.elapsed()
        if self.verbose > 0:
            print(f"{n_iter:>9d}  {objective:>20.12g}  {optimality:>11.3e}  {elapsed:>9.3f}",
                  flush=True)
        if self.callback is None:
            return False
        coef, intercept = self.objective.unpack(np.array(w, dtype=np.float64))
        state = IterationState(
            iteration=int(n_iter), objective=float(objective), optimality=float(optimality),
            elapsed=elapsed, coef=coef, intercept=intercept,
        )
        return bool(self.callback(state))

    def finish(self, result):
        """Print the summary line of a :class:`SolverResult`."""
        if self.verbose > 0:
            print(f"{result.message}: {result.n_iter} iterations, {result.n_evaluations} "
                  f"evaluations, objective {result.objective:.12g}, "
                  f"{self.elapsed():.3f} s", flush=True)
