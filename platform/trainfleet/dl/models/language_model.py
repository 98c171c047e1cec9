"""A word-level LSTM language model (notes L6160: language generation), scored by perplexity and sampled.

The corpus becomes one stream of word ids with an end-of-sentence token after every sentence and
<unk> for words under min-count; the model reads it in chunks of `bptt` words carrying its state
across chunks (truncated back-propagation through time), as in Zaremba et al. (2014) at small size.
Perplexity = exp(mean cross-entropy per word) on the held-out tail of the corpus.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from trainfleet.dl.text.corpus import CorpusHparams
from trainfleet.dl.text.vocab import Vocab

UNK, EOS = "<unk>", "<eos>"


class Hparams(CorpusHparams):
    dim: int = Field(128, ge=1, description="word embedding size")
    hidden: int = Field(256, ge=1, description="LSTM units")
    layers: int = Field(1, ge=1, description="stacked LSTM layers")
    dropout: float = Field(0.2, ge=0, lt=1, description="dropout on embeddings and LSTM outputs")
    bptt: int = Field(35, ge=2, description="words per truncated back-propagation chunk")
    batch_size: int = Field(32, ge=1, description="parallel streams")
    lr: float = Field(2.0e-3, gt=0, description="Adam step")
    grad_clip: float = Field(1.0, gt=0, description="global gradient-norm clip (exploding gradients)")
    val_fraction: float = Field(0.1, gt=0, lt=1, description="tail of the stream held out for perplexity")


def tokens_of(vocab: Vocab) -> list[str]:
    """The model's output words: the vocabulary, then <unk> and <eos>."""
    return [*vocab.words, UNK, EOS]


def stream(sentences: list[list[str]], vocab: Vocab) -> np.ndarray:
    """All sentences as one id stream, <eos> after each, <unk> for unknown words."""
    index = vocab.index
    unk, eos = len(vocab), len(vocab) + 1
    out: list[int] = []
    for s in sentences:
        out.extend(index.get(w, unk) for w in s)
        out.append(eos)
    return np.asarray(out, dtype=np.int64)


def batchify(ids: np.ndarray, batch_size: int) -> torch.Tensor:
    """(batch_size, T): the stream cut into `batch_size` contiguous rows."""
    t = len(ids) // batch_size
    return torch.from_numpy(ids[: t * batch_size].reshape(batch_size, t))


class LSTMLanguageModel(nn.Module):
    Hparams = Hparams

    def __init__(self, hp: _HP, n_tokens: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_tokens, hp.dim)
        self.drop = nn.Dropout(hp.dropout)
        self.lstm = nn.LSTM(hp.dim, hp.hidden, hp.layers, batch_first=True, dropout=hp.dropout if hp.layers > 1 else 0.0)
        self.out = nn.Linear(hp.hidden, n_tokens)

    def forward(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, tuple]:
        h, state = self.lstm(self.drop(self.embed(x)), state)
        return self.out(self.drop(h)), state


def run_epoch(model: LSTMLanguageModel, data: torch.Tensor, hp: Hparams, opt: torch.optim.Optimizer | None) -> float:
    """Mean cross-entropy per word over `data` (B, T); trains when given an optimiser."""
    model.train(opt is not None)
    state, total, count = None, 0.0, 0
    with torch.set_grad_enabled(opt is not None):
        for s in range(0, data.shape[1] - 1, hp.bptt):
            x, y = data[:, s:s + hp.bptt], data[:, s + 1:s + 1 + hp.bptt]
            x = x[:, : y.shape[1]]
            logits, state = model(x, state)
            state = tuple(t.detach() for t in state)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            if opt is not None:
                opt.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), hp.grad_clip)
                opt.step()
            total += float(loss.detach()) * y.numel()
            count += y.numel()
    return total / max(count, 1)


def perplexity(mean_ce: float) -> float:
    return math.exp(min(mean_ce, 50.0))


@torch.no_grad()
def sample(model: LSTMLanguageModel, words: list[str], prompt: list[str], n: int, seed: int, temperature: float = 1.0) -> str:
    """Continue `prompt` (already normalised tokens) by n words drawn from the softmax at `temperature`."""
    model.eval()
    index = {w: i for i, w in enumerate(words)}
    unk = index[UNK]
    ids = [index.get(w, unk) for w in prompt] or [index[EOS]]
    g = torch.Generator().manual_seed(seed)
    logits, state = model(torch.tensor([ids]))
    out = list(prompt)
    for _ in range(n):
        probs = torch.softmax(logits[0, -1] / temperature, dim=-1)
        nxt = int(torch.multinomial(probs, 1, generator=g))
        out.append("\n" if words[nxt] == EOS else words[nxt])
        logits, state = model(torch.tensor([[nxt]]), state)
    return " ".join(out).replace(" \n ", "\n")


_HP = Hparams  # the module's Hparams class, for annotations inside classes that expose it as `.Hparams`
