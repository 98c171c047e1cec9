"""A held-out test set beside train/validation: the same rows for every seed, scored by `eval` alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from trainfleet import cli, jobs, results
from trainfleet.dl.data.source import DataSpec, prepare, split
from trainfleet.dl.engine import fit_in_process
from trainfleet.dl.evaluate import evaluate_dl_run

JOBS = Path(__file__).resolve().parents[2] / "jobs"


def test_test_rows_are_the_same_for_every_seed_and_never_train_or_validate():
    first = split(1797, 0.2, seed=0, test_fraction=0.15)
    assert len(first.test_idx) == 270 and len(first.val_idx) == 359 and len(first.train_idx) == 1797 - 270 - 359
    for seed in (1, 2, 3):
        s = split(1797, 0.2, seed=seed, test_fraction=0.15)
        assert np.array_equal(s.test_idx, first.test_idx)
        assert not set(s.test_idx) & (set(s.train_idx) | set(s.val_idx))
        assert sorted([*s.test_idx, *s.train_idx, *s.val_idx]) == list(range(1797))
    assert not np.array_equal(split(1797, 0.2, 1, 0.15).val_idx, first.val_idx)  # validation still follows the seed


def test_without_a_test_set_the_split_is_the_one_runs_already_recorded():
    perm = np.random.default_rng(7).permutation(100)
    s = split(100, 0.2, seed=7)
    assert np.array_equal(s.val_idx, np.sort(perm[:20])) and len(s.test_idx) == 0
    assert "test_rows_sha256" not in s.record()


def test_eval_reports_test_metrics_beside_validation(tmp_path):
    spec = jobs.load_job(JOBS / "dl" / "mlp_digits.yaml", {"stop.epochs": 3, "data.test_fraction": 0.15})[0]
    run_dir = results.new_run_dir(tmp_path, spec.name)
    results.write_text(run_dir / "spec.yaml", yaml.safe_dump(jobs.resolved_dict(spec)))
    (run_dir / "checkpoints" / "final").mkdir()
    model, rows, prepared = fit_in_process(spec, checkpoint_dir=str(run_dir / "checkpoints" / "final"))
    assert not any(k.startswith("test_") for row in rows for k in row)  # training never scores the test set
    out = evaluate_dl_run(run_dir, run_dir / "checkpoints" / "final")
    assert out["n_test"] == 270 and out["n_val"] == 359
    x = torch.from_numpy(np.stack([prepared.test.column(f).to_numpy() for f in prepared.info.features], 1))
    with torch.no_grad():
        pred = model.eval()(x.reshape(-1, 1, 8, 8)).argmax(1).numpy()
    assert out["test_accuracy"] == pytest.approx(float(np.mean(pred == prepared.test.column("label").to_numpy())))
    assert out["test_accuracy"] > 0.8 and out["val_accuracy"] > 0.8


def test_fractions_leaving_no_training_rows_are_a_spec_error(capsys):
    assert cli.main(["validate", str(JOBS / "dl" / "mlp_digits.yaml"), "--set", "data.test_fraction=0.8"]) == 2
    assert "leave no training rows" in capsys.readouterr().err
    with pytest.raises(ValueError, match="`test_path` goes with `path`"):
        DataSpec.model_validate({"dataset": "digits", "test_path": "t.parquet"})


def test_a_test_file_goes_beside_a_parquet_path(tmp_path):
    from trainfleet.dl.data.source import export

    whole = export("digits", str(tmp_path))
    ds = DataSpec.model_validate({"path": whole, "test_path": whole})
    prepared = prepare(ds, 0)
    assert prepared.test is not None and len(prepared.test) == 1797
