"""Make sure Numba has somewhere to write the compiled kernels.

Every kernel is compiled with ``cache=True``. Numba stores the cache next to
the source (``__pycache__``) or, if the install is read-only, in the user's
cache directory (``~/.cache/numba`` or ``$XDG_CACHE_HOME/numba``). When both
are read-only (a service account in a container, say), decorating the first
kernel raises "cannot cache function ...: no locator available" and the
package cannot even be imported. Then, and only then, this module points
Numba at a private directory under the system's temporary directory.
``NUMBA_CACHE_DIR``, when set, always wins.
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
