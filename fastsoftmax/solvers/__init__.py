"""Solvers: minimise an objective plus a penalty. They know nothing of Numba
or of data formats: they call ``objective.loss_gradient`` / ``objective.loss``
on flat float64 vectors and ``objective.unpack`` to find the coefficients."""

from .lbfgs import SolverResult, minimize_lbfgs
from .proximal import minimize_proximal
from .scaling import jacobi_scaling

__all__ = ["SolverResult", "jacobi_scaling", "minimize_lbfgs", "minimize_proximal"]
