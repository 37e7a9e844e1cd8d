"""Thread control for kernel calls.

The kernels parallelise with Numba's ``prange``. :func:`kernel_threads` sets
Numba's thread count for the calls it encloses (a per-thread setting, so
Python threads running kernels at once do not disturb each other) and
restores the previous value on exit, even on error. The kernels call no BLAS,
so no BLAS thread limit is needed around them.

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

# Held around kernel calls when the threading layer is workqueue. Re-entrant
# because kernel_threads blocks nest (a fit calling a prediction helper).
_launch_lock = threading.RLock()
_needs_launch_lock = None  # cached answer of _must_serialise_launches()


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


@contextmanager
def kernel_threads(n_threads=None):
    """Run the enclosed kernel calls on ``n_threads`` Numba threads.

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
            yield resolved
        finally:
            numba.set_num_threads(previous)
