"""`trainfleet eval RUN`: rebuild a DL model from its checkpoint and score it on the held-out split (and test set)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from trainfleet import results
from trainfleet.dl import checkpoint
from trainfleet.dl.build import build
from trainfleet.dl.data.batches import InMemoryBatches
from trainfleet.dl.data.source import DataSpec, prepare
from trainfleet.dl.engine import validate
from trainfleet.errors import UserError
from trainfleet.rl.core.checkpoint import weights_fit


@dataclass
class Trained:
    """A run's final model rebuilt from its checkpoint, with the task and the run's own data split."""

    spec: Any
    task: Any
    hp: Any
    model: Any
    prepared: Any
    epoch: int


def load_trained(run_dir: str | Path, ckpt_dir: str | Path) -> Trained:
    torch.set_num_threads(1)
    loaded = checkpoint.read(ckpt_dir)
    spec = loaded.spec
    task, hp, model = build(spec, loaded.info)
    with weights_fit(ckpt_dir):
        model.load_state_dict(loaded.state["model"])
    prepared = prepare(DataSpec.model_validate(spec.data), spec.seed)
    recorded = results.read_json(Path(ckpt_dir) / checkpoint.SPLIT_FILE)
    if not isinstance(recorded, dict) or any(recorded.get(k) != prepared.split.get(k)
                                             for k in ("val_rows_sha256", "test_rows_sha256")):
        raise UserError(f"{run_dir}: the data no longer gives the held-out split the run used "
                        "(the dataset file changed?); refusing to report a score on mixed data")
    return Trained(spec, task, hp, model.eval(), prepared, loaded.state["epoch"])


def val_batch(t: Trained, n: int) -> dict[str, torch.Tensor]:
    """The first n held-out samples as one batch."""
    p = t.prepared
    return next(iter(InMemoryBatches(p.train, p.val.slice(0, n), p.info, n, t.spec.seed).val()))


def evaluate_dl_run(run_dir: str | Path, ckpt_dir: str | Path, samples: int = 0) -> dict[str, Any]:
    """The held-out metrics of the run's final model; for a captioner, also `samples` generated
    captions beside their references."""
    t = load_trained(run_dir, ckpt_dir)
    p = t.prepared
    batch_size = DataSpec.model_validate(t.spec.data).batch_size
    batches = InMemoryBatches(p.train, p.val, p.info, batch_size, t.spec.seed)
    metrics = validate(t.task, t.model, batches.val(), t.hp, torch.device("cpu"))
    out = {**metrics, "n_val": len(p.val), "epoch": t.epoch, "checkpoint": str(ckpt_dir)}
    if p.test is not None:  # the test set: scored here only, never during training
        test = InMemoryBatches(p.train, p.test, p.info, batch_size, t.spec.seed)
        scores = validate(t.task, t.model, test.val(), t.hp, torch.device("cpu"))
        out.update({f"test_{k.removeprefix('val_')}": v for k, v in scores.items()}, n_test=len(p.test))
    if samples and t.spec.task == "caption":
        out["samples"] = caption_samples(t.model, val_batch(t, samples), t.hp.beam)
    return out


def caption_samples(model: Any, batch: dict[str, torch.Tensor], beam: int) -> str:
    """One line per sample: the generated caption, then its references."""
    from trainfleet.dl.tasks.caption import sentences

    model.eval()
    hyps = sentences(model.generate(batch["x"], batch["tokens"].shape[-1] - 1, beam), model.vocab)
    lines = [f"{h!r}  <-  {' | '.join(sentences(r, model.vocab))}" for h, r in zip(hyps, batch["tokens"])]
    return "".join(f"\n  {line}" for line in lines)
