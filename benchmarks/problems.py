"""The data and the like-for-like calls every benchmark of the dense path shares.

``make_problem`` draws the synthetic multinomial problem of the performance
targets; ``loss_callable`` returns a no-argument function that evaluates the
regularised loss and its gradient once, with fastsoftmax's ``SoftmaxLoss`` or
with scikit-learn's own ``LinearModelLoss``, each prepared once for the data,
at the same parameters.
"""

import numpy as np
from sklearn._loss.loss import HalfMultinomialLoss
from sklearn.linear_model._linear_loss import LinearModelLoss

import fastsoftmax

SEED = 0
C = 1.0

#: (n_samples, n_features, n_classes) of the kernel targets: bandwidth-bound
#: (few classes) to compute-bound (many classes).
KERNEL_SHAPES = [
    (1_000_000, 100, 10),
    (1_000_000, 20, 3),
    (200_000, 784, 10),
    (100_000, 300, 100),
    (50_000, 512, 1000),
]


def make_problem(n_samples, n_features, n_classes, dtype="float64", seed=SEED):
    """Synthetic multinomial data with a known generating model.

    ``X`` is standard normal and ``y = argmax(X @ W*.T + G)`` with
    ``W* ~ N(0, 0.3**2)`` and ``G`` standard Gumbel noise: the Gumbel-max
    trick draws each ``y_i`` from ``softmax(W* x_i)``, so the data follow the
    model being fitted. The float32 problem is the float64 one rounded, with
    the same labels.

    Parameters
    ----------
    n_samples, n_features, n_classes : int
    dtype : {"float64", "float32"}, default="float64"
    seed : int, default=SEED

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Integer labels in ``[0, n_classes)``.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    true_coef = rng.normal(0.0, 0.3, size=(n_classes, n_features))
    y = np.empty(n_samples, dtype=np.int64)
    # In chunks, so that drawing the labels never holds n-by-K arrays.
    for start in range(0, n_samples, 65536):
        stop = min(start + 65536, n_samples)
        noise = rng.gumbel(size=(stop - start, n_classes))
        y[start:stop] = np.argmax(X[start:stop] @ true_coef.T + noise, axis=1)
    return X.astype(dtype, copy=False), y


def evaluation_point(n_classes, n_features, seed=SEED + 1):
    """Fixed non-trivial parameters at which both losses are evaluated.

    Returns
    -------
    coef : ndarray of shape (n_classes, n_features)
    intercept : ndarray of shape (n_classes,)
    """
    rng = np.random.default_rng(seed)
    coef = rng.normal(0.0, 0.1, size=(n_classes, n_features))
    intercept = rng.normal(0.0, 0.1, size=n_classes)
    return coef, intercept - intercept.mean()


def loss_callable(impl, X, y, n_classes, n_threads, package=fastsoftmax):
    """A no-argument callable: loss and gradient once, returning the loss.

    Parameters
    ----------
    impl : {"fastsoftmax", "sklearn"}
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    n_classes, n_threads : int
        scikit-learn's threads are set by the caller (threadpoolctl) for its
        BLAS; ``n_threads`` goes to both libraries' own parallel loops.
    package : module, default=fastsoftmax
        For ``impl="fastsoftmax"``: the package whose ``SoftmaxLoss`` is
        timed (``compare_revisions.py`` passes another revision's).
    """
    coef, intercept = evaluation_point(n_classes, X.shape[1])
    l2_reg_strength = 1.0 / (C * X.shape[0])
    if impl == "fastsoftmax":
        # Prepared once, as scikit-learn's LinearModelLoss is below: an
        # optimiser's evaluations, not the data checks. LinearModelLoss does
        # not scan X for NaN/inf, so the like-for-like object skips that too.
        prepared = package.SoftmaxLoss(X, y, n_classes=n_classes, check_finite=False)
        return lambda: prepared.loss_gradient(
            coef, intercept, l2_reg_strength=l2_reg_strength, n_threads=n_threads
        )[0]
    linear_loss = LinearModelLoss(
        base_loss=HalfMultinomialLoss(n_classes=n_classes), fit_intercept=True
    )
    # scikit-learn's Cython loss wants y, X and coef in one dtype; its
    # intercept is the last column of coef.
    coef_with_intercept = np.hstack([coef, intercept[:, None]]).astype(X.dtype)
    y_float = y.astype(X.dtype)
    return lambda: linear_loss.loss_gradient(
        coef_with_intercept, X, y_float, l2_reg_strength=l2_reg_strength, n_threads=n_threads
    )[0]


def fitted_objective(model, X, y, n_threads=None):
    """F of the design notes (L2, ``C``) at a fitted model, evaluated in float64
    by one function for every library, and the largest gradient entry.

    Returns
    -------
    objective : float
    max_abs_grad : float
    """
    X64 = np.asarray(X, dtype=np.float64)
    objective, grad_coef, grad_intercept = fastsoftmax.loss_gradient(
        np.asarray(model.coef_, dtype=np.float64), np.asarray(model.intercept_, dtype=np.float64),
        X64, y, l2_reg_strength=1.0 / (C * X.shape[0]), n_threads=n_threads,
    )
    max_abs_grad = float(max(np.abs(grad_coef).max(), np.abs(grad_intercept).max()))
    return objective, max_abs_grad


def make_sparse_truth_problem(n_samples=200_000, n_features=100, n_classes=10, seed=0):
    """The L1 benchmark problem: X standard normal, half of the true
    coefficients zero, ``y`` drawn from the true model (Gumbel-max).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    true_coef = rng.normal(0.0, 0.3, size=(n_classes, n_features))
    true_coef[rng.random(true_coef.shape) < 0.5] = 0.0
    y = np.argmax(X @ true_coef.T + rng.gumbel(size=(n_samples, n_classes)), axis=1)
    return X, y


def penalised_objective(model, X, y, penalty, l1_ratio, C):
    """F of the design notes at a fitted model, in plain NumPy (the same
    function for every library).

    Parameters
    ----------
    model : fitted estimator with ``coef_`` (n_classes, n_features) and ``intercept_``
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    penalty : {"l1", "elasticnet", "group_lasso"}
    l1_ratio : float or None
    C : float

    Returns
    -------
    float
    """
    coef = np.asarray(model.coef_)
    scores = X @ coef.T + model.intercept_
    top = scores.max(axis=1)
    log_norm = top + np.log(np.exp(scores - top[:, None]).sum(axis=1))
    data = np.mean(log_norm - scores[np.arange(len(y)), y])
    if penalty == "l1":
        R = np.abs(coef).sum()
    elif penalty == "elasticnet":
        R = (1 - l1_ratio) / 2 * (coef**2).sum() + l1_ratio * np.abs(coef).sum()
    else:
        R = np.linalg.norm(coef, axis=0).sum()
    return data + R / (C * len(y))
