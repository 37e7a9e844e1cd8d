"""Large arrays whose every page maps the same small piece of physical memory.

A kernel that streams X from memory can be timed again on an array of the
same shape and layout whose reads all hit in cache: the virtual pages repeat
one chunk of ``chunk_bytes`` (256 KiB by default, less than one core's L2),
so the addresses, the row blocks and the code are those of a real run while
memory traffic all but vanishes. The difference between the two times is
what the memory stream costs beyond the computation, that is, how much of the
reading the kernel fails to overlap with its arithmetic.

Linux only (``memfd_create`` and ``mmap`` with ``MAP_FIXED``);
:func:`aliased_array` returns None elsewhere. The array is read-only in
spirit: a write through one row changes every row that shares its offset in
the chunk.
"""

import ctypes
import mmap
import os
import weakref

import numpy as np

_MAP_FIXED = 0x10  # Linux values; the mmap module of Python 3.11 exports neither
_PROT_NONE = 0


def _libc_mmap():
    """libc's ``mmap`` and ``munmap`` through ctypes, or None."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        map_, unmap = libc.mmap, libc.munmap
    except (OSError, AttributeError):
        return None
    map_.restype = ctypes.c_void_p
    map_.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                     ctypes.c_int, ctypes.c_long]
    unmap.restype = ctypes.c_int
    unmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    return map_, unmap


def aliased_array(n_samples, n_features, dtype, chunk_bytes=256 * 1024, seed=0):
    """A C-ordered (n_samples, n_features) array backed by one repeated chunk.

    Parameters
    ----------
    n_samples, n_features : int
    dtype : numpy dtype
    chunk_bytes : int, default=256 KiB
        Physical memory behind the whole array; a multiple of the page size.
    seed : int
        Seed of the standard normal values written into the chunk.

    Returns
    -------
    ndarray of shape (n_samples, n_features), or None
        None where the system offers no way to build it. The mapping is
        released when the array and every view of it are gone.
    """
    functions = _libc_mmap()
    if functions is None or not hasattr(os, "memfd_create"):
        return None
    libc_mmap, libc_munmap = functions
    itemsize = np.dtype(dtype).itemsize
    total = -(-n_samples * n_features * itemsize // chunk_bytes) * chunk_bytes
    fd = os.memfd_create("aliased-array")
    try:
        os.ftruncate(fd, chunk_bytes)
        # Reserve the whole range, then map the chunk over it piece by piece.
        base = libc_mmap(None, total, _PROT_NONE,
                         mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
        if base in (None, ctypes.c_void_p(-1).value):
            return None
        for offset in range(0, total, chunk_bytes):
            address = libc_mmap(base + offset, chunk_bytes, mmap.PROT_READ | mmap.PROT_WRITE,
                                mmap.MAP_SHARED | _MAP_FIXED, fd, 0)
            if address != base + offset:
                libc_munmap(base, total)
                return None
    finally:
        os.close(fd)  # the mappings keep the memory alive
    buffer = (ctypes.c_char * total).from_address(base)
    # NumPy arrays made from the buffer keep it alive; it unmaps the range last.
    weakref.finalize(buffer, libc_munmap, base, total)
    chunk = np.frombuffer(buffer, dtype=dtype, count=chunk_bytes // itemsize)
    chunk[:] = np.random.default_rng(seed).standard_normal(chunk.size)
    return np.frombuffer(buffer, dtype=dtype, count=n_samples * n_features).reshape(
        n_samples, n_features)
