"""
Regularisation paths and C chosen by cross-validation
=====================================================

Fits :func:`fastsoftmax.softmax_path` on a four-class problem with 30
features (8 informative) over 25 values of C, for L1 (individual
coefficients leave the model) and group lasso (whole features leave the model,
for every class at once), then lets
:class:`fastsoftmax.SoftmaxRegressionCV` choose C for group lasso by
5-fold cross-validated log-loss. Saves one figure with three panels:
coefficient norm against C, number of features in use against C, and the
cross-validation curve with the chosen C. No display needed.

Run from the repository root::

    python examples/regularization_path.py [--output regularization_path.png]
"""

import argparse
import time

import matplotlib

matplotlib.use("Agg")  # write a file; no display needed

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.preprocessing import StandardScaler

from fastsoftmax.cv import SoftmaxRegressionCV
from fastsoftmax.path import softmax_path

CS = np.logspace(-3, 1, 25)
PENALTIES = {"l1": "L1", "group_lasso": "group lasso"}


def main(output, n_threads):
    X, y = make_classification(
        n_samples=2000, n_features=30, n_informative=8, n_redundant=0, n_classes=4,
        n_clusters_per_class=1, random_state=0,
    )
    X = StandardScaler().fit_transform(X)

    fig, (ax_norm, ax_used, ax_cv) = plt.subplots(1, 3, figsize=(15, 4.2))
    for penalty, label in PENALTIES.items():
        start = time.perf_counter()
        path = softmax_path(X, y, CS, penalty=penalty, max_iter=1000, n_threads=n_threads)
        seconds = time.perf_counter() - start
        # A feature is in use if any class gives it a non-zero weight.
        features_used = np.any(path.coefs != 0, axis=1).sum(axis=1)
        print(f"{label}: {len(CS)} values of C in {seconds:.2f} s, "
              f"{path.n_iter.sum()} iterations in total; features in use from "
              f"{features_used[0]} to {features_used[-1]}")
        ax_norm.plot(CS, np.linalg.norm(path.coefs, axis=(1, 2)), marker=".", label=label)
        ax_used.plot(CS, features_used, marker=".", label=label)

    start = time.perf_counter()
    cv_model = SoftmaxRegressionCV(
        Cs=CS, penalty="group_lasso", max_iter=1000, n_threads=n_threads
    ).fit(X, y)
    print(f"cross-validation (5 folds x {len(CS)} C) and refit in "
          f"{time.perf_counter() - start:.2f} s: C = {cv_model.C_:.3g}, "
          f"{np.any(cv_model.coef_ != 0, axis=0).sum()} of {X.shape[1]} features in use")
    mean, std = cv_model.scores_.mean(axis=0), cv_model.scores_.std(axis=0)
    ax_cv.plot(CS, -mean, marker=".", color="C1")
    ax_cv.fill_between(CS, -mean - std, -mean + std, color="C1", alpha=0.2)
    ax_cv.axvline(cv_model.C_, color="k", linestyle="--", label=f"chosen C = {cv_model.C_:.3g}")

    ax_norm.set_ylabel("||coef||_F")
    ax_used.set_ylabel("features in use")
    ax_cv.set_ylabel("held-out log-loss (mean ± std over folds)")
    ax_norm.set_title("Coefficient norm along the path")
    ax_used.set_title("Features in use along the path")
    ax_cv.set_title("Group lasso: 5-fold cross-validation")
    for ax in (ax_norm, ax_used, ax_cv):
        ax.set_xscale("log")
        ax.set_xlabel("C (inverse regularisation strength)")
        ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(output, dpi=120)
    print(f"saved {output}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description="L1 and group-lasso paths; C chosen by cross-validation."
    )
    parser.add_argument("--output", default="regularization_path.png",
                        help="where to save the figure (PNG, PDF or SVG by extension)")
    # The problem is small: one thread avoids the cost of waking the others
    # for every pass over the data, which dominates at 2,000 rows.
    parser.add_argument("--n-threads", type=int, default=1,
                        help="kernel threads (default 1; small data gains nothing from more)")
    args = parser.parse_args()
    main(args.output, args.n_threads)
