"""fastsoftmax: fast, trustworthy multinomial (softmax) logistic regression.

Public names: the estimator :class:`SoftmaxRegression` and the numerical
backend (:func:`softmax`, :func:`log_softmax`, :func:`logsumexp`,
:func:`cross_entropy`, :func:`loss_gradient`, :func:`min_expected_cost`). Row helpers for a user's own
``numba.njit`` code are in :mod:`fastsoftmax.kernels`.
"""

from .backend import (
    cross_entropy,
    log_softmax,
    logsumexp,
    loss_gradient,
    min_expected_cost,
    softmax,
)
from .estimator import SoftmaxRegression
from .solvers.progress import IterationState

__version__ = "0.1.0"

__all__ = [
    "IterationState",
    "SoftmaxRegression",
    "__version__",
    "cross_entropy",
    "log_softmax",
    "logsumexp",
    "loss_gradient",
    "min_expected_cost",
    "softmax",
]
