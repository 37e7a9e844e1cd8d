"""Concurrent fits under one Numba threading layer; run in a fresh process.

Run by tests/test_threading_layers.py with ``NUMBA_THREADING_LAYER`` set (the
layer is chosen once per process, hence a subprocess per layer). Prints
``CHECK OK ...`` and exits 0 when every check passes; prints ``CHECK FAILED:
...`` lines and exits 1 otherwise; prints ``LAYER UNAVAILABLE: ...`` and exits
0 when the requested layer cannot be loaded, or ``SKIP: ...`` when the
machine cannot run a check (the test then skips).

Modes (first argument):

``fits``
    Five Python threads fit at once (and predict), several rounds; every
    ``coef_``, ``intercept_`` and ``predict_proba`` must equal, bit for bit, a
    sequential fit of the same data in this process. Then ``GridSearchCV``
    with ``n_jobs=2`` on joblib's threading backend must give exactly the
    ``cv_results_`` of ``n_jobs=1``. Finally the active layer must be the
    requested one, no kernel_threads block may be left open and the BLAS
    limits must be back to where they started.
``backend``
    Four threads call softmax, log_softmax, logsumexp, cross_entropy and fit
    with ``sample_weight`` at once; results must equal sequential ones.
``no-guard``
    The same concurrent fits with the workqueue guard of
    ``fastsoftmax._threads`` switched off, to show that it is needed: under
    workqueue the process is expected to abort.
``blas``, ``blas-workers-first``
    The BLAS limit seen from worker threads (layer-independent): inside
    kernel_threads it must be 1 in every thread, whichever thread entered
    first, and it must be restored when the last thread leaves. The two modes
    differ in which thread is the first in the process to set a limit: the
    main thread, or a worker thread.
"""

import os
import sys
import threading
import warnings

MODE = sys.argv[1] if len(sys.argv) > 1 else "fits"
LAYER = os.environ.get("NUMBA_THREADING_LAYER", "default")

import numba

try:
    # Loads the threading layer (or raises ValueError if it cannot be loaded)
    # without compiling anything.
    numba.get_num_threads()
except ValueError as exc:
    print(f"LAYER UNAVAILABLE: {LAYER}: {str(exc).splitlines()[0]}")
    sys.exit(0)

import numpy as np
import scipy.linalg  # noqa: F401  (loads the BLAS the kernels call)
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_info

import fastsoftmax
from fastsoftmax import SoftmaxRegression, _threads

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def blas_threads():
    """Current thread limit of every loaded BLAS (read from the library)."""
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def make_problem(seed, n_classes, dtype):
    """A small, well-conditioned classification problem (2000 x 20)."""
    rng = np.random.default_rng(seed)
    n, d = 2000, 20
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((n_classes, d))
    scores = X @ W.T + rng.gumbel(size=(n, n_classes))
    y = scores.argmax(axis=1)
    return X.astype(dtype), y


# Five problems: features-in-lanes score tiles (K=4, with AVX-512; one
# class panel otherwise) and two class panels (K=20),
# float32 and float64, a fixed small n_threads, and the GEMM path of the
# dense kernels (K=400, which calls BLAS from every Numba thread).
PROBLEMS = [
    (make_problem(0, 4, np.float64), {}),
    (make_problem(1, 20, np.float64), {}),
    (make_problem(2, 4, np.float32), {}),
    (make_problem(3, 20, np.float64), {"n_threads": 1}),
    (make_problem(4, 400, np.float32), {}),
]
N_ROUNDS = 3


# A convergence warning would not change what is compared. Set once for the
# process: warnings.catch_warnings() is not thread-safe.
warnings.simplefilter("ignore", category=ConvergenceWarning)


def fit_and_predict(i):
    (X, y), params = PROBLEMS[i]
    est = SoftmaxRegression(C=1.0, tol=1e-6, max_iter=300, **params).fit(X, y)
    return est.coef_.copy(), est.intercept_.copy(), est.predict_proba(X)


def run_concurrent_fits(rounds, reference=None):
    """Fit every problem in its own Python thread, all starting together."""
    barrier = threading.Barrier(len(PROBLEMS))
    errors = []

    def work(i):
        try:
            barrier.wait()
            for r in range(rounds):
                got = fit_and_predict(i)
                if reference is not None:
                    names = ("coef_", "intercept_", "predict_proba")
                    for name, a, b in zip(names, got, reference[i], strict=True):
                        check(
                            np.array_equal(a, b),
                            f"problem {i} round {r}: concurrent {name} differs from the "
                            f"sequential fit (max abs diff {np.max(np.abs(a - b)):.3g})",
                        )
        except BaseException as exc:  # noqa: BLE001 (reported as a failure)
            errors.append(f"problem {i}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(PROBLEMS))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in errors:
        failures.append("exception in a fitting thread: " + e)


def grid_search_check():
    from joblib import parallel_config
    from sklearn.model_selection import GridSearchCV

    fit_threads = set()

    class RecordingSoftmax(SoftmaxRegression):
        # Same estimator; records which thread each fit runs in, to prove
        # that the threaded search really used several threads.
        def fit(self, X, y, sample_weight=None):
            fit_threads.add(threading.get_ident())
            return super().fit(X, y, sample_weight=sample_weight)

    (X, y), _ = PROBLEMS[0]
    grid = {"C": [0.1, 1.0, 10.0]}
    base = RecordingSoftmax(tol=1e-6, max_iter=300)
    sequential = GridSearchCV(base, grid, cv=3, n_jobs=1).fit(X, y)
    fit_threads.clear()
    with parallel_config(backend="threading"):
        threaded = GridSearchCV(base, grid, cv=3, n_jobs=2).fit(X, y)
    check(
        len(fit_threads - {threading.get_ident()}) >= 2,
        f"threaded GridSearchCV ran its fits in {len(fit_threads)} thread(s), expected >= 2 "
        "worker threads",
    )
    for key in ["mean_test_score"] + [f"split{k}_test_score" for k in range(3)]:
        a, b = threaded.cv_results_[key], sequential.cv_results_[key]
        check(np.array_equal(a, b), f"GridSearchCV {key}: threaded {a} != sequential {b}")
    check(
        np.array_equal(threaded.best_estimator_.coef_, sequential.best_estimator_.coef_),
        "GridSearchCV best_estimator_.coef_ differs between n_jobs=2 (threading) and n_jobs=1",
    )
    return sequential.cv_results_["mean_test_score"]


def final_state_checks(initial_blas):
    active = numba.threading_layer()
    if LAYER != "default":
        check(active == LAYER, f"numba.threading_layer() is {active!r}, requested {LAYER!r}")
    check(
        _threads._active_users == 0,
        f"{_threads._active_users} kernel_threads block(s) left open",
    )
    check(
        blas_threads() == initial_blas,
        f"BLAS limits not restored: {blas_threads()} != {initial_blas} at start",
    )
    return active


def main_fits():
    initial_blas = blas_threads()
    # Sequential references (also loads the kernels from the cache before any
    # thread starts; concurrent first calls are covered by the cache tests).
    reference = [fit_and_predict(i) for i in range(len(PROBLEMS))]
    run_concurrent_fits(N_ROUNDS, reference)
    scores = grid_search_check()
    active = final_state_checks(initial_blas)
    return (
        f"layer={active} guard={_threads._must_serialise_launches()} "
        f"fits={len(PROBLEMS) * N_ROUNDS} grid_mean_test_score={np.round(scores, 6).tolist()}"
    )


def main_no_guard():
    # Switch the guard off; everything else as in "fits".
    _threads._must_serialise_launches = lambda: False
    for i in range(len(PROBLEMS)):
        fit_and_predict(i)
    run_concurrent_fits(10)
    return f"layer={numba.threading_layer()} survived concurrent fits without the guard"


def main_backend():
    """Backend functions and weighted fits from four threads at once.

    These launch parallel kernels outside kernel_threads (the backend's
    softmax family; the finiteness check of sample_weight), so they need the
    launch guard of their own under workqueue.
    """
    initial_blas = blas_threads()
    rng = np.random.default_rng(7)
    Z = rng.standard_normal((100_000, 8))
    labels = rng.integers(0, 8, Z.shape[0])
    (X, y), _ = PROBLEMS[0]
    weights = np.linspace(0.5, 1.5, X.shape[0])

    def compute():
        est = SoftmaxRegression(tol=1e-6, max_iter=300).fit(X, y, sample_weight=weights)
        return [
            fastsoftmax.softmax(Z), fastsoftmax.log_softmax(Z), fastsoftmax.logsumexp(Z),
            np.array(fastsoftmax.cross_entropy(Z, labels)), est.coef_.copy(),
        ]

    names = ["softmax", "log_softmax", "logsumexp", "cross_entropy", "weighted fit coef_"]
    reference = compute()
    barrier = threading.Barrier(4)
    errors = []

    def work():
        try:
            barrier.wait()
            for _ in range(N_ROUNDS):
                for name, a, b in zip(names, compute(), reference, strict=True):
                    check(
                        np.array_equal(a, b),
                        f"concurrent {name} differs from the sequential result",
                    )
        except BaseException as exc:  # noqa: BLE001 (reported as a failure)
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failures.extend("exception in a thread: " + e for e in errors)
    active = final_state_checks(initial_blas)
    return f"layer={active} backend functions and weighted fits identical across threads"


def main_blas():
    initial_blas = blas_threads()
    if not initial_blas or min(initial_blas) < 2:
        # A limit of 1 could not be told apart from no limit.
        print(f"SKIP: needs a BLAS using >= 2 threads, got {initial_blas}")
        sys.exit(0)
    seen = {}

    def in_thread(target):
        t = threading.Thread(target=target)
        t.start()
        t.join()

    def record(name):
        def target():
            with _threads.kernel_threads():
                seen[name] = blas_threads()
        return target

    def main_then_worker():
        # The main thread, then a worker (the main thread stays alive, and
        # threadpoolctl would keep it as the only thread allowed to set limits).
        record("main")()
        seen["after main"] = blas_threads()
        in_thread(record("worker after main"))
        seen["after worker"] = blas_threads()

    def two_workers():
        # A worker thread enters first (the one that sets the limit), a second
        # worker enters and leaves last (the one that restores it). Waits have
        # timeouts so that a bug cannot hang the script.
        a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
        checked = threading.Event()

        def first():
            with _threads.kernel_threads():
                seen["worker entering first"] = blas_threads()
                a_in.set()
                b_in.wait(timeout=60)
            a_out.set()
            # Stay alive until the state after both left has been read:
            # threadpoolctl hands control to another thread once this one is dead.
            checked.wait(timeout=60)

        def second():
            a_in.wait(timeout=60)
            with _threads.kernel_threads():
                b_in.set()
                a_out.wait(timeout=60)
                seen["worker leaving last, other one out"] = blas_threads()

        ta, tb = threading.Thread(target=first), threading.Thread(target=second)
        ta.start()
        tb.start()
        tb.join()
        seen["after both left"] = blas_threads()
        checked.set()
        ta.join()

    # Both orders matter: threadpoolctl's controlling thread is the first
    # thread that ever sets a limit in the process.
    scenarios = [main_then_worker, two_workers]
    for scenario in scenarios if MODE == "blas" else scenarios[::-1]:
        scenario()

    for name, value in seen.items():
        expected = initial_blas if name.startswith("after") else [1] * len(initial_blas)
        check(value == expected, f"BLAS threads {name}: {value}, expected {expected}")
    return f"blas limits {seen}"


if __name__ == "__main__":
    summary = {
        "fits": main_fits, "no-guard": main_no_guard, "backend": main_backend, "blas": main_blas,
        "blas-workers-first": main_blas,
    }[MODE]()
    if failures:
        for f in failures:
            print("CHECK FAILED:", f)
        sys.exit(1)
    print(f"CHECK OK mode={MODE} {summary} fastsoftmax={fastsoftmax.__file__}")
