"""DQN/DDPG/TD3 pieces: target math, the dueling identity, exact resume, clear spec errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from trainfleet.errors import SpecError
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.core.checkpoint import load_state, save_state
from trainfleet.rl.core.networks import DuelingHead
from trainfleet.rl.deep.ddpg import DDPG
from trainfleet.rl.deep.dqn import DQN, q_targets
from trainfleet.rl.deep.td3 import TD3


def test_double_dqn_target_differs_when_online_and_target_argmax_disagree():
    rewards, terminated = torch.tensor([1.0, 1.0]), torch.tensor([0.0, 1.0])
    next_target = torch.tensor([[2.0, 5.0], [2.0, 5.0]])
    next_online = torch.tensor([[9.0, 1.0], [9.0, 1.0]])  # online prefers action 0, target action 1
    dqn = q_targets(rewards, terminated, 0.5, next_target, None)
    double = q_targets(rewards, terminated, 0.5, next_target, next_online)
    assert dqn.tolist() == [1.0 + 0.5 * 5.0, 1.0]  # max of the target net; terminal: r only
    assert double.tolist() == [1.0 + 0.5 * 2.0, 1.0]  # target net evaluates the online argmax
    agree = torch.tensor([[0.0, 7.0], [0.0, 7.0]])
    assert torch.equal(q_targets(rewards, terminated, 0.5, next_target, agree), dqn)


def test_dueling_head_subtracts_the_mean_advantage():
    torch.manual_seed(0)
    head = DuelingHead(8, 4)
    x = torch.randn(5, 8)
    q, adv = head(x), head.advantage(x)
    torch.testing.assert_close(q - q.mean(1, keepdim=True), adv - adv.mean(1, keepdim=True))
    torch.testing.assert_close(q.mean(1, keepdim=True), head.value(x))  # V is the mean of Q


SMALL = dict(steps_per_iteration=150, learning_starts=100, buffer_size=1000, batch_size=16, hidden=[16, 16])
CASES = [
    (DQN, "CartPole-v1", 2, dict(double=True, dueling=True, prioritized=True, target_update_interval=50, train_freq=4)),
    (DDPG, "Pendulum-v1", 1, dict(train_freq=2, gradient_steps=2,
                                  lr={"schedule": "linear", "start": 1e-3, "end": 1e-4, "steps": 400})),
    (TD3, "Pendulum-v1", 2, dict(noise={"kind": "ou", "sigma": 0.3})),
]


@pytest.mark.parametrize("cls,env_id,num_envs,extra", CASES, ids=lambda c: getattr(c, "__name__", None))
def test_resume_from_checkpoint_continues_exactly(tmp_path, cls, env_id, num_envs, extra):
    def build():
        hp = cls.Hparams.model_validate({**SMALL, **extra})
        return cls(RunContext(env_id, {}, num_envs, hp, seed=3))

    a = build()
    for _ in range(2):
        a.train_iteration()
    save_state(tmp_path, a.get_state())
    b = build()
    b.train_iteration()  # put b somewhere else first: restore must overwrite everything
    b.set_state(load_state(tmp_path))
    ma, mb = a.train_iteration(), b.train_iteration()
    assert ma.keys() == mb.keys()
    for k in ma:
        assert ma[k] == mb[k] or (math.isnan(ma[k]) and math.isnan(mb[k])), k
    for (name, va), vb in zip(a.networks().items(), b.networks().values()):
        if isinstance(va, torch.nn.Module):
            for pa, pb in zip(va.parameters(), vb.parameters()):
                assert torch.equal(pa, pb), name
    obs = a.obs[0]
    np.testing.assert_array_equal(a.act(obs), b.act(obs))
    a.close(), b.close()


def test_algorithms_name_the_action_space_they_need():
    with pytest.raises(SpecError, match="Discrete"):
        DQN(RunContext("Pendulum-v1", {}, 1, DQN.Hparams(), 0))
    with pytest.raises(SpecError, match="Box"):
        TD3(RunContext("CartPole-v1", {}, 1, TD3.Hparams(), 0))


def test_streaming_collection_keeps_the_update_to_data_ratio():
    """The rollout-worker path, driven through the pool's in-process worker (no Ray needed)."""
    from trainfleet.rl.core.workers import EnvConfig, WorkerPool

    hp = DQN.Hparams.model_validate({**SMALL, "train_freq": 8, "gradient_steps": 2, "steps_per_iteration": 400})
    algo = DQN(RunContext("CartPole-v1", {}, 2, hp, seed=1))
    algo.envs.close()
    algo.pool = WorkerPool(EnvConfig("CartPole-v1", {}, 2), algo.worker_policy(), 0, seed=1)
    first = algo.train_iteration()
    second = algo.train_iteration()
    assert 400 <= first["env_steps"] < 420 and 800 <= second["env_steps"] < 840
    assert len(algo.replay) == second["env_steps"]  # every valid transition reached replay
    learned_on = second["env_steps"] - hp.learning_starts
    assert abs(second["gradient_steps"] - learned_on * 2 / 8) <= 2  # 2 updates per 8 env steps
    assert second["episodes"] > 0 and np.isfinite(second["loss_q"])
    assert algo.pool.version >= 800 // 8  # every request carried the learner's current weights
    algo.close()


@pytest.mark.parametrize("cls,env_id", [(DQN, "CartPole-v1"), (TD3, "Pendulum-v1")], ids=["dqn", "td3"])
def test_learning_rate_schedule_drives_every_optimizer(cls, env_id):
    """A scheduled lr is set on each optimiser before every gradient phase and reported."""
    lr = {"schedule": "linear", "start": 1e-3, "end": 1e-4, "steps": 600}
    hp = cls.Hparams.model_validate({**SMALL, "lr": lr, "train_freq": 10, "steps_per_iteration": 200})
    algo = cls(RunContext(env_id, {}, 1, hp, seed=0))
    reported = [algo.train_iteration()["lr"] for _ in range(4)]
    assert reported == pytest.approx([7e-4, 4e-4, 1e-4, 1e-4])  # the schedule at 200, 400, 600, 800 steps
    optimizers = [v for v in algo.networks().values() if isinstance(v, torch.optim.Optimizer)]
    assert optimizers and all(g["lr"] == pytest.approx(1e-4) for o in optimizers for g in o.param_groups)
    algo.close()


@pytest.mark.parametrize("lr", [0, -1e-3, {"schedule": "linear", "start": 1e-3, "end": -1e-4, "steps": 10}])
def test_learning_rate_must_stay_positive(lr):
    with pytest.raises(ValueError, match="learning rate"):
        DQN.Hparams.model_validate({"lr": lr})


@pytest.mark.parametrize("loss", ["huber", "mse"])
def test_dqn_loss_is_the_chosen_td_loss(loss):
    """TD errors of 5: Huber gives 4.5 (|δ| − 0.5), MSE 25 (the notes' L1904), on the same batch."""
    from trainfleet.rl.core.replay import ReplaySample

    hp = DQN.Hparams.model_validate({**SMALL, "loss": loss})
    algo = DQN(RunContext("CartPole-v1", {}, 1, hp, seed=0))
    obs = torch.zeros(4, 4)
    with torch.no_grad():
        q = algo.q(obs)[:, 0]
        next_max = algo.target(obs).max(dim=1).values
    rewards = q + 5.0 - hp.gamma * next_max  # y - Q(s, 0) = 5 for every row
    batch = ReplaySample(obs, torch.zeros(4), rewards, obs, torch.zeros(4), torch.ones(4), np.arange(4))
    got = float(algo.update(batch)["q"])
    assert got == pytest.approx(4.5 if loss == "huber" else 25.0, rel=1e-5)
    algo.close()


@pytest.mark.parametrize(("job", "params"), [("dqn_cartpole_notes_q128.yaml", 898),
                                             ("dqn_cartpole_keras_build_dqn.yaml", 770)])
def test_notes_q_networks_have_the_notes_parameter_counts(job, params):
    """build_q_network((4,), 2) and build_dqn((4,), 2) of the notes (L1658-1723), from their job files."""
    from pathlib import Path

    from trainfleet import jobs

    spec = jobs.load_job(Path(__file__).resolve().parents[4] / "jobs" / "rl" / job)[0]
    algo = DQN(RunContext("CartPole-v1", {}, 1, spec.typed_hparams, seed=0))
    assert sum(p.numel() for p in algo.q.parameters()) == params
    algo.close()


@pytest.mark.parametrize(("cls", "env_id"), [(DQN, "CartPole-v1"), (DDPG, "Pendulum-v1"), (TD3, "Pendulum-v1")],
                         ids=["dqn", "ddpg", "td3"])
def test_activation_choice_reaches_every_network(cls, env_id):
    """Learner networks and the rollout workers' policy copy all use hparams.activation."""
    from torch import nn

    from trainfleet.rl.core.workers import EnvConfig, env_spaces

    hp = cls.Hparams.model_validate({**SMALL, "activation": "tanh"})
    algo = cls(RunContext(env_id, {}, 1, hp, seed=0))
    worker_copy = algo.worker_policy()(*env_spaces(EnvConfig(env_id, {}, 1)))
    modules = [m for net in algo.networks().values() if isinstance(net, nn.Module) for m in net.modules()]
    modules += list(worker_copy.modules())
    assert any(isinstance(m, nn.Tanh) for m in modules) and not any(isinstance(m, nn.ReLU) for m in modules)
    algo.close()


def test_ddpg_notes_job_has_the_notes_400_300_networks():
    """L2706-2740 on Pendulum (3 state dims, 1 action): actor 3-400-300-1, critic (3+1)-400-300-1."""
    from pathlib import Path

    from trainfleet import jobs

    spec = jobs.load_job(Path(__file__).resolve().parents[4] / "jobs" / "rl" / "ddpg_pendulum_notes.yaml")[0]
    algo = DDPG(RunContext("Pendulum-v1", {}, 1, spec.typed_hparams, seed=0))
    actor, critic = (sum(p.numel() for p in net.parameters()) for net in (algo.ac.actor, algo.ac.critic))
    assert actor == 3 * 400 + 400 + 400 * 300 + 300 + 300 + 1
    assert critic == 4 * 400 + 400 + 400 * 300 + 300 + 300 + 1
    algo.close()
