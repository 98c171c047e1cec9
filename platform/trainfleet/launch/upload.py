"""What `trainfleet submit` uploads as the job's working_dir: the project, and only the project.

The root is the nearest folder above the job file with a pyproject.toml, or the folder the
user names with --working-dir: never the current directory by default, which from a home
directory would ship ~/.ssh and ~/.aws to the cluster. Bulky folders (runs/, .git, weights)
stay behind, except the files the job itself names; secrets never leave, whatever the root.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainfleet import spec_paths
from trainfleet.errors import SpecError, UserError

# gitignore-style patterns, relative to the root (Ray's runtime_env `excludes`).
BULKY = [
    ".git", "runs/", "**/__pycache__/", "*.egg-info/", ".venv/", "venv/", ".pytest_cache/",
    "build/", "dist/", "node_modules/", "benchmarks/results/*.parquet", "**/*.pt", "**/*.ckpt",
]
# Listed last so that nothing a job names can bring them back (the last matching pattern wins).
SECRETS = [
    ".ssh", ".aws", ".ray", ".gnupg", ".kube", ".docker", ".netrc", ".env", ".env.*", "*.pem", "*.key",
    "*auth_token*",
]


def project_root(job_path: Path, working_dir: str | None) -> Path:
    """--working-dir when given, else the nearest folder above the job with a pyproject.toml."""
    if working_dir is not None:
        root = Path(working_dir).expanduser().resolve()
        if not root.is_dir():
            raise UserError(f"--working-dir {working_dir}: no such directory")
    else:
        root = next((folder for folder in job_path.parents if (folder / "pyproject.toml").is_file()), None)
        if root is None:
            raise UserError(
                f"{job_path}: no pyproject.toml in any folder above the job file, so there is no project to "
                "upload; name the folder to upload with --working-dir DIR"
            )
    if root not in job_path.parents:
        raise UserError(f"{job_path}: the job file must be inside the uploaded directory {root} (its working_dir)")
    return root


def named_paths(written: dict[str, Any], overrides: dict[str, Any], job_dir: Path, root: Path, *,
                file: str) -> list[str]:
    """The files and folders the job names, relative to `root` as the cluster will see them.

    `written` is the job file as written: its paths are relative to the job file's directory
    (`spec_paths`), on the cluster too. A `--set` path is relative to the current directory,
    which on the cluster is `root`.
    """
    out = []
    named = spec_paths.path_fields(written) + [k for k in overrides if spec_paths.is_path_field(k, written)]
    for where in dict.fromkeys(named):
        from_set = where in overrides
        value = overrides[where] if from_set else spec_paths.value_at(written, where)
        if not isinstance(value, str):
            continue
        path = Path(value)
        if path.is_absolute():
            raise SpecError(f"{value} is an absolute path; the cluster unpacks the project elsewhere: give it "
                            f"relative to the job file", file=file, path=where)
        local = ((Path.cwd() if from_set else job_dir) / path).resolve()
        if root not in local.parents:
            raise SpecError(
                f"{value} is not inside the uploaded directory {root}, so the cluster would not have it; "
                "put it there and name it by its path relative to the job file",
                file=file, path=where,
            )
        if from_set and (root / path).resolve() != local:
            raise SpecError(
                f"--set {where}={value} is read relative to the current directory: run `trainfleet submit` "
                f"from {root}", file=file, path=where,
            )
        out.append(local.relative_to(root).as_posix())
    return out


def excludes(written: dict[str, Any], overrides: dict[str, Any], job_dir: Path, root: Path, *, file: str) -> list[str]:
    """Ray `excludes` for this job: bulky folders, then the job's own files let back in, then secrets."""
    keep = [f"!{p}{suffix}" for p in named_paths(written, overrides, job_dir, root, file=file) for suffix in ("", "/")]
    return BULKY + keep + SECRETS
