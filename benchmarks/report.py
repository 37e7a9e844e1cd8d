"""Measure fastsoftmax beside scikit-learn and write docs/performance.md.

Usage (from the repository root)::

    python benchmarks/report.py                      # every suite but textfit (~15 min on 2 cores)
    python benchmarks/report.py --suites kernel,predict
    python benchmarks/report.py --suites all         # and the long CSR fits
    python benchmarks/report.py --quick              # a tenth of the rows, for a smoke test

The suites: ``kernel`` (one loss+gradient evaluation against the roofline
bound), ``threads`` (1 against 2 threads), ``predict`` (predict_proba against
its bound), ``fit`` (the L2 fit of the target problem, float64 and float32),
``scaling`` (fit time against n), ``memory`` (peak memory of a fit beyond X,
in fresh processes), ``startup`` (import, first fit, cold compile),
``penalties`` (L1, elastic-net, group lasso beside saga), ``cv``
(SoftmaxRegressionCV beside LogisticRegressionCV), ``sparse`` (one CSR
evaluation) and ``textfit`` (whole CSR fits, long). Every run first measures
the machine's read bandwidth and GEMM rates (``machine.py``): the bounds come
from this machine, in this run.

Each suite rewrites its own section of docs/performance.md and leaves the
others (including hand-written ones) as they are; plots go to docs/img/.
"""

import argparse
import importlib.metadata
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from machine import measure_machine
from report_fit import fit_suite, memory_suite, scaling_suite, startup_suite
from report_kernel import kernel_suite, predict_suite, threads_suite
from report_markdown import update_sections
from report_more import cv_suite, penalties_suite, sparse_suite, textfit_suite

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "performance.md"
IMAGES = ROOT / "docs" / "img"

SUITES = {
    "kernel": ("One loss+gradient evaluation", kernel_suite, """\
One evaluation on dense X (n x d, K classes) must read X once
(`n*d*itemsize` bytes) and do about `4*n*d*K` flops, so its bound is
`max(bytes / read bandwidth, flops / GEMM rate)` with both rates measured in
this run (float32: half the bytes and the float32 GEMM rate). "x bound" is
the measured time over it; the target is at most 1.5. Both libraries compute
the regularised loss and its gradient at the same parameters, each prepared
once for the data (scikit-learn's `LinearModelLoss`, fastsoftmax's
`SoftmaxLoss(check_finite=False)`), on 2 threads. Each time is the fastest
call of three rounds (3 to 10 calls each, 3 for scikit-learn's slower
ones), the rounds at least a second apart: the host runs in states of one to
several seconds in which the same code is up to 1.5x slower (see "Rounds"
below the tables), and one burst of calls can fall in one of them. The
host's read bandwidth moves within a run (15 measurements 20 s apart on an
idle machine gave 27.6 to 55.2 GB/s), so "read of X beside" times a parallel
read of X itself before every timed call, and "x bound beside" takes the
bound's memory part from it (its compute part as before).
"within 1.5x" judges the bound from the start of the run. (In a `--quick`
run the smaller X may sit in cache, and its read with it.)"""),
    "threads": ("Threads", threads_suite, """\
The same evaluation with `n_threads=1` and `n_threads=2` (target: at least
1.8x faster on two), the two taking turns call by call, in three rounds as
above; best of each."""),
    "predict": ("predict_proba", predict_suite, """\
`predict_proba` must read X, write the n x K probabilities and do `2*n*d*K`
flops: its bound is `max((bytes of X + bytes of the output) / bandwidth,
2*n*d*K / GEMM rate)`; the target is within 1.5x. Both libraries predict with
the same parameters (the last column is their largest difference). "Into a
written output" times the same prediction writing into an array written
before, so without the page faults of a fresh output: on this virtual
machine a parallel first touch of fresh pages costs from about 3 ms to
40 ms per 40 MB depending on the host's memory state (docs below). "x bound
beside" is the time as called over the bound whose memory part comes from a
read of X timed before every call, scaled to the bytes of X and the output
(see the kernel section). Every time is the best of three rounds, as there."""),
    "fit": ("Fit of the target problem", fit_suite, """\
L2 fit (C=1, tol=1e-4, max_iter=1000, 2 threads; best of two fits) of 1,000,000 x 100 rows with
10 classes: X standard normal, y the arg-max of `X W* + Gumbel noise` with
`W* ~ N(0, 0.3^2)`. float32 data is given to both libraries as float32.
Objectives are computed for every fitted model by one float64 function, and
so is the largest gradient entry that `tol` bounds. Evaluations count the
calls of each library's loss-and-gradient function. Targets: at least 6x
(float64) and 7x (float32) faster than scikit-learn at an objective no
worse. scikit-learn-intelex (a third row when installed, `pip install -e
".[bench]"`) stops by its own rule for `tol`, not the gradient bound: read
its objective and gradient columns beside its time."""),
    "scaling": ("Fit time against n", scaling_suite, """\
The same problem (float64) cut to its first n rows."""),
    "memory": ("Memory of a fit", memory_suite, """\
Peak resident memory of a fit beyond X and the imports, measured in a fresh
process per fit (`VmHWM` after resetting it once the data are loaded;
`benchmarks/report_probes.py`). 256 features, 1,000 classes; every fit is
capped at 10 iterations: both libraries allocate their working memory in the
first evaluations, and a full fit at this size takes minutes. Targets: at
most 200 MiB at 100,000 rows, and at most 10% more at twice the rows."""),
    "startup": ("Start-up", startup_suite, """\
Each line is measured in fresh processes: `import fastsoftmax` after
importing numpy, scipy, numba and sklearn.base, timed inside the process
(best of 5), with the package's bytecode written first, as installing it
does; the first fit (20,000 x 100, 10 classes) and `predict_proba` of a
process against the second, with the compiled kernels in Numba's cache
("warm") and with an empty cache ("cold compile")."""),
    "penalties": ("Sparse models beside saga", penalties_suite, """\
200,000 x 100, 10 classes, half of the true coefficients zero, C = 0.01, best
of two fits each, 2 threads. Objectives are computed for every model by one NumPy
function. saga's `tol` bounds the change of the coefficients, fastsoftmax's
the largest entry of the least-norm subgradient; at the same 1e-4 saga's
objective is the lower one, so the tol = 1e-7 fit is the fair comparison: it
reaches an objective no worse than saga's (target: 20x faster). scikit-learn
has no group lasso."""),
    "cv": ("Cross-validation of C", cv_suite, """\
`SoftmaxRegressionCV` beside `LogisticRegressionCV` on 200,000 x 100, 10
classes (the fit problem), `Cs = logspace(-4, 4, 10)`, the same five
stratified folds, scoring by held-out log-loss, tol = 1e-4, 2 threads, one
run each (target: 5x faster, the same C). The refit objective is computed by
one function for both."""),
    "sparse": ("CSR data: one evaluation", sparse_suite, """\
A text-like problem (`benchmarks/text_data.py`): 200,000 rows, 100,000
columns with power-law frequencies, about 91 stored entries per row (unit
norm), 20 classes. One loss+gradient evaluation at the same parameters, the
best call of three rounds (5 calls each, 3 for scikit-learn)."""),
    "textfit": ("CSR data: whole fits", textfit_suite, """\
The same problem fitted to the end (C = 1, tol = 1e-4, 2 threads), each fit
in a fresh process (`benchmarks/text_fit_comparison.py`); peak memory is the
fit's own (`VmHWM` reset after the data are made). Objectives by one function
(target: 5x faster than scikit-learn at an objective no worse, with less
memory). Not in the default run: scikit-learn takes several minutes."""),
}

#: Suites a plain run does (``--suites all`` adds the long ``textfit``).
DEFAULT_SUITES = [name for name in SUITES if name != "textfit"]


def cpu_ticks():
    """(stolen, total) CPU ticks of every core since boot, from /proc/stat, or
    None where it is missing: time the hypervisor gave to other guests shows
    up as stolen on a virtual machine."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal (guest time is in user)
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


def stolen_share(before, after):
    """Text for the share of CPU time stolen between two :func:`cpu_ticks`."""
    if before is None or after is None or after[1] == before[1]:
        return ""
    share = (after[0] - before[0]) / (after[1] - before[1])
    return f"; {100 * share:.1f}% of the CPU time stolen by the host"


def machine_description():
    """A sentence naming the machine and the software."""
    cpu = platform.processor() or platform.machine()
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        cpu = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines()
                   if line.startswith("Model name"))
    except (OSError, StopIteration):
        pass
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import numba
    import scipy
    import sklearn

    import fastsoftmax

    try:
        intelex = f", scikit-learn-intelex {importlib.metadata.version('scikit-learn-intelex')}"
    except importlib.metadata.PackageNotFoundError:
        intelex = ""
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory_gib:.0f} GiB; Python "
        f"{platform.python_version()}, NumPy {np.__version__}, SciPy {scipy.__version__}, "
        f"Numba {numba.__version__}, scikit-learn {sklearn.__version__}{intelex}, fastsoftmax "
        f"{fastsoftmax.__version__}; every measurement on 2 threads."
    )


def plot_roofline(data, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shapes = list(dict.fromkeys(row["shape"] for row in data))
    labels = [f"{n:,} x {d}\nK={k}" for n, d, k in shapes]
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.2
    series = [(impl, dtype) for impl in ("ours", "theirs") for dtype in ("float64", "float32")]
    for i, (impl, dtype) in enumerate(series):
        fractions = {row["shape"]: row["bound"] / row[impl] for row in data if row["dtype"] == dtype}
        values = [fractions.get(shape, 0.0) for shape in shapes]
        name = "fastsoftmax" if impl == "ours" else "scikit-learn"
        ax.bar(np.arange(len(shapes)) + (i - 1.5) * width, values, width, label=f"{name} {dtype}")
    ax.axhline(1 / 1.5, color="k", linestyle="--", linewidth=1, label="target (1/1.5)")
    ax.set_xticks(np.arange(len(labels)), labels)
    ax.set_ylabel("fraction of the roofline bound")
    ax.set_ylim(0, 1.05)
    ax.legend(ncol=3, fontsize=8)
    ax.set_title("One loss+gradient evaluation: bound / measured time")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_scaling(data, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    n = [row["n"] for row in data]
    for name in ("fastsoftmax", "scikit-learn lbfgs"):
        ax.loglog(n, [row[name] for row in data], "o-", label=name)
    ax.set_xlabel("rows (100 features, 10 classes, float64)")
    ax.set_ylabel("fit time (s)")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title("L2 fit, C=1, tol=1e-4, 2 threads")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


PLOTS = {"kernel": ("roofline.png", plot_roofline), "scaling": ("fit_vs_n.png", plot_scaling)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suites", default=",".join(DEFAULT_SUITES),
                        help="comma-separated, from: " + ", ".join(SUITES) + "; or all")
    parser.add_argument("--quick", action="store_true", help="a tenth of the rows (smoke test)")
    parser.add_argument("--output", default=str(REPORT))
    args = parser.parse_args()
    names = list(SUITES) if args.suites == "all" else [
        name.strip() for name in args.suites.split(",") if name.strip()
    ]
    unknown = [name for name in names if name not in SUITES]
    if unknown:
        parser.error(f"unknown suites {unknown}; choose from {list(SUITES)}")

    load_before = os.getloadavg()[0]
    machine = measure_machine(n_threads=2)
    rates = (
        f"read bandwidth {machine['read_bandwidth_GB_s']:.1f} GB/s, GEMM "
        f"{machine['gemm_GFLOP_s_float64']:.0f} / {machine['gemm_GFLOP_s_float32']:.0f} "
        "GFLOP/s (float64 / float32), measured in the same run"
    )
    sections = {}
    IMAGES.mkdir(parents=True, exist_ok=True)
    for name in names:
        title, suite, intro = SUITES[name]
        print(f"running {name} ...", flush=True)
        start, ticks = time.perf_counter(), cpu_ticks()
        text, data = suite(machine, quick=args.quick)
        elapsed = time.perf_counter() - start
        stolen = stolen_share(ticks, cpu_ticks())
        figure = ""
        if name in PLOTS and data:
            filename, plot = PLOTS[name]
            plot(data, IMAGES / filename)
            figure = f"\n\n![{title}](img/{filename})"
        sections[name] = (
            f"## {title}\n\n{intro}\n\n{text}{figure}\n\n"
            f"_Suite `{name}`, run {time.strftime('%Y-%m-%d')} in {elapsed:.0f} s{stolen}"
            f"{' (quick run: a tenth of the rows)' if args.quick else ''}; {rates}._"
        )
        print(text, flush=True)
    command = "python benchmarks/report.py" + (
        f" --suites {args.suites}" if args.suites != ",".join(DEFAULT_SUITES) else ""
    )
    header = (
        "# Performance report\n\n"
        "fastsoftmax beside scikit-learn, measured side by side in one run on one machine. "
        "Every time is printed beside the objective or loss it reached.\n\n"
        f"Last run: `{command}{' --quick' if args.quick else ''}` on "
        f"{time.strftime('%Y-%m-%d')}. Machine: {machine_description()} "
        f"Load average {load_before:.1f} at the start and {os.getloadavg()[0]:.1f} at the end "
        "(the machine is shared; compare rows of one run only). Each section names the date "
        "of its own run and the rates measured then."
    )
    update_sections(args.output, sections, header)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    sys.exit(main())
