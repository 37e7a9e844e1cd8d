"""Make sure Numba has somewhere to write the compiled kernels.

Every kernel is compiled with ``cache=True``. Numba stores the cache next to
the source (``__pycache__``) or, if the install is read-only, in the user's
cache directory (``~/.cache/numba`` or ``$XDG_CACHE_HOME/numba``). When both
are read-only (a service account in a container, say), decorating the first
kernel raises "cannot cache function ...: no locator available" and the
package cannot even be imported. Then, and only then, this module points
Numba at a private directory under the system's temporary directory.
``NUMBA_CACHE_DIR``, when set, always wins.

It also drops cached kernels that are older than the newest kernel source
(:func:`drop_stale_cache`). Numba stamps a cached function with the file it
is defined in only, but the kernels call functions of the other kernel
modules, and LLVM compiles those into them: after an edit of ``blocks.py``
the cached ``dense.py`` kernels would still run the old block code.
"""

import os
import tempfile
from pathlib import Path

import numba
from numba.misc.appdirs import AppDirs


def _writable(directory):
    try:
        os.makedirs(directory, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            return True
    except OSError:
        return False


def _private_temp_dir():
    """``<tmp>/fastsoftmax-numba-cache-<uid>``, created 0700; None if it exists
    but belongs to someone else or is open to others (the cache is pickled
    code: a directory another user can write to must not be trusted)."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    suffix = uid if uid is not None else os.environ.get("USERNAME", "user")
    directory = Path(tempfile.gettempdir()) / f"fastsoftmax-numba-cache-{suffix}"
    try:
        directory.mkdir(mode=0o700, exist_ok=True)
        status = directory.stat()
    except OSError:
        return None
    if uid is not None and (status.st_uid != uid or status.st_mode & 0o077):
        return None
    return directory if _writable(directory) else None


def ensure_cache_location():
    """Set ``numba.config.CACHE_DIR`` if Numba would find no writable cache.

    Returns
    -------
    str or None
        The directory chosen here, or None if Numba's own choice stands.
    """
    if numba.config.CACHE_DIR:
        return None
    in_tree = Path(__file__).resolve().parent / "__pycache__"
    user_wide = AppDirs(appname="numba", appauthor=False).user_cache_dir
    if _writable(in_tree) or _writable(user_wide):
        return None
    fallback = _private_temp_dir()
    if fallback is None:
        return None  # Numba's own error then says what is wrong
    numba.config.CACHE_DIR = str(fallback)
    return str(fallback)


def drop_stale_cache(source_dir=None, cache_dir=None):
    """Remove cached kernels compiled before the newest kernel source file.

    A cached function is an index file (``*.nbi``) and one code file per
    signature (``*.nbc``); an index older than any ``*.py`` of the kernels
    goes, with its code files. Installs leave every index newer than the
    sources, so nothing is removed there; after an edit (or an upgrade over
    an old cache) the kernels compile afresh. Files that cannot be removed
    (a read-only install) are left alone.

    Parameters
    ----------
    source_dir : path-like, optional
        The kernel sources; default: this package's ``kernels`` directory.
    cache_dir : path-like, optional
        Numba's in-tree cache of them; default: ``source_dir / "__pycache__"``.

    Returns
    -------
    int
        The number of files removed.
    """
    source_dir = Path(source_dir) if source_dir else Path(__file__).resolve().parent
    cache_dir = Path(cache_dir) if cache_dir else source_dir / "__pycache__"
    try:
        newest_source = max(path.stat().st_mtime for path in source_dir.glob("*.py"))
        indexes = list(cache_dir.glob("*.nbi"))
    except (OSError, ValueError):  # no sources or no cache directory
        return 0
    removed = 0
    for index in indexes:
        try:
            if index.stat().st_mtime >= newest_source:
                continue
            stem = index.name[: -len(".nbi")]
            for path in [index, *cache_dir.glob(f"{stem}.*.nbc")]:
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed
