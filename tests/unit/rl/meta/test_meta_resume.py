"""Checkpoint/resume in the middle of meta-training: same weights, same task sampler state, and the
next meta-iteration identical to the one the uninterrupted run takes."""

from __future__ import annotations

import numpy as np
import pytest

from trainfleet.jobs import Resources
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.core.checkpoint import load_state, save_state
from trainfleet.rl.meta.maml import MAML
from trainfleet.rl.meta.rl2 import RL2

CASES = {
    "maml": (MAML, "trainfleet/Navigation2D-v0", {"horizon": 5},
             {"n_steps": 5, "meta_batch": 3, "train_tasks": 10, "test_tasks": 2, "eval_every": 2}),
    "rl2": (RL2, "trainfleet/BernoulliBandit-v0", {"pulls": 6},
            {"train_tasks": 10, "test_tasks": 2, "eval_every": 2, "minibatch_trials": 2}),
}


def build(name: str):
    cls, env_id, env_kwargs, hp = CASES[name]
    return cls(RunContext(env_id, env_kwargs, 2, cls.Hparams(**hp), seed=3, resources=Resources()))


@pytest.mark.parametrize("name", sorted(CASES))
def test_resume_restores_the_task_sampler_exactly(name, tmp_path):
    original = build(name)
    for _ in range(3):
        original.train_iteration()
    save_state(tmp_path, original.get_state())
    resumed = build(name)
    resumed.set_state(load_state(tmp_path))
    try:
        assert resumed.sampler.get_state() == original.sampler.get_state()
        after_original, after_resumed = original.train_iteration(), resumed.train_iteration()
        assert resumed.sampler.meta_batch(4) == original.sampler.meta_batch(4)
        for key in ("env_steps", "loss_policy", "loss_meta", "train_return_pre", "train_trial_return"):
            if key in after_original:
                assert after_resumed[key] == after_original[key], f"{key}: {after_resumed[key]} != {after_original[key]}"
        for key, value in original.model.state_dict().items():
            assert np.array_equal(resumed.model.state_dict()[key].numpy(), value.numpy()), key
    finally:
        original.close()
        resumed.close()
