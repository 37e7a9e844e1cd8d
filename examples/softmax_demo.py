"""
Getting started: the textbook three-class problem
=================================================

Fit :class:`fastsoftmax.SoftmaxRegression` to 300 two-dimensional points in
three classes, look at the probabilities it gives, and draw its decision
regions with the data on top.

Run from the repository root (no display needed: the figure is saved)::

    python examples/softmax_demo.py [--output softmax_demo.png]
"""

# %%
# Set-up
# ------
# As a script the figure goes to a file, so matplotlib needs no display.
import argparse

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification

from fastsoftmax import SoftmaxRegression

parser = argparse.ArgumentParser(
    description="Softmax regression on the textbook three-class problem."
)
parser.add_argument("--output", default="softmax_demo.png", help="PNG file to write")
args = parser.parse_args()

# %%
# Fit
# ---
# Three classes, two informative features. ``SoftmaxRegression`` has the
# parameters of scikit-learn's ``LogisticRegression``; the defaults are an
# L2 penalty with ``C=1.0`` and ``tol=1e-4``.
X, y = make_classification(
    n_samples=300, n_features=2, n_informative=2, n_redundant=0,
    n_clusters_per_class=1, n_classes=3, random_state=42,
)
model = SoftmaxRegression().fit(X, y)
print(f"training accuracy: {model.score(X, y):.3f}")
print(f"objective reached: {model.objective_:.6f} in {model.n_iter_[0]} iterations")

# %%
# One coefficient row and one intercept per class; the probabilities of a
# sample are the softmax of its three scores ``coef_ @ x + intercept_``.
print("coef_ shape:", model.coef_.shape, " intercept_ shape:", model.intercept_.shape)
proba = model.predict_proba(X[:1])[0]
print(f"probabilities of the first sample: {np.round(proba, 3)} (sum {proba.sum():.1f}); "
      f"predicted class {model.predict(X[:1])[0]}, true class {y[0]}")

# %%
# Decision regions
# ----------------
# Predict every point of a grid covering the data and colour it by the
# predicted class. The boundaries are straight lines: the model is linear in
# the features.
pad = 1.0
xx, yy = np.meshgrid(
    np.linspace(X[:, 0].min() - pad, X[:, 0].max() + pad, 400),
    np.linspace(X[:, 1].min() - pad, X[:, 1].max() + pad, 400),
)
grid = np.column_stack([xx.ravel(), yy.ravel()])
regions = model.predict(grid).reshape(xx.shape)

fig, ax = plt.subplots(figsize=(6, 5))
ax.contourf(xx, yy, regions, alpha=0.3, levels=[-0.5, 0.5, 1.5, 2.5], cmap="viridis")
scatter = ax.scatter(X[:, 0], X[:, 1], c=y, cmap="viridis", edgecolor="k", s=25)
ax.legend(*scatter.legend_elements(), title="class", loc="best")
ax.set_xlabel("feature 0")
ax.set_ylabel("feature 1")
ax.set_title("Softmax regression: decision regions")
fig.tight_layout()
fig.savefig(args.output, dpi=120)
print(f"decision regions saved to {args.output}")
