"""GloVe (Pennington et al. 2014): word vectors fitted to the log co-occurrence counts of a corpus.

Counts X_ij of word j within `window` words of word i, weighted 1/distance, are gathered per shard
(Ray tasks, `dl/text/train.py`) and summed into one sparse matrix. The model then minimises the
weighted least squares J = sum_ij f(X_ij) (w_i . w~_j + b_i + b~_j - log X_ij)^2 with
f(x) = min(1, (x / x_max)^alpha), by AdaGrad over minibatches of the non-zero entries; the word
vectors are w + w~ (the paper's choice). The notes describe GloVe in words only (L6490-6525).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch
from pydantic import Field
from torch import nn

from trainfleet.dl.text.corpus import CorpusHparams


class Hparams(CorpusHparams):
    dim: int = Field(100, ge=1, description="vector size")
    window: int = Field(10, ge=1, description="symmetric context window of the counts (paper: 10)")
    x_max: float = Field(100.0, gt=0, description="counts above this get full weight (paper: 100)")
    alpha: float = Field(0.75, gt=0, description="weighting exponent (paper: 3/4)")
    lr: float = Field(0.05, gt=0, description="AdaGrad step (paper: 0.05)")
    batch_size: int = Field(4096, ge=1, description="co-occurrence entries per AdaGrad step")
    shards: int = Field(2, ge=1, description="corpus shards counted in parallel (Ray tasks)")


def cooccurrence(sentences: Sequence[np.ndarray], vocab_size: int, window: int) -> sp.coo_matrix:
    """Symmetric counts X_ij += 1/d for every pair at distance d <= window in one sentence."""
    rows, cols, vals = [], [], []
    for s in sentences:
        s = np.asarray(s, dtype=np.int64)
        for d in range(1, min(window, len(s) - 1) + 1):
            a, b = s[:-d], s[d:]
            w = np.full(len(a), 1.0 / d)
            rows += [a, b]
            cols += [b, a]
            vals += [w, w]
    if not rows:
        return sp.coo_matrix((vocab_size, vocab_size), dtype=np.float64)
    m = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(vocab_size, vocab_size))
    m.sum_duplicates()
    return m


class GloVe(nn.Module):
    """w, w~ (V x D) and biases b, b~; sparse embeddings so AdaGrad touches only the rows a batch uses."""

    Hparams = Hparams

    def __init__(self, hp: _HP, vocab_size: int, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.hp = hp
        self.w = nn.Embedding(vocab_size, hp.dim, sparse=True)
        self.w_ctx = nn.Embedding(vocab_size, hp.dim, sparse=True)
        self.b = nn.Embedding(vocab_size, 1, sparse=True)
        self.b_ctx = nn.Embedding(vocab_size, 1, sparse=True)
        for e in (self.w, self.w_ctx):
            nn.init.uniform_(e.weight, -0.5 / hp.dim, 0.5 / hp.dim)
        for e in (self.b, self.b_ctx):
            nn.init.zeros_(e.weight)

    def loss(self, i: torch.Tensor, j: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Weighted squared error, summed over the batch of entries (i, j, X_ij)."""
        pred = (self.w(i) * self.w_ctx(j)).sum(1) + self.b(i)[:, 0] + self.b_ctx(j)[:, 0]
        weight = torch.clamp(x / self.hp.x_max, max=1.0) ** self.hp.alpha
        return (weight * (pred - torch.log(x)) ** 2).sum()

    @property
    def embeddings(self) -> torch.Tensor:
        return (self.w.weight + self.w_ctx.weight).detach()


def train_epoch(model: GloVe, counts: sp.coo_matrix, opt: torch.optim.Optimizer, rng: np.random.Generator) -> float:
    """One shuffled pass over the non-zero counts; returns the mean loss per entry."""
    i = torch.from_numpy(counts.row.astype(np.int64))
    j = torch.from_numpy(counts.col.astype(np.int64))
    x = torch.from_numpy(counts.data.astype(np.float32))
    order = torch.from_numpy(rng.permutation(len(x)))
    total = 0.0
    for s in range(0, len(order), model.hp.batch_size):
        idx = order[s:s + model.hp.batch_size]
        loss = model.loss(i[idx], j[idx], x[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total += float(loss.detach())
    return total / max(len(x), 1)


_HP = Hparams  # the module's Hparams class, for annotations inside classes that expose it as `.Hparams`
