"""`trainfleet run`: a job -> a Tune experiment (one trial, or a sweep), or its one trial in this process -> a run directory."""

from __future__ import annotations

import math
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from trainfleet import jobs, results, trust
from trainfleet.devices import reserve_gpu
from trainfleet.errors import failure_line
from trainfleet.launch import cluster, executor, in_process
from trainfleet.launch.recording import Fitted

if TYPE_CHECKING:
    from trainfleet.launch.progress import RunRecorder
    from trainfleet.launch.schedulers import SweepLog


@dataclass
class RunOutcome:
    run_dir: Path
    status: str  # completed | interrupted | failed
    summary: dict[str, Any]


def trial_resources(spec: jobs.JobSpec) -> Any:
    """One placement group per trial: the learner bundle, then one bundle per rollout worker."""
    from ray import tune

    r = spec.resources
    learner = {"CPU": r.learner_cpus}
    if reserve_gpu(r.learner_gpus):
        learner["GPU"] = 1
    bundles = [learner] + [{"CPU": r.cpus_per_worker} for _ in range(r.rollout_workers)]
    return tune.PlacementGroupFactory(bundles, strategy=r.placement_strategy)


def trainable_for(spec: jobs.JobSpec) -> Any:
    from ray import tune

    if spec.is_rl:
        from trainfleet.launch.trial import rl_trial

        return tune.with_resources(rl_trial, trial_resources(spec))
    from trainfleet.dl.text import TEXT_TASKS

    if spec.task in TEXT_TASKS:
        from trainfleet.dl.text.train import text_trainable

        return text_trainable(spec)
    from trainfleet.dl.trial import dl_trainable

    return dl_trainable(spec)


def _write_inputs(run_dir: Path, job_file: str | None, raw: dict[str, Any], spec: jobs.JobSpec) -> None:
    if job_file:
        results.write_text(run_dir / "job.yaml", Path(job_file).read_text())
    results.write_text(run_dir / "spec.yaml", yaml.safe_dump(jobs.resolved_dict(spec), sort_keys=False))
    results.write_text(run_dir / "command.txt", " ".join(sys.argv) + "\n")


def _tuner(spec: jobs.JobSpec, run_dir: Path, recorder: RunRecorder, log: SweepLog, resume: bool) -> Any:
    from ray import tune

    from trainfleet.launch import schedulers, search_space

    t = spec.tune
    trainable = trainable_for(spec)
    callbacks = [recorder, *schedulers.callbacks(spec)]
    run_config = tune.RunConfig(
        name="tune",
        storage_path=str(run_dir),
        verbose=0,
        stop=schedulers.stopper(spec),
        callbacks=callbacks,
        checkpoint_config=tune.CheckpointConfig(num_to_keep=schedulers.checkpoints_to_keep(spec)),
        failure_config=tune.FailureConfig(max_failures=spec.checkpoint.max_failures),
    )
    if resume:
        tuner = tune.Tuner.restore(
            str(run_dir / "tune"), trainable=trainable, resume_unfinished=True, resume_errored=True
        )
        # The restored run config carries a pickled copy of the old recorder; this session's
        # recorder must be the one that sees the results (Tuner.restore takes no run_config).
        tuner._local_tuner.get_run_config().callbacks = callbacks
        return tuner
    tune_config = tune.TuneConfig(
        metric=t.metric if t else None,
        mode=t.mode if t else None,
        num_samples=t.num_samples if t else 1,
        scheduler=schedulers.scheduler(spec, log),
        search_alg=schedulers.searcher(spec, log),
        max_concurrent_trials=t.max_concurrent_trials if t else None,
        reuse_actors=t is not None,  # a sweep's next trial skips the worker start-up and imports
        trial_name_creator=lambda trial: f"{spec.name}_{trial.trial_id}",
        trial_dirname_creator=lambda trial: f"trial_{trial.trial_id}",
    )
    return tune.Tuner(
        trainable,
        param_space=search_space.param_space(spec, t),
        tune_config=tune_config,
        run_config=run_config,
    )


def _metric_value(row: dict[str, Any], metric: str) -> float:
    v = row.get(metric)
    return float("nan") if v is None else float(v)


def _best_trial(spec: jobs.JobSpec, last: dict[str, dict[str, Any]]) -> str | None:
    if not last:
        return None
    metric = spec.tune.metric if spec.tune else (results.EPISODE_RETURN_MEAN if spec.is_rl else "val_loss")
    mode = spec.tune.mode if spec.tune else ("max" if spec.is_rl else "min")
    scored = [(tid, _metric_value(row, metric)) for tid, row in last.items()]
    scored = [(tid, v) for tid, v in scored if not math.isnan(v)] or scored
    return (max if mode == "max" else min)(scored, key=lambda x: x[1])[0]


def _trial_rows(result_grid: Any, last: dict[str, dict[str, Any]], log: SweepLog) -> list[dict[str, Any]]:
    rows = []
    for res in result_grid:
        tid = (res.metrics or {}).get("trial_id") or Path(res.path).name.removeprefix("trial_")
        row: dict[str, Any] = {results.TRIAL_ID: tid}
        for path, value in (res.config or {}).get("overrides", {}).items():
            row[f"config.{path}"] = value
        row.update(last.get(tid, {}))
        row[results.TRIAL_ID] = tid
        row["status"] = "error" if res.error else "ok"
        row["error"] = str(res.error).splitlines()[0][:500] if res.error else None
        row.update(log.columns(tid))
        rows.append(row)
    return rows


def _error_message(error: BaseException) -> str:
    """One line for a failed trial (Tune wraps the trial's own exception as its `cause`)."""
    return failure_line(getattr(error, "cause", None) or error)


def run_job(
    spec: jobs.JobSpec,
    raw: dict[str, Any],
    *,
    job_file: str | None = None,
    output_root: str | Path = "runs",
    address: str | None = None,
    resume_dir: str | Path | None = None,
    dashboard: bool = False,
    stream=None,
) -> RunOutcome:
    """Run a validated job to completion (or Ctrl-C); always leaves a consistent run dir.

    A job that needs nothing from Ray runs in this process (`executor.py`, `in_process.py`);
    the rest is a Tune experiment. Ctrl-C on Tune is Tune's: the first SIGINT stops the trials
    and saves the experiment state, so `--resume RUN_DIR` continues from each trial's last checkpoint.
    """
    address = cluster.target_address(address)
    spec = executor.resolve(spec, address, resume_dir)
    local = spec.resources.executor == "in_process"
    if resume_dir:
        if local:
            in_process.check_resumable(Path(resume_dir), spec)
        else:  # a changed or foreign run dir is refused even where resuming would load nothing
            for rel in trust.verify(resume_dir):  # before Tune unpickles anything in it
                print(f"{rel}: changed after its last signature (the driver stopped before signing it); "
                      "resuming from the last signed copy", file=stream or sys.stdout)
        done = results.completed_summary(Path(resume_dir))
        if done is not None:  # already at its stop: resuming would only overwrite its summary
            return RunOutcome(run_dir=Path(resume_dir).resolve(), status="completed", summary=done)
    else:
        results.check_output_root(output_root)
    if not address:
        cluster.check_fits(spec, job_file, None)
    t_start = time.perf_counter()
    startup_s = 0.0 if local else cluster.connect(address, dashboard=dashboard)
    if address:
        cluster.check_fits(spec, job_file, address)

    fresh = not resume_dir
    run_dir = results.new_run_dir(output_root, spec.name) if fresh else Path(resume_dir).resolve()
    sweep = spec.tune is not None
    try:
        if fresh:
            _write_inputs(run_dir, job_file, raw, spec)
        tune_run = None if local else _TuneRun(spec, run_dir, stream, resume=not fresh)
    except BaseException:
        if fresh:  # nothing ran: leave no half-made run directory behind
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    fitted = in_process.fit(spec, run_dir, stream) if tune_run is None else tune_run.fit()
    best = _best_trial(spec, fitted.last_result)
    _finalise_checkpoints(run_dir, sweep, best)
    if fitted.trial_rows is not None:
        results.write_trials(run_dir, fitted.trial_rows)
    final = fitted.last_result.get(best, {}) if best else {}
    summary = {
        "name": spec.name,
        "kind": "rl" if spec.is_rl else "dl",
        "algorithm": spec.algorithm,
        "model": spec.model,
        "backend": spec.backend,
        "seed": spec.seed,
        "executor": spec.resources.executor,
        "status": fitted.status,
        "error": fitted.error,
        "stop_reason": "interrupted" if fitted.status == "interrupted" else final.get("stop_reason"),
        "final_metrics": {k: v for k, v in final.items() if k != "stop_reason"},
        "best_trial": best,
        "trials": fitted.trials,
        "startup_s": round(startup_s, 3),
        "train_s": round(fitted.train_s, 3),
        "wall_s": round(time.perf_counter() - t_start, 3),
        "run_dir": str(run_dir),
        "versions": results.versions(),
        "git_sha": results.git_sha(),
    }
    results.write_json(run_dir / "summary.json", summary)
    return RunOutcome(run_dir=run_dir, status=fitted.status, summary=summary)


class _TuneRun:
    """The job as a Tune experiment: its Tuner, the driver's recorder, and how its trials ended."""

    def __init__(self, spec: jobs.JobSpec, run_dir: Path, stream: Any, resume: bool) -> None:
        from trainfleet.launch.progress import RunRecorder, TrialTable
        from trainfleet.launch.schedulers import SweepLog

        self.spec = spec
        self.log = SweepLog()
        sweep = spec.tune is not None
        self.recorder = RunRecorder(run_dir, sweep=sweep, stream=stream,
                                    table=TrialTable(spec.tune, self.log) if sweep else None)
        self.tuner = _tuner(spec, run_dir, self.recorder, self.log, resume=resume)

    def fit(self) -> Fitted:
        t_train = time.perf_counter()
        try:
            grid = self.tuner.fit()
        except KeyboardInterrupt:  # a second Ctrl-C skips Tune's graceful stop; still record what ran
            grid = None
        train_s = time.perf_counter() - t_train
        recorder = self.recorder
        recorder.metrics.flush()
        recorder.signer.sign()  # Tune's final experiment-state save
        status, error_text = "completed", None
        errors = [r.error for r in grid if r.error] if grid is not None else []
        if grid is None or recorder.unfinished:
            status = "interrupted"
        elif errors and len(errors) == len(grid):
            status, error_text = "failed", _error_message(errors[0])
        rows = _trial_rows(grid, recorder.last_result, self.log) if self.spec.tune and grid is not None else None
        trials = len(grid) if grid is not None else len(recorder.last_result)
        return Fitted(status, error_text, recorder.last_result, train_s, trials, rows)


def _finalise_checkpoints(run_dir: Path, sweep: bool, best: str | None) -> None:
    ckpts = run_dir / "checkpoints"
    source = ckpts / (best if sweep and best else "latest")
    if source.is_dir():
        results.replace_dir(source, ckpts / "final")
