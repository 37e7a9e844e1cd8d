"""The aliased array of the phase profile: the layout it promises, and the
kernel giving the same loss and gradient on it as on a real copy."""

import numpy as np
import pytest
from aliased_memory import aliased_array

from fastsoftmax import loss_gradient


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_chunk_repeats_the_first_and_the_kernel_agrees_with_a_copy(dtype):
    chunk_bytes = 16 * 4096
    n, d, K = 3000, 20, 3  # 480,000 or 240,000 bytes: several chunks
    X = aliased_array(n, d, dtype, chunk_bytes=chunk_bytes)
    if X is None:
        pytest.skip("no memfd_create / MAP_FIXED on this system")
    assert X.shape == (n, d) and X.dtype == dtype and X.flags.c_contiguous
    flat = X.reshape(-1)
    per_chunk = chunk_bytes // np.dtype(dtype).itemsize
    assert np.array_equal(flat[per_chunk : 2 * per_chunk], flat[:per_chunk])
    assert np.array_equal(flat[-100:], flat[flat.size - 100 - per_chunk : flat.size - per_chunk])
    assert 0.5 < flat[:per_chunk].std() < 1.5  # standard normal values, not zeros

    rng = np.random.default_rng(0)
    y = rng.integers(0, K, n)
    coef = rng.normal(0.0, 0.3, (K, d)).astype(dtype)
    intercept = np.zeros(K, dtype)
    loss_a, grad_a, icpt_a = loss_gradient(coef, intercept, X, y)
    loss_c, grad_c, icpt_c = loss_gradient(coef, intercept, np.array(X), y)
    assert loss_a == loss_c
    assert np.array_equal(grad_a, grad_c) and np.array_equal(icpt_a, icpt_c)
