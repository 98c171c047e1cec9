"""A test-only algorithm that reports how its hyperparameters reached it.

Each validation of `TypedProbe.Hparams` appends a line to the file its `trace` field names, so a
test can count validations across processes (the driver, the Tune trial). Each iteration reports
whether `self.hp` is still that typed class and how many validations the trace holds by then.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from counting import Counting

from trainfleet.rl.core.algorithm import Hparams


class TypedProbe(Counting):
    class Hparams(Hparams):
        trace: str = Field(description="file that gets one line per validation of these hparams")
        scale: float = Field(2.0, gt=0, description="an unset field: its default must reach the algorithm")

        @model_validator(mode="after")
        def _record(self) -> TypedProbe.Hparams:
            with open(self.trace, "a") as f:
                f.write("validated\n")
            return self

    def train_iteration(self) -> dict[str, Any]:
        self.iteration += 1
        validations = len(Path(self.hp.trace).read_text().splitlines())
        return {"env_steps": self.iteration, "episode_return_mean": self.hp.scale,
                "typed_hparams": float(isinstance(self.hp, TypedProbe.Hparams)), "validations": float(validations)}
