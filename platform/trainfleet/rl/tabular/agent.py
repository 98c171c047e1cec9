"""What every tabular learner shares: a discrete env, a Q-table, episodes per iteration, state."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from pydantic import Field

from trainfleet import results
from trainfleet.errors import SpecError
from trainfleet.rl.core.algorithm import Algorithm, RunContext
from trainfleet.rl.core.envs import make_env
from trainfleet.rl.tabular.exploration import ExplorationHparams, Explorer


class TabularHparams(ExplorationHparams):
    alpha: float = Field(0.1, gt=0, le=1, description="step size")
    gamma: float = Field(0.99, ge=0, le=1, description="discount")
    episodes_per_iteration: int = Field(100, ge=1, description="episodes between progress reports")


def discrete_sizes(env: gym.Env, env_id: str) -> tuple[int, int]:
    """(n_states, n_actions), or a clear error for an env a table cannot hold."""
    if not isinstance(env.observation_space, gym.spaces.Discrete) or not isinstance(
        env.action_space, gym.spaces.Discrete
    ):
        raise SpecError(
            f"tabular algorithms need Discrete observations and actions; {env_id} has "
            f"{env.observation_space} / {env.action_space}",
            path="env.id",
        )
    return int(env.observation_space.n), int(env.action_space.n)


class TabularAgent(Algorithm):
    """Base of the experience-driven tabular methods: env, Q-table, explorer, RNG, counters."""

    Hparams = TabularHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.env = make_env(ctx.env_id, ctx.env_kwargs)
        self.n_states, self.n_actions = discrete_sizes(self.env, ctx.env_id)
        self.q = np.full((self.n_states, self.n_actions), float(self.hp.q_init))
        self.explorer = Explorer(self.hp, self.n_states, self.n_actions)
        self.rng = np.random.default_rng(ctx.seed)
        self.env_steps = 0
        self.episodes = 0
        self._next_seed = ctx.seed

    def reset_env(self) -> int:
        obs, _ = self.env.reset(seed=self._next_seed)
        self._next_seed += 1
        return int(obs)

    def behave(self, state: int) -> int:
        return self.explorer.select(self.q[state], state, self.rng)

    def run_episode(self) -> tuple[float, int]:
        """One episode of learning; returns (return, length). Subclasses implement."""
        raise NotImplementedError

    def train_iteration(self) -> dict[str, float]:
        returns, lengths = [], []
        for _ in range(self.hp.episodes_per_iteration):
            ret, length = self.run_episode()
            self.explorer.end_episode()
            self.episodes += 1
            returns.append(ret)
            lengths.append(length)
        return {
            results.ENV_STEPS: self.env_steps,
            results.EPISODES: self.episodes,
            results.EPISODE_RETURN_MEAN: float(np.mean(returns)),
            results.EPISODE_LEN_MEAN: float(np.mean(lengths)),
            "epsilon": self.explorer.epsilon,
        }

    def act(self, obs: Any) -> int:
        return int(np.argmax(self.q[int(obs)]))

    def greedy_policy(self) -> np.ndarray:
        return np.argmax(self.q, axis=1)

    def get_state(self) -> dict[str, Any]:
        return {
            "q": self.q,
            "explorer": self.explorer.get_state(),
            "rng": self.rng.bit_generator.state,
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "next_seed": self._next_seed,
            "extra": self.extra_state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.q = state["q"]
        self.explorer.set_state(state["explorer"])
        self.rng.bit_generator.state = state["rng"]
        self.env_steps, self.episodes, self._next_seed = state["env_steps"], state["episodes"], state["next_seed"]
        self.set_extra_state(state["extra"])

    def extra_state(self) -> dict[str, Any]:
        """Algorithm-specific state beyond the Q-table (e.g. Dyna-Q's model)."""
        return {}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        self.env.close()


