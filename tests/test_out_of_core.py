"""Out-of-core: fit and predict_proba stream through a memory-mapped X.

A fit on ``np.load(path, mmap_mode="r")`` reads X through the map: no copy of
X is made, so the process's anonymous memory (what it owns, as opposed to
file pages of the map, which the kernel can drop and read again) stays far
below the size of X. Each case runs in a fresh process
(``tests/scripts/memmap_memory.py``) that samples ``RssAnon`` every
millisecond and takes the exact peak of NumPy's allocations from
tracemalloc; a control case that copies X must show the copy, so the
measurement is known to see one. X is 256 MB here; docs/distributed.md and
benchmarks/memmap_fit.py have the 8 GiB case.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastsoftmax import SoftmaxRegression

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tests" / "scripts" / "memmap_memory.py"
TIMEOUT = 600  # a hang detector: the subprocess may have to compile kernels
N_SAMPLES, N_FEATURES, N_CLASSES = 320_000, 100, 5  # X: 256 MB of float64
# Memory beyond the predicted probabilities may not exceed this share of X.
# A copy of X would be 100%, a float32 copy 50%, a boolean mask of X 12.5%.
EXTRA_SHARE = 0.08


def write_problem(directory, n_samples, n_features, n_classes, seed=0):
    """X as a .npy file written block by block, labels from a softmax model."""
    rng = np.random.default_rng(seed)
    coef = rng.normal(0.0, 0.3, size=(n_classes, n_features))
    x_path, y_path = directory / "X.npy", directory / "y.npy"
    X = np.lib.format.open_memmap(x_path, mode="w+", dtype=np.float64,
                                  shape=(n_samples, n_features))
    y = np.empty(n_samples, dtype=np.int64)
    step = 20_000
    for start in range(0, n_samples, step):
        block = rng.standard_normal((min(step, n_samples - start), n_features))
        X[start:start + step] = block
        noise = rng.gumbel(size=(block.shape[0], n_classes))
        y[start:start + step] = np.argmax(block @ coef.T + noise, axis=1)
    X.flush()
    del X
    np.save(y_path, y)
    return x_path, y_path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_problem(tmp_path_factory.mktemp("memmap"), N_SAMPLES, N_FEATURES, N_CLASSES)


def measure(mode, files):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), mode, *map(str, files)], env=env,
        capture_output=True, text=True, timeout=TIMEOUT, cwd=str(REPO), check=False,
    )
    details = f"--- stdout ---\n{proc.stdout[-3000:]}\n--- stderr ---\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, details
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT ")), details


def test_the_measurement_sees_a_copy_of_X(files):
    result, details = measure("copy", files)
    assert result["peak_anon_increase"] >= 0.95 * result["x_bytes"], details
    assert result["tracemalloc_peak"] >= 0.95 * result["x_bytes"], details


@pytest.mark.parametrize("mode", ["memmap", "dask"])
def test_fit_and_predict_proba_on_a_memmap_make_no_copy_of_X(mode, files):
    result, details = measure(mode, files)
    x_bytes = result["x_bytes"]
    # The probabilities are the output (n x K); Dask holds them twice for a
    # moment, as chunks and concatenated.
    output = result["proba_bytes"] * (2 if mode == "dask" else 1)
    assert result["peak_anon_increase"] - output <= EXTRA_SHARE * x_bytes, details
    assert result["tracemalloc_peak"] - output <= EXTRA_SHARE * x_bytes, details
    assert result["proba_sum_error"] < 1e-12
    if mode == "memmap":  # the same kernels on the same bytes
        assert result["same_model_as_in_memory"], details
    else:  # chunk sums in another order: rounding-level differences
        assert result["objective"] == pytest.approx(result["objective_in_memory"], rel=1e-10)


def test_small_memmap_fit_equals_in_memory_fit(tmp_path):
    """In process, read-only and float32 maps: the model of the array in memory."""
    x_path, y_path = write_problem(tmp_path, 3000, 6, 3)
    y = np.load(y_path)
    for dtype in (np.float64, np.float32):
        X = np.load(x_path).astype(dtype)
        np.save(tmp_path / "Xd.npy", X)
        mapped = np.load(tmp_path / "Xd.npy", mmap_mode="r")
        assert not mapped.flags.writeable
        from_map = SoftmaxRegression(tol=1e-5).fit(mapped, y)
        in_memory = SoftmaxRegression(tol=1e-5).fit(X, y)
        np.testing.assert_array_equal(from_map.coef_, in_memory.coef_)
        np.testing.assert_array_equal(from_map.predict_proba(mapped), in_memory.predict_proba(X))


def test_column_max_abs_scans_in_bounded_slices_and_equals_numpy():
    # The scale diagnostic of a fit that does not converge reads X in slices
    # of a fixed byte size: 1500 rows of 1000 float32 features take three.
    from fastsoftmax._diagnostics import _CHUNK_BYTES, column_max_abs

    X = np.random.default_rng(0).standard_normal((1500, 1000)).astype(np.float32)
    X[1499, 7] = -50.0
    assert _CHUNK_BYTES // (8 * 1000) < 1500 / 2
    expected = np.abs(X).max(axis=0).astype(np.float64)
    np.testing.assert_array_equal(column_max_abs(X), expected)
    np.testing.assert_array_equal(column_max_abs(X[:0]), np.zeros(1000))


def test_column_max_abs_of_csr_in_pieces_equals_dense():
    # Sparse X: the stored entries in pieces of _CHUNK_BYTES (no copy of X),
    # with explicit zeros, duplicates, negative-only and empty columns.
    import scipy.sparse as sp

    from fastsoftmax import _diagnostics

    rng = np.random.default_rng(1)
    n_samples, n_features = 3000, 700
    dense = np.where(rng.random((n_samples, n_features)) < 0.3,
                     rng.standard_normal((n_samples, n_features)), 0.0)
    dense[:, 5] = -np.abs(dense[:, 5])  # only negative entries
    dense[:, 9] = 0.0  # empty column
    X = sp.csr_matrix(dense)
    X.data[:10] = 0.0  # explicit zeros
    dense = X.toarray()
    duplicated = sp.csr_matrix((np.r_[X.data, -7.0, 2.0], np.r_[X.indices, 3, 3],
                                np.r_[X.indptr[:-1], X.indptr[-1] + 2]), shape=X.shape)
    expected = np.abs(dense).max(axis=0)
    saved = _diagnostics._CHUNK_BYTES
    try:
        _diagnostics._CHUNK_BYTES = 8 * 1000  # several pieces of 1,000 entries
        np.testing.assert_array_equal(_diagnostics.column_max_abs(X), expected)
        np.testing.assert_array_equal(_diagnostics.column_max_abs(X.astype(np.float32)),
                                      expected.astype(np.float32).astype(np.float64))
        with_duplicates = expected.copy()
        with_duplicates[3] = max(expected[3], 7.0)
        np.testing.assert_array_equal(_diagnostics.column_max_abs(duplicated), with_duplicates)
    finally:
        _diagnostics._CHUNK_BYTES = saved
