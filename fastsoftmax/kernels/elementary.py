"""``exp`` and ``log`` that LLVM can vectorise.

Numba compiles ``np.exp`` and ``np.log`` to calls of the C library's scalar
functions, so a loop over a block of scores does one call per number (about
4 ns each here) and cannot use vector registers. The n*K exponentials of a
loss evaluation then cost as much as the matrix products. The versions here
are straight-line arithmetic and integer bit manipulation, which the loop
vectoriser turns into vector code (about 1 ns per float64 exponential on one
core, 8 lanes at a time).

``fast_exp(x)``: ``x = k ln2 + r`` with ``k = rint(x / ln2)`` and ``|r| <= ln2
/ 2`` (Cody-Waite: ``ln2`` split in two parts so that ``k * ln2_hi`` is exact),
``exp(r)`` by a polynomial ``1 + r + r**2 q(r)`` of degree 11 for float64 and 6
for float32, close to the best of its degree (its own relative error 1.7e-17
and 1.0e-8 on that interval, a sixth of half an ulp), and ``2**k`` built in the
exponent bits, in two factors so that results in the subnormal range and
overflow to ``inf`` come out right. ``fast_log(x)``: ``x = 2**e * m`` with
``m`` in ``[sqrt(1/2), sqrt(2))`` read from the bits (subnormals scaled first),
``log(m) = 2 atanh(s)`` with ``s = (m - 1) / (m + 1)`` by its odd series, plus
``e * ln2`` in two parts.

``exp_flush_tiny(x)``: the exponential of a softmax's shifted score ``x = z -
max(z) <= 0``, where a result too small to be a normal number is of no use
(it is added to a sum of at least 1). The rounding to ``k = rint(x / ln2)``
is one fused multiply-add of a "magic" constant (1.5 * 2**52, or 2**23),
whose low bits are then ``k`` itself, and ``2**k`` is one factor built from
those bits: half of ``fast_exp``'s operations outside the polynomial.
Wherever ``exp(x)`` is at least about ``3.3e-308`` (float64; ``x >= -708``)
or ``1.6e-38`` (float32; ``x >= -87``) the result is bit for bit that of
``fast_exp``; below, it is 0 (also for ``x = -inf``), and NaN stays NaN.
Measured on one core, a pass of ten classes over a block of 512 rows in
cache: 0.97 -> 0.77 ns per float64 exponential, 0.40 -> 0.26 ns per float32
one.

``log_at_least_one(x)``: ``fast_log`` for the logarithm of a softmax's sum of
shifted exponentials, which lies in ``[1, n_classes]`` (or is NaN). Without
the branches for subnormal, zero, negative and infinite arguments it is bit
for bit ``fast_log`` on any finite ``x >= 1`` (tested), and 1.31 -> 0.93 ns
(float64) and 0.72 -> 0.57 ns (float32) per logarithm in a loop over a block.

``fast_exp`` and ``fast_log`` are within 1-2 ulp of the C library over the whole range (tested), keep
``exp(-inf) = 0``, ``exp(inf) = inf``, ``log(0) = -inf``, ``log(inf) =
inf``, and propagate NaN (``log`` of a negative number is NaN). They work in
the precision of their argument: float32 in, float32 arithmetic.

They are compiled without the ``reassoc`` fast-math flag (which would let
LLVM fold the two-part ``ln2`` reduction back into one rounding), and are
plain ``numba.njit`` functions: call them from any compiled code.
"""

import numpy as np
from numba import njit, types
from numba.extending import overload

from ._config import EXACT_JIT_OPTIONS
from .simd import bits_from_float, float_from_bits

# float64 constants. LN2_HI has its low 32 bits zero, so k * LN2_HI is exact
# for |k| < 2**20.
_LOG2E = 1.4426950408889634
_LN2 = 0.6931471805599453
_LN2_HI = 0.6931471803691238
_LN2_LO = 1.9082149292705877e-10
_SQRT2 = 1.4142135623730951
_TINY64 = 2.2250738585072014e-308  # smallest normal float64
_EXP_LOW64 = -746.0  # exp(x) rounds to 0 below about -745.13
_EXP_HIGH64 = 710.0  # and overflows above about 709.78

# Adding 1.5 * 2**52 rounds a float64 of magnitude below 2**51 to an integer
# (to nearest, ties to even), which then sits in the low bits of the sum; the
# bits of the constant itself all lie above bit 51, so shifting the sum's bits
# left by 52 leaves exactly k << 52. Likewise 1.5 * 2**23 for float32.
_MAGIC64 = 1.5 * 2.0**52
_FLUSH_BELOW64 = -708.0  # exp(-708) = 3.3e-308, just above the smallest normal

# float32 constants: LN2_HI32 has 9 significant bits, so k * LN2_HI32 is exact.
_F32 = np.float32
_LOG2E32 = _F32(_LOG2E)
_LN2_HI32 = _F32(0.693359375)
_LN2_LO32 = _F32(_LN2 - 0.693359375)
_SQRT2_32 = _F32(_SQRT2)
_TINY32 = _F32(1.1754943508222875e-38)
_EXP_LOW32 = _F32(-104.0)
_EXP_HIGH32 = _F32(89.0)
_MAGIC32 = _F32(1.5 * 2.0**23)
_FLUSH_BELOW32 = _F32(-87.0)  # exp(-87) = 1.6e-38, just above the smallest normal
_ONE32 = _F32(1.0)
_TWO32 = _F32(2.0)
# exp(r) = 1 + r + r**2 q(r) on |r| <= 0.3467 (a little beyond ln2 / 2),
# with q of degree 9 (float64) or 4 (float32) interpolating (exp(r) - 1 - r)
# / r**2 at the Chebyshev nodes, computed in 50-digit arithmetic: a relative
# error of the polynomial of at most 1.7e-17 (float64; half an ulp is 1.1e-16)
# or 1.0e-8 (float32; 6.0e-8). The Taylor polynomials used before needed
# degree 13 and 7 to stay below half an ulp: two and one multiply-adds more
# per number, in the loops whose pace the exponentials set
# (docs/performance.md).
_Q64 = (
    0.5000000000000001, 0.16666666666666669, 0.04166666666662404, 0.008333333333330055,
    0.0013888888917258759, 0.00019841269863088255, 2.4801521225986432e-05,
    2.7557268406190795e-06, 2.7620121717381933e-07, 2.51004110820149e-08,
)
_Q0, _Q1, _Q2, _Q3, _Q4, _Q5, _Q6, _Q7, _Q8, _Q9 = _Q64
_Q0_32, _Q1_32, _Q2_32, _Q3_32, _Q4_32 = (
    _F32(c) for c in (0.5, 0.16666576266288757, 0.041666556149721146, 0.008363194763660431,
                      0.0013926203828305006)
)
# Coefficients 2 / (2j + 1) of the series log(m) = sum_j 2 s**(2j+1) / (2j+1).
_A = tuple(2.0 / (2 * j + 1) for j in range(12))
_A32 = tuple(_F32(a) for a in _A)


@njit(cache=True, **EXACT_JIT_OPTIONS)
def _scale_by_power_of_two64(p, k):
    """``p * 2**k`` for integer ``k`` in [-1076, 1025], in two factors so that
    each is a normal float64."""
    k1 = k >> 1
    k2 = k - k1
    return p * float_from_bits((k1 + 1023) << 52) * float_from_bits((k2 + 1023) << 52)


@njit(cache=True, **EXACT_JIT_OPTIONS)
def _exp_reduced64(x, kf):
    """``exp(x - kf ln2)`` for a float64 ``x`` and the integer ``kf = rint(x /
    ln2)`` (as a float): the two-part reduction and the polynomial."""
    r = (x - kf * _LN2_HI) - kf * _LN2_LO
    p = _Q9
    p = p * r + _Q8
    p = p * r + _Q7
    p = p * r + _Q6
    p = p * r + _Q5
    p = p * r + _Q4
    p = p * r + _Q3
    p = p * r + _Q2
    p = p * r + _Q1
    p = p * r + _Q0
    p = p * r + 1.0
    return p * r + 1.0


@njit(cache=True, **EXACT_JIT_OPTIONS)
def _exp_reduced32(x, kf):
    """``exp(x - kf ln2)`` for float32 ``x`` and ``kf``, in float32 arithmetic."""
    r = (x - kf * _LN2_HI32) - kf * _LN2_LO32
    p = _Q4_32
    p = p * r + _Q3_32
    p = p * r + _Q2_32
    p = p * r + _Q1_32
    p = p * r + _Q0_32
    p = p * r + _ONE32
    return p * r + _ONE32


@njit(cache=True, **EXACT_JIT_OPTIONS)
def exp64(x):
    """``exp(x)`` for a float64 ``x`` (vectorisable; see the module docstring)."""
    # NaN compares false, so the clamp maps it to a finite number and the
    # integer conversion below stays defined; NaN is put back at the end.
    xc = x if x > _EXP_LOW64 else _EXP_LOW64
    xc = xc if xc < _EXP_HIGH64 else _EXP_HIGH64
    kf = np.rint(xc * _LOG2E)
    result = _scale_by_power_of_two64(_exp_reduced64(xc, kf), np.int64(kf))
    return result if x == x else x


@njit(cache=True, **EXACT_JIT_OPTIONS)
def exp32(x):
    """``exp(x)`` for a float32 ``x``, in float32 arithmetic."""
    xc = x if x > _EXP_LOW32 else _EXP_LOW32
    xc = xc if xc < _EXP_HIGH32 else _EXP_HIGH32
    kf = np.rint(xc * _LOG2E32)
    p = _exp_reduced32(xc, kf)
    k = np.int32(kf)
    k1 = k >> 1
    k2 = k - k1
    s1 = float_from_bits(np.int32((k1 + 127) << 23))
    s2 = float_from_bits(np.int32((k2 + 127) << 23))
    result = p * s1 * s2
    return result if x == x else x


@njit(cache=True, **EXACT_JIT_OPTIONS)
def exp_flush_tiny64(x):
    """``exp(x)`` for a float64 ``x <= 0``, 0 below ``x = -708`` (see the
    module docstring)."""
    t = x * _LOG2E + _MAGIC64
    p = _exp_reduced64(x, t - _MAGIC64)
    # 2**k with k >= -1022 here, a normal number. Below the threshold the
    # bits are meaningless (and -inf makes p NaN), but the result is 0.
    result = p * float_from_bits((bits_from_float(t) << 52) + (1023 << 52))
    # NaN compares false, so it passes through (t, r and p are NaN).
    return 0.0 if x < _FLUSH_BELOW64 else result


@njit(cache=True, **EXACT_JIT_OPTIONS)
def exp_flush_tiny32(x):
    """``exp(x)`` for a float32 ``x <= 0``, in float32 arithmetic; 0 below
    ``x = -87``."""
    t = x * _LOG2E32 + _MAGIC32
    p = _exp_reduced32(x, t - _MAGIC32)
    # The shift is done in 64 bits and wrapped back to 32: k << 23 plus the
    # exponent bias, the bits of 2**k (k >= -126 here).
    scale = float_from_bits(np.int32((np.int64(bits_from_float(t)) << 23) + (127 << 23)))
    result = p * scale
    return _F32(0.0) if x < _FLUSH_BELOW32 else result


@njit(cache=True, **EXACT_JIT_OPTIONS)
def _log_of_normal64(x, bias):
    """``log(x)`` for a positive normal float64 ``x`` whose exponent field is
    read less ``bias`` (1023, plus 54 for an argument scaled up by 2**54)."""
    bits = bits_from_float(x)
    e = ((bits >> 52) & 0x7FF) - bias
    m = float_from_bits((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)  # [1, 2)
    big = m > _SQRT2
    m = m * 0.5 if big else m
    e = e + 1 if big else e
    s = (m - 1.0) / (m + 1.0)
    s2 = s * s
    q = _A[11]
    q = q * s2 + _A[10]
    q = q * s2 + _A[9]
    q = q * s2 + _A[8]
    q = q * s2 + _A[7]
    q = q * s2 + _A[6]
    q = q * s2 + _A[5]
    q = q * s2 + _A[4]
    q = q * s2 + _A[3]
    q = q * s2 + _A[2]
    q = q * s2 + _A[1]
    log_m = s * (q * s2) + 2.0 * s
    ef = np.float64(e)
    return ef * _LN2_HI + (log_m + ef * _LN2_LO)


@njit(cache=True, **EXACT_JIT_OPTIONS)
def _log_of_normal32(x, bias):
    """``log(x)`` for a positive normal float32 ``x``, in float32 arithmetic
    (``bias``: 127, plus 24 for an argument scaled up by 2**24)."""
    bits = np.int64(bits_from_float(x))
    e = ((bits >> 23) & 0xFF) - bias
    m = float_from_bits(np.int32((bits & 0x007FFFFF) | 0x3F800000))  # [1, 2)
    big = m > _SQRT2_32
    m = m * _F32(0.5) if big else m
    e = e + 1 if big else e
    s = (m - _ONE32) / (m + _ONE32)
    s2 = s * s
    q = _A32[5]
    q = q * s2 + _A32[4]
    q = q * s2 + _A32[3]
    q = q * s2 + _A32[2]
    q = q * s2 + _A32[1]
    log_m = s * (q * s2) + _TWO32 * s
    ef = np.float32(e)
    return ef * _LN2_HI32 + (log_m + ef * _LN2_LO32)


@njit(cache=True, **EXACT_JIT_OPTIONS)
def log64(x):
    """``log(x)`` for a float64 ``x`` (vectorisable; see the module docstring)."""
    subnormal = x < _TINY64
    xs = x * 18014398509481984.0 if subnormal else x  # 2**54
    result = _log_of_normal64(xs, 1023 + (54 if subnormal else 0))
    if x == 0.0:
        result = -np.inf
    if x < 0.0:
        result = np.nan
    if x == np.inf:
        result = x
    return result if x == x else x


@njit(cache=True, **EXACT_JIT_OPTIONS)
def log_at_least_one64(x):
    """``log(x)`` for a finite float64 ``x >= 1`` or NaN (see the module docstring)."""
    result = _log_of_normal64(x, 1023)
    return result if x == x else x


@njit(cache=True, **EXACT_JIT_OPTIONS)
def log_at_least_one32(x):
    """``log(x)`` for a finite float32 ``x >= 1`` or NaN, in float32 arithmetic."""
    result = _log_of_normal32(x, 127)
    return result if x == x else x


@njit(cache=True, **EXACT_JIT_OPTIONS)
def log32(x):
    """``log(x)`` for a float32 ``x``, in float32 arithmetic."""
    subnormal = x < _TINY32
    xs = x * _F32(16777216.0) if subnormal else x  # 2**24
    result = _log_of_normal32(xs, 127 + (24 if subnormal else 0))
    if x == _F32(0.0):
        result = _F32(-np.inf)
    if x < _F32(0.0):
        result = _F32(np.nan)
    if x == _F32(np.inf):
        result = x
    return result if x == x else x


def fast_exp(x):
    """``exp(x)`` in the precision of ``x`` (float32 or float64), vectorisable.

    For ``numba.njit`` code only; see the module docstring.
    """
    raise TypeError("fast_exp is for numba.njit code; use numpy.exp in Python")


def exp_flush_tiny(x):
    """``exp(x)`` for ``x <= 0`` in the precision of ``x``, with results below
    the smallest normal number flushed to 0; vectorisable.

    For ``numba.njit`` code only; see the module docstring.
    """
    raise TypeError("exp_flush_tiny is for numba.njit code; use numpy.exp in Python")


def fast_log(x):
    """``log(x)`` in the precision of ``x`` (float32 or float64), vectorisable.

    For ``numba.njit`` code only; see the module docstring.
    """
    raise TypeError("fast_log is for numba.njit code; use numpy.log in Python")


def log_at_least_one(x):
    """``log(x)`` for a finite ``x >= 1`` (or NaN) in the precision of ``x``,
    vectorisable; equal to ``fast_log`` there.

    For ``numba.njit`` code only; see the module docstring.
    """
    raise TypeError("log_at_least_one is for numba.njit code; use numpy.log in Python")


def _by_precision(public, for_float64, for_float32):
    """Make ``public`` callable from ``njit`` code: a float64 argument calls
    ``for_float64`` and a float32 one ``for_float32``."""

    @overload(public, jit_options=EXACT_JIT_OPTIONS)
    def typed(x):
        if x == types.float64:
            return lambda x: for_float64(x)
        if x == types.float32:
            return lambda x: for_float32(x)
        return None


_by_precision(fast_exp, exp64, exp32)
_by_precision(exp_flush_tiny, exp_flush_tiny64, exp_flush_tiny32)
_by_precision(fast_log, log64, log32)
_by_precision(log_at_least_one, log_at_least_one64, log_at_least_one32)
