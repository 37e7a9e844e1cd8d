"""Peak anonymous memory of a fit and a prediction on a memory-mapped X.

Run by tests/test_out_of_core.py in a fresh process:
``python memmap_memory.py MODE X.npy y.npy`` with MODE one of

* ``memmap``: ``fit`` and ``predict_proba`` on ``np.load(X.npy, mmap_mode="r")``;
* ``dask``: the same through ``dask.array.from_array`` of that map, with
  Dask's default (threaded) scheduler;
* ``copy``: the control, a fit on ``np.array`` of the map: the same
  measurement must see the copy, or it proves nothing.

What is measured, and why it is honest: pages of the mapped file that the
kernels read are file-backed (``RssFile``); the kernel may drop them and read
them again, and they are not the process's memory. A copy of X, or any other
array the fit allocates, is anonymous memory (``RssAnon``). Linux keeps no
peak of ``RssAnon``, so a thread samples it every millisecond (the kernels
and NumPy's bulk loops release the GIL, so the sampler runs during them);
the peak of NumPy's own allocations is also taken exactly from
:mod:`tracemalloc`, which NumPy reports its array buffers to. Both are
measured from a baseline taken after a warm-up fit, so that loading the
compiled kernels is not counted.

Prints one line ``RESULT <json>``.
"""

import json
import sys
import threading
import time
import tracemalloc
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from fastsoftmax import SoftmaxRegression

MAX_ITER = 8


def rss_anon():
    """Resident anonymous memory of this process, in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no RssAnon in /proc/self/status")


class PeakSampler:
    """Largest ``RssAnon`` seen by a thread sampling every millisecond."""

    def __init__(self):
        self.peak = rss_anon()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_anon())
            time.sleep(0.001)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_anon())


def model():
    return SoftmaxRegression(max_iter=MAX_ITER, n_threads=2)


def main(mode, x_path, y_path):
    X = np.load(x_path, mmap_mode="r")
    y = np.load(y_path)
    if mode == "dask":
        import dask.array as da

        data = da.from_array(X, chunks=(X.shape[0] // 8, X.shape[1]))
    else:
        data = X
    warnings.simplefilter("ignore", ConvergenceWarning)
    # Warm-up on small slices of both kinds of array the measured calls see
    # (a read-only map and writable memory are compiled separately): loads
    # or compiles the kernels (and Dask) before the baseline.
    for warm in (np.array(X[:2000]), X[:2000]):
        model().fit(warm, y[:2000]).predict_proba(warm)
        if mode == "dask":
            model().fit(da.from_array(warm, chunks=(1000, X.shape[1])), y[:2000])

    baseline = rss_anon()
    tracemalloc.start()
    with PeakSampler() as sampler:
        fit_data = np.array(X) if mode == "copy" else data
        clf = model().fit(fit_data, y)
        proba = clf.predict_proba(data)
        if mode == "dask":
            proba = proba.compute()
        del fit_data
    _, numpy_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    result = {
        "mode": mode,
        "x_bytes": X.nbytes,
        "proba_bytes": proba.nbytes,
        "peak_anon_increase": sampler.peak - baseline,
        "tracemalloc_peak": numpy_peak,
        "objective": clf.objective_,
        "proba_sum_error": float(np.max(np.abs(proba.sum(axis=1) - 1.0))),
    }
    # Not measured: the same fit on X in memory must give the same model.
    in_memory = model().fit(np.array(X), y)
    result["objective_in_memory"] = in_memory.objective_
    result["same_model_as_in_memory"] = bool(
        np.array_equal(in_memory.coef_, clf.coef_)
        and np.array_equal(in_memory.intercept_, clf.intercept_)
    )
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
