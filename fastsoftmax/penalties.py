"""Penalties on the coefficient matrix: value and gradient of the smooth part.

A penalty object answers the solver's questions about ``R(coef) / (C * S)``
of the design notes; solvers never special-case a penalty. The intercept is
never penalised, so penalties see ``coef`` of shape (n_classes, n_features)
only.

Each penalty has ``value(coef)`` and ``add_gradient(coef, grad_out)``, and
``smooth`` says whether a gradient method may use it alone.
"""

import numpy as np


class NoPenalty:
    """``R = 0``: plain (weighted mean) cross-entropy."""

    smooth = True
    strength = 0.0

    def value(self, coef):
        """Penalty value at ``coef`` of shape (n_classes, n_features)."""
        return 0.0

    def add_gradient(self, coef, grad_out):
        """Add the penalty's gradient at ``coef`` into ``grad_out`` (same shape)."""


class L2Penalty:
    """``strength / 2 * ||coef||_F^2`` with ``strength = 1 / (C * S)``.

    Parameters
    ----------
    strength : float
        Non-negative multiplier of ``||coef||_F^2 / 2``.
    """

    smooth = True

    def __init__(self, strength):
        self.strength = float(strength)

    def value(self, coef):
        """Penalty value at ``coef`` of shape (n_classes, n_features)."""
        flat = coef.ravel()
        return 0.5 * self.strength * float(np.dot(flat, flat))

    def add_gradient(self, coef, grad_out):
        """Add ``strength * coef`` into ``grad_out`` of shape (n_classes, n_features)."""
        grad_out += self.strength * coef


def make_penalty(name, C, sum_weights):
    """The penalty object for an estimator's ``penalty`` and ``C``.

    Parameters
    ----------
    name : {"l2", None}
    C : float
        Inverse regularisation strength; ``np.inf`` means no penalty.
    sum_weights : float
        ``S``, the sum of the sample weights.
    """
    if name is None or np.isinf(C):
        return NoPenalty()
    if name == "l2":
        return L2Penalty(1.0 / (C * sum_weights))
    raise ValueError(f"Unknown penalty {name!r}.")  # validated earlier; a bug if reached
