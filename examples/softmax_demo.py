"""Softmax regression on the textbook three-class problem, with its decision regions.

Fits :class:`fastsoftmax.SoftmaxRegression` to 300 two-dimensional points in
three classes, prints the training accuracy and saves a picture of the
decision regions with the data on top (no display needed).

Run from the repository root::

    python examples/softmax_demo.py [--output softmax_demo.png]
"""

import argparse

import matplotlib

matplotlib.use("Agg")  # write a file; no display needed

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification

from fastsoftmax import SoftmaxRegression


def main(output):
    X, y = make_classification(
        n_samples=300, n_features=2, n_informative=2, n_redundant=0,
        n_clusters_per_class=1, n_classes=3, random_state=42,
    )
    model = SoftmaxRegression().fit(X, y)
    print(f"training accuracy: {model.score(X, y):.3f}")
    print(f"objective reached: {model.objective_:.6f} in {model.n_iter_[0]} iterations")

    # Predict every point of a grid covering the data, to colour the regions.
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
    fig.savefig(output, dpi=120)
    print(f"decision regions saved to {output}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default="softmax_demo.png", help="PNG file to write")
    main(parser.parse_args().output)
