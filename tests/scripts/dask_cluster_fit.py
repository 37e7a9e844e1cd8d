"""Fits on a dask.distributed LocalCluster, one of them losing a worker.

Run by tests/test_dask_cluster.py in a subprocess, so that every process the
cluster starts is a descendant of this one and can be accounted for. Starts a
LocalCluster of two worker processes on the loopback interface and fits the
same problem three times:

1. with Dask's local threaded scheduler (no cluster): the reference;
2. on the cluster (and records how an evaluation groups the chunks into
   tasks: one per worker thread, each over the chunks that worker holds);
3. on the cluster, with one worker killed (SIGKILL) after the third solver
   iteration, while it holds chunks of the persisted training data; its nanny
   restarts it, the scheduler recomputes the lost chunks from their lineage
   and reruns the lost tasks.

Then closes the cluster and prints one line ``RESULT <json>`` with the
models, the worker processes before and after the kill, and every
descendant process seen (pid and start time) with those still alive after
the close. Exits 0 unless something raised.
"""

import json
import os
import signal
import sys
import time
import warnings

import dask
import dask.array as da
import numpy as np
import psutil
from distributed import Client, LocalCluster
from sklearn.exceptions import ConvergenceWarning

from fastsoftmax import SoftmaxRegression
from fastsoftmax.distributed.inputs import prepare_problem
from fastsoftmax.distributed.placement import Placement

N_SAMPLES, N_FEATURES, N_CLASSES, CHUNK_ROWS = 48_000, 20, 5, 6_000
KILL_AT_ITERATION = 3


def make_problem():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N_SAMPLES, N_FEATURES))
    coef = rng.normal(0.0, 0.5, size=(N_CLASSES, N_FEATURES))
    y = np.argmax(X @ coef.T + rng.gumbel(size=(N_SAMPLES, N_CLASSES)), axis=1)
    sample_weight = rng.uniform(0.5, 1.5, N_SAMPLES)
    chunks = (CHUNK_ROWS,)
    return (
        da.from_array(X, chunks=(CHUNK_ROWS, N_FEATURES)),
        da.from_array(y, chunks=chunks),
        da.from_array(sample_weight, chunks=chunks),
    )


def fit(X, y, sample_weight, callback=None):
    model = SoftmaxRegression(C=0.1, tol=1e-10, max_iter=500, callback=callback)
    with warnings.catch_warnings():
        # tol=1e-10 is below what float64 reaches here; the fit then ends on a
        # flat objective with a warning, the same way every time.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y, sample_weight)
    return model


def summary(model):
    return {
        "coef": model.coef_.tolist(),
        "intercept": model.intercept_.tolist(),
        "objective": model.objective_,
        "n_iter": int(model.n_iter_[0]),
    }


def record_descendants(me, seen):
    for child in me.children(recursive=True):
        try:
            seen[child.pid] = (child.create_time(), " ".join(child.cmdline())[:120])
        except psutil.NoSuchProcess:
            pass


def training_chunks_held(client, address):
    """Persisted, validated chunks of X that the worker at ``address`` holds."""

    def held(dask_scheduler):
        return [str(task.key) for task in dask_scheduler.workers[address].has_what]

    return sum("_validated_X_block" in key for key in client.run_on_scheduler(held))


def main():
    X, y, sample_weight = make_problem()
    with dask.config.set(scheduler="threads"):
        reference = fit(X, y, sample_weight)

    me = psutil.Process()
    seen = {}
    result = {"reference": summary(reference)}
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, worker_dashboard_address=None,
    )
    client = Client(cluster)
    try:
        workers_before = client.run(os.getpid)
        record_descendants(me, seen)
        result["addresses"] = [cluster.scheduler_address, *workers_before]
        result["workers_before"] = workers_before

        clean = fit(X, y, sample_weight)
        result["cluster"] = summary(clean)
        # How an evaluation's chunks are grouped into tasks on this cluster.
        problem = prepare_problem(SoftmaxRegression(), X, y, sample_weight)
        keys = [chunk.X.key for chunk in problem.chunks]
        result["batches"] = Placement(keys, problem.persisted[0], 1).batches()
        result["n_chunks"] = len(keys)
        del problem
        proba = clean.predict_proba(X)
        result["proba_is_lazy"] = hasattr(proba, "dask")
        with dask.config.set(scheduler="threads"):
            local_proba = reference.predict_proba(X).compute()
        result["proba_max_diff"] = float(np.max(np.abs(proba.compute() - local_proba)))

        killed = {}

        def kill_a_worker(state):
            if state.iteration == KILL_AT_ITERATION and not killed:
                address, pid = sorted(workers_before.items())[0]
                killed.update(
                    address=address, pid=pid, iteration=state.iteration,
                    chunks_held=training_chunks_held(client, address),
                )
                os.kill(pid, signal.SIGKILL)
            return False

        faulty = fit(X, y, sample_weight, callback=kill_a_worker)
        result["faulty"] = summary(faulty)
        result["killed"] = killed
        # The nanny restarts the killed worker; wait for it so that the new
        # process is seen (and later checked to be gone) too.
        client.wait_for_workers(2, timeout=60)
        result["workers_after"] = client.run(os.getpid)
        record_descendants(me, seen)
    finally:
        client.close()
        cluster.close()
    time.sleep(0.5)
    alive = []
    for child in me.children(recursive=True):
        try:
            alive.append({"pid": child.pid, "cmdline": " ".join(child.cmdline())[:120]})
        except psutil.NoSuchProcess:
            pass
    result["descendants"] = {str(pid): list(info) for pid, info in seen.items()}
    result["alive_after_close"] = alive
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
