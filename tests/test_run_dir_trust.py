"""A run directory is data: `eval`, `report` and `run --resume` never run code found in one.

Real runs of each backend on Tune (native RL, a sweep, RLlib, DL) leave Tune's and RLlib's pickles
in their run directories (an in-process run leaves none: tests/test_in_process.py). A command-running pickle planted in every one of them is never
run; `--resume` refuses a directory whose Tune files this user's trainfleet did not sign; a
`module:Class` written into a stored spec is never imported without the opt-in; and files that
`report` and `eval` write replace a planted symlink instead of writing through it.
"""

from __future__ import annotations

import contextlib
import io
import json
import pickle
import shutil
from pathlib import Path

import pytest
import yaml

from trainfleet import jobs, registry, trust
from trainfleet.cli import main
from trainfleet.errors import UserError
from trainfleet.launch.run import run_job

ROOT = Path(__file__).resolve().parents[1]
JOBS = ROOT / "jobs"

RUNS = {
    "native": (JOBS / "rl" / "q_learning_frozenlake.yaml",
               {"stop.iterations": 2, "checkpoint.every": 1, "hparams.episodes_per_iteration": 50,
                "resources.executor": "ray"}),
    "sweep": (JOBS / "sweeps" / "q_learning_alpha_epsilon.yaml",
              {"tune.space": {"hparams.alpha": {"grid": [0.1, 0.5]}}, "hparams.episodes_per_iteration": 20}),
    "rllib": (JOBS / "rl" / "ppo_cartpole_rllib.yaml",
              {"stop.iterations": 1, "env.num_envs": 1, "hparams.train_batch_size": 200,
               "hparams.minibatch_size": 100, "hparams.num_epochs": 1}),
    "dl": (JOBS / "dl" / "mlp_xor.yaml", {"hparams.epochs": 2, "stop.epochs": 2, "resources.executor": "ray"}),
}


@pytest.fixture(scope="module")
def pristine(ray_session, tmp_path_factory) -> dict[str, Path]:
    """name -> the run directory a real `trainfleet run` of that backend left."""
    out = {}
    for name, (job, overrides) in RUNS.items():
        spec, raw = jobs.load_job(job, overrides)
        outcome = run_job(spec, raw, job_file=str(job), output_root=tmp_path_factory.mktemp(name), stream=io.StringIO())
        assert outcome.status == "completed", outcome.summary
        out[name] = outcome.run_dir
    return out


@pytest.fixture
def copy_of(pristine, tmp_path):
    def copy(name: str) -> Path:
        return Path(shutil.copytree(pristine[name], tmp_path / name, symlinks=True))
    return copy


def cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue() + err.getvalue()


class Payload:
    """Unpickling this creates `marker`: any code path that unpickles it has run planted code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def pickle_files(run_dir: Path) -> list[Path]:
    """Every file that is a pickle: by name, or by the pickle protocol's first byte."""
    found = []
    for path in run_dir.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with open(path, "rb") as f:
                head = f.read(2)
            if path.suffix == ".pkl" or (len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5):
                found.append(path)
    return found


def eval_argv(name: str, run_dir: Path) -> list[str]:
    return ["eval", str(run_dir)] + ([] if name == "dl" else ["--episodes", "2"])


@pytest.mark.parametrize("name", list(RUNS))
def test_planted_pickles_never_run(copy_of, tmp_path, name):
    run_dir = copy_of(name)
    marker = tmp_path / "payload-ran"
    planted = pickle_files(run_dir)
    assert any(p.name == "tuner.pkl" for p in planted), planted
    if name == "rllib":
        assert any(p.name == "class_and_ctor_args.pkl" for p in planted), planted
    for path in planted:
        path.write_bytes(pickle.dumps(Payload(marker)))

    rc, out = cli(*eval_argv(name, run_dir))
    assert rc == 0, out[-1500:]
    rc, out = cli("report", str(run_dir))
    assert rc == 0, out[-1500:]
    rc, out = cli("run", "--resume", str(run_dir))
    assert rc == 2 and "not signed by this user's trainfleet" in out and "trainfleet run" in out, out[-1500:]
    assert len(out.strip().splitlines()) == 1 and "Traceback" not in out
    assert not marker.exists(), "a pickle from the run directory was loaded"


@pytest.mark.parametrize("name", list(RUNS))
def test_a_signed_copy_verifies_and_a_changed_file_does_not(copy_of, name):
    run_dir = copy_of(name)
    trust.verify(run_dir)  # a copy of one's own run stays resumable
    tuner = next(run_dir.rglob("tuner.pkl"))
    data = bytearray(tuner.read_bytes())
    data[-2] ^= 0xFF
    tuner.write_bytes(bytes(data))
    with pytest.raises(UserError, match="tuner.pkl: not signed"):
        trust.verify(run_dir)


@pytest.mark.parametrize("name", list(RUNS))
def test_the_signing_secret_never_lands_in_a_run_dir(pristine, name):
    """Tune pickles the run's callbacks (the signer among them) into the run directory."""
    key = trust.user_secret()
    for path in pristine[name].rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert key not in data and key.hex().encode() not in data, path


def test_state_a_killed_driver_left_unsigned_is_put_back_from_its_last_signed_copy(copy_of):
    """Tune rewrites its experiment state from a background thread; a SIGKILL can land before the
    signer sees the newest bytes. Resume then goes on from the last signed state, never the unsigned one."""
    run_dir = copy_of("native")
    state = next((run_dir / "tune").glob("experiment_state-*.json"))
    signed = state.read_bytes()
    state.write_bytes(signed.replace(b"{", b'{"newer": 1, ', 1))  # what the killed driver's sync wrote
    assert trust.verify(run_dir) == [state.relative_to(run_dir).as_posix()]
    assert state.read_bytes() == signed
    assert trust.verify(run_dir) == []

    state.write_bytes(b"{}")
    copy = run_dir / trust.SNAPSHOT_DIR / state.relative_to(run_dir)
    copy.write_bytes(copy.read_bytes() + b" ")  # a changed signed copy is no way round the signature
    with pytest.raises(UserError, match="experiment_state-.*not signed"):
        trust.verify(run_dir)
    copy.unlink()
    with pytest.raises(UserError, match="experiment_state-.*not signed"):
        trust.verify(run_dir)


def test_another_users_secret_or_no_signatures_is_refused(copy_of, tmp_path, monkeypatch):
    run_dir = copy_of("native")
    monkeypatch.setenv(trust.SECRET_ENV, str(tmp_path / "other-user" / "secret"))
    with pytest.raises(UserError, match="not signed by this user's trainfleet"):
        trust.verify(run_dir)
    assert (tmp_path / "other-user" / "secret").stat().st_mode & 0o777 == 0o600
    (run_dir / trust.SIGNATURES_FILE).unlink()
    with pytest.raises(UserError, match="signatures.json: missing"):
        trust.verify(run_dir)


def test_a_secret_others_can_read_is_refused(tmp_path, monkeypatch):
    secret = tmp_path / "secret"
    monkeypatch.setenv(trust.SECRET_ENV, str(secret))
    trust.user_secret()
    secret.chmod(0o644)
    with pytest.raises(UserError, match="readable by other users"):
        trust.user_secret()


@pytest.mark.parametrize("where", ["trial_spec.json", "spec.yaml"])
def test_a_module_in_a_stored_spec_is_never_imported(copy_of, tmp_path, monkeypatch, where):
    run_dir = copy_of("native")
    marker = tmp_path / "module-imported"
    (tmp_path / "planted_algorithm.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(registry.ALLOW_IMPORTS_ENV, raising=False)
    if where == "spec.yaml":
        spec = yaml.safe_load((run_dir / where).read_text())
        spec["algorithm"] = "planted_algorithm:Algo"
        (run_dir / where).write_text(yaml.safe_dump(spec))
    else:
        path = run_dir / "checkpoints" / "final" / where
        spec = json.loads(path.read_text())
        spec["algorithm"] = "planted_algorithm:Algo"
        path.write_text(json.dumps(spec))
    commands = [eval_argv("native", run_dir)] + ([["run", "--resume", str(run_dir)]] if where == "spec.yaml" else [])
    for argv in commands:  # (resume reads spec.yaml; the checkpoint's own spec is eval's)
        rc, out = cli(*argv)
        assert rc == 2 and registry.ALLOW_IMPORTS_ENV in out and where in out, out[-1500:]
    assert not marker.exists()


REPORT_FILES = ("learning_curve.png", "losses.png", "trials.png")


def plant_links(run_dir: Path, outside: Path, names: tuple[str, ...]) -> None:
    outside.mkdir()
    for name in names:
        (outside / name).write_text("not yours")
        (run_dir / name).symlink_to(outside / name)


@pytest.mark.parametrize("name", ["native", "sweep"])
def test_report_replaces_a_planted_symlink_instead_of_writing_through_it(copy_of, tmp_path, name):
    run_dir = copy_of(name)
    plant_links(run_dir, tmp_path / "outside", REPORT_FILES)
    rc, out = cli("report", str(run_dir))
    assert rc == 0, out[-1500:]
    assert all((tmp_path / "outside" / f).read_text() == "not yours" for f in REPORT_FILES)
    written = [f for f in REPORT_FILES if not (run_dir / f).is_symlink()]
    assert "learning_curve.png" in written and ("trials.png" in written) == (name == "sweep"), written
    assert all((run_dir / f).stat().st_size > 0 for f in written)


def test_eval_replaces_a_planted_symlink_at_its_gif(copy_of, tmp_path):
    run_dir = copy_of("native")
    plant_links(run_dir, tmp_path / "outside", ("episode.gif",))
    rc, out = cli("eval", str(run_dir), "--episodes", "1", "--gif", str(run_dir / "episode.gif"))
    assert rc == 0, out[-1500:]
    assert (tmp_path / "outside" / "episode.gif").read_text() == "not yours"
    gif = run_dir / "episode.gif"
    assert not gif.is_symlink() and gif.read_bytes()[:6] in (b"GIF87a", b"GIF89a")
