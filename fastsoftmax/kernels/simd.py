"""Register-blocked vector code that LLVM's auto-vectoriser does not write.

Why this module exists
----------------------
Both matrix products of a loss/gradient evaluation are skinny: a block of a
few hundred rows times ``n_features`` times ``n_classes``, with ``n_classes``
often around 10. BLAS runs such shapes at a fraction of its square-matrix
rate, and plain Numba loops reach about two thirds of the machine's FMA rate
at best: LLVM's loop vectoriser keeps accumulators in registers only for
reductions over the innermost loop, so the gradient ``G += Z.T @ X`` is
compiled with its accumulators in memory. The kernels here are the
register-blocked inner loops of a GEMM ("micro-kernels"), emitted as LLVM IR
through :func:`numba.extending.intrinsic`: explicit vector registers,
broadcasts and fused multiply-adds. They are compiled into the calling
``njit`` function and cached with it like any other Numba code.

The one operation
-----------------
Every product is one shape of tile, repeated along a row of tiles::

    for q < n_tiles:
        acc[r, l] = sum_{p < n_steps} A[a_off + q a_next + r a_row + p a_step]
                                    * B[b_off + q b_next + p b_step + l]

for ``r < n_rows`` (a compile-time constant) and lanes ``l`` spanning a
compile-time list of vectors. Vector sizes are given in units of 32 bytes
(4 float64 or 8 float32 lanes), so one tile serves both dtypes. Each step
of ``p`` loads the vectors of B once, broadcasts ``n_rows`` scalars of A and
does ``n_rows * len(units)`` vector FMAs into accumulators that stay in
registers for the whole loop over ``p``. Two ways of writing the result:

* ``"add"``: ``C[c_off + q c_next + r c_row + l] += acc[r, l]`` with vector
  loads and stores. With ``masked_last``, lanes ``l >= n_valid`` are neither
  loaded from B nor written to C (nothing beyond them is read). float32
  accumulators are widened to float64 when C is float64.
* ``"transposed"``: ``C[c_off + q c_next + r c_row + l c_lane] = acc[r, l]``
  for ``l < n_valid`` (for class-major score blocks). Where ``n_rows`` is a
  power of two above 1, the accumulators are transposed in registers and
  each lane's rows go out as one vector, so those tiles need ``c_row = 1``;
  other tiles store lane by lane.

While it computes, a tile can prefetch a stream of memory into L2 cache, one
64-byte line per step (or more, see ``lines_per_step``): ``P[pf_off + q
pf_next + p * line]`` for ``p < pf_lines``. Memory that the hardware
prefetcher does not see coming (rows of X read side by side, or the next
block) then arrives while the FMAs run.

The integers travel in a :class:`TileSpan` named tuple. Offsets and strides
are in elements. Nothing is bounds-checked: callers guarantee that every
address touched lies inside its array.

Features in the lanes
---------------------
With few classes, classes in the lanes leave most of a register idle (3 of
8 float64 lanes at K=3). :func:`make_dot_tile` turns the product around:
every accumulator is one register of partial dot products along the
features, for one row of X and one class of the coefficients::

    for q < n_tiles:
        acc[r, c] = sum_{j < n_chunks} X[x_off + q x_next + r x_row + j L : ... + L]
                                     * W[w_off + c w_row + j L : ... + L]
        St[s_off + c s_row + q n_rows + r] = sum over the lanes of acc[r, c]

for ``r < n_rows`` and ``c < n_classes`` (compile-time constants) and
vectors of ``L`` lanes (one native register). Each chunk loads ``n_rows +
n_classes`` vectors for ``n_rows * n_classes`` multiply-adds, and every lane
is useful except past the last feature (the last chunk of X is a masked
load; W is zero there). The lane sums of the ``n_rows`` accumulators of a
class are formed together, pairwise: two registers are folded into one by
two shuffles and an add, so that the ``n_rows`` sums arrive in one vector,
in row order, for one store into the class-major scores. The order of the
additions for one row does not depend on ``n_rows``, so a row's score is
the same bits in any tile. Its integers travel in a :class:`DotSpan`.

Classes and features in the lanes
---------------------------------
With 2 to 4 classes, :func:`make_grouped_tile` shares each register between
``S`` class slots (2 or 4) and ``G = lanes / S`` consecutive features: lane
``s G + f`` of chunk ``j`` of the coefficients holds ``W[s, j G + f]``, and
one load of ``G`` features of a row of X, repeated ``S`` times across the
register (a subvector broadcast), meets them in one multiply-add::

    acc[r][s G + f] = sum_{j} X[x_off + q x_next + r x_row + j G + f] * Wg[w_off + j w_row + s G + f]
    St[s_off + s s_row + q n_rows + r] = sum_{f < G} acc[r][s G + f]

Every lane is useful but the padding slot of K=3 and past the last feature
(the last chunk of X is a masked load; the coefficients are zero there).
Per row and ``G`` features this is one broadcast and one multiply-add,
where class panels take ``G`` of each. The ``G`` partial sums of a slot are
folded pairwise across rows (as in :func:`_lane_sums`), and each slot's
rows leave in one vector. Its integers travel in a :class:`GroupSpan`.
Rows in the lanes
-----------------
In float64 with a few classes (and with 9 to 11, which leave lanes of the
class panels idle), :func:`make_row_lane_tile` puts ``L`` rows of X in the
lanes (one register's worth) instead of classes or features.
It loads the rows' next ``L`` features as ``L`` vectors, transposes them in
registers (``L log2 L`` shuffles) and multiplies each feature's vector of
``L`` rows by the feature's coefficient of each class, broadcast::

    St[s_off + c s_row + r] = sum_j X[x_off + r x_row + j] * Wt[w_off + j w_row + c]

Each accumulator is already a class's scores for ``L`` consecutive rows,
stored as one vector: no lane is idle but past the last feature, and no
sums across lanes are needed. The shuffles are paid per entry of X, not per
score. The tiles cover whole groups of ``L`` rows only: the caller scores
the rows after the last group another way, in the same order of
multiply-adds (a row's score is then the same bits either way).
"""

from collections import namedtuple
from functools import partial

from llvmlite import binding as llvm_binding
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, register_jitable

_I32 = ir.IntType(32)
_LINE_BYTES = 64

#: Where a row of tiles reads and writes (see the module docstring).
TileSpan = namedtuple(
    "TileSpan",
    [
        "a_off", "a_row", "a_step", "a_next",
        "b_off", "b_step", "b_next",
        "c_off", "c_row", "c_lane", "c_next",
        "n_steps", "n_tiles", "n_valid",
        "pf_off", "pf_next", "pf_lines",
    ],
)


#: Where a row of features-in-lanes tiles reads and writes (see "Features in
#: the lanes" above); ``n_chunks`` counts the whole vectors of features and
#: ``tail`` the features after them (0 to ``L - 1``). With ``pf_ahead > 0``,
#: each vector of X loaded has the line ``pf_ahead`` elements after it
#: prefetched: the tile's rows are contiguous, so every line of X that far
#: ahead is asked for once.
DotSpan = namedtuple(
    "DotSpan",
    [
        "x_off", "x_row", "x_next",
        "w_off", "w_row",
        "s_off", "s_row",
        "n_chunks", "tail", "n_tiles",
        "pf_ahead",
    ],
)


#: Where a row of classes-and-features tiles reads and writes (see "Classes
#: and features in the lanes" above): ``n_chunks`` whole chunks of ``G``
#: features and ``tail`` features after them; scores are stored for slots
#: below ``n_classes``. With ``pf_ahead > 0`` each chunk step prefetches the
#: lines of the tile's rows (contiguous) ``pf_ahead`` elements ahead.
GroupSpan = namedtuple(
    "GroupSpan",
    [
        "x_off", "x_row", "x_next",
        "w_off", "w_row",
        "s_off", "s_row",
        "n_chunks", "tail", "n_tiles", "n_classes",
        "pf_ahead",
    ],
)


#: Where a rows-in-lanes tile reads and writes (see "Rows in the lanes"
#: above): rows ``0 .. n_rows`` of X from ``x_off`` on, ``n_chunks`` whole
#: vectors of features and ``tail`` features after them; ``w_off`` and
#: ``w_row`` place feature ``j``'s coefficients in Wt, ``s_off`` and
#: ``s_row`` the scores in St. With ``pf_ahead > 0`` each vector of X loaded
#: has the line ``pf_ahead`` elements after it prefetched.
RowLaneSpan = namedtuple(
    "RowLaneSpan",
    [
        "x_off", "x_row",
        "w_off", "w_row",
        "s_off", "s_row",
        "n_chunks", "tail", "n_rows",
        "pf_ahead",
    ],
)


def _host_has_avx512():
    features = llvm_binding.get_host_cpu_features()
    return bool(features.get("avx512f", False))


#: Bytes of one vector unit, the granule of every tile width: 4 float64 or
#: 8 float32 lanes.
UNIT_BYTES = 32

#: Units in one native vector register: 2 (512 bits) where the CPU has
#: AVX-512, else 1. LLVM splits wider vectors, so every width is correct on
#: every CPU; this one is the fastest.
REGISTER_UNITS = 2 if _host_has_avx512() else 1


def unit_lanes(itemsize):
    """Lanes of one 32-byte unit for elements of ``itemsize`` bytes."""
    return UNIT_BYTES // itemsize


def _suffix(vecty):
    element = "f64" if vecty.element == ir.DoubleType() else "f32"
    return f"v{vecty.count}{element}"


def _splat(builder, scalar, vecty):
    undef = ir.Constant(vecty, ir.Undefined)
    one = builder.insert_element(undef, scalar, ir.Constant(_I32, 0))
    zeros = ir.Constant(ir.VectorType(_I32, vecty.count), [0] * vecty.count)
    return builder.shuffle_vector(one, undef, zeros)


def _lane_mask(builder, n_valid, count):
    """``<count x i1>``: lane ``l`` is on when ``l < n_valid``."""
    i64v = ir.VectorType(ir.IntType(64), count)
    lanes = ir.Constant(i64v, list(range(count)))
    bound = _splat(builder, n_valid, i64v)
    return builder.icmp_signed("<", lanes, bound)


def _load(builder, ptr, vecty, align, mask=None):
    if mask is None:
        return builder.load(builder.bitcast(ptr, vecty.as_pointer()), align=align)
    fnty = ir.FunctionType(vecty, [ptr.type, _I32, mask.type, vecty])
    fn = cgutils.get_or_insert_function(
        builder.module, fnty, f"llvm.masked.load.{_suffix(vecty)}.p0"
    )
    zeros = ir.Constant(vecty, [0.0] * vecty.count)
    return builder.call(fn, [ptr, ir.Constant(_I32, align), mask, zeros])


def _store(builder, value, ptr, align, mask=None):
    vecty = value.type
    if mask is None:
        builder.store(value, builder.bitcast(ptr, vecty.as_pointer()), align=align)
        return
    fnty = ir.FunctionType(ir.VoidType(), [vecty, ptr.type, _I32, mask.type])
    fn = cgutils.get_or_insert_function(
        builder.module, fnty, f"llvm.masked.store.{_suffix(vecty)}.p0"
    )
    builder.call(fn, [value, ptr, ir.Constant(_I32, align), mask])


def prefetch_line(builder, ptr):
    """Emit a prefetch of the cache line at ``ptr`` into L2 (a hint: never
    faults, changes no result): read, locality 2 (the line is used a while
    later, after L1 has been recycled), data cache."""
    i8p = ir.IntType(8).as_pointer()
    fn = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [i8p, _I32, _I32, _I32]), "llvm.prefetch.p0"
    )
    hint = [ir.Constant(_I32, 0), ir.Constant(_I32, 2), ir.Constant(_I32, 1)]
    builder.call(fn, [builder.bitcast(ptr, i8p), *hint])


def _is_span(span_type, span_class):
    """Whether a Numba type is a tuple of integers with ``span_class``'s fields."""
    return (
        isinstance(span_type, types.BaseTuple)
        and len(span_type) == len(span_class._fields)
        and all(isinstance(t, types.Integer) for t in span_type)
    )


def _one_float_dtype(*arrays):
    """Whether Numba types are all arrays of one dtype, float32 or float64."""
    return (
        all(isinstance(t, types.Array) for t in arrays)
        and len({t.dtype for t in arrays}) == 1
        and arrays[0].dtype in (types.float32, types.float64)
    )


def _span_fields(context, builder, value, span_type, span_class):
    """The integers of a span tuple ``value`` by field name, as ``intp``."""
    return {
        name: context.cast(builder, builder.extract_value(value, i), ty, types.intp)
        for i, (name, ty) in enumerate(zip(span_class._fields, span_type))
    }


def _add_indices(builder, first, *terms):
    """The integer sum of ``first`` and ``terms``, in order."""
    for term in terms:
        first = builder.add(first, term)
    return first


def _data_pointers(context, builder, array_types, values):
    """The data pointers of the arrays ``values`` (Numba types ``array_types``)."""
    return [context.make_array(t)(context, builder, v).data for t, v in zip(array_types, values)]


def _index_constant(context):
    """``const(value)``: an ``intp`` constant, for offsets and counts."""
    return partial(ir.Constant, context.get_value_type(types.intp))


def _fma(builder, a, b, c):
    fnty = ir.FunctionType(a.type, [a.type] * 3)
    fn = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.fma.{_suffix(a.type)}")
    return builder.call(fn, [a, b, c])


def make_tile(n_rows, units, store, masked_last=False, packed_tail=0, lines_per_step=None):
    """Build a tile intrinsic (see the module docstring for what it computes).

    Parameters
    ----------
    n_rows : int
        Rows of the tile (scalars of A broadcast per step).
    units : tuple of int
        Size of each vector of the tile, in 32-byte units (so 4 or 8 lanes
        per unit for float64 or float32); their sum is the tile's width.
    store : {"add", "transposed"}
    masked_last : bool, default=False
        With ``store="add"``: only lanes below ``n_valid`` are loaded from B
        and written to C.
    packed_tail : int, default=0
        With ``store="transposed"``: ``t`` more lanes (1 or 2) after the
        vectors of ``units``, computed for several rows in one unit-sized
        vector (lanes ``[row r: t lanes, row r+1: t lanes, ...]``), so that
        no lane is wasted on padding (see :class:`_PackedTail`). ``n_rows``
        must be a multiple of the rows per vector (unit lanes / t).
    lines_per_step : dict of int to int, optional
        Lines of P prefetched per step, by the itemsize of P: lines ``s *
        per_step`` to ``(s + 1) * per_step - 1`` at step ``s``, those below
        ``pf_lines``. One for itemsizes it does not name, or when None.

    Returns
    -------
    intrinsic
        Called from ``njit`` code as ``tile(A, B, C, P, span)`` with arrays
        A, B, C, P (only their data pointers are used) and a
        :class:`TileSpan` of integers. A and B share a float dtype; C has it
        too, or is float64 with ``store="add"``.
    """
    if store not in ("add", "transposed"):
        raise ValueError(f"unknown store {store!r}")
    if masked_last and store != "add":
        raise ValueError("masked_last needs store='add'")
    if packed_tail and (store != "transposed" or packed_tail not in (1, 2)):
        raise ValueError("packed_tail of 1 or 2 lanes needs store='transposed'")
    units = tuple(int(u) for u in units)

    @intrinsic
    def tile(typingctx, A, B, C, P, span):
        if not all(isinstance(t, types.Array) for t in (A, B, C, P)):
            return None
        if A.dtype != B.dtype or A.dtype not in (types.float32, types.float64):
            return None
        if C.dtype != A.dtype and not (store == "add" and C.dtype == types.float64):
            return None
        if not _is_span(span, TileSpan):
            return None
        lanes = unit_lanes(A.dtype.bitwidth // 8)
        widths = [u * lanes for u in units]
        lane_offsets = [sum(widths[:v]) for v in range(len(widths))]
        # Rows sharing one vector of the packed tail.
        group = lanes // packed_tail if packed_tail else 1
        if packed_tail and n_rows % group:
            raise ValueError(f"{n_rows} rows do not split into groups of {group}")

        def codegen(context, builder, signature, args):
            a_arr, b_arr, c_arr, p_arr, span_value = args
            fields = _span_fields(context, builder, span_value, span, TileSpan)
            a_data, b_data, c_data, p_data = _data_pointers(
                context, builder, (A, B, C, P), (a_arr, b_arr, c_arr, p_arr)
            )
            const = _index_constant(context)
            element = context.get_value_type(A.dtype)
            c_element = context.get_value_type(C.dtype)
            align = A.dtype.bitwidth // 8
            c_align = C.dtype.bitwidth // 8
            vector_types = [ir.VectorType(element, w) for w in widths]
            last = len(widths) - 1

            add = partial(_add_indices, builder)

            mask = None
            if masked_last:
                n_last = builder.sub(fields["n_valid"], const(lane_offsets[last]))
                mask = _lane_mask(builder, n_last, widths[last])
            line = const(_LINE_BYTES // (P.dtype.bitwidth // 8))
            per_step = (lines_per_step or {}).get(P.dtype.bitwidth // 8, 1)
            accumulators = [
                [cgutils.alloca_once(builder, vt) for vt in vector_types] for _ in range(n_rows)
            ]
            tail = _PackedTail(builder, element, lanes, packed_tail, group, n_rows, sum(widths))
            # Transposed tiles of several rows (a power of two) write each
            # lane's rows as one vector, after an in-register transpose,
            # instead of one scalar store per row and lane: at 20 features
            # those stores took from a fifth (K=3, float64) to two thirds
            # (K=100, float32) of the score products' time in cache.
            by_columns = store == "transposed" and n_rows > 1 and _is_power_of_two(n_rows)
            with cgutils.for_range(builder, fields["n_tiles"]) as tile_loop:
                q = tile_loop.index
                a_tile = add(fields["a_off"], builder.mul(q, fields["a_next"]))
                b_tile = add(fields["b_off"], builder.mul(q, fields["b_next"]))
                c_tile = add(fields["c_off"], builder.mul(q, fields["c_next"]))
                pf_tile = add(fields["pf_off"], builder.mul(q, fields["pf_next"]))
                for row in accumulators:
                    for acc, vt in zip(row, vector_types):
                        builder.store(ir.Constant(vt, [0.0] * vt.count), acc)
                tail.zero()
                with cgutils.for_range(builder, fields["n_steps"]) as step_loop:
                    p = step_loop.index
                    for extra in range(per_step):
                        p_line = add(builder.mul(p, const(per_step)), const(extra))
                        with builder.if_then(builder.icmp_signed("<", p_line, fields["pf_lines"])):
                            prefetch_line(builder, builder.gep(p_data, [add(pf_tile, builder.mul(p_line, line))]))
                    b_base = add(b_tile, builder.mul(p, fields["b_step"]))
                    b_vectors = [
                        _load(
                            builder, builder.gep(b_data, [add(b_base, const(off))]), vt, align,
                            mask if (masked_last and v == last) else None,
                        )
                        for v, (vt, off) in enumerate(zip(vector_types, lane_offsets))
                    ]
                    a_base = add(a_tile, builder.mul(p, fields["a_step"]))
                    scalars = []
                    for r, row in enumerate(accumulators):
                        a_index = add(a_base, builder.mul(const(r), fields["a_row"]))
                        scalar = builder.load(builder.gep(a_data, [a_index]))
                        scalars.append(scalar)
                        for acc, vt, b_vector in zip(row, vector_types, b_vectors):
                            fused = _fma(builder, _splat(builder, scalar, vt), b_vector, builder.load(acc))
                            builder.store(fused, acc)
                    if packed_tail:
                        tail_ptr = builder.gep(b_data, [add(b_base, const(sum(widths)))])
                        tail.step(_load(builder, tail_ptr, tail.b_type, align), scalars)

                if by_columns:
                    for v, off in enumerate(lane_offsets):
                        columns = _transpose(builder, [builder.load(row[v]) for row in accumulators])
                        _store_columns(builder, columns, c_data, c_tile, off, fields, const, align)
                else:
                    for r, row in enumerate(accumulators):
                        c_row = add(c_tile, builder.mul(const(r), fields["c_row"]))
                        for v, (acc, vt, off) in enumerate(zip(row, vector_types, lane_offsets)):
                            value = builder.load(acc)
                            if store == "transposed":
                                _store_lanes(builder, value, c_data, c_row, off, fields, const)
                                continue
                            if c_element != element:
                                value = builder.fpext(value, ir.VectorType(c_element, vt.count))
                            ptr = builder.gep(c_data, [add(c_row, const(off))])
                            lane_mask = mask if (masked_last and v == last) else None
                            old = _load(builder, ptr, value.type, c_align, lane_mask)
                            _store(builder, builder.fadd(old, value), ptr, c_align, lane_mask)
                if packed_tail:
                    tail.store(c_data, c_tile, fields, const, by_columns, align)
            return context.get_dummy_value()

        return types.void(A, B, C, P, span), codegen

    return tile


class _PackedTail:
    """The last ``t`` (1 or 2) lanes of a transposed tile, for several rows per vector.

    A panel of 10 classes in float64 would otherwise take a 4-lane vector
    for its last 2 classes in every row, half of it wasted; packed, one
    4-lane vector serves 2 rows (``[r0 c8, r0 c9, r1 c8, r1 c9]``): per
    step, the two B values are repeated across the vector (a load and a
    shuffle) and the rows' broadcast A scalars are blended into groups of
    ``t`` lanes. With float32 and 2 lanes, one 8-lane vector serves 4 rows.
    """

    def __init__(self, builder, element, lanes, t, group, n_rows, first_lane):
        self.builder, self.t, self.group, self.first_lane = builder, t, group, first_lane
        self.n_groups = n_rows // group if t else 0
        self.vector_type = ir.VectorType(element, lanes)
        self.b_type = ir.VectorType(element, t) if t else None
        self.accumulators = [cgutils.alloca_once(builder, self.vector_type) for _ in range(self.n_groups)]

    def zero(self):
        for acc in self.accumulators:
            self.builder.store(ir.Constant(self.vector_type, [0.0] * self.vector_type.count), acc)

    def step(self, b_values, scalars):
        """One step: ``acc[g] += spread(scalars of group g) * repeat(b_values)``."""
        builder, t, group = self.builder, self.t, self.group
        count = self.vector_type.count
        repeat = ir.Constant(ir.VectorType(_I32, count), [lane % t for lane in range(count)])
        b_vector = builder.shuffle_vector(b_values, ir.Constant(self.b_type, ir.Undefined), repeat)
        for g, acc in enumerate(self.accumulators):
            # Blends of broadcasts (the broadcasts are shared with the main
            # vectors' FMAs): lanes [i t, (i + 1) t) take row i's scalar.
            a_vector = _splat(builder, scalars[g * group], self.vector_type)
            for i in range(1, group):
                other = _splat(builder, scalars[g * group + i], self.vector_type)
                take = [count + lane if lane // t == i else lane for lane in range(count)]
                a_vector = builder.shuffle_vector(
                    a_vector, other, ir.Constant(ir.VectorType(_I32, count), take)
                )
            builder.store(_fma(builder, a_vector, b_vector, builder.load(acc)), acc)

    def store(self, c_data, c_tile, fields, const, by_columns, align):
        """Transposed stores: row ``g * group + i``, lane ``first_lane + c``;
        with ``by_columns``, one vector of all rows per lane (rows contiguous)."""
        builder = self.builder
        if by_columns:
            # All groups in row order: [r0 c0, r0 c1, r1 c0, ...].
            packed = _concatenate(builder, [builder.load(acc) for acc in self.accumulators])
            n_rows = self.n_groups * self.group
            columns = [
                _shuffle(builder, packed, packed, [r * self.t + c for r in range(n_rows)])
                for c in range(self.t)
            ]
            _store_columns(builder, columns, c_data, c_tile, self.first_lane, fields, const, align)
            return
        for g, acc in enumerate(self.accumulators):
            value = builder.load(acc)
            for i in range(self.group):
                row = g * self.group + i
                c_row = builder.add(c_tile, builder.mul(const(row), fields["c_row"]))
                lanes = builder.shuffle_vector(
                    value, ir.Constant(self.vector_type, ir.Undefined),
                    ir.Constant(ir.VectorType(_I32, self.t), [i * self.t + c for c in range(self.t)]),
                )
                _store_lanes(builder, lanes, c_data, c_row, self.first_lane, fields, const)


def _is_power_of_two(n):
    return n > 0 and n & (n - 1) == 0


def _shuffle(builder, a, b, indices):
    mask = ir.Constant(ir.VectorType(_I32, len(indices)), list(indices))
    return builder.shuffle_vector(a, b, mask)


def _concatenate(builder, vectors):
    """One vector of ``vectors`` (a power of two of them, of one type) end to end."""
    while len(vectors) > 1:
        vectors = [
            _shuffle(builder, vectors[i], vectors[i + 1], range(2 * vectors[i].type.count))
            for i in range(0, len(vectors), 2)
        ]
    return vectors[0]


def _transpose_square(builder, rows):
    """``m`` vectors of ``m`` lanes (``m`` a power of two) -> their transpose,
    by swapping the off-diagonal blocks of every size ``s = 1, 2, ..., m/2``:
    ``m log2(m)`` two-input shuffles."""
    m = len(rows)
    rows = list(rows)
    s = 1
    while s < m:
        for i in range(m):
            if i & s:
                continue
            a, b = rows[i], rows[i + s]
            # Row i keeps its lanes without bit s and takes row i+s's lanes
            # with bit s cleared; row i+s the other way round.
            rows[i] = _shuffle(builder, a, b, [l if not l & s else l - s + m for l in range(m)])
            rows[i + s] = _shuffle(builder, a, b, [l + s if not l & s else l + m for l in range(m)])
        s *= 2
    return rows


def _transpose(builder, rows):
    """``R`` vectors of ``w`` lanes -> ``w`` vectors of ``R`` lanes with
    ``out[l][r] = rows[r][l]`` (``R`` and ``w`` powers of two): squares of
    ``min(R, w)``, transposed and joined."""
    n_rows, width = len(rows), rows[0].type.count
    m = min(n_rows, width)
    columns = []
    for l0 in range(0, width, m):
        # Lanes l0 .. l0+m of every row, as m x m squares stacked down the rows.
        pieces = [
            row if m == width else _shuffle(builder, row, row, range(l0, l0 + m))
            for row in rows
        ]
        squares = [_transpose_square(builder, pieces[r0:r0 + m]) for r0 in range(0, n_rows, m)]
        for l in range(m):
            columns.append(_concatenate(builder, [square[l] for square in squares]))
    return columns


def _store_columns(builder, columns, c_data, c_tile, first_lane, fields, const, align):
    """``C[c_tile + (first_lane + l) * c_lane : ... + R] = columns[l]`` for the
    lanes with ``first_lane + l < n_valid``: one vector store per lane."""
    for lane, column in enumerate(columns):
        index = first_lane + lane
        with builder.if_then(builder.icmp_signed("<", const(index), fields["n_valid"])):
            target = builder.add(c_tile, builder.mul(const(index), fields["c_lane"]))
            _store(builder, column, builder.gep(c_data, [target]), align)


def _store_lanes(builder, value, c_data, c_row, first_lane, fields, const):
    """Transposed store: ``C[c_row + (first_lane + l) * c_lane] = value[l]``
    for the lanes with ``first_lane + l < n_valid``."""
    for lane in range(value.type.count):
        index = first_lane + lane
        with builder.if_then(builder.icmp_signed("<", const(index), fields["n_valid"])):
            element = builder.extract_element(value, ir.Constant(_I32, lane))
            target = builder.add(c_row, builder.mul(const(index), fields["c_lane"]))
            builder.store(element, builder.gep(c_data, [target]))


@intrinsic
def float_from_bits(typingctx, bits):
    """The float whose IEEE-754 bits are ``bits``: int64 -> float64, int32 -> float32."""
    if bits == types.int64:
        result = types.float64
    elif bits == types.int32:
        result = types.float32
    else:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(result))

    return result(bits), codegen


@intrinsic
def bits_from_float(typingctx, value):
    """The IEEE-754 bits of ``value``: float64 -> int64, float32 -> int32."""
    if value == types.float64:
        result = types.int64
    elif value == types.float32:
        result = types.int32
    else:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(result))

    return result(value), codegen


@intrinsic
def prefetch(typingctx, array, offset):
    """Ask for the cache line of ``array.flat[offset]`` to be brought into L2.

    A hint: never faults, even past the end of the array, and changes no
    result. For memory whose address is known ahead but that no hardware
    prefetcher can guess.
    """
    if not isinstance(array, types.Array) or not isinstance(offset, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        data = context.make_array(array)(context, builder, args[0]).data
        index = context.cast(builder, args[1], offset, types.intp)
        prefetch_line(builder, builder.gep(data, [index]))
        return context.get_dummy_value()

    return types.void(array, offset), codegen


#: The LLVM function attribute that lets the loop vectoriser use 512-bit
#: registers. On CPUs with AVX-512 LLVM otherwise keeps auto-vectorised
#: loops to 256 bits (to spare the clock on parts where wide instructions
#: lower it), which halves the throughput of the softmax loops here.
_FULL_WIDTH_ATTRIBUTE = '"prefer-vector-width"="512"'


@intrinsic
def use_full_vector_width(typingctx):
    """Let LLVM vectorise the loops of the calling function with the full
    width of the vector registers (512 bits where the CPU has AVX-512).

    Call it first in a compiled function whose loops LLVM vectorises itself
    (the tiles here build their vectors explicitly and need no hint). It
    changes no result of element-wise loops; reductions over a loop sum in
    a different but still fixed order. Without AVX-512 it does nothing.
    """

    def codegen(context, builder, signature, args):
        if REGISTER_UNITS == 2:
            # llvmlite's attribute set checks names against a list of flag
            # attributes; a key="value" attribute is written into the IR as is.
            set.add(builder.function.attributes, _FULL_WIDTH_ATTRIBUTE)
        return context.get_dummy_value()

    return types.void(), codegen


def make_dot_tile(n_rows, n_classes):
    """Build a features-in-lanes tile (see "Features in the lanes" above).

    Parameters
    ----------
    n_rows : int
        Rows of X per tile, a power of two no larger than the lanes of a
        register (4 or 8 float64 lanes with AVX-512 or AVX2).
    n_classes : int
        Classes per tile; ``n_rows * n_classes`` accumulator registers stay
        live.

    Returns
    -------
    intrinsic
        Called from ``njit`` code as ``tile(X, W, St, span)``: X (rows of
        features, C order), W (rows of coefficients, zero from the last
        feature to the end of its last vector) and St (class-major scores)
        share a float dtype; ``span`` is a :class:`DotSpan` of integers.
    """
    if n_rows < 1 or n_rows & (n_rows - 1):
        raise ValueError(f"n_rows must be a power of two, got {n_rows}")

    @intrinsic
    def tile(typingctx, X, W, St, span):
        if not (_one_float_dtype(X, W, St) and _is_span(span, DotSpan)):
            return None
        itemsize = X.dtype.bitwidth // 8
        lanes = REGISTER_UNITS * unit_lanes(itemsize)
        if n_rows > lanes:
            raise ValueError(f"{n_rows} rows exceed the {lanes} lanes of a register")

        def codegen(context, builder, signature, args):
            x_arr, w_arr, s_arr, span_value = args
            fields = _span_fields(context, builder, span_value, span, DotSpan)
            x_data, w_data, s_data = _data_pointers(context, builder, (X, W, St), (x_arr, w_arr, s_arr))
            const = _index_constant(context)
            vector_type = ir.VectorType(context.get_value_type(X.dtype), lanes)

            at = partial(_add_indices, builder)

            accumulators = [
                [cgutils.alloca_once(builder, vector_type) for _ in range(n_classes)]
                for _ in range(n_rows)
            ]
            tail_mask = _lane_mask(builder, fields["tail"], lanes)
            prefetching = builder.icmp_signed(">", fields["pf_ahead"], const(0))

            def chunk(x_tile, j, masked):
                offset = builder.mul(j, const(lanes))
                w_vectors = [
                    _load(builder, builder.gep(w_data, [at(fields["w_off"], builder.mul(const(c), fields["w_row"]), offset)]),
                          vector_type, itemsize)
                    for c in range(n_classes)
                ]
                for r in range(n_rows):
                    x_index = at(x_tile, builder.mul(const(r), fields["x_row"]), offset)
                    if not masked:
                        with builder.if_then(prefetching):
                            prefetch_line(builder, builder.gep(x_data, [at(x_index, fields["pf_ahead"])]))
                    x_vector = _load(builder, builder.gep(x_data, [x_index]), vector_type, itemsize,
                                     tail_mask if masked else None)
                    for c in range(n_classes):
                        acc = accumulators[r][c]
                        builder.store(_fma(builder, x_vector, w_vectors[c], builder.load(acc)), acc)

            with cgutils.for_range(builder, fields["n_tiles"]) as tile_loop:
                q = tile_loop.index
                x_tile = at(fields["x_off"], builder.mul(q, fields["x_next"]))
                for row in accumulators:
                    for acc in row:
                        builder.store(ir.Constant(vector_type, [0.0] * lanes), acc)
                with cgutils.for_range(builder, fields["n_chunks"]) as chunk_loop:
                    chunk(x_tile, chunk_loop.index, False)
                with builder.if_then(builder.icmp_signed(">", fields["tail"], const(0))):
                    chunk(x_tile, fields["n_chunks"], True)
                for c in range(n_classes):
                    sums = _lane_sums(builder, [builder.load(row[c]) for row in accumulators], lanes)
                    target = at(fields["s_off"], builder.mul(const(c), fields["s_row"]),
                                builder.mul(q, const(n_rows)))
                    pointer = builder.bitcast(builder.gep(s_data, [target]), sums.type.as_pointer())
                    builder.store(sums, pointer, align=itemsize)
            return context.get_dummy_value()

        return types.void(X, W, St, span), codegen

    return tile


def make_row_lane_tile(n_classes):
    """Build a rows-in-lanes score tile (see "Rows in the lanes" above).

    Parameters
    ----------
    n_classes : int
        Classes per tile: ``n_classes`` accumulator registers stay live,
        beside the ``L`` rows of a chunk of X.

    Returns
    -------
    intrinsic
        Called from ``njit`` code as ``tile(X, Wt, St, span)``: X (rows of
        features, C order), Wt (transposed coefficients, one row of
        ``w_row`` entries per feature) and St (class-major scores) share a
        float dtype; ``span`` is a :class:`RowLaneSpan` of integers. It
        scores the first ``n_rows // L`` groups of ``L`` rows and leaves the
        rest.
    """

    @intrinsic
    def tile(typingctx, X, Wt, St, span):
        if not (_one_float_dtype(X, Wt, St) and _is_span(span, RowLaneSpan)):
            return None
        itemsize = X.dtype.bitwidth // 8
        lanes = REGISTER_UNITS * unit_lanes(itemsize)

        def codegen(context, builder, signature, args):
            x_arr, w_arr, s_arr, span_value = args
            fields = _span_fields(context, builder, span_value, span, RowLaneSpan)
            x_data, w_data, s_data = _data_pointers(context, builder, (X, Wt, St), (x_arr, w_arr, s_arr))
            const = _index_constant(context)
            vector_type = ir.VectorType(context.get_value_type(X.dtype), lanes)

            at = partial(_add_indices, builder)

            accumulators = [cgutils.alloca_once(builder, vector_type) for _ in range(n_classes)]
            tail_mask = _lane_mask(builder, fields["tail"], lanes)
            prefetching = builder.icmp_signed(">", fields["pf_ahead"], const(0))

            line = const(_LINE_BYTES // itemsize)

            def chunk(row_starts, j, masked, prefetch_from):
                """Features ``j L`` to ``j L + L`` (``tail`` of them if
                ``masked``) of the tile's rows, transposed, into the sums.
                With ``pf_ahead > 0``, feature ``g`` of the row prefetches
                line ``g`` from ``prefetch_from`` on: a tile's
                ``L`` rows span as many lines as features (a register is a
                line with AVX-512), one request per multiply-add step."""
                offset = builder.mul(j, const(lanes))
                rows = [
                    _load(builder, builder.gep(x_data, [at(start, offset)]), vector_type, itemsize,
                          tail_mask if masked else None)
                    for start in row_starts
                ]
                features = _transpose_square(builder, rows)
                for f, feature in enumerate(features):
                    def multiply_add():
                        with builder.if_then(prefetching):
                            ahead = at(prefetch_from, builder.mul(at(offset, const(f)), line))
                            prefetch_line(builder, builder.gep(x_data, [ahead]))
                        w_index = at(fields["w_off"], builder.mul(at(offset, const(f)), fields["w_row"]))
                        for c, acc in enumerate(accumulators):
                            w = builder.load(builder.gep(w_data, [at(w_index, const(c))]))
                            fused = _fma(builder, feature, _splat(builder, w, vector_type), builder.load(acc))
                            builder.store(fused, acc)
                    if masked:
                        # Features past the tail are zero in every row but
                        # have no coefficients to read.
                        with builder.if_then(builder.icmp_signed("<", const(f), fields["tail"])):
                            multiply_add()
                    else:
                        multiply_add()

            def one_tile(first_row):
                """Rows ``first_row`` to ``first_row + L``."""
                row_starts = [
                    at(fields["x_off"], builder.mul(at(first_row, const(r)), fields["x_row"]))
                    for r in range(lanes)
                ]
                for acc in accumulators:
                    builder.store(ir.Constant(vector_type, [0.0] * lanes), acc)
                prefetch_from = at(row_starts[0], fields["pf_ahead"])
                with cgutils.for_range(builder, fields["n_chunks"]) as chunk_loop:
                    chunk(row_starts, chunk_loop.index, False, prefetch_from)
                with builder.if_then(builder.icmp_signed(">", fields["tail"], const(0))):
                    chunk(row_starts, fields["n_chunks"], True, prefetch_from)
                for c, acc in enumerate(accumulators):
                    target = at(fields["s_off"], builder.mul(const(c), fields["s_row"]), first_row)
                    _store(builder, builder.load(acc), builder.gep(s_data, [target]), itemsize)

            # Whole tiles only (see "Rows in the lanes" above): one copy of
            # the tile's code, where a short last tile needed a second.
            n_tiles = builder.sdiv(fields["n_rows"], const(lanes))
            with cgutils.for_range(builder, n_tiles) as tile_loop:
                one_tile(builder.mul(tile_loop.index, const(lanes)))
            return context.get_dummy_value()

        return types.void(X, Wt, St, span), codegen

    return tile


def _pair_fold_indices(lanes, group):
    """Shuffle indices that fold two vectors ``a``, ``b`` of ``lanes`` lanes
    (index ``lanes + l`` is ``b``'s lane ``l``), each in groups of ``group``
    partial sums, into one: the first halves of every group of both, and
    their second halves, to be added lane by lane."""
    half = group // 2
    first = [g * group + j for g in range(lanes // group) for j in range(half)]
    first += [lanes + index for index in first]
    return first, [index + half for index in first]


def _fold_pair(builder, a, b, group):
    """Two vectors in groups of ``group`` partial sums -> one vector in
    groups of ``group / 2``: ``a``'s groups, then ``b``'s."""
    first, second = _pair_fold_indices(a.type.count, group)
    return builder.fadd(_shuffle(builder, a, b, first), _shuffle(builder, a, b, second))


def _fold_self(builder, vector, group):
    """One vector in groups of ``group`` partial sums -> the vector of their
    sums, one lane per group. Lane ``l`` of a group is added to lane ``l +
    group / 2`` at every level, as in :func:`_fold_pair`."""
    while group > 1:
        half = group // 2
        first = [g * group + j for g in range(vector.type.count // group) for j in range(half)]
        vector = builder.fadd(
            _shuffle(builder, vector, vector, first),
            _shuffle(builder, vector, vector, [index + half for index in first]),
        )
        group = half
    return vector


def _lane_sums(builder, vectors, lanes):
    """One vector of ``len(vectors)`` lanes: the lane sum of each vector, in order.

    Pairs of vectors are folded while each still holds ``group`` partial sums
    per original vector (:func:`_fold_pair`), which halves ``group`` and
    doubles the vectors each result holds. What is left (a vector holding
    every input with ``group`` lanes each) is folded onto itself
    (:func:`_fold_self`). Lane ``l`` is added to lane ``l + group / 2`` at
    every level, whatever the number of vectors, so each sum has the same
    bits alone or in company.
    """
    group = lanes
    while len(vectors) > 1:
        vectors = [_fold_pair(builder, a, b, group) for a, b in zip(vectors[0::2], vectors[1::2])]
        group //= 2
    return _fold_self(builder, vectors[0], group)


@register_jitable
def grouped_slots(n_classes):
    """Class slots of a classes-and-features register: 2 for two classes,
    else 4 (:func:`make_grouped_tile`)."""
    return 2 if n_classes <= 2 else 4


def _fold_slots(builder, vectors, layouts, lanes, group):
    """Fold pairs of accumulators (:func:`_fold_pair`) until each lane holds
    one (row, slot) sum.

    ``layouts[v][l]`` names the (row, slot) whose partial sum lane ``l`` of
    ``vectors[v]`` holds; each slot has ``group`` lanes per row to start
    with. The additions are those of :func:`_fold_self` on one row, so a
    row's sums have the same bits in any tile."""
    while group > 1:
        first, _ = _pair_fold_indices(lanes, group)
        pairs = range(0, len(vectors), 2)
        layouts = [[(layouts[v] + layouts[v + 1])[index] for index in first] for v in pairs]
        vectors = [_fold_pair(builder, vectors[v], vectors[v + 1], group) for v in pairs]
        group //= 2
    return vectors, layouts


def _gather_slot(builder, vectors, layouts, slot, n_rows):
    """One vector of ``n_rows`` lanes: the sums of ``slot`` in row order,
    gathered from the folded accumulators by two-input shuffles (each
    (row, slot) sum is in exactly one lane of one of them)."""
    items = list(zip(vectors, layouts))
    while len(items) > 1:
        gathered = []
        for v in range(0, len(items), 2):
            (a, a_layout), (b, b_layout) = items[v], items[v + 1]
            both = a_layout + b_layout
            indices = [both.index((row, s)) for row, s in sorted(both) if s == slot]
            gathered.append((_shuffle(builder, a, b, indices), [both[i] for i in indices]))
        items = gathered
    vector, layout = items[0]
    wanted = [(row, slot) for row in range(n_rows)]
    if layout != wanted:
        vector = _shuffle(builder, vector, vector, [layout.index(item) for item in wanted])
    return vector


def make_grouped_tile(n_rows, slots):
    """Build a classes-and-features tile (see "Classes and features in the
    lanes" above).

    Parameters
    ----------
    n_rows : int
        Rows of X per tile: a power of two, at least the features per chunk
        ``G`` (lanes / ``slots``), or 1.
    slots : int
        Class slots per register, 2 or 4 (:func:`grouped_slots`).

    Returns
    -------
    intrinsic
        Called from ``njit`` code as ``tile(X, Wg, St, span)``: X (rows of
        features, C order), Wg (the coefficients in chunks of ``G``
        features, lane ``s G + f`` of chunk ``j`` holding ``W[s, j G + f]``,
        zero past the classes and features) and St (class-major scores)
        share a float dtype; ``span`` is a :class:`GroupSpan` of integers.
    """
    if slots not in (2, 4) or not _is_power_of_two(n_rows):
        raise ValueError("slots must be 2 or 4 and n_rows a power of two")

    @intrinsic
    def tile(typingctx, X, W, St, span):
        if not (_one_float_dtype(X, W, St) and _is_span(span, GroupSpan)):
            return None
        itemsize = X.dtype.bitwidth // 8
        lanes = REGISTER_UNITS * unit_lanes(itemsize)
        group = lanes // slots
        if 1 < n_rows < group:
            raise ValueError(f"{n_rows} rows cannot fold chunks of {group} features")

        def codegen(context, builder, signature, args):
            x_arr, w_arr, s_arr, span_value = args
            fields = _span_fields(context, builder, span_value, span, GroupSpan)
            x_data, w_data, s_data = _data_pointers(context, builder, (X, W, St), (x_arr, w_arr, s_arr))
            const = _index_constant(context)
            element = context.get_value_type(X.dtype)
            vector_type = ir.VectorType(element, lanes)
            chunk_type = ir.VectorType(element, group)
            repeat = [lane % group for lane in range(lanes)]
            line = _LINE_BYTES // itemsize
            # The tile's rows are contiguous: one chunk step of all of them
            # covers this many lines of X.
            lines_per_step = max(1, n_rows * group * itemsize // _LINE_BYTES)

            at = partial(_add_indices, builder)

            accumulators = [cgutils.alloca_once(builder, vector_type) for _ in range(n_rows)]
            tail_mask = _lane_mask(builder, fields["tail"], group)
            prefetching = builder.icmp_signed(">", fields["pf_ahead"], const(0))

            def chunk(x_tile, j, masked):
                w_vector = _load(
                    builder, builder.gep(w_data, [at(fields["w_off"], builder.mul(j, fields["w_row"]))]),
                    vector_type, itemsize,
                )
                # The masked last chunk prefetches too: at 8 features per
                # chunk and 20 per row, it holds a fifth of the tile's lines.
                with builder.if_then(prefetching):
                    first_line = builder.mul(j, const(lines_per_step))
                    for i in range(lines_per_step):
                        offset = builder.mul(at(first_line, const(i)), const(line))
                        prefetch_line(builder, builder.gep(x_data, [at(x_tile, fields["pf_ahead"], offset)]))
                features = builder.mul(j, const(group))
                for r, acc in enumerate(accumulators):
                    x_index = at(x_tile, builder.mul(const(r), fields["x_row"]), features)
                    x_chunk = _load(builder, builder.gep(x_data, [x_index]), chunk_type, itemsize,
                                    tail_mask if masked else None)
                    x_vector = _shuffle(builder, x_chunk, x_chunk, repeat)
                    builder.store(_fma(builder, x_vector, w_vector, builder.load(acc)), acc)

            with cgutils.for_range(builder, fields["n_tiles"]) as tile_loop:
                q = tile_loop.index
                x_tile = at(fields["x_off"], builder.mul(q, fields["x_next"]))
                for acc in accumulators:
                    builder.store(ir.Constant(vector_type, [0.0] * lanes), acc)
                with cgutils.for_range(builder, fields["n_chunks"]) as chunk_loop:
                    chunk(x_tile, chunk_loop.index, False)
                with builder.if_then(builder.icmp_signed(">", fields["tail"], const(0))):
                    chunk(x_tile, fields["n_chunks"], True)
                vectors = [builder.load(acc) for acc in accumulators]
                if n_rows == 1:
                    # One row: fold the register onto itself, slot by slot.
                    vector = _fold_self(builder, vectors[0], group)
                    sums = [builder.extract_element(vector, ir.Constant(_I32, slot)) for slot in range(slots)]
                else:
                    layouts = [[(r, lane // group) for lane in range(lanes)] for r in range(n_rows)]
                    vectors, layouts = _fold_slots(builder, vectors, layouts, lanes, group)
                    sums = [_gather_slot(builder, vectors, layouts, slot, n_rows) for slot in range(slots)]
                for slot, value in enumerate(sums):
                    with builder.if_then(builder.icmp_signed("<", const(slot), fields["n_classes"])):
                        target = at(fields["s_off"], builder.mul(const(slot), fields["s_row"]),
                                    builder.mul(q, const(n_rows)))
                        pointer = builder.gep(s_data, [target])
                        if n_rows == 1:
                            builder.store(value, pointer)
                        else:
                            _store(builder, value, pointer, itemsize)
            return context.get_dummy_value()

        return types.void(X, W, St, span), codegen

    return tile


#: Where :func:`make_row_writer` reads class-major values and writes rows.
RowSpan = namedtuple(
    "RowSpan",
    [
        "s_off", "s_class", "scale_off", "out_off", "out_row",
        "n_classes", "n_groups",
    ],
)


def make_row_writer(n_rows, padded, combine="scale_rows"):
    """Build an intrinsic that writes class-major values into rows, scaled per
    row or shifted per class.

    For ``q < n_groups`` and ``r < n_rows``, ``k < n_classes``, with
    ``combine="scale_rows"``::

        out[out_off + (q n_rows + r) out_row + k]
            = S[s_off + k s_class + q n_rows + r] * scale[scale_off + q n_rows + r]

    and with ``combine="shift_classes"``::

        out[out_off + (q n_rows + r) out_row + k]
            = S[s_off + k s_class + q n_rows + r] + scale[scale_off + k]

    where ``scale`` holds ``padded`` values from ``scale_off`` on (one
    vector load; the lanes from ``n_classes`` on are not written).

    ``padded`` (a power of two, at least ``n_classes``) classes are loaded as
    vectors of ``n_rows`` rows, transposed in registers (see
    :func:`_transpose`) and each row goes out with one store masked to
    ``n_classes`` lanes: a block's probabilities cross from the class-major
    buffer into a row-major output without one strided read and one scalar
    store per value.

    Classes from ``n_classes`` to ``padded`` load the last class again
    rather than by a load with every lane off. Such a load reads nothing,
    but its address lies past the buffer, where another thread may write,
    and on AMD Zen 4 it slowed two threads below one: with two threads, predict_proba at 1,000,000 x 20, K=10, float64 took 37.4 ms
    against 29.8 ms on one (14.6 ms with the repeated class).

    Parameters
    ----------
    n_rows : int
        Rows per group, a power of two.
    padded : int
        Lanes of a written row, a power of two.
    combine : {"scale_rows", "shift_classes"}, default="scale_rows"

    Returns
    -------
    intrinsic
        Called from ``njit`` code as ``writer(S, scale, out, span)`` with
        arrays of one float dtype (only their data pointers are used) and a
        :class:`RowSpan` of integers.
    """
    if not (_is_power_of_two(n_rows) and _is_power_of_two(padded)):
        raise ValueError("rows and padded classes must be powers of two")
    if combine not in ("scale_rows", "shift_classes"):
        raise ValueError(f"unknown combine {combine!r}")
    scaled = combine == "scale_rows"

    @intrinsic
    def writer(typingctx, S, scale, out, span):
        if not (_one_float_dtype(S, scale, out) and _is_span(span, RowSpan)):
            return None

        def codegen(context, builder, signature, args):
            s_arr, scale_arr, out_arr, span_value = args
            fields = _span_fields(context, builder, span_value, span, RowSpan)
            s_data, scale_data, out_data = _data_pointers(
                context, builder, (S, scale, out), (s_arr, scale_arr, out_arr)
            )
            const = _index_constant(context)
            element = context.get_value_type(S.dtype)
            align = S.dtype.bitwidth // 8
            rows_type = ir.VectorType(element, n_rows)

            n_classes = fields["n_classes"]
            row_mask = _lane_mask(builder, n_classes, padded)
            if not scaled:
                shifts = _load(
                    builder, builder.gep(scale_data, [fields["scale_off"]]),
                    ir.VectorType(element, padded), align,
                )
            with cgutils.for_range(builder, fields["n_groups"]) as group_loop:
                first = builder.mul(group_loop.index, const(n_rows))
                if scaled:
                    factors = _load(
                        builder, builder.gep(scale_data, [builder.add(fields["scale_off"], first)]),
                        rows_type, align,
                    )
                columns = []
                last_class = builder.sub(n_classes, const(1))
                for k in range(padded):
                    # Classes from n_classes on repeat the last class: their
                    # lanes are masked off in the stores below.
                    present = builder.icmp_signed("<", const(k), n_classes)
                    source = builder.select(present, const(k), last_class)
                    offset = builder.add(
                        builder.add(fields["s_off"], builder.mul(source, fields["s_class"])), first
                    )
                    values = _load(builder, builder.gep(s_data, [offset]), rows_type, align)
                    columns.append(builder.fmul(values, factors) if scaled else values)
                for r, row in enumerate(_transpose(builder, columns)):
                    if not scaled:
                        row = builder.fadd(row, shifts)
                    target = builder.add(
                        fields["out_off"], builder.mul(builder.add(first, const(r)), fields["out_row"])
                    )
                    _store(builder, row, builder.gep(out_data, [target]), align, row_mask)
            return context.get_dummy_value()

        return types.void(S, scale, out, span), codegen

    return writer
