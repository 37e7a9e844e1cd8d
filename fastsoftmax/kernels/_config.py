"""Compilation settings shared by every kernel, kept in one place.

``FASTMATH`` is the set of LLVM fast-math flags the kernels are compiled with.
It deliberately leaves out ``nnan`` and ``ninf``: a softmax must handle rows
of ``-inf`` scores (masked classes) and the compiler may not assume they never
occur. ``reassoc`` and ``contract`` let LLVM vectorise reductions and fuse
multiply-adds; ``arcp`` turns divisions by a row's sum into multiplications.
``nsz`` is left out too: together with ``reassoc`` it lets LLVM fold
``x - x`` to 0 even for infinite ``x``.

``N_ROW_RANGES`` is the fixed number of contiguous row ranges a loss/gradient
evaluation is split into. Each range accumulates its own partial gradient in
row order and the partials are added in range order, so results do not depend
on the number of threads or on scheduling. It is a constant, never the thread
count.
"""

FASTMATH = {"reassoc", "contract", "arcp"}

#: Options for every compiled function (each also passes cache=True itself,
#: so that the rule is visible at every kernel): GIL released, shared flags.
JIT_OPTIONS = dict(nogil=True, fastmath=FASTMATH, error_model="numpy")

#: Options for the elementary functions of ``elementary.py`` (exp, log):
#: ``contract`` only. Their argument reduction subtracts ``k * ln2`` in two
#: parts, and ``reassoc`` would allow LLVM to merge the parts and lose the
#: low bits. Instructions keep their flags when LLVM inlines them into a
#: kernel, so the kernels' own flags do not leak in.
EXACT_FASTMATH = {"contract"}
EXACT_JIT_OPTIONS = dict(nogil=True, fastmath=EXACT_FASTMATH, error_model="numpy")

#: Fixed partition of the rows for deterministic reductions.
N_ROW_RANGES = 32

#: Target size in bytes of one block of rows of X: a block is read by the
#: score tiles and again by the gradient tiles, so it should stay in L2
#: (with the next block, which is prefetched meanwhile).
ROW_BLOCK_BYTES = 256 * 1024

#: Memory budget of the per-range gradient partials of the CSR kernels
#: (n_ranges * n_features * n_classes float64). Wide sparse data (d in the
#: hundreds of thousands) gets fewer ranges rather than gigabytes of partials,
#: and no more of them than the machine has cores (``objective.sparse_n_ranges``).
SPARSE_PARTIALS_BYTES = 64 * 2**20

#: Bounds on the number of rows in one block. Each gradient tile sums over
#: the rows of a block in registers before it touches memory, so a block of
#: very wide rows still gets at least MIN_ROW_BLOCK of them. Narrow rows get
#: up to MAX_ROW_BLOCK: fewer blocks, fewer gradient stores, longer stretches
#: of prefetch. One evaluation at 1,000,000 x 20, K=3, X from memory, two
#: threads, three rounds, 512 -> 2048 rows (1632 in float64): loss+gradient
#: 7.43, 7.49, 7.09 -> 7.25, 6.87, 6.78 ms (float64) and 4.09, 4.06, 4.08 ->
#: 3.81, 3.88, 3.87 ms (float32); the loss alone level in float64, 3.01,
#: 2.95, 3.04 -> 2.82, 2.82, 2.84 ms in float32. 1,000,000 x 50, K=5,
#: float64, 512 -> 648 rows: 23.0, 18.4, 18.1 -> 19.0, 17.7, 17.7 ms.
#: predict_proba level (1,000,000 x 20, K=3 and 1,000,000 x 100, K=10).
MIN_ROW_BLOCK = 48
MAX_ROW_BLOCK = 2048
