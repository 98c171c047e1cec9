"""What every tabular learner shares: a discrete env, episodes per iteration, counters, state.

`TabularAgent` runs `episodes_per_iteration` episodes per platform iteration and reports a
running mean over the last 100 episode returns. Two kinds sit on it:
  ControlAgent     a Q-table + an exploration strategy (MC control, SARSA, Q-learning, Dyna-Q)
  PredictionAgent  a V-table for a fixed policy, scored against the exact v_pi when the env
                   exposes its model (MC prediction, TD(0))
Each concrete algorithm implements only `run_episode`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from pydantic import Field

from trainfleet import results
from trainfleet.errors import SpecError
from trainfleet.rl.core.algorithm import Algorithm, Hparams, RunContext
from trainfleet.rl.core.envs import make_env
from trainfleet.rl.tabular.exploration import ExplorationHparams, Explorer
from trainfleet.rl.tabular.model import TabularModel, evaluate_exact, one_hot, uniform_policy
from trainfleet.rl.tabular.planning import solve_optimal

RETURN_WINDOW = 100  # episodes in the running mean of episode_return_mean


def tabular_space_problem(observation_space: gym.Space, action_space: gym.Space) -> str | None:
    """A table needs a finite number of states and actions."""
    if isinstance(observation_space, gym.spaces.Discrete) and isinstance(action_space, gym.spaces.Discrete):
        return None
    return "tabular algorithms need Discrete observations and actions"


def rollout_returns(env: gym.Env, act: Callable[[int], int], episodes: int, seed: int, max_steps: int) -> list[float]:
    """Returns of `episodes` episodes of a fixed policy (capped at max_steps: CliffWalking has no time limit)."""
    out = []
    for ep in range(episodes):
        state, _ = env.reset(seed=seed + ep)
        total = 0.0
        for _ in range(max_steps):
            state, reward, terminated, truncated, _ = env.step(act(int(state)))
            total += float(reward)
            if terminated or truncated:
                break
        out.append(total)
    return out


def reachable_states(model: TabularModel, pi: np.ndarray, start: int) -> np.ndarray:
    """Mask of the states the policy can visit from `start` (the ones experience can estimate)."""
    P_pi, _ = model.policy_matrices(pi)
    mask = np.zeros(model.n_states, dtype=bool)
    mask[start] = True
    while True:
        grown = mask | (P_pi.T @ mask.astype(float) > 0)
        if (grown == mask).all():
            return mask
        mask = grown


class EpisodicHparams(Hparams):
    gamma: float = Field(0.99, ge=0, le=1, description="discount")
    episodes_per_iteration: int = Field(100, ge=1, description="episodes between progress reports")


class TabularAgent(Algorithm):
    """Base of the experience-driven tabular methods: env, RNG, counters, the iteration loop."""

    Hparams = EpisodicHparams

    @classmethod
    def space_problem(cls, observation_space: gym.Space, action_space: gym.Space) -> str | None:
        return tabular_space_problem(observation_space, action_space)

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.env = make_env(ctx.env_id, ctx.env_kwargs)
        self.require_spaces(self.env.observation_space, self.env.action_space)
        self.n_states, self.n_actions = int(self.env.observation_space.n), int(self.env.action_space.n)
        self.rng = np.random.default_rng(ctx.seed)
        self.env_steps = 0
        self.episodes = 0
        self.recent_returns: deque[float] = deque(maxlen=RETURN_WINDOW)
        self._next_seed = ctx.seed

    def reset_env(self) -> int:
        obs, _ = self.env.reset(seed=self._next_seed)
        self._next_seed += 1
        return int(obs)

    def run_episode(self) -> tuple[float, int]:
        """One episode of learning; returns (return, length) and counts env_steps."""
        raise NotImplementedError

    def end_episode(self) -> None:
        """Per-episode bookkeeping after learning (e.g. epsilon decay)."""

    def extra_metrics(self) -> dict[str, float]:
        return {}

    def train_iteration(self) -> dict[str, float]:
        lengths = []
        for _ in range(self.hp.episodes_per_iteration):
            ret, length = self.run_episode()
            self.end_episode()
            self.episodes += 1
            self.recent_returns.append(ret)
            lengths.append(length)
        return {
            results.ENV_STEPS: self.env_steps,
            results.EPISODES: self.episodes,
            results.EPISODE_RETURN_MEAN: float(np.mean(self.recent_returns)),
            results.EPISODE_LEN_MEAN: float(np.mean(lengths)),
            **self.extra_metrics(),
        }

    def tables(self) -> dict[str, Any]:
        """The learned arrays and their companions (subclasses add theirs)."""
        return {}

    def load_tables(self, tables: dict[str, Any]) -> None:
        pass

    def get_state(self) -> dict[str, Any]:
        return {
            "tables": self.tables(),
            "rng": self.rng.bit_generator.state,
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "recent_returns": list(self.recent_returns),
            "next_seed": self._next_seed,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.load_tables(state["tables"])
        self.rng.bit_generator.state = state["rng"]
        self.env_steps, self.episodes, self._next_seed = state["env_steps"], state["episodes"], state["next_seed"]
        self.recent_returns = deque(state["recent_returns"], maxlen=RETURN_WINDOW)

    def close(self) -> None:
        self.env.close()


class ControlHparams(EpisodicHparams, ExplorationHparams):
    alpha: float = Field(0.1, gt=0, le=1, description="step size")


class ControlAgent(TabularAgent):
    """A Q-table learner that acts through an exploration strategy and is greedy when evaluated."""

    Hparams = ControlHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.q = np.full((self.n_states, self.n_actions), float(self.hp.q_init))
        self.explorer = Explorer(self.hp, self.n_states, self.n_actions)

    def behave(self, state: int) -> int:
        return self.explorer.select(self.q[state], state, self.rng)

    def end_episode(self) -> None:
        self.explorer.end_episode()

    def extra_metrics(self) -> dict[str, float]:
        return {"epsilon": self.explorer.epsilon}

    def act(self, obs: Any) -> int:
        return int(np.argmax(self.q[int(obs)]))

    def greedy_policy(self) -> np.ndarray:
        return np.argmax(self.q, axis=1)

    def tables(self) -> dict[str, Any]:
        return {"q": self.q, "explorer": self.explorer.get_state()}

    def load_tables(self, tables: dict[str, Any]) -> None:
        self.q = tables["q"]
        self.explorer.set_state(tables["explorer"])


class PredictionHparams(EpisodicHparams):
    policy: Literal["uniform", "optimal"] | list[int] = Field(
        "uniform",
        description="the fixed policy to evaluate: uniform random, the DP-optimal one, or an action per state",
    )
    alpha: float | None = Field(0.05, gt=0, le=1, description="step size; null = 1/N(s): sample averages for MC (unbiased), convergent but slow for TD")


class PredictionAgent(TabularAgent):
    """Estimates v_pi of a fixed policy; reports its RMS error against the exact DP solution.

    The error is over the states the policy reaches from the start (others get no experience);
    it needs an env with a model (`env.unwrapped.P`) and gamma < 1.
    """

    Hparams = PredictionHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.v = np.zeros(self.n_states)
        self.visits = np.zeros(self.n_states, dtype=np.int64)
        self.model = TabularModel.from_env(self.env, ctx.env_id) if hasattr(self.env.unwrapped, "P") else None
        self.pi = self._policy(self.hp.policy)
        self._pi_cdf = np.cumsum(self.pi, axis=1)
        self.start_state = int(self.env.reset(seed=ctx.seed)[0])
        self.v_exact, self.reachable = None, None
        if self.model is not None and self.hp.gamma < 1:
            self.v_exact = evaluate_exact(self.model, self.pi, self.hp.gamma)
            self.reachable = reachable_states(self.model, self.pi, self.start_state)

    def _policy(self, spec: str | list[int]) -> np.ndarray:
        if spec == "uniform":
            return uniform_policy(self.n_states, self.n_actions)
        if spec == "optimal":
            if self.model is None:
                raise SpecError(f"policy 'optimal' needs a known model; {self.ctx.env_id} has none", path="hparams.policy")
            return one_hot(solve_optimal(self.model, self.hp.gamma)[1], self.n_actions)
        actions = np.asarray(spec)
        if actions.shape != (self.n_states,) or actions.min() < 0 or actions.max() >= self.n_actions:
            raise SpecError(
                f"policy needs one action in [0, {self.n_actions}) per state ({self.n_states} states)", path="hparams.policy"
            )
        return one_hot(actions, self.n_actions)

    def step_size(self, state: int) -> float:
        """alpha, or 1/N(s) counting this update when alpha is null."""
        self.visits[state] += 1
        return self.hp.alpha if self.hp.alpha is not None else 1.0 / self.visits[state]

    def sample_action(self, state: int) -> int:
        """a ~ pi(.|s) by inverse CDF (rng.choice with p= costs ~10x more per step)."""
        a = int(np.searchsorted(self._pi_cdf[state], self.rng.random(), side="right"))
        return min(a, self.n_actions - 1)

    def extra_metrics(self) -> dict[str, float]:
        out = {"v_start": float(self.v[self.start_state])}
        if self.v_exact is not None:
            err = (self.v - self.v_exact)[self.reachable]
            out["value_error"] = float(np.sqrt(np.mean(err**2)))
        return out

    def act(self, obs: Any) -> int:
        return int(np.argmax(self.pi[int(obs)]))

    def tables(self) -> dict[str, Any]:
        return {"v": self.v, "visits": self.visits}

    def load_tables(self, tables: dict[str, Any]) -> None:
        self.v, self.visits = tables["v"], tables["visits"]
