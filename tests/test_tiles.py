"""The register-tiled block products against NumPy, on every tile edge case."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastsoftmax.kernels.tiles import tiled_gradient, tiled_scores


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_rows", [1, 3, 4, 7, 16])
@pytest.mark.parametrize("n_classes", [1, 2, 3, 8])
@pytest.mark.parametrize("n_features", [1, 5])
def test_tiled_products_match_numpy(dtype, n_rows, n_classes, n_features):
    rng = np.random.default_rng(n_rows * 100 + n_classes * 10 + n_features)
    x_block = rng.standard_normal((n_rows, n_features)).astype(dtype)
    coef = rng.standard_normal((n_classes, n_features)).astype(dtype)
    z_block = np.full((n_rows, n_classes), np.nan, dtype=dtype)
    tiled_scores(x_block, coef, z_block)
    tol = 1e-5 if dtype == np.float32 else 1e-13
    assert_allclose(z_block, x_block.astype(float) @ coef.T.astype(float), rtol=tol, atol=tol)
    grad_block = np.full((n_classes, n_features), np.nan, dtype=dtype)
    tiled_gradient(z_block, x_block, grad_block)
    expected = z_block.T.astype(float) @ x_block.astype(float)
    assert_allclose(grad_block, expected, rtol=tol, atol=tol)
