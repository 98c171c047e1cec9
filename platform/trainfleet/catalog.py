"""What `trainfleet list` shows: registered algorithms, envs, models and datasets."""

from __future__ import annotations

from typing import Any

from trainfleet import registry


def listing(what: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    if what in ("algorithms", "all"):
        out["algorithms"] = [
            {"name": e.name, "backend": e.backend, "family": e.family, "summary": e.summary}
            for e in sorted(registry.ALGORITHMS.values(), key=lambda e: (e.family, e.name, e.backend))
        ]
    if what in ("envs", "all"):
        out["envs"] = [{"name": i} for i in registry.env_ids()]
    if what in ("models", "all"):
        out["models"] = [{"name": e.name, "summary": e.summary} for e in registry.MODELS.values()]
    if what in ("datasets", "all"):
        out["datasets"] = [{"name": e.name, "summary": e.summary} for e in registry.DATASETS.values()]
    return out

