"""Fit on a memory-mapped X of 8 GiB: time and peak anonymous memory.

Usage (from the repository root)::

    python benchmarks/memmap_fit.py                 # 8 GiB in $TMPDIR, deleted after
    python benchmarks/memmap_fit.py --gib 2 --dir /data --keep

Writes X (float64, 100 features, as many rows as make ``--gib`` GiB) and y
(10 classes drawn from a softmax model, Gumbel-max) as ``.npy`` files block
by block, then, in a fresh process, fits ``SoftmaxRegression`` (C = 1,
tol = 1e-4, 2 threads) on ``np.load(X.npy, mmap_mode="r")`` and predicts the
labels of every row. It reports the times, the objective and the peak
resident *anonymous* memory (``RssAnon``, sampled every millisecond by a
thread; file-backed pages of the map are not the process's memory: the
kernel drops and re-reads them as needed). The target is a peak under 1 GiB
for the fit. y is loaded into memory (8 bytes a row), as the estimator
encodes the labels in memory.

If the file fits in the page cache (as 8 GiB does on a 24 GiB machine),
every pass after the first reads it from memory; on a file larger than RAM
each pass reads from disk and runs at the disk's speed.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from proc_status import status_kib

N_FEATURES, N_CLASSES, SEED = 100, 10, 0
BLOCK_ROWS = 100_000


def write_problem(directory, gib):
    """X.npy and y.npy in ``directory``, X of ``gib`` GiB; returns their paths."""
    n_samples = int(gib * 2**30) // (8 * N_FEATURES)
    x_path, y_path = directory / "X.npy", directory / "y.npy"
    rng = np.random.default_rng(SEED)
    true_coef = rng.normal(0.0, 0.3, size=(N_CLASSES, N_FEATURES))
    X = np.lib.format.open_memmap(x_path, mode="w+", dtype=np.float64,
                                  shape=(n_samples, N_FEATURES))
    y = np.lib.format.open_memmap(y_path, mode="w+", dtype=np.int64, shape=(n_samples,))
    for start in range(0, n_samples, BLOCK_ROWS):
        block = rng.standard_normal((min(BLOCK_ROWS, n_samples - start), N_FEATURES))
        X[start:start + BLOCK_ROWS] = block
        noise = rng.gumbel(size=(block.shape[0], N_CLASSES))
        y[start:start + BLOCK_ROWS] = np.argmax(block @ true_coef.T + noise, axis=1)
    X.flush()
    y.flush()
    del X, y
    return x_path, y_path


def status(field):
    """A ``/proc/self/status`` field in bytes (``RssAnon``, ``RssFile``, ``VmHWM``)."""
    return status_kib(field) * 1024


class PeakAnon:
    """Largest ``RssAnon`` seen by a thread sampling every millisecond
    (the same measurement as tests/scripts/memmap_memory.py)."""

    def __init__(self):
        self.peak = status("RssAnon")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, status("RssAnon"))
            time.sleep(0.001)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, status("RssAnon"))


def measure(x_path, y_path):
    """The measured fit and prediction; runs in a fresh process, prints JSON."""
    from fastsoftmax import SoftmaxRegression

    X = np.load(x_path, mmap_mode="r")
    # A small fit first loads the compiled kernels, outside the measurement.
    warm = np.array(X[:2000])
    SoftmaxRegression(max_iter=5, n_threads=2).fit(warm, np.arange(2000) % N_CLASSES)
    y = np.load(y_path)
    before = status("RssAnon")
    model = SoftmaxRegression(C=1.0, tol=1e-4, max_iter=1000, n_threads=2)
    with PeakAnon() as fit_peak:
        start = time.perf_counter()
        model.fit(X, y)
        fit_seconds = time.perf_counter() - start
    with PeakAnon() as predict_peak:
        start = time.perf_counter()
        accuracy = float(np.mean(model.predict(X) == y))
        predict_seconds = time.perf_counter() - start
    print("RESULT " + json.dumps({
        "x_gib": X.nbytes / 2**30,
        "n_samples": X.shape[0],
        "fit_seconds": fit_seconds,
        "n_iter": int(model.n_iter_[0]),
        "objective": model.objective_,
        "rss_anon_before_fit_mib": before / 2**20,
        "peak_rss_anon_fit_mib": fit_peak.peak / 2**20,
        "predict_seconds": predict_seconds,
        "peak_rss_anon_predict_mib": predict_peak.peak / 2**20,
        "training_accuracy": accuracy,
        "rss_file_at_end_mib": status("RssFile") / 2**20,
    }), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gib", type=float, default=8.0, help="size of X in GiB")
    parser.add_argument("--dir", type=Path, default=None, help="where to write X and y")
    parser.add_argument("--keep", action="store_true", help="keep the files afterwards")
    parser.add_argument("--measure", nargs=2, metavar=("X_NPY", "Y_NPY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        return measure(*args.measure)

    directory = Path(tempfile.mkdtemp(prefix="fastsoftmax_memmap_", dir=args.dir))
    try:
        start = time.perf_counter()
        x_path, y_path = write_problem(directory, args.gib)
        print(f"wrote {x_path} ({x_path.stat().st_size / 2**30:.2f} GiB) and {y_path} "
              f"in {time.perf_counter() - start:.0f} s", flush=True)
        print(f"load before: {os.getloadavg()}", flush=True)
        proc = subprocess.run(
            [sys.executable, __file__, "--measure", str(x_path), str(y_path)],
            capture_output=True, text=True, check=False,
        )
        print(f"load after: {os.getloadavg()}", flush=True)
        if proc.returncode != 0:
            sys.exit(f"measurement failed:\n{proc.stdout}\n{proc.stderr}")
        line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))
        for key, value in json.loads(line.removeprefix("RESULT ")).items():
            print(f"  {key:28s} {value:.6g}" if isinstance(value, float) else f"  {key:28s} {value}")
    finally:
        if not args.keep:
            for path in directory.iterdir():
                path.unlink()
            directory.rmdir()


if __name__ == "__main__":
    main()
