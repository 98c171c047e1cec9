"""A test-only algorithm whose loss turns NaN at a chosen iteration (named by import path in a job).

It lives outside the package: jobs reach it as `algorithm: diverging:Diverging` with this
directory on the driver's PYTHONPATH and as the driver's working directory, which Ray puts on
its workers' sys.path.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from counting import Counting

from trainfleet.rl.core.algorithm import Hparams, ensure_finite


class Diverging(Counting):
    class Hparams(Hparams):
        nan_at: int = Field(3, ge=1, description="iteration whose loss is NaN")

    def train_iteration(self) -> dict[str, Any]:
        self.iteration += 1
        loss = float("nan") if self.iteration >= self.hp.nan_at else 1.0 / self.iteration
        ensure_finite(td=loss)
        return {"env_steps": 10 * self.iteration, "episode_return_mean": float(self.iteration), "loss_td": loss}
