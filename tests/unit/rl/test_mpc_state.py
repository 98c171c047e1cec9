"""An mpc agent's checkpoint: eval loads just the model; resume restores data, counters and weights."""

from __future__ import annotations

import torch
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.core.checkpoint import array_shapes
from trainfleet.rl.model_based.mpc import MPC

HP = {"model": {"members": 2, "probabilistic": True, "hidden": [16], "epochs": 2},
      "planner": {"kind": "cem", "horizon": 3, "candidates": 20, "elites": 4, "iterations": 2},
      "particles": 2, "known_termination": True, "steps_per_iteration": 100}


def build() -> MPC:
    return MPC(RunContext("CartPole-v1", {}, 1, MPC.Hparams.model_validate(HP), seed=0))


def test_load_policy_takes_the_model_only_and_resume_takes_everything():
    algo = build()
    algo.train_iteration()
    state = algo.get_state()
    obs, act = torch.zeros(3, 4), torch.eye(2)[[0, 1, 0]]

    fresh = build()
    shapes = array_shapes(fresh.get_state())
    fresh.load_policy(state)
    assert fresh.fitted and array_shapes(fresh.get_state()) == shapes  # what `trainfleet eval` checks
    assert torch.equal(fresh.model.predict(obs, act)[0], algo.model.predict(obs, act)[0])
    assert fresh.act(algo.obs) in (0, 1)

    resumed = build()
    resumed.set_state(state)
    assert (resumed.env_steps, len(resumed.replay), resumed.window.episodes) == (algo.env_steps, len(algo.replay), algo.window.episodes)
    m = resumed.train_iteration()
    assert m["env_steps"] == algo.env_steps + 100
    for a in (algo, fresh, resumed):
        a.close()
