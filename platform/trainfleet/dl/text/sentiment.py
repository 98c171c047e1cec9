"""Downstream check (notes L6556): sentiment of the Pang & Lee polarity sentences from averaged word vectors.

The baseline is TF-IDF features with the same logistic regression. Both are scored by stratified
5-fold cross-validation accuracy on the 200 labelled sentences gensim ships (chance = 0.5), so the
two numbers are directly comparable; with so few sentences expect a spread of several points.
"""

from __future__ import annotations

import numpy as np

from trainfleet.dl.text.embedding_eval import Embeddings
from trainfleet.dl.text.preprocess import Preprocess, apply_all
from trainfleet.dl.text.vsm import idf, term_frequencies, tfidf

FOLDS = 5


def polarity() -> tuple[list[str], np.ndarray]:
    """Sentences and labels (1 = positive)."""
    from trainfleet.dl.text.corpora import polarity as table

    t = table()
    return t.column("text").to_pylist(), t.column("label").to_numpy()


def average_vectors(emb: Embeddings, docs: list[list[str]]) -> np.ndarray:
    """Mean unit vector of each document's in-vocabulary words (zeros when none is known)."""
    out = np.zeros((len(docs), emb.unit.shape[1]), dtype=np.float32)
    for d, doc in enumerate(docs):
        ids = [i for i in (emb.index.get(w) for w in doc) if i is not None]
        if ids:
            out[d] = emb.unit[ids].mean(0)
    return out


def tfidf_features(docs: list[list[str]]) -> np.ndarray:
    vocabulary = sorted({w for d in docs for w in d})
    tf = term_frequencies(docs, vocabulary)
    return tfidf(tf, idf(tf, "smooth"))


def cv_accuracy(x: np.ndarray, y: np.ndarray, seed: int = 0, dense: bool = True) -> float:
    """Logistic regression, 5-fold CV; dense features (averaged vectors) are standardised, TF-IDF rows L2-normalised."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Normalizer, StandardScaler

    clf = make_pipeline(StandardScaler() if dense else Normalizer(), LogisticRegression(max_iter=3000, C=0.1 if dense else 10.0))
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    return float(cross_val_score(clf, x, y, cv=folds).mean())


def compare(emb: Embeddings | None, preprocess: Preprocess, seed: int = 0) -> dict[str, float]:
    """CV accuracy from averaged embeddings (when given) and from TF-IDF, on the same folds."""
    texts, y = polarity()
    docs = apply_all(preprocess, texts)
    out = {"sentiment_tfidf_accuracy": cv_accuracy(tfidf_features(docs), y, seed, dense=False), "sentiment_sentences": float(len(y))}
    if emb is not None:
        out["sentiment_embedding_accuracy"] = cv_accuracy(average_vectors(emb, docs), y, seed)
        out["sentiment_word_coverage"] = float(np.mean([w in emb.index for d in docs for w in d]))
    return out
