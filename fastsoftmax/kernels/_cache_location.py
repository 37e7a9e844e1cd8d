"""Make sure Numba has somewhere to write the compiled kernels.

Every kernel is compiled with ``cache=True``. Numba stores the cache next to
the source (``__pycache__``) or, if the install is read-only, in the user's
cache directory (``~/.cache/numba`` or ``$XDG_CACHE_HOME/numba``). When both
are read-only (a service account in a container, say), decorating the first
kernel raises "cannot cache function ...: no locator available" and the
package cannot even be imported. Then, and only then, this module points
Numba at a private directory under the system's temporary directory.
``NUMBA_CACHE_DIR``, when set, always wins.

It also drops cached kernels compiled from other kernel sources than the
present ones (:func:`drop_stale_cache`). Numba stamps a cached function with
the file it is defined in only, but the kernels call functions of the other
kernel modules, and LLVM compiles those into them: after an edit of
``blocks.py`` the cached ``dense.py`` kernels would still run the old block
code.
"""

import hashlib
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


#: Name of the file, beside the cached kernels, that records which sources
#: they were compiled from.
SOURCES_MARKER = "fastsoftmax-kernel-sources.sha256"


def kernel_cache_dir():
    """The directory where Numba caches this package's kernels, found as
    Numba finds it: the first of its cache locators (``NUMBA_CACHE_DIR``,
    ``__pycache__`` beside the source, the user's cache directory) that
    applies here and can be written to. None if none can."""
    try:
        from numba.core.caching import CacheImpl

        locators = CacheImpl._locator_classes
    except (ImportError, AttributeError):  # another Numba layout: in-tree only
        return Path(__file__).resolve().parent / "__pycache__"
    for locator_class in locators:
        locator = locator_class.from_function(kernel_cache_dir, __file__)
        if locator is None:
            continue
        try:
            locator.ensure_cache_path()
        except OSError:
            continue
        return Path(locator.get_cache_path())
    return None


def _sources_digest(source_dir):
    digest = hashlib.sha256()
    for path in sorted(source_dir.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def drop_stale_cache(source_dir=None, cache_dir=None):
    """Remove cached kernels compiled from other sources than the present ones.

    A digest of every ``*.py`` of the kernels is kept in ``SOURCES_MARKER``
    beside the cache. When it differs from the sources' (after an edit in a
    source checkout, or an upgrade over an old cache) or is missing, every
    cached kernel there goes (``*.nbi`` index and ``*.nbc`` code files) and
    the new digest is written: the kernels then compile afresh. A process
    that was already running when the sources changed may still write code
    compiled from the old ones; the next change of the sources removes it.
    Files that cannot be removed or written (a read-only cache) are left.

    Parameters
    ----------
    source_dir : path-like, optional
        The kernel sources; default: this package's ``kernels`` directory.
    cache_dir : path-like, optional
        Where their compiled code is cached; default:
        :func:`kernel_cache_dir`.

    Returns
    -------
    int
        The number of files removed.
    """
    source_dir = Path(source_dir) if source_dir else Path(__file__).resolve().parent
    cache_dir = Path(cache_dir) if cache_dir else kernel_cache_dir()
    if cache_dir is None or not cache_dir.is_dir():
        return 0
    marker = cache_dir / SOURCES_MARKER
    try:
        digest = _sources_digest(source_dir)
        if marker.is_file() and marker.read_text().strip() == digest:
            return 0
    except OSError:
        return 0
    removed = 0
    for pattern in ("*.nbi", "*.nbc"):
        for path in cache_dir.glob(pattern):
            try:
                path.unlink()
                removed += 1
            except OSError:
                continue
    try:
        marker.write_text(digest + "\n")
    except OSError:
        pass
    return removed
