"""Action selection for tabular control, chosen by `hparams.exploration` (notes L1488-1534).

- epsilon_greedy: a random action with probability epsilon, else the greedy one; epsilon is
  multiplied by `epsilon_decay` after every episode down to `epsilon_min` (constant when
  epsilon_decay = 1, "decaying epsilon" below 1)
- boltzmann:      sample from softmax(Q(s, .) / temperature)
- ucb:            argmax_a Q(s,a) + c * sqrt(ln N(s) / N(s,a)), untried actions first
- count_bonus:    argmax_a Q(s,a) + beta / sqrt(1 + N(s,a)), a bonus that fades with visits
- greedy:         argmax_a Q(s,a); explores only through optimistic initial values
- random:         uniform over actions (pure exploration)
Optimistic initial values are `q_init` above any achievable return, with any strategy
(classically with `greedy`). The notes give no formulas for Boltzmann or UCB; these are the
standard forms. Ties between greedy actions are broken at random.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from trainfleet.rl.core.algorithm import Hparams

Strategy = Literal["epsilon_greedy", "boltzmann", "ucb", "count_bonus", "greedy", "random"]


class ExplorationHparams(Hparams):
    exploration: Strategy = Field("epsilon_greedy", description="action-selection strategy (see exploration.py)")
    epsilon: float = Field(0.1, ge=0, le=1, description="epsilon_greedy: initial exploration rate")
    epsilon_decay: float = Field(1.0, gt=0, le=1, description="epsilon_greedy: multiplied into epsilon after each episode")
    epsilon_min: float = Field(0.0, ge=0, le=1, description="epsilon_greedy: floor of the decayed epsilon")
    temperature: float = Field(1.0, gt=0, description="boltzmann: softmax temperature")
    ucb_c: float = Field(1.0, ge=0, description="ucb: confidence width c")
    bonus_beta: float = Field(1.0, ge=0, description="count_bonus: bonus scale beta")
    q_init: float = Field(0.0, description="initial Q values; above the best return is optimistic initialisation")


def argmax_random_tie(values: np.ndarray, rng: np.random.Generator) -> int:
    """argmax that breaks ties at random (plain argmax biases early learning toward action 0)."""
    best = np.flatnonzero(values == values.max())
    return int(best[0] if len(best) == 1 else rng.choice(best))


class Explorer:
    """The exploration state (epsilon, visit counts N(s,a)) kept apart so it checkpoints with the agent."""

    def __init__(self, hp: ExplorationHparams, n_states: int, n_actions: int) -> None:
        self.hp = hp
        self.epsilon = hp.epsilon
        self.counts = np.zeros((n_states, n_actions), dtype=np.int64)

    def probabilities(self, q_row: np.ndarray) -> np.ndarray:
        """pi(.|s) of the stochastic strategies (Expected SARSA's expectation).

        The bonus strategies (ucb, count_bonus) act greedily on a bonus that Q does not
        contain, so their target policy here is greedy on Q.
        """
        n = len(q_row)
        if self.hp.exploration == "random":
            return np.full(n, 1.0 / n)
        if self.hp.exploration == "boltzmann":
            p = np.exp((q_row - q_row.max()) / self.hp.temperature)
            return p / p.sum()
        greedy = np.flatnonzero(q_row == q_row.max())
        eps = self.epsilon if self.hp.exploration == "epsilon_greedy" else 0.0
        p = np.full(n, eps / n)
        p[greedy] += (1.0 - eps) / len(greedy)
        return p

    def select(self, q_row: np.ndarray, state: int, rng: np.random.Generator) -> int:
        hp, n_a = self.hp, len(q_row)
        if hp.exploration == "epsilon_greedy":
            explore = rng.random() < self.epsilon
            action = int(rng.integers(n_a)) if explore else argmax_random_tie(q_row, rng)
        elif hp.exploration == "boltzmann":
            action = int(rng.choice(n_a, p=self.probabilities(q_row)))
        elif hp.exploration == "ucb":
            n = self.counts[state]
            untried = np.flatnonzero(n == 0)
            if len(untried):
                action = int(rng.choice(untried))
            else:
                action = argmax_random_tie(q_row + hp.ucb_c * np.sqrt(np.log(n.sum()) / n), rng)
        elif hp.exploration == "count_bonus":
            action = argmax_random_tie(q_row + hp.bonus_beta / np.sqrt(1.0 + self.counts[state]), rng)
        elif hp.exploration == "greedy":
            action = argmax_random_tie(q_row, rng)
        else:
            action = int(rng.integers(n_a))
        self.counts[state, action] += 1
        return action

    def end_episode(self) -> None:
        self.epsilon = max(self.hp.epsilon_min, self.epsilon * self.hp.epsilon_decay)

    def get_state(self) -> dict[str, Any]:
        return {"epsilon": self.epsilon, "counts": self.counts}

    def set_state(self, state: dict[str, Any]) -> None:
        self.epsilon, self.counts = state["epsilon"], state["counts"]
