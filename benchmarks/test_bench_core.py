"""fastsoftmax against scikit-learn on the same problems, at the same settings.

Run from the repository root with ``pytest --benchmark-only`` (a plain
``pytest`` skips every benchmark). Three comparisons:

- one loss+gradient evaluation, :class:`fastsoftmax.SoftmaxLoss` against
  scikit-learn's ``LinearModelLoss`` (both prepared once for the data), at
  the same parameters, on the shapes
  of the performance targets (``problems.KERNEL_SHAPES``) in float64 and
  float32;
- one fit, :class:`fastsoftmax.SoftmaxRegression` against scikit-learn's
  ``LogisticRegression(solver="lbfgs")`` with the same ``C``, ``tol`` and
  ``max_iter``;
- ``predict_proba`` of the same parameters in both libraries (the report's
  ``max_abs_grad`` column holds the largest difference of the two).

Both sides get 2 threads (Numba threads for fastsoftmax, BLAS and OpenMP
threads for scikit-learn through threadpoolctl). Every benchmark records the
objective value it reached in ``benchmark.extra_info``, and the session ends
with a table of times beside objectives (see ``conftest.py``): a fast loose
fit is not a win over a slow tight one. Fitted objectives are both evaluated
with :func:`fastsoftmax.loss_gradient`, so they are computed the same way.

Data are generated once per module and shape; compile time is kept out of
the timings by a warm-up call before each timed run. The whole suite takes
about ten minutes on 2 cores. ``python benchmarks/report.py`` runs the same
comparisons (and more) and writes docs/performance.md.
"""

from typing import NamedTuple

import numpy as np
import pytest
from machine import roofline_seconds
from problems import (
    C,
    KERNEL_SHAPES,
    evaluation_point,
    fitted_objective,
    loss_callable,
    make_problem,
)
from report_markdown import settle
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

import fastsoftmax

N_THREADS = 2
TOL = 1e-4
MAX_ITER = 1000


def _rounds(n_samples, n_features, n_classes):
    """Timed rounds: many for quick cases, few for the big ones (the minimum is reported)."""
    work = n_samples * n_features * n_classes
    return 30 if work < 10**8 else 10 if work < 10**9 else 3


# (n_samples, n_features, n_classes, dtype) -> timed rounds.
LOSS_CASES = {
    (10_000, 100, 10, "float64"): 30,
    (100_000, 100, 10, "float64"): 10,
    **{(*shape, dtype): _rounds(*shape) for shape in KERNEL_SHAPES for dtype in ("float64", "float32")},
}
FIT_CASES = {
    (100_000, 100, 10, "float64"): 2,
    (1_000_000, 100, 10, "float64"): 1,
    (1_000_000, 100, 10, "float32"): 1,
}
PROBA_CASES = {(*shape, "float64"): _rounds(*shape) for shape in KERNEL_SHAPES}
IMPLEMENTATIONS = ["fastsoftmax", "sklearn"]


class Problem(NamedTuple):
    X: np.ndarray
    y: np.ndarray
    n_classes: int
    label: str


def case_id(case):
    n_samples, n_features, n_classes, dtype = case
    return f"{n_samples}x{n_features}-K{n_classes}-{dtype}"


@pytest.fixture(scope="module")
def problem(request):
    """The data of one case, generated once per module and shape."""
    n_samples, n_features, n_classes, dtype = request.param
    X, y = make_problem(n_samples, n_features, n_classes, dtype)
    return Problem(X, y, n_classes, case_id(request.param))


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
    evaluate = loss_callable(impl, X, problem.y, n_classes, N_THREADS)
    with threadpool_limits(limits=N_THREADS):
        # The warm-up call compiles fastsoftmax's kernels (or loads them from
        # the cache) and gives both sides their first-touch allocations.
        objective = float(evaluate())
        settle()  # idle BLAS threads of the previous benchmark stop spinning
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
        settle()
        model = benchmark.pedantic(model.fit, args=(X, y), rounds=rounds, iterations=1)

    # One function evaluates both solutions, so the objectives are comparable
    # to the last digit; the gradient's largest entry is what tol bounds.
    objective, max_abs_grad = fitted_objective(model, X, y, N_THREADS)
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


def model_with_parameters(impl, coef, intercept, classes):
    """A fitted-looking model of either library holding the given parameters,
    so that both predict with the same model."""
    model = make_model(impl)
    model.coef_, model.intercept_, model.classes_ = coef, intercept, classes
    model.n_features_in_ = coef.shape[1]
    return model


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("problem", PROBA_CASES, ids=case_id, indirect=True)
def test_predict_proba(benchmark, report, problem, impl):
    X, _, n_classes, label = problem
    rounds = PROBA_CASES[(*X.shape, n_classes, X.dtype.name)]
    benchmark.group = f"predict_proba {label}"
    coef, intercept = evaluation_point(n_classes, X.shape[1])
    model = model_with_parameters(impl, coef, intercept, np.arange(n_classes))
    reference = model_with_parameters("fastsoftmax", coef, intercept, np.arange(n_classes))
    with threadpool_limits(limits=N_THREADS):
        reference.predict_proba(X[:1000])  # compiles outside the timing
        settle()
        proba = benchmark.pedantic(model.predict_proba, args=(X,), rounds=rounds, iterations=1)
    # Same parameters on both sides: the probabilities must agree.
    max_difference = float(np.max(np.abs(proba[:1000] - reference.predict_proba(X[:1000]))))
    benchmark.extra_info.update(max_difference_to_fastsoftmax=max_difference)
    report.append(
        dict(group=benchmark.group, impl=impl, min_s=min_time(benchmark),
             max_abs_grad=max_difference)
    )
