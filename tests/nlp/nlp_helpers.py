"""A corpus with planted structure: words of one topic only ever share sentences with each other."""

from __future__ import annotations

import numpy as np

from trainfleet.dl.text.vocab import Vocab

TOPICS, WORDS_PER_TOPIC = 6, 40


def topic_corpus(seed: int, sentences: int = 1500, length: int = 10) -> tuple[Vocab, list[np.ndarray], np.ndarray]:
    """(vocab, id sentences, topic of each word id): each sentence draws its words from one topic."""
    rng = np.random.default_rng(seed)
    words = [f"t{t}w{i}" for t in range(TOPICS) for i in range(WORDS_PER_TOPIC)]
    tokens = []
    for _ in range(sentences):
        t = rng.integers(TOPICS)
        tokens.append([words[t * WORDS_PER_TOPIC + i] for i in rng.integers(WORDS_PER_TOPIC, size=length)])
    vocab = Vocab.build(tokens, min_count=1)
    topic = np.array([int(w[1:w.index("w")]) for w in vocab.words])
    return vocab, vocab.encode(tokens), topic


def topic_margin(vectors: np.ndarray, topic: np.ndarray) -> float:
    """Mean cosine within a topic minus mean cosine across topics (about 0 for random vectors)."""
    u = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = u @ u.T
    same = topic[:, None] == topic[None, :]
    off = ~np.eye(len(topic), dtype=bool)
    return float(sims[same & off].mean() - sims[~same].mean())
