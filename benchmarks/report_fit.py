"""Report suites on whole fits: time and evaluations, scaling in n, memory, start-up.

Each suite returns ``(markdown, data)``; the data feed the plots.
"""

import compileall
import contextlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
from problems import C, fitted_objective, make_problem
from report_markdown import best_time, seconds, table
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.linear_model._linear_loss import LinearModelLoss
from threadpoolctl import threadpool_limits

import fastsoftmax
from fastsoftmax.objective import DenseObjective

N_THREADS = 2
TOL = 1e-4
MAX_ITER = 1000
FIT_REPEATS = 2
HERE = Path(__file__).parent


@contextlib.contextmanager
def counting(cls, names):
    """Count calls of the methods ``names`` of ``cls`` (one evaluation of the
    objective is one call); yields a dict whose "calls" grows."""
    counter = {"calls": 0}
    originals = {name: getattr(cls, name) for name in names}

    def wrap(method):
        def counted(self, *args, **kwargs):
            counter["calls"] += 1
            return method(self, *args, **kwargs)

        return counted

    for name, method in originals.items():
        setattr(cls, name, wrap(method))
    try:
        yield counter
    finally:
        for name, method in originals.items():
            setattr(cls, name, method)


def _libraries():
    """(name, model factory, class and methods whose calls are evaluations)."""
    libraries = [
        ("fastsoftmax", lambda: fastsoftmax.SoftmaxRegression(
            C=C, tol=TOL, max_iter=MAX_ITER, n_threads=N_THREADS),
         (DenseObjective, ("loss_gradient", "loss"))),
        ("scikit-learn lbfgs", lambda: LogisticRegression(
            C=C, tol=TOL, max_iter=MAX_ITER, solver="lbfgs"),
         (LinearModelLoss, ("loss_gradient", "loss"))),
    ]
    if importlib.util.find_spec("sklearnex") is not None:
        from sklearnex.linear_model import LogisticRegression as IntelLogisticRegression

        libraries.append(("scikit-learn-intelex", lambda: IntelLogisticRegression(
            C=C, tol=TOL, max_iter=MAX_ITER), None))
    return libraries


def _timed_fit(factory, counted, X, y, repeats=1):
    """Best time of ``repeats`` fits, the model, and its evaluations (or None)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        factory().fit(X[:2000], y[:2000])  # compile / warm up outside the timing
        with contextlib.ExitStack() as stack:
            counter = stack.enter_context(counting(*counted)) if counted else None
            elapsed, model = best_time(lambda: factory().fit(X, y), repeats)
    evaluations = counter["calls"] // repeats if counter else None
    return elapsed, model, evaluations


def fit_suite(machine, quick=False):
    """The L2 fit of the target problem in float64 and float32, all libraries."""
    n = 100_000 if quick else 1_000_000
    X64, y = make_problem(n, 100, 10)
    rows, data = [], {}
    for dtype in ("float64", "float32"):
        X = X64.astype(dtype, copy=False)
        reference = None
        for name, factory, counted in _libraries():
            with threadpool_limits(limits=N_THREADS):
                # Best of two fits for every library: one fit of a second or
                # less is easily disturbed on a shared machine.
                elapsed, model, evaluations = _timed_fit(factory, counted, X, y, FIT_REPEATS)
                objective, max_grad = fitted_objective(model, X, y)
            if name == "scikit-learn lbfgs":
                reference = elapsed
            data[(name, dtype)] = elapsed
            rows.append([
                name, dtype, seconds(elapsed), f"{objective:.12f}", f"{max_grad:.2e}",
                int(np.ravel(model.n_iter_)[0]), evaluations,
            ])
        for row in rows[-len(_libraries()):]:
            row.append(f"{reference / data[(row[0], dtype)]:.1f}x")
    text = table(
        ["library", "dtype", "time", "objective", "max abs gradient", "iterations",
         "evaluations", "speed-up over scikit-learn"],
        rows,
    )
    return text, data


def scaling_suite(machine, quick=False):
    """Fit time against the number of rows, both libraries (float64)."""
    sizes = [10_000, 30_000, 100_000] if quick else [30_000, 100_000, 300_000, 1_000_000]
    X_all, y_all = make_problem(sizes[-1], 100, 10)
    rows, data = [], []
    for n in sizes:
        X, y = X_all[:n], y_all[:n]
        times = {}
        for name, factory, counted in _libraries()[:2]:
            with threadpool_limits(limits=N_THREADS):
                times[name], model, _ = _timed_fit(factory, counted, X, y, 3 if n <= 100_000 else 1)
        rows.append([f"{n:,}", seconds(times["fastsoftmax"]), seconds(times["scikit-learn lbfgs"]),
                     f"{times['scikit-learn lbfgs'] / times['fastsoftmax']:.1f}x"])
        data.append(dict(n=n, **times))
    text = table(["rows", "fastsoftmax", "scikit-learn lbfgs", "speed-up"], rows)
    return text, data


def _probe(*args, env=None):
    output = subprocess.run(
        [sys.executable, str(HERE / "report_probes.py"), *args],
        check=True, capture_output=True, text=True, env=env,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def memory_suite(machine, quick=False):
    """Peak resident memory of a fit beyond X, each fit in a fresh process."""
    n_base = 20_000 if quick else 100_000
    rows, results = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for n, impls in [(n_base, ("fastsoftmax", "sklearn")), (2 * n_base, ("fastsoftmax",))]:
            X, y = make_problem(n, 256, 1000)
            path = Path(tmp) / f"data_{n}.npz"
            np.savez(path, X=X, y=y)
            del X
            for impl in impls:
                result = _probe("memory", impl, str(path), "--max-iter", "10")
                results[(impl, n)] = result
                rows.append([
                    impl, f"{n:,} x 256, K=1000", f"{result['x_mib']:.0f} MiB",
                    f"{result['peak_beyond_mib']:.0f} MiB", result["n_iter"],
                    seconds(result["seconds"]),
                ])
    ours = results[("fastsoftmax", n_base)]["peak_beyond_mib"]
    doubled = results[("fastsoftmax", 2 * n_base)]["peak_beyond_mib"]
    summary = (
        f"Doubling n changes fastsoftmax's peak beyond X by {100 * (doubled / ours - 1):+.1f}% "
        f"(target: at most +10%); at {n_base:,} rows it is {ours:.0f} MiB "
        f"(target: at most 200 MiB), scikit-learn's "
        f"{results[('sklearn', n_base)]['peak_beyond_mib']:.0f} MiB."
    )
    text = table(["library", "data", "X", "peak beyond X", "iterations", "time"], rows)
    return text + "\n\n" + summary, results


def startup_suite(machine, quick=False):
    """Import time, the first fit with a warm cache, and the cold compile."""
    # Installed packages import from bytecode (pip writes it at install time);
    # with PYTHONDONTWRITEBYTECODE set, a source checkout would be compiled to
    # bytecode on every import and the timing would be of that compile.
    compileall.compile_dir(Path(fastsoftmax.__file__).parent, quiet=1)
    # Timed inside each fresh process, after the dependencies: the wall time
    # of whole processes (about 1.5 s here) varies by more than the import.
    import_cost = min(_probe("import")["seconds"] for _ in range(5))
    rows = [["import fastsoftmax beyond its dependencies", seconds(import_cost), "0.3 s"]]
    _probe("first-fit")  # make sure the cache is warm
    warm = _probe("first-fit")
    rows.append(["first fit + predict_proba beyond the second (warm cache)",
                 seconds(warm["first"] - warm["second"]), "1.5 s"])
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for dtype in ("float64", "float32"):
            cold = _probe("first-fit", "--dtype", dtype, env=env)
            rows.append([f"cold compile: first {dtype} fit + predict_proba beyond the second",
                         seconds(cold["first"] - cold["second"]), "reported"])
    return table(["what", "measured", "target"], rows), None
