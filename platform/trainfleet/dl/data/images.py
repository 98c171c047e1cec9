"""Image folders (`root/<class>/<image>`, as torchvision's ImageFolder) -> an Arrow table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from trainfleet.dl.data.builtin import table
from trainfleet.errors import UserError

SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


def class_dirs(root: str | Path) -> list[Path]:
    return sorted(p for p in Path(root).iterdir() if p.is_dir())


def image_files(folder: Path) -> list[Path]:
    """The images of one class folder, in a fixed order."""
    return sorted(f for f in folder.iterdir() if f.suffix.lower() in SUFFIXES)


def read_image_folder(root: str | Path, size: int) -> pa.Table:
    """RGB images resized to size x size, scaled to [0, 1]; label = index of the sorted class folder."""
    from PIL import Image

    classes = class_dirs(root)
    if not classes:
        raise UserError(f"{root}: no class sub-folders (expected root/<class>/<image files>)")
    images, labels = [], []
    for label, folder in enumerate(classes):
        for f in image_files(folder):
            with Image.open(f) as im:
                arr = np.asarray(im.convert("RGB").resize((size, size)), dtype=np.float32) / 255.0
            images.append(arr.transpose(2, 0, 1))  # HWC -> CHW, torch's layout
            labels.append(label)
    if not images:
        raise UserError(f"{root}: no images with suffix {sorted(SUFFIXES)}")
    out = table(np.stack(images), np.asarray(labels, dtype=np.int64), (3, size, size), len(classes), prefix="pixel")
    names = {b"trainfleet.classes": ",".join(c.name for c in classes).encode()}
    return out.replace_schema_metadata({**out.schema.metadata, **names})
