"""Fit fastsoftmax and scikit-learn on the text-like sparse problem; print both.

Each library fits in its own fresh process, one after the other, with 2
threads, C=1, tol=1e-4. Peak memory is the fit's own: the process's peak
resident size (``VmHWM``) is reset once the data are generated, and the
report gives the peak beyond the resident size at that moment. scikit-learn needs hundreds of iterations here and
takes a quarter of an hour or more: run this in the background::

    nohup python benchmarks/text_fit_comparison.py > text_fit.log 2>&1 &

Options: ``--dtype float32``, ``--max-iter``, ``--only fastsoftmax|sklearn``.
"""

import argparse
import json
import subprocess
import sys
import time

from proc_status import reset_peak_resident, status_kib


def fit_once(library, dtype, max_iter):
    """Fit one library in this process and return its measurements."""
    import numpy as np
    from text_data import make_text_like
    from threadpoolctl import threadpool_limits

    import fastsoftmax

    X, y = make_text_like(dtype=np.dtype(dtype))
    if library == "fastsoftmax":
        # Compile (or load from the cache) outside the timed fit.
        fastsoftmax.SoftmaxRegression(max_iter=2).fit(X[:200], y[:200])
        model = fastsoftmax.SoftmaxRegression(C=1.0, tol=1e-4, max_iter=max_iter, n_threads=2)
    else:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=1.0, tol=1e-4, max_iter=max_iter)
    reset_peak_resident()  # VmHWM := current resident size
    baseline_kib = status_kib("VmRSS")
    with threadpool_limits(limits=2):
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
    objective = fastsoftmax.loss_gradient(
        model.coef_, model.intercept_, X, y, l2_reg_strength=1.0 / X.shape[0]
    )[0]
    return dict(
        library=library, dtype=dtype, seconds=seconds, n_iter=int(np.max(model.n_iter_)),
        objective=objective, peak_beyond_mib=(status_kib("VmHWM") - baseline_kib) / 1024,
        resident_before_fit_mib=baseline_kib / 1024,
    )


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
              f"peak memory of the fit {result['peak_beyond_mib']:.0f} MiB "
              f"({result['resident_before_fit_mib']:.0f} MiB resident before it)", flush=True)


if __name__ == "__main__":
    main()
