"""The report's own measurements: the machine's rates, the read of X beside
each timed call, and the share of CPU time stolen by the host."""

import numpy as np
from report import stolen_share
from report_kernel import best_time_beside_read


def test_stolen_share_is_the_stolen_part_of_the_ticks_between_two_readings():
    assert stolen_share((10, 1000), (35, 1100)) == "; 25.0% of the CPU time stolen by the host"
    assert stolen_share((10, 1000), (10, 1400)) == "; 0.0% of the CPU time stolen by the host"
    # No /proc/stat, or no tick between the readings: nothing to say.
    assert stolen_share(None, (10, 1000)) == ""
    assert stolen_share((10, 1000), (10, 1000)) == ""


def test_best_time_beside_read_times_the_call_and_a_read_of_x_in_turns(monkeypatch):
    import report_kernel

    settles = []
    monkeypatch.setattr(report_kernel, "settle", lambda: settles.append(1))
    X = np.ones((2000, 30), dtype=np.float32)
    calls = []

    def function():
        calls.append(1)
        return len(calls)

    best, best_read, result = best_time_beside_read(function, X, repeats=4, rounds=3)
    assert len(calls) == 12 and result == 12
    assert len(settles) == 3  # one pause before every round
    assert 0 < best < 1 and 0 < best_read < 1


def test_best_time_takes_the_fastest_call_of_every_round(monkeypatch):
    import report_markdown

    settles = []
    monkeypatch.setattr(report_markdown, "settle", lambda: settles.append(len(durations)))
    # Calls that "take" these many seconds, by a clock that only they move.
    durations = [5.0, 4.0, 3.0, 0.5, 2.0, 6.0]
    clock = [0.0]
    monkeypatch.setattr(report_markdown.time, "perf_counter", lambda: clock[0])

    def function():
        clock[0] += durations.pop(0)
        return len(durations)

    best, result = report_markdown.best_time(function, repeats=2, rounds=3)
    assert best == 0.5 and result == 0
    assert settles == [6, 4, 2]  # a pause before each round of two calls


def test_measure_machine_keeps_each_rates_best_round(monkeypatch):
    import machine

    sleeps = []
    monkeypatch.setattr(machine.time, "sleep", sleeps.append)
    # Round by round; the float32 GEMM falls in a slow state in round 1.
    bandwidths = iter([30.0, 34.0, 33.0])
    rates = {np.float64: iter([100.0, 108.0, 104.0]), np.float32: iter([110.0, 205.0, 212.0])}
    monkeypatch.setattr(machine, "read_bandwidth", lambda n_threads: next(bandwidths))
    monkeypatch.setattr(machine, "gemm_rate", lambda dtype, n_threads: next(rates[dtype]))
    measured = machine.measure_machine(n_threads=2, rounds=3, pause=0.5)
    assert measured["read_bandwidth_GB_s"] == 34.0
    assert measured["gemm_GFLOP_s_float64"] == 108.0
    assert measured["gemm_GFLOP_s_float32"] == 212.0
    assert sleeps == [0.5, 0.5]  # between rounds, not before the first
    n, d, k = machine.REFERENCE_SHAPE
    assert measured["roofline_s_float32"] == max(n * d * 4 / 34e9, 4 * n * d * k / 212e9)
