"""Report suites on one evaluation: the kernel, its thread scaling, predict_proba.

Each suite returns ``(markdown, data)``; the data feed the plots.
"""

import time

import numpy as np
from machine import read_seconds, roofline_seconds
from problems import KERNEL_SHAPES, evaluation_point, loss_callable, make_problem
from report_markdown import ROUNDS, best_time, seconds, settle, table
from threadpoolctl import threadpool_limits

import fastsoftmax
from fastsoftmax._threads import kernel_threads
from fastsoftmax.prediction import _write_scores

N_THREADS = 2
DTYPES = ("float64", "float32")


def _shapes(quick):
    """The target shapes, or a tenth of their rows for a quick run."""
    if not quick:
        return KERNEL_SHAPES
    return [(max(1000, n // 10), d, k) for n, d, k in KERNEL_SHAPES]


def _repeats(n, d, k):
    work = n * d * k
    return 10 if work < 10**9 else 5 if work < 10**10 else 3


def _their_repeats(repeats):
    """Timed calls of scikit-learn, slower per call: fewer, but at least three."""
    return max(3, repeats // 2)


def best_time_beside_read(function, X, repeats, rounds=ROUNDS):
    """Like ``best_time``, with a read of X timed before every call.

    The host's read bandwidth moves from run to run and within one: a
    bandwidth measured 15 times, 20 s apart, on an idle 2-core guest gave
    27.6 to 55.2 GB/s. A bound from the bandwidth at the start of a run can
    then be half or twice the bound at the moment of a timing. Reading X
    itself, in turns with the calls, gives a memory bound from the same
    seconds and the same bytes.

    Returns
    -------
    best, best_read : float
        Smallest times of ``function()`` and of a parallel read of X, in
        seconds, over ``rounds`` rounds of ``repeats`` calls (see ``ROUNDS``).
    result
        The last call's result.
    """
    read_seconds(X[:10])  # compiles the read for X's dtype
    best = best_read = float("inf")
    result = None
    for _ in range(rounds):
        settle()
        for _ in range(repeats):
            best_read = min(best_read, read_seconds(X, N_THREADS))
            start = time.perf_counter()
            result = function()
            best = min(best, time.perf_counter() - start)
    return best, best_read, result


def _problems(quick):
    """(shape, dtype, X, y) for every target, float32 made from float64."""
    for shape in _shapes(quick):
        X64, y = make_problem(*shape)
        for dtype in DTYPES:
            yield shape, dtype, X64.astype(dtype, copy=False), y
        del X64


def kernel_suite(machine, quick=False):
    """One loss+gradient evaluation against its roofline bound, both libraries."""
    rows, data = [], []
    for (n, d, k), dtype, X, y in _problems(quick):
        repeats = _repeats(n, d, k)
        bound = roofline_seconds(n, d, k, X.itemsize, machine)
        with threadpool_limits(limits=N_THREADS):
            ours = loss_callable("fastsoftmax", X, y, k, N_THREADS)
            theirs = loss_callable("sklearn", X, y, k, N_THREADS)
            ours()  # compiles, or loads the compiled kernels
            t_ours, t_read, loss_ours = best_time_beside_read(ours, X, repeats)
            # scikit-learn's first calls after ours run up to twice as slow
            # (its n x K arrays and BLAS threads start afresh): a warm-up call
            # and at least three timed ones.
            theirs()
            t_theirs, loss_theirs = best_time(theirs, _their_repeats(repeats), ROUNDS)
        bound_beside = roofline_seconds(n, d, k, X.itemsize, machine, read=t_read)
        rows.append([
            f"{n:,} x {d}, K={k}", dtype, seconds(bound),
            seconds(t_ours), f"{t_ours / bound:.2f}", "yes" if t_ours <= 1.5 * bound else "**no**",
            seconds(t_read), f"{t_ours / bound_beside:.2f}",
            seconds(t_theirs), f"{t_theirs / bound:.1f}", f"{t_theirs / t_ours:.1f}x",
            f"{loss_ours:.10f}", f"{float(loss_theirs):.10f}",
        ])
        data.append(dict(
            shape=(n, d, k), dtype=dtype, bound=bound, ours=t_ours, theirs=t_theirs,
            read=t_read, bound_beside=bound_beside,
        ))
    text = table(
        ["shape", "dtype", "bound", "fastsoftmax", "x bound", "within 1.5x",
         "read of X beside", "x bound beside", "scikit-learn",
         "x bound", "speed-up", "loss (fastsoftmax)", "loss (scikit-learn)"],
        rows,
    )
    return text, data


def threads_suite(machine, quick=False):
    """The kernel on 1 and on 2 threads."""
    rows = []
    for (n, d, k), dtype, X, y in _problems(quick):
        repeats = _repeats(n, d, k)
        evaluations = {threads: loss_callable("fastsoftmax", X, y, k, threads) for threads in (1, 2)}
        for evaluate in evaluations.values():
            evaluate()
        # The two take turns, so that both see the host in the same state
        # (its memory bandwidth moves within seconds; see best_time_beside_read),
        # in rounds as every timing of one evaluation (ROUNDS).
        times = {threads: float("inf") for threads in evaluations}
        for _ in range(ROUNDS):
            settle()
            for _ in range(repeats):
                for threads, evaluate in evaluations.items():
                    start = time.perf_counter()
                    evaluate()
                    times[threads] = min(times[threads], time.perf_counter() - start)
        speedup = times[1] / times[2]
        rows.append([
            f"{n:,} x {d}, K={k}", dtype, seconds(times[1]), seconds(times[2]),
            f"{speedup:.2f}x", "yes" if speedup >= 1.8 else "**no**",
        ])
    text = table(["shape", "dtype", "1 thread", "2 threads", "speed-up", ">= 1.8x"], rows)
    return text, None


def _fitted_looking(model, coef, intercept):
    model.coef_, model.intercept_ = coef, intercept
    model.classes_ = np.arange(coef.shape[0])
    model.n_features_in_ = coef.shape[1]
    return model


def predict_suite(machine, quick=False):
    """``predict_proba`` against its own bound: read X, write the n x K output,
    do 2*n*d*K flops."""
    from sklearn.linear_model import LogisticRegression

    rows, data = [], []
    for (n, d, k), dtype, X, _ in _problems(quick):
        repeats = _repeats(n, d, k)
        itemsize = X.itemsize
        bytes_moved = n * d * itemsize + n * k * itemsize
        gemm = machine[f"gemm_GFLOP_s_{dtype}"] * 1e9
        bound = max(bytes_moved / (machine["read_bandwidth_GB_s"] * 1e9), 2 * n * d * k / gemm)
        coef, intercept = evaluation_point(k, d)
        ours = _fitted_looking(fastsoftmax.SoftmaxRegression(n_threads=N_THREADS), coef, intercept)
        theirs = _fitted_looking(LogisticRegression(), coef, intercept)
        with threadpool_limits(limits=N_THREADS):
            ours.predict_proba(X[:1000])
            t_ours, t_read, p_ours = best_time_beside_read(lambda: ours.predict_proba(X), X, repeats)
            # The same work into an output written before: without the first
            # touch of fresh pages, whose cost depends on the host's memory state.
            written = np.ones_like(p_ours)
            with kernel_threads(N_THREADS):
                t_written, _ = best_time(
                    lambda: _write_scores(X, coef, intercept, written, proba=True), repeats, ROUNDS
                )
            theirs.predict_proba(X[:1000])
            t_theirs, p_theirs = best_time(
                lambda: theirs.predict_proba(X), _their_repeats(repeats), ROUNDS
            )
        difference = float(np.max(np.abs(p_ours - p_theirs)))
        del p_ours, p_theirs
        # The memory part from the reads of X beside the calls, scaled to X and the output.
        bound_beside = max(t_read * bytes_moved / X.nbytes, 2 * n * d * k / gemm)
        rows.append([
            f"{n:,} x {d}, K={k}", dtype, seconds(bound), seconds(t_ours),
            f"{t_ours / bound:.2f}", "yes" if t_ours <= 1.5 * bound else "**no**",
            f"{t_ours / bound_beside:.2f}",
            seconds(t_written), f"{t_written / bound:.2f}",
            seconds(t_theirs), f"{t_theirs / t_ours:.1f}x", f"{difference:.1e}",
        ])
        data.append(dict(
            shape=(n, d, k), dtype=dtype, bound=bound, ours=t_ours, written=t_written,
            theirs=t_theirs, read=t_read, bound_beside=bound_beside,
        ))
    text = table(
        ["shape", "dtype", "bound", "fastsoftmax", "x bound", "within 1.5x", "x bound beside",
         "into a written output", "x bound", "scikit-learn", "speed-up", "largest P difference"],
        rows,
    )
    return text, data
