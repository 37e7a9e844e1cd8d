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

    python examples/soft_targets.py
"""

import numpy as np

import fastsoftmax as fs
from fastsoftmax import SoftmaxRegression

N_CLASSES, N_FEATURES, N_ANNOTATORS = 6, 20, 5


def true_probabilities(X, W):
    return fs.softmax(X @ W.T)


def main():
    rng = np.random.default_rng(0)
    W = rng.normal(0, 0.5, (N_CLASSES, N_FEATURES))
    X_train = rng.standard_normal((1500, N_FEATURES))
    X_test = rng.standard_normal((20_000, N_FEATURES))
    P_train = true_probabilities(X_train, W)
    P_test = true_probabilities(X_test, W)

    votes = np.zeros_like(P_train)
    for i, p in enumerate(P_train):
        votes[i] = rng.multinomial(N_ANNOTATORS, p)
    one_label = np.array([rng.choice(N_CLASSES, p=v / N_ANNOTATORS) for v in votes])
    majority = np.argmax(votes + 1e-3 * rng.random(votes.shape), axis=1)

    models = {
        "one annotator's label": SoftmaxRegression().fit(X_train, one_label),
        "majority, smoothing 0.1": SoftmaxRegression(label_smoothing=0.1).fit(X_train, majority),
        "vote shares (soft)": SoftmaxRegression().fit(X_train, votes / N_ANNOTATORS),
    }
    print(f"{'fitted to':<24} {'cross-entropy vs true P':>24} {'accuracy vs true argmax':>24}")
    for name, model in models.items():
        log_proba = model.predict_log_proba(X_test)
        cross_entropy = -np.mean(np.sum(P_test * log_proba, axis=1))
        agreement = np.mean(np.argmax(log_proba, axis=1) == np.argmax(P_test, axis=1))
        print(f"{name:<24} {cross_entropy:>24.4f} {agreement:>24.4f}")
    entropy = -np.mean(np.sum(P_test * np.log(P_test), axis=1))
    print(f"{'(the true model)':<24} {entropy:>24.4f} {1.0:>24.4f}")


if __name__ == "__main__":
    main()
