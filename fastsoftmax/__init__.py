"""fastsoftmax: fast, trustworthy multinomial (softmax) logistic regression.

Public names: the estimators :class:`SoftmaxRegression` and
:class:`SoftmaxRegressionCV`, the regularisation path :func:`softmax_path`,
:class:`IterationState` (what a progress callback receives) and the
numerical backend (:func:`softmax`, :func:`log_softmax`, :func:`logsumexp`,
:func:`cross_entropy`, :func:`loss_gradient`, :func:`min_expected_cost`, and
:class:`SoftmaxLoss`, which prepares the data once for many evaluations).
Row helpers for a user's own ``numba.njit`` code are in
:mod:`fastsoftmax.kernels`.
"""

from .backend import (
    cross_entropy,
    log_softmax,
    logsumexp,
    loss_gradient,
    min_expected_cost,
    softmax,
)
from .cv import SoftmaxRegressionCV
from .estimator import SoftmaxRegression
from .path import SoftmaxPath, softmax_path
from .softmax_loss import SoftmaxLoss
from .solvers.progress import IterationState

__version__ = "0.1.0"

__all__ = [
    "IterationState",
    "SoftmaxLoss",
    "SoftmaxPath",
    "SoftmaxRegression",
    "SoftmaxRegressionCV",
    "__version__",
    "cross_entropy",
    "log_softmax",
    "logsumexp",
    "loss_gradient",
    "min_expected_cost",
    "softmax",
    "softmax_path",
]
