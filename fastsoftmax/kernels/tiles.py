"""Register-tiled products of a row block with few classes.

With few classes the two products of a row block are skinny
(``(rows x d) @ (d x K)`` with K around 10), a shape on which BLAS GEMM runs
at a fraction of its square-matrix rate. These loops keep a tile of 4 rows by
2 classes in registers and let LLVM vectorise over the features: each feature
step loads 4 values of X and 2 of coef for 8 multiply-adds. Measured on the
development machine they beat BLAS up to K of about 16 (docs/performance.md);
the kernels choose between them with ``use_blas``.

Both functions work in the dtype of their inputs.
"""

from numba import njit

from ._config import JIT_OPTIONS


@njit(cache=True, **JIT_OPTIONS)
def tiled_scores(x_block, coef, z_block):
    """``z_block = x_block @ coef.T``.

    Parameters
    ----------
    x_block : ndarray of shape (n_rows, n_features), C order
    coef : ndarray of shape (n_classes, n_features), C order
    z_block : ndarray of shape (n_rows, n_classes)
        Overwritten.
    """
    n_rows, n_features = x_block.shape
    n_classes = coef.shape[0]
    zero = x_block.dtype.type(0)
    i = 0
    while i + 4 <= n_rows:
        x0, x1, x2, x3 = x_block[i], x_block[i + 1], x_block[i + 2], x_block[i + 3]
        k = 0
        while k + 2 <= n_classes:
            w0, w1 = coef[k], coef[k + 1]
            a00 = a10 = a20 = a30 = a01 = a11 = a21 = a31 = zero
            for j in range(n_features):
                u, v = w0[j], w1[j]
                p0, p1, p2, p3 = x0[j], x1[j], x2[j], x3[j]
                a00 += p0 * u
                a10 += p1 * u
                a20 += p2 * u
                a30 += p3 * u
                a01 += p0 * v
                a11 += p1 * v
                a21 += p2 * v
                a31 += p3 * v
            z_block[i, k], z_block[i + 1, k] = a00, a10
            z_block[i + 2, k], z_block[i + 3, k] = a20, a30
            z_block[i, k + 1], z_block[i + 1, k + 1] = a01, a11
            z_block[i + 2, k + 1], z_block[i + 3, k + 1] = a21, a31
            k += 2
        if k < n_classes:  # odd number of classes: the last one alone
            w0 = coef[k]
            a00 = a10 = a20 = a30 = zero
            for j in range(n_features):
                u = w0[j]
                a00 += x0[j] * u
                a10 += x1[j] * u
                a20 += x2[j] * u
                a30 += x3[j] * u
            z_block[i, k], z_block[i + 1, k] = a00, a10
            z_block[i + 2, k], z_block[i + 3, k] = a20, a30
        i += 4
    while i < n_rows:  # the last rows of a block, one at a time
        x = x_block[i]
        for k in range(n_classes):
            w = coef[k]
            total = zero
            for j in range(n_features):
                total += x[j] * w[j]
            z_block[i, k] = total
        i += 1


@njit(cache=True, **JIT_OPTIONS)
def tiled_gradient(z_block, x_block, grad_block):
    """``grad_block = z_block.T @ x_block``.

    Parameters
    ----------
    z_block : ndarray of shape (n_rows, n_classes)
    x_block : ndarray of shape (n_rows, n_features), C order
    grad_block : ndarray of shape (n_classes, n_features), C order
        Overwritten.
    """
    n_rows, n_features = x_block.shape
    n_classes = z_block.shape[1]
    grad_block[:, :] = 0
    i = 0
    while i + 4 <= n_rows:
        x0, x1, x2, x3 = x_block[i], x_block[i + 1], x_block[i + 2], x_block[i + 3]
        k = 0
        while k + 2 <= n_classes:
            g00, g10, g20, g30 = z_block[i, k], z_block[i + 1, k], z_block[i + 2, k], z_block[i + 3, k]
            g01, g11 = z_block[i, k + 1], z_block[i + 1, k + 1]
            g21, g31 = z_block[i + 2, k + 1], z_block[i + 3, k + 1]
            out0, out1 = grad_block[k], grad_block[k + 1]
            for j in range(n_features):
                p0, p1, p2, p3 = x0[j], x1[j], x2[j], x3[j]
                out0[j] += g00 * p0 + g10 * p1 + g20 * p2 + g30 * p3
                out1[j] += g01 * p0 + g11 * p1 + g21 * p2 + g31 * p3
            k += 2
        if k < n_classes:
            g00, g10, g20, g30 = z_block[i, k], z_block[i + 1, k], z_block[i + 2, k], z_block[i + 3, k]
            out0 = grad_block[k]
            for j in range(n_features):
                out0[j] += g00 * x0[j] + g10 * x1[j] + g20 * x2[j] + g30 * x3[j]
        i += 4
    while i < n_rows:
        x = x_block[i]
        for k in range(n_classes):
            g = z_block[i, k]
            out = grad_block[k]
            for j in range(n_features):
                out[j] += g * x[j]
        i += 1
