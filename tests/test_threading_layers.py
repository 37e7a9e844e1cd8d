"""Concurrent use from Python threads under every Numba threading layer.

Numba picks its threading layer once per process, so each layer runs in its
own subprocess (``tests/scripts/concurrent_fits.py``) with
``NUMBA_THREADING_LAYER`` set. The script checks that five Python threads
fitting at once and ``GridSearchCV(n_jobs=2)`` on joblib's threading backend
neither crash nor change results (bit for bit against sequential fits in the
same process), and that the layer in use is the one requested.

The TBB layer needs the ``tbb`` package (``pip install tbb``; if it is
installed with ``--prefix``/``--target``, put its ``lib`` directory on
``LD_LIBRARY_PATH``); without it that case is skipped.
"""

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fastsoftmax import _threads

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tests" / "scripts" / "concurrent_fits.py"
# Generous: the first subprocess may have to compile kernels that the on-disk
# cache does not hold yet. Not a performance bound, a hang detector.
TIMEOUT = 600


def run_script(mode, layer):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    if layer is None:
        env.pop("NUMBA_THREADING_LAYER", None)
    else:
        env["NUMBA_THREADING_LAYER"] = layer
    return subprocess.run(
        [sys.executable, str(SCRIPT), mode],
        env=env, capture_output=True, text=True, timeout=TIMEOUT, cwd=str(REPO), check=False,
    )


def describe(proc):
    return (
        f"return code {proc.returncode}\n--- stdout ---\n{proc.stdout[-4000:]}"
        f"\n--- stderr ---\n{proc.stderr[-4000:]}"
    )


def skip_if_unavailable(proc, layer):
    if "LAYER UNAVAILABLE" in proc.stdout:
        hint = " (pip install tbb)" if layer == "tbb" else ""
        pytest.skip(f"Numba threading layer {layer!r} is not available here{hint}: "
                    f"{proc.stdout.strip()}")


@pytest.mark.parametrize("layer", ["omp", "tbb", "workqueue"])
def test_concurrent_fits_and_threaded_grid_search_are_safe_and_exact(layer):
    proc = run_script("fits", layer)
    skip_if_unavailable(proc, layer)
    assert proc.returncode == 0, f"concurrent fits under {layer!r} failed:\n{describe(proc)}"
    assert "CHECK OK" in proc.stdout, describe(proc)
    # The script also checks this; asserted here too so that a script that
    # silently fell back to another layer cannot pass.
    assert f"layer={layer} " in proc.stdout, describe(proc)
    assert f"guard={layer == 'workqueue'}" in proc.stdout, (
        "the launch lock must be active exactly under workqueue:\n" + describe(proc)
    )


class WorkqueueAbort(AssertionError):
    """Numba's workqueue layer aborted the process on a concurrent launch."""


@pytest.mark.parametrize("layer", ["omp", "tbb", "workqueue"])
def test_concurrent_backend_functions_and_weighted_fits(layer):
    proc = run_script("backend", layer)
    skip_if_unavailable(proc, layer)
    if proc.returncode != 0 and "Concurrent access has been detected" in proc.stderr:
        raise WorkqueueAbort(f"workqueue aborted on concurrent launches:\n{describe(proc)}")
    assert proc.returncode == 0 and "CHECK OK" in proc.stdout, describe(proc)
    assert f"layer={layer} " in proc.stdout, describe(proc)


def test_workqueue_aborts_on_concurrent_fits_without_the_guard():
    # Shows that the guard in fastsoftmax._threads is needed. If this starts
    # failing because a Numba release made workqueue thread-safe, the guard
    # (and this test) can go.
    proc = run_script("no-guard", "workqueue")
    skip_if_unavailable(proc, "workqueue")
    assert proc.returncode != 0 and "Concurrent access has been detected" in proc.stderr, (
        "expected Numba's workqueue layer to abort on concurrent launches "
        f"without the guard:\n{describe(proc)}"
    )


@pytest.mark.parametrize("mode", ["blas", "blas-workers-first"])
def test_blas_limit_is_applied_and_restored_from_any_thread(mode):
    # threadpoolctl ignores OpenBLAS limits set by any thread but the first
    # one that set a limit; kernel_threads must still hold BLAS to 1 thread in
    # every thread and restore it when the last block closes.
    proc = run_script(mode, None)
    if proc.returncode == 0 and proc.stdout.startswith("SKIP:"):
        pytest.skip(proc.stdout.strip())
    assert proc.returncode == 0 and "CHECK OK" in proc.stdout, describe(proc)


# In-process checks of the guard itself, forced on whatever the layer is.


@pytest.fixture
def forced_guard(monkeypatch):
    monkeypatch.setattr(_threads, "_must_serialise_launches", lambda: True)


def test_guard_lets_one_thread_nest_kernel_threads(forced_guard):
    done = threading.Event()

    def nested():
        # Three nested blocks in one thread (one `with`, entered in order).
        with (
            _threads.kernel_threads(1),
            _threads.kernel_threads(2),
            _threads.parallel_launch_guard(),
        ):
            done.set()

    t = threading.Thread(target=nested, daemon=True)
    t.start()
    t.join(timeout=60)
    assert done.is_set(), "nested kernel_threads blocks in one thread deadlocked on the guard"
    assert _threads._active_users == 0


def test_guard_keeps_other_threads_out_while_held(forced_guard):
    inside, other_entered, release = threading.Event(), threading.Event(), threading.Event()

    def holder():
        with _threads.kernel_threads():
            inside.set()
            release.wait(timeout=60)

    def other():
        inside.wait(timeout=60)
        with _threads.kernel_threads():
            other_entered.set()

    threads = [threading.Thread(target=f, daemon=True) for f in (holder, other)]
    for t in threads:
        t.start()
    assert inside.wait(timeout=60)
    # The lock cannot be taken while the holder is inside, however long we wait.
    entered_early = other_entered.wait(timeout=0.5)
    release.set()
    for t in threads:
        t.join(timeout=60)
    assert not entered_early, "a second thread entered kernel_threads while the guard was held"
    assert other_entered.is_set(), "the second thread never entered after the guard was released"
    assert _threads._active_users == 0


def test_guard_is_on_exactly_under_workqueue_in_this_process():
    import numba

    with _threads.kernel_threads():
        pass
    layer = numba.threading_layer()
    assert _threads._must_serialise_launches() is (layer == "workqueue"), layer
