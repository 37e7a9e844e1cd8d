"""Report suites of the other targets: sparse models beside saga, the
cross-validation of C, and CSR data (one evaluation, and whole fits).

Each suite returns ``(markdown, data)``.
"""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
from problems import make_problem, make_sparse_truth_problem, penalised_objective
from report_markdown import ROUNDS, best_time, seconds, settle, table
from sklearn._loss.loss import HalfMultinomialLoss
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.linear_model._linear_loss import LinearModelLoss
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

import fastsoftmax
from fastsoftmax import SoftmaxRegressionCV

N_THREADS = 2
HERE = Path(__file__).parent


def penalties_suite(machine, quick=False):
    """L1, elastic-net and group lasso beside scikit-learn's saga."""
    n = 20_000 if quick else 200_000
    C = 0.01
    X, y = make_sparse_truth_problem(n)
    cases = [("l1", None), ("elasticnet", 0.5), ("group_lasso", None)]
    rows = []
    for penalty, l1_ratio in cases:
        runs = [("fastsoftmax, tol 1e-4", 1e-4), ("fastsoftmax, tol 1e-7", 1e-7)]
        if penalty != "group_lasso":
            runs.append(("scikit-learn saga, tol 1e-4", None))
        results = {}
        for name, tol in runs:
            if tol is not None:
                model = fastsoftmax.SoftmaxRegression(
                    C=C, penalty=penalty, l1_ratio=l1_ratio, tol=tol, max_iter=1000,
                    n_threads=N_THREADS,
                )
            else:
                # saga visits the samples in a random order: fixed, so runs repeat.
                model = LogisticRegression(
                    C=C, solver="saga", l1_ratio=1.0 if penalty == "l1" else l1_ratio,
                    tol=1e-4, max_iter=1000, random_state=0,
                )
            with threadpool_limits(limits=N_THREADS), warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                if tol is not None:
                    fastsoftmax.SoftmaxRegression(penalty=penalty, l1_ratio=l1_ratio).fit(
                        X[:2000], y[:2000])  # compile outside the timing
                # Best of two fits for every run, saga's included: a fit of
                # under a second is easily disturbed on a shared machine.
                elapsed, model = best_time(lambda: model.fit(X, y), 2)
            objective = penalised_objective(model, X, y, penalty, l1_ratio, C)
            results[name] = (elapsed, objective)
            rows.append([penalty if l1_ratio is None else f"{penalty} (r={l1_ratio})", name,
                         seconds(elapsed), f"{objective:.11f}", int(np.max(model.n_iter_)),
                         int(np.sum(np.asarray(model.coef_) == 0))])
        saga = results.get("scikit-learn saga, tol 1e-4")
        if saga:
            tight_time, tight_objective = results["fastsoftmax, tol 1e-7"]
            no_worse = tight_objective <= saga[1] + 1e-12
            rows[-1].append(f"tol 1e-7 fit: {saga[0] / tight_time:.1f}x faster, objective "
                            f"{'no worse' if no_worse else '**worse**'}")
    for row in rows:
        row += [""] * (7 - len(row))
    text = table(["penalty", "run", "time", "objective", "iterations", "zero coefficients",
                  "against saga"], rows)
    return text, None


def _cv_model(impl, Cs, folds):
    if impl == "fastsoftmax":
        return SoftmaxRegressionCV(Cs=Cs, cv=folds, tol=1e-4, max_iter=1000, n_threads=N_THREADS)
    extra = {}
    if "use_legacy_attributes" in LogisticRegressionCV().get_params():  # >= 1.8
        extra = {"use_legacy_attributes": False, "l1_ratios": (0,)}
    return LogisticRegressionCV(Cs=Cs, cv=folds, scoring="neg_log_loss", tol=1e-4,
                                max_iter=1000, **extra)


def cv_suite(machine, quick=False):
    """Ten values of C, five folds, both libraries on the same folds."""
    n = 20_000 if quick else 200_000
    X, y = make_problem(n, 100, 10)
    Cs = np.logspace(-4, 4, 10)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    rows, times = [], {}
    for impl in ("fastsoftmax", "sklearn"):
        with threadpool_limits(limits=N_THREADS), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if impl == "fastsoftmax":
                small = [(t[t < 3000], v[v < 3000]) for t, v in folds]
                _cv_model(impl, Cs, small).fit(X[:3000], y[:3000])
            elapsed, model = best_time(lambda: _cv_model(impl, Cs, folds).fit(X, y), 1)
        C = float(np.ravel(model.C_)[0])
        loss, grad_coef, grad_intercept = fastsoftmax.loss_gradient(
            np.asarray(model.coef_), model.intercept_, X, y, l2_reg_strength=1.0 / (C * n),
            n_threads=N_THREADS,
        )
        max_grad = max(np.abs(grad_coef).max(), np.abs(grad_intercept).max())
        times[impl] = elapsed
        rows.append([impl, seconds(elapsed), f"{C:.6g}", f"{loss:.12f}", f"{max_grad:.2e}",
                     int(np.sum(model.n_iter_))])
    rows[0].append(f"{times['sklearn'] / times['fastsoftmax']:.1f}x")
    rows[1].append("")
    text = table(["library", "time", "selected C", "refit objective", "max abs gradient",
                  "fold iterations", "speed-up"], rows)
    return text, times


def sparse_suite(machine, quick=False):
    """One loss+gradient evaluation on the text-like CSR problem, both libraries."""
    from text_data import make_text_like

    n = 20_000 if quick else 200_000
    rows = []
    X64, y = make_text_like(n_samples=n)
    K = 20
    coef = np.random.default_rng(1).normal(0.0, 0.1, (K, X64.shape[1]))
    intercept = np.zeros(K)
    linear_loss = LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=K), fit_intercept=True)
    for dtype in ("float64", "float32"):
        X = X64.astype(dtype)
        prepared = fastsoftmax.SoftmaxLoss(X, y, n_classes=K, check_finite=False)
        ours = lambda: prepared.loss_gradient(  # noqa: E731
            coef, intercept, n_threads=N_THREADS)[0]
        packed = np.hstack([coef, intercept[:, None]]).astype(dtype)
        y_float = y.astype(dtype)
        theirs = lambda: linear_loss.loss_gradient(  # noqa: E731
            packed, X, y_float, n_threads=N_THREADS)[0]
        with threadpool_limits(limits=N_THREADS):
            ours(), theirs()
            # In rounds, as the kernel suite times its evaluations (ROUNDS).
            t_ours, loss_ours = best_time(ours, 5, ROUNDS)
            t_theirs, loss_theirs = best_time(theirs, 3, ROUNDS)
        rows.append([f"{X.shape[0]:,} x {X.shape[1]:,}, {X.nnz:,} stored, K={K}", dtype,
                     seconds(t_ours), seconds(t_theirs), f"{t_theirs / t_ours:.1f}x",
                     f"{loss_ours:.10f}", f"{float(loss_theirs):.10f}"])
    text = table(["data", "dtype", "fastsoftmax", "scikit-learn", "speed-up",
                  "loss (fastsoftmax)", "loss (scikit-learn)"], rows)
    return text, None


def textfit_suite(machine, quick=False):
    """Whole fits on the text-like problem, each in a fresh process
    (``text_fit_comparison.py``): time, iterations, objective, peak memory."""
    rows = []
    for dtype in ("float64", "float32"):
        results = {}
        for library in ("fastsoftmax", "sklearn"):
            settle()
            command = [sys.executable, str(HERE / "text_fit_comparison.py"), "--child",
                       "--only", library, "--dtype", dtype]
            if quick:
                command += ["--max-iter", "20"]
            output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            results[library] = json.loads(output.splitlines()[-1])
        speedup = results["sklearn"]["seconds"] / results["fastsoftmax"]["seconds"]
        for library, result in results.items():
            rows.append([library, dtype, seconds(result["seconds"]), result["n_iter"],
                         f"{result['objective']:.10f}", f"{result['peak_beyond_mib']:.0f} MiB",
                         f"{speedup:.1f}x" if library == "fastsoftmax" else ""])
    text = table(["library", "dtype", "time", "iterations", "objective",
                  "peak memory of the fit", "speed-up"], rows)
    return text, None
