"""Fit a tiny model in a fresh process and report how Numba's cache was used.

Run by tests/test_compiled_cache.py against a copy of the package (given as
the first argument, the directory holding ``fastsoftmax/``), with ``HOME``,
``XDG_CACHE_HOME`` and ``NUMBA_CACHE_DIR`` chosen by the test. Prints one line
``RESULT {json}`` and exits 0, or ``SKIP: ...`` when the setup the test asked
for cannot be made on this machine.

Environment:

``PROBE_EXPECT_READONLY=1``
    The package directory must not be writable (checked by trying to create a
    file in it, so that a process that may ignore permissions cannot pass by
    accident).
``PROBE_MODE``
    ``fit`` (default): fit and predict a tiny model (compiles the fit kernels
    on a cold cache); ``softmax``: only :func:`fastsoftmax.softmax`.
``PROBE_GO_FILE``
    After importing, create ``<go file>.ready.<pid>`` and wait for the go
    file to exist before computing, so that several processes compile at the
    same moment.
"""

import hashlib
import json
import os
import sys
import time

install_dir = os.path.abspath(sys.argv[1])
package_dir = os.path.join(install_dir, "fastsoftmax")

if os.environ.get("PROBE_EXPECT_READONLY") == "1":
    probe = os.path.join(package_dir, "__write_probe__")
    try:
        with open(probe, "w"):
            pass
    except OSError:
        pass
    else:
        os.remove(probe)
        print(f"SKIP: could not make {package_dir} read-only for this process")
        sys.exit(0)

import numpy as np

import fastsoftmax
from fastsoftmax.kernels import dense, scores

if not os.path.abspath(fastsoftmax.__file__).startswith(package_dir + os.sep):
    print(f"wrong fastsoftmax imported: {fastsoftmax.__file__}, expected one under {package_dir}")
    sys.exit(2)

go_file = os.environ.get("PROBE_GO_FILE")
if go_file:
    with open(f"{go_file}.ready.{os.getpid()}", "w"):
        pass
    deadline = time.monotonic() + 300
    while not os.path.exists(go_file):
        if time.monotonic() > deadline:
            print("timed out waiting for the go file")
            sys.exit(3)
        time.sleep(0.01)

mode = os.environ.get("PROBE_MODE", "fit")
result = {"file": fastsoftmax.__file__, "mode": mode}
rng = np.random.default_rng(0)
if mode == "fit":
    X = rng.standard_normal((300, 5))
    y = np.digitize(X[:, 0] + 0.5 * X[:, 1] + 0.3 * rng.standard_normal(300), [-0.7, 0.7])
    est = fastsoftmax.SoftmaxRegression(tol=1e-6, max_iter=500).fit(X, y)
    predictions = est.predict(X)
    digest = hashlib.sha256(est.coef_.tobytes() + est.intercept_.tobytes()).hexdigest()
    result.update(
        coef=est.coef_.tolist(),
        intercept=est.intercept_.tolist(),
        predictions=predictions.tolist(),
        accuracy=float(np.mean(predictions == y)),
        digest=digest,
    )
    kernel = dense._loss_gradient_range
else:
    Z = rng.standard_normal((50, 4))
    P = fastsoftmax.softmax(Z)
    result.update(
        max_error=float(np.max(np.abs(P - np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)))),
        digest=hashlib.sha256(P.tobytes()).hexdigest(),
    )
    kernel = scores.softmax_rows
stats = kernel.stats
result.update(
    kernel=kernel.py_func.__qualname__,
    cache_path=stats.cache_path,
    cache_hits=sum(stats.cache_hits.values()),
    cache_misses=sum(stats.cache_misses.values()),
)
print("RESULT " + json.dumps(result))
