"""Shared fixtures of the benchmark suite and its comparison report.

pytest-benchmark's table shows times only. A time means little without the
objective value it bought, so every benchmark also adds a row to a
comparison report (time, objective, iterations, time over the roofline
bound), printed at the end of the session beside the machine's measured
bandwidth and GEMM rates.
"""

import pytest
from machine import measure_machine

_REPORT = pytest.StashKey[list]()
_MACHINE = pytest.StashKey[dict]()


@pytest.fixture(scope="session")
def machine(pytestconfig):
    """Read bandwidth and GEMM rates of this machine, measured once per session."""
    pytestconfig.stash[_MACHINE] = measure_machine(n_threads=2)
    return pytestconfig.stash[_MACHINE]


@pytest.fixture(scope="session")
def report(pytestconfig):
    """A list of dicts, one per benchmark, printed by the terminal summary."""
    return pytestconfig.stash.setdefault(_REPORT, [])


# Objectives get enough digits to see the 1e-8 relative agreement the design asks for.
_FORMATS = {
    "min_s": "{:.4g}",
    "objective": "{:.12g}",
    "max_abs_grad": "{:.2e}",
    "time_over_roofline": "{:.1f}",
    "speedup": "{:.1f}x",
}


def _format(column, value):
    if value is None:
        return ""
    return _FORMATS.get(column, "{}").format(value)


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, config):
    rows = config.stash.get(_REPORT, [])
    if not rows:
        return
    write = terminalreporter.write_line
    terminalreporter.section("fastsoftmax vs scikit-learn")
    machine = config.stash.get(_MACHINE, None)
    if machine is not None:
        write("machine: " + ", ".join(f"{k}={v:.4g}" for k, v in machine.items()))
    # A speed-up is only meaningful against the other implementation of the
    # same group (same data, same problem).
    times = {(row["group"], row["impl"]): row["min_s"] for row in rows}
    for row in rows:
        if row["impl"] == "fastsoftmax" and row["min_s"]:
            sklearn_time = times.get((row["group"], "sklearn"))
            row["speedup"] = sklearn_time / row["min_s"] if sklearn_time else None
    columns = ["group", "impl", "min_s", "objective", "n_iter", "max_abs_grad",
               "zero_coefs", "time_over_roofline", "speedup"]
    table = [columns] + [[_format(c, row.get(c)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    for line in table:
        write("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
