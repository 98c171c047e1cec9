"""DL jobs through the real platform: CLI -> (this process | Tune trial -> (in-trial loop | Ray Train V2
TorchTrainer)) -> run dir.

A one-worker CPU job trains in the `trainfleet run` process itself (executor auto), or with
`resources.executor: ray` inside a Tune trial; Ray Train start-up costs ~30 s per fit here, so only
two runs go through it: the same job with `resources.trainer: ray_train` (which must give the
in-process and in-trial runs' numbers), and a 2-worker DDP job run as an ASHA sweep.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import yaml

from trainfleet.cli import main

JOBS = Path(__file__).resolve().parents[2] / "jobs"
SCHEMA = {"trial_id", "iteration", "epoch", "train_loss", "val_loss", "val_accuracy", "time_s"}


def run_cli(argv: list[str]) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(argv)
    return rc, buf.getvalue()


def run_dir_of(out: str) -> Path:
    return Path(out.strip().splitlines()[-1].removeprefix("run dir: "))


def used_torch_trainer(run_dir: Path) -> bool:
    """A TorchTrainer keeps its own run (storage) inside the Tune trial's directory."""
    return any(run_dir.glob("tune/trial_*/train/train-*"))


def write_job(path: Path, **fields) -> str:
    job = {"name": "digits-mlp", "model": "mlp", "task": "classify", "hparams": {"hidden": [64], "epochs": 3, "lr": 3.0e-3},
           "stop": {"epochs": 3}, "checkpoint": {"every": 1, "keep": 1}, "seed": 0, **fields}
    path.write_text(yaml.safe_dump(job))
    return str(path)


def test_relative_parquet_job_run_from_another_directory_trains_in_the_trial_and_evaluates(
        ray_session, runs, tmp_path, monkeypatch):
    assert main(["data", "export", "digits", str(tmp_path / "project" / "data")]) == 0
    (tmp_path / "project" / "jobs").mkdir()
    job = write_job(tmp_path / "project" / "jobs" / "job.yaml",
                    data={"path": "../data/digits.parquet", "label_column": "label", "batch_size": 64})
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    # On Tune: the trial actor's working directory is not the user's (issue 22)
    rc, out = run_cli(["run", job, "--output", str(runs), "--set", "resources.executor=ray"])
    assert rc == 0, out
    assert "epoch    3 | train_loss" in out
    run_dir = run_dir_of(out)
    assert not used_torch_trainer(run_dir)
    recorded = yaml.safe_load((run_dir / "spec.yaml").read_text())["data"]["path"]
    assert recorded == str(tmp_path / "project" / "data" / "digits.parquet")
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


def test_in_process_in_trial_and_ray_train_give_the_same_result_for_the_same_seed(ray_session, runs, tmp_path):
    job = write_job(tmp_path / "job.yaml", data={"dataset": "digits", "batch_size": 64})
    outcomes = {}
    for executor, trainer in (("in_process", "in_trial"), ("ray", "in_trial"), ("ray", "ray_train")):
        rc, out = run_cli(["run", job, "--output", str(runs), "--set", f"resources.trainer={trainer}",
                           "--set", f"resources.executor={executor}"])
        assert rc == 0, out
        run_dir = run_dir_of(out)
        assert used_torch_trainer(run_dir) == (trainer == "ray_train")
        assert (run_dir / "tune").is_dir() == (executor == "ray")
        rows = pq.read_table(run_dir / "metrics.parquet").to_pylist()
        rc, scores = run_cli(["eval", str(run_dir), "--json"])
        assert rc == 0
        outcomes[executor, trainer] = (
            [{k: r[k] for k in ("epoch", "train_loss", "val_loss", "val_accuracy", "lr")} for r in rows],
            json.loads(scores)["val_accuracy"], sorted(p.name for p in (run_dir / "checkpoints" / "final").iterdir()))
    assert outcomes["ray", "in_trial"] == outcomes["in_process", "in_trial"]
    assert outcomes["ray", "ray_train"] == outcomes["in_process", "in_trial"]
    assert len(outcomes["in_process", "in_trial"][0]) == 3


def test_two_worker_ddp_sweep_reports_the_same_schema(ray_session, runs, tmp_path):
    tune = {"metric": "val_accuracy", "mode": "max", "num_samples": 1, "scheduler": "asha", "grace_period": 1,
            "space": {"hparams.lr": {"choice": [3.0e-3]}}}
    job = write_job(tmp_path / "ddp.yaml", data={"dataset": "digits", "batch_size": 32},
                    resources={"num_workers": 2}, tune=tune)
    rc, out = run_cli(["run", job, "--output", str(runs)])
    assert rc == 0, out
    run_dir = run_dir_of(out)
    assert used_torch_trainer(run_dir)
    rows = pq.read_table(run_dir / "metrics.parquet").to_pylist()
    assert [r["epoch"] for r in rows] == [1, 2, 3] and SCHEMA <= set(rows[0])
    assert rows[-1]["val_accuracy"] > 0.8
    trials = pq.read_table(run_dir / "trials.parquet").to_pylist()
    assert len(trials) == 1 and trials[0]["status"] == "ok" and trials[0]["config.hparams.lr"] == 3.0e-3
    assert (run_dir / "checkpoints" / "final" / "state.pt").is_file()


def test_unet_trains_data_parallel_on_two_workers(ray_session, runs):
    """The shipped 2-worker U-Net job (DDP through Ray Train), cut to two epochs, already segments."""
    rc, out = run_cli(["run", str(JOBS / "dl" / "unet_shapes_ddp.yaml"), "--output", str(runs), "--set", "stop.epochs=2"])
    assert rc == 0, out
    run_dir = run_dir_of(out)
    assert used_torch_trainer(run_dir)
    rows = pq.read_table(run_dir / "metrics.parquet").to_pylist()
    assert [r["epoch"] for r in rows] == [1, 2] and rows[-1]["val_mean_iou"] > 0.4  # all-background: ~0.2


def test_unet_asha_sweep_stops_weak_learning_rates(ray_session, runs):
    """The shipped ASHA sweep over U-Net's learning rate, cut to two trials of two epochs."""
    rc, out = run_cli(["run", str(JOBS / "sweeps" / "unet_shapes_asha.yaml"), "--output", str(runs),
                       "--set", "tune.num_samples=2", "--set", "stop.epochs=2", "--set", "tune.grace_period=1"])
    assert rc == 0, out
    run_dir = run_dir_of(out)
    trials = pq.read_table(run_dir / "trials.parquet").to_pylist()
    assert len(trials) == 2 and all(t["status"] == "ok" for t in trials), trials
    rows = pq.read_table(run_dir / "metrics.parquet").to_pylist()
    assert {"val_mean_iou", "val_dice"} <= set(rows[0]) and max(r["val_mean_iou"] for r in rows) > 0.4
