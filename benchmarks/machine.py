"""Measure the two rates that bound one dense loss+gradient evaluation.

One evaluation on dense X (n x d, K classes) must read X once,
``n * d * itemsize`` bytes, and do about ``4 * n * d * K`` flops (the scores
``X @ W.T`` and the gradient ``G.T @ X``, two flops per multiply-add). Its
roofline bound on this machine is therefore::

    max(n * d * itemsize / read_bandwidth, 4 * n * d * K / gemm_rate)

Both rates are measured here, with the same number of threads the benchmarks
use, rather than taken from a data sheet: on a shared machine the data sheet
is not what a kernel gets.

Run ``python benchmarks/machine.py`` to print the measurement.
"""

import time

import numba
import numpy as np
from numba import njit, prange
from threadpoolctl import threadpool_limits

# The shape the benchmark suite and the example report a roofline for.
REFERENCE_SHAPE = (1_000_000, 100, 10)


# Reassociation lets LLVM vectorise the sum, so the loop is limited by memory
# rather than by the latency of one scalar add chain. No nnan/ninf, as in the
# package kernels.
@njit(parallel=True, fastmath={"reassoc", "contract"})
def _parallel_sum(values):
    total = 0.0
    for i in prange(values.shape[0]):
        total += values[i]
    return total


def _best_time(function, repeats):
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def read_seconds(values, n_threads=2):
    """Seconds of one parallel read (a sum) of the C-contiguous array ``values``,
    on ``n_threads`` Numba threads: the memory floor of any pass over it."""
    flat = values.reshape(-1)
    previous = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        start = time.perf_counter()
        _parallel_sum(flat)
        return time.perf_counter() - start
    finally:
        numba.set_num_threads(previous)


def read_bandwidth(n_bytes=1_600_000_000, n_threads=2, repeats=5):
    """Read bandwidth in GB/s: a parallel sum over a float64 array, best of ``repeats``.

    Parameters
    ----------
    n_bytes : int, default=1_600_000_000
        Size of the array; far larger than any cache.
    n_threads : int, default=2
        Numba threads for the sum.
    repeats : int, default=5

    Returns
    -------
    float
        Bytes read per second of the fastest repeat, in GB/s (1e9 bytes).
    """
    # np.full writes every page, so page faults stay out of the timed reads.
    values = np.full(n_bytes // 8, 1.0)
    read_seconds(values[:1000], n_threads)  # compile outside the timed reads
    seconds = min(read_seconds(values, n_threads) for _ in range(repeats))
    return values.nbytes / seconds / 1e9


def gemm_rate(dtype, size=4000, n_threads=2, repeats=3):
    """Matrix-multiply rate in GFLOP/s: ``A @ B`` of two square matrices, best of ``repeats``.

    Parameters
    ----------
    dtype : {numpy.float64, numpy.float32}
    size : int, default=4000
        Side of the square matrices.
    n_threads : int, default=2
        BLAS threads.
    repeats : int, default=3

    Returns
    -------
    float
        ``2 * size**3`` flops over the fastest repeat, in GFLOP/s.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size)).astype(dtype)
    b = rng.standard_normal((size, size)).astype(dtype)
    with threadpool_limits(limits=n_threads, user_api="blas"):
        seconds = _best_time(lambda: a @ b, repeats)
    return 2 * size**3 / seconds / 1e9


def roofline_seconds(n_samples, n_features, n_classes, itemsize, machine, read=None):
    """Lower bound on the time of one loss+gradient evaluation.

    Parameters
    ----------
    n_samples, n_features, n_classes : int
    itemsize : int
        Bytes per element of X: 8 for float64, 4 for float32.
    machine : dict
        As returned by :func:`measure_machine`.
    read : float, optional
        Seconds of a read of X measured beside the evaluation
        (:func:`read_seconds`), to use as the memory part in place of
        ``bytes / bandwidth``.

    Returns
    -------
    float
        ``max(bytes / bandwidth, flops / gemm_rate)`` in seconds, with the
        GEMM rate of X's dtype.
    """
    dtype_name = {8: "float64", 4: "float32"}[itemsize]
    bytes_read = n_samples * n_features * itemsize
    flops = 4 * n_samples * n_features * n_classes
    memory = bytes_read / (machine["read_bandwidth_GB_s"] * 1e9) if read is None else read
    return max(memory, flops / (machine[f"gemm_GFLOP_s_{dtype_name}"] * 1e9))


#: Rounds of the three rate measurements in :func:`measure_machine`, a
#: second apart, keeping each rate's best. The host runs in slow states of
#: seconds to minutes (docs/performance.md, "Rounds"), and a rate measured
#: once can fall in one: in one report run the float32 GEMM measured 110
#: GFLOP/s, against 199 to 212 in the runs around it, which made every
#: float32 bound of that run twice too loose (kernel ratios of 0.63 to
#: 0.99). A slow round lowers a rate; the best of rounds spread over half a
#: minute rarely is one.
MACHINE_ROUNDS = 3


def measure_machine(n_threads=2, rounds=MACHINE_ROUNDS, pause=1.0):
    """Measure read bandwidth and GEMM rates, and the reference roofline.

    Each round measures the three rates in turn; each rate is the best of
    its rounds. Takes about 30 seconds and 1.6 GB of memory (more on a
    loaded machine).

    Parameters
    ----------
    n_threads : int, default=2
        Threads for every measurement, as in the benchmarks.
    rounds : int, default=MACHINE_ROUNDS
    pause : float, default=1.0
        Seconds of sleep between rounds.

    Returns
    -------
    dict
        ``n_threads``; ``read_bandwidth_GB_s``; ``gemm_GFLOP_s_float64`` and
        ``gemm_GFLOP_s_float32``; ``roofline_s_float64`` and
        ``roofline_s_float32``, the bound for one loss+gradient evaluation at
        :data:`REFERENCE_SHAPE` (1,000,000 x 100, K=10).
    """
    measures = {
        "read_bandwidth_GB_s": lambda: read_bandwidth(n_threads=n_threads),
        "gemm_GFLOP_s_float64": lambda: gemm_rate(np.float64, n_threads=n_threads),
        "gemm_GFLOP_s_float32": lambda: gemm_rate(np.float32, n_threads=n_threads),
    }
    machine = {"n_threads": n_threads, **{name: 0.0 for name in measures}}
    for round_index in range(rounds):
        if round_index:
            time.sleep(pause)
        for name, measure in measures.items():
            machine[name] = max(machine[name], measure())
    for dtype in (np.float64, np.float32):
        itemsize = np.dtype(dtype).itemsize
        machine[f"roofline_s_{np.dtype(dtype).name}"] = roofline_seconds(
            *REFERENCE_SHAPE, itemsize, machine
        )
    return machine


if __name__ == "__main__":
    n, d, k = REFERENCE_SHAPE
    print(f"roofline of one loss+gradient at {n:,} x {d}, K={k}:")
    for key, value in measure_machine().items():
        print(f"  {key:22s} {value:.4g}")
