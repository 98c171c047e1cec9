"""`trainfleet eval RUN`: rebuild a DL model from its checkpoint and score it on the held-out split."""

from __future__ import annotations

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


def evaluate_dl_run(run_dir: str | Path, ckpt_dir: str | Path) -> dict[str, Any]:
    torch.set_num_threads(1)
    loaded = checkpoint.read(ckpt_dir)
    spec = loaded.spec
    task, hp, model = build(spec, loaded.info)
    with weights_fit(ckpt_dir):
        model.load_state_dict(loaded.state["model"])
    ds = DataSpec.model_validate(spec.data)
    prepared = prepare(ds, spec.seed)
    recorded = results.read_json(Path(ckpt_dir) / checkpoint.SPLIT_FILE)
    if not isinstance(recorded, dict) or recorded.get("val_rows_sha256") != prepared.split.get("val_rows_sha256"):
        raise UserError(f"{run_dir}: the data no longer gives the held-out split the run used "
                        "(the dataset file changed?); refusing to report a score on mixed data")
    batches = InMemoryBatches(prepared.train, prepared.val, prepared.info, ds.batch_size, spec.seed)
    metrics = validate(task, model, batches.val(), hp, torch.device("cpu"))
    return {**metrics, "n_val": len(prepared.val), "epoch": loaded.state["epoch"], "checkpoint": str(ckpt_dir)}
