"""Stand-ins for calls that exist for one precision only (kernels/_precision.py)."""

import numpy as np
import pytest
from numba import njit

from fastsoftmax.kernels._precision import for_precision


def _scaled_into():
    """A fresh dispatcher each time, so its compiled signatures start empty."""

    @njit
    def scaled_into(scale, X, out):
        out[:] = scale * X

    return scaled_into


@pytest.mark.parametrize("itemsize, called, skipped", [
    (8, np.float64, np.float32),
    (4, np.float32, np.float64),
])
def test_stand_in_calls_only_for_its_precision(itemsize, called, skipped):
    function = _scaled_into()
    stand_in = for_precision(itemsize, function, array_arg=1)

    @njit
    def caller(scale, X, out):
        stand_in(scale, X, out)

    out = np.full(2, -1.0, dtype=called)
    caller(3.0, np.array([2.0, 3.0], dtype=called), out)
    np.testing.assert_array_equal(out, [6.0, 9.0])
    out = np.full(2, -1.0, dtype=skipped)
    caller(3.0, np.array([2.0, 3.0], dtype=skipped), out)
    np.testing.assert_array_equal(out, [-1.0, -1.0])
    # The other precision never even compiled the function.
    compiled_dtypes = {signature[1].dtype.bitwidth for signature in function.signatures}
    assert compiled_dtypes == {8 * itemsize}


def test_stand_in_refuses_python_calls():
    stand_in = for_precision(8, _scaled_into(), array_arg=1)
    with pytest.raises(TypeError, match="numba.njit code only"):
        stand_in(1.0, np.zeros(2), np.zeros(2))


def test_precision_only_tiles_are_not_compiled_for_the_other_precision():
    """Typing the score dispatcher anew for both precisions compiles the
    rows-in-lanes tiles for float64 only and the packed tiles for float32
    only (a call types every branch, taken or not)."""
    from fastsoftmax.kernels import blocks, dense
    from fastsoftmax.kernels._config import JIT_OPTIONS

    block_scores = njit(**JIT_OPTIONS)(blocks.block_scores.py_func)
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        X = rng.standard_normal((9, 5)).astype(dtype)
        Wt = dense.transposed_coef(rng.standard_normal((2, 5)), dtype)
        St = np.zeros((Wt.shape[1], 9), dtype=dtype)
        block_scores(X, 0, 9, Wt, St, 2)
        np.testing.assert_allclose(St[:2], (X @ Wt[:, :2]).T, rtol=1e-5)
    for function, bitwidth in ((blocks._row_lane_scores, 64), (blocks._packed_tiles, 32)):
        for signature in function.signatures:
            arrays = [t for t in signature if hasattr(t, "dtype")]
            assert arrays[0].dtype.bitwidth == bitwidth, (function.__name__, signature)
