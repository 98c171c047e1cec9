"""Checks that make `validate` mean "the run will start": what the schema's types cannot see.

Each one would otherwise fail only inside the trial, after Ray started: a number that is not
finite, an algorithm given an env whose spaces it cannot learn on, a replay buffer larger
than the machine, a sweep over an empty or impossible range, a sweep metric the job never
reports. The env is built once with gymnasium in this process to read its spaces; no Ray.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

from trainfleet import results
from trainfleet.errors import SpecError, did_you_mean, excerpt

if TYPE_CHECKING:
    from trainfleet.jobs import EnvSpec, JobSpec

# Metrics every job of a kind reports (results.py's vocabulary), and the families of names.
RL_METRICS = (results.EPISODE_RETURN_MEAN, results.EPISODE_LEN_MEAN, results.EPISODES, results.ENV_STEPS,
              results.ENV_STEPS_PER_S, results.ITERATION, results.TIME_S)
DL_METRICS = (results.VAL_LOSS, results.TRAIN_LOSS, results.EPOCH, results.ITERATION, results.TIME_S)
RL_METRIC_PREFIXES = ("loss_",)
DL_METRIC_PREFIXES = ("val_",)
MEMORY_SHARE = 0.8  # of the machine's memory a job may allocate up front


def check_finite(value: Any, *, file: str | None, path: str = "") -> None:
    """No inf or NaN anywhere in a spec: every number in a job is meant to be finite."""
    if isinstance(value, float) and not math.isfinite(value):
        raise SpecError(f"must be a finite number, got {value}", file=file, path=path or None)
    if isinstance(value, dict):
        for key, item in value.items():
            check_finite(item, file=file, path=f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_finite(item, file=file, path=f"{path}.{i}" if path else str(i))


def check_episode_limit(env: EnvSpec, *, file: str | None) -> None:
    steps = env.kwargs.get("max_episode_steps")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise SpecError(f"must be a whole number of steps >= 1, got {excerpt(steps)}", file=file,
                        path="env.kwargs.max_episode_steps")


def check_env_fits(spec: JobSpec, algorithm_cls: Any, hparams: Any, *, file: str | None) -> None:
    """Build the env once (as the algorithm will) and check the algorithm can learn on it and fits memory."""
    from trainfleet.rl.core.algorithm import space_message
    from trainfleet.rl.core.wrappers import single_env

    env_spec = spec.rl_env
    try:
        env = single_env(env_spec.id, env_spec.kwargs)
    except Exception as err:  # any constructor error is a bad kwarg value: report it, do not crash
        raise SpecError(f"cannot create {env_spec.id}: {excerpt(err, 200, quote=False)}", file=file,
                        path="env.kwargs") from None
    obs_space, act_space = env.observation_space, env.action_space
    env.close()
    problem = algorithm_cls.space_problem(obs_space, act_space)
    if problem:
        raise SpecError(space_message(problem, env_spec.id, obs_space, act_space), file=file, path="algorithm")
    needed = algorithm_cls.memory_needed(hparams, obs_space, act_space)
    available = machine_memory()
    if needed > MEMORY_SHARE * available:
        raise SpecError(
            f"the replay buffer takes {needed / 2**30:.1f} GiB with {env_spec.id}'s observations; "
            f"this machine has {available / 2**30:.1f} GiB: lower buffer_size",
            file=file, path="hparams.buffer_size",
        )


def machine_memory() -> int:
    """Physical memory of this machine in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_tune_metric(spec: JobSpec, metric: str, *, file: str | None) -> None:
    """A sweep ranks trials by `metric`: refuse one the job never reports (Tune fails late on it)."""
    names, prefixes = (RL_METRICS, RL_METRIC_PREFIXES) if spec.is_rl else (DL_METRICS, DL_METRIC_PREFIXES)
    if metric in names or (metric.startswith(prefixes) and len(metric) > len(prefixes[0])):
        return
    kind = "an RL" if spec.is_rl else "a DL"
    raise SpecError(
        f"{excerpt(metric)} is not a metric {kind} job reports{did_you_mean(metric, names)} "
        f"(it reports {', '.join(names)} and {'/'.join(p + '<name>' for p in prefixes)})",
        file=file, path="tune.metric",
    )


def check_domain(kind: str, values: list[Any], *, file: str | None, path: str) -> None:
    """A search domain Tune can sample from: ranges in order, log ranges positive, integer ranges non-empty."""
    if kind not in ("uniform", "loguniform", "randint"):
        return
    low, high = values
    for bound in (low, high):
        if isinstance(bound, bool) or not isinstance(bound, (int, float)):
            raise SpecError(f"{kind} bounds must be numbers, got {excerpt(bound)}", file=file, path=path)
    if kind == "randint":
        if not (isinstance(low, int) and isinstance(high, int)):
            raise SpecError(f"randint takes whole numbers [low, high), got [{low}, {high}]", file=file, path=path)
        if high <= low:
            raise SpecError(f"randint [{low}, {high}) holds no integer: high is exclusive and must exceed low",
                            file=file, path=path)
    elif high < low:
        raise SpecError(f"{kind} [{low}, {high}] is reversed: give [low, high]", file=file, path=path)
    if kind == "loguniform" and low <= 0:
        raise SpecError(f"loguniform needs bounds > 0 (it samples their logarithm), got [{low}, {high}]",
                        file=file, path=path)
