"""Classical controllers of `trainfleet/DataCentreCooling-v0`: the baselines any learned cooling agent must beat.

They learn nothing; an iteration runs whole episodes and reports the facility's numbers beside the
return (cooling kWh, inlet degree-minutes over 27 C, PUE), so a report compares them with agents.
- `fixed_setpoints`: the conservative plant a cautious operator runs all year.
- `rule_based`: supply air by outdoor temperature (a cheap chiller in cold weather buys cold air;
  in hot weather warmer air and more fan cost less), fan speed by IT load, chilled water as warm
  as the coil allows.
- `pid`: fan speed by a PID on the hottest inlet toward a setpoint (clamped integral against windup).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np
from pydantic import Field

from trainfleet import results
from trainfleet.errors import SpecError
from trainfleet.rl.core.algorithm import Algorithm, Hparams, RunContext
from trainfleet.rl.core.episodes import EpisodeTracker
from trainfleet.rl.core.wrappers import env_state, set_env_state, single_env
from trainfleet.rl.envs.data_centre import COIL_APPROACH_K, FAN_SPEED, STEP_MIN, to_action

ENV_ID = "trainfleet/DataCentreCooling-v0"


class ControllerHparams(Hparams):
    episodes_per_iteration: int = Field(1, ge=1, description="whole episodes per iteration")
    episode_window: int = Field(100, ge=1, description="finished episodes in episode_return_mean")


class CoolingController(Algorithm):
    """Runs a controller's `setpoints` on one env, episode by episode."""

    Hparams = ControllerHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.env = single_env(ctx.env_id, ctx.env_kwargs)
        self.obs, _ = self.env.reset(seed=ctx.seed)
        self.tracker = EpisodeTracker(1, self.hp.episode_window)
        self.env_steps = 0

    @classmethod
    def check_env(cls, env_id: str, env_kwargs: dict[str, Any]) -> None:
        if env_id != ENV_ID:
            raise SpecError(f"the cooling controllers drive {ENV_ID}'s setpoints, not {env_id}", path="env.id")

    @classmethod
    def job_problem(cls, env_id: str, num_envs: int, hparams: Any) -> tuple[str, str] | None:
        return ("env.num_envs", "a cooling controller runs one env; set env.num_envs: 1") if num_envs != 1 else None

    @abstractmethod
    def setpoints(self, obs: np.ndarray) -> tuple[float, float, float]:
        """(supply air C, chilled water C, fan speed) for this observation."""

    def reset_controller(self) -> None:
        """Forget per-episode memory (the PID's integral)."""

    def train_iteration(self) -> dict[str, float]:
        cooling_kwh = it_kwh = violation = 0.0
        for _ in range(self.hp.episodes_per_iteration):
            done = False
            while not done:
                self.obs, reward, terminated, truncated, info = self.env.step(self.act(self.obs))
                done = bool(terminated or truncated)
                self.tracker.step(np.array([reward]), np.ones(1, bool), np.array([done]))
                cooling_kwh, it_kwh = cooling_kwh + info["cooling_kwh"], it_kwh + info["it_kwh"]
                violation += info["constraint_cost"]
                self.env_steps += 1
            self.obs, _ = self.env.reset()
            self.reset_controller()
        episodes = self.hp.episodes_per_iteration
        return {results.ENV_STEPS: self.env_steps, **self.tracker.report(), "cooling_kwh": float(cooling_kwh / episodes),
                "violation_degree_minutes": float(violation / episodes), "pue": float((it_kwh + cooling_kwh) / it_kwh)}

    def act(self, obs: Any) -> Any:
        return to_action(*self.setpoints(np.asarray(obs, dtype=float)))

    def controller_state(self) -> dict[str, Any]:
        return {}

    def set_controller_state(self, state: dict[str, Any]) -> None:
        """Inverse of `controller_state`."""

    def get_state(self) -> dict[str, Any]:
        return {"env": env_state(self.env), "obs": self.obs.copy(), "tracker": self.tracker.get_state(),
                "env_steps": self.env_steps, "controller": self.controller_state()}

    def set_state(self, state: dict[str, Any]) -> None:
        set_env_state(self.env, state["env"])
        self.obs, self.env_steps = state["obs"].copy(), state["env_steps"]
        self.tracker.set_state(state["tracker"])
        self.set_controller_state(state["controller"])

    def load_policy(self, state: dict[str, Any]) -> None:
        """Nothing learned: a fresh controller acts."""
        self.reset_controller()

    def close(self) -> None:
        self.env.close()


class FixedHparams(ControllerHparams):
    supply_air_c: float = Field(18.0, ge=18.0, le=27.0, description="supply-air setpoint (C)")
    chilled_water_c: float = Field(7.0, ge=6.0, le=18.0, description="chilled-water setpoint (C)")
    fan_speed: float = Field(0.8, ge=FAN_SPEED[0], le=FAN_SPEED[1], description="fan speed (fraction of rated)")


class FixedSetpoints(CoolingController):
    Hparams = FixedHparams

    def setpoints(self, obs: np.ndarray) -> tuple[float, float, float]:
        return self.hp.supply_air_c, self.hp.chilled_water_c, self.hp.fan_speed


class RuleHparams(ControllerHparams):
    target_inlet_c: float = Field(25.0, le=27.0, description="inlet the fan rule aims the hottest zone at (C)")
    design_it_kw: float = Field(1000.0, gt=0, description="the hall's design IT load (kW)")
    fan_gain_k: float = Field(6.5, gt=0, description="inlet rise (K) of the hottest zone at design load, full fan, "
                                                     "with margin: fan = gain * load fraction / (target - supply)")
    cool_outdoor_c: float = Field(5.0, description="at or below this outdoor temperature, supply air is coolest")
    hot_outdoor_c: float = Field(25.0, description="at or above this outdoor temperature, supply air is warmest")
    supply_cool_c: float = Field(18.0, ge=18.0, le=27.0, description="supply air in cold weather (C)")
    supply_hot_c: float = Field(21.0, ge=18.0, le=27.0, description="supply air in hot weather (C)")


def rule_setpoints(obs: np.ndarray, hp: RuleHparams) -> tuple[float, float, float]:
    """The rule controller's (supply air C, chilled water C, fan speed): also the safety shield's fallback."""
    supply = float(np.interp(obs[-3], [hp.cool_outdoor_c, hp.hot_outdoor_c], [hp.supply_cool_c, hp.supply_hot_c]))
    supply = min(supply, hp.target_inlet_c - 1.0)
    fan = hp.fan_gain_k * (obs[-5] / hp.design_it_kw) / (hp.target_inlet_c - supply)
    return supply, supply - COIL_APPROACH_K, float(np.clip(fan, *FAN_SPEED))


class RuleBased(CoolingController):
    Hparams = RuleHparams

    def setpoints(self, obs: np.ndarray) -> tuple[float, float, float]:
        return rule_setpoints(obs, self.hp)


class PIDHparams(ControllerHparams):
    setpoint_c: float = Field(25.0, le=27.0, description="hottest-inlet setpoint (C)")
    supply_air_c: float = Field(20.0, ge=18.0, le=27.0, description="supply air (C); chilled water as warm as it allows")
    kp: float = Field(0.08, ge=0, description="fan fraction per K of error")
    ki: float = Field(0.004, ge=0, description="fan fraction per K·minute of accumulated error")
    kd: float = Field(0.0, ge=0, description="fan fraction per K/minute of error change")
    fan_bias: float = Field(0.5, ge=FAN_SPEED[0], le=FAN_SPEED[1], description="fan speed at zero error")


class PID(CoolingController):
    Hparams = PIDHparams

    def __init__(self, ctx: RunContext) -> None:
        self.integral, self.last_error = 0.0, float("nan")
        super().__init__(ctx)

    def reset_controller(self) -> None:
        self.integral, self.last_error = 0.0, float("nan")

    def setpoints(self, obs: np.ndarray) -> tuple[float, float, float]:
        hp = self.hp
        error = float(obs[:-5].max()) - hp.setpoint_c
        derivative = 0.0 if np.isnan(self.last_error) else (error - self.last_error) / STEP_MIN
        self.last_error = error
        integral = self.integral + error * STEP_MIN
        fan = hp.fan_bias + hp.kp * error + hp.ki * integral + hp.kd * derivative
        if FAN_SPEED[0] <= fan <= FAN_SPEED[1]:  # integrate only while the fan is not saturated
            self.integral = integral
        else:
            fan = hp.fan_bias + hp.kp * error + hp.ki * self.integral + hp.kd * derivative
        return hp.supply_air_c, hp.supply_air_c - COIL_APPROACH_K, float(np.clip(fan, *FAN_SPEED))

    def controller_state(self) -> dict[str, Any]:
        return {"integral": self.integral, "last_error": self.last_error}

    def set_controller_state(self, state: dict[str, Any]) -> None:
        self.integral, self.last_error = state["integral"], state["last_error"]

