"""Property-based checks of the backend's invariants on random inputs."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.testing import assert_allclose

import fastsoftmax as fs

from . import reference as ref

scores = st.integers(1, 12).flatmap(
    lambda n: st.integers(1, 9).flatmap(
        lambda k: arrays(
            np.float64, (n, k), elements=st.floats(-1e4, 1e4, allow_nan=False)
        )
    )
)


@settings(max_examples=200, deadline=None)
@given(Z=scores, shift=st.floats(-1e3, 1e3))
def test_softmax_is_a_distribution_and_shift_invariant(Z, shift):
    P = fs.softmax(Z)
    assert np.all((P >= 0) & (P <= 1))
    assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    assert_allclose(fs.softmax(Z + shift), P, atol=1e-9)
    assert_allclose(fs.logsumexp(Z + shift), fs.logsumexp(Z) + shift, rtol=1e-12, atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(Z=scores, data=st.data())
def test_fused_cross_entropy_equals_two_pass(Z, data):
    y = np.array(data.draw(st.lists(st.integers(0, Z.shape[1] - 1),
                                    min_size=Z.shape[0], max_size=Z.shape[0])))
    two_pass = -np.mean(fs.log_softmax(Z)[np.arange(Z.shape[0]), y])
    assert_allclose(fs.cross_entropy(Z, y), two_pass, rtol=1e-10, atol=1e-9)
    assert_allclose(fs.cross_entropy(Z, y), ref.cross_entropy(Z, y), rtol=1e-10, atol=1e-9)
