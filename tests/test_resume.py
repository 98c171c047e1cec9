"""Ctrl-C, --resume and a NaN loss: the run directory stays consistent and resumable, on either executor.

The interrupted and the diverging runs are real `trainfleet run` processes that get SIGINT like a
terminal's Ctrl-C. On `ray` they join the session's Ray by address (so no second Ray start-up) and
run a Tune trial; `in_process` runs the same loop in the `trainfleet run` process without Ray.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from trainfleet.cli import main

ROOT = Path(__file__).resolve().parents[1]
QL = str(ROOT / "jobs" / "rl" / "q_learning_frozenlake.yaml")
PLUGINS = ROOT / "tests" / "plugins"
ITERATIONS = 100  # in-process, ~0.05 s each: the Ctrl-C after iteration 5 lands well before the end


EXECUTORS = ["ray", "in_process"]


def executor_args(request, executor: str) -> list[str]:
    """`--address` of the session's Ray for a Tune run; nothing for an in-process one."""
    if executor == "in_process":
        return ["--set", "resources.executor=in_process"]
    return ["--address", request.getfixturevalue("ray_session").get_runtime_context().gcs_address]


def trainfleet(*argv: str, cwd: Path = ROOT, **popen) -> subprocess.Popen:
    env = {**os.environ, "TRAINFLEET_ALLOW_IMPORTS": "1", "PYTHONPATH": os.pathsep.join(filter(None, [str(PLUGINS), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen(
        [sys.executable, "-m", "trainfleet", *argv], cwd=cwd, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, **popen,
    )


@pytest.mark.parametrize("executor", EXECUTORS)
def test_ctrl_c_then_resume_keeps_every_iteration_once(request, executor, runs):
    proc = trainfleet(
        "run", QL, *executor_args(request, executor), "--output", str(runs), "--set", f"stop.iterations={ITERATIONS}",
        "--set", "hparams.episodes_per_iteration=100", "--set", "checkpoint.every=2",
    )
    lines, sent = [], False
    deadline = time.monotonic() + 240
    for line in proc.stdout:
        lines.append(line.rstrip())
        if not sent and line.startswith("iter ") and int(line.split()[1]) >= 5:
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends
            sent = True
        assert time.monotonic() < deadline, lines[-5:]
    rc = proc.wait(timeout=60)
    assert sent, lines[-10:]
    assert rc == 130, lines[-10:]
    assert any(ln.startswith("interrupted:") for ln in lines)
    run_dir = Path(lines[-1].removeprefix("run dir: "))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["stop_reason"] == "interrupted"
    kept = json.loads((run_dir / "checkpoints" / "latest" / "progress.json").read_text())
    assert kept["iteration"] >= 4 and kept["iteration"] % 2 == 0
    before = [r["iteration"] for r in pq.read_table(run_dir / "metrics.parquet").to_pylist()]
    assert before and before[-1] < ITERATIONS

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["run", "--resume", str(run_dir)]) == 0
    out = buf.getvalue().splitlines()
    assert out[-1] == f"run dir: {run_dir}"
    resumed = [int(ln.split()[1]) for ln in out if ln.startswith("iter ")]
    assert resumed[0] == kept["iteration"] + 1 and resumed[-1] == ITERATIONS  # continues from the checkpoint
    rows = pq.read_table(run_dir / "metrics.parquet").to_pylist()
    assert [r["iteration"] for r in rows] == list(range(1, ITERATIONS + 1))  # every iteration exactly once
    steps = [r["env_steps"] for r in rows]
    assert steps == sorted(steps)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["stop_reason"] == "iterations"
    assert summary["executor"] == executor and summary["final_metrics"]["iteration"] == ITERATIONS

    before = {name: (run_dir / name).read_bytes() for name in ("summary.json", "metrics.parquet")}
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", "--resume", str(run_dir)]) == 0
    assert {name: (run_dir / name).read_bytes() for name in before} == before  # a finished run stays as it was


@pytest.mark.parametrize("executor", EXECUTORS)
def test_nan_loss_stops_with_one_line_and_keeps_last_good_checkpoint(request, executor, runs, tmp_path):
    job = tmp_path / "diverging.yaml"
    job.write_text(textwrap.dedent(
        """\
        name: diverging
        algorithm: diverging:Diverging
        env: {id: FrozenLake-v1}
        hparams: {nan_at: 4}
        stop: {iterations: 10}
        checkpoint: {every: 1}
        """
    ))
    proc = trainfleet("run", str(job), *executor_args(request, executor), "--output", str(runs), cwd=PLUGINS)
    out, _ = proc.communicate(timeout=240)
    lines = out.strip().splitlines()
    assert proc.returncode == 1, lines[-10:]
    failed = [ln for ln in lines if ln.startswith("training failed:")]
    assert len(failed) == 1 and "loss term 'td' became nan" in failed[0], lines[-10:]
    run_dir = Path(lines[-1].removeprefix("run dir: "))
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "failed"
    kept = json.loads((run_dir / "checkpoints" / "final" / "progress.json").read_text())
    assert kept["iteration"] == 3  # the last iteration with a finite loss
