"""The report's own measurements: the read of X beside each timed call, and
the share of CPU time stolen by the host."""

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

    monkeypatch.setattr(report_kernel, "settle", lambda: None)
    X = np.ones((2000, 30), dtype=np.float32)
    calls = []

    def function():
        calls.append(1)
        return len(calls)

    best, best_read, result = best_time_beside_read(function, X, repeats=4)
    assert len(calls) == 4 and result == 4
    assert 0 < best < 1 and 0 < best_read < 1
