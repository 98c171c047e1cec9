"""Intrinsic evaluation of word vectors (notes L6530-6562): similarity against human judgements, analogies, neighbours.

Word pairs and analogy questions are the files gensim ships (`gensim.test.utils.datapath`):
WordSim-353 (relatedness), SimLex-999 (similarity proper) and Mikolov's 19,544 analogy questions.
Each probe word goes through the run's own normalisation (a stemmed corpus is probed with stemmed
words). Pairs or questions with a word outside the vocabulary are skipped, and the coverage is
reported beside every score: a small corpus answers few questions, and its score says little.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SIMILARITY_SETS = {"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt"}
ANALOGIES = "questions-words.txt"


def datapath(name: str) -> str:
    """A file of gensim's bundled test data (installed with gensim; nothing is downloaded)."""
    from gensim.test.utils import datapath as gensim_datapath

    return gensim_datapath(name)


def read_pairs(path: str | Path) -> list[tuple[str, str, float]]:
    """`word1<TAB>word2<TAB>score` lines; `#` starts a comment."""
    pairs = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            a, b, score = line.split("\t")[:3]
            pairs.append((a, b, float(score)))
    return pairs


def read_analogies(path: str | Path) -> list[tuple[str, str, str, str, str]]:
    """(section, a, b, c, d) for "a is to b as c is to d"; `: name` lines start a section."""
    out, section = [], ""
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith(":"):
            section = line[1:].strip()
        elif line.strip():
            a, b, c, d = line.split()
            out.append((section, a, b, c, d))
    return out


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


@dataclass
class Embeddings:
    """Vectors with their words; `norm` maps a probe word to the corpus's form (lower-case, stem ...)."""

    vectors: np.ndarray
    words: Sequence[str]
    norm: Callable[[str], str] = str.lower

    def __post_init__(self) -> None:
        self.index = {w: i for i, w in enumerate(self.words)}
        self.unit = unit(np.asarray(self.vectors, dtype=np.float32))

    def id(self, word: str) -> int | None:
        return self.index.get(self.norm(word))


def similarity(emb: Embeddings, pairs: Sequence[tuple[str, str, float]]) -> dict[str, float]:
    """Spearman's rho between cosine similarity and the human score, over the covered pairs."""
    from scipy.stats import spearmanr

    ours, human = [], []
    for a, b, score in pairs:
        i, j = emb.id(a), emb.id(b)
        if i is not None and j is not None:
            ours.append(float(emb.unit[i] @ emb.unit[j]))
            human.append(score)
    rho = float(spearmanr(ours, human).statistic) if len(ours) >= 3 else float("nan")
    return {"rho": rho, "pairs": len(ours), "coverage": len(ours) / max(len(pairs), 1)}


def analogies(emb: Embeddings, questions: Sequence[tuple[str, str, str, str, str]], batch: int = 1024) -> dict[str, float]:
    """3CosAdd: d* = argmax cos(x, b - a + c) over the vocabulary minus {a, b, c} (Mikolov et al. 2013c).

    Accuracy is over the questions whose four words are all in the vocabulary (gensim's convention).
    """
    rows = []
    for _, a, b, c, d in questions:
        ids = [emb.id(w) for w in (a, b, c, d)]
        if None not in ids:
            rows.append(ids)
    if not rows:
        return {"accuracy": float("nan"), "questions": 0, "coverage": 0.0}
    q = np.array(rows)
    correct = 0
    for s in range(0, len(q), batch):
        part = q[s:s + batch]
        target = emb.unit[part[:, 1]] - emb.unit[part[:, 0]] + emb.unit[part[:, 2]]
        scores = unit(target) @ emb.unit.T
        np.put_along_axis(scores, part[:, :3], -np.inf, axis=1)
        correct += int((scores.argmax(1) == part[:, 3]).sum())
    return {"accuracy": correct / len(q), "questions": len(q), "coverage": len(q) / len(questions)}


def neighbours(emb: Embeddings, word: str, k: int = 5) -> list[tuple[str, float]]:
    """The k nearest words by cosine (the word itself excluded); [] for a word outside the vocabulary."""
    i = emb.id(word)
    if i is None:
        return []
    scores = emb.unit @ emb.unit[i]
    scores[i] = -np.inf
    top = np.argsort(-scores)[:k]
    return [(emb.words[j], round(float(scores[j]), 3)) for j in top]


PROBES = ("king", "money", "war", "computer", "government", "fire")


def report(emb: Embeddings, probes: Sequence[str] = PROBES) -> dict[str, object]:
    """Every intrinsic score a run prints (`trainfleet eval RUN`) and records with its final checkpoint."""
    out: dict[str, object] = {}
    for name, file in SIMILARITY_SETS.items():
        r = similarity(emb, read_pairs(datapath(file)))
        out |= {f"{name}_rho": r["rho"], f"{name}_pairs": r["pairs"], f"{name}_coverage": r["coverage"]}
    a = analogies(emb, read_analogies(datapath(ANALOGIES)))
    out |= {"analogy_accuracy": a["accuracy"], "analogy_questions": a["questions"], "analogy_coverage": a["coverage"]}
    out["neighbours"] = {w: neighbours(emb, w) for w in probes}
    return out
