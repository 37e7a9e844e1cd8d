"""SoftmaxLoss: the loss prepared once, against the NumPy references."""

import threading
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

import fastsoftmax as fs

from . import reference as ref
from .problems import make_problem

RTOL = {np.float32: 2e-5, np.float64: 1e-12}


def _points(coef, intercept, n_points=3, seed=1):
    """A few parameter points around the problem's own, as an optimiser visits."""
    rng = np.random.default_rng(seed)
    for _ in range(n_points):
        yield (
            coef + 0.3 * rng.standard_normal(coef.shape),
            intercept + 0.3 * rng.standard_normal(intercept.shape),
        )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_every_call_matches_reference(dtype, sparse, fit_intercept):
    X, y, sw, coef, intercept = make_problem(700, 9, 5, dtype)
    data = sp.csr_matrix(X) if sparse else X
    loss = fs.SoftmaxLoss(data, y, sample_weight=sw)
    assert (loss.n_samples, loss.n_features, loss.n_classes) == (700, 9, 5)
    tol = RTOL[dtype]
    for point_coef, point_intercept in _points(coef, intercept):
        b = point_intercept if fit_intercept else None
        value, g_coef, g_intercept = loss.loss_gradient(point_coef, b, l2_reg_strength=0.2)
        r_value, r_coef, r_intercept = ref.loss_gradient(point_coef, b, X, y, sw, 0.2)
        assert value == pytest.approx(r_value, rel=tol)
        assert_allclose(g_coef, r_coef, rtol=tol, atol=tol)
        if fit_intercept:
            assert_allclose(g_intercept, r_intercept, rtol=tol, atol=tol)
        else:
            assert g_intercept is None
        # loss() is the same number without the gradient pass.
        assert loss.loss(point_coef, b, l2_reg_strength=0.2) == value


def test_repeated_calls_keep_no_state():
    X, y, sw, coef, intercept = make_problem(3_000, 12, 6)
    loss = fs.SoftmaxLoss(X, y, sample_weight=sw)
    (c1, b1), (c2, b2) = _points(coef, intercept, 2)
    first = loss.loss_gradient(c1, b1)
    loss.loss_gradient(c2, b2)
    again = loss.loss_gradient(c1, b1)
    assert first[0] == again[0]
    assert_array_equal(first[1], again[1])
    assert_array_equal(first[2], again[2])
    # Results are fresh arrays, not views of the object's buffers.
    assert not np.shares_memory(first[1], again[1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_bits_for_any_thread_count_and_object(dtype):
    X, y, sw, coef, intercept = make_problem(20_000, 7, 4, dtype)
    first = fs.SoftmaxLoss(X, y, sample_weight=sw, label_smoothing=0.1)
    second = fs.SoftmaxLoss(X, y, sample_weight=sw, label_smoothing=0.1)
    for b in (intercept, None):
        ours = first.loss_gradient(coef, b, l2_reg_strength=0.5, n_threads=1)
        theirs = second.loss_gradient(coef, b, l2_reg_strength=0.5, n_threads=2)
        assert ours[0] == theirs[0]
        assert_array_equal(ours[1], theirs[1])
        if b is None:
            assert ours[2] is None and theirs[2] is None
        else:
            assert_array_equal(ours[2], theirs[2])


def test_soft_targets_and_smoothing_match_reference():
    X, y, sw, coef, intercept = make_problem(400, 6, 4)
    targets = ref.smoothed(y, 4, 0.2)
    soft = fs.SoftmaxLoss(X, targets, sample_weight=sw)
    smoothed_labels = fs.SoftmaxLoss(X, y, sample_weight=sw, label_smoothing=0.2)
    r_value, r_coef, r_intercept = ref.soft_loss_gradient(coef, intercept, X, targets, sw)
    for loss in (soft, smoothed_labels):
        assert loss.n_classes == 4
        value, g_coef, g_intercept = loss.loss_gradient(coef, intercept)
        assert value == pytest.approx(r_value, rel=1e-12)
        assert_allclose(g_coef, r_coef, rtol=1e-10, atol=1e-13)
        assert_allclose(g_intercept, r_intercept, rtol=1e-10, atol=1e-13)


def test_n_classes_inferred_or_given():
    X, y, _, coef, intercept = make_problem(50, 3, 4)
    assert fs.SoftmaxLoss(X, y).n_classes == 4
    # Classes without rows: only n_classes can say they exist.
    wider = fs.SoftmaxLoss(X, y, n_classes=np.int64(6))
    assert wider.n_classes == 6
    coef6 = np.vstack([coef, np.zeros((2, 3))])
    value, g_coef, _ = wider.loss_gradient(coef6, np.zeros(6))
    r_value, r_coef, _ = ref.loss_gradient(coef6, np.zeros(6), X, y)
    assert value == pytest.approx(r_value, rel=1e-12)
    assert_allclose(g_coef, r_coef, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(y=np.array(["a"] * 5)), TypeError, "integer class codes"),
        (dict(y=np.array([0.0, 1.0, 2.0, 0.0, 1.0])), TypeError, "integer class codes"),
        (dict(y=np.array(["a"] * 5), n_classes=3), TypeError, "integer class codes"),
        (dict(n_classes=0), ValueError, "positive integer"),
        (dict(n_classes=2.5), TypeError, "an integer"),
        (dict(n_classes=True), TypeError, "an integer"),
        (dict(n_classes=2), ValueError, "outside"),
        (dict(X=np.zeros((0, 4)), y=np.zeros(0, int)), ValueError, "no rows"),
        (dict(X=np.full((5, 4), np.nan)), ValueError, "NaN|nan"),
        (dict(sample_weight=np.zeros(5)), ValueError, "zero"),
        (dict(label_smoothing=1.0), ValueError, "label_smoothing"),
    ],
)
def test_bad_data_raise_at_construction(kwargs, error, match):
    X, y, _, _, _ = make_problem(5, 4, 3)
    args = dict(X=X, y=y)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        fs.SoftmaxLoss(args.pop("X"), args.pop("y"), **args)


@pytest.mark.parametrize(
    "call, match",
    [
        (dict(coef=np.zeros((3, 5))), r"must be \(3, 4\)"),
        (dict(coef=np.zeros((2, 4))), r"must be \(3, 4\)"),
        (dict(coef=np.full((3, 4), np.inf)), "inf"),
        (dict(intercept=np.zeros(4)), r"must be \(3,\)"),
        (dict(l2_reg_strength=np.nan), "l2_reg_strength"),
        (dict(n_threads=0), "n_threads"),
    ],
)
def test_bad_parameters_raise_and_the_object_stays_usable(call, match):
    X, y, _, coef, intercept = make_problem(5, 4, 3)
    loss = fs.SoftmaxLoss(X, y)
    args = dict(coef=coef, intercept=intercept)
    args.update(call)
    for method in (loss.loss_gradient, loss.loss):
        with pytest.raises(ValueError, match=match):
            method(**args)
    assert loss.loss(coef, intercept) == fs.loss_gradient(coef, intercept, X, y)[0]


def test_data_are_not_modified():
    X, y, sw, coef, intercept = make_problem(30, 4, 3)
    copies = [a.copy() for a in (X, y, sw, coef, intercept)]
    loss = fs.SoftmaxLoss(X, y, sample_weight=sw)
    loss.loss_gradient(coef, intercept, l2_reg_strength=1.0)
    loss.loss(coef, intercept)
    for before, after in zip(copies, (X, y, sw, coef, intercept)):
        assert_array_equal(before, after)


def test_calls_allocate_only_their_results():
    # The per-range gradient partials (32 x K x (d + 1) float64, 2.6 MB here)
    # are allocated once, at construction; the one-shot function allocates
    # them on every call.
    n_classes, n_features = 50, 200
    X, y, _, coef, intercept = make_problem(2_000, n_features, n_classes)
    partials_bytes = 32 * n_classes * (n_features + 1) * 8
    loss = fs.SoftmaxLoss(X, y)
    loss.loss_gradient(coef, intercept)  # compiles, counts the labels once
    fs.loss_gradient(coef, intercept, X, y)

    def peak_bytes(call):
        tracemalloc.start()
        try:
            call()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    prepared = peak_bytes(lambda: loss.loss_gradient(coef, intercept))
    one_shot = peak_bytes(lambda: fs.loss_gradient(coef, intercept, X, y, check_finite=False))
    assert one_shot >= partials_bytes
    assert prepared < partials_bytes / 4


def test_calls_from_several_threads_take_turns():
    # Calls long enough (tens of milliseconds) to overlap without the lock.
    X, y, sw, coef, intercept = make_problem(100_000, 40, 12)
    loss = fs.SoftmaxLoss(X, y, sample_weight=sw)
    points = list(_points(coef, intercept, 4))
    expected = [loss.loss_gradient(c, b) for c, b in points]
    results = [None] * len(points)

    def evaluate(i):
        results[i] = loss.loss_gradient(*points[i], n_threads=1)

    threads = [threading.Thread(target=evaluate, args=(i,)) for i in range(len(points))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for got, want in zip(results, expected):
        assert got[0] == want[0]
        assert_array_equal(got[1], want[1])
        assert_array_equal(got[2], want[2])
