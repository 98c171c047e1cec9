"""The Ray-free training loop of skip-gram and CBOW: sentence batches in, SGD steps on the model.

A Ray Train worker feeds it batches of its Ray Data shard (`dl/text/train.py`); tests and the
benchmark feed it batches from memory. The learning rate falls linearly with the words processed,
counted across all workers (each worker knows the world size), as in word2vec.c.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from trainfleet.dl.models.word2vec import Word2Vec, cbow_examples, skipgram_pairs, subsample
from trainfleet.rl.core.schedules import Schedule

STEP = 512  # examples per SGD step: amortises torch's per-op cost while a step's (STEP, 1 + negatives, dim) temporaries stay in L2 (measured per CPU second here: 512 > 256, 1024 > 2048)


@dataclass
class Progress:
    """Words processed so far by all workers: the clock of word2vec.c's linear decay of lr."""

    lr: Schedule
    done: int = 0

    def now(self) -> float:
        return self.lr.value(self.done)


def lr_decay(lr: float, min_lr: float, total_words: int) -> Progress:
    """lr falls linearly from `lr` to `min_lr` over `total_words` words (word2vec.c)."""
    return Progress(Schedule(schedule="linear", start=lr, end=min_lr, steps=max(total_words, 1)))


def sentence_batches(sentences: list[np.ndarray], batch_words: int) -> Iterator[list[np.ndarray]]:
    """Consecutive sentences grouped into batches of about `batch_words` words."""
    batch: list[np.ndarray] = []
    n = 0
    for s in sentences:
        batch.append(s)
        n += len(s)
        if n >= batch_words:
            yield batch
            batch, n = [], 0
    if batch:
        yield batch


def train_epoch(model: Word2Vec, batches: Iterable[list[np.ndarray]], schedule: Progress, rng: np.random.Generator,
                gen: torch.Generator, world: int = 1, sync: Callable[[], None] | None = None) -> dict[str, float]:
    """One pass over `batches`; `sync` (parameter averaging) runs every `sync_every` batches on several workers.

    Returns train_loss (mean per example), words and examples seen here, and words/s.
    """
    hp = model.hp
    keep = model.keep.numpy()
    make = skipgram_pairs if model.arch == "skipgram" else cbow_examples
    loss_sum, examples, words, n_batches = 0.0, 0, 0, 0
    t0 = time.perf_counter()
    for sentences in batches:
        sub = [subsample(s, keep, rng) for s in sentences]
        centers, contexts = make(sub, hp.window, rng)
        order = rng.permutation(len(centers))
        centers_t, contexts_t = torch.from_numpy(centers[order]), torch.from_numpy(contexts[order])
        lr = schedule.now()
        for s in range(0, len(order), STEP):
            loss_sum += model.step(centers_t[s:s + STEP], contexts_t[s:s + STEP], lr, gen)
        raw = int(sum(len(s) for s in sentences))
        schedule.done += raw * world  # every worker advances the shared schedule by the same amount
        words += raw
        examples += len(order)
        n_batches += 1
        if sync is not None and n_batches % hp.sync_every == 0:
            sync()
    if sync is not None:
        sync()
    seconds = time.perf_counter() - t0
    return {"train_loss": loss_sum / max(examples, 1), "words": float(words), "examples": float(examples),
            "words_per_s": words / max(seconds, 1e-9), "lr": schedule.now()}


def train(model: Word2Vec, sentences: list[np.ndarray], epochs: int, seed: int = 0,
          report: Callable[[dict[str, float]], None] | None = None) -> list[dict[str, float]]:
    """All epochs in this process (tests, benchmark): the same steps a single Ray Train worker runs."""
    hp = model.hp
    n_words = int(sum(len(s) for s in sentences))
    schedule = lr_decay(hp.lr, hp.min_lr, n_words * epochs)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for epoch in range(1, epochs + 1):
        row = train_epoch(model, sentence_batches(sentences, hp.batch_words), schedule, rng, gen) | {"epoch": epoch}
        rows.append(row)
        if report is not None:
            report(row)
    return rows
