"""`trainfleet report RUN RUN RUN --out FILE`: PPO on CartPole through the native, RLlib and SB3 backends in one plot."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from PIL import Image

from trainfleet import report
from trainfleet.cli import main

JOBS = Path(__file__).resolve().parents[1] / "jobs" / "rl"
SHORT = ["--set", "stop.iterations=2", "--set", "stop.env_steps=null", "--set", "stop.episode_return_mean=null"]
PPO_JOBS = {
    "native": ("ppo_cartpole.yaml", ["--set", "hparams.n_steps=16", "--set", "env.num_envs=4"]),
    "rllib": ("ppo_cartpole_rllib.yaml", ["--set", "hparams.train_batch_size=400", "--set", "hparams.minibatch_size=200",
                                          "--set", "hparams.num_epochs=1"]),
    "sb3": ("ppo_cartpole_sb3.yaml", ["--set", "hparams.steps_per_iteration=512", "--set", "hparams.n_steps=512",
                                      "--set", "hparams.n_epochs=1"]),
}


def run_cli(*argv: str) -> tuple[int, list[str]]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(list(argv))
    return rc, buf.getvalue().strip().splitlines()


def test_three_backends_in_one_plot(ray_session, runs, tmp_path):
    pytest.importorskip("stable_baselines3")
    run_dirs = []
    for backend, (job, sets) in PPO_JOBS.items():
        rc, lines = run_cli("run", str(JOBS / job), "--output", str(runs / backend), *SHORT, *sets)
        assert rc == 0, lines[-5:]
        run_dirs.append(lines[-1].removeprefix("run dir: "))
    out = tmp_path / "ppo_cartpole_backends.png"
    rc, lines = run_cli("report", *run_dirs, "--out", str(out))
    assert rc == 0 and lines == [str(out)]
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width > 1000
    labels = [report._run_curves(Path(d))[0] for d in run_dirs]
    assert [label.split(":")[0] for label in labels] == ["native", "rllib", "sb3"]
    assert all("ppo on CartPole-v1" in label for label in labels), labels


def test_a_folder_that_is_no_run_is_one_line_and_exit_2(runs, tmp_path, capsys):
    rc, lines = run_cli("run", str(JOBS / "ppo_cartpole.yaml"), "--output", str(runs), *SHORT,
                        "--set", "hparams.n_steps=16", "--set", "env.num_envs=4")
    assert rc == 0
    assert main(["report", lines[-1].removeprefix("run dir: "), str(tmp_path), "--out", str(tmp_path / "c.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no metrics.parquet" in err[0], err
    assert not (tmp_path / "c.png").exists()
