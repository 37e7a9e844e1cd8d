"""
Feature scaling: convergence and L1 selection
=============================================

The same data twice: with features on wildly different scales (multiplied
by factors from 0.01 to 1000, as a change of units would), and standardised
to mean 0 and variance 1.

* **Convergence.** Badly scaled features make the objective
  ill-conditioned: a solver may need many more iterations, or stop at
  ``max_iter`` far from the optimum. fastsoftmax's solvers rescale their
  parameters internally when features' scales differ widely, so here both
  converge in a few dozen iterations either way.
* **Penalties.** The penalty acts on the coefficients in the units of the
  features. A feature with small values needs a large coefficient, so an L1
  penalty removes it first, whatever it says about the classes; after
  standardising, the penalty weighs every feature alike.

Standardise (``sklearn.preprocessing.StandardScaler``, in a ``Pipeline``)
before fitting, unless the units are meaningful and comparable.

Run from the repository root::

    python examples/feature_scaling.py [--output feature_scaling.png]
"""

# %%
# Set-up
# ------
import argparse
import warnings

import matplotlib

matplotlib.use("Agg")  # the figure is saved; no display needed

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from fastsoftmax import SoftmaxRegression

parser = argparse.ArgumentParser(
    description="Feature scaling: convergence and L1 selection."
)
parser.add_argument("--output", default="feature_scaling.png", help="PNG file to write")
args = parser.parse_args()

# %%
# Six features, multiplied by 0.01, 0.1, 1, 10, 100 and 1000.
# The first four are informative, the last two noise (``shuffle=False``
# keeps them in that order).
X, y = make_classification(
    n_samples=5000, n_features=6, n_informative=4, n_redundant=0, n_classes=3,
    n_clusters_per_class=1, shuffle=False, random_state=0,
)
scales = 10.0 ** np.arange(-2, 4)
X_raw = X * scales
X_standard = StandardScaler().fit_transform(X_raw)

# %%
# Convergence
# -----------
# A callback records the optimality measure after every iteration: the
# largest absolute entry of the gradient (of the least-norm subgradient for
# L1), which the fit compares with ``tol``. First the default L2 penalty
# (L-BFGS):


def fit_recording(X, y, **params):
    """Fit, and return the model, the optimality history and any warning."""
    history = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        # One kernel thread: on 5,000 rows a pass takes microseconds, less
        # than waking a second thread would.
        model = SoftmaxRegression(
            max_iter=500, n_threads=1,
            callback=lambda state: history.append(state.optimality), **params,
        ).fit(X, y)
    return model, history, [str(w.message) for w in caught]


runs = {"raw scales": X_raw, "standardised": X_standard}
histories = {}
for name, data in runs.items():
    model, histories["L2, " + name], messages = fit_recording(data, y)
    print(f"L2 on {name}: {model.n_iter_[0]} iterations, training accuracy "
          f"{model.score(data, y):.3f}")
    for message in messages:
        print(f"    ConvergenceWarning: {message}")

# %%
# L1 selection
# ------------
# The same L1 penalty (``C=0.01``, proximal L-BFGS) on both versions of the
# data. Its progress joins the figure's left panel. To compare
# the two models, each coefficient is multiplied by its feature's standard
# deviation: the change of a score when the feature moves by one standard
# deviation, whatever its scale. On the raw scales the penalty drops the
# informative feature with the smallest values and keeps the noise features
# with the largest, whose coefficients cost it almost nothing.
l1_models, effects = {}, {}
for name, data in runs.items():
    model, histories["L1, " + name], messages = fit_recording(data, y, penalty="l1", C=0.01)
    l1_models[name] = model
    effects[name] = np.abs(model.coef_ * data.std(axis=0)).sum(axis=0)
    used = np.flatnonzero(np.any(model.coef_ != 0, axis=0))
    print(f"L1 on {name}: {model.n_iter_[0]} iterations"
          + (" (stopped before tol)" if messages else "")
          + f", keeps features {used.tolist()}, training accuracy {model.score(data, y):.3f}")

# %%
# The figure
# ----------
fig, (ax_conv, ax_l1) = plt.subplots(1, 2, figsize=(11, 4.2))
for (name, history), style in zip(histories.items(), ("C0-", "C1-", "C0:", "C1:")):
    ax_conv.semilogy(np.arange(1, len(history) + 1), history, style, label=name)
ax_conv.axhline(1e-4, color="k", linestyle="--", linewidth=1, label="tol = 1e-4")
ax_conv.set_xlabel("iteration")
ax_conv.set_ylabel("optimality (compared with tol)")
ax_conv.set_title("Progress per iteration")
ax_conv.legend()

width = 0.4
positions = np.arange(scales.size)
for offset, (name, effect) in zip((-width / 2, width / 2), effects.items()):
    ax_l1.bar(positions + offset, effect, width, label=name)
ax_l1.set_xticks(positions, [f"x{j}\nx {c:g}" for j, c in enumerate(scales)])
ax_l1.set_ylabel("sum over classes of |coef| x std of feature")
ax_l1.set_title("L1 fit (C=0.01): features in use")
ax_l1.legend()
fig.tight_layout()
fig.savefig(args.output, dpi=120)
print(f"figure saved to {args.output}")
