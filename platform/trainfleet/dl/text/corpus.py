"""A text job's corpus: the `data:` table's text column, preprocessed, counted into a vocabulary, encoded.

Text datasets are Arrow tables with a `text` column (one sentence or document per row) and,
for labelled sets, a `label` column; `trainfleet data export` writes them to Parquet like any
other dataset, and jobs read them back with `data: {path: ...}`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from trainfleet.dl.text.preprocess import Preprocess, apply_all
from trainfleet.dl.text.vocab import Vocab

TEXT = "text"
IDS = "ids"


class CorpusHparams(BaseModel):
    """What every text model shares: how the corpus is normalised and which words are kept."""

    model_config = ConfigDict(extra="forbid")

    preprocess: Preprocess = Field(default_factory=Preprocess)
    min_count: int = Field(5, ge=1, description="drop words seen fewer times (word2vec/gensim default 5)")
    max_vocab: int | None = Field(None, ge=2, description="keep only the most frequent words")


@dataclass
class Corpus:
    """Tokenised sentences, the vocabulary, and the sentences as id arrays (out-of-vocabulary words dropped)."""

    tokens: list[list[str]]
    vocab: Vocab
    ids: list[np.ndarray]

    @property
    def n_words(self) -> int:
        """Words the model trains on per epoch (in-vocabulary tokens, before subsampling)."""
        return int(sum(len(s) for s in self.ids))

    def ids_table(self) -> pa.Table:
        """One row per sentence, a list<int32> column: what Ray Data shards across Train workers."""
        return pa.table({IDS: pa.array([s.tolist() for s in self.ids], type=pa.list_(pa.int32()))})


def texts(table: pa.Table, column: str = TEXT) -> list[str]:
    return [t or "" for t in table.column(column).to_pylist()]


def build_corpus(table: pa.Table, hp: CorpusHparams, column: str = TEXT) -> Corpus:
    tokens = apply_all(hp.preprocess, texts(table, column))
    vocab = Vocab.build(tokens, hp.min_count, hp.max_vocab)
    return Corpus(tokens, vocab, vocab.encode(tokens))
