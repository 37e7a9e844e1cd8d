"""fastsoftmax against scikit-learn on the same problems, at the same settings.

Run from the repository root with ``pytest --benchmark-only`` (a plain
``pytest`` skips every benchmark). Two comparisons:

- one loss+gradient evaluation, :func:`fastsoftmax.loss_gradient` against
  scikit-learn's ``LinearModelLoss``, at the same parameters;
- one fit, :class:`fastsoftmax.SoftmaxRegression` against scikit-learn's
  ``LogisticRegression(solver="lbfgs")`` with the same ``C``, ``tol`` and
  ``max_iter``.

Both sides get 2 threads (Numba threads for fastsoftmax, BLAS and OpenMP
threads for scikit-learn through threadpoolctl). Every benchmark records the
objective value it reached in ``benchmark.extra_info``, and the session ends
with a table of times beside objectives (see ``conftest.py``): a fast loose
fit is not a win over a slow tight one. Fitted objectives are both evaluated
with :func:`fastsoftmax.loss_gradient`, so they are computed the same way.

Data are generated once per module and shape; compile time is kept out of
the timings by a warm-up call before each timed run. The whole suite takes
a few minutes on 2 cores.
"""

from typing import NamedTuple

import numpy as np
import pytest
from machine import roofline_seconds
from sklearn._loss.loss import HalfMultinomialLoss
from sklearn.linear_model import LogisticRegression
from sklearn.linear_model._linear_loss import LinearModelLoss
from threadpoolctl import threadpool_limits

import fastsoftmax

N_THREADS = 2
C = 1.0
TOL = 1e-4
MAX_ITER = 1000
SEED = 0

# (n_samples, n_features, n_classes, dtype) -> timed rounds. Few rounds for the
# big shapes keep the suite to minutes; the minimum over rounds is reported.
LOSS_CASES = {
    (10_000, 100, 10, "float64"): 30,
    (100_000, 100, 10, "float64"): 10,
    (1_000_000, 100, 10, "float64"): 3,
    (1_000_000, 100, 10, "float32"): 3,
}
FIT_CASES = {
    (100_000, 100, 10, "float64"): 2,
    (1_000_000, 100, 10, "float64"): 1,
}
IMPLEMENTATIONS = ["fastsoftmax", "sklearn"]


class Problem(NamedTuple):
    X: np.ndarray
    y: np.ndarray
    n_classes: int
    label: str


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
    noise = rng.gumbel(size=(n_samples, n_classes))
    y = np.argmax(X @ true_coef.T + noise, axis=1)
    return X.astype(dtype, copy=False), y


def case_id(case):
    n_samples, n_features, n_classes, dtype = case
    return f"{n_samples}x{n_features}-K{n_classes}-{dtype}"


@pytest.fixture(scope="module")
def problem(request):
    """The data of one case, generated once per module and shape."""
    n_samples, n_features, n_classes, dtype = request.param
    X, y = make_problem(n_samples, n_features, n_classes, dtype)
    return Problem(X, y, n_classes, case_id(request.param))


def evaluation_point(n_classes, n_features):
    """Fixed non-trivial parameters at which both losses are evaluated."""
    rng = np.random.default_rng(SEED + 1)
    coef = rng.normal(0.0, 0.1, size=(n_classes, n_features))
    intercept = rng.normal(0.0, 0.1, size=n_classes)
    return coef, intercept - intercept.mean()


def loss_function(impl, problem):
    """A no-argument callable returning the regularised loss at ``evaluation_point``.

    Both sides compute loss and gradient; only the loss is returned.
    """
    X, y, n_classes, _ = problem
    coef, intercept = evaluation_point(n_classes, X.shape[1])
    l2_reg_strength = 1.0 / (C * X.shape[0])
    if impl == "fastsoftmax":
        # scikit-learn's LinearModelLoss does not scan X for NaN/inf, so the
        # like-for-like call skips that scan here too.
        return lambda: fastsoftmax.loss_gradient(
            coef, intercept, X, y, l2_reg_strength=l2_reg_strength, n_threads=N_THREADS,
            check_finite=False,
        )[0]
    linear_loss = LinearModelLoss(
        base_loss=HalfMultinomialLoss(n_classes=n_classes), fit_intercept=True
    )
    # scikit-learn's Cython loss wants y, X and coef in one dtype; its
    # intercept is the last column of coef.
    coef_with_intercept = np.hstack([coef, intercept[:, None]]).astype(X.dtype)
    y_float = y.astype(X.dtype)
    return lambda: linear_loss.loss_gradient(
        coef_with_intercept, X, y_float, l2_reg_strength=l2_reg_strength, n_threads=N_THREADS
    )[0]


def min_time(benchmark):
    # stats is None under --benchmark-disable, when nothing is timed.
    return benchmark.stats.stats.min if benchmark.stats else None


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("problem", LOSS_CASES, ids=case_id, indirect=True)
def test_loss_gradient(benchmark, machine, report, problem, impl):
    X, _, n_classes, label = problem
    n_samples, n_features = X.shape
    rounds = LOSS_CASES[(n_samples, n_features, n_classes, X.dtype.name)]
    benchmark.group = f"loss_gradient {label}"
    evaluate = loss_function(impl, problem)
    with threadpool_limits(limits=N_THREADS):
        # The warm-up call compiles fastsoftmax's kernels (or loads them from
        # the cache) and gives both sides their first-touch allocations.
        objective = float(evaluate())
        benchmark.pedantic(evaluate, rounds=rounds, iterations=1)

    # Measured time over the roofline bound: 1 would be the best this
    # machine allows for one read of X and the flops of two GEMMs.
    seconds = min_time(benchmark)
    bound = roofline_seconds(n_samples, n_features, n_classes, X.itemsize, machine)
    over_roofline = seconds / bound if seconds else None
    benchmark.extra_info.update(
        objective=objective, roofline_s=bound, time_over_roofline=over_roofline
    )
    report.append(
        dict(
            group=benchmark.group,
            impl=impl,
            min_s=seconds,
            objective=objective,
            time_over_roofline=over_roofline,
        )
    )


def make_model(impl):
    if impl == "fastsoftmax":
        return fastsoftmax.SoftmaxRegression(
            C=C, tol=TOL, max_iter=MAX_ITER, n_threads=N_THREADS
        )
    return LogisticRegression(C=C, tol=TOL, max_iter=MAX_ITER, solver="lbfgs")


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("problem", FIT_CASES, ids=case_id, indirect=True)
def test_fit(benchmark, report, problem, impl):
    X, y, n_classes, label = problem
    n_samples, n_features = X.shape
    rounds = FIT_CASES[(n_samples, n_features, n_classes, X.dtype.name)]
    benchmark.group = f"fit {label}"
    model = make_model(impl)
    with threadpool_limits(limits=N_THREADS):
        # A small fit of the same dtype and width compiles fastsoftmax's
        # kernels before the timed fit.
        make_model(impl).fit(*make_problem(500, n_features, n_classes, X.dtype.name))
        model = benchmark.pedantic(model.fit, args=(X, y), rounds=rounds, iterations=1)

    # One function evaluates both solutions, so the objectives are comparable
    # to the last digit; the gradient's largest entry is what tol bounds.
    objective, grad_coef, grad_intercept = fastsoftmax.loss_gradient(
        model.coef_, model.intercept_, X, y,
        l2_reg_strength=1.0 / (C * n_samples), n_threads=N_THREADS,
    )
    max_abs_grad = float(max(np.abs(grad_coef).max(), np.abs(grad_intercept).max()))
    n_iter = int(model.n_iter_[0])
    benchmark.extra_info.update(objective=objective, n_iter=n_iter, max_abs_grad=max_abs_grad)
    report.append(
        dict(
            group=benchmark.group,
            impl=impl,
            min_s=min_time(benchmark),
            objective=objective,
            n_iter=n_iter,
            max_abs_grad=max_abs_grad,
        )
    )
