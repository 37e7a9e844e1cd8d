"""Penalties on the coefficient matrix, as objects the solvers ask questions of.

A penalty is ``R(coef) / (C * S)`` of the design notes, split into a smooth
part (handled like the loss: value and gradient) and a non-smooth part
(handled through its proximal operator). Solvers never special-case a
penalty: a new penalty is a new class here and no solver change. The
intercept is never penalised, so penalties see ``coef`` of shape
(n_classes, n_features) only.

Every penalty has

* ``smooth``: True if it has no non-smooth part (then L-BFGS may be used);
* ``smooth_value(coef)`` and ``nonsmooth_value(coef)``: the two parts;
  ``value(coef)`` is their sum;
* ``add_smooth_gradient(coef, grad_out)``: adds the smooth part's gradient;
* ``prox(coef, step, out)``: ``argmin_u ||u - coef||^2 / (2 step) + h(u)``
  for the non-smooth part ``h`` (the identity for smooth penalties); ``step``
  is a number or an array of shape (n_features,), a step per column (the
  rescaled proximal solver uses that: every ``h`` here is a sum over columns
  of positively homogeneous terms);
* ``min_norm_subgradient(coef, smooth_grad, out)``: the element of least
  norm of ``smooth_grad + subdifferential of h at coef``; zero exactly at a
  minimum, so its largest absolute entry is the stopping criterion;
* ``smooth_curvature``: the (constant) diagonal of the smooth part's Hessian,
  for the solvers' diagonal scaling;
* ``column_shift(coef)``: for every feature ``j``, the constant ``c_j`` that
  minimises ``R(coef - c)`` (``c`` subtracted from every class of column
  ``j``), the minimiser nearest 0 when there are several.

Why ``column_shift``: the softmax loss does not change when the same constant
is added to every class's coefficient of a feature (all scores of a row move
together), so only the penalty decides where a column sits along that
direction. The loss gives the solvers no curvature there, the L1 part none
at all, and a proximal step leaves columns off their best shift; the proximal
solver therefore moves each column to it exactly, at no cost in passes over
the data.
"""

import numpy as np


class _Penalty:
    """Shared defaults: no smooth part, no non-smooth part."""

    smooth = True
    smooth_curvature = 0.0

    def value(self, coef):
        return self.smooth_value(coef) + self.nonsmooth_value(coef)

    def smooth_value(self, coef):
        return 0.0

    def nonsmooth_value(self, coef):
        return 0.0

    def add_smooth_gradient(self, coef, grad_out):
        pass

    def prox(self, coef, step, out):
        out[...] = coef
        return out

    def min_norm_subgradient(self, coef, smooth_grad, out):
        out[...] = smooth_grad
        return out

    def column_shift(self, coef):
        # Every shift is optimal; the one nearest 0 is 0.
        return np.zeros(coef.shape[1])


class NoPenalty(_Penalty):
    """``R = 0``: plain (weighted mean) cross-entropy."""


class L2Penalty(_Penalty):
    """``strength / 2 * ||coef||_F^2`` with ``strength = 1 / (C * S)``.

    Parameters
    ----------
    strength : float
        Non-negative multiplier of ``||coef||_F^2 / 2``.
    """

    def __init__(self, strength):
        self.strength = float(strength)
        self.smooth_curvature = self.strength

    def smooth_value(self, coef):
        flat = coef.ravel()
        return 0.5 * self.strength * float(np.dot(flat, flat))

    def add_smooth_gradient(self, coef, grad_out):
        grad_out += self.strength * coef

    def column_shift(self, coef):
        return coef.mean(axis=0)


class ElasticNetPenalty(_Penalty):
    """``l2 / 2 * ||coef||_F^2 + l1 * ||coef||_1`` (L1 alone when ``l2 = 0``).

    For ``penalty="elasticnet"`` with ratio ``r`` and ``alpha = 1 / (C * S)``:
    ``l1 = alpha * r`` and ``l2 = alpha * (1 - r)``.

    Parameters
    ----------
    l1 : float
        Multiplier of ``||coef||_1``, > 0.
    l2 : float
        Multiplier of ``||coef||_F^2 / 2``, >= 0.
    """

    smooth = False

    def __init__(self, l1, l2=0.0):
        self.l1 = float(l1)
        self.l2 = float(l2)
        self.smooth_curvature = self.l2

    def smooth_value(self, coef):
        flat = coef.ravel()
        return 0.5 * self.l2 * float(np.dot(flat, flat))

    def nonsmooth_value(self, coef):
        return self.l1 * float(np.abs(coef).sum())

    def add_smooth_gradient(self, coef, grad_out):
        if self.l2:
            grad_out += self.l2 * coef

    def prox(self, coef, step, out):
        # Soft thresholding; np.maximum keeps exact zeros exact.
        threshold = self.l1 * step
        np.multiply(np.sign(coef), np.maximum(np.abs(coef) - threshold, 0.0), out=out)
        return out

    def min_norm_subgradient(self, coef, smooth_grad, out):
        # Non-zero entries: g + l1 * sign(w). Zero entries: g shrunk towards 0
        # by l1 (the subdifferential there is g + [-l1, l1]).
        shrunk = np.sign(smooth_grad) * np.maximum(np.abs(smooth_grad) - self.l1, 0.0)
        np.copyto(out, np.where(coef != 0, smooth_grad + self.l1 * np.sign(coef), shrunk))
        return out

    def column_shift(self, coef):
        """Per column, the ``c`` minimising ``l2/2 sum_k (w_k - c)^2 + l1 sum_k |w_k - c|``.

        Parameters
        ----------
        coef : ndarray of shape (n_classes, n_features)

        Returns
        -------
        ndarray of shape (n_features,)
        """
        n_classes, n_features = coef.shape
        # Sorting a column turns the convex, piecewise quadratic function of c
        # into K+1 quadratic pieces between the kinks v[0] <= ... <= v[K-1].
        v = np.sort(coef, axis=0)
        if self.l2 == 0:
            # L1 alone: every point between the two middle values is a
            # minimiser (one value when K is odd).
            return np.clip(0.0, v[(n_classes - 1) // 2], v[n_classes // 2])
        total = coef.sum(axis=0)
        below = np.arange(n_classes)[:, None]  # values to the left of kink m
        # One-sided derivatives at kink m: l2 * (K c - sum w) - l1 * (#right - #left).
        left_slope = self.l2 * (n_classes * v - total) - self.l1 * (n_classes - 2 * below)
        right_slope = left_slope + 2.0 * self.l1
        # Derivatives grow with c: the minimiser lies at the first kink whose
        # right slope is >= 0 if its left slope is <= 0, else in the open
        # piece before that kink, with ``m`` values to its left.
        m = np.count_nonzero(right_slope < 0, axis=0)
        columns = np.arange(n_features)
        kink = np.minimum(m, n_classes - 1)
        at_kink = (m < n_classes) & (left_slope[kink, columns] <= 0)
        in_piece = (total + (self.l1 / self.l2) * (n_classes - 2 * m)) / n_classes
        return np.where(at_kink, v[kink, columns], in_piece)


class GroupLassoPenalty(_Penalty):
    """``strength * sum_j ||coef[:, j]||_2``: a feature is in or out for all classes.

    Parameters
    ----------
    strength : float
        ``1 / (C * S)``, > 0.
    """

    smooth = False

    def __init__(self, strength):
        self.strength = float(strength)

    def nonsmooth_value(self, coef):
        return self.strength * float(np.linalg.norm(coef, axis=0).sum())

    def prox(self, coef, step, out):
        # Block soft thresholding of every column.
        norms = np.linalg.norm(coef, axis=0)
        threshold = self.strength * step
        scale = np.maximum(1.0 - threshold / np.where(norms > 0, norms, 1.0), 0.0)
        np.multiply(coef, scale, out=out)
        return out

    def min_norm_subgradient(self, coef, smooth_grad, out):
        norms = np.linalg.norm(coef, axis=0)
        nonzero = norms > 0
        # Non-zero column: g_j + strength * w_j / ||w_j||. Zero column: the
        # subdifferential is g_j + ball(strength), whose least-norm point is
        # g_j shrunk by strength in norm.
        grad_norms = np.linalg.norm(smooth_grad, axis=0)
        shrink = np.maximum(1.0 - self.strength / np.where(grad_norms > 0, grad_norms, 1.0), 0.0)
        at_zero = smooth_grad * shrink
        safe_norms = np.where(nonzero, norms, 1.0)
        at_nonzero = smooth_grad + self.strength * coef / safe_norms
        np.copyto(out, np.where(nonzero, at_nonzero, at_zero))
        return out

    def column_shift(self, coef):
        # ||w - c 1||_2 is least at the mean of w.
        return coef.mean(axis=0)


def make_penalty(name, C, sum_weights, l1_ratio=None):
    """The penalty object for an estimator's ``penalty``, ``C`` and ``l1_ratio``.

    Parameters
    ----------
    name : {"l2", "l1", "elasticnet", "group_lasso", None}
        Already resolved (see ``fastsoftmax._params.resolve_penalty``).
    C : float
        Inverse regularisation strength; ``np.inf`` means no penalty.
    sum_weights : float
        ``S``, the sum of the sample weights.
    l1_ratio : float, optional
        For "elasticnet": the share ``r`` of the L1 term.
    """
    if name is None or np.isinf(C):
        return NoPenalty()
    alpha = 1.0 / (C * sum_weights)
    if name == "l2":
        return L2Penalty(alpha)
    if name == "l1":
        return ElasticNetPenalty(l1=alpha)
    if name == "elasticnet":
        return ElasticNetPenalty(l1=alpha * l1_ratio, l2=alpha * (1.0 - l1_ratio))
    if name == "group_lasso":
        return GroupLassoPenalty(alpha)
    raise ValueError(f"Unknown penalty {name!r}.")  # validated earlier; a bug if reached
