"""The notes' maze robot (Unit 1 worked example, course notes L1019-1030).

The robot's state is its cell; it moves left/down/right/up. Reaching the goal gives +1 and
ends the episode; bumping into a wall (or the border) gives -1 and leaves it in place; any
other move gives 0. With a discount below 1 the best policy is the shortest path, which is
what the notes say the robot should learn. Moves are deterministic.

kwargs: `layout` (list of strings: S start, G goal, . free, # wall) or `size` for a
generated size x size maze with a `density` share of wall cells (seeded by `layout_seed`).
"""

from __future__ import annotations

import numpy as np

from trainfleet.rl.envs.grid import GridModelEnv, Outcomes, generate_layout, moved, parse_layout

WALL = "#"
DEFAULT_LAYOUT = [
    "S..#....",
    ".#.#.##.",
    ".#...#..",
    ".####.#.",
    "......#G",
]
GOAL_REWARD, BUMP_REWARD = 1.0, -1.0


def maze_model(grid: np.ndarray) -> Outcomes:
    n_states = grid.size
    next_state, bumped = moved(grid, np.arange(4)[None, :].repeat(n_states, 0), WALL)
    at_goal = grid.ravel()[next_state] == "G"
    reward = np.where(at_goal, GOAL_REWARD, np.where(bumped, BUMP_REWARD, 0.0))
    terminated = at_goal.copy()
    absorbing = grid.ravel() == "G"  # the goal itself: stays, ends, pays nothing
    next_state[absorbing] = np.flatnonzero(absorbing)[0]
    reward[absorbing], terminated[absorbing] = 0.0, True
    return Outcomes(np.ones((n_states, 4, 1)), next_state[..., None], reward[..., None], terminated[..., None])


class MazeRobotEnv(GridModelEnv):
    def __init__(
        self,
        layout: list[str] | None = None,
        size: int | None = None,
        density: float = 0.2,
        layout_seed: int = 0,
        render_mode: str | None = None,
    ) -> None:
        if size is not None:
            grid = generate_layout(size, density, layout_seed, WALL)
        else:
            grid = parse_layout(layout or DEFAULT_LAYOUT, WALL)
        super().__init__(grid, maze_model(grid), render_mode)
