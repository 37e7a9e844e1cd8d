"""
Soft targets from several annotators
====================================

Each training sample was labelled by five annotators who disagree where the
classes overlap. Three ways to use the votes:

* one annotator's label per sample (hard labels),
* the majority vote, with ``label_smoothing=0.1``,
* the vote shares themselves as soft targets, ``fit(X, votes / 5)``: rows of
  class probabilities.

The soft targets carry what the annotators know about ambiguity; on held-out
data their model's probabilities are closest to the true ones (lowest
cross-entropy against the true class probabilities).

Run from the repository root::

    python examples/soft_targets.py [--output soft_targets.png]
"""

# %%
# Set-up
# ------
import argparse

import matplotlib

matplotlib.use("Agg")  # the figure is saved, if asked for; no display needed

import matplotlib.pyplot as plt
import numpy as np

import fastsoftmax as fs
from fastsoftmax import SoftmaxRegression

parser = argparse.ArgumentParser(description="Soft targets from several annotators.")
parser.add_argument("--output", default=None, help="also save the figure to this file")
args = parser.parse_args()

N_CLASSES, N_FEATURES, N_ANNOTATORS = 6, 20, 5

# %%
# The data
# --------
# A true softmax model gives every sample its class probabilities; five
# annotators each draw a label from them. 1,500 training samples, and
# 20,000 test samples whose true probabilities are known.
rng = np.random.default_rng(0)
W = rng.normal(0, 0.5, (N_CLASSES, N_FEATURES))
X_train = rng.standard_normal((1500, N_FEATURES))
X_test = rng.standard_normal((20_000, N_FEATURES))
P_train = fs.softmax(X_train @ W.T)
P_test = fs.softmax(X_test @ W.T)

votes = np.zeros_like(P_train)
for i, p in enumerate(P_train):
    votes[i] = rng.multinomial(N_ANNOTATORS, p)
one_label = np.array([rng.choice(N_CLASSES, p=v / N_ANNOTATORS) for v in votes])
majority = np.argmax(votes + 1e-3 * rng.random(votes.shape), axis=1)

# %%
# Three fits
# ----------
# The soft targets are the vote shares, rows of class probabilities of shape
# ``(n_samples, n_classes)``: ``fit`` recognises them as such.
models = {
    "one annotator's label": SoftmaxRegression().fit(X_train, one_label),
    "majority, smoothing 0.1": SoftmaxRegression(label_smoothing=0.1).fit(X_train, majority),
    "vote shares (soft)": SoftmaxRegression().fit(X_train, votes / N_ANNOTATORS),
}

# %%
# On held-out data: the cross-entropy of each model's probabilities against
# the true ones (the lower, the closer), and how often its most probable
# class is the truly most probable one.
print(f"{'fitted to':<24} {'cross-entropy vs true P':>24} {'accuracy vs true argmax':>24}")
scores = {}
for name, model in models.items():
    log_proba = model.predict_log_proba(X_test)
    scores[name] = -np.mean(np.sum(P_test * log_proba, axis=1))
    agreement = np.mean(np.argmax(log_proba, axis=1) == np.argmax(P_test, axis=1))
    print(f"{name:<24} {scores[name]:>24.4f} {agreement:>24.4f}")
entropy = -np.mean(np.sum(P_test * np.log(P_test), axis=1))
print(f"{'(the true model)':<24} {entropy:>24.4f} {1.0:>24.4f}")

# %%
# The excess of each cross-entropy over the true model's (the entropy) is the
# mean KL divergence of the model's probabilities from the true ones.
fig, ax = plt.subplots(figsize=(6.5, 3))
ax.barh(list(scores), [value - entropy for value in scores.values()], color=["C0", "C0", "C1"])
ax.invert_yaxis()
ax.set_xlabel("KL divergence from the true probabilities (held out; lower is better)")
fig.tight_layout()
if args.output:
    fig.savefig(args.output, dpi=120)
    print(f"figure saved to {args.output}")
