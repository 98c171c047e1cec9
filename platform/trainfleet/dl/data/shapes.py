"""Generated shape scenes: RGB images with two coloured shapes, their class mask, boxes and captions.

No download: every scene comes from a seeded generator. Two objects (circle, square or
triangle; red, green, blue or yellow; random size and position) sit side by side or one above
the other on a noisy dark background. Each image has

- `label`: the shape class of the first object (left or top), for classification jobs;
- `mask`: a class mask (0 background, 1 + shape class), `boxes`: (x0, y0, x1, y1) per object
  in pixels, `box_labels`: their shape classes (for segmentation and detection);
- `tokens`: several reference captions from a small grammar ("a red circle left of a blue
  square", "a blue square right of a red circle", "there is a red circle left of a blue square"), as word
  ids of the vocabulary stored in the table's metadata.

`shapes` (2,000 scenes, seed 0) trains and validates through the job's seed-fixed split;
`shapes-test` (500 scenes, seed 1) is a separate held-out set.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa

from trainfleet.dl.data.builtin import table
from trainfleet.dl.data.captions import CAPTIONS_KEY, encode, vocabulary

SHAPES = ("circle", "square", "triangle")
COLOURS = {"red": (0.9, 0.1, 0.1), "green": (0.1, 0.8, 0.1), "blue": (0.15, 0.3, 0.95), "yellow": (0.9, 0.9, 0.1)}
RELATIONS = {"horizontal": ("left of", "right of"), "vertical": ("above", "below")}
VOCAB = vocabulary([*COLOURS, *SHAPES, "a", "there", "is", "left", "right", "of", "above", "below"])
CAPTION_LEN = 12  # <start> there is a red circle left of a blue square <end>
SIZE = 32


def _shape_mask(kind: str, cx: float, cy: float, r: float, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    dx, dy = xx - cx, yy - cy
    if kind == "circle":
        return dx * dx + dy * dy <= r * r
    if kind == "square":
        return (np.abs(dx) <= 0.8 * r) & (np.abs(dy) <= 0.8 * r)
    return (dy >= -r) & (dy <= r) & (np.abs(dx) <= (dy + r) / 2)  # triangle pointing up


def captions(first: tuple[str, str], second: tuple[str, str], layout: str) -> list[str]:
    """The references of one scene; `first` is the left (or top) object, as (colour, shape)."""
    a, b = " ".join(first), " ".join(second)
    forward, backward = RELATIONS[layout]
    return [f"a {a} {forward} a {b}", f"a {b} {backward} a {a}", f"there is a {a} {forward} a {b}"]


def facts(caption: str) -> tuple[str, ...] | None:
    """(layout, first colour, first shape, second colour, second shape) a caption states; None if it
    does not parse."""
    words = caption.split()
    if words[:2] == ["there", "is"]:
        words = words[2:]
    for layout, (forward, backward) in RELATIONS.items():
        for phrase, flip in ((forward, False), (backward, True)):
            rel = phrase.split()
            n = len(rel)
            if len(words) == 6 + n and words[0] == "a" and words[3:3 + n] == rel and words[3 + n] == "a":
                x, y = (words[1], words[2]), (words[4 + n], words[5 + n])
                first, second = (y, x) if flip else (x, y)
                return (layout, *first, *second)
    return None


def render(rng: np.random.Generator, size: int = SIZE) -> dict:
    """One scene: image (3, size, size), mask, boxes, box labels, captions and its facts."""
    image = np.clip(rng.normal(0.08, 0.04, (3, size, size)), 0, 1)
    mask = np.zeros((size, size), dtype=np.int64)
    layout = "horizontal" if rng.random() < 0.5 else "vertical"
    kinds = rng.choice(len(SHAPES), 2)
    colours = rng.choice(len(COLOURS), 2, replace=False)  # two colours: the caption names each object
    boxes, objects = [], []
    for i in range(2):
        r = rng.uniform(0.13, 0.19) * size
        along = rng.uniform(r + 1, size / 2 - 1) + i * size / 2  # first object in the first half
        across = rng.uniform(r + 1, size - r - 1)
        cx, cy = (along, across) if layout == "horizontal" else (across, along)
        kind, colour = SHAPES[kinds[i]], list(COLOURS)[colours[i]]
        pixels = _shape_mask(kind, cx, cy, r, size)
        image[:, pixels] = np.asarray(COLOURS[colour])[:, None]
        mask[pixels] = kinds[i] + 1
        ys, xs = np.nonzero(pixels)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        objects.append((colour, kind))
    return {"image": image.astype(np.float32), "mask": mask, "boxes": np.asarray(boxes, dtype=np.float32),
            "box_labels": kinds.astype(np.int64), "captions": captions(objects[0], objects[1], layout),
            "facts": (layout, *objects[0], *objects[1])}


def scenes(n: int, seed: int, size: int = SIZE) -> pa.Table:
    rng = np.random.default_rng(seed)
    drawn = [render(rng, size) for _ in range(n)]
    images = np.stack([s["image"] for s in drawn])
    labels = np.asarray([s["box_labels"][0] for s in drawn])
    out = table(images, labels, (3, size, size), len(SHAPES), prefix="pixel")
    extra = {
        "mask": pa.array([s["mask"].ravel().astype(np.int8) for s in drawn], pa.list_(pa.int8())),
        "boxes": pa.array([s["boxes"].ravel() for s in drawn], pa.list_(pa.float32())),
        "box_labels": pa.array([s["box_labels"] for s in drawn], pa.list_(pa.int64())),
        "tokens": pa.array([encode(s["captions"], VOCAB, CAPTION_LEN).tolist() for s in drawn], pa.list_(pa.list_(pa.int64()))),
    }
    for name, column in extra.items():
        out = out.append_column(name, column)
    return out.replace_schema_metadata({**out.schema.metadata, CAPTIONS_KEY: " ".join(VOCAB).encode()})


@cache  # validation reads the schema, the run the rows: generate once per process
def shapes() -> pa.Table:
    """2,000 generated 32x32 scenes of two shapes with masks, boxes and three reference captions (seed 0)."""
    return scenes(2000, seed=0)


@cache
def shapes_test() -> pa.Table:
    """500 more scenes from another seed: a test set no job's split has seen."""
    return scenes(500, seed=1)
