"""The `tune:` section's search space -> Tune's param_space (scheduler and searcher: schedulers.py)."""

from __future__ import annotations

from typing import Any

from ray import tune

from trainfleet import jobs


def domain(kind: str, values: list[Any]) -> Any:
    """One `tune.space` entry (`{loguniform: [1e-4, 1e-2]}`) as a Tune search domain."""
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


def param_space(spec: jobs.JobSpec, t: jobs.TuneSpec | None) -> dict[str, Any]:
    """Trial config: the resolved spec object (typed hparams included) plus the sampled `overrides`
    (spec path -> value)."""
    overrides: dict[str, Any] = {}
    if t is not None:
        for path, dom in t.space.items():
            ((kind, values),) = dom.items()
            overrides[path] = domain(kind, values)
    return {"spec": spec, "overrides": overrides}
