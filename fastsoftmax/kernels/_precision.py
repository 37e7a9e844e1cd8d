"""Calls that exist for one floating-point precision only.

Numba types and compiles every branch of a function, including a branch
whose condition is constant for the dtype at hand (``X.itemsize == 8``):
LLVM removes the dead call afterwards, but only after compiling it. Some
register tiles serve one precision only (the rows-in-lanes score tiles
float64, the packed ones float32), and each top-level kernel
links and optimises its own copy of everything it calls. Without a
stand-in chosen while typing, every float32 kernel carried the float64
rows-in-lanes tiles: 12,754 of the 58,600 lines of LLVM IR of the float32
``dense_loss_gradient``.

:func:`for_precision` makes such a stand-in: where the array argument has
the given item size, the stand-in calls the function; otherwise it does
nothing and the function is not compiled for that dtype at all. So call it
only under a condition that itself requires that item size. (Raising
instead was tried: an exception raised inside a ``prange`` loop reached
Python as ``SystemError``, with the kernel's result discarded.)
"""

from numba.extending import overload

from ._config import JIT_OPTIONS


def for_precision(itemsize, function, array_arg=0):
    """A stand-in for ``function`` that is a no-op for other precisions.

    Parameters
    ----------
    itemsize : {4, 8}
        Bytes per item of the array argument for which ``function`` is called.
    function : numba dispatcher
        Returns nothing (its result is dropped).
    array_arg : int
        Position of the array argument whose dtype decides.

    Returns
    -------
    callable
        For ``numba.njit`` code only, with the arguments of ``function``.
    """
    def stand_in(*args):
        raise TypeError(f"{function.__name__} is called from numba.njit code only")

    stand_in.__name__ = f"{function.__name__}_for_itemsize_{itemsize}"

    @overload(stand_in, jit_options=JIT_OPTIONS)
    def typed(*args):
        if args[array_arg].dtype.bitwidth == 8 * itemsize:
            def call(*args):
                function(*args)
        else:
            def call(*args):
                pass
        return call

    return stand_in
