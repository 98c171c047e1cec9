"""File paths inside a job: made absolute once, at validation, so no later process guesses a base.

A relative path written in a job file is relative to that file's directory (wherever
`trainfleet` is started from); a path given on the command line (`--set data.path=...`) is
relative to the current directory, like any command-line argument. Ray workers, a resumed
run and `trainfleet eval` then all read the absolute path recorded in `spec.yaml`.
URIs (`s3://...`) and absolute paths are left as they are.

The path fields: `data.path`, `data.val_path`, `data.test_path`, `data.image_folder` (DL), the transfer model's
`hparams.weights` and `hparams.source`, and every `env.kwargs` key ending in `_path` or
`_file` (an env's trace or layout file), which must exist.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from trainfleet.errors import SpecError

DL_FIELDS = ("data.path", "data.val_path", "data.test_path", "data.image_folder", "hparams.weights", "hparams.source")
ENV_SUFFIXES = ("_path", "_file")


def is_path_field(dotted: str, raw: dict[str, Any]) -> bool:
    """Whether this spec path names a file path in a job like `raw`."""
    if raw.get("model") is not None and dotted in DL_FIELDS:
        return True
    return dotted.startswith("env.kwargs.") and dotted.endswith(ENV_SUFFIXES)


def absolute(value: Any, base: Path) -> Any:
    """`value` made absolute against `base` when it is a relative local path; anything else unchanged."""
    if not isinstance(value, str) or not value or "://" in value:
        return value
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def _mapping(value: Any) -> dict[str, Any]:
    """A section of a job not yet validated: a mapping, or nothing to resolve (validation reports it)."""
    return value if isinstance(value, dict) else {}


def path_fields(raw: dict[str, Any]) -> list[str]:
    """The path fields (dotted) that a job mapping like `raw` holds."""
    found = [f"{section}.{key}" for section in ("data", "hparams") for key in _mapping(raw.get(section))]
    found += [f"env.kwargs.{key}" for key in _mapping(_mapping(raw.get("env")).get("kwargs"))]
    return [f for f in found if is_path_field(f, raw)]


def resolve_file(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """A copy of a job file's mapping with its path fields (and swept path values) absolute against `base`."""
    out = copy.deepcopy(raw)
    for dotted in path_fields(out):
        *parents, key = dotted.split(".")
        node = out
        for part in parents:
            node = node[part]
        node[key] = absolute(node[key], base)
    for dotted, domain in _mapping(_mapping(out.get("tune")).get("space")).items():
        if is_path_field(dotted, out) and isinstance(domain, dict):
            for kind in ("grid", "choice"):
                if isinstance(domain.get(kind), list):
                    domain[kind] = [absolute(v, base) for v in domain[kind]]
    return out


def value_at(raw: dict[str, Any], dotted: str) -> Any:
    """The value at a dotted path of a job mapping, or None."""
    node: Any = raw
    for part in dotted.split("."):
        node = _mapping(node).get(part)
    return node


def resolve_overrides(overrides: dict[str, Any], raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """`--set` values of path fields made absolute against `base` (the current directory)."""
    return {k: absolute(v, base) if is_path_field(k, raw) else v for k, v in overrides.items()}


def check_env_files(kwargs: dict[str, Any], file: str | None) -> None:
    """An env file named in `env.kwargs` must exist before anything starts."""
    for key, value in kwargs.items():
        if key.endswith(ENV_SUFFIXES) and isinstance(value, str) and "://" not in value and not Path(value).exists():
            raise SpecError(f"no such file: {value}", file=file, path=f"env.kwargs.{key}")
