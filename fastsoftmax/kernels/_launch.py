"""Parallel loops over the row ranges that call a compiled kernel by its address.

Numba compiles a function together with everything it calls: the callees'
LLVM IR is linked into the caller's module, then optimised and turned into
machine code once more. A ``prange`` loop adds three modules of its own (the
loop body and two wrappers), so a parallel kernel that called the block
functions directly had all its register tiles optimised and compiled four
times over. In the first float64 fit and ``predict_proba`` after installing,
LLVM took 42 s, 27 s of them in the four modules of each of the two dense
kernels involved (docs/performance.md).

Here the work of one row range is a kernel of its own, compiled once, and the
parallel loop calls it through its address: the loop's modules hold a call
and nothing else. That call goes straight into the compiled kernel, with
Numba's calling convention, 32 times per evaluation.
"""

import numba
from numba import njit, prange, types
from numba._dispatcher import compute_fingerprint
from numba.core import cgutils
from numba.extending import intrinsic

from ._config import JIT_OPTIONS, N_ROW_RANGES

_RANGE_INDEX = types.int64


@intrinsic
def _call_compiled(typingctx, address, r, args):
    """``kernel(r, *args)`` for the compiled kernel at ``address`` (which
    returns nothing and was compiled for ``(int64, *types of args)``)."""
    if not isinstance(address, types.Integer) or not isinstance(args, types.BaseTuple):
        return None
    arg_types = (_RANGE_INDEX,) + tuple(args.types)

    def codegen(context, builder, signature, llargs):
        address_value, r_value, packed = llargs
        values = [context.cast(builder, r_value, r, _RANGE_INDEX)]
        values += cgutils.unpack_tuple(builder, packed, len(args.types))
        function_type = context.call_conv.get_function_type(types.none, arg_types)
        callee = builder.inttoptr(address_value, function_type.as_pointer())
        status, _ = context.call_conv.call_function(builder, callee, types.none, arg_types, values)
        with cgutils.if_unlikely(builder, status.is_error):
            context.call_conv.return_status_propagate(builder, status)
        return context.get_dummy_value()

    return types.none(address, r, args), codegen


@njit(parallel=True, cache=True, **JIT_OPTIONS)
def _each_range(address, args):
    for r in prange(N_ROW_RANGES):
        _call_compiled(address, r, args)


#: Addresses of compiled kernels, by kernel and the fingerprints of the
#: argument types (Numba's own, 0.1 us per argument where ``numba.typeof``
#: takes about 9 us per array).
_addresses = {}


def _address(kernel, args):
    """Address of ``kernel`` compiled for ``(int64, *types of args)``."""
    key = (kernel,) + tuple(compute_fingerprint(a) for a in args)
    address = _addresses.get(key)
    if address is None:
        signature = (_RANGE_INDEX,) + tuple(numba.typeof(a) for a in args)
        kernel.compile(signature)
        compiled = kernel.overloads[signature]
        if compiled.signature.return_type != types.none:
            raise TypeError(
                f"{kernel.py_func.__name__} returns {compiled.signature.return_type}: a "
                "range kernel must return nothing and write its results into its arguments"
            )
        address = compiled.library.get_pointer_to_function(compiled.fndesc.llvm_func_name)
        _addresses[key] = address
    return address


def each_range(kernel, *args):
    """``kernel(r, *args)`` for every ``r < N_ROW_RANGES``, the ranges in
    parallel on the current Numba threads.

    Parameters
    ----------
    kernel : numba dispatcher
        A ``njit`` function of ``(r, *args)`` that returns nothing and
        writes its results into arrays among ``args``. It must not raise:
        an exception inside a parallel loop reaches Python as a
        ``SystemError``.
    *args
        Arrays and numbers, passed on as they are.
    """
    _each_range(_address(kernel, args), args)
