"""Exploration noise for deterministic continuous-action policies (DDPG, TD3).

Both processes produce one noise vector per env, in units of the action's half-range
(the caller scales and clips), so one `sigma` means the same on every env.

- Gaussian: independent N(0, σ²) each step; what TD3 (Fujimoto et al. 2018) uses and
  found as good as OU.
- Ornstein–Uhlenbeck: x <- x + θ(μ - x)dt + σ√dt·N(0, 1), temporally correlated noise
  that the DDPG paper (Lillicrap et al. 2016) used for inertial control tasks; it is reset
  to μ at the start of each episode.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field


class NoiseHparams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["gaussian", "ou"] = Field("gaussian", description="gaussian or ou (Ornstein-Uhlenbeck)")
    sigma: float = Field(0.1, ge=0, description="scale, as a fraction of the action half-range")
    theta: float = Field(0.15, ge=0, description="OU: pull towards the mean per unit time")
    dt: float = Field(1.0, gt=0, description="OU: time step of the discretised process (1 = one env step, as in the DDPG paper)")


class GaussianNoise:
    def __init__(self, sigma: float, shape: tuple[int, ...], rng: np.random.Generator) -> None:
        self.sigma, self.shape, self.rng = sigma, shape, rng

    def sample(self) -> np.ndarray:
        return self.rng.normal(0.0, self.sigma, self.shape).astype(np.float32)

    def reset(self, envs: np.ndarray) -> None:
        """Stateless: nothing to reset at episode ends."""

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        pass


class OrnsteinUhlenbeckNoise:
    def __init__(self, sigma: float, theta: float, dt: float, shape: tuple[int, ...],
                 rng: np.random.Generator, mu: float = 0.0) -> None:
        self.sigma, self.theta, self.dt, self.mu, self.rng = sigma, theta, dt, mu, rng
        self.x = np.full(shape, mu, dtype=np.float64)

    def sample(self) -> np.ndarray:
        self.x += self.theta * (self.mu - self.x) * self.dt + self.sigma * np.sqrt(self.dt) * self.rng.normal(
            size=self.x.shape
        )
        return self.x.astype(np.float32)

    def reset(self, envs: np.ndarray) -> None:
        """Restart the process at mu for the envs (boolean mask) whose episode ended."""
        self.x[envs] = self.mu

    def get_state(self) -> dict[str, Any]:
        return {"x": self.x.copy()}

    def set_state(self, state: dict[str, Any]) -> None:
        self.x = state["x"].copy()


def make_noise(hp: NoiseHparams, shape: tuple[int, ...], rng: np.random.Generator) -> GaussianNoise | OrnsteinUhlenbeckNoise:
    if hp.kind == "ou":
        return OrnsteinUhlenbeckNoise(hp.sigma, hp.theta, hp.dt, shape, rng)
    return GaussianNoise(hp.sigma, shape, rng)
