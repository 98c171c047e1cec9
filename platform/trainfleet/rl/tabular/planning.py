"""The planning math of a known tabular model: Bellman backups, evaluation and improvement.

Used by the DP algorithms (`dynamic_programming.py`) and by the learning agents (`agent.py`),
which measure themselves against the optimal policy; both import it from here, neither from
the other.
"""

from __future__ import annotations

import numpy as np

from trainfleet.rl.tabular.model import TabularModel, greedy


def value_iteration_sweep(model: TabularModel, v: np.ndarray, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """One Bellman optimality backup of every state at once: (new V, the Q it came from)."""
    q = model.q_values(v, gamma)
    return q.max(axis=1), q


def solve_optimal(model: TabularModel, gamma: float, theta: float = 1e-10, max_sweeps: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """Value iteration to convergence: (V*, a greedy optimal policy)."""
    v = np.zeros(model.n_states)
    for _ in range(max_sweeps):
        v_new, q = value_iteration_sweep(model, v, gamma)
        delta = np.abs(v_new - v).max()
        v = v_new
        if delta < theta:
            break
    return v, greedy(model.q_values(v, gamma))


def evaluate_iterative(model: TabularModel, pi: np.ndarray, gamma: float, theta: float, v0: np.ndarray | None = None, max_sweeps: int = 100_000) -> np.ndarray:
    """Iterative policy evaluation: synchronous Bellman expectation sweeps until the change < theta."""
    P_pi, R_pi = model.policy_matrices(pi)
    v = np.zeros(model.n_states) if v0 is None else v0.copy()
    for _ in range(max_sweeps):
        v_new = R_pi + gamma * (P_pi @ v)
        if np.abs(v_new - v).max() < theta:
            return v_new
        v = v_new
    return v


def improve(q: np.ndarray, old: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Greedy improvement that keeps the old action when it is still (near-)best: no tie cycling."""
    keep = q[np.arange(len(old)), old] >= q.max(axis=1) - tol
    return np.where(keep, old, greedy(q, tol))
