"""Built-in text datasets: the corpora gensim ships in its wheel (read offline, never downloaded).

Each becomes an Arrow table with a `text` column (one line of the file per row) and, for the
labelled polarity sentences, a `label` column; `trainfleet data export NAME DIR` writes it to Parquet.
"""

from __future__ import annotations

import pyarrow as pa

from trainfleet.dl.data.builtin import LABEL
from trainfleet.dl.text.corpus import TEXT
from trainfleet.dl.text.embedding_eval import datapath


def _lines(name: str, encoding: str = "utf-8") -> list[str]:
    with open(datapath(name), encoding=encoding) as f:
        return [line.strip() for line in f if line.strip()]


def lee() -> pa.Table:
    """Lee background corpus: 300 Australian news documents, ~60k tokens (raw text)."""
    return pa.table({TEXT: _lines("lee_background.cor")})


def wiki_head500() -> pa.Table:
    """The first 500 Wikipedia articles (250 lines, ~331k tokens), already lower-cased and Porter-stemmed."""
    return pa.table({TEXT: _lines("head500.noblanks.cor")})


def polarity() -> pa.Table:
    """Pang & Lee movie-review sentences, 100 positive (label 1) and 100 negative (0)."""
    texts, labels = [], []
    for line in _lines("pang_lee_polarity.cor", encoding="latin-1"):  # the file is Windows-1252, not UTF-8
        tag, _, text = line.partition(" ")
        if tag in ("__label__pos", "__label__neg"):
            texts.append(text)
            labels.append(int(tag == "__label__pos"))
    return pa.table({TEXT: texts, LABEL: pa.array(labels, type=pa.int64())})
