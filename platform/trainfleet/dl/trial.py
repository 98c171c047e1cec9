"""The Tune trial of a DL job: the engine right here, or a TorchTrainer where it earns its cost.

Most curriculum models train for seconds on one CPU. For them (one worker, no GPU) the trial
runs `engine.fit` in its own process, as RL does with `rollout_workers: 0`: no Train
controller, worker group or placement group to start (~30 s here); with no Tune trial at all,
the driver runs the same `run_engine` itself (`launch/in_process.py`). Several workers (DDP),
GPUs, or `resources.trainer: ray_train` go through `dl/train.py`. Both paths report the same
rows and checkpoint files to Tune, so the recorder, ASHA, resume and `eval` see one kind of run.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainfleet import jobs

if TYPE_CHECKING:
    from trainfleet.launch.session import TrialSession


def uses_ray_train(spec: jobs.JobSpec) -> bool:
    """Whether this job runs a TorchTrainer (needs Ray started: `use_gpu: auto` asks the cluster)."""
    r = spec.resources
    if r.trainer != "auto":
        return r.trainer == "ray_train"
    if r.num_workers > 1:
        return True
    from trainfleet.dl.train import use_gpu

    return use_gpu(spec)


def engine_trial(config: dict[str, Any]) -> None:
    """One Tune trial running the shared loop in this process; resumes from Tune's checkpoint."""
    from trainfleet.launch.session import TuneSession
    from trainfleet.launch.trial import trial_spec

    spec = trial_spec(config)
    run_engine(spec, TuneSession(spec))


def run_engine(spec: jobs.JobSpec, session: TrialSession) -> None:
    """`engine.fit` on this process's data, its rows and checkpoints handed to the session."""
    from trainfleet.dl import checkpoint as ckpt_files
    from trainfleet.dl.engine import fit, in_memory
    from trainfleet.rl.core.checkpoint import load_state

    prepared, batches = in_memory(spec)
    with session.start_checkpoint() as d:
        start = load_state(d) if d is not None else None

    def report(metrics: dict[str, Any], checkpoint: ckpt_files.Payload | None = None) -> None:
        if checkpoint is None:
            session.report(metrics)
            return
        with tempfile.TemporaryDirectory() as d:
            ckpt_files.write(d, checkpoint, spec, prepared.info, prepared.split)
            session.report(metrics, checkpoint=Path(d))

    fit(spec, prepared.info, batches, report, start=start)


def dl_trainable(spec: jobs.JobSpec) -> Any:
    """What launch/run.py hands to the Tuner for a DL job."""
    from ray import tune

    if uses_ray_train(spec):
        from trainfleet.dl.train import train_trial

        # RAY: the trial only waits, so it reserves no CPU (one byte of `memory`: Tune refuses an
        # empty request); the Train workers reserve their own CPUs/GPUs.
        return tune.with_resources(train_trial, {"memory": 1})
    return tune.with_resources(engine_trial, {"CPU": 1})
