"""The notes' slippery grid MDP (Unit 1, course notes L1171-1187).

A robot on a grid moves up/down/left/right, but the floor is slippery: with probability
`slip` it slides to one of the two cells beside the intended one (half each). Rewards as in
the notes: +10 for reaching the goal, -1 per step, -100 for hitting an obstacle; goal and
obstacle end the episode. The notes solve it with discount 0.9 (`GAMMA`); they give no slip
probability, so 0.2 is our default. A move off the grid leaves the robot in place (-1).

kwargs: `layout` (list of strings: S start, G goal, . free, O obstacle) or `size` for a
generated size x size grid with a `density` share of obstacles (seeded by `layout_seed`).
"""

from __future__ import annotations

import numpy as np

from trainfleet.rl.envs.grid import GridModelEnv, Outcomes, generate_layout, moved, parse_layout

OBSTACLE = "O"
GAMMA = 0.9
DEFAULT_LAYOUT = [
    "S....",
    ".....",
    "..O..",
    ".....",
    "....G",
]
GOAL_REWARD, STEP_REWARD, OBSTACLE_REWARD = 10.0, -1.0, -100.0


def slippery_model(grid: np.ndarray, slip: float) -> Outcomes:
    n_states = grid.size
    a = np.arange(4)
    # outcome 0: the intended move; 1 and 2: the two perpendicular slides
    directions = np.stack([a, (a + 1) % 4, (a + 3) % 4], axis=1)  # (A, K)
    prob = np.broadcast_to(np.array([1.0 - slip, slip / 2, slip / 2]), (n_states, 4, 3)).copy()
    next_state, _ = moved(grid, directions.reshape(1, -1).repeat(n_states, 0), wall=None)
    next_state = next_state.reshape(n_states, 4, 3)
    cell = grid.ravel()[next_state]
    reward = np.select([cell == "G", cell == OBSTACLE], [GOAL_REWARD, OBSTACLE_REWARD], STEP_REWARD)
    terminated = (cell == "G") | (cell == OBSTACLE)
    absorbing = np.isin(grid.ravel(), ["G", OBSTACLE])  # terminal cells stay put, pay nothing
    next_state[absorbing] = np.flatnonzero(absorbing)[:, None, None]
    reward[absorbing], terminated[absorbing] = 0.0, True
    return Outcomes(prob, next_state, reward, terminated)


class SlipperyGridEnv(GridModelEnv):
    def __init__(
        self,
        layout: list[str] | None = None,
        size: int | None = None,
        density: float = 0.1,
        layout_seed: int = 0,
        slip: float = 0.2,
        render_mode: str | None = None,
    ) -> None:
        if not 0.0 <= slip <= 1.0:
            raise ValueError(f"slip must be a probability, got {slip}")
        if size is not None:
            grid = generate_layout(size, density, layout_seed, OBSTACLE)
        else:
            grid = parse_layout(layout or DEFAULT_LAYOUT, OBSTACLE)
        super().__init__(grid, slippery_model(grid, slip), render_mode)
