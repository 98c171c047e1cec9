"""Every DL job file trains for one epoch through the shared loop (in-process) and reports the schema."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from trainfleet import jobs
from trainfleet.dl.engine import fit_in_process

ROOT = Path(__file__).resolve().parents[2]
JOB_FILES = sorted((ROOT / "jobs" / "dl").glob("*.yaml"))


@pytest.mark.parametrize("path", JOB_FILES, ids=lambda p: p.stem)
def test_job_trains_one_epoch(path):
    spec, _ = jobs.load_job(path, {"hparams.epochs": 1, "stop.epochs": 1})
    _, rows, _ = fit_in_process(spec)
    assert len(rows) == 1 and rows[0]["stop_reason"] in ("epochs", "val_accuracy")
    assert {"epoch", "train_loss", "val_loss", "time_s"} <= set(rows[0])
    assert math.isfinite(rows[0]["train_loss"]) and math.isfinite(rows[0]["val_loss"])
