"""
Timing: one large fit beside scikit-learn
=========================================

Fit one large softmax regression with fastsoftmax and with scikit-learn.
Both libraries minimise the same objective, the mean cross-entropy plus
``||W||^2 / (2 * C * n)`` with the intercept unpenalised, with the same ``C``,
``tol`` and ``max_iter``. The script prints, for each, the wall-clock time of
the fit, the number of solver iterations and the objective value reached, and
then the speed-up. Both objective values are computed by the same function
(:func:`fastsoftmax.loss_gradient` at the fitted parameters), so they can be
compared to the last digit: a faster fit only counts if it is as good.

The data are synthetic: ``X`` standard normal and each label drawn from the
softmax of ``W* x`` for a random ``W*`` (by the Gumbel-max trick), so the
model is well specified. The default, 1,000,000 x 100 with 10 classes, is
0.8 GB of float64 and takes a few minutes; use ``--n-samples`` for a quicker
run and ``--dtype float32`` to halve the memory traffic.

Run::

    python examples/large_comparison.py --n-samples 1000000 --dtype float64
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression

import fastsoftmax

C = 1.0
TOL = 1e-4
MAX_ITER = 1000


def make_problem(n_samples, n_features, n_classes, dtype, seed=0):
    """X standard normal, y = argmax(X @ W*.T + Gumbel noise), W* ~ N(0, 0.3**2).

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), of ``dtype``
    y : ndarray of shape (n_samples,), integer labels in ``[0, n_classes)``
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    true_coef = rng.normal(0.0, 0.3, size=(n_classes, n_features))
    # Adding standard Gumbel noise and taking the argmax draws y_i from
    # softmax(W* x_i) exactly.
    noise = rng.gumbel(size=(n_samples, n_classes))
    y = np.argmax(X @ true_coef.T + noise, axis=1)
    return X.astype(dtype, copy=False), y


def objective(model, X, y):
    """The penalised objective at a fitted model, the same function for both libraries."""
    loss, _, _ = fastsoftmax.loss_gradient(
        model.coef_, model.intercept_, X, y, l2_reg_strength=1.0 / (C * X.shape[0])
    )
    return loss


def timed_fit(model, X, y):
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(
        description="One large fit with fastsoftmax and with scikit-learn."
    )
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--n-features", type=int, default=100)
    parser.add_argument("--n-classes", type=int, default=10)
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    args = parser.parse_args()

    print(
        f"data: {args.n_samples:,} x {args.n_features}, {args.n_classes} classes, "
        f"{args.dtype}; C={C}, tol={TOL}, max_iter={MAX_ITER}"
    )
    X, y = make_problem(args.n_samples, args.n_features, args.n_classes, args.dtype)

    # Numba compiles the kernels on first use (or loads them from its cache);
    # a tiny fit of the same dtype pays that once, outside the timed fit.
    print("warming up fastsoftmax (compiling its kernels on a tiny problem) ...")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a 5-iteration fit is not expected to converge
        fastsoftmax.SoftmaxRegression(max_iter=5).fit(
            *make_problem(200, args.n_features, args.n_classes, args.dtype)
        )

    # Both use all cores: fastsoftmax's kernels by default (n_threads=None),
    # scikit-learn through BLAS and OpenMP.
    models = {
        "fastsoftmax": fastsoftmax.SoftmaxRegression(C=C, tol=TOL, max_iter=MAX_ITER),
        "scikit-learn": LogisticRegression(C=C, tol=TOL, max_iter=MAX_ITER),
    }
    seconds = {}
    for name, model in models.items():
        print(f"fitting {name} ...", flush=True)
        seconds[name] = timed_fit(model, X, y)

    print()
    print(f"{'':14s}{'time (s)':>10s}{'iterations':>12s}{'objective':>22s}")
    for name, model in models.items():
        value = objective(model, X, y)
        print(f"{name:14s}{seconds[name]:10.2f}{model.n_iter_[0]:12d}{value:22.15f}")
    speedup = seconds["scikit-learn"] / seconds["fastsoftmax"]
    print(f"\nspeed-up of fastsoftmax over scikit-learn: {speedup:.1f}x")


if __name__ == "__main__":
    main()
