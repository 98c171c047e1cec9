"""Ray Train V2 for DL jobs that need it: a Tune function trial that launches a `TorchTrainer`.

Used for several workers (DDP), GPUs, or `resources.trainer: ray_train` (`dl/trial.py`
decides). Train V2 deprecates `Tuner(trainer)`; the recommended shape (Ray docs,
"Hyperparameter Tuning with Ray Tune") is a Tune function that builds and fits a trainer.
The trial itself needs no CPU (it waits); each Train worker reserves its own CPU (and GPU).
Train's per-epoch reports come back to the trial through a Ray queue filled by a Train
callback, and the trial re-reports them to Tune with the checkpoint, so the platform's
recorder, ASHA and resume see the same rows and checkpoints as from the in-trial loop.

The split is prepared once in the trial and handed to the workers through the object store;
each worker batches its rank's share from memory (`InMemoryBatches`), so one Train worker
sees exactly the batches of the in-trial loop. The Ray calls are few and marked `# RAY:`.
"""

from __future__ import annotations

import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

import torch

from trainfleet import jobs
from trainfleet.devices import reserve_gpu
from trainfleet.dl import checkpoint as ckpt_files
from trainfleet.dl.data.batches import InMemoryBatches
from trainfleet.dl.data.source import DataInfo, DataSpec, prepare
from trainfleet.dl.engine import fit
from trainfleet.rl.core.checkpoint import load_state

_DONE = "__done__"


# ---------------------------------------------------------------- on each Train worker
def worker_loop(config: dict[str, Any]) -> None:
    import ray
    import ray.train
    import ray.train.torch

    torch.set_num_threads(1)  # one thread per process is fastest on small CPUs (design.md)
    spec = config["spec"]  # the trial's resolved spec object, typed hparams included
    info = DataInfo.from_dict(config["info"])
    ds = DataSpec.model_validate(spec.data)
    context = ray.train.get_context()  # RAY
    rank = context.get_world_rank()
    start = None
    resume = ray.train.get_checkpoint() or config["start"]  # RAY: Train's own restart, else the trial's start
    if resume is not None:
        with resume.as_directory() as d:
            start = load_state(d)
    train_table, val_table = ray.get(config["tables"])  # RAY: the trial's split, from the object store
    data = InMemoryBatches(train_table, val_table, info, ds.batch_size, spec.seed, rank, context.get_world_size())

    def report(metrics: dict[str, Any], checkpoint: ckpt_files.Payload | None = None) -> None:
        if checkpoint is None or rank != 0:
            ray.train.report(metrics)  # RAY: every worker reports each epoch
            return
        with tempfile.TemporaryDirectory() as d:
            ckpt_files.write(d, checkpoint, spec, info, config["split"])
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(d))  # RAY

    fit(spec, info, data, report, device=ray.train.torch.get_device(),  # RAY
        prepare=ray.train.torch.prepare_model, start=start)  # RAY: DDP when num_workers > 1


# ---------------------------------------------------------------- in the Tune trial
def use_gpu(spec: jobs.JobSpec) -> bool:
    return reserve_gpu(spec.resources.use_gpu, spec.resources.num_workers)


def train_trial(config: dict[str, Any]) -> None:
    """One Tune trial: fit a TorchTrainer, forwarding each epoch's report (and checkpoint) to Tune."""
    import ray
    from ray import tune
    from ray.train import CheckpointConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer
    from ray.train.v2.api.callback import UserCallback
    from ray.util.queue import Queue

    from trainfleet.launch import telemetry
    from trainfleet.launch.trial import trial_spec

    spec = trial_spec(config)
    ds = DataSpec.model_validate(spec.data)
    prepared = prepare(ds, spec.seed)
    queue = Queue(maxsize=1, actor_options={"num_cpus": 0})  # RAY: Train controller -> this trial

    class ToTune(UserCallback):  # runs in Train's controller after every report
        def after_report(self, run_context, metrics, checkpoint) -> None:
            import ray

            # rank 0's metrics (as Ray's TuneReportCallback), and who to stop if Tune stops the trial
            queue.put((metrics[0], checkpoint, ray.get_runtime_context().current_actor))  # RAY

    # RAY: set when Tune resumes this trial or PBT clones a donor into it. It travels in the loop
    # config: Train V2 refuses `resume_from_checkpoint` (deprecated, raised as an error).
    start = tune.get_checkpoint()
    trainer = TorchTrainer(  # RAY
        worker_loop,
        train_loop_config={"spec": spec, "info": prepared.info.to_dict(), "split": prepared.split,
                           "tables": ray.put((prepared.train, prepared.val)), "start": start},  # RAY
        scaling_config=ScalingConfig(num_workers=spec.resources.num_workers, use_gpu=use_gpu(spec)),
        run_config=RunConfig(
            name=f"train-{uuid.uuid4().hex[:8]}",
            storage_path=str(Path(tune.get_context().get_trial_dir()) / "train"),
            checkpoint_config=CheckpointConfig(num_to_keep=spec.checkpoint.keep + 2),
            callbacks=[ToTune()],
        ),
    )
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            trainer.fit()
        except BaseException as err:  # handed to the trial thread, re-raised there
            outcome["error"] = err
        finally:
            queue.put((_DONE, None, None))

    thread = threading.Thread(target=run, name="torch-trainer", daemon=True)
    thread.start()
    controller = None
    try:
        while True:
            metrics, checkpoint, controller = queue.get()
            if metrics == _DONE:
                break
            telemetry.record(spec.name, tune.get_context().get_trial_id(), metrics)  # live metrics (Prometheus)
            tune.report(metrics, checkpoint=checkpoint)  # RAY: the recorder copies it into RUN_DIR/checkpoints
    finally:
        if thread.is_alive() and controller is not None:
            _abort(controller)
    thread.join()
    if "error" in outcome:
        raise outcome["error"]


def _abort(controller: Any) -> None:
    """Tune stopped this trial (ASHA, Ctrl-C): end its Train run so the workers free their CPUs.

    Without this the TorchTrainer of a stopped trial kept training and held its workers, and
    the next trial of a sweep waited for CPUs forever.
    """
    import ray

    try:
        ray.get(controller.abort.remote(), timeout=30)  # RAY: Train's graceful abort
    except Exception:  # already gone, or stuck: make sure
        ray.kill(controller)  # RAY
