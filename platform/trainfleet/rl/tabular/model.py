"""A known MDP as matrices, so planning is linear algebra instead of per-state loops.

For S states and A actions the model is
  P  (A*S x S, scipy.sparse CSR)  P[a*S + s, s'] = Pr(s' | s, a), counting only transitions
                                   that do NOT end the episode (a terminal s' has value 0,
                                   so its probability never multiplies V)
  R  (S x A)                       expected immediate reward E[r | s, a]
and the Bellman backup is one sparse mat-vec:  Q = R + gamma * (P @ V).reshape(A, S).T.
Rows are action-major so that Q is A contiguous vectors: max over actions is then A-1
elementwise maxima, several times faster than numpy's reduction over a short last axis.

`from_env` reads any env that exposes FrozenLake's `P[s][a] = [(prob, s', r, terminated)]`
(FrozenLake, CliffWalking, Taxi, our grid worlds) or, faster, our grid worlds' `model` arrays.
Policies are (S x A) matrices of action probabilities; a deterministic one is one-hot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from trainfleet.errors import SpecError
from trainfleet.rl.envs.grid import Outcomes


@dataclass
class TabularModel:
    n_states: int
    n_actions: int
    P: sp.csr_matrix  # (A*S, S), action-major, continuing transitions only
    R: np.ndarray  # (S, A), a transposed view of an (A, S) array (same layout as q_values)

    @classmethod
    def from_arrays(cls, prob: np.ndarray, next_state: np.ndarray, reward: np.ndarray, terminated: np.ndarray) -> TabularModel:
        """From (S, A, K) outcome arrays: K possible outcomes per (state, action)."""
        n_states, n_actions, n_out = prob.shape
        s, a = np.divmod(np.arange(n_states * n_actions), n_actions)
        rows = np.repeat(a * n_states + s, n_out)
        keep = (~terminated.ravel()) & (prob.ravel() > 0)
        P = sp.csr_matrix(
            (prob.ravel()[keep], (rows[keep], next_state.ravel()[keep])), shape=(n_states * n_actions, n_states)
        )
        P.sum_duplicates()
        R = np.ascontiguousarray((prob * reward).sum(axis=2).T).T
        return cls(n_states, n_actions, P, R)

    @classmethod
    def from_transitions(cls, P: dict, n_states: int, n_actions: int) -> TabularModel:
        """From a FrozenLake-style dict P[s][a] = [(prob, next_state, reward, terminated), ...]."""
        rows, cols, probs = [], [], []
        R = np.zeros((n_actions, n_states)).T
        for s in range(n_states):
            for a in range(n_actions):
                for prob, nxt, reward, terminated in P[s][a]:
                    R[s, a] += prob * reward
                    if not terminated and prob > 0:
                        rows.append(a * n_states + s)
                        cols.append(int(nxt))
                        probs.append(prob)
        matrix = sp.csr_matrix((probs, (rows, cols)), shape=(n_states * n_actions, n_states))
        matrix.sum_duplicates()
        return cls(n_states, n_actions, matrix, R)

    @classmethod
    def from_env(cls, env: Any, env_id: str = "env") -> TabularModel:
        u = env.unwrapped
        n_states, n_actions = int(env.observation_space.n), int(env.action_space.n)
        m = getattr(u, "model", None)
        if isinstance(m, Outcomes):
            return cls.from_arrays(m.prob, m.next_state, m.reward, m.terminated)
        if hasattr(u, "P"):
            return cls.from_transitions(u.P, n_states, n_actions)
        raise SpecError(
            f"{env_id} exposes no transition model (env.unwrapped.P); planning needs a known model "
            "(FrozenLake, CliffWalking, Taxi, trainfleet/MazeRobot-v0, trainfleet/SlipperyGrid-v0)",
            path="env.id",
        )

    def q_values(self, v: np.ndarray, gamma: float) -> np.ndarray:
        """Q(s,a) = R(s,a) + gamma * sum_s' P(s'|s,a) V(s')  (one sparse mat-vec)."""
        return self.R + gamma * (self.P @ v).reshape(self.n_actions, self.n_states).T

    def policy_matrices(self, pi: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
        """(P_pi, R_pi): the Markov reward process a policy induces (S x S and S)."""
        s, a = np.divmod(np.arange(self.n_states * self.n_actions), self.n_actions)
        weights = sp.csr_matrix((pi.ravel(), (s, a * self.n_states + s)), shape=(self.n_states, self.n_states * self.n_actions))
        return (weights @ self.P).tocsr(), (pi * self.R).sum(axis=1)


def one_hot(actions: np.ndarray, n_actions: int) -> np.ndarray:
    """Deterministic policy (an action per state) -> (S x A) probability matrix."""
    pi = np.zeros((len(actions), n_actions))
    pi[np.arange(len(actions)), actions] = 1.0
    return pi


def uniform_policy(n_states: int, n_actions: int) -> np.ndarray:
    return np.full((n_states, n_actions), 1.0 / n_actions)


def solve_mrp(P_pi: sp.spmatrix, R_pi: np.ndarray, gamma: float) -> np.ndarray:
    """The Markov reward process closed form v = (I - gamma P)^-1 R (a sparse direct solve)."""
    n = P_pi.shape[0]
    return spla.spsolve((sp.identity(n, format="csc") - gamma * P_pi).tocsc(), R_pi)


def evaluate_exact(model: TabularModel, pi: np.ndarray, gamma: float) -> np.ndarray:
    """v_pi by the direct solve of the Bellman expectation equation."""
    P_pi, R_pi = model.policy_matrices(pi)
    return solve_mrp(P_pi, R_pi, gamma)


def greedy(q: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """The greedy deterministic policy (lowest index among near-ties, so it is stable)."""
    return np.argmax(q >= q.max(axis=1, keepdims=True) - tol, axis=1)
