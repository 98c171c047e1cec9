"""Greedy-policy evaluation on a fresh environment (what `trainfleet eval` runs for RL)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from trainfleet.errors import UserError
from trainfleet.rl.core.wrappers import single_env

# A GIF of a policy that never ends its episode (CliffWalking has no time limit) stops here:
# 100,000 rendered frames would take tens of GB.
MAX_GIF_FRAMES = 1000


def evaluate_policy(
    env_id: str,
    env_kwargs: dict[str, Any],
    act: Callable[[Any], Any],
    episodes: int,
    seed: int = 10_000,
    max_steps: int = 100_000,
    record_frames: bool = False,
) -> tuple[list[float], list[np.ndarray]]:
    """Returns per-episode returns (and up to MAX_GIF_FRAMES of the first episode's frames when asked)."""
    if record_frames:
        _check_draws_frames(env_id, env_kwargs)
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")  # pygame renders off-screen; no sound card wanted
    # the same preprocessing as in training (Atari frames, stacking), so the policy sees what it learned on
    env: gym.Env = single_env(env_id, env_kwargs, render_mode="rgb_array" if record_frames else None)
    returns, frames = [], []
    try:
        for ep in range(episodes):
            obs, _ = env.reset(seed=seed + ep)
            total, steps, done = 0.0, 0, False
            while not done and steps < max_steps:
                if record_frames and ep == 0 and len(frames) < MAX_GIF_FRAMES:
                    frames.append(env.render())
                obs, reward, terminated, truncated, _ = env.step(act(obs))
                total += float(reward)
                steps += 1
                done = terminated or truncated
            returns.append(total)
    finally:
        env.close()
    return returns, frames


def _check_draws_frames(env_id: str, env_kwargs: dict[str, Any]) -> None:
    """A GIF needs `rgb_array` frames; an env that draws none is a one-line error, not a traceback."""
    env = single_env(env_id, env_kwargs)
    modes = env.metadata.get("render_modes") or []
    env.close()
    if "rgb_array" not in modes:
        raise UserError(f"--gif: {env_id} draws no frames (its render modes: {', '.join(modes) or 'none'}); "
                        "leave out --gif, or see `trainfleet report` for its plots")
