"""A fit on a Dask LocalCluster beside the same fit in memory.

Run with ``python -m pytest benchmarks/test_bench_distributed.py --benchmark-only -s``
(a plain ``pytest`` skips it). The problem: 2,000,000 x 100 float64, 10
classes, X standard normal and ``y`` drawn from a softmax model (Gumbel-max,
true coefficients N(0, 0.3^2)), in 16 row chunks of 125,000 rows (100 MB).
The chunks are generated on the workers from seeded generators and the
client builds the identical array in memory, so both fits see the same bytes
and nothing large crosses the scheduler.

- "in-memory": ``SoftmaxRegression(n_threads=2).fit(X, y)`` on the NumPy array;
- "dask": the same estimator on ``dask.array`` X, y persisted on a
  ``LocalCluster`` of 2 worker processes with 1 thread each (so both sides use
  2 cores), loopback only. The timed fit includes its own start-up: chunk
  validation, label encoding and the sum of weights.

Both fit at C = 1, tol = 1e-4, max_iter = 1000. The report prints the time,
the objective at each solution (evaluated by the same in-memory objective,
so a loose fit cannot pass for a fast one) and iterations. The per-iteration
overhead of Dask is measured directly: one loss+gradient evaluation through
the cluster against one in memory, at the same parameters (best of 5), and
is printed with ``-s`` and stored in the benchmark's ``extra_info``.
"""

import time

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

from fastsoftmax import SoftmaxRegression  # noqa: E402
from fastsoftmax._threads import kernel_threads  # noqa: E402
from fastsoftmax.distributed.fitting import task_threads  # noqa: E402
from fastsoftmax.distributed.inputs import prepare_problem  # noqa: E402
from fastsoftmax.distributed.objective import DaskObjective  # noqa: E402
from fastsoftmax.objective import make_objective  # noqa: E402

N_SAMPLES, N_FEATURES, N_CLASSES = 2_000_000, 100, 10
CHUNK_ROWS = 125_000
N_WORKERS = 2
C, TOL, MAX_ITER, N_THREADS = 1.0, 1e-4, 1000, 2
SEED = 0
GROUP = f"dask fit {N_SAMPLES}x{N_FEATURES}-K{N_CLASSES}"


def make_chunk(index):
    """Rows ``index * CHUNK_ROWS ...`` of the problem: (X chunk, y chunk)."""
    true_coef = np.random.default_rng(SEED).normal(0.0, 0.3, size=(N_CLASSES, N_FEATURES))
    rng = np.random.default_rng([SEED, index])
    X = rng.standard_normal((CHUNK_ROWS, N_FEATURES))
    y = np.argmax(X @ true_coef.T + rng.gumbel(size=(CHUNK_ROWS, N_CLASSES)), axis=1)
    return X, y


@pytest.fixture(scope="module")
def cluster_problem():
    """The problem in memory and persisted on a LocalCluster; the client is active."""
    n_chunks = N_SAMPLES // CHUNK_ROWS
    X = np.empty((N_SAMPLES, N_FEATURES))
    y = np.empty(N_SAMPLES, dtype=np.int64)
    for i in range(n_chunks):
        X[i * CHUNK_ROWS:(i + 1) * CHUNK_ROWS], y[i * CHUNK_ROWS:(i + 1) * CHUNK_ROWS] = (
            make_chunk(i)
        )
    cluster = distributed.LocalCluster(
        n_workers=N_WORKERS, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, worker_dashboard_address=None,
    )
    client = distributed.Client(cluster)
    parts = [dask.delayed(make_chunk, nout=2)(i) for i in range(n_chunks)]
    X_dask = da.concatenate([
        da.from_delayed(part[0], shape=(CHUNK_ROWS, N_FEATURES), dtype=np.float64)
        for part in parts
    ])
    y_dask = da.concatenate([
        da.from_delayed(part[1], shape=(CHUNK_ROWS,), dtype=np.int64) for part in parts
    ])
    X_dask, y_dask = client.persist([X_dask, y_dask])
    distributed.wait([X_dask, y_dask])
    yield X, y, X_dask, y_dask
    client.close()
    cluster.close()


def make_model(impl="in-memory"):
    """2 Numba threads in memory; on Dask the default, one per task, since the
    two single-threaded workers are the parallelism (``n_threads`` there
    means threads per task: 2 would put 4 threads on the 2 cores)."""
    n_threads = N_THREADS if impl == "in-memory" else None
    return SoftmaxRegression(C=C, tol=TOL, max_iter=MAX_ITER, n_threads=n_threads)


def best_seconds(evaluate, points):
    """Shortest time of ``evaluate(w)`` over the parameter vectors ``points``."""
    best = np.inf
    for w in points:
        start = time.perf_counter()
        evaluate(w)
        best = min(best, time.perf_counter() - start)
    return best


def evaluation_seconds(X, y, X_dask, y_dask, repeats=5):
    """One loss+gradient in memory and through the cluster (best of ``repeats``).

    Every repeat is at new parameters: the same parameters would give the
    same task keys, and the scheduler may answer from results it still holds.
    """
    memory = make_objective(X, y, None, N_CLASSES, True)
    problem = prepare_problem(make_model("dask"), X_dask, y_dask, None)
    on_cluster = DaskObjective(
        problem.chunks, N_CLASSES, N_FEATURES, problem.dtype, True, problem.sum_weights,
        0.0, task_threads(make_model("dask")), persisted=problem.persisted,
    )
    rng = np.random.default_rng(1)
    points = [rng.normal(0.0, 0.1, memory.n_params) for _ in range(repeats)]
    grad = np.empty(memory.n_params)
    with kernel_threads(N_THREADS):
        memory_seconds = best_seconds(lambda w: memory.loss_gradient(w, grad), points)
    dask_seconds = best_seconds(lambda w: on_cluster.loss_gradient(w, grad), points)
    return memory_seconds, dask_seconds


@pytest.mark.parametrize("impl", ["in-memory", "dask"])
def test_dask_fit(benchmark, report, cluster_problem, impl):
    X, y, X_dask, y_dask = cluster_problem
    benchmark.group = GROUP
    # Compile (or load) the kernels here and on every worker before timing.
    small = np.random.default_rng(2).standard_normal((4000, N_FEATURES))
    small_y = np.arange(4000) % N_CLASSES
    make_model().fit(small, small_y)
    make_model("dask").fit(
        da.from_array(small, chunks=(500, N_FEATURES)), da.from_array(small_y, 500)
    )
    data = (X, y) if impl == "in-memory" else (X_dask, y_dask)
    model = benchmark.pedantic(make_model(impl).fit, args=data, rounds=1, iterations=1)

    objective = make_objective(X, y, None, N_CLASSES, True)
    w = objective.pack(model.coef_, model.intercept_)
    grad = np.empty(objective.n_params)
    with kernel_threads(N_THREADS):
        value = objective.loss_gradient(w, grad)
    value += 0.5 * np.sum(model.coef_ ** 2) / (C * N_SAMPLES)
    grad[:objective.n_coef] += model.coef_.ravel() / (C * N_SAMPLES)
    n_iter = int(model.n_iter_[0])
    extra = dict(objective=value, n_iter=n_iter, max_abs_grad=float(np.max(np.abs(grad))))
    if impl == "dask":
        memory_seconds, dask_seconds = evaluation_seconds(X, y, X_dask, y_dask)
        extra.update(
            evaluation_seconds_in_memory=memory_seconds,
            evaluation_seconds_dask=dask_seconds,
            overhead_per_evaluation_seconds=dask_seconds - memory_seconds,
        )
        print(
            f"\n{GROUP}: one loss+gradient {memory_seconds:.3f} s in memory, "
            f"{dask_seconds:.3f} s on the cluster ({len(X_dask.chunks[0])} chunks, "
            f"{N_WORKERS} workers x 1 thread): overhead "
            f"{1e3 * (dask_seconds - memory_seconds):.1f} ms per evaluation"
        )
    benchmark.extra_info.update(extra)
    report.append(dict(group=GROUP, impl=impl, min_s=benchmark.stats.stats.min, **extra))
