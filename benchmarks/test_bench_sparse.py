"""CSR input: one loss+gradient evaluation beside scikit-learn, text-like data.

Run with ``pytest --benchmark-only``. The data (``text_data.make_text_like``)
are 200,000 x 100,000 with about 90 stored entries per row, power-law column
frequencies and 20 classes. The full fits take minutes (scikit-learn needs
hundreds of L-BFGS iterations here), so they are compared by
``benchmarks/text_fit_comparison.py``, run in the background; this suite
times the evaluation that every iteration of both repeats.
"""

import numpy as np
import pytest
from sklearn._loss.loss import HalfMultinomialLoss
from sklearn.linear_model._linear_loss import LinearModelLoss
from text_data import make_text_like
from threadpoolctl import threadpool_limits

import fastsoftmax

N_THREADS = 2
N_CLASSES = 20


@pytest.fixture(scope="module", params=["float64", "float32"])
def text_problem(request):
    X, y = make_text_like(n_classes=N_CLASSES, dtype=np.dtype(request.param))
    return X, y


@pytest.mark.parametrize("impl", ["fastsoftmax", "sklearn"])
def test_sparse_loss_gradient(benchmark, report, text_problem, impl):
    X, y = text_problem
    n_samples, n_features = X.shape
    rng = np.random.default_rng(1)
    coef = rng.normal(0.0, 0.1, size=(N_CLASSES, n_features))
    intercept = np.zeros(N_CLASSES)
    l2 = 1.0 / n_samples
    if impl == "fastsoftmax":
        prepared = fastsoftmax.SoftmaxLoss(X, y, n_classes=N_CLASSES, check_finite=False)

        def evaluate():
            return prepared.loss_gradient(
                coef, intercept, l2_reg_strength=l2, n_threads=N_THREADS
            )[0]
    else:
        loss = LinearModelLoss(HalfMultinomialLoss(n_classes=N_CLASSES), fit_intercept=True)
        coef_full = np.hstack([coef, intercept[:, None]]).astype(X.dtype)
        y_float = y.astype(X.dtype)

        def evaluate():
            return loss.loss_gradient(
                coef_full, X, y_float, l2_reg_strength=l2, n_threads=N_THREADS
            )[0]
    benchmark.group = f"sparse loss_gradient text-like {X.dtype}"
    with threadpool_limits(limits=N_THREADS):
        objective = float(evaluate())  # compiles / warms up
        benchmark.pedantic(evaluate, rounds=3, iterations=1)
    benchmark.extra_info.update(objective=objective)
    report.append(dict(group=benchmark.group, impl=impl, min_s=benchmark.stats.stats.min
                       if benchmark.stats else None, objective=objective))
