"""Job spec: load YAML (safe_load only), apply `--set` overrides, validate before anything starts.

One schema serves RL (`algorithm:` + `env:`) and DL (`model:` + `task:` + `data:`) jobs.
Each algorithm declares its own typed `Hparams` model, so `hparams` is validated per
algorithm. Every problem becomes a `SpecError` naming the file and the dotted field path.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from trainfleet import registry, spec_checks, spec_paths, yaml_safety
from trainfleet.errors import SpecError, did_you_mean, excerpt
from trainfleet.schema import (
    SPACE_KINDS,
    EnvSpec,
    JobSpec,
    Resources,
    TuneSpec,
    apply_overrides,
    resolved_dict,
)

__all__ = ["JobSpec", "EnvSpec", "Resources", "TuneSpec", "apply_overrides", "resolved_dict", "load_job", "parse_spec",
           "parse_set_args", "read_yaml", "check_capacity", "hparams_model"]

_UNION_TAGS = re.compile(r"^(float|int|str|bool|[A-Z][A-Za-z0-9]*)$|^function-|^dict\[")


def _format_loc(loc: tuple[Any, ...]) -> str:
    """The field path of a pydantic error, without the union-member tags pydantic adds
    (`hparams.lr.float` -> `hparams.lr` for `lr: float | Schedule`)."""
    return ".".join(str(p) for p in loc if not _UNION_TAGS.match(str(p)))


def _raise_validation(err: ValidationError, file: str | None, prefix: str, known: list[str]) -> None:
    first = err.errors()[0]
    path = ".".join(p for p in (prefix, _format_loc(first["loc"])) if p)
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        leaf = str(first["loc"][-1])
        msg = f"unknown field{did_you_mean(leaf, known)}"
    elif "input" in first and first["type"] not in ("missing",):
        msg = f"{msg} (got {excerpt(first['input'])})"
    raise SpecError(msg, file=file, path=path or None)


def _fields_of(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names at `loc` within `model`, for did-you-mean on unknown fields."""
    current: Any = model
    for part in loc[:-1]:
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        for candidate in getattr(ann, "__args__", (ann,)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                current = candidate
                break
        else:
            return []
    return list(getattr(current, "model_fields", {}))


def parse_spec(raw: Any, *, file: str | None = None) -> JobSpec:
    """Validate a raw mapping into a JobSpec; also checks names against the registry."""
    if not isinstance(raw, dict):
        raise SpecError("a job spec must be a YAML mapping of fields", file=file)
    spec_checks.check_finite(raw, file=file)
    raw = _moved_epochs(raw, file)
    try:
        spec = JobSpec.model_validate(raw)
    except ValidationError as err:
        loc = err.errors()[0]["loc"]
        _raise_validation(err, file, "", _fields_of(JobSpec, loc))
    hparams = hparams_model(spec, file=file)
    spec.hparams = hparams  # the one typed object the trial, the runner and the algorithm receive
    if spec.algorithm is not None:
        env = spec.rl_env
        registry.check_env_id(env.id, file=file)
        _check_env_kwargs(env, file)
        spec_paths.check_env_files(env.kwargs, file)
        spec_checks.check_episode_limit(env, file=file)
        algorithm_cls = registry.algorithm(spec.algorithm, spec.backend, file=file).load()
        _check_algorithm_env(spec, algorithm_cls, file)
        spec_checks.check_env_fits(spec, algorithm_cls, hparams, file=file)
    else:
        from trainfleet.dl import specs as dl_specs

        dl_specs.check(spec, file=file)
    _check_resources(spec, file)
    if spec.tune is not None:
        _check_tune(spec.tune, file)
        _check_pbt(spec, spec.tune, file)
        spec_checks.check_tune_metric(spec, spec.tune.metric, file=file)
        _check_space(spec.tune, raw, file)
    return spec


def _moved_epochs(raw: dict[str, Any], file: str | None) -> dict[str, Any]:
    """A DL job's training length is `stop.epochs` alone; an older file's `hparams.epochs` moves there."""
    hparams, stop = raw.get("hparams"), raw.get("stop", {})
    if raw.get("model") is None or not isinstance(hparams, dict) or "epochs" not in hparams or not isinstance(stop, dict):
        return raw
    epochs = hparams["epochs"]
    if stop.get("epochs", epochs) != epochs:
        raise SpecError(f"hparams.epochs ({excerpt(epochs)}) and stop.epochs ({excerpt(stop['epochs'])}) differ: a DL "
                        "job's training length is stop.epochs alone; drop hparams.epochs", file=file, path="hparams.epochs")
    return {**raw, "hparams": {k: v for k, v in hparams.items() if k != "epochs"}, "stop": {**stop, "epochs": epochs}}


# Keywords gymnasium.make consumes itself rather than passing to the env constructor.
_MAKE_KWARGS = ("max_episode_steps", "disable_env_checker", "render_mode")


def _check_env_kwargs(env: EnvSpec, file: str | None) -> None:
    """Unknown env.kwargs fail here, not minutes later inside a Ray worker."""
    import inspect

    import gymnasium

    entry_point = gymnasium.spec(env.id).entry_point
    if entry_point is None:
        return
    try:
        creator = gymnasium.envs.registration.load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
        params = inspect.signature(creator).parameters
    except (ImportError, AttributeError, TypeError, ValueError):
        return  # not introspectable: gymnasium.make reports it at run time
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    known = list(dict.fromkeys([n for n in params if n != "self"] + list(_MAKE_KWARGS)))
    for key in env.kwargs:
        if key not in known:
            raise SpecError(
                f"{env.id} takes no keyword {excerpt(key)}{did_you_mean(key, known)} (it takes: {', '.join(known)})",
                file=file,
                path=f"env.kwargs.{key}",
            )


def _check_algorithm_env(spec: JobSpec, algorithm_cls: Any, file: str | None) -> None:
    """What a native algorithm needs of its env beyond its spaces (meta-RL: a task family)."""
    if spec.backend != "native":
        return
    try:
        algorithm_cls.check_env(spec.rl_env.id, dict(spec.rl_env.kwargs))
    except SpecError as err:
        raise SpecError(err.detail, file=file, path="env.id") from None


def _check_tune(t: TuneSpec, file: str | None) -> None:
    """Scheduler/searcher combinations Tune would only reject after Ray has started."""
    if t.searcher == "optuna":
        if not t.space:
            raise SpecError("the Optuna searcher needs a non-empty tune.space", file=file, path="tune.searcher")
        grid = [k for k, d in t.space.items() if "grid" in d]
        if grid:
            raise SpecError(
                "Optuna picks its own points and cannot take a grid; use `choice` instead "
                "(or drop `searcher: optuna`)",
                file=file,
                path=f"tune.space.{grid[0]}",
            )
        if t.scheduler == "pbt":
            raise SpecError("PBT cannot be combined with a searcher; drop `searcher: optuna`", file=file, path="tune.searcher")
    if t.scheduler == "pbt" and not t.space:
        raise SpecError("PBT needs a tune.space to mutate", file=file, path="tune.scheduler")


def _check_pbt(spec: JobSpec, t: TuneSpec, file: str | None) -> None:
    """PBT settings that would run without ever exploiting, or exploit into a broken trial."""
    if t.scheduler != "pbt":
        return
    if t.num_samples < 2:
        raise SpecError("PBT needs a population: num_samples of at least 2", file=file, path="tune.num_samples")
    for path in t.space:
        if not path.startswith("hparams."):
            raise SpecError(
                "PBT changes values of running trials and can only mutate hparams.*", file=file, path=f"tune.space.{path}"
            )
    every = spec.checkpoint.every
    if t.perturbation_interval % every:
        raise SpecError(
            f"{t.perturbation_interval} is not a multiple of checkpoint.every ({every}): PBT clones the checkpoint "
            "a trial reports at its perturbation, so one must exist then",
            file=file, path="tune.perturbation_interval",
        )
    budget = spec.iteration_budget
    if budget is not None and t.perturbation_interval >= budget:
        raise SpecError(
            f"{t.perturbation_interval} is not below the {budget} iterations every trial runs: PBT would never perturb",
            file=file, path="tune.perturbation_interval",
        )


def hparams_model(spec: JobSpec, *, file: str | None = None) -> BaseModel:
    """The algorithm's (or model's) typed hyperparameters, validated from `spec.hparams`."""
    if spec.algorithm is not None:
        entry = registry.algorithm(spec.algorithm, spec.backend, file=file)
    else:
        from trainfleet.dl import specs as dl_specs

        entry = dl_specs.hparams_entry(spec, file=file)
    cls = entry.load()
    hp_cls = cls.Hparams
    try:
        return hp_cls.model_validate(spec.hparams)
    except ValidationError as err:
        loc = err.errors()[0]["loc"]
        _raise_validation(err, file, "hparams", _fields_of(hp_cls, loc))
    raise AssertionError("unreachable")


def _check_resources(spec: JobSpec, file: str | None) -> None:
    from trainfleet.launch import executor

    executor.check(spec, file=file)
    r = spec.resources
    if spec.backend == "sb3" and r.rollout_workers:
        raise SpecError(
            f"the sb3 backend steps its env.num_envs copies in the trial process (SB3's DummyVecEnv); got "
            f"rollout_workers={r.rollout_workers}, use 0", file=file, path="resources.rollout_workers",
        )
    if isinstance(r.learner_gpus, int) and r.learner_gpus > 1:
        raise SpecError(
            f"a learner uses one device; got learner_gpus={r.learner_gpus}. Use 0, 1 or auto.",
            file=file,
            path="resources.learner_gpus",
        )


def _check_space(t: TuneSpec, raw: dict[str, Any], file: str | None) -> None:
    for key, domain in t.space.items():
        where = f"tune.space.{key}"
        if len(domain) != 1:
            raise SpecError(f"give exactly one of {', '.join(SPACE_KINDS)}", file=file, path=where)
        (kind, values), = domain.items()
        if kind in ("uniform", "loguniform", "randint") and len(values) != 2:
            raise SpecError(f"{kind} takes [low, high]", file=file, path=where)
        if not values:
            raise SpecError(f"{kind} needs at least one value", file=file, path=where)
        spec_checks.check_domain(kind, values, file=file, path=where)
        if key.split(".")[0] in ("tune", "name"):
            raise SpecError("cannot sweep this field", file=file, path=where)
        # Every value a trial can get (both ends of a range) must make a valid spec on its own.
        base = {k: v for k, v in raw.items() if k != "tune"}
        for sample in values:
            try:
                parse_spec(apply_overrides(base, {key: sample}, file=file), file=file)
            except SpecError as err:
                at = f" ({err.path})" if err.path and err.path != key else ""
                raise SpecError(
                    f"search path does not fit the spec{at}: {err.detail} (value {excerpt(sample)})", file=file, path=where
                ) from None


def parse_set_args(pairs: list[str]) -> dict[str, Any]:
    """`--set a.b=value` pairs; values parse as YAML scalars (1e-3, true, [1, 2]) under the
    same limits as a job file."""
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise SpecError(f"--set expects PATH=VALUE, got {excerpt(pair)}")
        key, value = (part.strip() for part in pair.split("=", 1))
        if not _SET_PATH.match(key):
            raise SpecError(f"--set {excerpt(key)}: a field path is dotted names, e.g. hparams.lr")
        try:
            out[key] = yaml_safety.load(value, source=f"--set {key}", max_bytes=yaml_safety.MAX_SET_BYTES)
        except yaml_safety.MalformedYAML:
            out[key] = value  # not YAML: the plain string, as typed
    return out


_SET_PATH = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A job file's mapping, read under yaml_safety's limits; malformed YAML names the line."""
    raw = yaml_safety.read_file(path)
    if raw is None:
        raise SpecError("the job file is empty", file=str(path))
    return raw


def load_job(path: str | Path, overrides: dict[str, Any] | None = None) -> tuple[JobSpec, dict[str, Any]]:
    """Read, override and validate a job file. Returns the spec and the resolved raw mapping.

    Relative paths become absolute here (`spec_paths`): the file's against its directory,
    `overrides` (from the command line) against the current directory.
    """
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise SpecError("a job spec must be a YAML mapping of fields", file=str(path))
    raw = spec_paths.resolve_file(raw, Path(path).resolve().parent)
    if overrides:
        raw = apply_overrides(raw, spec_paths.resolve_overrides(overrides, raw, Path.cwd()), file=str(path))
    spec = parse_spec(raw, file=str(path))
    return spec, raw


def check_capacity(spec: JobSpec, cpus: float, gpus: float, *, file: str | None = None, where: str = "this machine") -> None:
    """Refuse a job whose placement group can never be scheduled on the given capacity."""
    r = spec.resources
    if spec.is_rl:
        need_cpu = r.learner_cpus + r.rollout_workers * r.cpus_per_worker
        need_gpu = 1 if r.learner_gpus == 1 else 0
    else:
        need_cpu = r.num_workers
        need_gpu = r.num_workers if r.use_gpu is True else 0
    if need_cpu > cpus:
        raise SpecError(
            f"needs {need_cpu:g} CPUs but {where} has {cpus:g}; lower rollout_workers, cpus_per_worker "
            "or num_workers, or submit to a bigger cluster",
            file=file,
            path="resources",
        )
    if need_gpu > gpus:
        raise SpecError(
            f"needs {need_gpu} GPU(s) but {where} has {gpus:g}; use `auto` to take a GPU only when present",
            file=file,
            path="resources",
        )
