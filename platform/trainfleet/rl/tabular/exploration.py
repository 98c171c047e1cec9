"""Action selection for tabular agents, chosen by `hparams.exploration`.

- epsilon_greedy: random action with probability epsilon (decayed per episode to epsilon_min)
- boltzmann: softmax over Q / temperature
- ucb: argmax Q + c * sqrt(ln t / N(s, a)) (untried actions first)
- count_bonus: argmax Q + beta / sqrt(1 + N(s, a)), an exploration bonus that fades with visits
Optimistic initial values are `q_init` > 0 with any strategy (greedy when epsilon = 0).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from trainfleet.rl.core.algorithm import Hparams

Strategy = Literal["epsilon_greedy", "boltzmann", "ucb", "count_bonus"]


class ExplorationHparams(Hparams):
    exploration: Strategy = "epsilon_greedy"
    epsilon: float = Field(0.1, ge=0, le=1, description="epsilon-greedy: initial exploration rate")
    epsilon_decay: float = Field(1.0, gt=0, le=1, description="multiplied into epsilon after each episode")
    epsilon_min: float = Field(0.0, ge=0, le=1)
    temperature: float = Field(1.0, gt=0, description="boltzmann: softmax temperature")
    ucb_c: float = Field(1.0, ge=0, description="ucb: confidence width")
    bonus_beta: float = Field(1.0, ge=0, description="count_bonus: bonus scale")
    q_init: float = Field(0.0, description="initial Q values; > 0 is optimistic initialisation")


def argmax_random_tie(values: np.ndarray, rng: np.random.Generator) -> int:
    """argmax that breaks ties at random (plain argmax biases early learning toward action 0)."""
    best = np.flatnonzero(values == values.max())
    return int(best[0] if len(best) == 1 else rng.choice(best))


class Explorer:
    """Holds the exploration state (epsilon, visit counts) so it checkpoints with the agent."""

    def __init__(self, hp: ExplorationHparams, n_states: int, n_actions: int) -> None:
        self.hp = hp
        self.epsilon = hp.epsilon
        self.counts = np.zeros((n_states, n_actions), dtype=np.int64)
        self.t = 0

    def probabilities(self, q_row: np.ndarray) -> np.ndarray:
        """The behaviour policy's action distribution in a state (used by Expected SARSA)."""
        n = len(q_row)
        if self.hp.exploration == "boltzmann":
            z = (q_row - q_row.max()) / self.hp.temperature
            p = np.exp(z)
            return p / p.sum()
        greedy = np.flatnonzero(q_row == q_row.max())
        p = np.full(n, self.epsilon / n if self.hp.exploration == "epsilon_greedy" else 0.0)
        p[greedy] += (1.0 - p.sum()) / len(greedy)
        return p

    def select(self, q_row: np.ndarray, state: int, rng: np.random.Generator) -> int:
        hp = self.hp
        self.t += 1
        if hp.exploration == "epsilon_greedy":
            if rng.random() < self.epsilon:
                action = int(rng.integers(len(q_row)))
            else:
                action = argmax_random_tie(q_row, rng)
        elif hp.exploration == "boltzmann":
            action = int(rng.choice(len(q_row), p=self.probabilities(q_row)))
        elif hp.exploration == "ucb":
            n = self.counts[state]
            if (n == 0).any():
                action = int(rng.choice(np.flatnonzero(n == 0)))
            else:
                action = argmax_random_tie(q_row + hp.ucb_c * np.sqrt(np.log(self.t) / n), rng)
        else:
            action = argmax_random_tie(q_row + hp.bonus_beta / np.sqrt(1.0 + self.counts[state]), rng)
        self.counts[state, action] += 1
        return action

    def end_episode(self) -> None:
        self.epsilon = max(self.hp.epsilon_min, self.epsilon * self.hp.epsilon_decay)

    def get_state(self) -> dict:
        return {"epsilon": self.epsilon, "counts": self.counts, "t": self.t}

    def set_state(self, state: dict) -> None:
        self.epsilon, self.counts, self.t = state["epsilon"], state["counts"], state["t"]
