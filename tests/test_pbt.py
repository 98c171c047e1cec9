"""PBT that exploits cleanly: a perturbed hyperparameter takes effect after the restore, the
exploited trial continues from the donor's state, and Tune prints no error doing it.

What PBT does on an exploit is: build the trial from the new (perturbed) config, then restore
the donor's checkpoint into it. The first tests do exactly that for each kind of job (native
on-policy, off-policy with an lr schedule, DL, RLlib), without Tune; the sweep tests run it
through Tune's PBT and the CLI.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch

from trainfleet import jobs, results
from trainfleet.cli import main
from trainfleet.dl.data.batches import InMemoryBatches
from trainfleet.dl.data.source import DataSpec, prepare
from trainfleet.dl.engine import Collect, fit
from trainfleet.launch.runner import build_runner
from trainfleet.rl.core.schedules import Schedule

ROOT = Path(__file__).resolve().parents[1]
JOBS = ROOT / "jobs"


def job(path: str, **overrides) -> jobs.JobSpec:
    raw = jobs.read_yaml(JOBS / path)
    return jobs.parse_spec(jobs.apply_overrides(raw, overrides))


def donor_then_clone(donor: jobs.JobSpec, clone: jobs.JobSpec, tmp_path: Path, iterations: int) -> tuple[dict, dict]:
    """Train `donor` a few iterations and checkpoint it; build `clone` (the perturbed config),
    restore the donor's checkpoint into it and train one iteration. (donor's last, clone's first) metrics."""
    runner = build_runner(donor)
    try:
        for _ in range(iterations):
            before = runner.train_iteration()
        runner.save(tmp_path)
    finally:
        runner.close()
    runner = build_runner(clone)
    try:
        runner.restore(tmp_path)
        after = runner.train_iteration()
    finally:
        runner.close()
    return before, after


def test_native_on_policy_clone_steps_at_the_new_lr_from_the_donors_state(tmp_path):
    base = {"stop.iterations": 2, "env.num_envs": 4, "hparams.updates_per_iteration": 5}
    before, after = donor_then_clone(job("rl/a2c_cartpole.yaml", **base, **{"hparams.lr": 1e-3}),
                                     job("rl/a2c_cartpole.yaml", **base, **{"hparams.lr": 3e-4}), tmp_path, 2)
    assert before["lr"] == pytest.approx(1e-3)
    assert after["lr"] == pytest.approx(3e-4), after["lr"]  # the optimiser's own value, not the donor's
    per_iteration = 5 * 8 * 4  # at most updates x n_steps x envs (an env's reset step is no transition)
    assert before[results.ENV_STEPS] < after[results.ENV_STEPS] <= before[results.ENV_STEPS] + per_iteration
    assert after[results.EPISODES] >= before[results.EPISODES]


def test_off_policy_clone_follows_the_new_lr_schedule_from_the_donors_step(tmp_path):
    base = {"stop.iterations": 3, "env.num_envs": 4, "hparams.steps_per_iteration": 256,
            "hparams.learning_starts": 256, "hparams.train_freq": 64, "hparams.gradient_steps": 2}
    old = {"schedule": "linear", "start": 1e-3, "end": 1e-5, "steps": 2000}
    new = {"schedule": "linear", "start": 5e-3, "end": 1e-4, "steps": 1000}
    before, after = donor_then_clone(job("rl/dqn_cartpole.yaml", **base, **{"hparams.lr": old}),
                                     job("rl/dqn_cartpole.yaml", **base, **{"hparams.lr": new}), tmp_path, 3)
    start, end = before[results.ENV_STEPS], after[results.ENV_STEPS]
    assert start < end <= start + 256 + 4  # continues the donor's env steps (whole vector steps)
    assert after["gradient_steps"] > before["gradient_steps"]
    # the optimiser's rate in the clone's last gradient phase: the new schedule, at a step of this iteration
    old_s, new_s = Schedule(**old), Schedule(**new)
    assert new_s.value(end) <= after["lr"] <= new_s.value(start), (after["lr"], new_s.value(start), new_s.value(end))
    assert not old_s.value(end) <= after["lr"] <= old_s.value(start)


def _dl_fit(spec: jobs.JobSpec, start=None) -> Collect:
    torch.set_num_threads(1)
    ds = DataSpec.model_validate(spec.data)
    p = prepare(ds, spec.seed)
    collect = Collect()
    fit(spec, p.info, InMemoryBatches(p.train, p.val, p.info, ds.batch_size, spec.seed), collect, start=start)
    return collect


def test_dl_clone_steps_at_the_new_lr_from_the_donors_epoch():
    donor = _dl_fit(job("dl/mlp_xor.yaml", **{"hparams.lr": 0.01, "stop.epochs": 2, "checkpoint.every": 2}))
    clone = _dl_fit(job("dl/mlp_xor.yaml", **{"hparams.lr": 0.05, "stop.epochs": 3}),
                    start=donor.last_checkpoint.state)
    assert donor.rows[-1]["lr"] == pytest.approx(0.01)
    assert [r["epoch"] for r in clone.rows] == [3]  # continues the donor's epochs
    assert clone.rows[0]["lr"] == pytest.approx(0.05), clone.rows[0]["lr"]


def test_rllib_clone_steps_at_the_new_lr_from_the_donors_state(ray_session, tmp_path):
    base = {"stop.iterations": 2, "env.num_envs": 1, "hparams.train_batch_size": 200,
            "hparams.minibatch_size": 100, "hparams.num_epochs": 1}
    before, after = donor_then_clone(job("rl/ppo_cartpole_rllib.yaml", **base, **{"hparams.lr": 1e-3}),
                                     job("rl/ppo_cartpole_rllib.yaml", **base, **{"hparams.lr": 2e-4}), tmp_path, 2)
    assert before["lr"] == pytest.approx(1e-3)
    assert after["lr"] == pytest.approx(2e-4), after["lr"]  # read from the learner's optimiser before the update
    assert after[results.ENV_STEPS] >= before[results.ENV_STEPS] + 200


def test_pbt_sweep_through_the_cli_exploits_cleanly(ray_session, runs, capfd):
    """The sweep of jobs/sweeps/ppo_cartpole_pbt.yaml (2 trials, perturbation every 4 iterations,
    checkpoint every 4, keep 2, 24 iterations): no error line, no traceback, a compact trial table;
    every exploit is recorded, and the exploited trial's next iteration is the donor's own next
    iteration (same weights, env state and RNG) stepped at the new lr.

    Asynchronous PBT exploits only while both trials run: at the job's 512 env steps per
    iteration a trial takes ~5 s, less than a loaded machine may take to start the other trial's
    actor, so the test runs 4x longer iterations (n_steps 128) with the same PBT settings."""
    rc = main(["run", str(JOBS / "sweeps" / "ppo_cartpole_pbt.yaml"), "--output", str(runs),
               "--set", "hparams.n_steps=128"])
    out, err = capfd.readouterr()
    printed = out + err
    assert rc == 0, printed[-3000:]
    assert "ERROR" not in printed and "Traceback" not in printed, printed[-3000:]
    assert "'config'" not in printed and "TrainingResult" not in printed  # no raw Tune result dicts
    assert "best so far:" in out
    (run_dir,) = runs.iterdir()

    trials = pq.read_table(run_dir / "trials.parquet").to_pylist()
    assert len(trials) == 2 and all(t["status"] == "ok" and t["iteration"] == 24 for t in trials)
    exploits = {t["trial_id"]: t["exploits"] for t in trials if t["exploits"]}
    assert exploits, "PBT never exploited in 5 perturbation rounds"
    rows = {(m["trial_id"], m["iteration"]): m for m in pq.read_table(run_dir / "metrics.parquet").to_pylist()}
    for trial_id, done in exploits.items():
        last = done[-1]  # the rows after the last exploit are never replaced by a later one
        i = last["iteration"]
        assert i % 4 == 0 and 4 <= i < 24
        assert last["old"].keys() == last["new"].keys() == {"hparams.lr"}
        clone, donor = rows[(trial_id, i + 1)], rows[(last["donor"], i + 1)]
        for key in (results.ENV_STEPS, results.EPISODES, results.EPISODE_RETURN_MEAN):
            assert clone[key] == donor[key], (key, clone[key], donor[key])
        assert clone["lr"] == pytest.approx(last["new"]["hparams.lr"])
        assert donor["lr"] != pytest.approx(clone["lr"])
        final = next(t for t in trials if t["trial_id"] == trial_id)
        assert final["config.hparams.lr"] == pytest.approx(last["new"]["hparams.lr"])


def test_pbt_checkpoint_cadence_and_retention_follow_from_each_other():
    space = {"space": {"hparams.lr": {"loguniform": [1e-4, 1e-2]}}, "scheduler": "pbt", "num_samples": 2}
    interval_from_every = job("rl/a2c_cartpole.yaml", tune=space, **{"checkpoint.every": 5, "stop.iterations": 20})
    assert interval_from_every.tune.perturbation_interval == 5
    every_from_interval = job("rl/a2c_cartpole.yaml", tune={**space, "perturbation_interval": 3}, checkpoint={"keep": 2},
                              **{"stop.iterations": 20})
    assert every_from_interval.checkpoint.every == 3
    from trainfleet.launch.schedulers import checkpoints_to_keep

    # keep: 2 in the job file; Tune warns (and PBT loses donors) below 3
    assert interval_from_every.checkpoint.keep == 2 and checkpoints_to_keep(interval_from_every) >= 3
    assert checkpoints_to_keep(job("rl/a2c_cartpole.yaml")) == 2  # other runs keep what they ask for
