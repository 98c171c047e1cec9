"""Word2Vec (Mikolov et al. 2013a, 2013b): continuous skip-gram and CBOW, negative sampling or hierarchical softmax.

Skip-gram predicts each context word from the centre word; CBOW predicts the centre word from the
average of its context (notes L6420-6480). The full softmax over the vocabulary is replaced by
either `negative` sampled noise words (unigram^0.75) per example, or a walk down the vocabulary's
Huffman tree (hierarchical softmax: log2 V binary decisions). As in the reference C code (and
gensim), updates are plain SGD with a learning rate decaying linearly to `min_lr`, applied with
hand-written gradients to the rows a batch touches (`index_add_`): autograd and an optimiser over
the whole V x D matrices would cost more than the update itself. Deviation from the C code: a
batch's examples are updated together (summed), not one after another; with the batch sizes used
here (a few thousand pairs) the results match gensim's (benchmarks/results/word2vec.md). The
exception is hierarchical softmax's inner nodes, shared by most paths: they take the batch mean.

Several Ray Train workers each train on their shard of the sentences and average their matrices
every `sync_every` batches (local SGD / model averaging): an all-reduce of V x D floats now and
then instead of a gradient all-reduce per step.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator
from torch import nn

from trainfleet.dl.text.corpus import CorpusHparams
from trainfleet.dl.text.vocab import Vocab


class Hparams(CorpusHparams):
    dim: int = Field(100, ge=1, description="embedding size (gensim vector_size)")
    window: int = Field(5, ge=1, description="max distance c to a context word; each position draws its own 1..c")
    negative: int = Field(5, ge=0, description="noise words per example (0 with hs: true = pure hierarchical softmax)")
    hs: bool = Field(False, description="hierarchical softmax over the Huffman tree instead of (or beside) negatives")
    sample: float = Field(1.0e-3, ge=0, description="subsampling threshold t of frequent words (0 = off)")
    lr: float = Field(0.025, gt=0, description="initial SGD step (gensim alpha); decays linearly to min_lr")
    min_lr: float = Field(1.0e-4, ge=0, description="final SGD step (gensim min_alpha)")
    batch_words: int = Field(10_000, ge=100, description="corpus words per batch (before pairs are formed)")
    sync_every: int = Field(4, ge=1, description="batches between parameter averages when several workers train")

    @model_validator(mode="after")
    def _an_output_layer(self) -> Hparams:
        if not (self.negative or self.hs):
            raise ValueError("word2vec needs negative > 0 or hs: true (an output layer to train)")
        return self


Arch = Literal["skipgram", "cbow"]
NOISE_TABLE = 1_000_000


class Word2Vec(nn.Module):
    """Input vectors W_in (the embeddings) and output vectors W_out (noise words, or Huffman inner nodes)."""

    arch: Arch = "skipgram"
    Hparams = Hparams

    def __init__(self, hp: _HP, vocab: Vocab, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        v, d = len(vocab), hp.dim
        self.hp = hp
        self.w_in = nn.Parameter((torch.rand(v, d, generator=g) - 0.5) / d, requires_grad=False)  # word2vec.c init
        self.w_out = nn.Parameter(torch.zeros(v, d), requires_grad=False) if hp.negative else None
        self.w_hs = nn.Parameter(torch.zeros(max(v - 1, 1), d), requires_grad=False) if hp.hs else None
        if hp.negative:  # word2vec.c's unigram table: a uniform index into it draws from count^0.75
            self.noise_table = torch.multinomial(torch.from_numpy(vocab.noise_distribution()), NOISE_TABLE,
                                                 replacement=True, generator=g)
        if hp.hs:
            points, codes, lengths = vocab.huffman()
            self.points, self.codes = torch.from_numpy(points), torch.from_numpy(codes)
            self.path_mask = torch.arange(points.shape[1])[None, :] < torch.from_numpy(lengths)[:, None]
        self.keep = torch.from_numpy(vocab.keep_probability(hp.sample))

    @property
    def embeddings(self) -> torch.Tensor:
        return self.w_in.data

    # ------------------------------------------------------------------ one SGD step on a batch
    def _output_step(self, h: torch.Tensor, targets: torch.Tensor, lr: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Score hidden vectors h (B, D) against the output layer for words `targets` (B,).

        Updates the output rows in place; returns the gradient step for h and the summed loss.
        """
        dh = torch.zeros_like(h)
        loss = torch.zeros(())
        if self.w_out is not None:
            neg = self.noise_table[torch.randint(0, NOISE_TABLE, (len(targets) * self.hp.negative,), generator=gen)]
            rows = torch.cat([targets[:, None], neg.view(len(targets), -1)], 1)  # (B, 1+K): true word, then noise
            label = torch.zeros(rows.shape, dtype=h.dtype)
            label[:, 0] = 1
            loss = loss + self._logistic(h, rows, label, None, self.w_out, lr, dh)
        if self.w_hs is not None:
            rows, mask = self.points[targets], self.path_mask[targets]
            label = 1.0 - self.codes[targets]  # word2vec.c: g = (1 - code - f) * alpha
            loss = loss + self._logistic(h, rows, label, mask, self.w_hs, lr, dh)
        return dh, loss

    @staticmethod
    def _logistic(h: torch.Tensor, rows: torch.Tensor, label: torch.Tensor, mask: torch.Tensor | None, out: nn.Parameter,
                  lr: float, dh: torch.Tensor) -> torch.Tensor:
        """Binary logistic units sigma(u_r . h) trained towards `label`; sums the step for h into dh."""
        u = torch.nn.functional.embedding(rows, out.data)  # (B, R, D)
        score = torch.bmm(u, h[:, :, None])[:, :, 0]  # batched dot products: no (B, R, D) temporary
        g = (label - torch.sigmoid(score)) * lr
        g_out = g
        if mask is not None:  # hierarchical softmax: paths shorter than the longest are padded
            g = g * mask
            # The tree's top nodes are on every path: summing a whole batch's steps into them diverges
            # (sequential SGD would see each step's effect), so each inner node takes the batch mean.
            hits = torch.bincount(rows.reshape(-1), weights=mask.reshape(-1).to(h.dtype), minlength=out.shape[0])
            g_out = g / hits[rows].clamp(min=1)
        dh += torch.bmm(g[:, None, :], u)[:, 0, :]
        out.data.index_add_(0, rows.reshape(-1), (g_out[:, :, None] * h[:, None, :]).reshape(-1, h.shape[1]))
        nll = torch.nn.functional.softplus(score) - label * score  # -log sigma(+-score) for labels 0 and 1
        return (nll if mask is None else nll * mask).sum()

    def step(self, centers: torch.Tensor, contexts: torch.Tensor, lr: float, gen: torch.Generator) -> float:
        """Skip-gram: centres (B,) predict contexts (B,). Returns the summed loss."""
        h = torch.nn.functional.embedding(centers, self.w_in.data)
        dh, loss = self._output_step(h, contexts, lr, gen)
        self.w_in.data.index_add_(0, centers, dh)
        return float(loss)


class SkipGram(Word2Vec):
    arch = "skipgram"


class CBOW(Word2Vec):
    """The mean of the context vectors predicts the centre word; each context word receives the full step."""

    arch = "cbow"

    def context_mean(self, contexts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The hidden vector: mean of the context words' input vectors (padding -1 ignored); also mask and ids."""
        mask = contexts >= 0
        ctx = contexts.clamp(min=0)
        vecs = torch.nn.functional.embedding(ctx, self.w_in.data) * mask[:, :, None]
        return vecs.sum(1) / mask.sum(1, keepdim=True).clamp(min=1), mask, ctx

    def step(self, centers: torch.Tensor, contexts: torch.Tensor, lr: float, gen: torch.Generator) -> float:
        """centers (B,), contexts (B, 2c) padded with -1. Returns the summed loss."""
        h, mask, ctx = self.context_mean(contexts)
        dh, loss = self._output_step(h, centers, lr, gen)
        upd = (dh[:, None, :] * mask[:, :, None]).reshape(-1, h.shape[1])
        self.w_in.data.index_add_(0, ctx.reshape(-1), upd)
        return float(loss)


def subsample(ids: np.ndarray, keep: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Drop frequent words at random (each occurrence kept with probability keep[word])."""
    return ids[rng.random(len(ids)) < keep[ids]]


def flatten(sentences: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Sentences -> (all ids, sentence number of each id), so windows never cross a sentence end."""
    ids = np.concatenate(sentences) if sentences else np.zeros(0, dtype=np.int32)
    sid = np.repeat(np.arange(len(sentences)), [len(s) for s in sentences])
    return ids.astype(np.int64), sid


def skipgram_pairs(sentences: list[np.ndarray], window: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(centre, context) id pairs: every word within a window of b(i) in 1..c of centre i (same sentence).

    Drawing b(i) uniformly weights near words more, as in the C code ("reduced window").
    """
    ids, sid = flatten(sentences)
    n = len(ids)
    reach = rng.integers(1, window + 1, size=n)
    centers, contexts = [], []
    pos = np.arange(n)
    for d in range(1, window + 1):
        for off in (-d, d):
            j = pos + off
            ok = (j >= 0) & (j < n) & (reach >= d)
            ok[ok] &= sid[j[ok]] == sid[ok]
            centers.append(ids[ok])
            contexts.append(ids[j[ok]])
    return np.concatenate(centers), np.concatenate(contexts)


def cbow_examples(sentences: list[np.ndarray], window: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(centre ids (N,), context ids (N, 2c) padded with -1): one example per position with any context."""
    ids, sid = flatten(sentences)
    n = len(ids)
    reach = rng.integers(1, window + 1, size=n)
    ctx = np.full((n, 2 * window), -1, dtype=np.int64)
    pos = np.arange(n)
    col = 0
    for d in range(1, window + 1):
        for off in (-d, d):
            j = pos + off
            ok = (j >= 0) & (j < n) & (reach >= d)
            ok[ok] &= sid[j[ok]] == sid[ok]
            ctx[ok, col] = ids[j[ok]]
            col += 1
    has = (ctx >= 0).any(1)
    return ids[has], ctx[has]


_HP = Hparams  # the module's Hparams class, for annotations inside classes that expose it as `.Hparams`
