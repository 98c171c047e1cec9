"""`trainfleet detect --weights FILE IMAGE...`: a detector from a weights file, its boxes drawn to PNGs.

The notes load a pretrained YOLOv5s through torch.hub, which downloads code and weights; this
machine reaches no network, and running downloaded code is what a weights-only file avoids. So
the path is the same (load weights, run inference, draw boxes) for a user-supplied file written
by `save_detector` (or a yolo/detr run directory: its final checkpoint), a dict of plain values
and tensors read with torch.load(weights_only=True):

    {"format": "trainfleet-detector-1", "model": "yolo" | "detr", "hparams": {...},
     "image_shape": [C, H, W], "classes": ["circle", ...], "state_dict": {...}}

Images are read with Pillow, converted to RGB (or L for one channel), resized to the model's
input size; boxes are drawn on the original image, enlarged for small images so labels stay legible.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from trainfleet import registry
from trainfleet.errors import UserError, first_line
from trainfleet.rl.core.checkpoint import load_weights_only

FORMAT = "trainfleet-detector-1"
DETECTORS = ("yolo", "detr")
MIN_SIDE = 256  # smaller images are enlarged (nearest) before drawing
COLOURS = ("#ff3b30", "#34c759", "#0a84ff", "#ffd60a", "#bf5af2", "#ff9f0a", "#64d2ff")


@dataclass
class LoadedDetector:
    model: Any
    classes: list[str]
    shape: tuple[int, int, int]


def save_detector(path: str | Path, name: str, model: nn.Module, hparams: dict[str, Any],
                  shape: tuple[int, int, int], classes: list[str]) -> None:
    """Write `model` (a registered detector) as a weights file `trainfleet detect` reads."""
    torch.save({"format": FORMAT, "model": name, "hparams": hparams, "image_shape": list(shape),
                "classes": list(classes), "state_dict": model.state_dict()}, path)


def load_run_detector(run_dir: Path) -> LoadedDetector:
    """A detect run's final model (its checkpoint is weights-only too); classes named for the shape scenes."""
    from trainfleet.dl import checkpoint
    from trainfleet.dl.build import build
    from trainfleet.dl.data.shapes import SHAPES
    from trainfleet.results import final_checkpoint

    loaded = checkpoint.read(final_checkpoint(run_dir))
    if loaded.spec.model not in DETECTORS:
        raise UserError(f"{run_dir}: a {loaded.spec.model} run, not a detector's ({', '.join(DETECTORS)})")
    _, _, model = build(loaded.spec, loaded.info)
    model.load_state_dict(loaded.state["model"])
    n = int(loaded.info.num_classes or 1)
    shapes = (loaded.spec.data or {}).get("dataset") in ("shapes", "shapes-test")
    c, h, w = loaded.info.shape
    return LoadedDetector(model.eval(), list(SHAPES) if shapes else [str(i) for i in range(n)], (c, h, w))


def load_detector(path: str | Path) -> LoadedDetector:
    """From a weights file, or from a detect run's directory."""
    from trainfleet.dl.data.source import DataInfo

    p = Path(path)
    if p.is_dir():
        return load_run_detector(p)
    if not p.is_file():
        raise UserError(f"{p}: no such weights file")
    blob = load_weights_only(p)
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise UserError(f"{p}: not a trainfleet detector file (expected a dict with format {FORMAT!r}; "
                        "write one with trainfleet.dl.detection.infer.save_detector)")
    name = blob.get("model")
    if name not in DETECTORS:
        raise UserError(f"{p}: model {name!r} is not a detector ({', '.join(DETECTORS)})")
    cls = registry.MODELS[name].load()
    try:
        hp = cls.Hparams.model_validate(blob["hparams"])
        c, h, w = (int(d) for d in blob["image_shape"])
        shape = (c, h, w)
        classes = [str(c) for c in blob["classes"]]
        model = cls(hp, DataInfo(shape, len(classes), (), "label"), len(classes))
        model.load_state_dict(blob["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise UserError(f"{p}: the weights do not build a {name} ({first_line(err)})") from None
    return LoadedDetector(model.eval(), classes, shape)


def read_image(path: Path, shape: tuple[int, int, int]) -> tuple[Any, torch.Tensor]:
    """(the original RGB image, the model's (1, C, H, W) input in [0, 1])."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            original = im.convert("RGB")
    except (OSError, UnidentifiedImageError) as err:
        raise UserError(f"{path}: not a readable image ({first_line(err)})") from None
    c, h, w = shape
    resized = original.convert("L" if c == 1 else "RGB").resize((w, h), Image.Resampling.BILINEAR)
    x = np.asarray(resized, dtype=np.float32).reshape(h, w, c) / 255.0
    return original, torch.from_numpy(x).permute(2, 0, 1)[None].contiguous()


def draw(image: Any, detections: dict[str, torch.Tensor], shape: tuple[int, int, int], classes: list[str]) -> Any:
    from PIL import Image, ImageDraw

    scale = max(1, -(-MIN_SIDE // min(image.size)))
    out = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    sx, sy = out.width / shape[2], out.height / shape[1]
    pen = ImageDraw.Draw(out)
    for box, score, label in zip(detections["boxes"].tolist(), detections["scores"].tolist(), detections["labels"].tolist()):
        x0, y0, x1, y1 = box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy
        colour = COLOURS[label % len(COLOURS)]
        pen.rectangle([x0, y0, x1, y1], outline=colour, width=2)
        pen.text((x0 + 2, max(y0 - 11, 0)), f"{classes[label]} {score:.2f}", fill=colour)
    return out


def detect_images(weights: str | Path, images: list[str], out_dir: str | Path, min_score: float = 0.3) -> list[tuple[Path, int]]:
    """Draw each image's detections scored >= min_score to OUT_DIR/<stem>.boxes.png; (path, boxes drawn) each."""
    torch.set_num_threads(1)
    det = load_detector(weights)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in images:
        original, x = read_image(Path(name), det.shape)
        with torch.no_grad():
            found = det.model.detect(det.model(x))[0]
        keep = found["scores"] >= min_score
        found = {k: v[keep] for k, v in found.items()}
        target = out / f"{Path(name).stem}.boxes.png"
        draw(original, found, det.shape, det.classes).save(target)
        written.append((target, int(keep.sum())))
    return written
