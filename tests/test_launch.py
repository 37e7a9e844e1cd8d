"""Parallel loops over the row ranges that call kernels by address (kernels/_launch.py)."""

import numpy as np
import pytest
from numba import njit
from numpy.testing import assert_array_equal

from fastsoftmax._threads import kernel_threads
from fastsoftmax.kernels._config import N_ROW_RANGES
from fastsoftmax.kernels._launch import _each_range, each_range


@njit
def _count_range(r, counts):
    counts[r] += r + 1


@njit
def _scaled_range(r, values, scale, offset, add_offset, out):
    out[r] = values[r] * scale + (offset if add_offset else 0)


@njit
def _other_count_range(r, counts):
    counts[r] -= 1


@njit
def _returning_range(r, counts):
    return counts[r]


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_every_range_runs_once_with_its_index(n_threads, dtype):
    counts = np.zeros(N_ROW_RANGES, dtype=dtype)
    with kernel_threads(n_threads):
        each_range(_count_range, counts)
    assert_array_equal(counts, np.arange(1, N_ROW_RANGES + 1))


def test_arguments_reach_the_kernel_as_they_are():
    values = np.linspace(-1.0, 1.0, N_ROW_RANGES).astype(np.float32)
    out = np.full(N_ROW_RANGES, np.nan)
    each_range(_scaled_range, values, 3, 0.25, True, out)
    assert_array_equal(out, values.astype(np.float64) * 3 + 0.25)
    each_range(_scaled_range, values, 3, 0.25, False, out)
    assert_array_equal(out, values.astype(np.float64) * 3)


def test_kernels_with_the_same_argument_types_share_one_parallel_loop():
    counts = np.zeros(N_ROW_RANGES)
    each_range(_count_range, counts)
    n_loops = len(_each_range.signatures)
    each_range(_other_count_range, counts)
    assert len(_each_range.signatures) == n_loops
    assert_array_equal(counts, np.arange(N_ROW_RANGES))


def test_a_kernel_that_returns_a_value_is_refused_by_name():
    with pytest.raises(TypeError, match="_returning_range returns float64"):
        each_range(_returning_range, np.zeros(N_ROW_RANGES))
