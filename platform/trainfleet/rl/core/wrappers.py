"""Vector envs for the deep RL algorithms: native vectorisation, Atari preprocessing, snapshots.

Every rollout steps a gymnasium `VectorEnv` in NEXT_STEP autoreset mode (gymnasium 1.x's
default, and the only mode of the native vectorised CartPole): when sub-env i ends at step t,
the observation returned *is* the final observation, and the following step resets it,
ignores its action and returns reward 0. `rollout_buffer` turns that into a `valid` mask.

Pixel envs (`ALE/...`) get the standard DQN-paper preprocessing (Mnih et al. 2015): no-op
starts, frame skip 4 with max-pooling, 84x84 grayscale, 4 stacked frames.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from trainfleet.rl.core.envs import make_env

ATARI_FRAME_STACK = 4


def atari_env(env_id: str, kwargs: dict[str, Any] | None = None, **extra: Any) -> gym.Env:
    """One ALE env with the standard preprocessing (frame skip moved from ALE into the wrapper)."""
    env = make_env(env_id, {**(kwargs or {}), "frameskip": 1}, **extra)
    env = gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84, grayscale_obs=True)
    return gym.wrappers.FrameStackObservation(env, ATARI_FRAME_STACK)


def single_env(env_id: str, kwargs: dict[str, Any] | None = None, **extra: Any) -> gym.Env:
    """The env an agent sees, unvectorised (what `trainfleet eval` steps)."""
    if env_id.startswith("ALE/"):
        return atari_env(env_id, kwargs, **extra)
    return make_env(env_id, kwargs, **extra)


def make_vec_env(env_id: str, kwargs: dict[str, Any] | None, num_envs: int, seed: int) -> gym.vector.VectorEnv:
    """`num_envs` copies, reset with `seed`: the native vector env when the id has one, else sync.

    The native one (CartPole) steps all copies in one numpy call, ~5x faster than a loop over
    envs; sync vectorisation is used otherwise (a subprocess per env costs more than it saves
    for envs this cheap, and rollout workers already give process parallelism).
    """
    make_env(env_id, kwargs).close()  # registers our envs / ALE ids in this process
    spec = gym.spec(env_id)
    if spec.vector_entry_point is not None and not env_id.startswith("ALE/"):
        env = gym.make_vec(env_id, num_envs, vectorization_mode="vector_entry_point", **(kwargs or {}))
    else:
        env = gym.vector.SyncVectorEnv([lambda: single_env(env_id, kwargs) for _ in range(num_envs)])
    env.reset(seed=seed)
    return env


# ---- exact snapshots -------------------------------------------------------------------------
# A resumed run must step the same env states with the same RNG streams as an uninterrupted
# one. Pickling envs would make checkpoints unsafe to load, so instead every wrapper layer's
# plain-data attributes (numpy arrays, numbers, RNG states) are captured and set back.

_PLAIN = (bool, int, float, str, type(None), np.ndarray, np.generic)


def _children(env: Any) -> list[Any]:
    kids = []
    if isinstance(getattr(env, "env", None), (gym.Env, gym.vector.VectorEnv)):
        kids.append(env.env)
    kids.extend(e for e in getattr(env, "envs", []) if isinstance(e, (gym.Env, gym.vector.VectorEnv)))
    return kids


def _plain(value: Any) -> bool:
    if isinstance(value, (tuple, list)):
        return all(isinstance(v, _PLAIN) for v in value)
    return isinstance(value, _PLAIN)


def env_state(env: Any) -> dict[str, Any]:
    """Plain-data snapshot of a (vector) env and every env/wrapper under it."""
    attrs: dict[str, Any] = {}
    for name, value in vars(env).items():
        if isinstance(value, np.random.Generator):
            attrs[name] = {"rng": value.bit_generator.state}
        elif _plain(value) and not name.startswith("__"):
            attrs[name] = np.copy(value) if isinstance(value, np.ndarray) else value
    return {"attrs": attrs, "children": [env_state(c) for c in _children(env)]}


def set_env_state(env: Any, state: dict[str, Any]) -> None:
    """Inverse of `env_state` on an env built the same way."""
    for name, value in state["attrs"].items():
        if isinstance(value, dict) and "rng" in value:
            rng = np.random.Generator(getattr(np.random, value["rng"]["bit_generator"])())
            rng.bit_generator.state = value["rng"]
            setattr(env, name, rng)
        else:
            setattr(env, name, np.copy(value) if isinstance(value, np.ndarray) else value)
    for child, child_state in zip(_children(env), state["children"]):
        set_env_state(child, child_state)
