"""Moving digits: short grey videos of one scikit-learn digit sliding over a larger canvas, with captions.

Each video is T frames of a 20x20 canvas: the 8x8 digit moves 2 pixels a frame in one direction
for the first half and in another for the second (the opposite one is a bounce), and its
captions say so: "digit 7 moves right then down", "the 7 moves right then down". Frames are
stored frame-major as pixel columns (shape (T, 1, H, W)), `label` is the digit, `tokens` the
reference captions (vocabulary in the metadata). Every digit of the set becomes one video (seed 0).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa

from trainfleet.dl.data.builtin import _digits_arrays, table
from trainfleet.dl.data.captions import CAPTIONS_KEY, encode, vocabulary

DIRECTIONS = {"right": (1, 0), "left": (-1, 0), "down": (0, 1), "up": (0, -1)}
DIGIT_WORDS = tuple(str(d) for d in range(10))
VOCAB = vocabulary(["digit", "the", *DIGIT_WORDS, "moves", "then", *DIRECTIONS])
FRAMES, CANVAS, STEP = 8, 20, 2
CAPTION_LEN = 8  # <start> digit 7 moves right then down <end>


def captions(digit: int, first: str, second: str) -> list[str]:
    return [f"digit {digit} moves {first} then {second}", f"the {digit} moves {first} then {second}"]


def facts(caption: str) -> tuple[str, str, str] | None:
    """(digit, first direction, second direction) a caption states, None if it does not parse."""
    w = caption.split()
    if len(w) == 6 and w[0] in ("digit", "the") and w[1] in DIGIT_WORDS and w[2] == "moves" and w[4] == "then" \
            and w[3] in DIRECTIONS and w[5] in DIRECTIONS:
        return w[1], w[3], w[5]
    return None


def path(first: str, second: str) -> np.ndarray:
    """(FRAMES, 2) offsets (x, y) from the start position."""
    steps = [DIRECTIONS[first]] * (FRAMES // 2) + [DIRECTIONS[second]] * (FRAMES - FRAMES // 2)
    return STEP * np.cumsum([(0, 0), *steps[:-1]], axis=0)


def render(digit: np.ndarray, first: str, second: str, rng: np.random.Generator) -> np.ndarray:
    """(FRAMES, 1, CANVAS, CANVAS): the digit placed along the path from a start that keeps it inside."""
    offsets = path(first, second)
    room = CANVAS - digit.shape[-1]
    lo, hi = -offsets.min(0), room - offsets.max(0)
    x0, y0 = rng.integers(lo, hi + 1)
    video = np.zeros((FRAMES, 1, CANVAS, CANVAS), dtype=np.float32)
    for t, (dx, dy) in enumerate(offsets):
        x, y = x0 + dx, y0 + dy
        video[t, 0, y:y + 8, x:x + 8] = digit
    return video


@cache
def moving_digits() -> pa.Table:
    """1,797 videos (8 frames, 20x20) of a digit moving in two directions, two captions each (seed 0)."""
    images, labels = _digits_arrays()
    rng = np.random.default_rng(0)
    names = list(DIRECTIONS)
    videos, refs = [], []
    for image, label in zip(images, labels):
        first, second = rng.choice(len(names), 2, replace=False)
        videos.append(render(image.reshape(8, 8), names[first], names[second], rng))
        refs.append(encode(captions(int(label), names[first], names[second]), VOCAB, CAPTION_LEN).tolist())
    out = table(np.stack(videos), labels, (FRAMES, 1, CANVAS, CANVAS), 10, prefix="pixel")
    out = out.append_column("tokens", pa.array(refs, pa.list_(pa.list_(pa.int64()))))
    return out.replace_schema_metadata({**out.schema.metadata, CAPTIONS_KEY: " ".join(VOCAB).encode()})
