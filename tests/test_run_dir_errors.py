"""A damaged run directory, or a bad eval argument, is one line naming the problem, exit 2.

Each case damages a copy of a small run directory (native RL or DL, made in-process) and runs
one command on it: exit 2, one line of at most 1 KB that names the file or argument at fault,
no traceback, and nothing created or removed in the run directory.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from run_dirs import write_run_dir
from trainfleet import jobs, results, trust
from trainfleet.cli import main
from trainfleet.dl.engine import fit_in_process
from trainfleet.launch.runner import build_runner

ROOT = Path(__file__).resolve().parents[1]
JOBS = ROOT / "jobs"
FINAL = Path("checkpoints") / "final"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> dict[str, Path]:
    native = jobs.load_job(JOBS / "rl" / "q_learning_frozenlake.yaml", {"hparams.episodes_per_iteration": 20})[0]
    runner = build_runner(native)
    try:
        rl_dir = write_run_dir(tmp_path_factory.mktemp("rl"), native, runner, iterations=2)
    finally:
        runner.close()
    dl = jobs.load_job(JOBS / "dl" / "mlp_xor.yaml", {"hparams.epochs": 2, "stop.epochs": 2})[0]
    dl_dir = results.new_run_dir(tmp_path_factory.mktemp("dl"), dl.name)
    results.write_text(dl_dir / "spec.yaml", yaml.safe_dump(jobs.resolved_dict(dl)))
    (dl_dir / FINAL).mkdir()
    fit_in_process(dl, checkpoint_dir=str(dl_dir / FINAL))
    return {"rl": rl_dir, "dl": dl_dir}


def truncate(rel: str | Path) -> Callable[[Path], None]:
    def damage(run_dir: Path) -> None:
        path = run_dir / rel
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return damage


def overwrite(rel: str | Path, data: bytes) -> Callable[[Path], None]:
    return lambda run_dir: (run_dir / rel).write_bytes(data)


def remove(rel: str | Path) -> Callable[[Path], None]:
    def damage(run_dir: Path) -> None:
        path = run_dir / rel
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    return damage


def edit_json(rel: str | Path, key: str, value) -> Callable[[Path], None]:
    def damage(run_dir: Path) -> None:
        data = json.loads((run_dir / rel).read_text())
        data[key] = value
        (run_dir / rel).write_text(json.dumps(data))
    return damage


def signed_then_truncated(run_dir: Path) -> None:
    """A Tune checkpoint this user's trainfleet signed, cut short afterwards (a full disk, a bad copy)."""
    ckpt = run_dir / trust.SIGNED_DIR / "trial_0" / "checkpoint_000001"
    shutil.copytree(run_dir / FINAL, ckpt)
    (ckpt.parent / "params.json").write_text("{}")  # a Tune file beside it, signed with it
    trust.Signer(run_dir).sign()
    truncate(ckpt.relative_to(run_dir) / "state.pt")(run_dir)


def in_process_then_truncated(run_dir: Path) -> None:
    """A run the in-process executor made (no Tune state to sign), its latest checkpoint cut short."""
    spec = yaml.safe_load((run_dir / "spec.yaml").read_text())
    spec["resources"]["executor"] = "in_process"
    (run_dir / "spec.yaml").write_text(yaml.safe_dump(spec))
    shutil.copytree(run_dir / FINAL, run_dir / "checkpoints" / "latest")
    truncate(Path("checkpoints") / "latest" / "state.pt")(run_dir)


def nothing(run_dir: Path) -> None:
    pass


EVAL = ("eval", "{run}", "--episodes", "2")
REPORT = ("report", "{run}")
RESUME = ("run", "--resume", "{run}")

# id: (run, command, damage, what the one line must say)
CASES = {
    "eval-truncated-state": ("rl", EVAL, truncate(FINAL / "state.pt"), "state.pt: not a readable weights-only checkpoint"),
    "eval-garbage-state": ("rl", EVAL, overwrite(FINAL / "state.pt", b"\x00garbage" * 50), "state.pt: not a readable"),
    "eval-empty-state": ("rl", EVAL, overwrite(FINAL / "state.pt", b""), "state.pt: not a readable"),
    "eval-missing-state": ("rl", EVAL, remove(FINAL / "state.pt"), "state.pt: missing from the checkpoint"),
    "eval-no-checkpoints": ("rl", EVAL, remove("checkpoints"), "no checkpoint found"),
    "eval-corrupt-trial-spec": ("rl", EVAL, overwrite(FINAL / "trial_spec.json", b"{not json"), "trial_spec.json: not readable JSON"),
    "eval-missing-trial-spec": ("rl", EVAL, remove(FINAL / "trial_spec.json"), "trial_spec.json: missing"),
    "eval-trial-spec-unknown-algorithm": ("rl", EVAL, edit_json(FINAL / "trial_spec.json", "algorithm", "qlearning"),
                                          "trial_spec.json: algorithm: unknown algorithm"),
    "eval-state-of-another-env": ("rl", EVAL, edit_json(FINAL / "trial_spec.json", "env",
                                                        {"id": "FrozenLake-v1", "kwargs": {"map_name": "8x8"}}),
                                  "does not fit its stored spec"),
    "eval-corrupt-spec-yaml": ("rl", EVAL, overwrite("spec.yaml", b"name: [unclosed\n"), "spec.yaml: malformed YAML"),
    "eval-missing-spec-yaml": ("rl", EVAL, remove("spec.yaml"), "not a run directory (no spec.yaml)"),
    "eval-zero-episodes": ("rl", ("eval", "{run}", "--episodes", "0"), nothing, "--episodes 0: evaluate at least 1"),
    "eval-negative-episodes": ("rl", ("eval", "{run}", "--episodes", "-3"), nothing, "--episodes -3"),
    "eval-gif-in-missing-folder": ("rl", ("eval", "{run}", "--gif", "{run}/no/such/dir/ep.gif"), nothing,
                                   "does not exist"),
    "report-corrupt-metrics": ("rl", REPORT, overwrite("metrics.parquet", b"PAR1 not really"), "metrics.parquet: not a readable Parquet"),
    "report-truncated-metrics": ("rl", REPORT, truncate("metrics.parquet"), "metrics.parquet: not a readable Parquet"),
    "report-missing-metrics": ("rl", REPORT, remove("metrics.parquet"), "no metrics.parquet"),
    "report-corrupt-summary": ("rl", REPORT, overwrite("summary.json", b"{\"name\": "), "summary.json: not readable JSON"),
    "report-summary-not-an-object": ("rl", REPORT, overwrite("summary.json", b"[1, 2]"), "summary.json: expected a JSON object"),
    "report-corrupt-trials": ("rl", REPORT, overwrite("trials.parquet", b"garbage"), "trials.parquet: not a readable Parquet"),
    "resume-unsigned": ("rl", RESUME, nothing, "signatures.json: missing"),
    "resume-truncated-tune-checkpoint": ("rl", RESUME, signed_then_truncated, "state.pt: not a readable weights-only checkpoint"),
    "resume-in-process-truncated-state": ("rl", RESUME, in_process_then_truncated,
                                          "latest/state.pt: not a readable weights-only checkpoint"),
    "resume-corrupt-signatures": ("rl", RESUME, overwrite(trust.SIGNATURES_FILE, b"{oops"), "signatures.json: not readable JSON"),
    "resume-corrupt-spec-yaml": ("rl", RESUME, overwrite("spec.yaml", b"\tname: x\n"), "spec.yaml"),
    "resume-missing-spec-yaml": ("rl", RESUME, remove("spec.yaml"), "not a run directory"),
    "dl-eval-truncated-state": ("dl", ("eval", "{run}"), truncate(FINAL / "state.pt"), "state.pt: not a readable weights-only"),
    "dl-eval-corrupt-data-info": ("dl", ("eval", "{run}"), overwrite(FINAL / "data_info.json", b"[]"), "data_info.json"),
    "dl-eval-missing-split": ("dl", ("eval", "{run}"), remove(FINAL / "split.json"), "split.json: missing"),
    "dl-eval-weights-of-another-model": ("dl", ("eval", "{run}"), edit_json(FINAL / "trial_spec.json", "hparams",
                                                                            {"hidden": [5], "activation": "tanh"}),
                                         "does not fit its stored spec"),
    "dl-report-corrupt-metrics": ("dl", REPORT, overwrite("metrics.parquet", b"\x00" * 64), "metrics.parquet"),
    "data-export-into-a-file": ("rl", ("data", "export", "xor-2d", "{run}/summary.json/data"), nothing,
                                "cannot write {run}/summary.json/data/xor-2d.parquet"),
}


def listing(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@pytest.mark.parametrize("case", list(CASES))
def test_a_damaged_run_dir_is_one_line_and_exit_2(pristine, tmp_path, case):
    kind, command, damage, expected = CASES[case]
    run_dir = Path(shutil.copytree(pristine[kind], tmp_path / "run"))
    damage(run_dir)
    before = listing(run_dir)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([arg.format(run=run_dir) for arg in command])
    text = out.getvalue() + err.getvalue()
    assert rc == 2, text[-1500:]
    assert len(text.encode()) <= 1024 and len(text.strip().splitlines()) == 1, text[-1500:]
    assert "Traceback" not in text and expected.format(run=run_dir) in text, text[-1500:]
    assert listing(run_dir) == before, "the failed command created or removed files"
