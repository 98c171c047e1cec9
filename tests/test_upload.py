"""What `trainfleet submit` uploads: the project with the files its job names, never secrets,
and nothing at all when there is no project to speak of. Packed with Ray's own zipper, so the
excludes are read exactly as the Jobs API reads them; no cluster needed."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
from ray._private.runtime_env.packaging import _zip_files  # private: what `working_dir` upload runs

from trainfleet import jobs
from trainfleet.cli import main
from trainfleet.launch import submit, upload

ROOT = Path(__file__).resolve().parents[1]
TRANSFER = "jobs/dl/transfer_digits_5to9.yaml"
WEIGHTS = "jobs/dl/weights/cnn_digits_0to4.pt"
SECRETS = [".ssh/id_ed25519", ".aws/credentials", ".ray/auth_token", ".env", "deploy/server.pem",
           "notes/my_auth_token.txt", "jobs/.env"]


def packed(root: Path, job: str, tmp_path: Path) -> set[str]:
    """The file names Ray would upload as the working_dir of `job`."""
    out = tmp_path / "upload.zip"
    excludes = upload.excludes(jobs.read_yaml(job), {}, (root / job).parent, root, file=job)
    _zip_files(str(root), excludes, str(out), include_gitignore=True)
    with zipfile.ZipFile(out) as z:
        return {name.rstrip("/") for name in z.namelist()}


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A copy of the transfer job in a small project, with a secret of every pattern planted in it."""
    root = tmp_path / "proj"
    (root / "jobs/dl/weights").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    shutil.copy(ROOT / TRANSFER, root / TRANSFER)
    shutil.copy(ROOT / WEIGHTS, root / WEIGHTS)
    (root / "jobs/dl/weights/other.pt").write_bytes(b"not named by the job")
    (root / "runs/old-run").mkdir(parents=True)
    (root / "runs/old-run/metrics.parquet").write_bytes(b"x")
    for name in SECRETS:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("secret")
    monkeypatch.chdir(root)
    return root


def test_upload_holds_the_named_weights_and_no_secret(project, tmp_path):
    names = packed(project, TRANSFER, tmp_path)
    assert WEIGHTS in names and TRANSFER in names and "pyproject.toml" in names, sorted(names)
    assert "jobs/dl/weights/other.pt" not in names and "runs/old-run/metrics.parquet" not in names, sorted(names)
    leaked = [n for n in names if n in SECRETS or n.startswith((".ssh", ".aws", ".ray"))]
    assert not leaked, leaked

def test_upload_of_the_repository_holds_the_transfer_weights(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    excludes = upload.excludes(jobs.read_yaml(TRANSFER), {}, (ROOT / TRANSFER).parent, ROOT, file=TRANSFER)
    assert f"!{WEIGHTS}" in excludes and excludes[-len(upload.SECRETS):] == upload.SECRETS
    names = packed(ROOT, TRANSFER, tmp_path)
    assert WEIGHTS in names and "platform/trainfleet/cli.py" in names, len(names)
    assert not [n for n in names if n.startswith("runs/") or n.endswith(".pem") or "auth_token" in n]


def test_submit_without_a_project_refuses(tmp_path, monkeypatch, capsys):
    job = tmp_path / "job.yaml"
    shutil.copy(ROOT / "jobs/rl/q_learning_frozenlake.yaml", job)
    (tmp_path / ".ssh").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(submit, "client", lambda address: pytest.fail("contacted a cluster"))
    assert main(["submit", str(job), "--address", "http://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "no pyproject.toml" in err and "--working-dir" in err and err.count("\n") == 1, err


def test_working_dir_names_the_root(tmp_path):
    job = tmp_path / "jobs" / "job.yaml"
    job.parent.mkdir()
    job.write_text("name: x\n")
    assert upload.project_root(job.resolve(), str(tmp_path)) == tmp_path.resolve()


def test_a_named_file_outside_the_project_is_refused(project):
    raw = jobs.read_yaml(TRANSFER)
    job_dir = project / "jobs" / "dl"
    raw["hparams"]["weights"] = str(project / WEIGHTS)
    with pytest.raises(jobs.SpecError, match="absolute path"):
        upload.excludes(raw, {}, job_dir, project, file=TRANSFER)
    raw["hparams"]["weights"] = "../../../elsewhere.pt"  # relative to the job file: above the project
    with pytest.raises(jobs.SpecError, match="not inside the uploaded directory"):
        upload.excludes(raw, {}, job_dir, project, file=TRANSFER)


def test_a_set_path_counts_from_the_current_directory(project, monkeypatch):
    raw = jobs.read_yaml(TRANSFER)
    job_dir = project / "jobs" / "dl"
    assert f"!{WEIGHTS}" in upload.excludes(raw, {"hparams.weights": WEIGHTS}, job_dir, project, file=TRANSFER)
    monkeypatch.chdir(job_dir)
    with pytest.raises(jobs.SpecError, match="run `trainfleet submit` from"):
        upload.excludes(raw, {"hparams.weights": "weights/cnn_digits_0to4.pt"}, job_dir, project, file=TRANSFER)


def test_plain_http_to_another_machine_warns_once(capsys):
    for _ in range(2):
        submit.warn_if_plain_http("http://10.0.0.5:8265")
        submit.warn_if_plain_http("http://127.0.0.1:8265")
        submit.warn_if_plain_http("https://head.example.org:8265")
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "http://10.0.0.5:8265 is plain http" in err, err


def test_an_env_file_named_in_kwargs_is_uploaded(project):
    written = {"name": "x", "algorithm": "ppo", "env": {"id": "CartPole-v1", "kwargs": {"trace_file": "traces/a.csv"}}}
    excludes = upload.excludes(written, {}, project / "jobs" / "rl", project, file="jobs/rl/job.yaml")
    assert "!jobs/rl/traces/a.csv" in excludes
