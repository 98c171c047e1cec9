"""Captioning: train a sentence decoder by teacher forcing; score its own sentences with BLEU and facts.

Each training step picks one of the sample's reference captions at random and minimises the
cross-entropy of every next word (padding ignored). Validation decodes (greedy, or beam search
with `hparams.beam`) and scores the sentences against all references with sacrebleu's corpus
BLEU-1..4: the n-gram match counts and lengths add up over batches and workers, and BLEU is
computed once from the sums, exactly as over the whole set at once. `val_facts` is the share of
sentences that state the scene's facts (shapes: both objects' colour and shape and their
relation; videos: the digit and both directions), `val_exact` the share equal to a reference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from sacrebleu.metrics import BLEU
from torch import nn

from trainfleet.dl.data import shapes, videos
from trainfleet.dl.data.captions import decode
from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.hparams import TrainHparams
from trainfleet.dl.models.decoding import PAD_ID
from trainfleet.dl.tasks.base import single_optimizer

ORDER = 4
FACT_PARSERS: tuple[Callable[[str], tuple | None], ...] = (shapes.facts, videos.facts)


def caption_facts(caption: str) -> tuple | None:
    """What a caption states, by the first grammar that parses it (None: no facts stated)."""
    for parse in FACT_PARSERS:
        found = parse(caption)
        if found is not None:
            return found
    return None


def bleu_sums(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Additive corpus-BLEU statistics; `references[i]` are the references of hypothesis i."""
    streams = [list(r) for r in zip(*references)]  # sacrebleu: one stream per reference index
    score = BLEU(tokenize="none", max_ngram_order=ORDER).corpus_score(list(hypotheses), streams)
    sums = {"sys_len": float(score.sys_len), "ref_len": float(score.ref_len)}
    for n in range(ORDER):
        sums[f"match_{n + 1}"] = float(score.counts[n])
        sums[f"total_{n + 1}"] = float(score.totals[n])
    return sums


def bleu_from_sums(sums: dict[str, float], n: int) -> float:
    """BLEU-n in [0, 1] (uniform weights over 1..n-grams, brevity penalty) from summed statistics."""
    correct = [int(sums[f"match_{k}"]) for k in range(1, n + 1)]
    total = [int(sums[f"total_{k}"]) for k in range(1, n + 1)]
    score = BLEU.compute_bleu(correct, total, int(sums["sys_len"]), int(sums["ref_len"]), smooth_method="none",
                              max_ngram_order=n)
    return score.score / 100.0


def sentences(ids: torch.Tensor, vocab: Sequence[str]) -> list[str]:
    return [decode(row.tolist(), vocab) for row in ids]


class Caption:
    name = "caption"

    def out_dim(self, info: DataInfo, hp: TrainHparams) -> int:
        return len(info.vocab)

    def optimizers(self, model: nn.Module, hp: TrainHparams) -> dict:
        return single_optimizer(model, hp)

    def train_step(self, model, batch, opts, stepper, hp) -> dict[str, float]:
        refs = batch["tokens"]  # (B, R, L)
        pick = torch.randint(refs.shape[1], (len(refs),), device=refs.device)
        seq = refs[torch.arange(len(refs), device=refs.device), pick]
        with stepper.autocast():
            logits = model(batch["x"], seq[:, :-1])
            loss = F.cross_entropy(logits.flatten(0, 1).float(), seq[:, 1:].flatten(), ignore_index=PAD_ID)
        stepper.step(loss, opts["main"])
        return {"train_loss": float(loss.detach())}

    @torch.no_grad()
    def eval_sums(self, model, batch, hp) -> dict[str, float]:
        refs = batch["tokens"]
        seq = refs[:, 0]
        logits = model(batch["x"], seq[:, :-1]).float()
        target = seq[:, 1:].flatten()
        loss = F.cross_entropy(logits.flatten(0, 1), target, ignore_index=PAD_ID, reduction="sum")
        vocab = model.vocab
        hyps = sentences(model.generate(batch["x"], refs.shape[-1] - 1, hp.beam), vocab)
        references = [sentences(r, vocab) for r in refs]
        stated = [caption_facts(h) for h in hyps]
        facts = sum(s is not None and s == caption_facts(r[0]) for s, r in zip(stated, references))
        exact = sum(h in r for h, r in zip(hyps, references))
        return {"loss": float(loss), "tokens": float((target != PAD_ID).sum()), "facts": float(facts),
                "exact": float(exact), "count": float(len(hyps)), **bleu_sums(hyps, references)}

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        n = max(sums["count"], 1.0)
        out = {"val_loss": sums["loss"] / max(sums["tokens"], 1.0), "val_facts": sums["facts"] / n,
               "val_exact": sums["exact"] / n}
        out.update({f"val_bleu{k}": bleu_from_sums(sums, k) for k in range(1, ORDER + 1)})
        return out

    def artifacts(self, model, info, seed) -> dict[str, bytes]:
        return {}
