"""A test-only algorithm whose return is a known function of one hyperparameter: -(x - optimum)^2.

It does no learning and steps no environment, so a sweep's decisions can be judged against the
truth in a fraction of a second per trial (ASHA must stop the trials far from the optimum,
Optuna must propose x near it once it has seen results). Jobs name it `quadratic:Quadratic`;
tests/conftest.py puts this directory on the Ray workers' PYTHONPATH.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from counting import Counting

from trainfleet.rl.core.algorithm import Hparams


class Quadratic(Counting):
    class Hparams(Hparams):
        x: float = Field(0.0, description="the swept value")
        optimum: float = Field(0.3, description="where the return peaks (at 0)")

    def train_iteration(self) -> dict[str, Any]:
        self.iteration += 1
        return {"env_steps": self.iteration, "episode_return_mean": -((self.hp.x - self.hp.optimum) ** 2)}
