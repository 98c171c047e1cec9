"""Shared helpers for DL tests: build a validated spec and train it in-process (no Ray)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainfleet import jobs
from trainfleet.dl.engine import fit_in_process


def spec(model: str, task: str, data: dict[str, Any], hparams: dict[str, Any], seed: int = 0, **extra: Any) -> jobs.JobSpec:
    """`hparams` may carry `epochs`, the training length: it becomes `stop.epochs` (DL's one knob)."""
    hparams = dict(hparams)
    raw = {"name": f"test-{model}", "model": model, "task": task, "data": data,
           "stop": {"epochs": hparams.pop("epochs", 10)}, "hparams": hparams, "seed": seed, **extra}
    return jobs.parse_spec(raw)


def train(model: str, task: str, data: dict[str, Any], hparams: dict[str, Any], seed: int = 0, checkpoint_dir=None):
    """(trained model, per-epoch rows, prepared data) of an in-process run."""
    return fit_in_process(spec(model, task, data, hparams, seed), checkpoint_dir=checkpoint_dir)


def run_job_cli(capsys: Any, out: Path, job: str, *sets: str) -> Path:
    """`trainfleet run jobs/dl/JOB --output OUT` for one epoch (plus `--set` overrides); its run dir."""
    from trainfleet.cli import main

    path = Path(__file__).resolve().parents[2] / "jobs" / "dl" / job
    argv = ["run", str(path), "--output", str(out), "--set", "stop.epochs=1"]
    for item in sets:
        argv += ["--set", item]
    assert main(argv) == 0
    return Path(capsys.readouterr().out.strip().splitlines()[-1].removeprefix("run dir: "))
