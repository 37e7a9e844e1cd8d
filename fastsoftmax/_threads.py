"""Thread control for kernel calls.

The kernels parallelise with Numba's ``prange``. A block of kernel calls (a
whole fit, say) needs two settings at once: Numba's thread count, and BLAS
held to one thread. The dense kernels call BLAS themselves on their GEMM path
(many classes: ``kernels/blas_blocks.py``), once per block from every Numba
thread, where a multi-threaded BLAS would oversubscribe the cores. With
register tiles they call none, but the code between their calls does
(scipy's L-BFGS-B, a few vector operations of the solvers), and a
multi-threaded OpenBLAS leaves its worker threads spinning after each call, taking the cores the kernels' threads need next: a fit at 1,000,000 x
100 with 10 classes took 1.40 s against 0.91 s with BLAS on one thread, each
evaluation 85-110 ms instead of 53 ms. :func:`kernel_threads` applies both
settings and restores the previous values on exit, even on error.

Numba's thread count is a per-thread setting, but the BLAS limit is
process-wide. Several Python threads may run kernels at once (the kernels
release the GIL), so the BLAS limit is reference-counted under a lock: the
first thread to enter sets it, the last to leave restores it, and no thread
ever runs a kernel with BLAS unrestricted in between.

threadpoolctl and the process-wide OpenBLAS pool
------------------------------------------------
For an OpenBLAS whose pool is process-wide (the "pthreads" build that the
NumPy and SciPy wheels ship), threadpoolctl 3.8 lets only one
Python thread change the limit: the first thread that sets one becomes the
"controlling thread", and ``set_num_threads`` from any other thread is
silently ignored until the controlling thread leaves a
``with threadpool_limits(...)`` block. The reference count above sets the
limit in one thread and may restore it in another, outside any ``with``
block, so control would never be released. Measured before this was handled:
after one fit in the main thread, a fit in a worker thread ran with BLAS on
all cores (the limit was ignored); and when the first fit
ran in a worker thread and another thread left last, the restore was ignored
and BLAS stayed on one thread for the rest of the process. So
:func:`_with_blas_control` force-clears the controlling thread around each
set and restore; both happen under ``_lock``, so they never race each other.
OpenBLAS's setting itself is global (a limit set from any thread applies to
the whole process), which is what a block of kernel calls needs.

Numba's workqueue threading layer
---------------------------------
Numba picks its threading layer at the first parallel launch: TBB if the
``tbb`` package is installed, else OpenMP, else "workqueue" (or whichever
``NUMBA_THREADING_LAYER`` names). The workqueue layer is not thread-safe:
when two Python threads launch parallel code at the same time it prints
"Numba workqueue threading layer is terminating: Concurrent access has been
detected" and aborts the whole process (SIGABRT); four threads fitting at
once do that within a few rounds (tests/test_threading_layers.py shows it).
So when the active layer is workqueue, :func:`kernel_threads` and
:func:`parallel_launch_guard` hold a process-wide re-entrant lock for their
whole block: kernel calls from different Python threads then run one after
the other (each still on all its Numba threads), and nested use in one thread
does not deadlock. Under OpenMP and TBB no lock is taken.

Rules that follow: every call of a ``parallel=True`` function must be inside
:func:`kernel_threads` or :func:`parallel_launch_guard` (the latter for calls
that keep the caller's thread count, such as the backend's softmax); and a
block holding the guard must not wait for another Python thread that itself
runs kernels (under workqueue it would wait forever), so code that hands
kernel work to a thread pool takes the guard per kernel call in the pool, not
around the wait.
"""

import numbers
import threading
from contextlib import contextmanager

import numba
import threadpoolctl
from threadpoolctl import ThreadpoolController

_lock = threading.Lock()
_active_users = 0
_blas_limit = None  # the threadpoolctl limiter while _active_users > 0
_controller = None  # built once: scanning the loaded libraries is slow

# Held around kernel calls when the threading layer is workqueue. Re-entrant
# because kernel_threads blocks nest (a fit calling a prediction helper).
_launch_lock = threading.RLock()
_needs_launch_lock = None  # cached answer of _must_serialise_launches()


#: With ``n_threads=None``, a problem with less work than this per pass over
#: the data (multiply-adds: rows x features x classes, or stored entries x
#: classes) runs on one thread. Measured on two cores: at 30,000 one and two
#: threads take the same 38 us, at 120,000 62 against 50 us; and when other
#: processes keep the cores busy, the idle worker of a second thread spins
#: against them (a 5,000-row fit took 10 s instead of 0.3 s). Results are the
#: same bits for any thread count, so the choice changes only the time.
SMALL_PROBLEM_WORK = 200_000


def problem_work(X, n_classes):
    """Multiply-adds of one pass of the scores over X: n x d x K dense, nnz x K CSR.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
    n_classes : int

    Returns
    -------
    int
    """
    stored = X.nnz if hasattr(X, "nnz") else X.shape[0] * X.shape[1]
    return int(stored) * int(n_classes)


def default_threads(n_threads, work):
    """``n_threads``, or 1 when it is None and ``work`` is below ``SMALL_PROBLEM_WORK``.

    Parameters
    ----------
    n_threads : int or None
        What the user asked for; None lets the library choose.
    work : int or None
        :func:`problem_work` of the problem, if known.

    Returns
    -------
    int or None
        For :func:`kernel_threads`.
    """
    if n_threads is None and work is not None and work < SMALL_PROBLEM_WORK:
        return 1
    return n_threads


def resolve_n_threads(n_threads):
    """Number of Numba threads for a requested ``n_threads``.

    ``None`` means every thread Numba may use (all cores by default); a
    negative value counts back from that, as in joblib (-1 is all, -2 all but
    one); values above the maximum are clipped to it.

    Parameters
    ----------
    n_threads : int or None

    Returns
    -------
    int
    """
    maximum = numba.config.NUMBA_NUM_THREADS
    if n_threads is None:
        return maximum
    if isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral):
        raise TypeError(
            f"n_threads must be an int or None, got {type(n_threads).__name__}."
        )
    n_threads = int(n_threads)
    if n_threads == 0:
        raise ValueError("n_threads=0 is not allowed; use None for all cores or an int >= 1.")
    if n_threads < 0:
        n_threads = max(1, maximum + 1 + n_threads)
    return min(n_threads, maximum)


def _must_serialise_launches():
    """Whether parallel launches from different Python threads must take turns.

    True when Numba's active threading layer is workqueue. The answer is
    computed once and cached: the layer cannot change after it is loaded.

    Returns
    -------
    bool
    """
    global _needs_launch_lock
    if _needs_launch_lock is None:
        # numba.threading_layer() raises ValueError until the layer is
        # loaded; get_num_threads() loads it (the same step a first parallel
        # launch takes, without compiling anything) and raises a clear error
        # if the requested layer cannot be loaded.
        numba.get_num_threads()
        try:
            layer = numba.threading_layer()
        except ValueError:
            # Cannot tell: serialise, which is always safe, and ask again.
            return True
        _needs_launch_lock = layer == "workqueue"
    return _needs_launch_lock


@contextmanager
def parallel_launch_guard():
    """Make the enclosed parallel kernel calls safe under every threading layer.

    Under Numba's workqueue layer (not thread-safe) this holds a process-wide
    re-entrant lock, so enclosed kernel calls from different Python threads
    run one after the other; under OpenMP or TBB it does nothing.
    :func:`kernel_threads` includes it; use this directly around a parallel
    kernel that runs without :func:`kernel_threads`.

    Yields
    ------
    None
    """
    if _must_serialise_launches():
        with _launch_lock:
            yield
    else:
        yield


def _with_blas_control(action):
    """Run ``action()`` so that the BLAS limits it sets are really applied.

    threadpoolctl ignores OpenBLAS (pthreads) limits set by any thread other
    than its "controlling thread" (see the module docstring); clearing it
    before makes this thread the controller for ``action``, and clearing it
    after leaves no stale controller that would block the next set or restore,
    which may come from another thread. Call with ``_lock`` held.
    """
    # Absent in threadpoolctl versions without the controlling thread.
    openblas = getattr(threadpoolctl, "OpenBLASController", None)
    clear = getattr(openblas, "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)
    try:
        return action()
    finally:
        if clear is not None:
            clear(force=True)


def _enter_single_threaded_blas():
    global _active_users, _blas_limit, _controller
    with _lock:
        if _active_users == 0:
            if _controller is None:
                # Importing scipy.linalg loads the BLAS that Numba calls, so
                # the controller sees it.
                import scipy.linalg  # noqa: F401

                _controller = ThreadpoolController()
            _blas_limit = _with_blas_control(
                lambda: _controller.limit(limits=1, user_api="blas")
            )
        _active_users += 1


def _leave_single_threaded_blas():
    global _active_users, _blas_limit
    with _lock:
        _active_users -= 1
        if _active_users == 0:
            _with_blas_control(_blas_limit.restore_original_limits)
            _blas_limit = None


@contextmanager
def kernel_threads(n_threads=None):
    """Run the enclosed kernel calls on ``n_threads`` Numba threads, BLAS on one.

    Safe to use from several Python threads at once, under every Numba
    threading layer; under workqueue the blocks of different Python threads
    take turns (see :func:`parallel_launch_guard`).

    Parameters
    ----------
    n_threads : int or None
        See :func:`resolve_n_threads`.

    Yields
    ------
    int
        The number of Numba threads in use.
    """
    resolved = resolve_n_threads(n_threads)
    with parallel_launch_guard():
        previous = numba.get_num_threads()
        numba.set_num_threads(resolved)
        try:
            # Inside the outer try: if setting the BLAS limit fails, Numba's
            # thread count is still restored.
            _enter_single_threaded_blas()
            try:
                yield resolved
            finally:
                _leave_single_threaded_blas()
        finally:
            numba.set_num_threads(previous)
