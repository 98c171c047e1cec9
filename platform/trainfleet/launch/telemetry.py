"""Live training metrics on Ray's metrics system: Prometheus endpoint and dashboard charts.

Each iteration's platform metrics are mirrored into `ray.util.metrics` Gauges and a
Counter, tagged with the job name and trial id, so a cluster's Prometheus (scraping every
node's `metrics_export_port`) and the Grafana dashboard in `cluster/grafana/` chart
training while it runs. Prometheus sees each name with Ray's `ray_` prefix, e.g.
`ray_trainfleet_episode_return_mean{job="q-learning-frozenlake", trial_id="..."}`.

Call `record(job, trial_id, metrics)` once per iteration: the RL trial loop
(`launch/trial.py`) and the DL trials (`dl/trial.py`; `dl/train.py` with rank 0's epoch metrics) do.
It never raises: metrics export is an observer and must not stop a run.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from trainfleet import results

logger = logging.getLogger(__name__)

PREFIX = "trainfleet_"
TAG_KEYS = ("job", "trial_id")
LEARNER_UTILIZATION = "learner_utilization"

# Platform metric name -> description; each becomes the Gauge PREFIX + name.
GAUGES = {
    results.ITERATION: "training iterations (RL) or epochs (DL) completed",
    results.EPISODE_RETURN_MEAN: "mean return of recent training episodes",
    results.EPISODE_LEN_MEAN: "mean length of recent training episodes",
    results.ENV_STEPS_PER_S: "environment steps per second in the last iteration",
    results.TRAIN_LOSS: "DL: training loss of the last epoch",
    results.VAL_LOSS: "DL: validation loss of the last epoch",
    LEARNER_UTILIZATION: "fraction of the last iteration the learner process was busy on CPU "
    "(low = waiting for rollouts), unless the algorithm reports its own",
}
LOSS_GAUGE = "loss"  # every loss_<term> metric, with tag `term`
VAL_GAUGE = "val_metric"  # every other val_<name> metric (DL), with tag `name`
ENV_STEPS_COUNTER = "env_steps"


class _Exporter:
    """The metric objects of this process (created once: Ray registers each name once)."""

    def __init__(self) -> None:
        from ray.util.metrics import Counter, Gauge

        self.gauges = {name: Gauge(PREFIX + name, description=text, tag_keys=TAG_KEYS) for name, text in GAUGES.items()}
        self.loss = Gauge(PREFIX + LOSS_GAUGE, description="RL loss terms (loss_<term>)", tag_keys=TAG_KEYS + ("term",))
        self.val = Gauge(PREFIX + VAL_GAUGE, description="DL validation metrics (val_<name>)", tag_keys=TAG_KEYS + ("name",))
        self.env_steps = Counter(PREFIX + ENV_STEPS_COUNTER, description="environment steps taken", tag_keys=TAG_KEYS)
        # Per trial: last cumulative env_steps and (wall, cpu) clock at the last record.
        self.last_steps: dict[tuple[str, str], int] = {}
        self.last_clock: dict[tuple[str, str], tuple[float, float]] = {}


_exporter: _Exporter | None = None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def _utilization(ex: _Exporter, key: tuple[str, str]) -> float | None:
    now = (time.perf_counter(), time.process_time())
    last = ex.last_clock.get(key)
    ex.last_clock[key] = now
    if last is None or now[0] <= last[0]:
        return None
    return min(1.0, max(0.0, (now[1] - last[1]) / (now[0] - last[0])))


def record(job: str, trial_id: str, metrics: dict[str, Any]) -> None:
    """Export one iteration's metrics (platform names) for this job and trial."""
    global _exporter
    try:
        if _exporter is None:
            _exporter = _Exporter()
        ex = _exporter
        tags = {"job": job, "trial_id": trial_id}
        key = (job, trial_id)
        values = dict(metrics)
        if LEARNER_UTILIZATION not in values and results.ENV_STEPS in values:
            # RL: the trial process is the learner. A DL trial only waits for its Train workers.
            values[LEARNER_UTILIZATION] = _utilization(ex, key)
        for name, gauge in ex.gauges.items():
            v = _number(values.get(name, values.get(results.EPOCH) if name == results.ITERATION else None))
            if v is not None:
                gauge.set(v, tags=tags)
        for name, value in values.items():
            v = _number(value)
            if v is None:
                continue
            if name.startswith("loss_"):
                ex.loss.set(v, tags={**tags, "term": name.removeprefix("loss_")})
            elif name.startswith("val_") and name != results.VAL_LOSS:
                ex.val.set(v, tags={**tags, "name": name.removeprefix("val_")})
        steps = _number(values.get(results.ENV_STEPS))
        if steps is not None:
            delta = int(steps) - ex.last_steps.get(key, 0)
            if delta > 0:
                ex.env_steps.inc(delta, tags=tags)
            ex.last_steps[key] = int(steps)
    except Exception as err:  # an observer: never stop training
        logger.warning("trainfleet telemetry: could not export metrics: %s", err)
