"""Markdown pieces of the benchmark report and the file they live in.

docs/performance.md is made of sections between markers::

    <!-- report:kernel -->
    ...
    <!-- /report:kernel -->

A run of ``benchmarks/report.py`` rewrites the sections of the suites it ran
and keeps every other section as it was, so a slow suite need not be run
again to refresh a quick one.
"""

import re
import time
from pathlib import Path


def settle():
    """Wait until BLAS worker threads of a previous call have gone to sleep.

    A multi-threaded OpenBLAS keeps its threads spinning for a while after a
    call; timing fastsoftmax right after a scikit-learn call (which uses BLAS)
    would measure the two fighting for the cores.
    """
    time.sleep(1.0)


#: Rounds of timed calls in the one-evaluation suites (kernel, threads,
#: predict, sparse), each after :func:`settle`, so at least a second apart. The
#: host runs in states that last from about one to several seconds: one float32
#: evaluation at 1,000,000 x 100, K=10, timed 8 times in a row every half
#: second, took 27.6 to 30.5 ms in some groups and 35.5 to 44.3 ms in others,
#: on one thread as on two (docs/performance.md, "Rounds"). The best call of
#: one burst says which state the burst fell in; three rounds seconds apart are
#: less likely to fall in one slow state (a slow spell of minutes still shows).
ROUNDS = 3


def best_time(function, repeats, rounds=1):
    """Smallest wall-clock time of ``rounds`` x ``repeats`` calls of
    ``function()``, in seconds, and the last call's result. Every round first
    waits for idle BLAS threads (:func:`settle`)."""
    best = float("inf")
    result = None
    for _ in range(rounds):
        settle()
        for _ in range(repeats):
            start = time.perf_counter()
            result = function()
            best = min(best, time.perf_counter() - start)
    return best, result


def table(columns, rows):
    """A Markdown table.

    Parameters
    ----------
    columns : list of str
    rows : list of list
        Cells are printed with ``str``; None prints as an empty cell.
    """
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join("" if cell is None else str(cell) for cell in row) + " |")
    return "\n".join(lines)


def seconds(value):
    """A time in seconds with three significant digits, in s or ms."""
    if value is None:
        return None
    return f"{value * 1e3:.3g} ms" if value < 1 else f"{value:.3g} s"


def _marker(name, end=False):
    return f"<!-- {'/' if end else ''}report:{name} -->"


def update_sections(path, sections, header):
    """Write ``sections`` ({name: markdown}) into ``path``, keeping the others.

    Sections already in the file keep their place; new ones are appended. The
    text before the first section is replaced by ``header``.
    """
    path = Path(path)
    text = path.read_text() if path.exists() else ""
    pattern = re.compile(r"<!-- report:(\w[\w-]*) -->\n(.*?)<!-- /report:\1 -->\n?", re.S)
    existing = [(m.group(1), m.group(2)) for m in pattern.finditer(text)]
    names = [name for name, _ in existing]
    merged = dict(existing)
    merged.update(sections)
    for name in sections:
        if name not in names:
            names.append(name)
    body = "".join(
        f"{_marker(name)}\n{merged[name].strip()}\n\n{_marker(name, end=True)}\n\n" for name in names
    )
    path.write_text(header.strip() + "\n\n" + body)
