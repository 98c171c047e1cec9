"""k-armed Bernoulli bandits as a task family (Duan et al. 2016, "RL²", Sec. 4.1).

A task is k arm probabilities drawn uniformly from [0, 1]. One episode is one trial of `pulls`
pulls of the same bandit (the paper's n episodes of one pull each, with the agent's memory
kept across them: the same thing for a recurrent policy). The observation carries nothing;
what the agent knows comes from its previous actions and rewards.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from trainfleet.rl.envs.tasks import Task, TaskFamily

_OBS = gym.spaces.Box(0.0, 1.0, (1,), np.float32)


class _Bandit(TaskFamily):
    def __init__(self, k: int, pulls: int) -> None:
        if k < 2 or pulls < 1:
            raise ValueError(f"a bandit needs k >= 2 arms and pulls >= 1 (got k={k}, pulls={pulls})")
        self.k, self.pulls = k, pulls

    def draw_task(self, rng: np.random.Generator) -> Task:
        return {"probs": rng.uniform(0.0, 1.0, self.k).tolist()}


class BernoulliBanditEnv(_Bandit, gym.Env):
    observation_space = _OBS

    def __init__(self, k: int = 5, pulls: int = 100) -> None:
        super().__init__(k, pulls)
        self.action_space = gym.spaces.Discrete(k)
        self.probs = [0.5] * k
        self.steps = 0

    def get_task(self) -> Task:
        return {"probs": list(self.probs)}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.steps = 0
        return np.zeros(1, np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.steps += 1
        reward = float(self.np_random.random() < self.probs[int(action)])
        return np.zeros(1, np.float32), reward, False, self.steps >= self.pulls, {}


class BernoulliBanditVectorEnv(_Bandit, VectorEnv):
    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, k: int = 5, pulls: int = 100) -> None:
        super().__init__(k, pulls)
        self.num_envs = num_envs
        self.single_observation_space, self.single_action_space = _OBS, gym.spaces.Discrete(k)
        self.observation_space = batch_space(_OBS, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.probs = np.full((num_envs, k), 0.5)
        self.steps = np.zeros(num_envs, np.int64)
        self.prev_done = np.zeros(num_envs, bool)

    def set_tasks(self, tasks: list[Task]) -> None:
        self.probs = np.array([t["probs"] for t in tasks], np.float64)

    def set_task(self, task: Task) -> None:
        self.set_tasks([task] * self.num_envs)

    def get_task(self) -> Task:
        return {"probs": self.probs[0].tolist()}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.steps[:] = 0
        self.prev_done[:] = False
        return np.zeros((self.num_envs, 1), np.float32), {}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        chosen = self.probs[np.arange(self.num_envs), np.asarray(actions, np.int64)]
        reward = (self.np_random.random(self.num_envs) < chosen).astype(np.float32)
        self.steps += 1
        restart = self.prev_done
        self.steps[restart], reward[restart] = 0, 0.0
        truncated = self.steps >= self.pulls
        self.prev_done = truncated.copy()
        return np.zeros((self.num_envs, 1), np.float32), reward, np.zeros(self.num_envs, bool), truncated, {}
