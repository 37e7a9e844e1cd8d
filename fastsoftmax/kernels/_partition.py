"""The fixed partition of rows into ranges used by every reduction over rows."""

from numba import njit

from ._config import JIT_OPTIONS


@njit(cache=True, **JIT_OPTIONS)
def range_bounds(n_samples, n_ranges, r):
    """First and one-past-last row of range ``r`` when ``n_samples`` rows are
    split into ``n_ranges`` contiguous ranges of near-equal size.

    The partition depends on ``n_samples`` only, never on the thread count,
    which is what makes reductions bit-identical across thread counts.
    """
    return (r * n_samples) // n_ranges, ((r + 1) * n_samples) // n_ranges
