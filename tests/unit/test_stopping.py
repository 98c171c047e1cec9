"""The one set of stop rules every backend and DL share."""

from __future__ import annotations

import math

from trainfleet.schema import Stop
from trainfleet.stopping import stop_reason


def test_rl_thresholds_budgets_and_convergence():
    stop = Stop(episode_return_mean=475, env_steps=1000, iterations=10, time_s=60)
    assert stop_reason(stop, {"iteration": 1, "time_s": 1.0, "env_steps": 10, "episode_return_mean": math.nan}) is None
    assert stop_reason(stop, {"iteration": 1, "time_s": 1.0, "env_steps": 10, "episode_return_mean": 475.0}) == "episode_return_mean"
    assert stop_reason(stop, {"iteration": 10, "time_s": 1.0, "env_steps": 1000}) == "env_steps"  # the first met, in order
    assert stop_reason(stop, {"iteration": 10, "time_s": 1.0, "env_steps": 5}) == "iterations"
    assert stop_reason(stop, {"iteration": 2, "time_s": 60.0, "env_steps": 5}) == "time_s"
    assert stop_reason(Stop(iterations=5), {"iteration": 1, "time_s": 0.1, "done": True}) == "converged"


def test_dl_epochs_and_accuracy():
    stop = Stop(epochs=3, val_accuracy=0.99)
    assert stop_reason(stop, {"epoch": 2, "iteration": 2, "time_s": 1.0, "val_accuracy": 0.5}) is None
    assert stop_reason(stop, {"epoch": 2, "iteration": 2, "time_s": 1.0, "val_accuracy": 0.995}) == "val_accuracy"
    assert stop_reason(stop, {"epoch": 3, "iteration": 3, "time_s": 1.0}) == "epochs"
    # an RL run never reports `epoch`: stop.epochs does not end it
    assert stop_reason(Stop(epochs=1, iterations=9), {"iteration": 2, "time_s": 1.0}) is None
