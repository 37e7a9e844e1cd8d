"""Fitting and prediction on dask.array data, against the in-memory model.

The references are independent of the Dask code: the in-memory objective
(its loss and gradient at the same parameters must agree to 1e-12 relative),
the in-memory fit (same objective within 1e-10 at tol=1e-10) and NumPy (the
chunks seen by the tasks, the labels' encoding). All of it runs on Dask's
local schedulers; tests/test_dask_cluster.py repeats the fit on a
``dask.distributed`` cluster, with a worker killed in the middle.
"""

import threading
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from fastsoftmax import SoftmaxRegression  # noqa: E402
from fastsoftmax.distributed import is_dask_collection  # noqa: E402
from fastsoftmax.distributed.inputs import prepare_problem  # noqa: E402
from fastsoftmax.distributed.objective import DaskObjective  # noqa: E402
from fastsoftmax.distributed.placement import Placement  # noqa: E402
from fastsoftmax.objective import make_objective  # noqa: E402

# Uneven row chunks, the last one short: chunk borders fall inside the
# kernels' row blocks and ranges.
CHUNKS = (700, 1300, 450, 1000, 50)
N_SAMPLES = sum(CHUNKS)


def informative_problem(n_samples=N_SAMPLES, n_features=7, n_classes=4, seed=0):
    """X standard normal, labels drawn from a softmax model (Gumbel-max)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    coef = rng.normal(0.0, 0.8, size=(n_classes, n_features))
    y = np.argmax(X @ coef.T + rng.gumbel(size=(n_samples, n_classes)), axis=1)
    return X, y, rng.uniform(0.1, 2.0, n_samples)


def to_dask(a, chunks=CHUNKS):
    a = np.asarray(a) if not sp.issparse(a) else a
    return da.from_array(a, chunks=(chunks,) + tuple((n,) for n in a.shape[1:]))


def sparse_dask(X_dense, chunks=CHUNKS):
    """A Dask array of CSR chunks holding ``X_dense`` with most entries zeroed."""
    X = np.where(np.abs(X_dense) > 0.8, X_dense, 0.0)
    return X, to_dask(X, chunks).map_blocks(sp.csr_matrix, meta=sp.csr_matrix((0, 0)))


def objectives(estimator, X, y, sample_weight, X_dask, y_dask, w_dask, **targets):
    """The in-memory objective and the Dask objective of the same problem."""
    problem = prepare_problem(estimator, X_dask, y_dask, w_dask)
    n_classes = problem.classes.shape[0]
    dask_objective = DaskObjective(
        problem.chunks, n_classes, problem.n_features, problem.dtype,
        estimator.fit_intercept, problem.sum_weights, estimator.label_smoothing, 1,
    )
    memory = make_objective(
        X, y, sample_weight, n_classes, estimator.fit_intercept,
        label_smoothing=estimator.label_smoothing, **targets,
    )
    return memory, dask_objective


def assert_same_evaluations(memory, dask_objective, seed=1, rtol=1e-12):
    """Loss, loss-only and gradient agree at random parameters."""
    rng = np.random.default_rng(seed)
    assert dask_objective.n_params == memory.n_params
    assert dask_objective.sum_weights == pytest.approx(memory.sum_weights, rel=1e-15)
    for _ in range(2):
        w = rng.normal(0.0, 0.7, memory.n_params)
        grad_memory, grad_dask = np.empty(memory.n_params), np.empty(memory.n_params)
        loss_memory = memory.loss_gradient(w, grad_memory)
        loss_dask = dask_objective.loss_gradient(w, grad_dask)
        assert abs(loss_dask - loss_memory) <= rtol * abs(loss_memory)
        assert abs(dask_objective.loss(w) - loss_memory) <= rtol * abs(loss_memory)
        scale = np.max(np.abs(grad_memory))
        assert np.max(np.abs(grad_dask - grad_memory)) <= rtol * scale


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_objective_equals_in_memory_objective_dense(weighted, fit_intercept):
    X, y, sw = informative_problem()
    sw = sw if weighted else None
    est = SoftmaxRegression(fit_intercept=fit_intercept)
    memory, dask_objective = objectives(
        est, X, y, sw, to_dask(X), to_dask(y), None if sw is None else to_dask(sw)
    )
    assert_same_evaluations(memory, dask_objective)


def test_objective_equals_in_memory_objective_csr_chunks():
    X, y, sw = informative_problem()
    X_sparse, X_dask = sparse_dask(X)
    est = SoftmaxRegression()
    memory, dask_objective = objectives(
        est, sp.csr_matrix(X_sparse), y, sw, X_dask, to_dask(y), to_dask(sw)
    )
    assert_same_evaluations(memory, dask_objective)


def test_objective_with_class_weight_soft_targets_and_smoothing():
    X, y, sw = informative_problem(n_classes=3)
    # class_weight="balanced": weight totals over all chunks, as in memory
    # and in scikit-learn.
    est = SoftmaxRegression(class_weight="balanced")
    classes = np.unique(y)
    totals = np.array([sw[y == c].sum() for c in classes])
    per_class = sw.sum() / (classes.shape[0] * totals)
    memory, dask_objective = objectives(
        est, X, y, sw * per_class[y], to_dask(X), to_dask(y), to_dask(sw)
    )
    assert_same_evaluations(memory, dask_objective)
    # Soft targets with label smoothing (applied to the targets).
    rng = np.random.default_rng(3)
    Y = rng.dirichlet(np.ones(3), size=y.shape[0])
    est = SoftmaxRegression(label_smoothing=0.1)
    problem = prepare_problem(est, to_dask(X), to_dask(Y), None)
    dask_objective = DaskObjective(
        problem.chunks, 3, X.shape[1], problem.dtype, True, problem.sum_weights, 0.1, 1
    )
    memory = make_objective(X, None, None, 3, True, soft_targets=0.9 * Y + 0.1 / 3)
    assert_same_evaluations(memory, dask_objective)
    # Label smoothing of hard labels.
    est = SoftmaxRegression(label_smoothing=0.2)
    memory, dask_objective = objectives(est, X, y, None, to_dask(X), to_dask(y), None)
    assert_same_evaluations(memory, dask_objective)


def test_float32_chunks_agree_to_float32_rounding():
    # float32 rows are summed in float32 inside a row block, and chunk borders
    # move the blocks: agreement is to float32 rounding, not 1e-12.
    X, y, sw = informative_problem()
    X32 = X.astype(np.float32)
    est = SoftmaxRegression()
    memory, dask_objective = objectives(est, X32, y, sw, to_dask(X32), to_dask(y), to_dask(sw))
    assert dask_objective.loss(np.zeros(memory.n_params)) == pytest.approx(np.log(4), rel=1e-6)
    assert_same_evaluations(memory, dask_objective, rtol=2e-6)


def test_evaluation_is_the_same_bits_for_any_scheduler_and_thread_count():
    X, y, sw = informative_problem()
    est = SoftmaxRegression()
    problem = prepare_problem(est, to_dask(X), to_dask(y), to_dask(sw))
    w = np.random.default_rng(5).normal(0.0, 0.5, 4 * 8)
    results = []
    for scheduler, n_threads in [("threads", 1), ("sync", 1), ("threads", 2), ("sync", 2)]:
        objective = DaskObjective(
            problem.chunks, 4, 7, problem.dtype, True, problem.sum_weights, 0.0, n_threads
        )
        grad = np.empty(objective.n_params)
        with dask.config.set(scheduler=scheduler):
            loss = objective.loss_gradient(w, grad)
        results.append((loss, grad))
    for loss, grad in results[1:]:
        assert loss == results[0][0]
        np.testing.assert_array_equal(grad, results[0][1])
    # Local schedulers: one task per chunk (grouping is for dask.distributed).
    keys = [chunk.X.key for chunk in problem.chunks]
    assert Placement(keys, problem.persisted[0], 1).batches() == [[i] for i in range(len(CHUNKS))]


def test_chunks_are_loaded_once_per_fit_not_per_iteration():
    """Persisted at the start of the fit: each chunk's source is read once."""
    X, y, _ = informative_problem()
    loads = np.zeros(len(CHUNKS), dtype=int)
    lock = threading.Lock()
    starts = np.concatenate([[0], np.cumsum(CHUNKS)])

    def load(i):
        with lock:
            loads[i] += 1
        return X[starts[i]:starts[i + 1]]

    X_dask = da.concatenate([
        da.from_delayed(dask.delayed(load)(i), shape=(n, X.shape[1]), dtype=X.dtype)
        for i, n in enumerate(CHUNKS)
    ])
    clf = SoftmaxRegression(tol=1e-8, max_iter=200).fit(X_dask, to_dask(y))
    assert clf.n_iter_[0] > 5
    np.testing.assert_array_equal(loads, 1)


def reference_fit(X, y, sample_weight=None, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SoftmaxRegression(tol=1e-10, max_iter=1000, **params).fit(X, y, sample_weight)


def assert_same_model(dask_model, memory_model, coef_rtol=1e-6):
    np.testing.assert_array_equal(dask_model.classes_, memory_model.classes_)
    assert abs(dask_model.objective_ - memory_model.objective_) <= 1e-10 * abs(
        memory_model.objective_
    )
    scale = np.linalg.norm(memory_model.coef_)
    assert np.linalg.norm(dask_model.coef_ - memory_model.coef_) <= coef_rtol * scale
    np.testing.assert_allclose(
        dask_model.intercept_, memory_model.intercept_, atol=coef_rtol * max(1.0, scale)
    )


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"penalty": "l1", "C": 0.05},
        {"penalty": "group_lasso", "C": 0.05},
        {"penalty": None, "fit_intercept": False},
        {"class_weight": "balanced", "C": 0.3},
        {"class_weight": {"b": 2.0, "d": 0.5}},
        {"label_smoothing": 0.1},
    ],
    ids=["l2", "l1", "group_lasso", "none-no-intercept", "balanced", "dict", "smoothing"],
)
def test_dask_fit_equals_in_memory_fit(params):
    X, y, sw = informative_problem()
    labels = np.array(["a", "b", "c", "d"], dtype=object)[y]
    memory = reference_fit(X, labels, sw, **params)
    fitted = reference_fit(to_dask(X), to_dask(labels), to_dask(sw), **params)
    assert fitted.n_features_in_ == X.shape[1]
    assert_same_model(fitted, memory)


def test_dask_fit_with_csr_chunks_soft_targets_and_float32():
    X, y, sw = informative_problem(n_classes=3)
    X_sparse, X_dask = sparse_dask(X)
    assert_same_model(
        reference_fit(X_dask, to_dask(y), sw, C=0.5),
        reference_fit(sp.csr_matrix(X_sparse), y, sw, C=0.5),
    )
    Y = np.random.default_rng(2).dirichlet(np.ones(3), size=y.shape[0])
    assert_same_model(reference_fit(to_dask(X), to_dask(Y)), reference_fit(X, Y))
    X32 = X.astype(np.float32)
    memory = reference_fit(X32, y)
    fitted = reference_fit(to_dask(X32), to_dask(y))
    # float32 evaluations differ at float32 rounding (see above).
    assert fitted.objective_ == pytest.approx(memory.objective_, rel=1e-6)
    assert fitted.predict_proba(to_dask(X32)).dtype == np.float32


def test_mixed_inputs_warm_start_and_verbose(capsys):
    X, y, sw = informative_problem()
    memory = reference_fit(X, y, sw)
    # Dask X with in-memory y and weights, and in-memory X with Dask y.
    assert_same_model(reference_fit(to_dask(X), y, sw), memory)
    assert_same_model(reference_fit(X, to_dask(y), sw), memory)
    # X chunked by columns too: gathered into whole rows.
    X_tiles = da.from_array(X, chunks=(1000, 3))
    assert_same_model(reference_fit(X_tiles, to_dask(y, X_tiles.chunks[0]), sw), memory)
    clf = SoftmaxRegression(tol=1e-10, max_iter=1000, warm_start=True, verbose=1)
    clf.coef_, clf.intercept_, clf.classes_ = memory.coef_, memory.intercept_, memory.classes_
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(to_dask(X), to_dask(y), to_dask(sw))
    assert clf.n_iter_[0] <= 2  # started at the solution
    out = capsys.readouterr().out
    assert f"{N_SAMPLES} x 7 dense float64 Dask array in {len(CHUNKS)} row chunks" in out


def test_labels_are_encoded_once_across_chunks():
    # Each chunk sees only some classes; a class appears in one chunk only.
    y = np.repeat(np.array(["dog", "cat", "emu", "ant", "cat"], dtype=object), [700, 1300, 450, 1000, 50])
    X = np.random.default_rng(0).standard_normal((y.shape[0], 3)) + (y == "emu")[:, None]
    clf = reference_fit(to_dask(X), to_dask(y))
    np.testing.assert_array_equal(clf.classes_, ["ant", "cat", "dog", "emu"])
    assert_same_model(clf, reference_fit(X, y))
    predicted = clf.predict(to_dask(X)).compute()
    assert predicted.dtype == object and set(predicted) <= set(clf.classes_)


def test_predictions_are_lazy_and_equal_in_memory_predictions():
    X, y, _ = informative_problem()
    X_new, X_dask = X[:2000], to_dask(X[:2000], (600, 600, 800))
    clf = reference_fit(X, y, C=0.5)

    def refuse(*args, **kwargs):
        raise AssertionError("a prediction was computed before it was asked for")

    with dask.config.set(scheduler=refuse):
        lazy = {m: getattr(clf, m)(X_dask) for m in
                ["predict", "predict_proba", "predict_log_proba", "decision_function"]}
    for method, result in lazy.items():
        assert is_dask_collection(result)
        expected = getattr(clf, method)(X_new)
        assert result.shape == expected.shape and result.dtype == expected.dtype
        np.testing.assert_allclose(result.compute(), expected, rtol=1e-12, atol=1e-14)
    binary = reference_fit(X, y % 2)
    scores = binary.decision_function(X_dask)
    assert scores.shape == (2000,)
    np.testing.assert_allclose(scores.compute(), binary.decision_function(X_new), rtol=1e-12)
    with pytest.raises(ValueError, match="expecting 7 features"):
        clf.predict(to_dask(X[:, :3], (N_SAMPLES,)))


def test_separable_data_warns_as_in_memory():
    X = np.random.default_rng(0).standard_normal((600, 2))
    y = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0)
    with pytest.warns(ConvergenceWarning, match="linearly separable"):
        SoftmaxRegression(penalty=None, max_iter=50).fit(to_dask(X, (200, 400)), to_dask(y, (200, 400)))


def test_invalid_inputs_get_clear_errors():
    X, y, sw = informative_problem()
    X_dask, y_dask = to_dask(X), to_dask(y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        SoftmaxRegression().fit(X_dask, to_dask(y[:-1], CHUNKS[:-1] + (49,)))
    bad = X.copy()
    bad[2500, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SoftmaxRegression().fit(to_dask(bad), y_dask)
    negative = sw.copy()
    negative[2100] = -1.0
    with pytest.raises(ValueError, match=r"sample_weight\[2100\] = -1.0 is negative"):
        SoftmaxRegression().fit(X_dask, y_dask, to_dask(negative))
    with pytest.raises(ValueError, match="zero everywhere"):
        SoftmaxRegression().fit(X_dask, y_dask, to_dask(np.zeros(N_SAMPLES)))
    with pytest.raises(ValueError, match="only one class"):
        SoftmaxRegression().fit(X_dask, to_dask(np.zeros(N_SAMPLES, dtype=int)))
    Y = np.full((N_SAMPLES, 3), 1 / 3)
    with pytest.raises(ValueError, match="class_weight needs hard labels"):
        SoftmaxRegression(class_weight="balanced").fit(X_dask, to_dask(Y))
    Y[2200] = [0.5, 0.6, 0.0]
    with pytest.raises(ValueError, match="rows 2000 to 2450 of y.*row 200 sums to 1.1"):
        SoftmaxRegression().fit(X_dask, to_dask(Y))
    with pytest.raises(ValueError, match="Unknown label type"):
        SoftmaxRegression().fit(X_dask, to_dask(np.linspace(0, 1, N_SAMPLES)))


# Dask's own note on pyarrow-backed string columns, irrelevant here.
@pytest.mark.filterwarnings("ignore:Dask currently has limited support:UserWarning")
def test_dask_dataframe_and_series_keep_feature_names():
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y, _ = informative_problem(n_samples=900, n_features=3, n_classes=3)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    labels = pd.Series(np.array(["x", "y", "z"])[y])
    memory = reference_fit(frame, labels)
    fitted = reference_fit(dd.from_pandas(frame, npartitions=3), dd.from_pandas(labels, npartitions=3))
    assert_same_model(fitted, memory)
    np.testing.assert_array_equal(fitted.feature_names_in_, ["a", "b", "c"])
    proba = fitted.predict_proba(dd.from_pandas(frame, npartitions=2))
    np.testing.assert_allclose(proba.compute(), memory.predict_proba(frame), rtol=1e-12)
    with pytest.raises(ValueError, match="feature names should match"):
        fitted.predict(dd.from_pandas(frame[["c", "b", "a"]], npartitions=2))
    # Refitting on a plain array forgets the names, as in memory.
    fitted.set_params(tol=1e-4).fit(to_dask(X, (450, 450)), to_dask(y, (450, 450)))
    assert not hasattr(fitted, "feature_names_in_")
