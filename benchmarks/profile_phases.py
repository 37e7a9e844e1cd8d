"""Where one dense loss+gradient evaluation spends its time, phase by phase.

Usage (from the repository root)::

    python benchmarks/profile_phases.py                  # every target shape
    python benchmarks/profile_phases.py --shapes 1000000x20x3 --threads 1

A phase of the fused kernel cannot be timed from inside it without
disturbing it, so the kernel is timed cumulatively, one phase more each time,
over the same row blocks and with the same buffers:

1. ``read X``: a parallel sum over X, the memory floor of any pass;
2. ``scores``: the score products of every row block and nothing else (register
   tiles, or GEMM calls where ``KernelLayout`` chooses them);
3. ``+ softmax, loss``: the loss-only kernel the line searches use;
4. ``+ gradient``: the full loss+gradient kernel (``DenseObjective``).

Differences between consecutive lines are the cost a phase adds on top of
the ones before it. When ``scores`` takes as long as ``read X``, the score
phase runs at the memory's speed and whatever follows it in a row block adds
its full compute time: the phases of one thread run one after the other.

Two columns take memory out of the picture. ``X in cache`` is the full
kernel again on an array of the same shape whose pages all map one 256 KiB
piece of physical memory (:mod:`aliased_memory`, Linux only): the same code,
addresses and row blocks, with every read a cache hit. Its gap to ``+
gradient`` is what reading X costs beyond the arithmetic. The last column
runs the score products of one row block again and again on one thread, with the
block in cache: their arithmetic rate with no memory traffic, as a fraction
of the GEMM rate per thread. Useful flops only (``2*rows*d*K``): classes
padded to a whole vector count as waste.
"""

import argparse

import numba
import numpy as np
from aliased_memory import aliased_array
from machine import _best_time, _parallel_sum, measure_machine, roofline_seconds
from numba import njit, prange
from problems import KERNEL_SHAPES, evaluation_point, make_problem
from threadpoolctl import threadpool_limits

from fastsoftmax.kernels._config import JIT_OPTIONS, N_ROW_RANGES
from fastsoftmax.kernels._partition import range_bounds
from fastsoftmax.kernels.dense import dense_block_scores, score_buffer_rows
from fastsoftmax.objective import DenseObjective


@njit(parallel=True, **JIT_OPTIONS)
def _scores_only(X, Wt, n_classes, row_block, products):
    """The score phase of the dense kernels alone: same ranges, blocks, products."""
    n_samples = X.shape[0]
    checksum = np.zeros(N_ROW_RANGES)
    for r in prange(N_ROW_RANGES):
        start, stop = range_bounds(n_samples, N_ROW_RANGES, r)
        St = np.empty((score_buffer_rows(Wt, n_classes, products), row_block), dtype=X.dtype)
        for b0 in range(start, stop, row_block):
            n_rows = min(row_block, stop - b0)
            dense_block_scores(X, b0, n_rows, Wt, St, n_classes, products)
            # Read one score so the work cannot be dropped as unused.
            checksum[r] += St[0, 0]
    return checksum


@njit(**JIT_OPTIONS)
def _scores_in_cache(X, Wt, St, n_classes, repeats, products):
    """The score products of one block of rows, ``repeats`` times, on one thread."""
    for _ in range(repeats):
        dense_block_scores(X, 0, X.shape[0], Wt, St, n_classes, products)
    return St[0, 0]


def in_cache_score_rate(d, K, dtype, layout):
    """Useful flops per second of the score products (register tiles or GEMM,
    as ``layout`` chooses) on one cache-resident block, BLAS on one thread."""
    rng = np.random.default_rng(0)
    row_block, products = layout.row_block, layout.products
    X = rng.standard_normal((row_block, d)).astype(dtype)
    Wt = layout.coef_array(rng.standard_normal((K, d)), dtype)
    St = np.zeros((score_buffer_rows(Wt, K, products), row_block), dtype=dtype)
    flops = 2.0 * row_block * d * K
    repeats = max(1, int(2e9 / flops))
    with threadpool_limits(1, user_api="blas"):
        _scores_in_cache(X, Wt, St, K, 1, products)
        return flops * repeats / _best_time(
            lambda: _scores_in_cache(X, Wt, St, K, repeats, products), 5
        )


def profile_shape(n, d, K, dtype, machine, repeats=5):
    """Cumulative phase times of one evaluation, in seconds.

    Returns
    -------
    dict
        ``bound``, ``read``, ``scores``, ``loss``, ``loss_gradient`` and
        ``in_cache`` (NaN where no aliased array can be built), and the
        score products' ``in_cache_rate`` in flops per second.
    """
    X64, y = make_problem(n, d, K)
    X = X64.astype(dtype, copy=False)
    del X64
    objective = DenseObjective(X, y, None, K, True)
    coef, intercept = evaluation_point(K, d)
    w = objective.pack(coef, intercept)
    grad = np.empty(objective.n_params)
    _, Wt, _ = objective._kernel_params(w)
    row_block, products = objective.layout.row_block, objective.layout.products
    phases = {
        # X is C-contiguous: one flat parallel sum reads exactly its bytes.
        "read": lambda: _parallel_sum(X.reshape(-1)),
        "scores": lambda: _scores_only(X, Wt, K, row_block, products),
        "loss": lambda: objective.loss(w),
        "loss_gradient": lambda: objective.loss_gradient(w, grad),
    }
    # Same shape, labels and parameters; standard normal values like X's.
    X_cached = aliased_array(n, d, dtype)
    if X_cached is not None:
        cached = DenseObjective(X_cached, y, None, K, True)
        phases["in_cache"] = lambda: cached.loss_gradient(w, grad)
    times = {"bound": roofline_seconds(n, d, K, X.itemsize, machine), "in_cache": float("nan")}
    # BLAS on one thread, as inside kernel_threads (the GEMM path calls it
    # from every Numba thread).
    with threadpool_limits(1, user_api="blas"):
        for name, function in phases.items():
            function()  # compile and touch outside the timing
            times[name] = _best_time(function, repeats)
    times["in_cache_rate"] = in_cache_score_rate(d, K, dtype, objective.layout)
    return times


def _parse_shape(text):
    n, d, K = (int(part) for part in text.lower().split("x"))
    return n, d, K


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default=None,
                        help="comma-separated NxDxK (default: the target shapes)")
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    shapes = ([_parse_shape(s) for s in args.shapes.split(",")] if args.shapes
              else KERNEL_SHAPES)
    machine = measure_machine(n_threads=args.threads)
    numba.set_num_threads(args.threads)
    print(f"{args.threads} thread(s); read bandwidth {machine['read_bandwidth_GB_s']:.1f} GB/s, "
          f"GEMM {machine['gemm_GFLOP_s_float64']:.0f} / {machine['gemm_GFLOP_s_float32']:.0f} "
          "GFLOP/s (float64 / float32)\n")
    print("| shape | dtype | bound | read X | scores | + softmax, loss | + gradient "
          "| x bound | X in cache | x bound | score products in cache, 1 thread |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n, d, K in shapes:
        for dtype in args.dtypes.split(","):
            t = profile_shape(n, d, K, dtype, machine)
            cells = [f"{t[key] * 1e3:.1f} ms"
                     for key in ("bound", "read", "scores", "loss", "loss_gradient")]
            per_thread = machine[f"gemm_GFLOP_s_{dtype}"] * 1e9 / args.threads
            rate = t["in_cache_rate"]
            print(f"| {n:,} x {d}, K={K} | {dtype} | " + " | ".join(cells)
                  + f" | {t['loss_gradient'] / t['bound']:.2f} "
                  f"| {t['in_cache'] * 1e3:.1f} ms | {t['in_cache'] / t['bound']:.2f} "
                  f"| {rate / 1e9:.0f} GFLOP/s, {rate / per_thread:.0%} of GEMM |", flush=True)


if __name__ == "__main__":
    main()
