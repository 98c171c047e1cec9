"""Markov chains and Markov reward processes as objects (notes L1231-1373): sample them, solve them.

A chain is (S, P) with P[s, s'] = Pr(S_{t+1} = s' | S_t = s) (L1233); a state that only
returns to itself is absorbing and ends an episode. An MRP adds R[s] = E[R_{t+1} | S_t = s],
the reward received on leaving s (L1252), and gamma; its value v(s) = E[G_t | S_t = s] solves
the Bellman equation v = R + gamma P v (L1373), so v = (I - gamma P)^-1 R with the absorbing
states' rows left out (their value is 0, which also makes gamma = 1 solvable when every state
reaches absorption).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from trainfleet.rl.tabular.model import solve_mrp


@dataclass(frozen=True)
class MarkovChain:
    P: np.ndarray  # (S, S), rows sum to 1
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        P = np.asarray(self.P, dtype=float)
        if P.ndim != 2 or P.shape[0] != P.shape[1]:
            raise ValueError(f"P must be a square matrix, not of shape {P.shape}")
        if (P < 0).any() or not np.allclose(P.sum(axis=1), 1.0):
            raise ValueError("every row of P must be a probability distribution (non-negative, summing to 1)")
        if self.names and len(self.names) != len(P):
            raise ValueError(f"{len(self.names)} names for {len(P)} states")
        object.__setattr__(self, "P", P)

    @property
    def n_states(self) -> int:
        return len(self.P)

    @cached_property
    def absorbing(self) -> np.ndarray:
        return np.isclose(np.diag(self.P), 1.0)

    @cached_property
    def _cdf(self) -> np.ndarray:
        return np.cumsum(self.P, axis=1)

    def index(self, state: int | str) -> int:
        return self.names.index(state) if isinstance(state, str) else int(state)

    def sample(self, start: int | str, rng: np.random.Generator, max_steps: int = 10_000) -> list[int]:
        """A path S_0 = start, S_1, ... up to and including an absorbing state (or max_steps transitions)."""
        path, cdf, absorbing = [self.index(start)], self._cdf, self.absorbing
        while len(path) <= max_steps and not absorbing[path[-1]]:
            path.append(min(int(np.searchsorted(cdf[path[-1]], rng.random(), side="right")), self.n_states - 1))
        return path


@dataclass(frozen=True)
class MarkovRewardProcess:
    chain: MarkovChain
    R: np.ndarray  # (S,), R[s] = E[R_{t+1} | S_t = s]; 0 in absorbing states
    gamma: float

    def __post_init__(self) -> None:
        R = np.asarray(self.R, dtype=float)
        if R.shape != (self.chain.n_states,):
            raise ValueError(f"R needs one reward per state ({self.chain.n_states}), not shape {R.shape}")
        if not 0 <= self.gamma <= 1:
            raise ValueError(f"gamma must lie in [0, 1], not {self.gamma}")
        if (R[self.chain.absorbing] != 0).any():
            raise ValueError("absorbing states end the episode: their reward must be 0")
        object.__setattr__(self, "R", R)

    def _continuing(self) -> np.ndarray:
        """P with the absorbing states' rows zeroed: their value is 0, not a fixed point to solve for."""
        return np.where(self.chain.absorbing[:, None], 0.0, self.chain.P)

    def values(self) -> np.ndarray:
        """The closed form v = (I - gamma P)^-1 R."""
        return solve_mrp(sp.csr_matrix(self._continuing()), self.R, self.gamma)

    def values_iterative(self, theta: float = 1e-12, max_sweeps: int = 1_000_000) -> np.ndarray:
        """The Bellman backup v <- R + gamma P v from v = 0 until the change is below theta."""
        P, v = self._continuing(), np.zeros(self.chain.n_states)
        for _ in range(max_sweeps):
            v_new = self.R + self.gamma * P @ v
            if np.abs(v_new - v).max() < theta:
                return v_new
            v = v_new
        return v

    def sample_return(self, start: int | str, rng: np.random.Generator, max_steps: int = 10_000) -> float:
        """G_0 = R_{S_0} + gamma R_{S_1} + ... along one sampled path."""
        rewards = self.R[self.chain.sample(start, rng, max_steps)]
        return float(rewards @ self.gamma ** np.arange(len(rewards)))
