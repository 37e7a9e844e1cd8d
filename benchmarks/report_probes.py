"""Measurements that need a process of their own: peak memory and start-up.

Run by the report (``report_fit.py``) as ``python benchmarks/report_probes.py
<probe> ...``; each probe prints one line of JSON.

``memory``: loads X and y from an ``.npz`` file, resets the process's peak
resident memory (``/proc/self/clear_refs``), fits, and reports the peak
resident memory beyond what the process held after loading the data (the
imports and X itself), from ``VmHWM`` in ``/proc/self/status``.

``import``: imports numpy, scipy, numba and sklearn.base, then times
``import fastsoftmax`` alone.

``first-fit``: imports fastsoftmax, fits a small problem twice and reports
both times; the difference is what a first fit costs beyond the fit's own
work (loading or compiling the kernels). Run it with ``NUMBA_CACHE_DIR``
pointing at an empty directory to measure the cold compile.
"""

import argparse
import importlib
import json
import time
import warnings

from proc_status import reset_peak_resident, status_kib


def _model(impl, max_iter):
    if impl == "fastsoftmax":
        import fastsoftmax

        return fastsoftmax.SoftmaxRegression(C=1.0, tol=1e-4, max_iter=max_iter, n_threads=2)
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1.0, tol=1e-4, max_iter=max_iter)


def memory_probe(impl, data_path, max_iter):
    import numpy as np
    from threadpoolctl import threadpool_limits

    model = _model(impl, max_iter)
    with np.load(data_path) as data:
        X, y = data["X"], data["y"]
    # Compile (or load) the kernels on a slice first, so that compiling does
    # not count as memory of the fit.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _model(impl, 2).fit(X[:2000], y[:2000])
    reset_peak_resident()
    baseline = status_kib("VmRSS")
    start = time.perf_counter()
    with threadpool_limits(limits=2), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    elapsed = time.perf_counter() - start
    peak = status_kib("VmHWM")
    return dict(
        impl=impl, n_samples=X.shape[0], x_mib=X.nbytes / 2**20,
        baseline_mib=baseline / 1024, peak_beyond_mib=(peak - baseline) / 1024,
        seconds=elapsed, n_iter=int(model.n_iter_[0]),
    )


def import_probe():
    for dependency in ("numpy", "scipy", "numba", "sklearn.base"):
        importlib.import_module(dependency)
    start = time.perf_counter()
    importlib.import_module("fastsoftmax")
    return dict(seconds=time.perf_counter() - start)


def first_fit_probe(n_samples, n_features, n_classes, dtype):
    import numpy as np

    start = time.perf_counter()
    import fastsoftmax

    import_seconds = time.perf_counter() - start
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_samples, n_features)).astype(dtype)
    y = rng.integers(0, n_classes, n_samples)
    times = []
    for _ in range(2):
        start = time.perf_counter()
        model = fastsoftmax.SoftmaxRegression(max_iter=100).fit(X, y)
        model.predict_proba(X)
        times.append(time.perf_counter() - start)
    return dict(import_seconds=import_seconds, first=times[0], second=times[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="probe", required=True)
    memory = sub.add_parser("memory")
    memory.add_argument("impl", choices=["fastsoftmax", "sklearn"])
    memory.add_argument("data")
    memory.add_argument("--max-iter", type=int, default=10)
    sub.add_parser("import")
    first = sub.add_parser("first-fit")
    first.add_argument("--shape", default="20000x100x10")
    first.add_argument("--dtype", default="float64")
    args = parser.parse_args()
    if args.probe == "memory":
        result = memory_probe(args.impl, args.data, args.max_iter)
    elif args.probe == "import":
        result = import_probe()
    else:
        n, d, k = (int(v) for v in args.shape.split("x"))
        result = first_fit_probe(n, d, k, args.dtype)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
