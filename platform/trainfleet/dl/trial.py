"""The Tune trial of a DL job: the engine right here, or a TorchTrainer where it earns its cost.

Most curriculum models train for seconds on one CPU. For them (one worker, no GPU) the trial
runs `engine.fit` in its own process, as RL does with `rollout_workers: 0`: no Train
controller, worker group or placement group to start (~30 s here). Several workers (DDP),
GPUs, or `resources.trainer: ray_train` go through `dl/train.py`. Both paths report the same
rows and checkpoint files to Tune, so the recorder, ASHA, resume and `eval` see one kind of run.
"""

from __future__ import annotations

import tempfile
from typing import Any

from trainfleet import jobs


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
    from ray import tune

    from trainfleet.dl import checkpoint as ckpt_files
    from trainfleet.dl.engine import fit, in_memory
    from trainfleet.launch import telemetry
    from trainfleet.launch.trial import trial_spec
    from trainfleet.rl.core.checkpoint import load_state

    spec = trial_spec(config)
    prepared, batches = in_memory(spec)
    start = None
    resume = tune.get_checkpoint()  # RAY: set when Tune resumes this trial
    if resume is not None:
        with resume.as_directory() as d:
            start = load_state(d)
    trial_id = tune.get_context().get_trial_id()

    def report(metrics: dict[str, Any], checkpoint: ckpt_files.Payload | None = None) -> None:
        telemetry.record(spec.name, trial_id, metrics)  # live metrics (Prometheus)
        if checkpoint is None:
            tune.report(metrics)  # RAY
            return
        with tempfile.TemporaryDirectory() as d:
            ckpt_files.write(d, checkpoint, spec, prepared.info, prepared.split)
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))  # RAY: the recorder copies it

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
