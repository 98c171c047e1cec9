"""Sentence decoders shared by the captioning models: teacher forcing, greedy and beam search.

A model that writes sentences implements two methods and inherits the rest:

- `start(x) -> state`: encode the input; `state` is a tuple of tensors with the batch first;
- `step(tokens, state) -> (logits, state)`: one word given the previous word ids (N,).

Teacher forcing feeds the reference's previous word at each step (Williams & Zipser 1989);
greedy decoding feeds back the model's own best word; beam search keeps the `beam` best
partial sentences by summed log-probability (no length penalty, so width 1 is greedy).
"""

from __future__ import annotations

import torch
from torch import nn

from trainfleet.dl.data.captions import END, PAD, START, vocabulary

PAD_ID, START_ID, END_ID = (vocabulary([]).index(t) for t in (PAD, START, END))
State = tuple[torch.Tensor, ...]


class SentenceDecoder(nn.Module):
    vocab: tuple[str, ...] = ()  # the word of each id (the dataset's DataInfo.vocab), for reading its output

    def start(self, x: torch.Tensor) -> State:
        raise NotImplementedError

    def step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: logits (B, T, V) for next words given reference words `tokens` (B, T)."""
        state = self.start(x)
        out = []
        for t in range(tokens.shape[1]):
            logits, state = self.step(tokens[:, t], state)
            out.append(logits)
        return torch.stack(out, 1)

    @torch.no_grad()
    def generate(self, x: torch.Tensor, max_len: int, beam: int = 1) -> torch.Tensor:
        """Word ids (B, <= max_len) after <start>, <end> included where reached, <pad> after it."""
        if beam == 1:
            return greedy(self, self.start(x), len(x), max_len)
        return beam_search(self, self.start(x), len(x), max_len, beam)


def greedy(model: SentenceDecoder, state: State, batch: int, max_len: int) -> torch.Tensor:
    tokens = torch.full((batch,), START_ID, dtype=torch.long)
    done = torch.zeros(batch, dtype=torch.bool)
    out = []
    for _ in range(max_len):
        logits, state = model.step(tokens, state)
        tokens = torch.where(done, PAD_ID, logits.argmax(-1))
        out.append(tokens)
        done |= tokens == END_ID
        if done.all():
            break
    return torch.stack(out, 1)


def beam_search(model: SentenceDecoder, state: State, batch: int, max_len: int, beam: int) -> torch.Tensor:
    """The highest-scoring of `beam` hypotheses per input; finished ones keep their score and pad."""
    state = tuple(s.repeat_interleave(beam, 0) for s in state)
    scores = torch.full((batch, beam), float("-inf"))
    scores[:, 0] = 0.0  # one live hypothesis at first, or all beams would be the same
    tokens = torch.full((batch * beam,), START_ID, dtype=torch.long)
    done = torch.zeros(batch * beam, dtype=torch.bool)
    history = torch.zeros(batch * beam, 0, dtype=torch.long)
    for _ in range(max_len):
        logits, state = model.step(tokens, state)
        logp = torch.log_softmax(logits.float(), -1)
        finished = torch.full_like(logp, float("-inf"))
        finished[:, PAD_ID] = 0.0  # a finished sentence can only pad, at no cost
        logp = torch.where(done[:, None], finished, logp)
        vocab = logp.shape[-1]
        total = (scores.reshape(-1, 1) + logp).reshape(batch, beam * vocab)
        scores, flat = total.topk(beam, dim=1)
        parent = (flat // vocab + torch.arange(batch)[:, None] * beam).reshape(-1)
        tokens = (flat % vocab).reshape(-1)
        state = tuple(s[parent] for s in state)
        history = torch.cat([history[parent], tokens[:, None]], 1)
        done = done[parent] | (tokens == END_ID)
        if done.all():
            break
    best = scores.argmax(1) + torch.arange(batch) * beam
    return history[best]
