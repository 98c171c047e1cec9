"""On-policy Monte Carlo prediction and control (notes L1949-1976; Sutton & Barto ch. 5).

Monte Carlo waits for the episode to end and moves each first-visited state (or pair; for
prediction, with `visits: every`, every visit) toward the return actually observed from there:
  prediction  V(s)   <- V(s)   + alpha [G_t - V(s)]      (notes L1959)
  control     Q(s,a) <- Q(s,a) + alpha [G_t - Q(s,a)],  pi(s) = argmax_a Q(s,a)   (L1967)
With `alpha: null` the step is 1/N (the sample average: unbiased, as the notes stress).
Control keeps exploring either with an epsilon-soft behaviour policy (`start: reset`) or
with exploring starts (`start: exploring`: a random state and a random first action, then
the behaviour policy; with epsilon 0 that is the textbook Monte Carlo ES). A truncated
episode still contributes its partial returns.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from trainfleet.errors import SpecError
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.tabular.agent import ControlAgent, ControlHparams, PredictionAgent, PredictionHparams


def visit_returns(keys: list[Any], rewards: list[float], gamma: float, every: bool = False) -> list[tuple[Any, float]]:
    """(key, G_t), G_t = sum_k gamma^k r_{t+k+1}, for the first occurrence of each key (or, with
    `every`, for every occurrence), latest first."""
    g, out, first = 0.0, [], {}
    for t, key in enumerate(keys):
        first.setdefault(key, t)
    for t in range(len(keys) - 1, -1, -1):
        g = rewards[t] + gamma * g
        if every or first[keys[t]] == t:
            out.append((keys[t], g))
    return out


class MonteCarloPredictionHparams(PredictionHparams):
    visits: Literal["first", "every"] = Field(
        "first", description="average the return after each state's first visit in an episode, or after every visit"
    )


class MonteCarloPrediction(PredictionAgent):
    """First- or every-visit MC evaluation of the fixed policy `hparams.policy`.

    Both converge to v_pi: first-visit averages independent returns (unbiased); every-visit's
    returns within an episode are correlated (biased for finitely many episodes, consistent).
    """

    Hparams = MonteCarloPredictionHparams

    def run_episode(self) -> tuple[float, int]:
        states, rewards = [], []
        state, done = self.reset_env(), False
        while not done:
            next_state, reward, terminated, truncated, _ = self.env.step(self.sample_action(state))
            states.append(state)
            rewards.append(float(reward))
            state, done = int(next_state), terminated or truncated
        for s, g in visit_returns(states, rewards, self.hp.gamma, every=self.hp.visits == "every"):
            self.v[s] += self.step_size(s) * (g - self.v[s])
        self.env_steps += len(states)
        return float(sum(rewards)), len(states)


class MonteCarloControlHparams(ControlHparams):
    alpha: float | None = Field(None, gt=0, le=1, description="step size; null = sample averages 1/N(s,a)")
    start: Literal["reset", "exploring"] = Field(
        "reset", description="reset: the env's start state (epsilon-soft exploration); exploring: exploring starts"
    )


class MonteCarloControl(ControlAgent):
    """On-policy first-visit MC control, epsilon-soft or with exploring starts."""

    Hparams = MonteCarloControlHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.visits = np.zeros((self.n_states, self.n_actions), dtype=np.int64)
        self.env.reset(seed=ctx.seed)  # FrozenLake-style envs create `s` on reset
        if self.hp.start == "exploring" and not hasattr(self.env.unwrapped, "s"):
            raise SpecError(f"exploring starts need an env whose state can be set (env.unwrapped.s); {ctx.env_id} has none", path="hparams.start")

    def first_step(self) -> tuple[int, int]:
        state = self.reset_env()
        if self.hp.start == "exploring":
            state = int(self.rng.integers(self.n_states))
            self.env.unwrapped.s = state
            return state, int(self.rng.integers(self.n_actions))
        return state, self.behave(state)

    def run_episode(self) -> tuple[float, int]:
        pairs, rewards = [], []
        state, action = self.first_step()
        while True:
            next_state, reward, terminated, truncated, _ = self.env.step(action)
            pairs.append((state, action))
            rewards.append(float(reward))
            if terminated or truncated:
                break
            state = int(next_state)
            action = self.behave(state)
        # ---- the Monte Carlo update: every first-visited pair moves toward its return ----
        for (s, a), g in visit_returns(pairs, rewards, self.hp.gamma):
            self.visits[s, a] += 1
            step = self.hp.alpha if self.hp.alpha is not None else 1.0 / self.visits[s, a]
            self.q[s, a] += step * (g - self.q[s, a])
        self.env_steps += len(pairs)
        return float(sum(rewards)), len(pairs)

    def tables(self) -> dict[str, Any]:
        return {**super().tables(), "visits": self.visits}

    def load_tables(self, tables: dict[str, Any]) -> None:
        super().load_tables(tables)
        self.visits = tables["visits"]
