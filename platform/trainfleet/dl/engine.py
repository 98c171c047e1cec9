"""The one training loop of every DL job: epochs of task steps, validation, stop checks, checkpoints.

No Ray here. `dl/trial.py` runs `fit` inside the Tune trial (`report` -> `tune.report`),
`dl/train.py` on each Ray Train worker (DDP through `prepare`, `report` ->
`ray.train.report`); tests and benchmarks run the very same function in-process (`report`
collecting rows). All of them feed it `InMemoryBatches`. With several
workers, torch.distributed sums the validation statistics so every worker reports the
same numbers.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import torch
from torch import nn

from trainfleet import jobs
from trainfleet.dl.build import build
from trainfleet.dl.checkpoint import Payload
from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.hparams import full_batch
from trainfleet.errors import NonFiniteLossError
from trainfleet.rl.core.checkpoint import optimizer_lr, restore_optimizer
from trainfleet.seeding import rng_state, seed_everything, set_rng_state
from trainfleet.stopping import stop_reason

Report = Callable[..., None]  # report(metrics: dict, checkpoint: Payload | None = None)


class EpochData(Protocol):
    def train(self, epoch: int) -> Iterable[dict[str, torch.Tensor]]: ...

    def val(self) -> Iterable[dict[str, torch.Tensor]]: ...


class Stepper:
    """zero_grad -> backward -> [unscale, clip] -> step, with a GradScaler under CUDA mixed precision."""

    def __init__(self, device: torch.device, amp: bool, grad_clip: float | None) -> None:
        self.amp = amp and device.type == "cuda"
        self.device = device
        self.grad_clip = grad_clip
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)

    def autocast(self) -> Any:
        if not self.amp:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=torch.float16)

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        if not torch.isfinite(loss.detach()):
            raise NonFiniteLossError(f"the loss became {float(loss)}; stopping (lower the learning rate?)")
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.grad_clip:
            self.scaler.unscale_(optimizer)
            params = [p for g in optimizer.param_groups for p in g["params"]]
            torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
        self.scaler.step(optimizer)
        self.scaler.update()


def _all_reduce(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """Sum (or average, for means) across DDP workers; identity when not distributed."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return dict(zip(keys, t.tolist()))


def validate(task: Any, model: nn.Module, batches: Iterable[dict[str, torch.Tensor]], hp: Any, device: torch.device) -> dict[str, float]:
    model.eval()
    sums: dict[str, float] = {}
    with torch.no_grad():
        for batch in batches:
            for k, v in task.eval_sums(model, _to(batch, device), hp).items():
                sums[k] = sums.get(k, 0.0) + v
    model.train()
    return task.metrics(_all_reduce(sums, device))


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def fit(
    spec: jobs.JobSpec,
    info: DataInfo,
    data: EpochData,
    report: Report,
    *,
    device: torch.device | None = None,
    prepare: Callable[[nn.Module], nn.Module] = lambda m: m,
    start: dict[str, Any] | None = None,
) -> nn.Module:
    """Train until a stop criterion; report one row per epoch and a checkpoint every `checkpoint.every`.

    `start` is a saved state (resume): weights, optimisers, epoch, elapsed time and RNG states.
    Returns the trained (unwrapped) model.
    """
    device = device or torch.device("cpu")
    seed_everything(spec.seed)
    task, hp, model = build(spec, info)
    model.to(device)
    if start is None:
        _prefit(model, data, device)
    opts = task.optimizers(model, hp)
    epoch, time_s = 0, 0.0
    if start is not None:
        model.load_state_dict(start["model"])
        for name, opt in opts.items():
            restore_optimizer(opt, start["optimizers"][name])
        epoch, time_s = start["epoch"], start["time_s"]
        set_rng_state(start["rng"])
    trained = prepare(model)  # DDP wrapper on several workers; `model` keeps the plain state_dict keys
    stepper = Stepper(device, hp.amp, hp.grad_clip)
    while True:
        epoch += 1
        t0 = time.perf_counter()
        trained.train()
        sums: dict[str, float] = {}
        n_batches = n_samples = 0
        for batch in data.train(epoch):
            out = task.train_step(trained, _to(batch, device), opts, stepper, hp)
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + v
            n_batches += 1
            n_samples += len(batch["x"])
        train_s = time.perf_counter() - t0
        means = _all_reduce({k: v / max(n_batches, 1) for k, v in sums.items()} | {"samples": float(n_samples)}, device)
        world = _world_size()
        metrics: dict[str, Any] = {k: v / world for k, v in means.items() if k != "samples"}
        metrics.update(validate(task, model, data.val(), hp, device))  # no DDP wrapper: shards may differ in size
        time_s += time.perf_counter() - t0
        metrics.update(epoch=epoch, iteration=epoch, time_s=time_s,
                       train_samples_per_s=means["samples"] / max(train_s, 1e-9))
        if opts:
            metrics["lr"] = optimizer_lr(next(iter(opts.values())))  # as stepped with, after any restore
        reason = stop_reason(spec.stop, metrics)
        if reason:
            metrics["stop_reason"] = reason
        payload = None
        if reason or epoch % spec.checkpoint.every == 0:
            state = {"model": model.state_dict(), "optimizers": {k: o.state_dict() for k, o in opts.items()},
                     "epoch": epoch, "time_s": time_s, "rng": rng_state()}
            payload = Payload(state, task.artifacts(model, info, spec.seed))
        report(metrics, checkpoint=payload)
        if reason:
            return model


def _prefit(model: nn.Module, data: EpochData, device: torch.device) -> None:
    """Give a model with a data-dependent start its training inputs before gradient training.

    `model.prefit(inputs)` gets a callable returning a fresh pass over this worker's training
    inputs (epoch 0's order): RBF centres by k-means, a DBN's greedy RBM pretraining. Not run
    on resume (the checkpoint holds its result); under DDP, rank 0's result is broadcast by `prepare`.
    """
    prefit = getattr(model, "prefit", None)
    if prefit is not None:
        prefit(lambda: (batch["x"].to(device) for batch in data.train(0)))


def _world_size() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


class Collect:
    """An in-process `report`: keeps every row and the last checkpoint payload."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.last_checkpoint: Payload | None = None

    def __call__(self, metrics: dict[str, Any], checkpoint: Payload | None = None) -> None:
        self.rows.append(dict(metrics))
        if checkpoint is not None:
            self.last_checkpoint = checkpoint


def in_memory(spec: jobs.JobSpec) -> tuple[Any, Any]:
    """(prepared split, its in-memory batches) of a job trained in this one process."""
    from trainfleet.dl.data.batches import InMemoryBatches
    from trainfleet.dl.data.source import DataSpec, prepare

    torch.set_num_threads(1)  # one thread per process is fastest on small CPUs (design.md)
    ds = DataSpec.model_validate(spec.data or {})
    prepared = prepare(ds, spec.seed)
    return prepared, InMemoryBatches(prepared.train, prepared.val, prepared.info, ds.batch_size, spec.seed,
                                     augment=ds.augment, full_batch=full_batch(spec.typed_hparams))


def fit_in_process(
    spec: jobs.JobSpec, report: Report | None = None, checkpoint_dir: str | None = None
) -> tuple[nn.Module, list[dict[str, Any]], Any]:
    """Prepare the job's data and run `fit` here, without Ray: for tests, notebooks and benchmarks.

    Returns the trained model, the per-epoch rows and the prepared data (split tables, info);
    with `checkpoint_dir`, the final checkpoint is written there as a Ray run would.
    """
    prepared, batches = in_memory(spec)
    collect = Collect()

    def both(metrics: dict[str, Any], checkpoint: Payload | None = None) -> None:
        collect(metrics, checkpoint)
        if report is not None:
            report(metrics, checkpoint=checkpoint)

    model = fit(spec, prepared.info, batches, both)
    if checkpoint_dir is not None:
        from trainfleet.dl.checkpoint import write

        write(checkpoint_dir, collect.last_checkpoint, spec, prepared.info, prepared.split)
    return model, collect.rows, prepared
