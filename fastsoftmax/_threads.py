"""Thread control for kernel calls.

The kernels parallelise with Numba's ``prange`` and call BLAS inside it, so a
kernel call needs two settings at once: Numba's thread count, and BLAS held to
one thread (otherwise each Numba thread would start its own BLAS threads and
the cores would be oversubscribed). :func:`kernel_threads` applies both and
restores the previous values on exit, even on error.
"""

import numbers
from contextlib import contextmanager

import numba
from threadpoolctl import threadpool_limits


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


@contextmanager
def kernel_threads(n_threads=None):
    """Run the enclosed kernel calls on ``n_threads`` Numba threads, BLAS on one.

    Parameters
    ----------
    n_threads : int or None
        See :func:`resolve_n_threads`.
    """
    resolved = resolve_n_threads(n_threads)
    previous = numba.get_num_threads()
    numba.set_num_threads(resolved)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield resolved
    finally:
        numba.set_num_threads(previous)

