"""The public backend functions against the NumPy references."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastsoftmax as fs

from . import reference as ref
from .problems import make_problem

RTOL = {np.float32: 2e-5, np.float64: 1e-12}


def _variants(A):
    """The same values as C order, F order, a strided view and read-only."""
    readonly = np.array(A)
    readonly.flags.writeable = False
    strided = np.repeat(A, 2, axis=0)[::2]
    return {
        "C": np.ascontiguousarray(A),
        "F": np.asfortranarray(A),
        "strided": strided,
        "readonly": readonly,
    }


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["C", "F", "strided", "readonly"])
@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (7, 2), (50, 13)])
def test_row_functions_match_reference(dtype, layout, shape, rng):
    Z = _variants((3 * rng.standard_normal(shape)).astype(dtype))[layout]
    Z_before = Z.copy()
    for func, reference in [
        (fs.softmax, ref.softmax),
        (fs.log_softmax, ref.log_softmax),
        (fs.logsumexp, ref.logsumexp),
    ]:
        result = func(Z)
        assert result.dtype == dtype
        assert_allclose(result, reference(Z), rtol=RTOL[dtype], atol=RTOL[dtype])
    assert_array_equal(Z, Z_before)  # inputs are never modified
    y = np.arange(shape[0]) % shape[1]
    assert_allclose(fs.cross_entropy(Z, y), ref.cross_entropy(Z, y), rtol=RTOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [2, 10, 31, 32, 40])
@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_row_functions_of_many_rows_on_both_paths(dtype, n_classes, layout, rng):
    # Under 32 classes the rows go through class-major blocks of 256 rows;
    # 700 rows make two full blocks and a partial one. Excluded classes
    # (-inf) and an in-place call on every layout.
    from fastsoftmax.kernels.scores import SOFTMAX_BLOCK_MAX_CLASSES, SOFTMAX_BLOCK_ROWS

    assert 2 * SOFTMAX_BLOCK_ROWS < 700 < 3 * SOFTMAX_BLOCK_ROWS
    assert 31 < SOFTMAX_BLOCK_MAX_CLASSES <= 32
    Z = (4 * rng.standard_normal((700, n_classes))).astype(dtype)
    excluded = rng.random(Z.shape) < 0.2
    excluded[:, 0] = False  # every row keeps a finite score
    Z[excluded] = -np.inf
    values, Z = Z, _variants(Z)[layout]
    assert_allclose(fs.logsumexp(Z), ref.logsumexp(Z), rtol=RTOL[dtype], atol=RTOL[dtype])
    for func, reference in [(fs.log_softmax, ref.log_softmax), (fs.softmax, ref.softmax)]:
        expected = reference(Z)
        assert_allclose(func(Z), expected, rtol=RTOL[dtype], atol=RTOL[dtype])
        in_place = _variants(values.copy())[layout]
        result = func(in_place, out=in_place)
        assert np.shares_memory(result, in_place)
        assert_allclose(in_place, expected, rtol=RTOL[dtype], atol=RTOL[dtype])


def test_softmax_probabilities_are_a_distribution(rng):
    Z = 50 * rng.standard_normal((200, 9))
    P = fs.softmax(Z)
    assert np.all((P >= 0) & (P <= 1))
    assert_allclose(P.sum(axis=1), 1.0, rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_scores(dtype):
    Z = np.array([[1e4, -1e4, 0.0], [-np.inf, 3.0, -np.inf], [-1e4, -1e4, -1e4]], dtype)
    P = fs.softmax(Z)
    assert_array_equal(P[0], [1.0, 0.0, 0.0])
    assert_array_equal(P[1], [0.0, 1.0, 0.0])
    assert_allclose(P[2], 1 / 3, rtol=1e-6)
    assert_allclose(fs.logsumexp(Z), [1e4, 3.0, -1e4 + np.log(3)], rtol=1e-6)
    L = fs.log_softmax(Z)
    assert_array_equal(L[1], [-np.inf, 0.0, -np.inf])
    assert fs.cross_entropy(Z, [0, 1, 2]) == pytest.approx(np.log(3) / 3, rel=1e-5)


def test_out_buffers_are_used_and_in_place_works(rng):
    Z = rng.standard_normal((20, 4))
    expected = ref.softmax(Z)
    out = np.empty_like(Z)
    result = fs.softmax(Z, out=out)
    assert np.shares_memory(result, out)
    assert_allclose(out, expected, rtol=1e-12)
    result = fs.softmax(Z, out=Z)
    assert np.shares_memory(result, Z)
    assert_allclose(Z, expected, rtol=1e-12)
    Z = rng.standard_normal((20, 4))
    expected = ref.log_softmax(Z)
    assert_allclose(fs.log_softmax(Z, out=Z), expected, rtol=1e-12)


@pytest.mark.parametrize(
    "Z, match",
    [
        (np.array([[0.0, np.nan]]), "NaN"),
        (np.array([[0.0, np.inf]]), r"\+inf"),
        (np.array([[0.0, 1.0], [-np.inf, -np.inf]]), "Row 1"),
        (np.zeros(3), "2-D"),
        (np.zeros((2, 0)), "no columns"),
    ],
)
def test_bad_scores_raise(Z, match):
    for func in (fs.softmax, fs.log_softmax, fs.logsumexp):
        with pytest.raises(ValueError, match=match):
            func(Z)


def test_bad_out_and_dtypes_raise():
    Z = np.zeros((2, 3))
    with pytest.raises(ValueError, match="shape and dtype"):
        fs.softmax(Z, out=np.empty((2, 3), np.float32))
    readonly = np.empty((2, 3))
    readonly.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fs.softmax(Z, out=readonly)
    with pytest.raises(TypeError, match="complex"):
        fs.softmax(Z.astype(complex))
    with pytest.raises(TypeError, match="real numbers"):
        fs.softmax(np.array([["a", "b"]]))


def test_integer_scores_are_converted_to_float64():
    P = fs.softmax(np.array([[0, 0], [1, 1]]))
    assert P.dtype == np.float64
    assert_array_equal(P, 0.5)


@pytest.mark.parametrize(
    "y, sw, error, match",
    [
        ([0, 3], None, ValueError, "outside"),
        ([0, -1], None, ValueError, "outside"),
        ([0.0, 1.0], None, TypeError, "integer class codes"),
        ([0], None, ValueError, "2 samples"),
        ([0, 1], [1.0, -1.0], ValueError, "negative"),
        ([0, 1], [0.0, 0.0], ValueError, "zero everywhere"),
        ([0, 1], [1.0, np.nan], ValueError, "nan"),
        ([0, 1], [1.0], ValueError, "one weight per row"),
    ],
)
def test_cross_entropy_bad_labels_and_weights(y, sw, error, match):
    with pytest.raises(error, match=match):
        fs.cross_entropy(np.zeros((2, 3)), y, sample_weight=sw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["C", "F", "readonly"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
# Shapes on both sides of the tiles' edges: class panels of 4 / 8 lanes,
# gradient class tiles, feature panels of 16 / 32 lanes, 6-row score tiles;
# with AVX-512, (61, 301, 100) takes wide (three-register) score panels, and
# up to 5 classes (float32: 10 from 64 features) features-in-lanes tiles.
@pytest.mark.parametrize(
    "shape",
    [(1, 1, 2), (3, 1, 2), (40, 3, 2), (300, 11, 5), (203, 7, 20), (97, 33, 13), (61, 301, 100),
     (150, 70, 10)],
)
def test_loss_gradient_matches_reference(dtype, layout, fit_intercept, weighted, shape):
    n, d, K = shape
    X, y, sw, coef, intercept = make_problem(n, d, K, dtype)
    X = _variants(X)[layout]
    sw = sw if weighted else None
    intercept = intercept if fit_intercept else None
    loss, g_coef, g_intercept = fs.loss_gradient(
        coef, intercept, X, y, sample_weight=sw, l2_reg_strength=0.3
    )
    r_loss, r_coef, r_intercept = ref.loss_gradient(coef, intercept, X, y, sw, 0.3)
    tol = RTOL[dtype]
    assert isinstance(loss, float)
    assert g_coef.dtype == np.float64 and g_coef.shape == (K, d)
    assert loss == pytest.approx(r_loss, rel=tol)
    assert_allclose(g_coef, r_coef, rtol=tol, atol=tol)
    if fit_intercept:
        assert g_intercept.shape == (K,) and g_intercept.dtype == np.float64
        assert_allclose(g_intercept, r_intercept, rtol=tol, atol=tol)
    else:
        assert g_intercept is None


def test_loss_gradient_spans_many_row_blocks_and_ranges():
    # More rows than 32 ranges x several blocks, with a ragged last block.
    X, y, sw, coef, intercept = make_problem(20_011, 6, 4)
    loss, g_coef, g_intercept = fs.loss_gradient(coef, intercept, X, y, sample_weight=sw)
    r_loss, r_coef, r_intercept = ref.loss_gradient(coef, intercept, X, y, sw)
    assert loss == pytest.approx(r_loss, rel=1e-12)
    assert_allclose(g_coef, r_coef, rtol=1e-10, atol=1e-14)
    assert_allclose(g_intercept, r_intercept, rtol=1e-10, atol=1e-14)


def _central_difference(f, w, eps=1e-6):
    grad = np.empty_like(w)
    for i in range(w.size):
        step = np.zeros_like(w)
        step[i] = eps
        grad[i] = (f(w + step) - f(w - step)) / (2 * eps)
    return grad


def test_loss_gradient_matches_finite_differences():
    n, d, K = 60, 4, 3
    X, y, sw, coef, intercept = make_problem(n, d, K)

    def loss_at(w):
        return fs.loss_gradient(
            w[: K * d].reshape(K, d), w[K * d :], X, y, sample_weight=sw, l2_reg_strength=0.1
        )[0]

    w = np.concatenate([coef.ravel(), intercept])
    _, g_coef, g_intercept = fs.loss_gradient(
        coef, intercept, X, y, sample_weight=sw, l2_reg_strength=0.1
    )
    numeric = _central_difference(loss_at, w)
    assert_allclose(np.concatenate([g_coef.ravel(), g_intercept]), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_loss_gradient_is_bit_identical_across_threads(dtype):
    X, y, sw, coef, intercept = make_problem(5_000, 20, 7, dtype)
    results = [
        fs.loss_gradient(coef, intercept, X, y, sample_weight=sw, n_threads=t)
        for t in (1, 2, 1, None)
    ]
    for loss, g_coef, g_intercept in results[1:]:
        assert loss == results[0][0]
        assert_array_equal(g_coef, results[0][1])
        assert_array_equal(g_intercept, results[0][2])


def test_loss_gradient_does_not_modify_inputs():
    X, y, sw, coef, intercept = make_problem(30, 4, 3)
    copies = [a.copy() for a in (X, y, sw, coef, intercept)]
    fs.loss_gradient(coef, intercept, X, y, sample_weight=sw, l2_reg_strength=1.0)
    for before, after in zip(copies, (X, y, sw, coef, intercept)):
        assert_array_equal(before, after)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(coef=np.zeros((3, 5))), ValueError, "4 features"),
        (dict(intercept=np.zeros(2)), ValueError, r"must be \(3,\)"),
        (dict(y=np.array([0, 1, 2, 3, 0])), ValueError, "outside"),
        (dict(y=np.array(["a"] * 5)), TypeError, "integer class codes"),
        (dict(y=np.zeros((5, 1), int)), ValueError, "1-D"),
        (dict(X=np.zeros(5)), ValueError, "2-D"),
        (dict(X=np.full((5, 4), np.nan)), ValueError, "NaN|nan"),
        (dict(X=np.zeros((0, 4)), y=np.zeros(0, int)), ValueError, "no rows"),
        (dict(sample_weight=-np.ones(5)), ValueError, "negative"),
        (dict(l2_reg_strength=-1.0), ValueError, "l2_reg_strength"),
        (dict(n_threads=0), ValueError, "n_threads"),
    ],
)
def test_loss_gradient_bad_input(kwargs, error, match):
    X, y, _, coef, intercept = make_problem(5, 4, 3)
    args = dict(coef=coef, intercept=intercept, X=X, y=y)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        fs.loss_gradient(
            args.pop("coef"), args.pop("intercept"), args.pop("X"), args.pop("y"), **args
        )


def test_check_finite_false_skips_the_scan_only():
    X, y, sw, coef, intercept = make_problem(50, 4, 3)
    checked = fs.loss_gradient(coef, intercept, X, y, sample_weight=sw)
    unchecked = fs.loss_gradient(coef, intercept, X, y, sample_weight=sw, check_finite=False)
    assert checked[0] == unchecked[0]
    assert_array_equal(checked[1], unchecked[1])
    X[7, 2] = np.inf
    with pytest.raises(ValueError, match="inf"):
        fs.loss_gradient(coef, intercept, X, y)
    assert np.isnan(fs.loss_gradient(coef, intercept, X, y, check_finite=False)[0])


def test_partially_overlapping_out_is_handled(rng):
    Z = rng.standard_normal((6, 3))
    expected = ref.softmax(Z[::-1])
    fs.softmax(Z[::-1], out=Z)
    assert_allclose(Z, expected, rtol=1e-12)


def test_zero_weight_removes_an_infinite_row():
    Z = np.array([[0.0, -np.inf], [0.0, 1.0]])
    value = fs.cross_entropy(Z, [1, 0], sample_weight=[0.0, 1.0])
    assert value == pytest.approx(np.log1p(np.e))
    assert fs.cross_entropy(Z, [1, 0]) == np.inf
