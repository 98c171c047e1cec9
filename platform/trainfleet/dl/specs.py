"""Validation of DL jobs, called by `jobs.parse_spec` before anything starts.

Names (task, model, dataset), data files and columns are checked here so that a typo fails
in a second with exit 2 and the field path, not after Ray Train has started its workers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import ValidationError

from trainfleet import registry
from trainfleet.dl.tasks import TASK_NAMES
from trainfleet.dl.tasks.segment import SEGMENT_LOSSES
from trainfleet.dl.text import TEXT_TASKS
from trainfleet.errors import SpecError, did_you_mean, excerpt
from trainfleet.schema import JobSpec

# Models that cannot be data-parallel: the perceptron's rule and the GAN's two optimisers
# step outside a single DDP forward/backward.
SINGLE_WORKER = {"perceptron", "gan", "dcgan", "glove", "tfidf", "lstm_lm"}
TASKS_OF = {
    "perceptron": {"classify"},
    "autoencoder": {"reconstruct"}, "denoising_autoencoder": {"reconstruct"}, "conv_autoencoder": {"reconstruct"},
    "gan": {"generate"}, "dcgan": {"generate"},
    "tfidf": {"embed"}, "skipgram": {"embed"}, "cbow": {"embed"}, "glove": {"embed"}, "lstm_lm": {"language_model"},
    "captioner": {"caption"}, "merge_captioner": {"caption"}, "video_to_text": {"caption"},
    "unet": {"segment"}, "attention_unet": {"segment"}, "yolo": {"detect"}, "detr": {"detect"},
}
DEFAULT_TASKS = {"classify", "regress"}
MAX_FILE_NAME, MAX_PATH = 255, 4096  # Linux's NAME_MAX and PATH_MAX


def hparams_entry(spec: JobSpec, *, file: str | None = None) -> registry.Entry:
    assert spec.model is not None, "a DL job names a model (schema.JobSpec)"
    return registry.named(registry.MODELS, "model", spec.model, path="model", file=file)


def data_spec(spec: JobSpec, *, file: str | None = None) -> Any:
    from trainfleet.dl.data.source import DataSpec

    if spec.data is None:
        raise SpecError("a DL job needs `data:` (e.g. {dataset: digits} or {path: file.parquet})", file=file, path="data")
    try:
        return DataSpec.model_validate(spec.data)
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        msg = first["msg"]
        if first["type"] == "extra_forbidden":
            msg = f"unknown field{did_you_mean(str(first['loc'][-1]), DataSpec.model_fields)}"
        raise SpecError(msg, file=file, path=f"data.{loc}" if loc else "data") from None


def check(spec: JobSpec, *, file: str | None = None) -> None:
    """Task/model/dataset names, data paths and columns, worker count (raises SpecError)."""
    from trainfleet.dl.data import source

    names = TASK_NAMES + TEXT_TASKS
    if spec.task is None:
        raise SpecError(f"a DL job needs `task:` ({', '.join(names)})", file=file, path="task")
    if spec.task not in names:
        raise SpecError(f"unknown task {excerpt(spec.task)}{did_you_mean(spec.task, names)}; one of {', '.join(names)}",
                        file=file, path="task")
    allowed = TASKS_OF.get(spec.model or "", DEFAULT_TASKS)
    if spec.task not in allowed:
        raise SpecError(f"model {spec.model!r} does task {' or '.join(sorted(allowed))}, not {excerpt(spec.task)}", file=file, path="task")
    if getattr(spec.typed_hparams, "loss", None) == "mape" and spec.task != "regress":
        raise SpecError("mape divides by the target, so it is for task: regress (targets away from zero)",
                        file=file, path="hparams.loss")
    r = spec.resources
    if r.trainer == "in_trial" and (r.num_workers > 1 or r.use_gpu is True):
        raise SpecError("in_trial trains in one CPU process; several workers or GPUs need trainer: ray_train (or auto)",
                        file=file, path="resources.trainer")
    if spec.model in SINGLE_WORKER and spec.resources.num_workers > 1:
        raise SpecError(f"{spec.model!r} trains on one worker (its update is not a single DDP step); set num_workers: 1",
                        file=file, path="resources.num_workers")
    ds = data_spec(spec, file=file)
    for key in ("path", "val_path", "test_path", "image_folder"):
        _check_path(getattr(ds, key), f"data.{key}", file)
    if ds.dataset:
        registry.named(registry.DATASETS, "dataset", ds.dataset, path="data.dataset", file=file)
        schema = registry.DATASETS[ds.dataset].load()().schema
    elif ds.image_folder:
        _check_image_folder(ds.image_folder, file)
        return
    else:
        for key in ("path", "val_path", "test_path"):
            if getattr(ds, key):
                _check_rows(getattr(ds, key), f"data.{key}", file)
        schema = source.read_schema(ds.path)
    if spec.task in TEXT_TASKS:
        if "text" not in schema.names:
            raise SpecError(f"a text job reads a `text` column; the data has {', '.join(schema.names[:12])}",
                            file=file, path="data")
        return
    _check_columns(spec, ds, schema, file)
    _check_fits_data(spec, ds, schema, file)
    if spec.model == "transfer":
        _check_transfer(spec, file)


def _check_path(value: str | None, path: str, file: str | None) -> None:
    """A local path the filesystem can hold: data is read from paths every node sees (a bucket
    through a mount), not through URIs."""
    if value is None:
        return
    if "://" in value and not value.startswith("file://"):
        scheme = value.split("://", 1)[0]
        raise SpecError(f"unsupported address scheme {excerpt(scheme + '://')}: give a local path (mount a bucket "
                        "where every node sees it)", file=file, path=path)
    if len(value.encode()) > MAX_PATH or any(len(part.encode()) > MAX_FILE_NAME for part in value.split("/")):
        raise SpecError(f"{excerpt(value)} is longer than a file name or path may be ({MAX_FILE_NAME} bytes a name, "
                        f"{MAX_PATH} a path)", file=file, path=path)


def _check_rows(value: str, path: str, file: str | None) -> None:
    """The file exists, is Parquet, and holds rows."""
    from trainfleet.dl.data import source

    if not source.exists(value):
        raise SpecError(f"no such Parquet file or directory: {excerpt(value, 200, quote=False)}", file=file, path=path)
    try:
        rows = source.count_rows(value)
    except (OSError, ValueError) as err:
        raise SpecError(f"cannot read {excerpt(value, 200, quote=False)} as Parquet: {excerpt(err, 200, quote=False)}",
                        file=file, path=path) from None
    if rows < 2:
        raise SpecError(f"{excerpt(value, 200, quote=False)} holds {rows} row(s); training needs data", file=file,
                        path=path)


def _check_image_folder(value: str, file: str | None) -> None:
    from trainfleet.dl.data.images import SUFFIXES, class_dirs, image_files

    if not Path(value).is_dir():
        raise SpecError(f"no such directory: {excerpt(value, 200, quote=False)}", file=file, path="data.image_folder")
    classes = class_dirs(value)
    if not any(image_files(folder) for folder in classes):
        raise SpecError(f"no images in {excerpt(value, 200, quote=False)}: expected one sub-folder per class holding "
                        f"{', '.join(sorted(SUFFIXES))} files", file=file, path="data.image_folder")


def _check_columns(spec: JobSpec, ds: Any, schema: Any, file: str | None) -> None:
    names = list(schema.names)
    if spec.task == "caption" and "tokens" not in names:
        raise SpecError("caption reads reference captions from a `tokens` column (e.g. dataset shapes or "
                        f"moving-digits); the data has {', '.join(names[:12])}", file=file, path="data")
    if spec.task == "segment" and "mask" not in names:
        raise SpecError("segment reads per-pixel classes from a `mask` column (e.g. dataset shapes); the data has "
                        f"{', '.join(names[:12])}", file=file, path="data")
    if spec.task == "detect" and not {"boxes", "box_labels"} <= set(names):
        raise SpecError("detect reads `boxes` (x0, y0, x1, y1 per object) and `box_labels` columns (e.g. dataset "
                        f"shapes); the data has {', '.join(names[:12])}", file=file, path="data")
    if spec.task == "detect" and getattr(spec.typed_hparams, "loss", None) is not None:
        raise SpecError("a detector trains on its own loss (objectness/box/class terms or the set loss); "
                        "leave `loss` unset", file=file, path="hparams.loss")
    if spec.task == "segment" and getattr(spec.typed_hparams, "loss", None) not in SEGMENT_LOSSES:
        raise SpecError("segment trains on ce or bce (each plus Dice)", file=file, path="hparams.loss")
    needs_label = spec.task in ("classify", "regress")
    if needs_label and ds.label_column not in names:
        raise SpecError(f"no column {excerpt(ds.label_column)} in the data{did_you_mean(ds.label_column, names)}; "
                        f"columns: {', '.join(names[:12])}{' ...' if len(names) > 12 else ''}",
                        file=file, path="data.label_column")
    label_type = schema.field(ds.label_column).type if ds.label_column in names else None
    if spec.task == "classify" and not pa.types.is_integer(label_type):
        raise SpecError(f"classify needs integer class labels; column {excerpt(ds.label_column)} holds {label_type} "
                        "(use task: regress for numeric targets)", file=file, path="data.label_column")
    for i, col in enumerate(ds.features or []):
        if col not in names:
            raise SpecError(f"no column {excerpt(col)} in the data{did_you_mean(col, names)}", file=file, path=f"data.features.{i}")
    n_features = len(ds.features) if ds.features else len([n for n in names if n != ds.label_column])
    if ds.shape:
        size = 1
        for d in ds.shape:
            size *= d
        if size != n_features:
            raise SpecError(f"shape {ds.shape} holds {size} values but there are {n_features} feature columns",
                            file=file, path="data.shape")


def _check_fits_data(spec: JobSpec, ds: Any, schema: Any, file: str | None) -> None:
    """Options that need image samples, and a model's own `check_data(hp, shape)` (ValueError = misfit)."""
    from trainfleet.dl.data.augment import is_identity
    from trainfleet.dl.data.source import info_for

    shape = info_for(ds, schema).shape
    if not is_identity(ds.augment) and len(shape) not in (2, 3):
        raise SpecError(f"augment transforms images (C, H, W) or (H, W); samples here have shape {list(shape)}",
                        file=file, path="data.augment")
    if spec.task == "caption" and ds.augment is not None and (ds.augment.hflip or ds.augment.vflip):
        raise SpecError("flips would swap left/right (or above/below) in the images but not in their captions; "
                        "use rotate/shift for captioned data", file=file, path="data.augment")
    model_cls = registry.MODELS[str(spec.model)].load()
    check_data = getattr(model_cls, "check_data", None)
    if check_data is not None:
        try:
            check_data(spec.typed_hparams, shape)
        except ValueError as err:
            raise SpecError(str(err), file=file, path="hparams") from None


def _check_transfer(spec: JobSpec, file: str | None) -> None:
    from trainfleet.dl.models.transfer import BACKBONES, checkpoint_dir

    hp = spec.typed_hparams
    source, weights = hp.source, hp.weights
    for key, value in (("source", source), ("weights", weights)):
        _check_path(value, f"hparams.{key}", file)
    if weights is not None:
        backbone = hp.backbone
        if backbone not in BACKBONES:
            raise SpecError(f"unknown backbone {excerpt(backbone)}{did_you_mean(str(backbone), BACKBONES)}; "
                            f"weights files load into {', '.join(BACKBONES)}", file=file, path="hparams.backbone")
        hp_cls = registry.MODELS[backbone].load().Hparams
        try:
            hp_cls.model_validate(hp.backbone_hparams)
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise SpecError(first["msg"], file=file, path=f"hparams.backbone_hparams.{loc}") from None
    if source is not None and not (checkpoint_dir(source) / "state.pt").is_file():
        raise SpecError(f"no checkpoint in {source} (give the pre-training run's directory)", file=file, path="hparams.source")
    if weights is not None and not Path(weights).is_file():
        raise SpecError(f"no such weights file: {weights}", file=file, path="hparams.weights")
