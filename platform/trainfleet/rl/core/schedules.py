"""Scalar schedules over training steps (epsilon decay, PER beta annealing, learning rates).

A schedule is structured YAML, never a string to parse:

    epsilon: {schedule: linear, start: 1.0, end: 0.05, steps: 10000}

`linear` interpolates start -> end over `steps` and then stays at `end`; `exponential`
interpolates geometrically (start·(end/start)^(t/steps), so the same fraction is lost
every step); `constant` is `start` forever.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Schedule(BaseModel):
    """value(t) for t = 0, 1, 2, ... (t is usually the number of env steps so far)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schedule: Literal["linear", "exponential", "constant"] = Field("linear", description="shape of the curve")
    start: float = Field(description="value at t = 0")
    end: float = Field(description="value from t = steps on")
    steps: int = Field(1, ge=1, description="steps to go from start to end")

    @model_validator(mode="after")
    def _positive_for_exponential(self) -> Schedule:
        if self.schedule == "exponential" and (self.start <= 0 or self.end <= 0):
            raise ValueError("an exponential schedule needs start > 0 and end > 0")
        return self

    def value(self, t: int | float) -> float:
        if self.schedule == "constant":
            return self.start
        frac = min(max(float(t), 0.0) / self.steps, 1.0)
        if self.schedule == "linear":
            return self.start + frac * (self.end - self.start)
        return self.start * (self.end / self.start) ** frac


def set_lr(optimizers: Iterable[Any], lr: float) -> None:
    """Every optimiser steps with `lr` from now on: the config's schedule decides it, never a restored
    optimiser state (a PBT-perturbed or `--set` lr takes effect)."""
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            group["lr"] = lr


def constant(value: float) -> Schedule:
    return Schedule(schedule="constant", start=value, end=value)
