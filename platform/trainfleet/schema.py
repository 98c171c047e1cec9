"""The job spec's schema: the typed shape of a job, and nothing that needs a domain.

This module is a leaf: it imports pydantic and trainfleet's own leaf modules only, never
`trainfleet.rl`, `trainfleet.dl`, torch or Ray, so every layer (validation in `jobs.py`, the
trial, the DL and RL code) can import it without an import circle.

A `JobSpec` as read from YAML holds `hparams` as a plain mapping; `jobs.parse_spec` replaces it
with the algorithm's (or model's) typed `Hparams`, every default filled. That resolved spec is
the one job object the run hands on: `resolved_dict` is its serialisation (`spec.yaml`).
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, model_validator

from trainfleet.errors import SpecError, excerpt
from trainfleet.fields import Seed

# A run directory is NAME-YYYYmmdd-HHMMSS[-n]: the name leaves room for that within the
# 255 bytes a file name may have on common filesystems.
MAX_NAME = 200
DEFAULT_EPOCHS = 10  # a DL job's stop.epochs when it names none


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class EnvSpec(_Strict):
    id: str = Field(description="gymnasium environment id")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="passed to gymnasium.make")
    num_envs: int = Field(1, ge=1, le=4096, description="vectorised copies per rollout worker")


class Resources(_Strict):
    rollout_workers: int = Field(0, ge=0, description="Ray actors stepping envs; 0 = in the trial process")
    cpus_per_worker: float = Field(1.0, gt=0, description="CPU reserved per rollout worker")
    learner_cpus: float = Field(1.0, gt=0, description="CPU reserved for the learner (the trial itself)")
    learner_gpus: int | Literal["auto"] = Field(0, description="0, 1, or auto (one if the cluster has one)")
    num_workers: int = Field(1, ge=1, description="DL: Ray Train workers (DDP when > 1)")
    use_gpu: bool | Literal["auto"] = Field(False, description="DL: one GPU per Train worker")
    trainer: Literal["auto", "in_trial", "ray_train"] = Field(
        "auto", description="DL: in_trial = the loop inside the Tune trial; ray_train = a TorchTrainer; "
        "auto = ray_train only for several workers or GPUs")
    placement_strategy: Literal["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"] = "PACK"
    executor: Literal["auto", "in_process", "ray"] = Field(
        "auto", description="in_process = the trial loop in the `trainfleet run` process, no Ray; ray = a Tune "
        "trial; auto = in_process when the job needs nothing from Ray (launch/executor.py)")


class Stop(_Strict):
    """Stop at the first criterion met. Metric thresholds stop when reached (>=)."""

    episode_return_mean: float | None = None
    env_steps: int | None = Field(None, ge=1)
    iterations: int | None = Field(None, ge=1)
    time_s: float | None = Field(None, gt=0)
    epochs: int | None = Field(None, ge=1)
    val_accuracy: float | None = None


class CheckpointSpec(_Strict):
    every: int = Field(10, ge=1, description="checkpoint every N iterations (and always at the end)")
    keep: int = Field(3, ge=1, description="checkpoints kept per trial")
    max_failures: int = Field(
        0, ge=0, description="times a failed trial restarts from its last checkpoint (a lost node, a killed process)"
    )


Domain = dict[Literal["grid", "choice", "uniform", "loguniform", "randint"], list[Any]]


class TuneSpec(_Strict):
    metric: str = "episode_return_mean"
    mode: Literal["max", "min"] = "max"
    num_samples: int = Field(1, ge=1)
    scheduler: Literal["fifo", "asha", "pbt"] = "fifo"
    searcher: Literal["random", "optuna"] = "random"
    max_concurrent_trials: int | None = Field(None, ge=1)
    grace_period: int = Field(2, ge=1, description="ASHA: iterations before a trial may be stopped")
    perturbation_interval: int = Field(
        4, ge=1, description="PBT: iterations between exploit/explore (default: checkpoint.every)"
    )
    space: dict[str, Domain] = Field(default_factory=dict, description="spec path -> search domain")


class JobSpec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=MAX_NAME)
    algorithm: str | None = None
    model: str | None = None
    task: str | None = None
    backend: Literal["native", "rllib", "sb3"] = "native"
    env: EnvSpec | None = None
    data: dict[str, Any] | None = None
    resources: Resources = Field(default_factory=Resources)
    hparams: dict[str, Any] | SerializeAsAny[BaseModel] = Field(
        default_factory=dict, description="as written; the typed Hparams once validated (jobs.parse_spec)")
    stop: Stop = Field(default_factory=Stop)
    checkpoint: CheckpointSpec = Field(default_factory=CheckpointSpec)
    seed: Seed = 0
    tune: TuneSpec | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> JobSpec:
        if (self.algorithm is None) == (self.model is None):
            raise ValueError("a job names exactly one of `algorithm` (RL) or `model` (DL)")
        if self.algorithm is not None and self.env is None:
            raise ValueError("an RL job needs `env: {id: ...}`")
        if not any(v is not None for v in self.stop.model_dump().values()):
            raise ValueError("`stop` needs at least one criterion (iterations, env_steps, time_s, ...)")
        return self

    @model_validator(mode="after")
    def _pbt_cadence(self) -> JobSpec:
        """PBT clones the checkpoint a trial reports at its perturbation: one field fills the other."""
        t = self.tune
        if t is not None and t.scheduler == "pbt":
            if "perturbation_interval" not in t.model_fields_set:
                t.perturbation_interval = self.checkpoint.every
            elif "every" not in self.checkpoint.model_fields_set:
                self.checkpoint.every = t.perturbation_interval
        return self

    @model_validator(mode="after")
    def _dl_epochs(self) -> JobSpec:
        """A DL job's one training-length knob is `stop.epochs` (Keras' `fit` default: 10)."""
        if self.model is not None and self.stop.epochs is None:
            self.stop.epochs = DEFAULT_EPOCHS
        return self

    @property
    def is_rl(self) -> bool:
        return self.algorithm is not None

    @property
    def typed_hparams(self) -> Any:
        """The validated hyperparameters object (a resolved spec's, never a raw mapping)."""
        if isinstance(self.hparams, dict):
            raise TypeError("this JobSpec is not resolved: validate it with jobs.parse_spec first")
        return self.hparams

    @property
    def training_epochs(self) -> int:
        """A DL job's number of epochs: `stop.epochs` (always set for DL), or `stop.iterations` when smaller."""
        if self.stop.epochs is None:
            raise TypeError("training_epochs is a DL job's (stop.epochs is filled when its spec validates)")
        return min(self.stop.epochs, self.stop.iterations or self.stop.epochs)

    @property
    def rl_env(self) -> EnvSpec:
        """An RL job's env (the schema requires one of every RL job)."""
        if self.env is None:
            raise TypeError("rl_env is an RL job's")
        return self.env

    @property
    def iteration_budget(self) -> int | None:
        """The iteration (DL: epoch) at which every run stops anyway, when `stop:` fixes one."""
        return min((v for v in (self.stop.iterations, self.stop.epochs) if v is not None), default=None)


SPACE_KINDS = ("grid", "choice", "uniform", "loguniform", "randint")


def apply_overrides(
    raw: dict[str, Any], overrides: dict[str, Any], *, file: str | None = None
) -> dict[str, Any]:
    """A copy of `raw` with dotted-path values set (`hparams.lr` -> raw['hparams']['lr'])."""
    out = copy.deepcopy(raw)
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node = out
        for part in parts[:-1]:
            nxt = node.get(part)
            if nxt is None:
                nxt = node[part] = {}
            if not isinstance(nxt, dict):
                raise SpecError(f"{excerpt(part)} is not a mapping", file=file, path=dotted)
            node = nxt
        node[parts[-1]] = value
    return out


def resolved_dict(spec: JobSpec) -> dict[str, Any]:
    """The spec with every default filled in, as plain data (what `spec.yaml` records)."""
    return spec.model_dump(mode="json", exclude_none=False)


def with_overrides(spec: JobSpec, overrides: dict[str, Any]) -> JobSpec:
    """A resolved spec with a trial's sampled values applied, re-created from its own serialisation:
    its `Hparams` class validates the new values, nothing is looked up again. No overrides: `spec` itself."""
    if not overrides:
        return spec
    raw = apply_overrides(resolved_dict(spec), overrides)
    hparams = type(spec.typed_hparams).model_validate(raw["hparams"])
    return JobSpec.model_validate({**raw, "hparams": hparams})
