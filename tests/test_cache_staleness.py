"""Cached kernels compiled from other sources are dropped (kernels/_cache_location.py).

Numba stamps a cached function with its own module's file only. The first
test shows what that means for kernels spread over several modules: a cached
caller keeps running an edited callee's old code. The others check that
``drop_stale_cache`` removes Numba's cache files exactly when the sources'
digest changes, and that importing the kernels runs it where Numba caches.
"""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

from fastsoftmax.kernels import rows
from fastsoftmax.kernels._cache_location import (
    SOURCES_MARKER,
    _sources_digest,
    drop_stale_cache,
    kernel_cache_dir,
)

CALLER = """
from numba import njit
from callee import value

@njit(cache=True)
def caller():
    return value()
"""

RUN = """
import sys
sys.path.insert(0, {src!r})
from fastsoftmax.kernels._cache_location import drop_stale_cache
if {drop}:
    drop_stale_cache({src!r}, {cache!r})
from caller import caller
print(caller())
"""


def _callee(directory, result):
    # Cache files written so far are made ten seconds older, so that the
    # edit comes after them whatever the resolution of the file clock.
    earlier = time.time() - 10
    for path in (directory / "__pycache__").glob("*.nb?"):
        os.utime(path, (earlier, earlier))
    (directory / "callee.py").write_text(
        f"from numba import njit\n\n@njit(cache=True)\ndef value():\n    return {result}\n"
    )


def _run(directory, drop):
    cache = str(directory / "__pycache__")
    script = textwrap.dedent(RUN.format(src=str(directory), cache=cache, drop=drop))
    # The test passes Numba's in-tree cache (directory/__pycache__) to
    # drop_stale_cache, so Numba must cache there whatever the caller's
    # environment says.
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_CACHE_DIR"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, check=True, env=env)
    return int(done.stdout.split()[-1])


def test_an_edited_callee_reaches_the_cached_caller(tmp_path):
    (tmp_path / "caller.py").write_text(CALLER)
    _callee(tmp_path, 1)
    assert _run(tmp_path, drop=False) == 1
    _callee(tmp_path, 2)
    # Numba alone keeps the caller's cached code, with the old callee in it.
    assert _run(tmp_path, drop=False) == 1
    assert _run(tmp_path, drop=True) == 2
    # Compiled afresh, the cache is current again and stays.
    assert drop_stale_cache(tmp_path, tmp_path / "__pycache__") == 0
    assert _run(tmp_path, drop=True) == 2


def test_files_go_when_the_sources_change(tmp_path):
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    (tmp_path / "a.py").write_text("a = 1\n")
    (tmp_path / "b.py").write_text("b = 1\n")
    for name in ("a.f-10.py311.nbi", "a.f-10.py311.1.nbc", "b.g-20.py311.nbi", "a.f-10.pyc"):
        (cache / name).write_text("x")
    # No record of the sources yet: Numba's files go, others stay.
    assert drop_stale_cache(tmp_path, cache) == 3
    assert sorted(p.name for p in cache.iterdir()) == ["a.f-10.pyc", SOURCES_MARKER]
    (cache / "b.g-20.py311.nbi").write_text("x")
    assert drop_stale_cache(tmp_path, cache) == 0  # same sources: kept
    (tmp_path / "b.py").write_text("b = 2\n")
    assert drop_stale_cache(tmp_path, cache) == 1  # an edit: gone
    assert (cache / SOURCES_MARKER).read_text().strip() == _sources_digest(tmp_path)


def test_missing_directories_remove_nothing(tmp_path):
    assert drop_stale_cache(tmp_path, tmp_path / "absent") == 0
    (tmp_path / "k.py").write_text("x")
    assert drop_stale_cache(tmp_path, tmp_path / "__pycache__") == 0  # no cache yet


def test_import_records_the_sources_where_numba_caches_the_kernels():
    rows.row_max(np.zeros(3))  # compiled or loaded: Numba's cache exists
    # The directory Numba itself chose for this kernel's cache.
    numba_dir = Path(rows.row_max._cache._cache_path)
    assert kernel_cache_dir() == numba_dir
    marker = numba_dir / SOURCES_MARKER
    assert marker.read_text().strip() == _sources_digest(Path(rows.__file__).parent)
