"""The notes' A2C (L2506-2577) and REINFORCE policy network (L2342-2366) as shipped job files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from trainfleet import jobs, registry
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.deep.a2c import actor_critic_loss

JOBS = Path(__file__).resolve().parents[4] / "jobs" / "rl"


def _algorithm(job: str):
    spec = jobs.load_job(JOBS / job, {"resources.rollout_workers": 0})[0]
    algo = registry.ALGORITHMS[(spec.algorithm, "native")].load()(RunContext.from_spec(spec))
    return algo, algo.model


def _shape(module: nn.Module) -> list[str]:
    return [f"Linear({m.in_features},{m.out_features})" if isinstance(m, nn.Linear) else type(m).__name__
            for m in module.modules() if isinstance(m, (nn.Linear, nn.ReLU, nn.Tanh))]


def test_a2c_notes_job_has_one_64_unit_relu_layer_per_head():
    algo, model = _algorithm("a2c_cartpole_notes.yaml")
    assert _shape(model.actor_torso) + _shape(model.head) == ["Linear(4,64)", "ReLU", "Linear(64,2)"]
    assert _shape(model.critic_torso) + _shape(model.value_head) == ["Linear(4,64)", "ReLU", "Linear(64,1)"]
    assert sum(p.numel() for p in model.parameters()) == 450 + 385  # the notes' actor and critic
    algo.close()


def test_a2c_notes_job_weighs_the_critic_by_half_the_mse():
    """The notes' loss: actor_loss + 0.5 * mean((G - V)^2) with the advantage detached (L2561-2567)."""
    algo, model = _algorithm("a2c_cartpole_notes.yaml")
    g = torch.Generator().manual_seed(0)
    obs, actions, returns = torch.randn(16, 4, generator=g), torch.randint(2, (16,), generator=g), torch.randn(16, generator=g)
    hp = algo.hp
    with torch.no_grad():
        logp, _, value = model.evaluate(obs, actions)
        advantages = returns - value
        notes = -(logp * advantages).mean() + 0.5 * advantages.pow(2).mean()
        ours, _ = actor_critic_loss(model, obs, actions, advantages, returns, hp.vf_coef, hp.ent_coef, hp.norm_adv)
    assert float(ours) == pytest.approx(float(notes), rel=1e-6)
    algo.close()


def test_reinforce_notes_job_has_the_4_64_64_2_relu_policy():
    algo, model = _algorithm("reinforce_cartpole_notes.yaml")
    assert _shape(model.actor_torso) + _shape(model.head) == ["Linear(4,64)", "ReLU", "Linear(64,64)", "ReLU",
                                                               "Linear(64,2)"]
    assert sum(p.numel() for p in model.policy_parameters()) == 4 * 64 + 64 + 64 * 64 + 64 + 64 * 2 + 2
    algo.close()
