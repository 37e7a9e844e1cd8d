"""Fitting on a ``dask.distributed`` cluster, and surviving a killed worker.

``tests/scripts/dask_cluster_fit.py`` runs in a subprocess: it starts a
LocalCluster of two worker processes bound to 127.0.0.1, fits once with
Dask's local scheduler (the reference), once on the cluster, and once on the
cluster while killing (SIGKILL) a worker that holds persisted chunks of the
training data after the third iteration. The fits must give the reference
model bit for bit: chunk partials are added in chunk order on the client,
so neither the worker that ran a chunk nor a rerun after the failure changes
a single bit. Every process the script started must be gone afterwards.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tests" / "scripts" / "dask_cluster_fit.py"
# A hang detector, not a performance bound: worker processes may have to
# load (or compile) the kernels.
TIMEOUT = 600


@pytest.fixture(scope="module")
def run():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True,
        timeout=TIMEOUT, cwd=str(REPO), check=False,
    )
    details = f"return code {proc.returncode}\n--- stdout ---\n{proc.stdout[-3000:]}" \
              f"\n--- stderr ---\n{proc.stderr[-6000:]}"
    assert proc.returncode == 0, details
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == 1, details
    return json.loads(lines[0].removeprefix("RESULT ")), details


def test_cluster_is_on_loopback_with_two_worker_processes(run):
    result, details = run
    assert all(address.startswith("tcp://127.0.0.1:") for address in result["addresses"]), details
    workers = result["workers_before"]
    assert len(workers) == 2 and len(set(workers.values())) == 2, details
    assert os.getpid() not in workers.values()


def test_cluster_fit_equals_local_scheduler_fit_bit_for_bit(run):
    result, details = run
    reference, cluster = result["reference"], result["cluster"]
    assert reference["n_iter"] > 5, details
    assert cluster == reference, details
    assert result["proba_is_lazy"]
    assert result["proba_max_diff"] == 0.0


def test_an_evaluation_runs_one_task_per_worker_thread_over_its_chunks(run):
    result, details = run
    batches = result["batches"]
    assert len(batches) == 2, details  # two workers of one thread each
    assert sorted(i for batch in batches for i in batch) == list(range(result["n_chunks"]))


def test_fit_finishes_with_the_same_model_after_a_worker_is_killed(run):
    result, details = run
    killed, reference, faulty = result["killed"], result["reference"], result["faulty"]
    # The kill happened inside the fit, to a worker holding training data.
    assert killed["iteration"] == 3 < faulty["n_iter"], details
    assert killed["chunks_held"] >= 1, details
    assert killed["pid"] in result["workers_before"].values()
    # Its nanny replaced it with a new process.
    after = result["workers_after"]
    assert len(after) == 2 and killed["pid"] not in after.values(), details
    assert faulty == reference, details


def test_every_process_the_cluster_started_is_gone(run):
    result, details = run
    assert len(result["descendants"]) >= 3, details  # two workers and the restarted one
    # After cluster.close() only multiprocessing's resource tracker may remain;
    # it exits with the script.
    for process in result["alive_after_close"]:
        assert "resource_tracker" in process["cmdline"], details
    still_there = []
    for pid, (started, cmdline) in result["descendants"].items():
        try:
            process = psutil.Process(int(pid))
            if process.create_time() == pytest.approx(started, abs=0.05):  # not a reused pid
                still_there.append(process)
        except psutil.NoSuchProcess:
            pass
    # The resource tracker leaves when it reads end-of-file from the script's
    # pipe, a moment after the script exits: wait for it, do not race it.
    _, alive = psutil.wait_procs(still_there, timeout=30)
    assert not alive, f"processes outlived the test: {alive}\n{details}"
