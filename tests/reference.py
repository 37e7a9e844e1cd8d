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


def penalty_value(coef, penalty, alpha, l1_ratio=None):
    """R(coef) * alpha for the design notes' penalties."""
    if penalty is None:
        return 0.0
    if penalty == "l2":
        return alpha * 0.5 * np.sum(coef**2)
    if penalty == "l1":
        return alpha * np.sum(np.abs(coef))
    if penalty == "elasticnet":
        r = l1_ratio
        return alpha * ((1 - r) / 2 * np.sum(coef**2) + r * np.sum(np.abs(coef)))
    if penalty == "group_lasso":
        return alpha * np.sum(np.sqrt(np.sum(coef**2, axis=0)))
    raise ValueError(penalty)


def full_objective(coef, intercept, X, y, C, penalty, l1_ratio=None):
    """F(W, b) for every penalty of the design notes (unit sample weights)."""
    data = loss_gradient(coef, intercept, X, y)[0]
    return data + penalty_value(coef, penalty, 1.0 / (C * X.shape[0]), l1_ratio)


def prox(coef, step, penalty, alpha, l1_ratio=None):
    """Proximal operator of step * alpha * R for the non-smooth penalties."""
    if penalty == "l1" or penalty == "elasticnet":
        l1 = alpha * (1.0 if penalty == "l1" else l1_ratio)
        return np.sign(coef) * np.maximum(np.abs(coef) - step * l1, 0.0)
    if penalty == "group_lasso":
        norms = np.sqrt(np.sum(coef**2, axis=0))
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(norms > 0, np.maximum(1 - step * alpha / norms, 0.0), 0.0)
        return coef * scale
    raise ValueError(penalty)


def proximal_gradient(X, y, n_classes, C, penalty, l1_ratio=None, n_iter=20000):
    """Plain ISTA with a fixed step 1/L, run for a fixed, large number of steps.

    The smooth part is the mean cross-entropy (plus the L2 share of
    elastic-net); L bounds its Hessian: ||X~||_2^2 / (2 n) with X~ the data
    with a column of ones, plus the L2 share.
    """
    n, d = X.shape
    alpha = 1.0 / (C * n)
    l2 = alpha * (1 - l1_ratio) if penalty == "elasticnet" else 0.0
    X1 = np.hstack([X, np.ones((n, 1))])
    lipschitz = np.linalg.norm(X1, 2) ** 2 / (2 * n) + l2
    step = 1.0 / lipschitz
    coef = np.zeros((n_classes, d))
    intercept = np.zeros(n_classes)
    for _ in range(n_iter):
        _, g_coef, g_intercept = loss_gradient(coef, intercept, X, y)
        g_coef = g_coef + l2 * coef
        coef = prox(coef - step * g_coef, step, penalty, alpha, l1_ratio)
        intercept = intercept - step * g_intercept
    return coef, intercept - intercept.mean()


def kkt_violation(coef, intercept, X, y, C, penalty, l1_ratio=None):
    """Largest violation of the optimality conditions, from first principles.

    For each coefficient: if it is non-zero, the gradient of the smooth part
    plus the penalty's derivative must vanish; if it is zero, the gradient
    must lie within the penalty's subdifferential. Group lasso: the same per
    column of coef, with Euclidean norms. The intercept's gradient must vanish.
    """
    n = X.shape[0]
    alpha = 1.0 / (C * n)
    _, g, g_intercept = loss_gradient(coef, intercept, X, y)
    worst = np.max(np.abs(g_intercept))
    if penalty in ("l1", "elasticnet"):
        l1 = alpha * (1.0 if penalty == "l1" else l1_ratio)
        if penalty == "elasticnet":
            g = g + alpha * (1 - l1_ratio) * coef
        nonzero = coef != 0
        worst = max(worst, np.max(np.abs(g + l1 * np.sign(coef))[nonzero], initial=0.0))
        worst = max(worst, np.max((np.abs(g) - l1)[~nonzero], initial=0.0))
    elif penalty == "group_lasso":
        for j in range(coef.shape[1]):
            norm = np.linalg.norm(coef[:, j])
            if norm > 0:
                worst = max(worst, np.max(np.abs(g[:, j] + alpha * coef[:, j] / norm)))
            else:
                worst = max(worst, np.linalg.norm(g[:, j]) - alpha)
    return worst


def soft_loss_gradient(coef, intercept, X, targets, sample_weight=None, l2_reg_strength=0.0):
    """Loss and gradients against soft targets T (n, K), by the textbook formulas:
    ``sum_i s_i sum_k T_ik (logsumexp(z_i) - z_ik) / S``, gradient ``(P - T)`` terms."""
    X = np.asarray(X, dtype=np.float64)
    T = np.asarray(targets, dtype=np.float64)
    coef = np.asarray(coef, dtype=np.float64)
    b = np.zeros(coef.shape[0]) if intercept is None else np.asarray(intercept, float)
    s = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    Z = X @ coef.T + b
    losses = np.sum(T * (logsumexp(Z)[:, None] - Z), axis=1)
    loss = np.sum(s * losses) / s.sum() + 0.5 * l2_reg_strength * np.sum(coef**2)
    residual = s[:, None] * (softmax(Z) * T.sum(axis=1, keepdims=True) - T) / s.sum()
    grad_coef = residual.T @ X + l2_reg_strength * coef
    grad_intercept = None if intercept is None else residual.sum(axis=0)
    return loss, grad_coef, grad_intercept


def smoothed(y, n_classes, smoothing):
    """``(1 - e) * onehot(y) + e / K``."""
    return (1 - smoothing) * np.eye(n_classes)[y] + smoothing / n_classes


def expected_cost_decisions(proba, cost_matrix):
    """argmin_j sum_i p_i C[i, j], one row at a time."""
    return np.array([
        min(range(len(p)), key=lambda j: sum(p[i] * cost_matrix[i][j] for i in range(len(p))))
        for p in np.asarray(proba, dtype=float)
    ])
