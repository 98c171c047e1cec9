"""`trainfleet predict RUN INPUT.parquet --out OUT.parquet`: the run's model's predictions as Parquet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from trainfleet import cli, jobs, results
from trainfleet.dl.engine import fit_in_process
from trainfleet.dl.evaluate import evaluate_dl_run, load_trained

JOBS = Path(__file__).resolve().parents[2] / "jobs"


def _run_dir(root: Path, job: str) -> Path:
    spec = jobs.load_job(JOBS / "dl" / job, {"stop.epochs": 3})[0]
    run_dir = results.new_run_dir(root, spec.name)
    results.write_text(run_dir / "spec.yaml", yaml.safe_dump(jobs.resolved_dict(spec)))
    (run_dir / "checkpoints" / "final").mkdir()
    fit_in_process(spec, checkpoint_dir=str(run_dir / "checkpoints" / "final"))
    return run_dir


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> Path:
    return _run_dir(tmp_path_factory.mktemp("predict"), "mlp_digits.yaml")


def test_predictions_of_the_held_out_rows_score_exactly_what_eval_reports(digits_run, tmp_path, capsys):
    val = load_trained(digits_run, digits_run / "checkpoints" / "final").prepared.val
    pq.write_table(val.append_column("row_id", pa.array(np.arange(len(val)))), tmp_path / "in.parquet")
    assert cli.main(["predict", str(digits_run), str(tmp_path / "in.parquet"), "--out", str(tmp_path / "out.parquet")]) == 0
    assert f"{len(val)} rows" in capsys.readouterr().out
    out = pq.read_table(tmp_path / "out.parquet").to_pydict()
    assert set(out) == {"label", "row_id", "prediction", *(f"prob_{k}" for k in range(10))}
    assert out["row_id"] == list(range(len(val)))  # other input columns ride along, in order
    probs = np.array([out[f"prob_{k}"] for k in range(10)]).T
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-5)
    assert (probs.argmax(1) == np.array(out["prediction"])).all()
    accuracy = float(np.mean(np.array(out["prediction"]) == np.array(out["label"])))
    assert accuracy == pytest.approx(evaluate_dl_run(digits_run, digits_run / "checkpoints" / "final")["val_accuracy"])


def test_regression_run_predicts_values(tmp_path):
    run_dir = _run_dir(tmp_path, "mlp_regression_sine.yaml")
    pq.write_table(pa.table({"x_0": np.array([-1.5, 0.0, 1.5], dtype=np.float32)}), tmp_path / "in.parquet")
    assert cli.main(["predict", str(run_dir), str(tmp_path / "in.parquet"), "--out", str(tmp_path / "out.parquet")]) == 0
    pred = pq.read_table(tmp_path / "out.parquet").column("prediction").to_numpy()
    assert pred.shape == (3,) and pred[0] < pred[1] < pred[2]  # sin is increasing on [-1.5, 1.5]


def test_input_without_the_models_features_is_a_one_line_error(digits_run, tmp_path, capsys):
    pq.write_table(pa.table({"pixel_0": [0.0], "other": [1.0]}), tmp_path / "in.parquet")
    assert cli.main(["predict", str(digits_run), str(tmp_path / "in.parquet"), "--out", str(tmp_path / "o.parquet")]) == 2
    err = capsys.readouterr().err
    assert "lacks 63 of the model's 64 feature columns (first: pixel_1, pixel_2, pixel_3)" in err
    assert "Traceback" not in err and not (tmp_path / "o.parquet").exists()
