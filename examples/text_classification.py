"""
Sparse text features: hashed bag-of-words
=========================================

Documents are generated offline: each of five topics has its own favourite
words, mixed with words common to all topics, so the topic shows only
statistically. scikit-learn's ``HashingVectorizer`` turns them into a sparse
CSR matrix (2**18 columns, unit-norm rows), which SoftmaxRegression fits
directly: its kernels visit each stored entry once per evaluation and never
densify the data.

Run from the repository root::

    python examples/text_classification.py [--n-documents 20000]
"""

import argparse
import time

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.model_selection import train_test_split

from fastsoftmax import SoftmaxRegression

TOPICS = ["sports", "politics", "science", "music", "cooking"]


def make_corpus(n_documents, seed=0):
    """Short documents, each about one topic, and that topic's index."""
    rng = np.random.default_rng(seed)
    common = [f"word{i}" for i in range(2000)]
    topic_words = {t: [f"{t}{i}" for i in range(300)] for t in TOPICS}
    # Zipf-like word frequencies, as in real text.
    common_p = 1.0 / np.arange(1, len(common) + 1)
    common_p /= common_p.sum()
    topic_p = 1.0 / np.arange(1, 301)
    topic_p /= topic_p.sum()
    documents, labels = [], []
    for _ in range(n_documents):
        topic = rng.integers(len(TOPICS))
        length = rng.integers(20, 80)
        n_topical = rng.binomial(length, 0.15)  # most words say nothing about the topic
        words = list(rng.choice(common, size=length - n_topical, p=common_p))
        words += list(rng.choice(topic_words[TOPICS[topic]], size=n_topical, p=topic_p))
        rng.shuffle(words)
        documents.append(" ".join(words))
        labels.append(TOPICS[topic])
    return documents, np.array(labels)


def main(n_documents):
    documents, labels = make_corpus(n_documents)
    vectorizer = HashingVectorizer(n_features=2**18, alternate_sign=False, norm="l2")
    X = vectorizer.transform(documents)  # scipy.sparse CSR
    X_train, X_test, y_train, y_test = train_test_split(X, labels, random_state=0)
    print(f"{X.shape[0]} documents, {X.shape[1]} hashed features, "
          f"{X.nnz / X.shape[0]:.0f} stored entries per row")

    model = SoftmaxRegression(C=10.0, max_iter=500)
    start = time.perf_counter()
    model.fit(X_train, y_train)
    elapsed = time.perf_counter() - start
    print(f"fit: {elapsed:.2f} s (first run includes compiling the kernels), "
          f"{model.n_iter_[0]} iterations, objective {model.objective_:.6f}")
    print(f"test accuracy: {model.score(X_test, y_test):.3f} "
          f"(chance: {1 / len(TOPICS):.3f})")
    print("most probable topic of the first test document:", model.predict(X_test[:1])[0],
          "| true topic:", y_test[0])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description="Classify generated text with hashed bag-of-words features."
    )
    parser.add_argument("--n-documents", type=int, default=20_000)
    main(parser.parse_args().n_documents)
