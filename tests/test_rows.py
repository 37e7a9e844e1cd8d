"""The row helpers, called from a user's own @njit code as the docs show."""

import numpy as np
from numba import njit
from numpy.testing import assert_allclose

from fastsoftmax.kernels import (
    cross_entropy_row,
    log_softmax_row,
    row_argmax,
    row_logsumexp,
    softmax_cross_entropy_row,
    softmax_row,
)

from . import reference as ref


@njit
def user_softmax_and_losses(Z, y):
    """What a library author would write: rows of Z through the helpers."""
    P = np.empty_like(Z)
    L = np.empty_like(Z)
    losses = np.empty(Z.shape[0])
    fused = np.empty(Z.shape[0])
    lse = np.empty(Z.shape[0])
    labels = np.empty(Z.shape[0], dtype=np.int64)
    for i in range(Z.shape[0]):
        softmax_row(Z[i], P[i])
        log_softmax_row(Z[i], L[i])
        lse[i] = row_logsumexp(Z[i])
        losses[i] = cross_entropy_row(Z[i], y[i])
        scratch = Z[i].copy()
        fused[i] = softmax_cross_entropy_row(scratch, y[i], scratch)
        labels[i] = row_argmax(Z[i])
    return P, L, lse, losses, fused, labels


def test_row_helpers_from_user_njit_code(rng):
    Z = 4 * rng.standard_normal((25, 6))
    y = rng.integers(0, 6, 25)
    P, L, lse, losses, fused, labels = user_softmax_and_losses(Z, y)
    assert_allclose(P, ref.softmax(Z), rtol=1e-13)
    assert_allclose(L, ref.log_softmax(Z), rtol=1e-13)
    assert_allclose(lse, ref.logsumexp(Z), rtol=1e-13)
    row_losses = ref.logsumexp(Z) - Z[np.arange(25), y]
    assert_allclose(losses, row_losses, rtol=1e-12)
    assert_allclose(fused, row_losses, rtol=1e-12)
    np.testing.assert_array_equal(labels, np.argmax(Z, axis=1))


def test_row_helpers_are_callable_from_python():
    z = np.array([0.0, np.log(3.0)])
    out = np.empty(2)
    assert_allclose(softmax_row(z, out), np.log(4.0))
    assert_allclose(out, [0.25, 0.75])
