"""RL²'s recurrent policy and its trials (Duan et al. 2016, arXiv:1611.02779; Wang et al. 2016).

The policy is a GRU whose input at each step is (observation, previous action, previous reward,
done flag of the previous step). Its hidden state is kept across the episodes of one trial (all
on the same task) and reset between trials, so the GRU itself becomes the learning algorithm:
what it has seen of this task is in its state. A trial runs on a rollout worker's vector env,
one task per sub-env (`run_trials`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from trainfleet.errors import SpecError
from trainfleet.rl.core.networks import CategoricalHead, GaussianHead, layer_init
from trainfleet.rl.envs.tasks import Task, assign_tasks


@dataclass(frozen=True)
class RecurrentConfig:
    """How to build a RecurrentActorCritic for given spaces (picklable: sent to rollout workers)."""

    hidden: int = 64

    def __call__(self, obs_space: gym.Space, act_space: gym.Space) -> RecurrentActorCritic:
        return RecurrentActorCritic(obs_space, act_space, self.hidden)


class RecurrentActorCritic(nn.Module):
    def __init__(self, obs_space: gym.Space, act_space: gym.Space, hidden: int) -> None:
        super().__init__()
        self.discrete = isinstance(act_space, gym.spaces.Discrete)
        if self.discrete:
            self.act_dim = int(act_space.n)
            self.head: CategoricalHead | GaussianHead = CategoricalHead(hidden, self.act_dim)
        elif isinstance(act_space, gym.spaces.Box) and len(act_space.shape) == 1:
            self.act_dim = act_space.shape[0]
            self.head = GaussianHead(hidden, self.act_dim)
        else:
            raise SpecError(f"rl2 supports Discrete or 1-D Box actions, not {act_space}", path="env.id")
        self.gru = nn.GRU(int(math.prod(obs_space.shape)) + self.act_dim + 2, hidden)
        self.value_head = layer_init(nn.Linear(hidden, 1), gain=1.0)
        self.hidden = hidden

    def inputs(self, obs: torch.Tensor, prev_action: torch.Tensor, prev_reward: torch.Tensor,
               prev_done: torch.Tensor) -> torch.Tensor:
        """[..., D] GRU input; discrete actions one-hot (all zeros before the first action)."""
        if self.discrete:
            prev_action = nn.functional.one_hot(prev_action.long().clamp(min=0), self.act_dim) * (prev_action >= 0)[..., None]
        lead = obs.shape[: prev_reward.dim()]
        return torch.cat([obs.reshape(*lead, -1).float(), prev_action.float(), prev_reward[..., None].float(),
                          prev_done[..., None].float()], dim=-1)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Features [T, N, H] of an input sequence [T, N, D] and the last hidden state."""
        return self.gru(x, h)

    def value(self, features: torch.Tensor) -> torch.Tensor:
        return self.value_head(features).squeeze(-1)

    def explore(self, x: torch.Tensor, h: torch.Tensor | None, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """One step for N envs: (action, log-prob, value, new hidden state)."""
        features, h = self.gru(x[None], h)
        action, logp = self.head.sample(features[0], generator)
        return action, logp, self.value(features[0]), h


@dataclass
class Trials:
    """N trials of one rollout, time-major [T, N]: everything RL²'s PPO update needs."""

    inputs: np.ndarray  # [T, N, D] the GRU input at each step
    actions: np.ndarray
    logp: np.ndarray
    values: np.ndarray
    rewards: np.ndarray
    valid: np.ndarray  # a real step of the trial (not an autoreset step, not after the trial's end)
    trial_end: np.ndarray  # the trial's last step
    episode_returns: np.ndarray  # [N, episodes_per_trial]


def run_trials(worker: Any, tasks: list[Task], episodes_per_trial: int) -> Trials:
    """On a RolloutWorker: one trial per sub-env (its task from `tasks`), hidden state from zero."""
    assign_tasks(worker.env, tasks)
    worker.reset()
    policy, env, n = worker.policy, worker.env, len(tasks)
    space = env.single_action_space
    prev_action = torch.full((n,) if policy.discrete else (n, policy.act_dim), -1.0 if policy.discrete else 0.0)
    prev_reward, prev_done = torch.zeros(n), torch.zeros(n)
    finished = np.zeros(n, np.int64)  # episodes completed so far
    returns = np.zeros((n, episodes_per_trial))
    h, steps = None, []
    obs = worker.obs
    with torch.inference_mode():
        while (finished < episodes_per_trial).any():
            x = policy.inputs(torch.as_tensor(obs), prev_action, prev_reward, prev_done)
            action, logp, value, h = policy.explore(x, h, worker.generator)
            act = action.numpy()
            obs, reward, terminated, truncated, _ = env.step(act if policy.discrete else np.clip(act, space.low, space.high))
            done = terminated | truncated
            valid = (finished < episodes_per_trial) & ~prev_done.numpy().astype(bool)
            live = np.flatnonzero(valid)
            returns[live, finished[live]] += reward[live]
            finished += valid & done
            steps.append((x, action, logp, value, reward * valid, valid, valid & (finished == episodes_per_trial)))
            prev_action, prev_reward = action.float(), torch.as_tensor(reward, dtype=torch.float32)
            prev_done = torch.as_tensor(done, dtype=torch.float32)
    cols = list(zip(*steps))
    stack = lambda i: np.stack([np.asarray(v) for v in cols[i]])  # noqa: E731
    return Trials(stack(0), stack(1), stack(2), stack(3), stack(4).astype(np.float32), stack(5), stack(6), returns)
