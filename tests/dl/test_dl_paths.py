"""Paths in a job: relative to the job file's directory (`--set` ones to the current directory),
made absolute at validation, and checked to exist before Ray starts."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
import yaml

from trainfleet import jobs, spec_paths
from trainfleet.cli import main
from trainfleet.errors import SpecError


def write_job(folder: Path, data: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "job.yaml"
    path.write_text(yaml.safe_dump({"name": "rel", "model": "mlp", "task": "classify", "data": data,
                                    "hparams": {"epochs": 1}, "stop": {"epochs": 1}}))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """project/data/digits.parquet and project/data/val.parquet; the test runs from elsewhere/."""
    assert main(["data", "export", "digits", str(tmp_path / "project" / "data")]) == 0
    (tmp_path / "project" / "data" / "val.parquet").write_bytes((tmp_path / "project" / "data" / "digits.parquet").read_bytes())
    (tmp_path / "elsewhere").mkdir()
    return tmp_path / "project"


def test_file_paths_resolve_against_the_job_file_and_set_paths_against_the_cwd(project, monkeypatch):
    job = write_job(project / "jobs", {"path": "../data/digits.parquet", "label_column": "label"})
    monkeypatch.chdir(project.parent / "elsewhere")
    spec, _ = jobs.load_job(job)
    assert spec.data["path"] == str(project / "data" / "digits.parquet")
    monkeypatch.chdir(project)
    spec, _ = jobs.load_job(job, {"data.val_path": "data/val.parquet"})
    assert spec.data["val_path"] == str(project / "data" / "val.parquet")
    assert jobs.resolved_dict(spec)["data"]["path"] == str(project / "data" / "digits.parquet")  # what spec.yaml records


def test_uris_and_absolute_paths_are_kept():
    assert spec_paths.absolute("s3://bucket/train.parquet", Path("/base")) == "s3://bucket/train.parquet"
    assert spec_paths.absolute("/data/train.parquet", Path("/base")) == "/data/train.parquet"
    assert spec_paths.absolute("train.parquet", Path("/base")) == "/base/train.parquet"


def test_missing_relative_path_is_exit_2_naming_the_resolved_path_before_ray_starts(project, monkeypatch):
    from trainfleet.launch import cluster

    def refuse(*args, **kwargs):
        raise AssertionError("Ray was started for a missing data file")

    monkeypatch.setattr(cluster, "connect", refuse)
    job = write_job(project / "jobs", {"path": "../data/digitz.parquet"})
    monkeypatch.chdir(project.parent / "elsewhere")
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(["run", str(job), "--output", str(project.parent / "runs")])
    message = err.getvalue().strip()
    assert rc == 2
    assert message == f"error: {job}: data.path: no such Parquet file or directory: {project / 'data' / 'digitz.parquet'}", message
    assert not (project.parent / "runs").exists()


def test_an_env_file_named_in_kwargs_must_exist(tmp_path):
    trace = tmp_path / "trace.csv"
    trace.write_text("t,load\n")
    spec_paths.check_env_files({"trace_file": str(trace), "size": 4}, "job.yaml")
    with pytest.raises(SpecError, match=r"env\.kwargs\.trace_file: no such file: .*/missing\.csv"):
        spec_paths.check_env_files({"trace_file": str(tmp_path / "missing.csv")}, "job.yaml")
