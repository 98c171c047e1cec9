"""What a facility engineer asks of any cooling controller, learned or not, over given days.

Cooling kWh (and so PUE), minutes with any zone inlet above 27 C, and degree-minutes above it,
summed over whole episodes of `trainfleet/DataCentreCooling-v0` started from the given seeds: the
numbers the case study compares agents with the rule-based baseline by, on held-out seeds and physics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from trainfleet.rl.core.wrappers import single_env
from trainfleet.rl.envs.data_centre import INLET_LIMIT_C, STEP_MIN, STEPS_PER_DAY

Act = Callable[[np.ndarray], Any]


@dataclass
class FacilityReport:
    days: float
    cooling_kwh: float
    it_kwh: float
    violation_minutes: float  # minutes with the hottest inlet above the limit
    violation_degree_minutes: float  # the env's constraint_cost, summed
    max_inlet_c: float
    shielded_steps: int  # steps a safety shield overrode the controller (0 without one)

    @property
    def pue(self) -> float:
        return (self.it_kwh + self.cooling_kwh) / self.it_kwh

    def saving_vs(self, baseline: FacilityReport) -> float:
        """Cooling energy saved against `baseline`, in % of the baseline's (negative: it used more)."""
        return 100.0 * (1.0 - self.cooling_kwh / baseline.cooling_kwh)

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "pue": self.pue}


def assess(env_id: str, env_kwargs: dict[str, Any], act: Act, seeds: Iterable[int],
           new_episode: Callable[[], None] | None = None) -> FacilityReport:
    """Run `act` greedily for one episode per seed; `new_episode` resets a controller's memory (a PID's)."""
    env = single_env(env_id, env_kwargs)
    steps = 0
    totals = {"cooling_kwh": 0.0, "it_kwh": 0.0, "violation_minutes": 0.0, "violation_degree_minutes": 0.0}
    hottest, shielded = -np.inf, 0
    try:
        for seed in seeds:
            obs, _ = env.reset(seed=seed)
            if new_episode is not None:
                new_episode()
            done = False
            while not done:
                obs, _, terminated, truncated, info = env.step(act(obs))
                done = bool(terminated or truncated)
                steps += 1
                totals["cooling_kwh"] += info["cooling_kwh"]
                totals["it_kwh"] += info["it_kwh"]
                totals["violation_minutes"] += STEP_MIN * (info["max_inlet_c"] > INLET_LIMIT_C)
                totals["violation_degree_minutes"] += info["constraint_cost"]
                hottest = max(hottest, info["max_inlet_c"])
                shielded += int(info.get("shielded", 0))
    finally:
        env.close()
    return FacilityReport(days=steps / STEPS_PER_DAY, max_inlet_c=float(hottest), shielded_steps=shielded, **totals)
