"""The `stop:` rules of every run, RL or DL, native or RLlib: the first criterion met ends it.

Metric thresholds stop when reached (>=); budgets when used up. A DL loop reports `epoch` and
`iteration` alike; an algorithm that has converged (value iteration) reports `done`.
"""

from __future__ import annotations

import math
from typing import Any

from trainfleet import results
from trainfleet.schema import Stop


def _reached(threshold: float | None, value: Any) -> bool:
    return threshold is not None and value is not None and not math.isnan(value) and value >= threshold


def stop_reason(stop: Stop, metrics: dict[str, Any]) -> str | None:
    """The first criterion these metrics meet, or None to go on."""
    if _reached(stop.episode_return_mean, metrics.get(results.EPISODE_RETURN_MEAN)):
        return "episode_return_mean"
    if _reached(stop.val_accuracy, metrics.get("val_accuracy")):
        return "val_accuracy"
    budgets = (("env_steps", stop.env_steps, results.ENV_STEPS), ("epochs", stop.epochs, results.EPOCH),
               ("iterations", stop.iterations, results.ITERATION), ("time_s", stop.time_s, results.TIME_S))
    for reason, budget, metric in budgets:
        if budget is not None and metrics.get(metric, 0) >= budget:
            return reason
    if metrics.get("done"):
        return "converged"
    return None
