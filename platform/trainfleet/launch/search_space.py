"""The `tune:` section of a job -> Tune search space, scheduler and searcher."""

from __future__ import annotations

from typing import Any

from ray import tune

from trainfleet import jobs


def _domain(kind: str, values: list[Any]) -> Any:
    if kind == "grid":
        return tune.grid_search(values)
    if kind == "choice":
        return tune.choice(values)
    if kind == "uniform":
        return tune.uniform(*values)
    if kind == "loguniform":
        return tune.loguniform(*values)
    if kind == "randint":
        return tune.randint(*values)
    raise ValueError(kind)


def param_space(spec_dict: dict[str, Any], t: jobs.TuneSpec | None) -> dict[str, Any]:
    """Trial config: the resolved spec plus the sampled `overrides` (spec path -> value)."""
    overrides: dict[str, Any] = {}
    if t is not None:
        for path, domain in t.space.items():
            ((kind, values),) = domain.items()
            overrides[path] = _domain(kind, values)
    return {"spec": spec_dict, "overrides": overrides}


def scheduler(t: jobs.TuneSpec | None, time_attr: str) -> Any:
    if t is None or t.scheduler == "fifo":
        return None
    if t.scheduler == "asha":
        return tune.schedulers.ASHAScheduler(time_attr=time_attr, grace_period=t.grace_period, reduction_factor=2)
    mutations = {}
    for path, domain in t.space.items():
        ((kind, values),) = domain.items()
        mutations[path] = values if kind in ("grid", "choice") else _domain(kind, values)
    return tune.schedulers.PopulationBasedTraining(
        time_attr=time_attr,
        perturbation_interval=t.perturbation_interval,
        hyperparam_mutations={"overrides": mutations},
    )


def searcher(t: jobs.TuneSpec | None) -> Any:
    if t is None or t.searcher == "random":
        return None
    from ray.tune.search.optuna import OptunaSearch

    return OptunaSearch()

