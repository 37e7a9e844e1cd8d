"""One evaluation of the loss and gradient, this checkout against another
revision, on the same X in one process.

Timings of a memory-bound evaluation move by tens of percent from one
process to the next on a shared host, whose read bandwidth changes from
minute to minute (23 to 58 GB/s in one day here; docs/performance.md,
"Comparing two revisions in one process"). Two versions of a kernel timed
in separate processes therefore differ by more than most changes do. Here
both versions evaluate the same array, in alternating rounds, so that
whatever the host does, it does to both.

The other revision's ``fastsoftmax/`` is exported with ``git archive`` into
a directory of its own (by commit, so that Numba's cache of it is reused
from one run to the next) and imported as the package ``fastsoftmax_base``.
That works because the package imports its own modules relatively.

Usage::

    python benchmarks/compare_revisions.py --base HEAD --shapes 1000000x20x3 \\
        --dtypes float64,float32 --rounds 6 --repeats 10

Each round times ``--repeats`` evaluations of each version, base first, and
keeps the best (each burst a second after the last, as the report's); the table gives every round's best and the median over the
rounds of the ratio checkout / base. The losses of both versions are
printed beside them: a change meant to be faster must not change them by
more than rounding.
"""

import argparse
import ast
import importlib
import os
import shutil
import statistics
import subprocess
import sys

from problems import loss_callable, make_problem
from report_markdown import best_time

import fastsoftmax

#: The name the other revision's package is imported under.
BASE_PACKAGE = "fastsoftmax_base"


def _default_cache():
    root = os.environ.get("XDG_CACHE_HOME", os.path.join(os.path.expanduser("~"), ".cache"))
    return os.path.join(root, "fastsoftmax-compare")


def resolve_commit(revision, repository="."):
    """Full hash of ``revision`` in the git repository at ``repository``."""
    result = subprocess.run(
        ["git", "-C", repository, "rev-parse", "--verify", f"{revision}^{{commit}}"],
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise ValueError(
            f"{revision!r} is not a commit of the repository at {os.path.abspath(repository)}: "
            f"{result.stderr.strip()}. Give a commit, branch or tag that `git rev-parse` knows."
        )
    return result.stdout.strip()


def absolute_imports(package_dir):
    """Imports of ``fastsoftmax`` by its own name in the modules under
    ``package_dir``, as (relative path, line number) pairs.

    Such an import would load this checkout's modules into the other
    revision's package. Examples in docstrings are text, not imports, and
    do not count.
    """
    found = []
    for folder, _, names in os.walk(package_dir):
        for name in sorted(names):
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            with open(path, encoding="utf-8") as handle:
                tree = ast.parse(handle.read(), filename=path)
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    modules = [node.module or ""]
                else:
                    continue
                if any(m == "fastsoftmax" or m.startswith("fastsoftmax.") for m in modules):
                    found.append((os.path.relpath(path, package_dir), node.lineno))
    return found


def export_revision(commit, cache_dir=None, repository="."):
    """Export ``fastsoftmax/`` of ``commit`` as the package ``BASE_PACKAGE``.

    Parameters
    ----------
    commit : str
        A full commit hash (:func:`resolve_commit`).
    cache_dir : str, optional
        Where the exports live, one directory per commit; by default
        ``$XDG_CACHE_HOME/fastsoftmax-compare``.
    repository : str, default="."

    Returns
    -------
    str
        The directory to put on ``sys.path`` to import ``BASE_PACKAGE``.
    """
    root = os.path.join(cache_dir or _default_cache(), commit)
    package_dir = os.path.join(root, BASE_PACKAGE)
    if not os.path.isdir(package_dir):
        # Extracted beside the final place and moved there whole, so that an
        # interrupted export is never taken for a finished one.
        staging = root + ".partial"
        shutil.rmtree(staging, ignore_errors=True)
        os.makedirs(staging)
        archive = subprocess.run(
            ["git", "-C", repository, "archive", "--format=tar", commit, "fastsoftmax"],
            capture_output=True, check=True,
        )
        subprocess.run(["tar", "-x", "-C", staging], input=archive.stdout, check=True)
        os.replace(os.path.join(staging, "fastsoftmax"), os.path.join(staging, BASE_PACKAGE))
        os.replace(staging, root)
    found = absolute_imports(package_dir)
    if found:
        where = ", ".join(f"{path}:{line}" for path, line in found[:5])
        raise ValueError(
            f"commit {commit[:12]} imports fastsoftmax by name ({where}); its modules would "
            "mix with this checkout's. Compare against a revision that imports its own "
            "modules relatively."
        )
    return root


def import_base(path):
    """Import ``BASE_PACKAGE`` from ``path`` (once per process)."""
    if BASE_PACKAGE in sys.modules:
        loaded = os.path.dirname(os.path.dirname(sys.modules[BASE_PACKAGE].__file__))
        if os.path.realpath(loaded) != os.path.realpath(path):
            raise RuntimeError(
                f"{BASE_PACKAGE} is already imported from {loaded}; compare against one "
                "revision per process."
            )
        return sys.modules[BASE_PACKAGE]
    sys.path.insert(0, path)
    return importlib.import_module(BASE_PACKAGE)


def compare(functions, rounds, repeats):
    """Best time of ``repeats`` calls of each function, in ``rounds`` rounds
    that take the functions in turn (each burst by
    :func:`report_markdown.best_time`). Compile and warm the functions first.

    Parameters
    ----------
    functions : dict of str to callable
    rounds, repeats : int

    Returns
    -------
    dict of str to list of float
        Each function's best time in seconds, one per round.
    """
    best = {name: [] for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            best[name].append(best_time(function, repeats)[0])
    return best


def _parse_shape(text):
    try:
        n, d, k = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"shape {text!r} is not of the form NxDxK, e.g. 1000000x20x3"
        ) from None
    return n, d, k


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD", help="revision to compare against (HEAD)")
    parser.add_argument("--shapes", default="1000000x20x3", help="comma-separated NxDxK")
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache-dir", default=None, help="where exports live")
    args = parser.parse_args(argv)
    shapes = [_parse_shape(text) for text in args.shapes.split(",")]
    repository = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commit = resolve_commit(args.base, repository)
    base = import_base(export_revision(commit, args.cache_dir, repository))
    print(f"checkout ({os.path.dirname(fastsoftmax.__file__)}) against {args.base} = "
          f"{commit[:12]}; {args.threads} threads, {args.rounds} rounds of best of "
          f"{args.repeats}, base first in each round")
    print("| shape | dtype | base, ms | checkout, ms | checkout / base (median) | loss, base | loss, checkout |")
    print("|---|---|---|---|---|---|---|")
    for n, d, k in shapes:
        X64, y = make_problem(n, d, k)
        for dtype in args.dtypes.split(","):
            X = X64.astype(dtype)
            functions = {
                name: loss_callable("fastsoftmax", X, y, k, args.threads, package=package)
                for name, package in (("base", base), ("checkout", fastsoftmax))
            }
            # The first calls compile and fault in what they touch.
            losses = {name: function() for name, function in functions.items()}
            best = compare(functions, args.rounds, args.repeats)
            ratio = statistics.median(c / b for b, c in zip(best["base"], best["checkout"]))
            times = {name: ", ".join(f"{1e3 * t:.2f}" for t in best[name]) for name in best}
            print(f"| {n:,} x {d}, K={k} | {dtype} | {times['base']} | {times['checkout']} | "
                  f"{ratio:.3f} | {losses['base']:.10f} | {losses['checkout']:.10f} |")
            del X
        del X64


if __name__ == "__main__":
    main()
