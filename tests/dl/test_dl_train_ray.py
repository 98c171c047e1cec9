"""DL jobs through the real platform: CLI -> Tune trial -> Ray Train V2 TorchTrainer -> run directory.

Ray Train start-up costs ~30 s per fit here, so only two runs go through it: a 1-worker job
from an exported Parquet file (run dir, metrics schema, checkpoint contents, eval), and a
2-worker DDP job run as an ASHA sweep (same schema, trials.parquet).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from trainfleet.cli import main

SCHEMA = {"trial_id", "iteration", "epoch", "train_loss", "val_loss", "val_accuracy", "time_s"}


def run_cli(argv: list[str]) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(argv)
    return rc, buf.getvalue()


def write_job(path: Path, **fields) -> str:
    job = {"name": "digits-mlp", "model": "mlp", "task": "classify", "hparams": {"hidden": [64], "epochs": 3, "lr": 3.0e-3},
           "stop": {"epochs": 3}, "checkpoint": {"every": 1, "keep": 1}, "seed": 0, **fields}
    path.write_text(yaml.safe_dump(job))
    return str(path)


def test_one_worker_parquet_job_writes_run_dir_and_evaluates(ray_session, runs, tmp_path):
    assert main(["data", "export", "digits", str(tmp_path / "data")]) == 0
    parquet = tmp_path / "data" / "digits.parquet"
    job = write_job(tmp_path / "job.yaml", data={"path": str(parquet), "label_column": "label", "batch_size": 64})
    rc, out = run_cli(["run", job, "--output", str(runs)])
    assert rc == 0, out
    assert "epoch    3 | train_loss" in out
    run_dir = Path(out.strip().splitlines()[-1].removeprefix("run dir: "))
    rows = pq.read_table(run_dir / "metrics.parquet").to_pylist()
    assert [r["epoch"] for r in rows] == [1, 2, 3] and SCHEMA <= set(rows[0])
    assert rows[-1]["val_accuracy"] > 0.8 and rows[-1]["train_loss"] < rows[0]["train_loss"]
    final = run_dir / "checkpoints" / "final"
    for name in ("state.pt", "trial_spec.json", "data_info.json", "split.json"):
        assert (final / name).is_file(), name
    split = json.loads((final / "split.json").read_text())
    assert split["seed"] == 0 and split["n_train"] + split["n_val"] == 1797
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["kind"] == "dl" and summary["stop_reason"] == "epochs"
    rc, out = run_cli(["eval", str(run_dir), "--json"])
    assert rc == 0
    scores = json.loads(out)
    assert scores["n_val"] == split["n_val"]
    assert abs(scores["val_accuracy"] - rows[-1]["val_accuracy"]) < 1e-9  # same split, same weights


def test_two_worker_ddp_sweep_reports_the_same_schema(ray_session, runs, tmp_path):
    tune = {"metric": "val_accuracy", "mode": "max", "num_samples": 1, "scheduler": "asha", "grace_period": 1,
            "space": {"hparams.lr": {"choice": [3.0e-3]}}}
    job = write_job(tmp_path / "ddp.yaml", data={"dataset": "digits", "batch_size": 32},
                    resources={"num_workers": 2}, tune=tune)
    rc, out = run_cli(["run", job, "--output", str(runs)])
    assert rc == 0, out
    run_dir = Path(out.strip().splitlines()[-1].removeprefix("run dir: "))
    rows = pq.read_table(run_dir / "metrics.parquet").to_pylist()
    assert [r["epoch"] for r in rows] == [1, 2, 3] and SCHEMA <= set(rows[0])
    assert rows[-1]["val_accuracy"] > 0.8
    trials = pq.read_table(run_dir / "trials.parquet").to_pylist()
    assert len(trials) == 1 and trials[0]["status"] == "ok" and trials[0]["config.hparams.lr"] == 3.0e-3
    assert (run_dir / "checkpoints" / "final" / "state.pt").is_file()
