"""Data-centre cooling (the notes' real-world case study, L3150-3299): a small physical plant to control.

Each server zone is one well-mixed air volume whose inlet temperature T has thermal inertia:
    C dT/dt = Q_it - m c_p (T - T_supply),   m = fan speed * zone airflow
integrated exactly over each 5-minute step (inputs held), so the heat the air carries to the
coil over a step is Q_it dt - C dT: heat removed equals heat produced at steady state.
The coil cannot make supply air colder than the chilled water plus `COIL_APPROACH_K`. The
chiller's COP is a fraction (`chiller_efficiency`) of Carnot between the evaporator (chilled
water - 2 K) and the condenser (outdoor + 5 K): it falls as it gets hotter outside and rises
with the chilled-water setpoint. Fans draw rated power * speed^3.

IT load (diurnal, weekly, bursts) and outdoor temperature (seasonal, diurnal, weather noise)
are drawn per episode from the env's seed. `thermal_mass`, `chiller_efficiency` and
`load_scale` take a number or a [low, high] range drawn per episode: domain randomisation.
Reward: minus cooling kWh per step; `info["constraint_cost"]` is the degree-minutes of zone
inlets above the ASHRAE recommended 27 C, kept out of the reward for constrained learners.
Partial observability: `sensor_noise_c` adds Gaussian noise to the inlet readings and
`sensor_dropout` drops each inlet sensor per step (its last reading repeats); the cost and the
physics use the true temperatures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np

STEP_MIN = 5.0
STEPS_PER_DAY = 288
INLET_LIMIT_C = 27.0
CP_AIR = 1.005  # kJ/(kg K)
COIL_APPROACH_K = 3.0
EVAPORATOR_APPROACH_K = 2.0
CONDENSER_APPROACH_K = 5.0
MIN_LIFT_K = 10.0  # the Carnot COP is capped where the lift gets this small (a cold winter night)
# Action ranges, in the order of the action vector: supply air (C), chilled water (C), fan speed (fraction)
SUPPLY_AIR_C = (18.0, 27.0)
CHILLED_WATER_C = (6.0, 18.0)
FAN_SPEED = (0.2, 1.0)
_LOW = np.array([SUPPLY_AIR_C[0], CHILLED_WATER_C[0], FAN_SPEED[0]])
_HIGH = np.array([SUPPLY_AIR_C[1], CHILLED_WATER_C[1], FAN_SPEED[1]])

Range = float | Sequence[float]


class PlantStep(NamedTuple):
    """One step's outcome of a set of setpoints."""

    inlet: np.ndarray  # zone inlets (C) at the end of the step
    supply_c: float  # supply air reached (no colder than chilled water + the coil approach)
    chiller_kw: float
    fan_kw: float
    cop: float
    removed_kj: float  # heat the coil took out over the step

    @property
    def cooling_kw(self) -> float:
        return self.chiller_kw + self.fan_kw


def to_action(supply_air_c: float, chilled_water_c: float, fan_speed: float) -> np.ndarray:
    """Physical setpoints -> the env's [-1, 1] action (clipped to the plant's ranges)."""
    physical = np.clip([supply_air_c, chilled_water_c, fan_speed], _LOW, _HIGH)
    return (2.0 * (physical - _LOW) / (_HIGH - _LOW) - 1.0).astype(np.float32)


def to_setpoints(action: np.ndarray) -> np.ndarray:
    """The env's [-1, 1] action -> (supply air C, chilled water C, fan speed)."""
    return _LOW + (np.clip(action, -1.0, 1.0) + 1.0) * 0.5 * (_HIGH - _LOW)


def chiller_cop(outdoor_c: float, chilled_water_c: float, efficiency: float) -> float:
    """A fraction of the Carnot COP between evaporator and condenser."""
    evaporator_k = chilled_water_c - EVAPORATOR_APPROACH_K + 273.15
    lift = max(outdoor_c + CONDENSER_APPROACH_K + 273.15 - evaporator_k, MIN_LIFT_K)
    return efficiency * evaporator_k / lift


def _range(name: str, value: Range) -> tuple[float, float]:
    bounds = [value, value] if isinstance(value, (int, float)) else value
    numbers = isinstance(bounds, (list, tuple)) and len(bounds) == 2 and all(
        isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
    if not numbers or not 0 < bounds[0] <= bounds[1]:
        raise ValueError(f"{name} must be a positive number or a [low, high] range with 0 < low <= high, got {value!r}")
    return float(bounds[0]), float(bounds[1])


class DataCentreCoolingEnv(gym.Env):
    """Observation: zone inlets (C), IT kW, cooling kW, outdoor C, sin and cos of the time of day."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, days: int = 1, zones: int = 4, zone_it_kw: float = 250.0, zone_airflow_kg_s: float = 50.0,
                 fan_kw: float = 15.0, thermal_mass: Range = 15000.0, chiller_efficiency: Range = 0.45,
                 load_scale: Range = 1.0, start_day: int | None = None, sensor_noise_c: float = 0.0,
                 sensor_dropout: float = 0.0, render_mode: str | None = None) -> None:
        if days < 1 or zones < 1 or min(zone_it_kw, zone_airflow_kg_s, fan_kw) <= 0:
            raise ValueError("days and zones must be >= 1 and zone_it_kw, zone_airflow_kg_s, fan_kw positive")
        if start_day is not None and not 0 <= start_day < 365:
            raise ValueError(f"start_day must be a day of the year in [0, 365), got {start_day}")
        if render_mode is not None:
            raise ValueError(f"DataCentreCooling-v0 renders nothing (render_mode {render_mode!r}); see `trainfleet report`")
        if not (sensor_noise_c >= 0 and 0 <= sensor_dropout < 1):
            raise ValueError(f"sensor_noise_c must be >= 0 and sensor_dropout in [0, 1), got {sensor_noise_c}, {sensor_dropout}")
        self.render_mode = render_mode
        self.sensor_noise_c, self.sensor_dropout = sensor_noise_c, sensor_dropout
        self.horizon, self.zones, self.start_day = days * STEPS_PER_DAY, zones, start_day
        self.zone_it_kw, self.fan_kw = zone_it_kw, fan_kw
        self.airflow = np.full(zones, zone_airflow_kg_s)
        # uneven zones: the hottest rack row takes 30% more than the coolest
        self.load_share = np.linspace(1.15, 0.85, zones) if zones > 1 else np.ones(1)
        self.ranges = {"thermal_mass": _range("thermal_mass", thermal_mass),
                       "chiller_efficiency": _range("chiller_efficiency", chiller_efficiency),
                       "load_scale": _range("load_scale", load_scale)}
        self.physics = {k: lo for k, (lo, _) in self.ranges.items()}
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (zones + 5,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.it_kw = np.zeros((self.horizon + 1, zones))
        self.outdoor_c = np.zeros(self.horizon + 1)
        self.inlet = np.full(zones, 22.0)
        self.readings = self.inlet.copy()  # what the inlet sensors last reported
        self.cooling_kw = 0.0
        self.t = 0
        self.day0 = 0

    # ---- exogenous traces ---------------------------------------------------------------------
    def _traces(self, rng: np.random.Generator) -> None:
        n = self.horizon + 1
        self.day0 = int(rng.integers(365)) if self.start_day is None else self.start_day
        weekday0 = int(rng.integers(7))
        hours = np.arange(n) * STEP_MIN / 60.0
        day = self.day0 + hours / 24.0
        diurnal = np.sin(2 * np.pi * (hours - 8.0) / 24.0)  # IT peaks mid-afternoon
        weekend = ((weekday0 + (hours // 24).astype(int)) % 7) >= 5
        load = 0.65 + 0.15 * diurnal - 0.12 * weekend
        for _ in range(rng.poisson(3 * n / STEPS_PER_DAY)):  # batch jobs: +10-25% for 15-90 minutes
            start, length = int(rng.integers(n)), int(rng.integers(3, 19))
            load[start:start + length] += rng.uniform(0.10, 0.25)
        load = np.clip(load + 0.02 * rng.standard_normal(n), 0.2, 1.0) * self.physics["load_scale"]
        self.it_kw = self.zone_it_kw * load[:, None] * self.load_share[None, :]
        seasonal = 12.0 - 10.0 * np.cos(2 * np.pi * (day - 15.0) / 365.0)  # coldest mid-January
        daily = 5.0 * np.sin(2 * np.pi * (hours - 9.0) / 24.0)  # warmest at 15:00
        weather = np.cumsum(0.15 * rng.standard_normal(n))
        self.outdoor_c = seasonal + daily + weather - weather.mean()

    # ---- physics ------------------------------------------------------------------------------
    def _observation(self) -> np.ndarray:
        phase = 2 * np.pi * (self.t % STEPS_PER_DAY) / STEPS_PER_DAY
        return np.concatenate([self._read_inlets(), [self.it_kw[self.t].sum(), self.cooling_kw, self.outdoor_c[self.t],
                                            np.sin(phase), np.cos(phase)]]).astype(np.float32)

    def _read_inlets(self) -> np.ndarray:
        """The inlet sensors: the true temperatures plus Gaussian noise, each sensor dropped (its last
        reading repeated, as a building-management system shows a stale value) with `sensor_dropout`."""
        reading = self.inlet.copy()
        if self.sensor_noise_c > 0:
            reading += self.np_random.normal(0.0, self.sensor_noise_c, self.zones)
        if self.sensor_dropout > 0:
            reading = np.where(self.np_random.random(self.zones) < self.sensor_dropout, self.readings, reading)
        self.readings = reading
        return reading

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.physics = {k: float(self.np_random.uniform(lo, hi)) for k, (lo, hi) in self.ranges.items()}
        self._traces(self.np_random)
        self.t = 0
        # start at the steady state of a conservative plant (18 C supply, fans at 80%)
        self.inlet = SUPPLY_AIR_C[0] + self.it_kw[0] / (0.8 * self.airflow * CP_AIR)
        self.readings = self.inlet.copy()
        self.cooling_kw = 0.0
        return self._observation(), {"physics": dict(self.physics)}

    def predict(self, action: np.ndarray) -> PlantStep:
        """What `action` would do over the next step from the current state, changing nothing: the
        one-step model a safety shield or a shadow deployment asks (here: the plant's own equations)."""
        supply_set, chw, fan = (float(x) for x in to_setpoints(np.asarray(action, dtype=float)))
        supply = max(supply_set, chw + COIL_APPROACH_K)
        q_it, dt = self.it_kw[self.t], STEP_MIN * 60.0
        conductance = fan * self.airflow * CP_AIR  # kW/K
        steady = supply + q_it / conductance
        new_inlet = steady + (self.inlet - steady) * np.exp(-conductance * dt / self.physics["thermal_mass"])
        removed_kj = float(np.sum(q_it * dt - self.physics["thermal_mass"] * (new_inlet - self.inlet)))
        cop = chiller_cop(float(self.outdoor_c[self.t]), chw, self.physics["chiller_efficiency"])
        chiller_kw = max(removed_kj / dt / cop, 0.0)  # air warmer than the zone heats it: the chiller idles
        return PlantStep(new_inlet, supply, chiller_kw, self.zones * self.fan_kw * fan**3, cop, removed_kj)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        plant = self.predict(action)
        self.cooling_kw = plant.chiller_kw + plant.fan_kw
        self.inlet = plant.inlet
        over = np.maximum(self.inlet - INLET_LIMIT_C, 0.0)
        it_total = float(self.it_kw[self.t].sum())
        hours = STEP_MIN / 60.0
        self.t += 1
        info = {"cooling_kwh": self.cooling_kw * hours, "it_kwh": it_total * hours,
                "heat_removed_kwh": plant.removed_kj / 3600.0, "pue": (it_total + self.cooling_kw) / it_total,
                "chiller_cop": plant.cop, "chiller_kw": plant.chiller_kw, "fan_kw": plant.fan_kw,
                "supply_air_c": plant.supply_c, "max_inlet_c": float(self.inlet.max()),
                "constraint_cost": float(over.sum() * STEP_MIN)}
        return self._observation(), -info["cooling_kwh"], False, self.t >= self.horizon, info
