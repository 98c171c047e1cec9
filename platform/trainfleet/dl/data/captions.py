"""Caption vocabularies: words <-> ids, padded reference matrices, and the metadata key that carries them.

A captioned dataset stores its vocabulary (space-separated, ids in order) in the table's
metadata under `CAPTIONS_KEY` and each row's references as a `tokens` list column of equal-length
id rows: <start> words <end> <pad>..., so any reader rebuilds the same mapping offline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

CAPTIONS_KEY = b"trainfleet.vocab"
PAD, START, END = "<pad>", "<start>", "<end>"


def vocabulary(words: Iterable[str]) -> tuple[str, ...]:
    """Special tokens first (pad = 0, start = 1, end = 2), then the words in the given order."""
    return (PAD, START, END, *dict.fromkeys(words))


def encode(captions: Sequence[str], vocab: Sequence[str], length: int) -> np.ndarray:
    """(R, length) ids: <start> caption <end>, padded with <pad>."""
    index = {w: i for i, w in enumerate(vocab)}
    out = np.zeros((len(captions), length), dtype=np.int64)
    for r, caption in enumerate(captions):
        ids = [index[START], *(index[w] for w in caption.split()), index[END]]
        if len(ids) > length:
            raise ValueError(f"caption {caption!r} is longer than {length - 2} words")
        out[r, :len(ids)] = ids
    return out


def decode(ids: Iterable[int], vocab: Sequence[str]) -> str:
    """Words up to the first <end>, without <start> and <pad>."""
    words = []
    for i in ids:
        word = vocab[int(i)]
        if word == END:
            break
        if word not in (PAD, START):
            words.append(word)
    return " ".join(words)
