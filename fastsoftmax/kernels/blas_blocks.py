"""The two products of a row block by BLAS, for problems with many classes.

With hundreds of classes the score and gradient products of a block are
small matrix multiplications of their own (a block of 512 rows times 1,000
classes), and a tuned GEMM on cache-sized panels does them faster than the
register tiles of :mod:`fastsoftmax.kernels.blocks`, whose classes-in-lanes
layout is built for the streaming, few-class case. Measured on 2 cores
(AVX-512; one loss+gradient evaluation, best of 7, one-off script of
2026-12-04; gradients within 2e-15 relative of the tiles' in float64 and
1e-6 in float32):

================  =========  ===============  =================
shape             dtype      register tiles   BLAS, 512-row blocks
================  =========  ===============  =================
100k x 300, K=100  float64    112 ms           125 ms
100k x 300, K=300  float64    322 ms           321 ms
50k x 512, K=500   float64    502 ms           419 ms
50k x 512, K=1000  float64    939 ms           832 ms
50k x 512, K=1000  float32    504 ms           420 ms
100k x 64, K=1000  float32    247 ms           146 ms
20k x 2000, K=1000 float64    1.79 s           1.29 s
================  =========  ===============  =================

So the dense kernels switch to these products from ``BLAS_MIN_CLASSES``
classes on, with blocks of ``BLAS_ROW_BLOCK`` rows: GEMM packs the
coefficient panel once per call, and the smaller blocks the tiles use (64
rows at d=512) left it 10% to 30% slower.

Narrow rows once changed the balance earlier: a score tile wrote its
class-major results with one scalar store per row and class, a cost per
score that few features could not spread, and the tiles lost the loss from
about 40 classes at d <= 32 (float32: d <= 64) on. Since the tiles transpose
their accumulators in registers and store each class's rows as one vector,
they win the loss at every narrow shape measured, so the loss switches by
the class count alone. Tiles against GEMM on the AMD EPYC host (one
loss+gradient evaluation, 2 threads, best of 7 alternating in one process,
2026-12-06; float64 / float32):

=================  ===============  ===============
shape              float64          float32
=================  ===============  ===============
500k x 16, K=40    30.2 / 35.4 ms   14.5 / 15.8 ms
500k x 32, K=40    72.7 / 76.9      20.6 / 24.6
500k x 32, K=100   93.5 / 113       46.8 / 58.5
500k x 64, K=100   165 / 209        92.0 / 127
500k x 64, K=200   341 / 383        160 / 177
200k x 128, K=200  228 / 266        102 / 124
200k x 32, K=400   163 / 189        74.9 / 89.6
100k x 64, K=1000  344 / 376        151 / 165
50k x 512, K=1000  1034 / 1108      539 / 562
=================  ===============  ===============

On that host the tiles also stay ahead from ``BLAS_MIN_CLASSES`` on (GEMM
4% to 20% slower: the last three rows, 50k x 512, K=500, and 100k x 64,
K=400).
The switch stays there: on the Intel host of the first table, before the
vector stores, GEMM was 11% to 41% faster. At 300 features and more the
stores were a small part of a tile's time, so that gap is unlikely to have
closed; 100k x 64, K=1000 may have moved and was not measured again there.

Prediction keeps the narrow-row switch (:func:`prefers_gemm_for_rows`): it
writes the probabilities row-major, and a block's class-major scores then
cross to the output a class at a time, which GEMM's row-major results do not
need. predict_proba into a preallocated output, tiles / GEMM, same host and
protocol: 500k x 16, K=40, 45.7 / 26.6 ms (float64) and 28.5 / 16.2 ms
(float32); 500k x 32, K=40, 56.4 / 39.3 and 33.1 / 22.7; 500k x 64, K=100,
170 / 135 and 102 / 68.7; 200k x 128, K=100, float32, 57.5 / 48.4; and the
tiles ahead where the rule keeps them: 500k x 32, K=20, 25.5 / 33.2 and
11.5 / 19.7; 500k x 64, K=40, float64, 64.1 / 68.1.

Scores and probabilities written row-major into an output
(``predict_proba``, ``decision_function``) need no class-major buffer on this
path: GEMM writes the output and the softmax runs along its rows. There GEMM
is level with the tiles or faster from fewer classes than for the loss: 200
in float32 and 300 in float64 (:func:`prefers_gemm_for_rows`; labels take the
same choice, so that ``predict`` and ``predict_proba`` use the same
products). ``predict_proba`` into a preallocated output, each cell tiles /
GEMM, float64 and float32 (best of 7, three alternating runs, 2026-12-05; the
middle run shown):

===================  =============  =============
shape                float64        float32
===================  =============  =============
100k x 300, K=100    78 / 89 ms     43 / 40 ms
100k x 300, K=150    101 / 126      56 / 56
100k x 300, K=200    145 / 144      68 / 64
100k x 300, K=300    201 / 208      114 / 96
200k x 100, K=200    134 / 135      106 / 64
200k x 100, K=300    185 / 191      152 / 92
50k x 512, K=200     117 / 113      59 / 52
50k x 512, K=300     180 / 159      92 / 73
20k x 2000, K=300    280 / 227      119 / 108
===================  =============  =============

Labels (``predict``) the same way: 200k x 100, K=200, float32 68 / 40 ms;
100k x 300, K=200, float32 53 / 50 ms; 50k x 512, K=300, float64 139 / 116
ms and float32 63 / 63 ms. Measured again on the AMD host after the vector
stores (same protocol as the narrow-row numbers above), the tiles were ahead
at 100k x 300, K=200 and K=300, and at 50k x 512, K=300 (GEMM 10% to 17%
slower), and GEMM at 200k x 100, K=200 and K=300 in float32 (62 / 93 ms and
90 / 139 ms, GEMM / tiles); the thresholds stay.

BLAS runs on one thread here: every kernel call is made inside
:func:`fastsoftmax._threads.kernel_threads`, which holds BLAS to one thread
while Numba's threads run the row ranges. The library is the one SciPy ships,
reached through Numba's own wrapper ``numba_xxgemm`` (a symbol of Numba's
runtime, so the compiled kernels stay cacheable). Its results do not depend
on the thread count: each row range is one sequential series of calls.

Layout. BLAS is column-major; a C-ordered (rows, cols) array with row
stride ``ld`` is the column-major (cols, rows) matrix with leading dimension
``ld``, so each product below is written for the transposes.
"""

import numpy as np
from numba import njit, types

from ._config import JIT_OPTIONS
from .elementary import fast_exp
from .rows import row_max
from .simd import use_full_vector_width

#: Classes from which the dense kernels use these products (between the
#: break-even at K=300 and the first clear gain at K=500 in the table above).
BLAS_MIN_CLASSES = 400


def prefers_gemm(n_features, n_classes, itemsize):
    """Whether the dense loss kernels should use these GEMM products for a
    shape: from ``BLAS_MIN_CLASSES`` classes on (see the tables of the
    module docstring; ``n_features`` and ``itemsize`` do not change it)."""
    return n_classes >= BLAS_MIN_CLASSES


def _narrow_rows_prefer_gemm(n_features, n_classes, itemsize):
    """Prediction on narrow rows: GEMM from 40 classes at ``n_features <=
    32`` (float64) or ``<= 64`` (float32), and from 100 classes at
    ``n_features <= 64`` (float64) or ``<= 128`` (float32)."""
    if n_classes >= 100 and n_features <= (128 if itemsize == 4 else 64):
        return True
    return n_classes >= 40 and n_features <= (64 if itemsize == 4 else 32)


#: Classes from which scores and probabilities written row-major into an
#: output use these products (see the last table above), per itemsize.
ROWS_MIN_CLASSES = {4: 200, 8: 300}


def prefers_gemm_for_rows(n_features, n_classes, itemsize):
    """Whether scores or probabilities written row-major into an output
    (prediction) should use these GEMM products: from ``ROWS_MIN_CLASSES``
    classes (200 in float32, 300 in float64) at any number of features
    (level with the tiles or faster at every shape measured), and earlier on
    narrow rows (:func:`_narrow_rows_prefer_gemm`). Always where
    :func:`prefers_gemm` says so, since ``ROWS_MIN_CLASSES`` lies below
    ``BLAS_MIN_CLASSES``."""
    if n_classes >= ROWS_MIN_CLASSES[itemsize]:
        return True
    return _narrow_rows_prefer_gemm(n_features, n_classes, itemsize)


#: Rows per block on the BLAS path.
BLAS_ROW_BLOCK = 512
#: float32 block products summed in float32 before they go into the float64
#: partial (see :func:`blas_block_gradient`).
F32_BLOCKS_PER_SUM = 8

# int numba_xxgemm(char kind, char transa, char transb, intp m, intp n,
#                  intp k, void *alpha, void *a, intp lda, void *b, intp ldb,
#                  void *beta, void *c, intp ldc): column-major
# C = alpha op(A) op(B) + beta C, where kind 'd' or 's' names the dtype.
_xxgemm = types.ExternalFunction(
    "numba_xxgemm",
    types.intc(
        types.char, types.char, types.char, types.intp, types.intp, types.intp,
        types.voidptr, types.voidptr, types.intp, types.voidptr, types.intp,
        types.voidptr, types.voidptr, types.intp,
    ),
)
_N = np.int8(ord("N"))
_T = np.int8(ord("T"))


@njit(cache=True, **JIT_OPTIONS)
def _gemm(transa, transb, m, n, k, A, lda, B, ldb, beta, C, ldc):
    """Column-major ``C = op(A) @ op(B) + beta * C`` (all of X's dtype)."""
    scalars = np.ones(2, dtype=C.dtype)
    scalars[1] = beta
    kind = np.int8(ord("d")) if C.itemsize == 8 else np.int8(ord("s"))
    return _xxgemm(
        kind, transa, transb, m, n, k, scalars[0:].ctypes, A.ctypes, max(1, lda),
        B.ctypes, max(1, ldb), scalars[1:].ctypes, C.ctypes, max(1, ldc),
    )


@njit(cache=True, **JIT_OPTIONS)
def _small_product_ok(dtype_example):
    """Whether GEMM runs and multiplies correctly in this dtype (a 2x3 @ 3x2)."""
    A = np.arange(6).astype(dtype_example.dtype).reshape(2, 3)
    B = np.arange(6).astype(dtype_example.dtype).reshape(3, 2)
    C = np.zeros((2, 2), dtype=dtype_example.dtype)
    # Row-major C = A @ B is column-major C^T = B^T A^T.
    status = _gemm(_N, _N, 2, 2, 3, B, 2, A, 3, 0.0, C, 2)
    return status == 0 and C[0, 0] == 10 and C[0, 1] == 13 and C[1, 0] == 28 and C[1, 1] == 40


_GEMM_WORKS = {}


def gemm_available(itemsize):
    """Whether the GEMM products can run here, checked once per dtype.

    ``numba_xxgemm`` returns an error status, and computes nothing, when
    SciPy's BLAS cannot be loaded; the kernels do not check the status of
    each call, so the layout asks this first and uses the register tiles
    when it is false.
    """
    if itemsize not in _GEMM_WORKS:
        example = np.zeros(1, dtype=np.float64 if itemsize == 8 else np.float32)
        _GEMM_WORKS[itemsize] = bool(_small_product_ok(example))
    return _GEMM_WORKS[itemsize]


@njit(cache=True, **JIT_OPTIONS)
def blas_block_scores(X, b0, n_rows, Wt, St, n_classes):
    """``St[k, i] = X[b0 + i] @ Wt[:, k]`` for ``i < n_rows``, ``k < n_classes``.

    Same contract as :func:`fastsoftmax.kernels.blocks.block_scores`.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C order
    b0, n_rows : int
    Wt : ndarray of shape (n_features, kp >= n_classes), C order, dtype of X
    St : ndarray of shape (>= n_classes, ld >= n_rows), C order, dtype of X
    n_classes : int
    """
    d = X.shape[1]
    # Column-major: St^T (n_rows x K, ld) = X_block (n_rows x d) @ W^T (d x K),
    # where X_block is stored as a (d x n_rows) matrix and Wt as a (kp x d) one.
    _gemm(
        _T, _T, n_rows, n_classes, d, X[b0 : b0 + n_rows], d, Wt, Wt.shape[1], 0.0,
        St, St.shape[1],
    )


@njit(cache=True, **JIT_OPTIONS)
def blas_block_gradient(St, X, b0, n_rows, n_classes, G, sums, pending, last):
    """``G[k, :] += sum_i St[k, i] * X[b0 + i, :]`` for ``k < n_classes``.

    In float32 the block's product goes into ``sums`` (float32), which
    collects up to ``F32_BLOCKS_PER_SUM`` blocks before it is added into the
    float64 ``G``: adding a (K, d) product into ``G`` after every block
    touched 6 MB per block at K=1000, d=512 (the 2 MB float32 product and the
    4 MB float64 partial); summing 8 blocks first took one evaluation there
    from 478 and 474 ms to 439 and 443 ms (two alternating runs each).
    The float32 sums span at most ``F32_BLOCKS_PER_SUM * BLAS_ROW_BLOCK`` rows
    (GEMM itself sums a block's 512 rows in float32).

    Parameters
    ----------
    St : ndarray of shape (>= n_classes, ld >= n_rows), C order, dtype of X
        Gradient factors, class-major.
    X : ndarray of shape (n_samples, n_features), C order
    b0, n_rows, n_classes : int
    G : ndarray of shape (>= n_classes, n_features), C order, float64
        Accumulated into; its other rows are left as they are.
    sums : ndarray of shape (n_classes, n_features), C order, float32
        Pending float32 block products (float32 X); unused, and may be empty,
        for float64 X.
    pending : int
        Blocks already in ``sums`` (0 after a flush).
    last : bool
        Whether this is the range's last block: ``sums`` is then flushed.

    Returns
    -------
    int
        Blocks now pending in ``sums``.
    """
    d = X.shape[1]
    block = X[b0 : b0 + n_rows]
    # Column-major: G^T (d x K) += X_block^T (d x n_rows) @ St^T (n_rows x K).
    if X.itemsize == 8:
        _gemm(_N, _N, d, n_classes, n_rows, block, d, St, St.shape[1], 1.0, G, d)
        return 0
    beta = 1.0 if pending > 0 else 0.0
    _gemm(_N, _N, d, n_classes, n_rows, block, d, St, St.shape[1], beta, sums, d)
    pending += 1
    if pending < F32_BLOCKS_PER_SUM and not last:
        return pending
    for k in range(n_classes):
        for j in range(d):
            G[k, j] += sums[k, j]
    return 0


# -- prediction: scores straight into the rows of the output ------------------
# The class-major buffer of the fused kernels would have to be transposed into
# the row-major output, and with hundreds of classes its column walk strides
# by whole pages (512 rows of float64 are 4 KiB apart). GEMM writes row-major
# scores directly into the output instead, and the softmax then runs along
# each contiguous row.


@njit(cache=True, **JIT_OPTIONS)
def blas_block_row_scores(X, b0, n_rows, Wt, n_classes, out):
    """``out[i, k] = X[b0 + i] @ Wt[:, k]`` for ``i < n_rows``, ``k < n_classes``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C order
    b0, n_rows : int
    Wt : ndarray of shape (n_features, kp >= n_classes), C order, dtype of X
    n_classes : int
    out : ndarray of shape (n_rows, n_classes), C order, dtype of X
    """
    d = X.shape[1]
    # Column-major: out^T (K x n_rows) = W (K x d) @ X_block^T (d x n_rows),
    # where Wt is stored as a (kp x d) matrix and X_block as a (d x n_rows) one.
    _gemm(_N, _N, n_classes, n_rows, d, Wt, Wt.shape[1], X[b0 : b0 + n_rows], d, 0.0, out, n_classes)


@njit(cache=True, **JIT_OPTIONS)
def _add_intercept(row, intercept):
    """``row += intercept`` for one row of scores (nothing for an empty intercept)."""
    if intercept.shape[0] > 0:
        for k in range(row.shape[0]):
            row[k] += intercept[k]


@njit(cache=True, **JIT_OPTIONS)
def _wide_row_max(row):
    """``max(row)`` with eight running maxima, for rows of 16 entries or more.

    One running maximum is a chain of dependent compares, about 1 ns an
    entry at 1,000 classes; eight overlap (0.23 ns in float32, 0.33 ns in
    float64, one core). LLVM vectorises a max reduction only under the
    no-NaN flag, which the kernels leave out. A NaN entry may or may not
    come out here; it makes its row's sum of exponentials NaN either way.
    """
    n = row.shape[0]
    m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = row[0]
    full = n - n % 8
    for k in range(0, full, 8):
        m0 = max(m0, row[k])
        m1 = max(m1, row[k + 1])
        m2 = max(m2, row[k + 2])
        m3 = max(m3, row[k + 3])
        m4 = max(m4, row[k + 4])
        m5 = max(m5, row[k + 5])
        m6 = max(m6, row[k + 6])
        m7 = max(m7, row[k + 7])
    m = max(max(max(m0, m1), max(m2, m3)), max(max(m4, m5), max(m6, m7)))
    for k in range(full, n):
        m = max(m, row[k])
    return m


@njit(cache=True, **JIT_OPTIONS)
def rows_add_intercept(out, intercept):
    """``out[i, k] += intercept[k]`` (nothing for an empty intercept).

    Returns
    -------
    bool
        Whether the sum of the scores is finite (false for any NaN or
        infinite score, which non-finite X always causes).
    """
    check = 0.0
    for i in range(out.shape[0]):
        row = out[i]
        _add_intercept(row, intercept)
        for k in range(row.shape[0]):
            check += row[k]
    return np.isfinite(check)


@njit(cache=True, **JIT_OPTIONS)
def rows_softmax(out, intercept):
    """Row-wise ``softmax(out[i] + intercept)``, in place.

    The row helpers' softmax (:func:`~fastsoftmax.kernels.rows.softmax_row`)
    with the vectorisable exponential of the block kernels.

    Parameters
    ----------
    out : ndarray of shape (n_rows, n_classes), C order
        Scores without intercept; overwritten with probabilities.
    intercept : ndarray of shape (n_classes,) or (0,)

    Returns
    -------
    bool
        Whether every score was finite (a non-finite one makes its row's sum
        of exponentials NaN).
    """
    use_full_vector_width()
    check = 0.0
    wide = out.shape[1] >= 16
    for i in range(out.shape[0]):
        row = out[i]
        _add_intercept(row, intercept)
        m = _wide_row_max(row) if wide else row_max(row)
        total = row.dtype.type(0)
        for k in range(row.shape[0]):
            e = fast_exp(row[k] - m)
            row[k] = e
            total += e
        check += total
        inv_total = row.dtype.type(1) / total
        for k in range(row.shape[0]):
            row[k] *= inv_total
    return np.isfinite(check)
