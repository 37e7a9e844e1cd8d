"""
Progress lines and a callback that stops the fit
================================================

Watch a fit and stop it on your own terms. ``verbose=1`` prints what is
being fitted, one aligned line per iteration (objective, the optimality
measure that is compared with ``tol``, seconds) and a summary. A
``callback`` receives an ``IterationState`` after every iteration and stops
the fit by returning True: here, after a time budget, or once the objective
improves by less than a relative 1e-6.

Run from the repository root::

    python examples/progress.py
"""

import numpy as np

from fastsoftmax import SoftmaxRegression


class StopWhenFlat:
    """Stop after ``budget`` seconds or when F improves by < ``rtol`` relative."""

    def __init__(self, budget=10.0, rtol=1e-6):
        self.budget = budget
        self.rtol = rtol
        self.previous = np.inf
        self.history = []

    def __call__(self, state):
        self.history.append(state.objective)
        flat = self.previous - state.objective < self.rtol * abs(state.objective)
        self.previous = state.objective
        return state.elapsed > self.budget or flat


def main():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100_000, 50))
    y = np.argmax(X @ rng.normal(0, 0.3, (50, 8)) + rng.gumbel(size=(100_000, 8)), axis=1)

    SoftmaxRegression(verbose=1, tol=1e-6).fit(X, y)

    stop = StopWhenFlat()
    clf = SoftmaxRegression(tol=1e-10, max_iter=1000, callback=stop).fit(X, y)
    print(f"\nstopped by the callback after {clf.n_iter_[0]} iterations at objective "
          f"{clf.objective_:.10f} (objective history: {len(stop.history)} values)")


if __name__ == "__main__":
    main()
