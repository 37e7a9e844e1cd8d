"""fastsoftmax: fast, trustworthy multinomial (softmax) logistic regression.

Public names: the estimator :class:`SoftmaxRegression` and the numerical
backend (:func:`softmax`, :func:`log_softmax`, :func:`logsumexp`,
:func:`cross_entropy`, :func:`loss_gradient`). Row helpers for a user's own
``numba.njit`` code are in :mod:`fastsoftmax.kernels`.
"""

from .backend import cross_entropy, log_softmax, logsumexp, loss_gradient, softmax
from .estimator import SoftmaxRegression

__version__ = "0.1.0"

__all__ = [
    "SoftmaxRegression",
    "cross_entropy",
    "log_softmax",
    "logsumexp",
    "loss_gradient",
    "softmax",
    "__version__",
]
