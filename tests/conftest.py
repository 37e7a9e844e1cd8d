import numpy as np
import pytest
from hypothesis import settings

# Property-based tests run a quick profile by default; `python -m pytest -m fuzz`
# selects only them and runs thousands of examples each.
settings.register_profile("quick", max_examples=40, deadline=None)
settings.register_profile("fuzz", max_examples=2000, deadline=None)


def pytest_configure(config):
    fuzzing = "fuzz" in (config.getoption("markexpr", default="") or "")
    settings.load_profile("fuzz" if fuzzing else "quick")


@pytest.fixture
def rng():
    return np.random.default_rng(42)
