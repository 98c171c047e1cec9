"""The vector space model (notes L6333-6400): term frequency, IDF, TF-IDF, similarity measures, ranking.

IDF comes in the notes' literal form, log(N / (1 + n_t)), or scikit-learn's smoothed form,
log((1 + N) / (1 + n_t)) + 1 (never zero or negative; the notes' form is negative for a term in
every document). Documents are rows of a dense matrix over the vocabulary: fine for the notes'
examples and query ranking over thousands of documents; `scipy.sparse` would be next.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Literal

import numpy as np

Idf = Literal["notes", "smooth", "none"]


def term_frequencies(docs: Sequence[Sequence[str]], vocabulary: Sequence[str]) -> np.ndarray:
    """Raw counts: tf[d, t] = how often term t occurs in document d (words outside the vocabulary are ignored)."""
    index = {w: i for i, w in enumerate(vocabulary)}
    tf = np.zeros((len(docs), len(vocabulary)), dtype=np.float64)
    for d, doc in enumerate(docs):
        for w, c in Counter(doc).items():
            if w in index:
                tf[d, index[w]] = c
    return tf


def idf_weights(df: np.ndarray, n_docs: int, kind: Idf = "notes") -> np.ndarray:
    """IDF per term from its document frequency n_t (counts may be merged over corpus shards)."""
    if kind == "notes":
        return np.log(n_docs / (1.0 + df))
    if kind == "smooth":
        return np.log((1.0 + n_docs) / (1.0 + df)) + 1.0
    return np.ones(len(df))


def idf(tf: np.ndarray, kind: Idf = "notes") -> np.ndarray:
    """Inverse document frequency per term from a TF matrix (n_t = documents containing t)."""
    return idf_weights((tf > 0).sum(axis=0), tf.shape[0], kind)


def tfidf(tf: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """TF-IDF(t, d) = TF(t, d) * IDF(t)."""
    return tf * weights[None, :]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """A.B / (|A| |B|); 0 when either vector is all zeros."""
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / denom if denom else 0.0


def euclidean(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """|terms in both| / |terms in either| over the non-zero entries (set semantics, notes L6392)."""
    x, y = a != 0, b != 0
    union = int((x | y).sum())
    return int((x & y).sum()) / union if union else 0.0


def cosine_matrix(queries: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """Cosine of every query row against every document row."""
    q = queries / np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    d = docs / np.maximum(np.linalg.norm(docs, axis=1, keepdims=True), 1e-12)
    return q @ d.T


def rank(query: np.ndarray, docs: np.ndarray, k: int = 5) -> list[tuple[int, float]]:
    """The k documents most cosine-similar to the query vector, best first: [(doc index, cosine)]."""
    scores = cosine_matrix(query[None, :], docs)[0]
    order = np.argsort(-scores, kind="stable")[:k]
    return [(int(i), float(scores[i])) for i in order]
