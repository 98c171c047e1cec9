"""Ray Train V2 for DL jobs: a Tune function trial that launches a `TorchTrainer` running `engine.fit`.

Train V2 deprecates `Tuner(trainer)`; the recommended shape (Ray docs, "Hyperparameter Tuning
with Ray Tune") is a Tune function that builds and fits a trainer. The trial itself needs no
CPU (it waits); each Train worker reserves its own CPU (and GPU). Train's per-epoch reports
come back to the trial through a Ray queue filled by a Train callback, and the trial
re-reports them to Tune with the checkpoint, so the platform's recorder, ASHA and resume see
a DL run exactly like an RL trial.

The Ray calls are few and marked `# RAY:`; everything else is `engine.fit`, which also runs
without Ray.
"""

from __future__ import annotations

import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

import torch
from ray.data.collate_fn import NumpyBatchCollateFn

from trainfleet import jobs
from trainfleet.dl import checkpoint as ckpt_files
from trainfleet.dl.data.source import DataInfo, DataSpec, prepare, to_arrays
from trainfleet.dl.engine import fit
from trainfleet.rl.core.checkpoint import load_state

_DONE = "__done__"


# ---------------------------------------------------------------- on each Train worker
class ToTensors(NumpyBatchCollateFn):
    """Ray Data numpy batch (one array per column) -> {"x": features tensor, "y": labels tensor}."""

    def __init__(self, info: DataInfo) -> None:
        self.info = info

    def __call__(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(v) for k, v in to_arrays(batch, self.info).items()}


class ShardBatches:
    """This worker's share of the split, streamed from Ray Data and collated to tensors."""

    def __init__(self, train_shard: Any, val_shard: Any, info: DataInfo, batch_size: int, seed: int) -> None:
        self.train_shard, self.val_shard = train_shard, val_shard
        self.batch_size, self.seed = batch_size, seed
        self.collate = ToTensors(info)

    def train(self, epoch: int) -> Any:
        return self.train_shard.iter_torch_batches(  # RAY: Data shard -> batches
            batch_size=self.batch_size, collate_fn=self.collate,
            local_shuffle_buffer_size=max(4 * self.batch_size, 256), local_shuffle_seed=self.seed * 100_003 + epoch,
        )

    def val(self) -> Any:
        return self.val_shard.iter_torch_batches(batch_size=self.batch_size, collate_fn=self.collate)  # RAY


def worker_loop(config: dict[str, Any]) -> None:
    import ray.train
    import ray.train.torch

    torch.set_num_threads(1)  # one thread per process is fastest on small CPUs (design.md)
    spec = jobs.JobSpec.model_validate(config["spec"])
    info = DataInfo.from_dict(config["info"])
    ds = DataSpec.model_validate(spec.data)
    rank = ray.train.get_context().get_world_rank()  # RAY
    start = None
    resume = ray.train.get_checkpoint() or config["start"]  # RAY: Train's own restart, else the trial's start
    if resume is not None:
        with resume.as_directory() as d:
            start = load_state(d)
    data = ShardBatches(ray.train.get_dataset_shard("train"), ray.train.get_dataset_shard("val"),  # RAY
                        info, ds.batch_size, spec.seed)

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
def _use_gpu(spec: jobs.JobSpec) -> bool:
    want = spec.resources.use_gpu
    if want == "auto":
        import ray

        return ray.cluster_resources().get("GPU", 0) >= spec.resources.num_workers  # RAY
    return bool(want)


def _datasets(prepared: Any) -> dict[str, Any]:
    """The split as Ray Datasets; Train shards "train" and "val" across its workers (streaming_split).

    The Parquet was read with pyarrow (any pyarrow filesystem) in `prepare`, which also fixes the
    split. `ray.data.read_parquet` here hung on a 2-CPU machine with 2 workers: its read tasks wait
    for CPUs the Train workers hold. Arrow blocks already in the object store need no tasks.
    """
    import ray.data

    return {"train": ray.data.from_arrow(prepared.train), "val": ray.data.from_arrow(prepared.val)}  # RAY


def dl_trial(config: dict[str, Any]) -> None:
    """One Tune trial: fit a TorchTrainer, forwarding each epoch's report (and checkpoint) to Tune."""
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
        train_loop_config={"spec": jobs.resolved_dict(spec), "info": prepared.info.to_dict(), "split": prepared.split,
                           "start": start},
        scaling_config=ScalingConfig(num_workers=spec.resources.num_workers, use_gpu=_use_gpu(spec)),
        datasets=_datasets(prepared),
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


def dl_trainable(spec: jobs.JobSpec) -> Any:
    """What launch/run.py hands to the Tuner for a DL job."""
    from ray import tune

    # RAY: the trial only waits, so it reserves no CPU (one byte of `memory`: Tune refuses an empty
    # request); the Train workers reserve their own CPUs/GPUs.
    return tune.with_resources(dl_trial, {"memory": 1})
