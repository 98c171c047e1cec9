"""gymnasium registrations of trainfleet's own environments (the notes' grid worlds).

Importing this module registers the ids (idempotent); `registry.register_envs()` does it.
"""

import gymnasium as gym

_ENVS = {
    "trainfleet/MazeRobot-v0": ("trainfleet.rl.envs.maze_robot:MazeRobotEnv", 200),
    "trainfleet/SlipperyGrid-v0": ("trainfleet.rl.envs.slippery_grid:SlipperyGridEnv", 200),
}

for _id, (_entry, _max_steps) in _ENVS.items():
    if _id not in gym.envs.registry:
        gym.register(id=_id, entry_point=_entry, max_episode_steps=_max_steps)
