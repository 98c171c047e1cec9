"""gymnasium registrations of trainfleet's own environments: the notes' grid worlds, the
meta-RL task families (`rl/envs/tasks.py` describes their shared task interface) and the
data-centre cooling case study.

Importing this module registers the ids (idempotent); `registry.register_envs()` does it.
"""

import gymnasium as gym

_M = "trainfleet.rl.envs"
# id -> (entry point, max_episode_steps or None when the env ends its own episodes, vector entry point)
_ENVS = {
    "trainfleet/MazeRobot-v0": (f"{_M}.maze_robot:MazeRobotEnv", 200, None),
    "trainfleet/SlipperyGrid-v0": (f"{_M}.slippery_grid:SlipperyGridEnv", 200, None),
    "trainfleet/Navigation2D-v0": (f"{_M}.navigation:Navigation2DEnv", None, f"{_M}.navigation:Navigation2DVectorEnv"),
    "trainfleet/BernoulliBandit-v0": (f"{_M}.bandit:BernoulliBanditEnv", None, f"{_M}.bandit:BernoulliBanditVectorEnv"),
    "trainfleet/PendulumTask-v0": (f"{_M}.varied_dynamics:PendulumTaskEnv", 200, None),
    "trainfleet/CartPoleTask-v0": (f"{_M}.varied_dynamics:CartPoleTaskEnv", 500, None),
    "trainfleet/DataCentreCooling-v0": ("trainfleet.rl.cooling_shield:make_cooling_env", None, None),
}

for _id, (_entry, _max_steps, _vector) in _ENVS.items():
    if _id not in gym.envs.registry:
        gym.register(id=_id, entry_point=_entry, max_episode_steps=_max_steps, vector_entry_point=_vector)
