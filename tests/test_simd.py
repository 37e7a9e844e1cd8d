"""The register tiles of kernels/simd.py against NumPy, on every edge they have."""

import numpy as np
import pytest
from numba import njit
from numpy.testing import assert_allclose, assert_array_equal

from fastsoftmax.kernels.simd import (
    REGISTER_UNITS, RowSpan, TileSpan, bits_from_float, float_from_bits, make_row_writer, make_tile,
    use_full_vector_width,
)

ADD_2x2 = make_tile(2, (1, 1), "add")
ADD_3x1_MASKED = make_tile(3, (2,), "add", masked_last=True)
TRANSPOSED_4x21 = make_tile(4, (2, 1), "transposed")
TRANSPOSED_8x1 = make_tile(8, (1,), "transposed")  # the 8-row tiles of K <= 4 (float64)
TRANSPOSED_6x1 = make_tile(6, (1,), "transposed")  # not a power of two: lane by lane


@njit
def _add_2x2(A, B, C, span):
    ADD_2x2(A, B, C, A, span)


@njit
def _add_3x1_masked(A, B, C, span):
    ADD_3x1_MASKED(A, B, C, B, span)


@njit
def _transposed_4x21(A, B, C, span):
    TRANSPOSED_4x21(A, B, C, A, span)


@njit
def _transposed_rows(rows, A, B, C, span):
    if rows == 8:
        TRANSPOSED_8x1(A, B, C, A, span)
    else:
        TRANSPOSED_6x1(A, B, C, A, span)


def _span(**fields):
    values = dict.fromkeys(TileSpan._fields, 0)
    values.update(fields)
    return TileSpan(**values)


def _lanes(dtype):
    return 32 // np.dtype(dtype).itemsize


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_steps", [0, 1, 7])
def test_add_tiles_accumulate_a_product_into_c(dtype, n_steps):
    # C[r, l] += sum_p A[r, p] * B[p, l] for two rows of tiles side by side.
    rng = np.random.default_rng(n_steps)
    width = 2 * _lanes(dtype)
    A = rng.standard_normal((2, n_steps)).astype(dtype)
    B = rng.standard_normal((n_steps, 2 * width)).astype(dtype)
    C = rng.standard_normal((2, 2 * width)).astype(dtype)
    expected = C.astype(np.float64) + A.astype(np.float64) @ B.astype(np.float64)
    span = _span(
        a_row=n_steps, a_step=1, b_step=2 * width, b_next=width,
        c_row=2 * width, c_lane=1, c_next=width, n_steps=n_steps, n_tiles=2,
        n_valid=width,
    )
    _add_2x2(A, B, C, span)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    assert_allclose(C, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("n_valid", [1, 5, 8])
def test_masked_tile_reads_and_writes_only_valid_lanes(n_valid):
    # float32 products accumulated into float64; B ends right after the
    # valid lanes, so a read beyond them would leave the array.
    rng = np.random.default_rng(n_valid)
    n_steps = 5
    lanes = 2 * _lanes(np.float32)
    A = rng.standard_normal((3, n_steps)).astype(np.float32)
    B_full = rng.standard_normal((n_steps, n_valid)).astype(np.float32)
    B = B_full.ravel()  # row stride n_valid: the tile's vector overhangs each row
    C = np.full((3, lanes), 7.0)
    span = _span(
        a_row=n_steps, a_step=1, b_step=n_valid, c_row=lanes, c_lane=1,
        n_steps=n_steps, n_tiles=1, n_valid=n_valid,
    )
    # Only the last row of B is at the end of the array; the others overhang
    # into the next row, which the mask must ignore.
    _add_3x1_masked(A, B, C, span)
    expected = 7.0 + A.astype(np.float64) @ B_full.astype(np.float64)
    assert_allclose(C[:, :n_valid], expected, rtol=1e-5)
    assert_array_equal(C[:, n_valid:], 7.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_valid", [1, 3, 12])
def test_transposed_tile_writes_class_major_scores(dtype, n_valid):
    # St[k, i] = sum_j X[i, j] * Wt[j, k] for lanes k < n_valid, 3 tiles of 4 rows.
    rng = np.random.default_rng(n_valid)
    d, width = 9, 3 * _lanes(dtype)
    n_valid = min(n_valid, width)
    X = rng.standard_normal((12, d)).astype(dtype)
    Wt = rng.standard_normal((d, width)).astype(dtype)
    St = np.full((width, 12), np.nan, dtype=dtype)
    span = _span(
        a_row=d, a_step=1, a_next=4 * d, b_step=width, c_row=1, c_lane=12,
        c_next=4, n_steps=d, n_tiles=3, n_valid=n_valid,
    )
    _transposed_4x21(X, Wt, St, span)
    expected = (X.astype(np.float64) @ Wt.astype(np.float64)).T
    tol = 1e-5 if dtype == np.float32 else 1e-13
    assert_allclose(St[:n_valid], expected[:n_valid], rtol=tol, atol=tol)
    assert np.all(np.isnan(St[n_valid:]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows", [6, 8])
@pytest.mark.parametrize("n_valid", [1, 3, 4])
def test_transposed_tiles_of_more_rows_than_lanes_or_not_a_power_of_two(dtype, rows, n_valid):
    # 8 rows of a 4-lane float64 unit join two transposed 4 x 4 squares; 6
    # rows keep one store per row and lane. Rows of St beyond the tiles stay.
    rng = np.random.default_rng(rows + n_valid)
    d, width, n = 5, _lanes(dtype), 2 * rows + 3
    X = rng.standard_normal((n, d)).astype(dtype)
    Wt = rng.standard_normal((d, width)).astype(dtype)
    St = np.full((width, n), np.nan, dtype=dtype)
    span = _span(
        a_row=d, a_step=1, a_next=rows * d, b_step=width, c_row=1, c_lane=n,
        c_next=rows, n_steps=d, n_tiles=2, n_valid=n_valid,
    )
    _transposed_rows(rows, X, Wt, St, span)
    expected = (X.astype(np.float64) @ Wt.astype(np.float64)).T
    tol = 1e-5 if dtype == np.float32 else 1e-13
    assert_allclose(St[:n_valid, : 2 * rows], expected[:n_valid, : 2 * rows], rtol=tol, atol=tol)
    assert np.all(np.isnan(St[n_valid:])) and np.all(np.isnan(St[:, 2 * rows :]))


def test_prefetching_changes_nothing():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((2, 6))
    B = rng.standard_normal((6, 8))
    results = []
    for pf_lines in (0, 6):
        C = np.zeros((2, 8))
        span = _span(
            a_row=6, a_step=1, b_step=8, c_row=8, c_lane=1, n_steps=6, n_tiles=1,
            n_valid=8, pf_off=0, pf_lines=pf_lines,
        )
        _add_2x2(A, B, C, span)
        results.append(C)
    assert_array_equal(results[0], results[1])


def test_tiles_refuse_mixed_dtypes():
    A = np.zeros((2, 2), np.float32)
    B = np.zeros((2, 8))
    with pytest.raises(Exception, match="(?i)typ"):
        _add_2x2(A, B, np.zeros((2, 8)), _span(n_steps=2, n_tiles=1))


@njit
def _round_trip(x, i):
    return float_from_bits(bits_from_float(x)), bits_from_float(float_from_bits(i))


def test_bit_casts_round_trip():
    assert _round_trip(1.5, np.int64(0x3FF8000000000000)) == (1.5, 0x3FF8000000000000)
    x, bits = _round_trip(np.float32(1.5), np.int32(0x3FC00000))
    assert (x, bits) == (1.5, 0x3FC00000)


PACKED_1 = make_tile(8, (), "transposed", packed_tail=1)
PACKED_2 = make_tile(8, (1,), "transposed", packed_tail=2)


@njit
def _packed(tail, X, Wt, St, span):
    if tail == 1:
        PACKED_1(X, Wt, St, X, span)
    else:
        PACKED_2(X, Wt, St, X, span)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tail", [1, 2])
def test_packed_tail_rows_share_a_vector(dtype, tail):
    # The last `tail` classes of 8-row tiles, packed several rows per vector.
    rng = np.random.default_rng(tail)
    lanes = _lanes(dtype)
    width = tail if tail == 1 else lanes + tail  # PACKED_2 has one unit first
    d, n = 11, 16
    X = rng.standard_normal((n, d)).astype(dtype)
    Wt = rng.standard_normal((d, width + 8)).astype(dtype)  # padded beyond
    St = np.full((width + 8, n), np.nan, dtype=dtype)
    span = _span(
        a_row=d, a_step=1, a_next=8 * d, b_step=width + 8, c_row=1, c_lane=n,
        c_next=8, n_steps=d, n_tiles=2, n_valid=width,
    )
    _packed(tail, X, Wt, St, span)
    expected = (X.astype(np.float64) @ Wt[:, :width].astype(np.float64)).T
    tol = 1e-5 if dtype == np.float32 else 1e-13
    assert_allclose(St[:width], expected, rtol=tol, atol=tol)
    assert np.all(np.isnan(St[width:]))


BAD_PACKED = make_tile(6, (), "transposed", packed_tail=1)  # 6 rows, groups of 4 or 8


@njit
def _bad_packed(A, B, C, span):
    BAD_PACKED(A, B, C, A, span)


def test_packed_tail_needs_whole_groups_of_rows():
    with pytest.raises(Exception, match="groups of"):
        _bad_packed(np.zeros((8, 2)), np.zeros((2, 8)), np.zeros((8, 8)),
                    _span(n_steps=2, n_tiles=1, n_valid=1))
    with pytest.raises(ValueError, match="packed_tail"):
        make_tile(8, (1,), "add", packed_tail=2)


def _square_sum(use_full_width):
    @njit(fastmath={"reassoc", "contract"})
    def square_sum(x, out):
        if use_full_width:
            use_full_vector_width()
        total = 0.0
        for i in range(x.shape[0]):
            out[i] = x[i] * x[i] * 0.5 + x[i]
            total += out[i]
        return total

    return square_sum


def test_full_vector_width_changes_no_element_and_widens_the_loop():
    x = np.linspace(-3.0, 3.0, 1001)
    results = []
    for use_full_width in (False, True):
        kernel = _square_sum(use_full_width)
        out = np.empty_like(x)
        total = kernel(x, out)
        results.append((out, total))
        if REGISTER_UNITS == 2 and use_full_width:
            assembly = next(iter(kernel.inspect_asm().values()))
            assert "zmm" in assembly
    assert_array_equal(results[0][0], results[1][0])
    # The sum runs in another order, so only close.
    assert results[0][1] == pytest.approx(results[1][1], rel=1e-12)


ROWS_8x4 = make_row_writer(8, 4)
ROWS_8x16 = make_row_writer(8, 16)
SHIFTED_8x4 = make_row_writer(8, 4, "shift_classes")
SHIFTED_8x16 = make_row_writer(8, 16, "shift_classes")


@njit
def _write_rows(padded, S, scale, out, span):
    if padded == 4:
        ROWS_8x4(S, scale, out, span)
    else:
        ROWS_8x16(S, scale, out, span)


@njit
def _write_shifted_rows(padded, S, shifts, out, span):
    if padded == 4:
        SHIFTED_8x4(S, shifts, out, span)
    else:
        SHIFTED_8x16(S, shifts, out, span)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes, padded", [(1, 4), (3, 4), (4, 4), (10, 16), (16, 16)])
def test_row_writer_crosses_class_major_values_into_rows(dtype, n_classes, padded):
    # out[i, k] = S[k, i] * scale[i] for two groups of 8 rows, from an offset
    # into S and into out; classes past n_classes are neither read nor written.
    rng = np.random.default_rng(n_classes)
    ld, first = 40, 5
    S = rng.standard_normal((n_classes, ld)).astype(dtype)
    scale = rng.random(ld).astype(dtype)
    out = np.full((20, n_classes + 2), np.nan, dtype=dtype)  # wider rows: out_row > n_classes
    span = RowSpan(first, ld, first, 1 * out.shape[1], out.shape[1], n_classes, 2)
    _write_rows(padded, S, scale, out, span)
    expected = (S[:, first:first + 16] * scale[first:first + 16]).T  # the same roundings
    assert_array_equal(out[1:17, :n_classes], expected)
    assert np.all(np.isnan(out[1:17, n_classes:])) and np.all(np.isnan(out[[0, 17, 18, 19]]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes, padded", [(1, 4), (3, 4), (10, 16), (16, 16)])
def test_row_writer_shifts_classes(dtype, n_classes, padded):
    # out[i, k] = S[k, i] + shifts[k] for two groups of 8 rows; the shifts
    # are read from an offset, `padded` of them.
    rng = np.random.default_rng(n_classes)
    ld, first = 40, 5
    S = rng.standard_normal((n_classes, ld)).astype(dtype)
    shifts = rng.standard_normal(padded + 3).astype(dtype)
    out = np.full((20, n_classes + 2), np.nan, dtype=dtype)
    span = RowSpan(first, ld, 3, 1 * out.shape[1], out.shape[1], n_classes, 2)
    _write_shifted_rows(padded, S, shifts, out, span)
    expected = (S[:, first:first + 16] + shifts[3:3 + n_classes, None]).T  # the same roundings
    assert_array_equal(out[1:17, :n_classes], expected)
    assert np.all(np.isnan(out[1:17, n_classes:])) and np.all(np.isnan(out[[0, 17, 18, 19]]))


def test_row_writer_needs_powers_of_two_and_a_known_combination():
    with pytest.raises(ValueError, match="powers of two"):
        make_row_writer(8, 10)
    with pytest.raises(ValueError, match="combine"):
        make_row_writer(8, 4, "add")
