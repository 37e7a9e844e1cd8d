"""Time one loss+gradient evaluation in groups of calls, to see the host's states.

Usage (from the repository root)::

    python benchmarks/host_states.py                     # 1,000,000 x 100, K=10, float32
    python benchmarks/host_states.py --shape 1000000x20x3 --dtype float64 --threads 1

Prints one line per group: the times of ``--calls`` consecutive calls, in
ms. Groups start ``--pause`` seconds apart. On a shared virtual machine the
times of one group usually agree with each other while whole groups differ:
the host, not the code, changed between them. The report's one-evaluation
suites take the best of several rounds for this reason
(``report_markdown.ROUNDS``).
"""

import argparse
import time

from problems import loss_callable, make_problem


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", default="1000000x100x10", help="n x d x K")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--groups", type=int, default=12)
    parser.add_argument("--calls", type=int, default=8)
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between groups")
    args = parser.parse_args()
    n, d, k = (int(v) for v in args.shape.split("x"))
    X, y = make_problem(n, d, k)
    X = X.astype(args.dtype)
    evaluate = loss_callable("fastsoftmax", X, y, k, args.threads)
    evaluate()  # compiles, or loads the compiled kernels
    print(f"{n:,} x {d}, K={k}, {args.dtype}, {args.threads} thread(s): ms per call")
    for _ in range(args.groups):
        times = []
        for _ in range(args.calls):
            start = time.perf_counter()
            evaluate()
            times.append((time.perf_counter() - start) * 1e3)
        print(" ".join(f"{t:6.1f}" for t in times), f"  best {min(times):6.1f}", flush=True)
        time.sleep(args.pause)


if __name__ == "__main__":
    main()
