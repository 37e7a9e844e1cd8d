"""Slow, obviously correct NumPy references for every kernel.

Each function follows the formula of the design notes literally, in float64,
with no blocking, fusion or parallelism. Tests compare the kernels with these.
"""

import numpy as np


def softmax(Z):
    Z = np.asarray(Z, dtype=np.float64)
    shifted = Z - Z.max(axis=1, keepdims=True)
    E = np.exp(shifted)
    return E / E.sum(axis=1, keepdims=True)


def logsumexp(Z):
    Z = np.asarray(Z, dtype=np.float64)
    m = Z.max(axis=1)
    return m + np.log(np.exp(Z - m[:, None]).sum(axis=1))


def log_softmax(Z):
    Z = np.asarray(Z, dtype=np.float64)
    return Z - logsumexp(Z)[:, None]


def cross_entropy(Z, y, sample_weight=None):
    Z = np.asarray(Z, dtype=np.float64)
    s = np.ones(Z.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    losses = logsumexp(Z) - Z[np.arange(Z.shape[0]), y]
    return np.sum(s * losses) / np.sum(s)


def loss_gradient(coef, intercept, X, y, sample_weight=None, l2_reg_strength=0.0):
    """Loss and gradients of the design notes' objective, by the textbook formulas."""
    X = np.asarray(X, dtype=np.float64)
    coef = np.asarray(coef, dtype=np.float64)
    n_classes = coef.shape[0]
    b = np.zeros(n_classes) if intercept is None else np.asarray(intercept, float)
    s = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    Z = X @ coef.T + b
    onehot = np.eye(n_classes)[y]
    residual = s[:, None] * (softmax(Z) - onehot) / s.sum()
    loss = cross_entropy(Z, y, s) + 0.5 * l2_reg_strength * np.sum(coef**2)
    grad_coef = residual.T @ X + l2_reg_strength * coef
    grad_intercept = None if intercept is None else residual.sum(axis=0)
    return loss, grad_coef, grad_intercept


def objective(coef, intercept, X, y, C, sample_weight=None, penalty="l2"):
    """F(W, b) of the design notes, for penalty "l2" or None."""
    s = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    l2 = 0.0 if penalty is None else 1.0 / (C * s.sum())
    return loss_gradient(coef, intercept, X, y, s, l2)[0]
