"""Cached kernels older than a kernel source are dropped (kernels/_cache_location.py).

Numba stamps a cached function with its own module's file only. The first
test shows what that means for kernels spread over several modules: a cached
caller keeps running an edited callee's old code. The others check that
``drop_stale_cache`` removes exactly the cache files older than the newest
source.
"""

import os
import subprocess
import sys
import textwrap
import time

from fastsoftmax.kernels._cache_location import drop_stale_cache

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
    drop_stale_cache({src!r})
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
    script = textwrap.dedent(RUN.format(src=str(directory), drop=drop))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, check=True)
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
    assert drop_stale_cache(tmp_path) == 0
    assert _run(tmp_path, drop=True) == 2


def _touch(path, stamp):
    path.write_text("x")
    os.utime(path, (stamp, stamp))


def test_only_files_older_than_the_newest_source_go(tmp_path):
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    _touch(tmp_path / "a.py", 1000)
    _touch(tmp_path / "b.py", 2000)
    _touch(cache / "a.f-10.py311.nbi", 1500)  # before b.py's edit: stale
    _touch(cache / "a.f-10.py311.1.nbc", 1500)
    _touch(cache / "a.f-10.py311.2.nbc", 1500)
    _touch(cache / "b.g-20.py311.nbi", 2500)  # after it: current
    _touch(cache / "b.g-20.py311.1.nbc", 2500)
    _touch(cache / "a.f-10.pyc", 1500)  # not Numba's: untouched
    assert drop_stale_cache(tmp_path) == 3
    assert sorted(p.name for p in cache.iterdir()) == [
        "a.f-10.pyc", "b.g-20.py311.1.nbc", "b.g-20.py311.nbi",
    ]


def test_missing_directories_remove_nothing(tmp_path):
    assert drop_stale_cache(tmp_path / "absent") == 0
    (tmp_path / "k.py").write_text("x")
    assert drop_stale_cache(tmp_path) == 0  # no __pycache__ yet
