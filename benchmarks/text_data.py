"""A text-like sparse classification problem, generated.

Rows look like bag-of-words documents: about ``nnz_per_row`` stored entries
per row, columns drawn with power-law (Zipf-like) frequencies, so that a few
columns are in most rows and most columns in few, values ``log1p(count)``
scaled to unit Euclidean norm per row (as TF-IDF pipelines produce). Labels
follow a softmax model with sparse true coefficients (Gumbel-max), so the
fitted model has something to find.
"""

import numpy as np
import scipy.sparse as sp


def make_text_like(n_samples=200_000, n_features=100_000, nnz_per_row=100, n_classes=20,
                   dtype=np.float64, seed=0):
    """Generate ``(X, y)``: X CSR of shape (n_samples, n_features), y labels.

    Parameters
    ----------
    n_samples, n_features, nnz_per_row, n_classes : int
    dtype : numpy dtype, default=np.float64
    seed : int, default=0

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    """
    rng = np.random.default_rng(seed)
    # Zipf-like column frequencies: p_j proportional to 1 / (j + 10)^1.1,
    # with the column order shuffled so frequent columns are not adjacent.
    weights = 1.0 / (np.arange(n_features) + 10.0) ** 1.1
    weights /= weights.sum()
    columns = rng.permutation(n_features)[
        rng.choice(n_features, size=n_samples * nnz_per_row, p=weights)
    ]
    rows = np.repeat(np.arange(n_samples), nnz_per_row)
    counts = sp.coo_matrix(
        (np.ones(rows.size), (rows, columns)), shape=(n_samples, n_features)
    ).tocsr()  # repeated words add up to counts
    counts.sum_duplicates()
    counts.data = np.log1p(counts.data)
    norms = np.sqrt(counts.multiply(counts).sum(axis=1)).A1
    X = sp.diags(1.0 / np.maximum(norms, 1e-12)) @ counts
    X = sp.csr_matrix(X, dtype=dtype)

    true_coef = np.zeros((n_classes, n_features))
    informative = rng.choice(n_features, size=n_features // 10, replace=False)
    true_coef[:, informative] = rng.normal(0.0, 8.0, size=(n_classes, informative.size))
    scores = np.asarray(X @ true_coef.T) + rng.gumbel(size=(n_samples, n_classes))
    return X, np.argmax(scores, axis=1)
