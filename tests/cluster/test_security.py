"""Secure by default: nothing in a job spec or a checkpoint file runs code, and run dirs stay put."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from trainfleet import jobs, results
from trainfleet.cli import main
from trainfleet.errors import SpecError, UserError
from trainfleet.rl.core.checkpoint import STATE_FILE, load_state, save_state

JOB = Path(__file__).resolve().parents[2] / "jobs" / "rl" / "q_learning_frozenlake.yaml"


class _Payload:
    """Unpickling this runs `touch MARKER`: what a tampered checkpoint or spec would try."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_checkpoint_with_code_is_refused_unrun(tmp_path):
    marker = tmp_path / "pwned"
    torch.save({"q": torch.zeros(3), "evil": _Payload(marker)}, tmp_path / STATE_FILE)
    with pytest.raises(UserError, match="not a readable weights-only checkpoint"):
        load_state(tmp_path)
    assert not marker.exists()


def test_checkpoint_round_trip_is_plain_data(tmp_path):
    state = {"q": np.arange(6, dtype=np.float32).reshape(2, 3), "rng": {"step": 7}, "w": torch.ones(2)}
    save_state(tmp_path, state)
    back = load_state(tmp_path)
    assert back["q"].dtype == np.float32 and np.array_equal(back["q"], state["q"])
    assert back["rng"] == {"step": 7} and torch.equal(back["w"], state["w"])


def test_yaml_python_tag_is_rejected_unrun(tmp_path, capsys):
    marker = tmp_path / "pwned"
    job = tmp_path / "evil.yaml"
    job.write_text(JOB.read_text() + f"extra: !!python/object/apply:os.system ['touch {marker}']\n")
    assert main(["validate", str(job)]) == 2
    assert main(["run", str(job), "--output", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "evil.yaml" in err and "malformed YAML" in err and "Traceback" not in err
    assert not marker.exists() and not (tmp_path / "runs").exists()


def test_spec_cannot_import_modules_unless_the_user_opts_in(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TRAINFLEET_ALLOW_IMPORTS", raising=False)
    marker = tmp_path / "imported"
    (tmp_path / "sneaky.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert main(["validate", str(JOB), "--set", "algorithm=sneaky:Anything"]) == 2
    err = capsys.readouterr().err
    assert "algorithm" in err and "TRAINFLEET_ALLOW_IMPORTS" in err and "Traceback" not in err
    assert not marker.exists()


@pytest.mark.parametrize("name", ["../../etc", "..", "a/b", "/etc/passwd", ".hidden", "x\\..\\y", "~root"])
def test_run_name_cannot_leave_the_output_root(name, tmp_path, capsys):
    assert main(["validate", str(JOB), "--set", f"name={name}"]) == 2
    assert "name" in capsys.readouterr().err
    raw = jobs.read_yaml(JOB)
    with pytest.raises(SpecError) as info:
        jobs.parse_spec({**raw, "name": name}, file="job.yaml")
    assert info.value.path == "name"


def test_run_dir_lands_inside_output_root(tmp_path):
    root = tmp_path / "out" / ".." / "out"
    run_dir = results.new_run_dir(root, "q-learning")
    assert results.inside(tmp_path / "out", run_dir) and run_dir.parent == (tmp_path / "out").resolve()
    assert not results.inside(tmp_path / "out", tmp_path / "out" / ".." / "elsewhere")
