"""TF-IDF document vectors (notes L6350-6375) fitted to a corpus, for ranking documents against a query.

"Training" is counting: document frequencies per term, summed over corpus shards (Ray tasks in
`dl/text/train.py`), then IDF in the notes' form or scikit-learn's smoothed form.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import Field

from trainfleet.dl.text import vsm
from trainfleet.dl.text.corpus import CorpusHparams
from trainfleet.dl.text.vocab import Vocab


class Hparams(CorpusHparams):
    min_count: int = Field(1, ge=1, description="drop terms seen fewer times in the whole corpus")
    idf: vsm.Idf = Field("smooth", description="notes: log(N/(1+n_t)); smooth: log((1+N)/(1+n_t)) + 1; none: plain TF")
    shards: int = Field(2, ge=1, description="corpus shards counted in parallel (Ray tasks)")
    queries: list[str] = Field(default_factory=list, description="queries whose best documents the run reports")
    top_k: int = Field(3, ge=1, description="documents listed per query")


def document_frequency(docs: Sequence[Sequence[str]], vocab: Vocab) -> np.ndarray:
    """n_t: in how many of these documents each vocabulary term occurs."""
    index = vocab.index
    df = np.zeros(len(vocab), dtype=np.int64)
    for doc in docs:
        ids = [index[w] for w in set(doc) if w in index]
        df[ids] += 1
    return df


class TfIdf:
    """A fitted vocabulary + IDF weights: documents -> TF-IDF rows."""

    Hparams = Hparams

    def __init__(self, vocab: Vocab, idf: np.ndarray) -> None:
        self.vocab, self.idf = vocab, idf

    def vectors(self, docs: Sequence[Sequence[str]]) -> np.ndarray:
        return vsm.tfidf(vsm.term_frequencies(docs, self.vocab.words), self.idf)

    def rank(self, query: Sequence[str], docs: np.ndarray, k: int) -> list[tuple[int, float]]:
        return vsm.rank(self.vectors([query])[0], docs, k)
