"""
Cost-sensitive decisions: the class of least expected cost
==========================================================

A triage problem with three classes ("healthy", "ill", "critical"). Sending a
critical case home costs far more than a needless examination, so the most
probable class is not the best decision. ``SoftmaxRegression(cost_matrix=C)``
predicts ``argmin_j sum_i P(i | x) C[i, j]`` from the same fitted
probabilities, and on held-out data the total cost drops.
``fastsoftmax.min_expected_cost`` does the same for any probabilities.

Run from the repository root::

    python examples/cost_sensitive.py [--output cost_sensitive.png]
"""

# %%
# Set-up
# ------
import argparse

import matplotlib

matplotlib.use("Agg")  # the figure is saved, if asked for; no display needed

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

import fastsoftmax as fs
from fastsoftmax import SoftmaxRegression

parser = argparse.ArgumentParser(description="Cost-sensitive decisions.")
parser.add_argument("--output", default=None, help="also save the figure to this file")
args = parser.parse_args()

CLASSES = ["healthy", "ill", "critical"]
# COST[i, j]: cost of deciding class j when the truth is class i.
COST = np.array([
    [0.0, 1.0, 2.0],    # healthy: an examination or an emergency call is wasted effort
    [5.0, 0.0, 1.0],    # ill: sent home, comes back worse
    [50.0, 10.0, 0.0],  # critical: sent home or under-treated is very costly
])

# %%
# Two models, one fit
# -------------------
# Both models are fitted the same way and give the same probabilities; only
# ``predict`` differs.
X, y = make_classification(
    n_samples=30_000, n_features=10, n_informative=6, n_classes=3,
    weights=[0.7, 0.2, 0.1], class_sep=0.8, random_state=0,
)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.5, random_state=0)
argmax_model = SoftmaxRegression().fit(X_train, y_train)
cost_model = SoftmaxRegression(cost_matrix=COST).fit(X_train, y_train)

# %%
# The total cost of each model's decisions on the held-out half.
costs = {}
for name, model in [("most probable class", argmax_model),
                    ("least expected cost", cost_model)]:
    decisions = model.predict(X_test)
    counts = np.bincount(decisions, minlength=3)
    costs[name] = [COST[y_test[y_test == k], decisions[y_test == k]].sum() for k in range(3)]
    print(f"{name:<20} total cost {COST[y_test, decisions].sum():>9.0f}   decisions "
          + ", ".join(f"{c}: {n}" for c, n in zip(CLASSES, counts)))

# %%
# The backend function gives the same decisions from any probabilities.
same = fs.min_expected_cost(argmax_model.predict_proba(X_test), COST)
assert np.array_equal(same, cost_model.predict(X_test))

# %%
# Where the cost comes from: the cost-sensitive rule examines more healthy
# cases (a small cost each) to send far fewer critical cases home.
fig, ax = plt.subplots(figsize=(6.5, 3.5))
width = 0.4
positions = np.arange(len(CLASSES))
for offset, (name, per_class) in zip((-width / 2, width / 2), costs.items()):
    ax.bar(positions + offset, per_class, width, label=name)
ax.set_xticks(positions, [f"truly {c}" for c in CLASSES])
ax.set_ylabel("total cost on held-out data")
ax.legend()
fig.tight_layout()
if args.output:
    fig.savefig(args.output, dpi=120)
    print(f"figure saved to {args.output}")
