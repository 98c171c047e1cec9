"""2D point navigation to a goal (Finn et al. 2017, "Model-Agnostic Meta-Learning", Sec. 5.3).

A point starts at the origin; an action moves it by at most 0.1 per axis; the reward is the
negative distance to the task's goal, drawn uniformly from [-0.5, 0.5]^2. The goal is not in the
observation: a policy has to infer it from rewards, which is what adaptation is for. Episodes
last `horizon` steps (100 in the paper) and never terminate early.
The vector env steps every copy in one numpy call (rollouts are policy-bound, not env-bound).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from trainfleet.rl.envs.tasks import Task, TaskFamily

MAX_STEP = 0.1
GOAL_RANGE = (-0.5, 0.5)


class _Navigation(TaskFamily):
    task_ranges = {"goal_x": GOAL_RANGE, "goal_y": GOAL_RANGE}
    observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    action_space = gym.spaces.Box(-MAX_STEP, MAX_STEP, (2,), np.float32)


class Navigation2DEnv(_Navigation, gym.Env):
    def __init__(self, horizon: int = 100) -> None:
        self.horizon = horizon
        self.goal_x, self.goal_y = 0.25, 0.25
        self.pos = np.zeros(2, np.float32)
        self.steps = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.pos = np.zeros(2, np.float32)
        self.steps = 0
        return self.pos.copy(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.pos = (self.pos + np.clip(action, -MAX_STEP, MAX_STEP)).astype(np.float32)
        self.steps += 1
        reward = -float(np.hypot(self.pos[0] - self.goal_x, self.pos[1] - self.goal_y))
        return self.pos.copy(), reward, False, self.steps >= self.horizon, {}


class Navigation2DVectorEnv(_Navigation, VectorEnv):
    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, num_envs: int = 1, horizon: int = 100) -> None:
        self.num_envs, self.horizon = num_envs, horizon
        self.single_observation_space, self.single_action_space = self.observation_space, self.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.goal = np.full((num_envs, 2), 0.25, np.float32)
        self.pos = np.zeros((num_envs, 2), np.float32)
        self.steps = np.zeros(num_envs, np.int64)
        self.prev_done = np.zeros(num_envs, bool)

    def set_tasks(self, tasks: list[Task]) -> None:
        self.goal = np.array([[t["goal_x"], t["goal_y"]] for t in tasks], np.float32)

    def set_task(self, task: Task) -> None:
        self.set_tasks([task] * self.num_envs)

    def get_task(self) -> Task:
        return {"goal_x": float(self.goal[0, 0]), "goal_y": float(self.goal[0, 1])}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.pos[:] = 0.0
        self.steps[:] = 0
        self.prev_done[:] = False
        return self.pos.copy(), {}

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        self.pos = (self.pos + np.clip(actions, -MAX_STEP, MAX_STEP)).astype(np.float32)
        self.steps += 1
        reward = -np.linalg.norm(self.pos - self.goal, axis=1).astype(np.float32)
        restart = self.prev_done  # NEXT_STEP autoreset: this step only resets these copies
        self.pos[restart], self.steps[restart], reward[restart] = 0.0, 0, 0.0
        truncated = self.steps >= self.horizon
        self.prev_done = truncated.copy()
        return self.pos.copy(), reward, np.zeros(self.num_envs, bool), truncated, {}
