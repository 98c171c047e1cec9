"""`trainfleet run | eval | report | list` called in this process (the CLI contract): a run goes
through both executors, the driver itself and a Tune trial on the session's Ray, and must leave
the same run directory contract either way."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from trainfleet import results
from trainfleet.cli import main

ROOT = Path(__file__).resolve().parents[1]
QL = str(ROOT / "jobs" / "rl" / "q_learning_frozenlake.yaml")


def run_cli(capsys, *argv: str) -> tuple[int, list[str]]:
    rc = main(list(argv))
    out = capsys.readouterr().out.strip().splitlines()
    return rc, out


def run_dir_of(lines: list[str]) -> Path:
    assert lines[-1].startswith("run dir: "), lines[-5:]
    return Path(lines[-1].removeprefix("run dir: "))


@pytest.fixture(scope="module", params=["in_process", "ray"])
def q_run(request, tmp_path_factory):
    """One short Q-learning run per executor, shared by the tests of this module."""
    if request.param == "ray":
        request.getfixturevalue("ray_session")
    out = tmp_path_factory.mktemp("runs")
    argv = ["run", QL, "--output", str(out), "--set", "stop.iterations=4", "--set", "checkpoint.every=2",
            "--set", "hparams.episodes_per_iteration=200", "--set", "seed=3",
            "--set", f"resources.executor={request.param}"]
    import io
    import contextlib

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(argv)
    return rc, buf.getvalue().strip().splitlines(), request.param


def test_run_writes_the_run_directory(q_run):
    rc, lines, executor = q_run
    assert rc == 0
    run_dir = run_dir_of(lines)
    progress = [ln for ln in lines if ln.startswith("iter ")]
    assert len(progress) == 4 and "env_steps" in progress[0] and "steps/s" in progress[0]
    assert {"spec.yaml", "metrics.parquet", "summary.json", "checkpoints"} <= {p.name for p in run_dir.iterdir()}

    spec = yaml.safe_load((run_dir / "spec.yaml").read_text())
    assert spec["stop"]["iterations"] == 4 and spec["seed"] == 3  # resolved, overrides applied
    assert spec["hparams"]["episodes_per_iteration"] == 200
    assert spec["resources"]["executor"] == executor and (run_dir / "tune").is_dir() == (executor == "ray")

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["stop_reason"] == "iterations"
    assert summary["seed"] == 3 and summary["versions"]["ray"].startswith("2.") and summary["executor"] == executor
    assert summary["final_metrics"]["iteration"] == 4
    assert summary["startup_s"] >= 0 and summary["train_s"] > 0 and summary["wall_s"] >= summary["train_s"]
    assert (run_dir / "checkpoints" / "final" / "state.pt").is_file()


def test_metrics_parquet_round_trips(q_run, tmp_path):
    run_dir = run_dir_of(q_run[1])
    table = pq.read_table(run_dir / "metrics.parquet")
    assert set(results.REQUIRED_RL_COLUMNS) <= set(table.column_names)
    rows = table.to_pylist()
    assert [r["iteration"] for r in rows] == [1, 2, 3, 4]
    steps = [r["env_steps"] for r in rows]
    assert steps == sorted(steps) and steps[0] > 0
    assert all(r["time_s"] > 0 for r in rows)
    copy = tmp_path / "copy.parquet"
    pq.write_table(table, copy)
    assert pq.read_table(copy).equals(table)


def test_eval_json(q_run, capsys):
    run_dir = run_dir_of(q_run[1])
    rc, out = run_cli(capsys, "eval", str(run_dir), "--episodes", "5", "--json")
    assert rc == 0
    result = json.loads(out[-1])
    assert result["episodes"] == 5
    assert 0.0 <= result["episode_return_mean"] <= 1.0


def test_report_writes_pngs(q_run, capsys):
    run_dir = run_dir_of(q_run[1])
    rc, out = run_cli(capsys, "report", str(run_dir))
    assert rc == 0
    pngs = [Path(p) for p in out]
    assert run_dir / "learning_curve.png" in pngs
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_list(capsys):
    rc, out = run_cli(capsys, "list", "algorithms", "--json")
    assert rc == 0
    algos = json.loads("\n".join(out))["algorithms"]
    assert {"name": "q_learning", "backend": "native"}.items() <= next(a for a in algos if a["name"] == "q_learning").items()
    rc, out = run_cli(capsys, "list", "envs", "--json")
    assert "FrozenLake-v1" in {e["name"] for e in json.loads("\n".join(out))["envs"]}
    for what in ("models", "datasets"):
        rc, out = run_cli(capsys, "list", what, "--json")
        assert rc == 0 and isinstance(json.loads("\n".join(out))[what], list)
    rc, out = run_cli(capsys, "list")
    assert rc == 0 and any(line.split()[0] == "q_learning" for line in out if line.startswith("  "))


def test_eval_of_a_non_run_dir_is_a_user_error(tmp_path, capsys):
    assert main(["eval", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
