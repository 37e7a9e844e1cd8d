"""Thread control for kernel calls.

The kernels parallelise with Numba's ``prange`` and call BLAS inside it, so a
kernel call needs two settings at once: Numba's thread count, and BLAS held to
one thread (otherwise each Numba thread would start its own BLAS threads and
the cores would be oversubscribed). :func:`kernel_threads` applies both and
restores the previous values on exit, even on error.

Numba's thread count is a per-thread setting, but the BLAS limit is
process-wide. Several Python threads may run kernels at once (the kernels
release the GIL), so the BLAS limit is reference-counted under a lock: the
first thread to enter sets it, the last to leave restores it, and no thread
ever runs a kernel with BLAS unrestricted in between.
"""

import numbers
import threading
from contextlib import contextmanager

import numba
from threadpoolctl import ThreadpoolController

_lock = threading.Lock()
_active_users = 0
_blas_limit = None  # the threadpoolctl limiter while _active_users > 0
_controller = None  # built once: scanning the loaded libraries is slow


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


def _enter_single_threaded_blas():
    global _active_users, _blas_limit, _controller
    with _lock:
        if _active_users == 0:
            if _controller is None:
                # Importing scipy.linalg loads the BLAS that Numba calls, so
                # the controller sees it.
                import scipy.linalg  # noqa: F401

                _controller = ThreadpoolController()
            _blas_limit = _controller.limit(limits=1, user_api="blas")
        _active_users += 1


def _leave_single_threaded_blas():
    global _active_users, _blas_limit
    with _lock:
        _active_users -= 1
        if _active_users == 0:
            _blas_limit.restore_original_limits()
            _blas_limit = None


@contextmanager
def kernel_threads(n_threads=None):
    """Run the enclosed kernel calls on ``n_threads`` Numba threads, BLAS on one.

    Safe to use from several Python threads at once.

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
    previous = numba.get_num_threads()
    numba.set_num_threads(resolved)
    _enter_single_threaded_blas()
    try:
        yield resolved
    finally:
        _leave_single_threaded_blas()
        numba.set_num_threads(previous)
