"""The vocabulary of an embedding run: words kept by min-count, their ids, and the word2vec samplers.

Mikolov et al. (2013b) add three things to the plain word list, all computed from the counts:
frequent-word subsampling (keep probability per word), the noise distribution for negative
sampling (unigram^0.75) and, for hierarchical softmax, a Huffman tree (frequent words get short
codes). Formulas follow the reference C implementation (also gensim's), so the two can be compared.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Vocab:
    """Words sorted by falling count (ties by word), so id 0 is the most frequent word."""

    words: tuple[str, ...]
    counts: np.ndarray  # int64, aligned with words

    @classmethod
    def build(cls, sentences: Iterable[list[str]], min_count: int = 5, max_size: int | None = None) -> Vocab:
        counter: Counter[str] = Counter()
        for s in sentences:
            counter.update(s)
        kept = sorted(((w, c) for w, c in counter.items() if c >= min_count), key=lambda wc: (-wc[1], wc[0]))
        if max_size is not None:
            kept = kept[:max_size]
        return cls(tuple(w for w, _ in kept), np.array([c for _, c in kept], dtype=np.int64))

    def __len__(self) -> int:
        return len(self.words)

    @property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def encode(self, sentences: Iterable[list[str]]) -> list[np.ndarray]:
        """Token lists -> int32 id arrays; words outside the vocabulary are dropped (as word2vec does)."""
        idx = self.index
        return [np.array([idx[w] for w in s if w in idx], dtype=np.int32) for s in sentences]

    def keep_probability(self, sample: float) -> np.ndarray:
        """P(keep word w) = (sqrt(f/t) + 1) t/f with f = count/total, t = `sample` (word2vec.c; 0 disables)."""
        if sample <= 0:
            return np.ones(len(self), dtype=np.float64)
        threshold = sample * self.counts.sum()
        c = self.counts.astype(np.float64)
        return np.minimum((np.sqrt(c / threshold) + 1) * threshold / c, 1.0)

    def noise_distribution(self, power: float = 0.75) -> np.ndarray:
        """Negative-sampling distribution: count^0.75, normalised (Mikolov et al. 2013b, section 2.2)."""
        p = self.counts.astype(np.float64) ** power
        return p / p.sum()

    def huffman(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hierarchical-softmax paths: (points, codes, lengths), padded to the longest code.

        points[w, j] is the inner node (row of the output matrix, 0..V-2) met at depth j on the way
        to leaf w, codes[w, j] the branch taken (0/1). Frequent words get short paths.
        """
        v = len(self)
        if v < 2:
            raise ValueError("hierarchical softmax needs at least 2 words in the vocabulary")
        heap = [(int(c), i) for i, c in enumerate(self.counts)]
        heapq.heapify(heap)
        parent = np.zeros(2 * v - 1, dtype=np.int64)
        branch = np.zeros(2 * v - 1, dtype=np.int8)
        nxt = v
        while len(heap) > 1:
            c1, a = heapq.heappop(heap)
            c2, b = heapq.heappop(heap)
            parent[a], parent[b] = nxt, nxt
            branch[b] = 1
            heapq.heappush(heap, (c1 + c2, nxt))
            nxt += 1
        root = nxt - 1
        paths: list[tuple[list[int], list[int]]] = []
        for w in range(v):
            pts, cds, node = [], [], w
            while node != root:
                cds.append(int(branch[node]))
                node = int(parent[node])
                pts.append(node - v)
            paths.append((pts[::-1], cds[::-1]))
        depth = max(len(p) for p, _ in paths)
        points = np.zeros((v, depth), dtype=np.int64)
        codes = np.zeros((v, depth), dtype=np.float32)
        lengths = np.zeros(v, dtype=np.int64)
        for w, (pts, cds) in enumerate(paths):
            points[w, :len(pts)], codes[w, :len(cds)], lengths[w] = pts, cds, len(pts)
        return points, codes, lengths

    def to_dict(self) -> dict[str, list]:
        return {"words": list(self.words), "counts": self.counts.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, list]) -> Vocab:
        return cls(tuple(d["words"]), np.asarray(d["counts"], dtype=np.int64))
