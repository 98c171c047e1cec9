"""Dyna-Q (Sutton & Barto 8.2; named in the notes at L779): Q-learning plus planning.

After each real step: (a) the Q-learning update, (b) the model remembers what (s, a) led to
(the last observed reward, next state and termination: a deterministic-environment model),
(c) `planning_steps` simulated updates, each on a previously seen (s, a) drawn at random and
replayed through the model. More planning steps = fewer real steps to learn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.tabular.agent import ControlAgent, ControlHparams
from trainfleet.rl.tabular.td_control import max_target, td_control_episode, td_update


class DynaQHparams(ControlHparams):
    planning_steps: int = Field(10, ge=0, description="simulated updates from the learned model per real step")


class DynaQ(ControlAgent):
    Hparams = DynaQHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        n = self.n_states * self.n_actions
        self.model_next = np.full(n, -1, dtype=np.int64)  # -1: (s, a) never tried
        self.model_reward = np.zeros(n)
        self.model_terminated = np.zeros(n, dtype=bool)
        self.seen = np.zeros(0, dtype=np.int64)  # flat (s, a) indices tried so far, for sampling

    def learn_and_plan(self, state: int, action: int, reward: float, next_state: int, terminated: bool) -> None:
        idx = state * self.n_actions + action
        if self.model_next[idx] < 0:
            self.seen = np.append(self.seen, idx)
        self.model_next[idx], self.model_reward[idx], self.model_terminated[idx] = next_state, reward, terminated
        # ---- planning: Q-learning updates on remembered transitions ----
        hp, q = self.hp, self.q
        for k in self.seen[self.rng.integers(len(self.seen), size=hp.planning_steps)]:
            s, a = divmod(int(k), self.n_actions)
            terminated = bool(self.model_terminated[k])
            next_value = 0.0 if terminated else q[self.model_next[k]].max()
            td_update(q, s, a, self.model_reward[k], terminated, next_value, hp.alpha, hp.gamma)

    def run_episode(self) -> tuple[float, int]:
        return td_control_episode(self, max_target(self.q), self.learn_and_plan)

    def tables(self) -> dict[str, Any]:
        return {
            **super().tables(),
            "model_next": self.model_next,
            "model_reward": self.model_reward,
            "model_terminated": self.model_terminated,
            "seen": self.seen,
        }

    def load_tables(self, tables: dict[str, Any]) -> None:
        super().load_tables(tables)
        self.model_next, self.model_reward = tables["model_next"], tables["model_reward"]
        self.model_terminated, self.seen = tables["model_terminated"], tables["seen"]
