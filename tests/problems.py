"""Small random problems shared by the tests."""

import numpy as np


def make_problem(n_samples, n_features, n_classes, dtype=np.float64, seed=0):
    """Random X (float), labels covering every class, weights and parameters."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features)).astype(dtype)
    y = rng.integers(0, n_classes, n_samples)
    y[: min(n_samples, n_classes)] = np.arange(min(n_samples, n_classes))
    sample_weight = rng.uniform(0.1, 2.0, n_samples)
    coef = 0.5 * rng.standard_normal((n_classes, n_features))
    intercept = rng.standard_normal(n_classes)
    return X, y, sample_weight, coef, intercept
