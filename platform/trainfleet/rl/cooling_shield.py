"""A safety shield for the cooling plant: the notes' "safety barriers" and "hybrid control" (L3150-3299).

Whatever agent proposes the setpoints, the shield
1. projects them onto a safe envelope: supply air no warmer than `max_supply_c`, fans no slower
   than `min_fan` (the operator's hard limits);
2. asks a one-step model of the plant what the projected setpoints would do, and when it predicts a
   zone inlet above the limit minus `margin_k`, hands control to the rule-based controller for that
   step (and to full cooling if even the rule's setpoints are predicted to violate).
The model here is the simulator's own equations (`DataCentreCoolingEnv.predict`), so in simulation the
shield is exact up to the margin; on a real plant it would be a fitted model, and the margin would
have to cover its error. Enable it for any agent with `env.kwargs.shield: true` (or a dict of these
options); `info["shielded"]` is 1 on the steps it overrode the agent.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from trainfleet.rl.cooling_baselines import RuleHparams, rule_setpoints
from trainfleet.rl.envs.data_centre import (
    COIL_APPROACH_K,
    FAN_SPEED,
    INLET_LIMIT_C,
    SUPPLY_AIR_C,
    DataCentreCoolingEnv,
    to_action,
    to_setpoints,
)

FULL_COOLING = to_action(SUPPLY_AIR_C[0], SUPPLY_AIR_C[0] - COIL_APPROACH_K, FAN_SPEED[1])


@dataclass(frozen=True)
class ShieldConfig:
    margin_k: float = 0.5  # act when the model predicts an inlet above limit - margin
    max_supply_c: float = 24.0
    min_fan: float = 0.3

    def __post_init__(self) -> None:
        if not (self.margin_k >= 0 and SUPPLY_AIR_C[0] <= self.max_supply_c <= SUPPLY_AIR_C[1]
                and FAN_SPEED[0] <= self.min_fan <= FAN_SPEED[1]):
            raise ValueError(f"shield needs margin_k >= 0, max_supply_c in {list(SUPPLY_AIR_C)} and min_fan in "
                             f"{list(FAN_SPEED)}, got {self}")


class SafetyShield(gym.Wrapper):
    """Filters every action of the wrapped cooling plant (see the module docstring)."""

    def __init__(self, env: gym.Env, config: ShieldConfig | None = None) -> None:
        super().__init__(env)
        self.config = config or ShieldConfig()
        self.rule = RuleHparams()
        self.obs: np.ndarray = np.zeros(env.observation_space.shape or (), np.float32)

    @property
    def plant(self) -> DataCentreCoolingEnv:
        plant = self.env.unwrapped
        assert isinstance(plant, DataCentreCoolingEnv)
        return plant

    def project(self, action: np.ndarray) -> np.ndarray:
        """The nearest action inside the envelope (setpoints clipped to the operator's limits)."""
        supply, chw, fan = to_setpoints(np.asarray(action, dtype=float))
        return to_action(min(supply, self.config.max_supply_c), chw, max(fan, self.config.min_fan))

    def safe(self, action: np.ndarray) -> bool:
        return float(self.plant.predict(action).inlet.max()) <= INLET_LIMIT_C - self.config.margin_k

    def filter(self, action: np.ndarray) -> tuple[np.ndarray, bool]:
        """(the action to apply, whether the shield overrode the agent's proposal)."""
        projected = self.project(action)
        if self.safe(projected):
            return projected, False
        rule = to_action(*rule_setpoints(self.obs.astype(float), self.rule))
        return (rule if self.safe(rule) else FULL_COOLING), True

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict]:
        obs, info = self.env.reset(**kwargs)
        self.obs = np.asarray(obs)
        return self.obs, info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        applied, overridden = self.filter(action)
        obs, reward, terminated, truncated, info = self.env.step(applied)
        self.obs = np.asarray(obs)
        return self.obs, float(reward), terminated, truncated, {**info, "shielded": float(overridden)}


def make_cooling_env(shield: bool | dict[str, float] = False, **kwargs: Any) -> gym.Env:
    """The env id's entry point: the plant, behind a shield when `shield` is true or its options."""
    env = DataCentreCoolingEnv(**kwargs)
    if shield is False:
        return env
    if shield is True:
        return SafetyShield(env)
    if isinstance(shield, dict):
        try:
            return SafetyShield(env, ShieldConfig(**shield))
        except TypeError as err:
            raise ValueError(f"shield options are {list(ShieldConfig.__dataclass_fields__)}: {err}") from None
    raise ValueError(f"shield must be true, false or a dict of {list(ShieldConfig.__dataclass_fields__)}, got {shield!r}")


# The plant's keywords and `shield`, as the signature the job validator reads to name an unknown env.kwargs key
make_cooling_env.__signature__ = inspect.signature(DataCentreCoolingEnv).replace(  # type: ignore[attr-defined]
    parameters=[*inspect.signature(DataCentreCoolingEnv).parameters.values(),
                inspect.Parameter("shield", inspect.Parameter.KEYWORD_ONLY, default=False)])
