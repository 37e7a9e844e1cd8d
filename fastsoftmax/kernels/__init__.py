"""Numba kernels. Nothing here knows about estimators, scipy or validation.

The row helpers in :mod:`fastsoftmax.kernels.rows` are public and may be
called from a user's own ``numba.njit`` code.
"""

from ._cache_location import drop_stale_cache, ensure_cache_location

ensure_cache_location()  # before the first kernel is compiled with cache=True
drop_stale_cache()  # before the first kernel is loaded from the cache

from .rows import (
    cross_entropy_row,
    log_softmax_row,
    row_argmax,
    row_logsumexp,
    row_max,
    softmax_cross_entropy_row,
    softmax_row,
    target_cross_entropy_row,
)

__all__ = [
    "cross_entropy_row",
    "log_softmax_row",
    "row_argmax",
    "row_logsumexp",
    "row_max",
    "softmax_cross_entropy_row",
    "softmax_row",
    "target_cross_entropy_row",
]
