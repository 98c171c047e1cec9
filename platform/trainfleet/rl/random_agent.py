"""The random agent (the notes' first CartPole example, L1736-1750): uniform actions, no learning.

It is the baseline every report can draw: it steps the job's env like the learners do and
reports the same episode metrics, for any Discrete or Box action space (a Box is sampled
uniformly within its bounds, as gymnasium's `Space.sample` does).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from pydantic import Field

from trainfleet import results
from trainfleet.rl.core.algorithm import Algorithm, Hparams, RunContext
from trainfleet.rl.core.episodes import EpisodeTracker
from trainfleet.rl.core.wrappers import env_state, make_vec_env, set_env_state


class RandomHparams(Hparams):
    steps_per_iteration: int = Field(2048, ge=1, description="env steps (summed over the envs) per iteration")
    episode_window: int = Field(100, ge=1, description="finished episodes in episode_return_mean")


class RandomAgent(Algorithm):
    Hparams = RandomHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.envs = make_vec_env(ctx.env_id, ctx.env_kwargs, ctx.num_envs, ctx.seed)
        self.require_spaces(self.envs.single_observation_space, self.envs.single_action_space)
        self.envs.action_space.seed(ctx.seed)
        self.single_space = self.envs.single_action_space
        self.single_space.seed(ctx.seed + 1)
        self.tracker = EpisodeTracker(ctx.num_envs, self.hp.episode_window)
        self.ended = np.zeros(ctx.num_envs, dtype=bool)  # an env whose next step is the vector env's reset
        self.env_steps = 0

    @classmethod
    def space_problem(cls, observation_space: gym.Space, action_space: gym.Space) -> str | None:
        if isinstance(action_space, (gym.spaces.Discrete, gym.spaces.Box)):
            return None
        return "random needs a Discrete or Box action space"

    def train_iteration(self) -> dict[str, float]:
        target = self.env_steps + self.hp.steps_per_iteration
        while self.env_steps < target:
            _, rewards, terminated, truncated, _ = self.envs.step(self.envs.action_space.sample())
            valid = ~self.ended  # gymnasium's next-step autoreset: that step only resets
            self.ended = np.logical_or(terminated, truncated) & valid
            self.tracker.step(np.asarray(rewards, dtype=float), valid, self.ended)
            self.env_steps += int(valid.sum())
        return {results.ENV_STEPS: self.env_steps, **self.tracker.report()}

    def get_state(self) -> dict[str, Any]:
        return {"envs": env_state(self.envs), "tracker": self.tracker.get_state(), "ended": self.ended.copy(),
                "env_steps": self.env_steps, "rng": self.envs.action_space.np_random.bit_generator.state,
                "act_rng": self.single_space.np_random.bit_generator.state}

    def set_state(self, state: dict[str, Any]) -> None:
        set_env_state(self.envs, state["envs"])
        self.tracker.set_state(state["tracker"])
        self.ended, self.env_steps = state["ended"].copy(), state["env_steps"]
        self.envs.action_space.np_random.bit_generator.state = state["rng"]
        self.single_space.np_random.bit_generator.state = state["act_rng"]

    def load_policy(self, state: dict[str, Any]) -> None:
        """Nothing learned: acting needs only the action RNG."""
        self.single_space.np_random.bit_generator.state = state["act_rng"]

    def act(self, obs: Any) -> Any:
        return self.single_space.sample()

    def close(self) -> None:
        self.envs.close()
