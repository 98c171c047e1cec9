"""Grid worlds with a known transition model: the shared base of the notes' maze and slippery grid.

A layout is a list of strings, one character per cell: 'S' start, 'G' goal, '.' free, and
one "blocked" character that each env gives its own meaning ('#' wall, 'O' obstacle). Every
cell is a state (index row * cols + col), as in FrozenLake, so blocked cells simply stay
unreachable. Actions follow FrozenLake's order: 0 left, 1 down, 2 right, 3 up.

The model is built with array operations as `Outcomes`: for each (state, action) K possible
outcomes with probability, next state, reward and termination. That lets a 10^6-cell grid
build in a second and lets dynamic programming vectorise over it; `P` gives the
FrozenLake-style view `P[s][a] = [(prob, next_state, reward, terminated), ...]` on demand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from scipy import ndimage

LEFT, DOWN, RIGHT, UP = 0, 1, 2, 3
DELTAS = np.array([(0, -1), (1, 0), (0, 1), (-1, 0)])  # (d_row, d_col) per action


@dataclass
class Outcomes:
    """The model as (S, A, K) arrays: outcome k of taking action a in state s."""

    prob: np.ndarray
    next_state: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray


def parse_layout(layout: list[str], blocked: str) -> np.ndarray:
    """Layout strings -> (rows, cols) char array, checked for shape and one S and one G."""
    if not layout or len({len(row) for row in layout}) != 1:
        raise ValueError("layout must be a non-empty list of equal-length strings")
    grid = np.array([list(row) for row in layout])
    unknown = set(np.unique(grid)) - {"S", "G", ".", blocked}
    if unknown:
        raise ValueError(f"layout has unknown cell characters {sorted(unknown)}; use S G . {blocked}")
    if (grid == "S").sum() != 1 or (grid == "G").sum() != 1:
        raise ValueError("layout needs exactly one 'S' and one 'G'")
    return grid


def connected(grid: np.ndarray, blocked: str) -> bool:
    """Whether S and G lie in the same 4-connected region of unblocked cells."""
    labels, _ = ndimage.label(grid != blocked)
    return labels[tuple(np.argwhere(grid == "S")[0])] == labels[tuple(np.argwhere(grid == "G")[0])]


def generate_layout(size: int, density: float, seed: int, blocked: str) -> np.ndarray:
    """A size x size grid, S top-left, G bottom-right, a `density` share of random blocked cells.

    Redraws (seed, seed+1, ...) until G is reachable from S, so any size gives a solvable grid.
    """
    for attempt in range(100):
        rng = np.random.default_rng(seed + attempt)
        grid = np.where(rng.random((size, size)) < density, blocked, ".")
        grid[0, 0], grid[-1, -1] = "S", "G"
        if connected(grid, blocked):
            return grid
    raise ValueError(f"no solvable {size}x{size} layout at density {density}; lower the density")


def moved(grid: np.ndarray, actions: np.ndarray, wall: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Next cell of every cell for each of `actions` (shape (S, K)); (next_state, bumped).

    A move off the grid or into a `wall` cell leaves the robot where it was (bumped=True).
    """
    rows, cols = grid.shape
    r, c = np.divmod(np.arange(rows * cols), cols)
    nr, nc = r[:, None] + DELTAS[actions, 0], c[:, None] + DELTAS[actions, 1]
    bumped = (nr < 0) | (nr >= rows) | (nc < 0) | (nc >= cols)
    nr, nc = np.where(bumped, r[:, None], nr), np.where(bumped, c[:, None], nc)
    if wall is not None:
        hit = grid[nr, nc] == wall
        bumped |= hit
        nr, nc = np.where(hit, r[:, None], nr), np.where(hit, c[:, None], nc)
    return nr * cols + nc, bumped


class GridModelEnv(gym.Env):
    """A discrete env stepped by sampling its own model; subclasses build `self.model`."""

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, grid: np.ndarray, model: Outcomes, render_mode: str | None = None) -> None:
        self.grid = grid
        self.model = model
        self.nrow, self.ncol = grid.shape
        n_states, n_actions, _ = model.prob.shape
        self.observation_space = gym.spaces.Discrete(n_states)
        self.action_space = gym.spaces.Discrete(n_actions)
        self.start_state = int(np.flatnonzero(grid.ravel() == "S")[0])
        self.render_mode = render_mode
        self.s = self.start_state
        self._cum_prob = np.cumsum(model.prob, axis=2)
        self._P: dict[int, dict[int, list[tuple[float, int, float, bool]]]] | None = None

    @property
    def P(self) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:
        """FrozenLake-style model view (built on first use; prefer `model` for large grids)."""
        if self._P is None:
            m = self.model
            self._P = {
                s: {
                    a: [
                        (float(m.prob[s, a, k]), int(m.next_state[s, a, k]), float(m.reward[s, a, k]), bool(m.terminated[s, a, k]))
                        for k in range(m.prob.shape[2])
                        if m.prob[s, a, k] > 0
                    ]
                    for a in range(m.prob.shape[1])
                }
                for s in range(m.prob.shape[0])
            }
        return self._P

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[int, dict]:
        super().reset(seed=seed)
        self.s = self.start_state
        return self.s, {"prob": 1.0}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict]:
        s, a = self.s, int(action)
        k = min(int(np.searchsorted(self._cum_prob[s, a], self.np_random.random(), side="right")), self.model.prob.shape[2] - 1)
        m = self.model
        self.s = int(m.next_state[s, a, k])
        return self.s, float(m.reward[s, a, k]), bool(m.terminated[s, a, k]), False, {"prob": float(m.prob[s, a, k])}

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        cells = self.grid.copy()
        cells[divmod(self.s, self.ncol)] = "R"
        return "\n".join("".join(row) for row in cells) + "\n"
