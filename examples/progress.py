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

    python examples/progress.py [--output progress.png]
"""

# %%
# Set-up
# ------
import argparse

import matplotlib

matplotlib.use("Agg")  # the figure is saved, if asked for; no display needed

import matplotlib.pyplot as plt
import numpy as np

from fastsoftmax import SoftmaxRegression

parser = argparse.ArgumentParser(description="Progress lines and a callback that stops the fit.")
parser.add_argument("--output", default=None, help="also save the figure to this file")
args = parser.parse_args()

# %%
# 100,000 samples, 50 features, 8 classes drawn from a softmax model.
rng = np.random.default_rng(0)
X = rng.standard_normal((100_000, 50))
y = np.argmax(X @ rng.normal(0, 0.3, (50, 8)) + rng.gumbel(size=(100_000, 8)), axis=1)

# %%
# ``verbose=1``
# -------------
# The header names the data, the penalty, the solver and the threads; each
# line gives the objective and the optimality measure, which the fit
# compares with ``tol``.
SoftmaxRegression(verbose=1, tol=1e-6).fit(X, y)

# %%
# A callback that stops the fit
# -----------------------------
# ``tol=1e-10`` asks for far more accuracy than this problem needs. The
# callback stops the fit after a time budget, or as soon as an iteration
# improves the objective by less than a relative 1e-6; the fit then ends
# without a ``ConvergenceWarning``.


class StopWhenFlat:
    """Stop after ``budget`` seconds or when F improves by < ``rtol`` relative."""

    def __init__(self, budget=10.0, rtol=1e-6):
        self.budget = budget
        self.rtol = rtol
        self.previous = np.inf
        self.objectives = []
        self.optimality = []

    def __call__(self, state):
        self.objectives.append(state.objective)
        self.optimality.append(state.optimality)
        flat = self.previous - state.objective < self.rtol * abs(state.objective)
        self.previous = state.objective
        return state.elapsed > self.budget or flat


stop = StopWhenFlat()
clf = SoftmaxRegression(tol=1e-10, max_iter=1000, callback=stop).fit(X, y)
print(f"stopped by the callback after {clf.n_iter_[0]} iterations at objective "
      f"{clf.objective_:.10f} (objective history: {len(stop.objectives)} values)")

# %%
# What the callback saw: the improvement of the objective per iteration
# (relative) and the optimality measure. The fit stopped at the first
# improvement below 1e-6.
iterations = np.arange(1, len(stop.objectives) + 1)
improvement = -np.diff(stop.objectives) / np.abs(stop.objectives[1:])
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.semilogy(iterations, stop.optimality, marker=".", label="optimality (max |gradient|)")
ax.semilogy(iterations[1:], np.maximum(improvement, 1e-17), marker=".",
            label="relative improvement of F")
ax.axhline(stop.rtol, color="k", linestyle="--", linewidth=1, label="rtol = 1e-6")
ax.set_xlabel("iteration")
ax.set_title("A fit stopped by its callback")
ax.legend()
fig.tight_layout()
if args.output:
    fig.savefig(args.output, dpi=120)
    print(f"figure saved to {args.output}")
