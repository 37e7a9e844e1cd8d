"""The vectorisable exp and log against the C library, in ulps, and their
special values; the loss's variants against them, bit for bit."""

import numpy as np
import pytest
from numba import njit

from fastsoftmax.kernels.elementary import exp_flush_tiny, fast_exp, fast_log, log_at_least_one


def _elementwise(function):
    """A compiled ``out[i] = function(x[i])`` over a 1-D array."""

    @njit
    def apply(x, out):
        for i in range(x.shape[0]):
            out[i] = function(x[i])

    return apply


_exp_all = _elementwise(fast_exp)
_log_all = _elementwise(fast_log)
_exp_flush_tiny_all = _elementwise(exp_flush_tiny)
_log_at_least_one_all = _elementwise(log_at_least_one)


def _max_ulp_error(result, reference_f64, dtype):
    """Largest distance of ``result`` from the float64 reference, in units of
    the last place of ``dtype`` at the reference."""
    reference = reference_f64.astype(dtype)
    spacing = np.spacing(np.abs(reference)).astype(np.float64)
    return np.max(np.abs(result.astype(np.float64) - reference_f64) / spacing)


EXP_RANGE = {np.float64: (-745.0, 709.7), np.float32: (-103.0, 88.7)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exp_within_two_ulps_over_its_range(dtype):
    rng = np.random.default_rng(0)
    low, high = EXP_RANGE[dtype]
    x = np.concatenate([rng.uniform(low, high, 200_000), rng.uniform(-1, 1, 50_000)]).astype(dtype)
    out = np.empty_like(x)
    _exp_all(x, out)
    reference = np.exp(x.astype(np.float64))
    normal = reference > np.finfo(dtype).tiny
    assert _max_ulp_error(out[normal], reference[normal], dtype) <= 2
    # Subnormal results: off by at most one subnormal step.
    step = np.finfo(dtype).smallest_subnormal
    assert np.all(np.abs(out[~normal].astype(np.float64) - reference[~normal]) <= 2 * step)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exp_polynomial_within_one_ulp_on_the_reduced_interval(dtype):
    # On |x| <= ln2 / 2 the result is the polynomial itself (k = 0): its
    # coefficients alone decide the error, measured against an extended
    # precision exponential (x86 long double where NumPy has it).
    if np.finfo(np.longdouble).nmant <= np.finfo(dtype).nmant:
        pytest.skip("no float type wider than this dtype to measure against here")
    x = np.linspace(-0.3466, 0.3466, 400_001).astype(dtype)
    out = np.empty_like(x)
    _exp_all(x, out)
    reference = np.exp(x.astype(np.longdouble))
    spacing = np.spacing(np.abs(reference.astype(dtype))).astype(np.longdouble)
    assert np.max(np.abs(out.astype(np.longdouble) - reference) / spacing) < 1.0
    assert out[x == 0] == 1


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_within_two_ulps_from_subnormals_to_the_largest_float(dtype):
    rng = np.random.default_rng(1)
    info = np.finfo(dtype)
    exponents = rng.uniform(np.log(info.smallest_subnormal), np.log(info.max), 200_000)
    x = np.concatenate([np.exp(exponents), rng.uniform(0.5, 2.0, 50_000)]).astype(dtype)
    x = x[np.isfinite(x) & (x > 0)]
    out = np.empty_like(x)
    _log_all(x, out)
    reference = np.log(x.astype(np.float64))
    assert _max_ulp_error(out, reference, dtype) <= 2


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_special_values(dtype):
    x = np.array([-np.inf, np.inf, np.nan, 0.0, -0.0, -1e30, 1e30], dtype)
    out = np.empty_like(x)
    _exp_all(x, out)
    np.testing.assert_array_equal(out, [0.0, np.inf, np.nan, 1.0, 1.0, 0.0, np.inf])
    x = np.array([0.0, -0.0, -1.0, np.inf, -np.inf, np.nan, 1.0], dtype)
    _log_all(x, out)
    np.testing.assert_array_equal(out, [-np.inf, -np.inf, np.nan, np.inf, np.nan, np.nan, 0.0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_precision_follows_the_argument(dtype):
    @njit
    def both(x):
        return fast_exp(x), fast_log(x)

    for value, reference in zip(both(dtype(2.0)), (np.exp(2.0), np.log(2.0))):
        # Computed in dtype: the value is a dtype number (exact after a
        # round trip), within 2 ulps of the true one.
        assert float(dtype(value)) == value
        assert abs(value - reference) <= 2 * np.spacing(dtype(reference))


def test_calling_from_python_says_what_to_do():
    with pytest.raises(TypeError, match="numba.njit"):
        fast_exp(1.0)


#: Where exp_flush_tiny flushes to 0 (its result is a normal number above).
FLUSH_BELOW = {np.float64: -708.0, np.float32: -87.0}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exp_flush_tiny_is_fast_exp_down_to_the_normal_numbers_then_zero(dtype):
    rng = np.random.default_rng(2)
    low = EXP_RANGE[dtype][0]
    x = np.concatenate([
        rng.uniform(low - 50, 0.0, 200_000),
        -np.geomspace(1e-30, 1.0, 20_000),
        # Either side of the threshold.
        [np.nextafter(dtype(FLUSH_BELOW[dtype]), dtype(0)), np.nextafter(dtype(FLUSH_BELOW[dtype]), dtype(-1e3))],
        [FLUSH_BELOW[dtype], 0.0, -0.0, -np.inf, np.nan, -1e30],
    ]).astype(dtype)
    out, reference = np.empty_like(x), np.empty_like(x)
    _exp_flush_tiny_all(x, out)
    _exp_all(x, reference)
    kept = ~(x < FLUSH_BELOW[dtype])
    np.testing.assert_array_equal(out[kept], reference[kept])  # NaN in the same place
    assert np.all(out[~kept] == 0)
    # Every result kept is a normal number, so nothing is lost that a sum of
    # at least 1 could hold.
    assert np.all(out[kept & (x == x)] >= np.finfo(dtype).tiny)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log_at_least_one_is_fast_log_from_one_up(dtype):
    rng = np.random.default_rng(3)
    x = np.concatenate([
        1.0 + rng.uniform(0.0, 9.0, 100_000),
        np.exp(rng.uniform(0.0, np.log(np.finfo(dtype).max), 100_000)),
        [1.0, np.nextafter(dtype(1.0), dtype(2.0)), np.sqrt(2.0), 2.0, np.nan],
    ]).astype(dtype)
    x = x[~np.isinf(x)]
    out, reference = np.empty_like(x), np.empty_like(x)
    _log_at_least_one_all(x, out)
    _log_all(x, reference)
    np.testing.assert_array_equal(out, reference)


def test_the_loss_variants_from_python_say_what_to_do():
    for function in (exp_flush_tiny, log_at_least_one):
        with pytest.raises(TypeError, match="numba.njit"):
            function(1.0)
