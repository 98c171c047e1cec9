"""Building environments by id, with trainfleet's own envs (and Atari, if installed) registered."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from trainfleet import registry


def make_env(env_id: str, kwargs: dict[str, Any] | None = None, **extra: Any) -> gym.Env:
    """gymnasium.make with our registrations in place (works inside fresh Ray workers too)."""
    registry.register_envs()
    if env_id.startswith("ALE/"):
        import ale_py

        gym.register_envs(ale_py)
    return gym.make(env_id, **{**(kwargs or {}), **extra})
