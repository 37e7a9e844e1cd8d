"""Numba's on-disk cache of the kernels: read-only installs and concurrent processes.

Every case runs ``tests/scripts/cache_probe.py`` in fresh processes against a
copy of the package without any cache files (a fresh install), so kernels are
compiled from scratch: that costs tens of seconds per process, which is why
the problems are tiny and the number of processes small.

A read-only install is made with ``chmod``. Root ignores file permissions, so
when the tests run as root the child processes drop ``CAP_DAC_OVERRIDE`` and
``CAP_DAC_READ_SEARCH`` before ``exec`` (Linux); the probe itself checks that
the package directory really is not writable and the test skips otherwise.
"""

import ctypes
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
PROBE = REPO / "tests" / "scripts" / "cache_probe.py"
# A hang detector, not a performance bound: a cold compile of the fit kernels
# takes tens of seconds, longer with several processes on two cores.
TIMEOUT = 900
N_CONCURRENT = 4

# Linux capability numbers and prctl option (linux/capability.h, linux/prctl.h).
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _PR_CAPBSET_DROP = 1, 2, 24


def _make_permission_dropper():
    """A ``preexec_fn`` that makes a root child subject to file permissions.

    Dropping the two capabilities from the bounding set before ``exec`` keeps
    them out of the new program's capabilities. Built in the parent so that
    the child does no dynamic loading between fork and exec.
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def drop():
        for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
            if prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")

    return drop


_PREEXEC = _make_permission_dropper()


def _make_writable(path):
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            p = os.path.join(root, name)
            if not os.path.islink(p):
                os.chmod(p, os.stat(p).st_mode | stat.S_IWUSR | stat.S_IXUSR * os.path.isdir(p))
    os.chmod(path, os.stat(path).st_mode | stat.S_IWUSR | stat.S_IXUSR)


def _read_only(path):
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            p = os.path.join(root, name)
            os.chmod(p, os.stat(p).st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    os.chmod(path, os.stat(path).st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


@pytest.fixture
def workdir():
    """A temporary directory removed afterwards, read-only parts included."""
    path = Path(tempfile.mkdtemp(prefix="fastsoftmax-cache-test-"))
    try:
        yield path
    finally:
        _make_writable(path)
        shutil.rmtree(path)


def fresh_install(workdir, read_only=True):
    """Copy of the package without any cache files, like a fresh install."""
    site = workdir / "site"
    shutil.copytree(
        REPO / "fastsoftmax", site / "fastsoftmax",
        ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc", "*.pyc"),
    )
    if read_only:
        _read_only(site)
    return site


def probe_env(workdir, *, home_writable=True, cache_dir=None, **extra):
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_CACHE_DIR", "XDG_"))}
    env.pop("PYTHONPATH", None)
    env["HOME"] = str(home)
    if home_writable:
        env["XDG_CACHE_HOME"] = str(home / ".cache")
    else:
        _read_only(home)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    env.update(extra)
    return env


def start_probe(site, env, read_only=True):
    env = dict(env, PYTHONPATH=str(site), PROBE_EXPECT_READONLY="1" if read_only else "0")
    return subprocess.Popen(
        [sys.executable, str(PROBE), str(site)],
        env=env, cwd=str(site.parent), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        # preexec_fn: the pytest process does not fork from other threads.
        text=True, preexec_fn=_PREEXEC if read_only else None,  # noqa: PLW1509
    )


def finish_probe(proc):
    """The probe's result as a dict; skips the test if the probe cannot run here."""
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"probe timed out after {TIMEOUT} s:\n{out[-3000:]}\n{err[-3000:]}")
    if proc.returncode == 0 and out.startswith("SKIP:"):
        pytest.skip(out.strip())
    assert proc.returncode == 0 and "RESULT " in out, (
        f"probe failed with return code {proc.returncode}\n--- stdout ---\n{out[-3000:]}"
        f"\n--- stderr ---\n{err[-3000:]}"
    )
    return json.loads(out.split("RESULT ", 1)[1])


def run_probe(site, env, read_only=True):
    try:
        proc = start_probe(site, env, read_only)
    except subprocess.SubprocessError as exc:  # preexec_fn failed: no capabilities to drop
        pytest.skip(f"cannot make a read-only install for a root child here: {exc}")
    return finish_probe(proc)


def cache_files(root, suffix=""):
    root = Path(root)
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*" + suffix) if p.is_file()
    }


def expected_fit():
    """The probe's tiny fit done in this process, to compare predictions."""
    from fastsoftmax import SoftmaxRegression

    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 5))
    y = np.digitize(X[:, 0] + 0.5 * X[:, 1] + 0.3 * rng.standard_normal(300), [-0.7, 0.7])
    return SoftmaxRegression(tol=1e-6, max_iter=500).fit(X, y), X, y


def check_fit_result(result):
    est, X, _ = expected_fit()
    np.testing.assert_array_equal(
        result["predictions"], est.predict(X),
        err_msg="predictions of the fresh-install process differ from this process's fit",
    )
    coef = np.asarray(result["coef"])
    assert np.linalg.norm(coef - est.coef_) <= 1e-6 * np.linalg.norm(est.coef_), (
        "coef_ of the fresh-install process differs from this process's fit"
    )
    assert result["accuracy"] > 0.7, result["accuracy"]


def test_read_only_install_caches_in_the_user_cache_dir(workdir):
    site = fresh_install(workdir)
    env = probe_env(workdir)
    result = run_probe(site, env)
    check_fit_result(result)
    user_cache = Path(env["XDG_CACHE_HOME"]) / "numba"
    assert cache_files(site, ".nbi") == {}, "Numba wrote cache files into the read-only install"
    index_files = cache_files(user_cache, ".nbi")
    assert index_files, f"no *.nbi under {user_cache}; the probe used {result['cache_path']}"
    # Numba's fallback for a read-only package: $XDG_CACHE_HOME/numba/<dir>_<hash>/.
    assert Path(result["cache_path"]).is_relative_to(user_cache), result["cache_path"]
    assert result["cache_misses"] >= 1, "a fresh install cannot load the kernels from a cache"


def test_numba_cache_dir_is_honoured_when_nothing_else_is_writable(workdir):
    # A read-only install and a read-only HOME (a service account): only
    # NUMBA_CACHE_DIR is writable, and the kernels must be cached there.
    site = fresh_install(workdir)
    cache_dir = workdir / "numba-cache"
    env = probe_env(workdir, home_writable=False, cache_dir=cache_dir, PROBE_MODE="softmax")
    result = run_probe(site, env)
    assert result["max_error"] < 1e-12, result
    index_files = cache_files(cache_dir, ".nbi")
    assert any("softmax_rows" in name for name in index_files), (
        f"no index file of softmax_rows in NUMBA_CACHE_DIR={cache_dir}: {sorted(index_files)}"
    )
    assert Path(result["cache_path"]).is_relative_to(cache_dir), result["cache_path"]
    assert cache_files(site, ".nbi") == {}


def test_read_only_install_and_home_fall_back_to_a_private_temp_dir(workdir):
    # Neither the install nor HOME is writable and NUMBA_CACHE_DIR is unset:
    # Numba alone would find no cache locator and the import would fail.
    site = fresh_install(workdir)
    temp = workdir / "tmp"
    temp.mkdir()
    env = probe_env(workdir, home_writable=False, PROBE_MODE="softmax", TMPDIR=str(temp))
    result = run_probe(site, env)
    assert result["max_error"] < 1e-12, result
    fallback = next(temp.glob("fastsoftmax-numba-cache-*"))
    assert fallback.stat().st_mode & 0o077 == 0, oct(fallback.stat().st_mode)
    assert Path(result["cache_path"]).is_relative_to(fallback), result["cache_path"]
    assert cache_files(fallback, ".nbi"), f"no index files under {fallback}"


@pytest.mark.parametrize(
    "mode",
    [
        "softmax",
        pytest.param(
            "fit",
            marks=pytest.mark.skipif(
                os.environ.get("FASTSOFTMAX_SLOW_TESTS") != "1",
                reason="cold-compiles every fit kernel in 4 processes at once (~1.5 min "
                "on 2 cores); set FASTSOFTMAX_SLOW_TESTS=1 to run",
            ),
        ),
    ],
)
def test_concurrent_fresh_processes_share_one_cache_safely(workdir, mode):
    # N processes of a fresh install compile the same kernels at the same
    # moment into one empty NUMBA_CACHE_DIR (as joblib workers would). By
    # default they compile the softmax kernel only; "fit" compiles every
    # kernel a fit needs (a wider window for races, and many more files).
    site = fresh_install(workdir)
    cache_dir = workdir / "numba-cache"
    go_file = workdir / "go"
    env = probe_env(workdir, cache_dir=cache_dir, PROBE_GO_FILE=str(go_file), PROBE_MODE=mode)
    try:
        procs = [start_probe(site, env) for _ in range(N_CONCURRENT)]
    except subprocess.SubprocessError as exc:
        pytest.skip(f"cannot make a read-only install for a root child here: {exc}")
    try:
        # Release them together once all have imported the package.
        deadline = time.monotonic() + TIMEOUT
        while len(list(workdir.glob("go.ready.*"))) < N_CONCURRENT:
            if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        go_file.touch()
        results = [finish_probe(p) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()

    digests = {r["digest"] for r in results}
    assert len(digests) == 1, f"concurrent fresh processes disagree on their results: {digests}"
    if mode == "fit":
        check_fit_result(results[0])
    else:
        assert results[0]["max_error"] < 1e-12, results[0]
    before = cache_files(cache_dir)
    assert any(name.endswith(".nbi") for name in before), f"no index files in {cache_dir}"

    # One more process with the same cache: same result, every kernel loaded
    # from the cache (nothing compiled, so no cache file written or replaced).
    env.pop("PROBE_GO_FILE")
    last = run_probe(site, env)
    assert last["digest"] in digests, "a process loading the shared cache got a different result"
    after = cache_files(cache_dir)
    assert after == before, (
        "the process after the concurrent ones changed the cache (it recompiled): "
        f"added {sorted(set(after) - set(before))}, "
        f"changed {sorted(k for k in before if k in after and after[k] != before[k])}"
    )
    assert last["cache_hits"] >= 1 and last["cache_misses"] == 0, last
