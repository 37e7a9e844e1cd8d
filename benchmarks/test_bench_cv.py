"""Choosing C by cross-validation: SoftmaxRegressionCV beside LogisticRegressionCV.

Run with ``pytest benchmarks/test_bench_cv.py --benchmark-only -s``. The
problem: 200,000 x 100, 10 classes, X standard normal, ``y`` drawn from the
model (Gumbel-max, true coefficients N(0, 0.3^2)), the grid
``np.logspace(-4, 4, 10)``, the same five ``StratifiedKFold(shuffle=True,
random_state=0)`` folds given to both, negative log-loss, tol = 1e-4 and
max_iter = 1000 for both, then a refit at the selected C. Both run on 2
threads (Numba's for fastsoftmax, BLAS and OpenMP for scikit-learn, whose
``n_jobs=None`` runs the folds one after the other, as fastsoftmax does).

Beside the times the report prints each side's selected C, the refit's
objective and largest gradient entry (computed the same way for both, so a
loose fit cannot pass for a fast one), and the work done: iterations and
passes over the data per fold and C. scikit-learn's passes are counted by
wrapping its ``LinearModelLoss.loss_gradient``. Each fit is timed once:
scikit-learn takes minutes.
"""

import os
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.linear_model._linear_loss import LinearModelLoss
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

import fastsoftmax
from fastsoftmax.cv import SoftmaxRegressionCV
from fastsoftmax.objective import DenseObjective

N_SAMPLES, N_FEATURES, N_CLASSES = 200_000, 100, 10
CS = np.logspace(-4, 4, 10)
N_FOLDS = 5
TOL = 1e-4
MAX_ITER = 1000
N_THREADS = 2
GROUP = f"CV {N_SAMPLES}x{N_FEATURES}-K{N_CLASSES} {len(CS)} Cs x {N_FOLDS} folds"

_SELECTED = {}  # impl -> selected C, to print both side by side at the end


@pytest.fixture(scope="module")
def cv_problem():
    """X, y from the model being fitted, and the folds both libraries use."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N_SAMPLES, N_FEATURES))
    true_coef = rng.normal(0.0, 0.3, size=(N_CLASSES, N_FEATURES))
    y = np.argmax(X @ true_coef.T + rng.gumbel(size=(N_SAMPLES, N_CLASSES)), axis=1)
    folds = list(StratifiedKFold(N_FOLDS, shuffle=True, random_state=0).split(X, y))
    return X, y, folds


def make_model(impl, folds):
    if impl == "fastsoftmax":
        return SoftmaxRegressionCV(
            Cs=CS, cv=folds, tol=TOL, max_iter=MAX_ITER, n_threads=N_THREADS
        )
    extra = {}
    if "use_legacy_attributes" in LogisticRegressionCV().get_params():  # >= 1.8
        extra = {"use_legacy_attributes": False, "l1_ratios": (0,)}
    return LogisticRegressionCV(
        Cs=CS, cv=folds, scoring="neg_log_loss", tol=TOL, max_iter=MAX_ITER, **extra
    )


class PassCounter:
    """Records the rows of every pass over the data: calls of scikit-learn's
    ``LinearModelLoss.loss_gradient``, or of fastsoftmax's dense objective's
    ``loss_gradient`` and ``loss`` (the kernel calls, after any reuse).
    fastsoftmax's held-out log-loss is also a (loss-only) pass, over the
    smaller held-out fold; scikit-learn's scorer is not counted."""

    def __init__(self, monkeypatch, impl):
        self.rows = []
        if impl == "sklearn":
            patches = [(LinearModelLoss, "loss_gradient", lambda args: args[2])]
        else:
            patches = [(DenseObjective, name, lambda args: args[0].X)
                       for name in ("loss_gradient", "loss")]
        for cls, name, data in patches:
            monkeypatch.setattr(cls, name, self._counted(getattr(cls, name), data))

    def _counted(self, method, data):
        def counted(*args, **kwargs):
            self.rows.append(data(args).shape[0])
            return method(*args, **kwargs)

        return counted

    def training_passes(self):
        """Passes over a training fold or the full data (not a held-out fold)."""
        return sum(rows > N_SAMPLES // 2 for rows in self.rows)

    def held_out_passes(self):
        return sum(rows <= N_SAMPLES // 2 for rows in self.rows)


def refit_quality(model, X, y):
    """F at the refitted model for its C, and its largest gradient entry,
    by fastsoftmax.loss_gradient for both libraries (one code path)."""
    C = float(np.ravel(model.C_)[0])
    loss, grad_coef, grad_intercept = fastsoftmax.loss_gradient(
        np.asarray(model.coef_), model.intercept_, X, y,
        l2_reg_strength=1.0 / (C * X.shape[0]), n_threads=N_THREADS,
    )
    return loss, max(np.max(np.abs(grad_coef)), np.max(np.abs(grad_intercept)))


@pytest.mark.parametrize("impl", ["fastsoftmax", "sklearn"])
def test_cross_validated_C(benchmark, report, cv_problem, impl, monkeypatch):
    X, y, folds = cv_problem
    benchmark.group = GROUP
    with threadpool_limits(limits=N_THREADS), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if impl == "fastsoftmax":
            # Compiles the kernels outside the timed fit.
            small = [(t[t < 3000], v[v < 3000]) for t, v in folds]
            make_model(impl, small).fit(X[:3000], y[:3000])
        counter = PassCounter(monkeypatch, impl)
        load_before = os.getloadavg()[0]
        model = benchmark.pedantic(
            make_model(impl, folds).fit, args=(X, y), rounds=1, iterations=1
        )
    seconds = benchmark.stats.stats.min
    # Read before refit_quality's own pass.
    total_passes, held_out_passes = counter.training_passes(), counter.held_out_passes()
    load_after = os.getloadavg()[0]
    objective, max_abs_grad = refit_quality(model, X, y)
    selected_C = float(np.ravel(model.C_)[0])
    _SELECTED[impl] = selected_C
    if impl == "fastsoftmax":
        n_iter = model.n_iter_  # (n_folds, n_Cs)
        passes = model.n_evaluations_
        refit_iter = model.refit_n_iter_
    else:
        n_iter = np.asarray(model.n_iter_).reshape(N_FOLDS, len(CS))
        passes = None  # scikit-learn's per-C split is not recorded; the total is
        refit_iter = None
    benchmark.extra_info.update(
        selected_C=selected_C, objective=objective, max_abs_grad=max_abs_grad,
        fold_iterations=int(n_iter.sum()), training_passes=total_passes,
    )
    report.append(
        {"group": GROUP, "impl": impl, "min_s": seconds, "objective": objective,
         "n_iter": int(n_iter.sum()), "max_abs_grad": max_abs_grad}
    )
    print(f"\n{impl}: {seconds:.1f} s, selected C = {selected_C:.6g}, refit objective "
          f"{objective:.12g}, max |gradient| {max_abs_grad:.2e}")
    # Other jobs on a shared machine slow scikit-learn's multi-threaded BLAS
    # far more than the Numba kernels: read the times beside the load.
    print(f"  1-minute load average before / after: {load_before:.2f} / {load_after:.2f}; "
          f"{1000 * seconds / total_passes:.1f} ms per training pass, overheads included")
    print(f"  fold iterations per C (folds x Cs):\n{n_iter}")
    if passes is not None:
        print(f"  passes over the data per C (folds x Cs):\n{passes}")
    print(f"  passes over training data (folds + refit): {total_passes}"
          + (f"; refit iterations {refit_iter}" if refit_iter is not None else "")
          + (f"; held-out log-loss passes: {held_out_passes}" if held_out_passes else ""))
    if len(_SELECTED) == 2:
        same = _SELECTED["fastsoftmax"] == _SELECTED["sklearn"]
        print(f"  selected C: fastsoftmax {_SELECTED['fastsoftmax']:.6g}, scikit-learn "
              f"{_SELECTED['sklearn']:.6g} ({'same' if same else 'DIFFERENT'})")
