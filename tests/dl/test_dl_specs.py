"""DL job validation: wrong names, missing files and columns fail with exit 2 before Ray starts."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from trainfleet.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run_err(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(argv)
    return rc, err.getvalue()


def job(tmp_path: Path, **fields) -> str:
    spec = {"name": "bad", "model": "mlp", "task": "classify", "stop": {"epochs": 1}, **fields}
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


@pytest.fixture
def digits_parquet(tmp_path: Path) -> Path:
    assert main(["data", "export", "digits", str(tmp_path)]) == 0
    return tmp_path / "digits.parquet"


def test_export_writes_a_self_describing_parquet(digits_parquet):
    t = pq.read_table(digits_parquet)
    assert t.num_rows == 1797 and "label" in t.column_names and len(t.column_names) == 65
    assert t.schema.metadata[b"trainfleet.shape"] == b"[1, 8, 8]"


def test_missing_parquet_file_fails_with_exit_2_naming_the_path(tmp_path):
    missing = tmp_path / "nope.parquet"
    rc, err = run_err(["run", job(tmp_path, data={"path": str(missing)}), "--output", str(tmp_path)])
    assert rc == 2
    assert "data.path" in err and str(missing) in err


def test_wrong_label_column_fails_with_exit_2_naming_the_column(tmp_path, digits_parquet):
    rc, err = run_err(["run", job(tmp_path, data={"path": str(digits_parquet), "label_column": "lable"}),
                       "--output", str(tmp_path)])
    assert rc == 2
    assert "data.label_column" in err and "'lable'" in err and "did you mean 'label'" in err


def test_wrong_feature_column_and_bad_shape_are_located(tmp_path, digits_parquet):
    rc, err = run_err(["validate", job(tmp_path, data={"path": str(digits_parquet), "features": ["pixel_0", "pixel_99"]})])
    assert rc == 2 and "data.features.1" in err and "pixel_99" in err
    rc, err = run_err(["validate", job(tmp_path, data={"path": str(digits_parquet), "shape": [1, 8, 9]})])
    assert rc == 2 and "data.shape" in err


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"model": "mlpp", "data": {"dataset": "digits"}}, "model"),
        ({"task": "clasify", "data": {"dataset": "digits"}}, "task"),
        ({"data": {"dataset": "digitz"}}, "data.dataset"),
        ({"data": {"dataset": "digits", "batchsize": 3}}, "data.batchsize"),
        ({"data": {"dataset": "digits"}, "hparams": {"optimiser": "adam"}}, "hparams.optimiser"),
        ({"data": {"dataset": "digits"}, "hparams": {"optimizer": "adamw"}}, "hparams.optimizer"),
        ({"model": "gan", "task": "generate", "data": {"dataset": "digits"}, "resources": {"num_workers": 2}},
         "resources.num_workers"),
        ({"model": "transfer", "data": {"dataset": "digits-5to9"}, "hparams": {"source": "/no/such/run"}}, "hparams.source"),
        ({"data": {"dataset": "digits"}, "resources": {"num_workers": 2, "trainer": "in_trial"}}, "resources.trainer"),
        ({"model": "unet", "task": "segment", "data": {"dataset": "digits"}}, "data"),  # no mask column
        ({"model": "unet", "task": "segment", "data": {"dataset": "shapes"}, "hparams": {"loss": "hinge"}}, "hparams.loss"),
        ({"model": "unet", "task": "segment", "data": {"dataset": "shapes"}, "hparams": {"channels": [4] * 7}},
         "hparams"),  # 6 poolings cannot halve 32 px
        ({"model": "attention_unet", "task": "segment", "data": {"dataset": "shapes"}, "hparams": {"variant": "notes"}},
         "hparams"),
        ({"model": "unet", "task": "classify", "data": {"dataset": "shapes"}}, "task"),
    ],
)
def test_spec_errors_name_the_field(tmp_path, fields, where):
    rc, err = run_err(["validate", job(tmp_path, **fields)])
    assert rc == 2 and where in err


def test_every_dl_job_file_validates(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # job files name their weights relative to themselves, not to the cwd
    files = sorted(str(p) for p in (ROOT / "jobs" / "dl").glob("*.yaml")) + \
        sorted(str(p) for p in (ROOT / "jobs" / "sweeps").glob("*dl*.yaml"))
    assert files
    rc, err = run_err(["validate", *files])
    assert rc == 0, err
