"""Gather and scatter of one CSR row with the row of classes held in registers.

The CSR kernels spend their time on two loops per row: the scores
``z = sum_p data[p] * coef_t[indices[p], :]`` (a gather) and the gradient
``G[indices[p], :] += data[p] * z`` (a scatter), each touching a row of
``n_classes`` numbers at a column that is known in advance but random. With
the class loop left to LLVM, every stored entry pays for a loop over a
run-time number of classes (set-up, remainder, alias checks): more
instructions than arithmetic. Here the classes fit in ``n_vectors`` vector
registers (the last one masked to ``n_classes``), fixed when the intrinsic
is built, so an entry costs a few loads, FMAs and stores. While it works, the
row of the entry ``PREFETCH_ENTRIES`` ahead is prefetched: its column is
already known, and without it each entry waits for a cache miss.

Measured on the text-like benchmark problem (200,000 x 100,000, 18.2M stored
entries, 20 classes, float64, 2 threads): one loss+gradient evaluation took
0.40 s with run-time class loops and software prefetch, 0.26 s with the
number of classes fixed at compile time by hand, and is what these
intrinsics give for any number of classes up to ``n_vectors`` registers.
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from .simd import REGISTER_UNITS, _fma, _lane_mask, _load, _splat, _store, prefetch_line, unit_lanes

_I32 = ir.IntType(32)
_LINE_BYTES = 64

#: How many stored entries ahead the rows of the table are prefetched.
PREFETCH_ENTRIES = 24


def register_lanes(itemsize):
    """Lanes of one native vector register for elements of ``itemsize`` bytes."""
    return REGISTER_UNITS * unit_lanes(itemsize)


def _prefetch_row(builder, context, table_data, row_index, width, itemsize):
    """Prefetch the cache lines of ``table[row_index, :width]`` (rows of up to
    four lines; the row may start anywhere in a line, so its last element too)."""
    intp = context.get_value_type(types.intp)
    base = builder.mul(row_index, width)
    prefetch_line(builder, builder.gep(table_data, [base]))
    per_line = _LINE_BYTES // itemsize
    for extra in range(1, 4):
        offset = ir.Constant(intp, extra * per_line)
        with builder.if_then(builder.icmp_signed("<", offset, width)):
            prefetch_line(builder, builder.gep(table_data, [builder.add(base, offset)]))
    last = builder.add(base, builder.sub(width, ir.Constant(intp, 1)))
    prefetch_line(builder, builder.gep(table_data, [last]))


def _entries_loop(builder, context, indices_array, start, stop, table_data, width, itemsize, body):
    """Run ``body(p, column)`` for ``p`` in ``[start, stop)``, prefetching the
    table row of entry ``p + PREFETCH_ENTRIES`` (when it exists)."""
    intp = context.get_value_type(types.intp)
    indices = indices_array.data
    n_stored = cgutils.unpack_tuple(builder, indices_array.shape)[0]
    ahead = ir.Constant(intp, PREFETCH_ENTRIES)

    def column_at(p):
        column = builder.load(builder.gep(indices, [p]))
        return builder.sext(column, intp) if column.type != intp else column

    with cgutils.for_range_slice(builder, start, stop, ir.Constant(intp, 1), intp=intp) as (p, _):
        future = builder.add(p, ahead)
        with builder.if_then(builder.icmp_signed("<", future, n_stored)):
            _prefetch_row(builder, context, table_data, column_at(future), width, itemsize)
        body(p, column_at(p))


def _check_row_args(data, indices, start, stop, table, row, n_valid):
    arrays = (data, indices, table, row)
    if not all(isinstance(a, types.Array) for a in arrays):
        return False
    if data.dtype not in (types.float32, types.float64) or not isinstance(indices.dtype, types.Integer):
        return False
    return all(isinstance(v, types.Integer) for v in (start, stop, n_valid))


def make_row_gather(n_vectors):
    """Intrinsic ``gather(data, indices, start, stop, table, z, n_valid)``.

    ``z[:n_valid] = sum_{p in [start, stop)} data[p] * table[indices[p], :n_valid]``,
    summed in ``data``'s dtype in registers; ``table`` (n_features, width)
    C order in ``data``'s dtype, ``z`` 1-D of at least ``n_valid``, and
    ``n_valid <= n_vectors * register lanes``.
    """

    @intrinsic
    def gather(typingctx, data, indices, start, stop, table, z, n_valid):
        if not _check_row_args(data, indices, start, stop, table, z, n_valid):
            return None
        if table.dtype != data.dtype or z.dtype != data.dtype:
            return None
        itemsize = data.dtype.bitwidth // 8
        lanes = register_lanes(itemsize)

        def codegen(context, builder, signature, args):
            data_a = context.make_array(signature.args[0])(context, builder, args[0])
            indices_a = context.make_array(signature.args[1])(context, builder, args[1])
            table_a = context.make_array(signature.args[4])(context, builder, args[4])
            z_a = context.make_array(signature.args[5])(context, builder, args[5])
            start_v, stop_v, n_valid_v = (
                context.cast(builder, args[i], signature.args[i], types.intp) for i in (2, 3, 6)
            )
            intp = context.get_value_type(types.intp)
            element = context.get_value_type(signature.args[0].dtype)
            vt = ir.VectorType(element, lanes)
            width = cgutils.unpack_tuple(builder, table_a.shape)[1]
            masks = [
                _lane_mask(builder, builder.sub(n_valid_v, ir.Constant(intp, v * lanes)), lanes)
                for v in range(n_vectors)
            ]
            accumulators = [cgutils.alloca_once_value(builder, ir.Constant(vt, [0.0] * lanes))
                            for _ in range(n_vectors)]

            def body(p, column):
                value = _splat(builder, builder.load(builder.gep(data_a.data, [p])), vt)
                row = builder.mul(column, width)
                for v, acc in enumerate(accumulators):
                    ptr = builder.gep(table_a.data, [builder.add(row, ir.Constant(intp, v * lanes))])
                    w = _load(builder, ptr, vt, itemsize, masks[v])
                    builder.store(_fma(builder, value, w, builder.load(acc)), acc)

            _entries_loop(builder, context, indices_a, start_v, stop_v, table_a.data, width,
                          itemsize, body)
            for v, acc in enumerate(accumulators):
                ptr = builder.gep(z_a.data, [ir.Constant(intp, v * lanes)])
                _store(builder, builder.load(acc), ptr, itemsize, masks[v])
            return context.get_dummy_value()

        return types.void(data, indices, start, stop, table, z, n_valid), codegen

    return gather


def make_row_scatter(n_vectors):
    """Intrinsic ``scatter(data, indices, start, stop, G, z, n_valid)``.

    ``G[indices[p], :n_valid] += data[p] * z[:n_valid]`` for ``p`` in
    ``[start, stop)``, in ``G``'s dtype (float64, or ``data``'s): ``z`` is
    widened once, each ``data[p]`` as it is read. ``G`` (n_features, width)
    C order; ``n_valid <= n_vectors * register lanes of G's dtype``.
    """

    @intrinsic
    def scatter(typingctx, data, indices, start, stop, G, z, n_valid):
        if not _check_row_args(data, indices, start, stop, G, z, n_valid):
            return None
        if z.dtype != data.dtype or G.dtype not in (data.dtype, types.float64):
            return None
        g_itemsize = G.dtype.bitwidth // 8
        z_itemsize = z.dtype.bitwidth // 8
        lanes = register_lanes(g_itemsize)

        def codegen(context, builder, signature, args):
            data_a = context.make_array(signature.args[0])(context, builder, args[0])
            indices_a = context.make_array(signature.args[1])(context, builder, args[1])
            g_a = context.make_array(signature.args[4])(context, builder, args[4])
            z_a = context.make_array(signature.args[5])(context, builder, args[5])
            start_v, stop_v, n_valid_v = (
                context.cast(builder, args[i], signature.args[i], types.intp) for i in (2, 3, 6)
            )
            intp = context.get_value_type(types.intp)
            g_element = context.get_value_type(signature.args[4].dtype)
            z_element = context.get_value_type(signature.args[5].dtype)
            gt = ir.VectorType(g_element, lanes)
            zt = ir.VectorType(z_element, lanes)
            width = cgutils.unpack_tuple(builder, g_a.shape)[1]
            masks = [
                _lane_mask(builder, builder.sub(n_valid_v, ir.Constant(intp, v * lanes)), lanes)
                for v in range(n_vectors)
            ]
            z_vectors = []
            for v in range(n_vectors):
                ptr = builder.gep(z_a.data, [ir.Constant(intp, v * lanes)])
                z_vector = _load(builder, ptr, zt, z_itemsize, masks[v])
                if z_element != g_element:
                    z_vector = builder.fpext(z_vector, gt)
                z_vectors.append(z_vector)

            def body(p, column):
                value = builder.load(builder.gep(data_a.data, [p]))
                if z_element != g_element:
                    value = builder.fpext(value, g_element)
                value = _splat(builder, value, gt)
                row = builder.mul(column, width)
                for v, z_vector in enumerate(z_vectors):
                    ptr = builder.gep(g_a.data, [builder.add(row, ir.Constant(intp, v * lanes))])
                    old = _load(builder, ptr, gt, g_itemsize, masks[v])
                    _store(builder, _fma(builder, value, z_vector, old), ptr, g_itemsize, masks[v])

            _entries_loop(builder, context, indices_a, start_v, stop_v, g_a.data, width,
                          g_itemsize, body)
            return context.get_dummy_value()

        return types.void(data, indices, start, stop, G, z, n_valid), codegen

    return scatter
