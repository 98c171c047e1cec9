"""Job spec -> (task, typed hparams, model): the one place models are constructed."""

from __future__ import annotations

from typing import Any

from torch import nn

from trainfleet import registry
from trainfleet.dl import tasks
from trainfleet.dl.data.source import DataInfo
from trainfleet.schema import JobSpec


def model_class(name: str) -> Any:
    return registry.MODELS[name].load()


def build(spec: JobSpec, info: DataInfo) -> tuple[tasks.Task, Any, nn.Module]:
    assert spec.model is not None and spec.task is not None, "a validated DL job names its model and task"
    task = tasks.get(spec.task)
    hp = spec.typed_hparams
    model = model_class(spec.model)(hp, info, task.out_dim(info, hp))
    return task, hp, model
