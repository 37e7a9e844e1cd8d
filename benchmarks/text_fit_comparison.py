"""Fit fastsoftmax and scikit-learn on the text-like sparse problem; print both.

Each library fits in its own fresh process (so that peak memory, read from
``/proc/self/status`` VmHWM, belongs to one fit), one after the other, with
2 threads, C=1, tol=1e-4. scikit-learn needs hundreds of iterations here and
takes a quarter of an hour or more: run this in the background::

    nohup python benchmarks/text_fit_comparison.py > text_fit.log 2>&1 &

Options: ``--dtype float32``, ``--max-iter``, ``--only fastsoftmax|sklearn``.
"""

import argparse
import json
import subprocess
import sys
import time


def fit_once(library, dtype, max_iter):
    """Fit one library in this process and return its measurements."""
    import numpy as np
    from text_data import make_text_like
    from threadpoolctl import threadpool_limits

    import fastsoftmax

    X, y = make_text_like(dtype=np.dtype(dtype))
    baseline_kib = _peak_kib()  # data generation included
    if library == "fastsoftmax":
        # Compile (or load from the cache) outside the timed fit.
        fastsoftmax.SoftmaxRegression(max_iter=2).fit(X[:200], y[:200])
        model = fastsoftmax.SoftmaxRegression(C=1.0, tol=1e-4, max_iter=max_iter, n_threads=2)
    else:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=1.0, tol=1e-4, max_iter=max_iter)
    with threadpool_limits(limits=2):
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
    objective = fastsoftmax.loss_gradient(
        model.coef_, model.intercept_, X, y, l2_reg_strength=1.0 / X.shape[0]
    )[0]
    return dict(
        library=library, dtype=dtype, seconds=seconds, n_iter=int(np.max(model.n_iter_)),
        objective=objective, peak_mib=_peak_kib() / 1024, peak_before_fit_mib=baseline_kib / 1024,
    )


def _peak_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM"):
                return int(line.split()[1])
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    parser.add_argument("--max-iter", type=int, default=5000)
    parser.add_argument("--only", choices=["fastsoftmax", "sklearn"])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(fit_once(args.only, args.dtype, args.max_iter)))
        return
    for library in [args.only] if args.only else ["fastsoftmax", "sklearn"]:
        command = [sys.executable, __file__, "--child", "--only", library,
                   "--dtype", args.dtype, "--max-iter", str(args.max_iter)]
        result = json.loads(subprocess.run(command, capture_output=True, text=True,
                                           check=True).stdout.splitlines()[-1])
        print(f"{result['library']:12s} {result['dtype']}: {result['seconds']:8.1f} s, "
              f"{result['n_iter']} iterations, objective {result['objective']:.10f}, "
              f"peak memory {result['peak_mib']:.0f} MiB "
              f"({result['peak_before_fit_mib']:.0f} MiB before the fit)", flush=True)


if __name__ == "__main__":
    main()
