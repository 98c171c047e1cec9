"""Seeded augmentation: reproducible, and masks and boxes move with the image."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainfleet import jobs
from trainfleet.dl.data.augment import Augment, augment_batch
from trainfleet.dl.data.batches import InMemoryBatches
from trainfleet.dl.data.builtin import table
from trainfleet.dl.data.source import DataInfo
from trainfleet.errors import SpecError

ALL = Augment(hflip=True, vflip=True, rotate=30, shift=0.1)


def _scene(n: int = 6, size: int = 16) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images with one bright rectangle each, its class mask (label 1..3) and its box."""
    rng = np.random.default_rng(0)
    images = torch.zeros(n, 3, size, size)
    masks = torch.zeros(n, size, size, dtype=torch.int64)
    boxes = torch.zeros(n, 1, 4)
    for i in range(n):
        x0, y0 = rng.integers(2, 7, 2)
        x1, y1 = x0 + rng.integers(4, 8), y0 + rng.integers(3, 8)
        images[i, :, y0:y1, x0:x1] = 1.0
        masks[i, y0:y1, x0:x1] = i % 3 + 1
        boxes[i, 0] = torch.tensor([x0, y0, x1, y1], dtype=torch.float32)
    return images, masks, boxes


def test_the_same_seed_gives_the_same_augmentation_and_another_seed_another():
    images, masks, boxes = _scene()
    a = augment_batch(ALL, np.random.default_rng(7), images, masks, boxes)
    b = augment_batch(ALL, np.random.default_rng(7), images, masks, boxes)
    c = augment_batch(ALL, np.random.default_rng(8), images, masks, boxes)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize("aug", [Augment(hflip=True), Augment(vflip=True), Augment(rotate=90), ALL])
def test_masks_and_boxes_stay_on_the_pixels_of_the_object(aug):
    images, masks, boxes = _scene()
    out, out_masks, out_boxes = augment_batch(aug, np.random.default_rng(3), images, masks, boxes)
    bright = out[:, 0] > 0.5
    labelled = out_masks > 0
    agree = (bright == labelled).float().mean()
    assert agree > 0.97, float(agree)  # only edge pixels may differ (bilinear vs nearest)
    for i in range(len(images)):
        ys, xs = torch.nonzero(labelled[i], as_tuple=True)
        if len(xs) == 0:
            continue  # shifted out of the frame
        x0, y0, x1, y1 = out_boxes[i, 0].tolist()
        assert x0 - 0.5 <= xs.min() and xs.max() + 1 <= x1 + 0.5  # the box encloses the mask
        assert y0 - 0.5 <= ys.min() and ys.max() + 1 <= y1 + 0.5
        assert set(out_masks[i].unique().tolist()) <= {0, i % 3 + 1}  # nearest: no blended labels


def test_a_horizontal_flip_mirrors_pixels_and_boxes_exactly():
    images, masks, boxes = _scene(1)
    rng = np.random.default_rng(0)
    while True:  # find a draw that flips (probability 1/2 each)
        state = rng.bit_generator.state
        if rng.random() < 0.5:
            break
    rng.bit_generator.state = state
    out, out_masks, out_boxes = augment_batch(Augment(hflip=True), rng, images, masks, boxes)
    assert torch.allclose(out, images.flip(-1), atol=1e-5) and torch.equal(out_masks, masks.flip(-1))
    x0, y0, x1, y1 = boxes[0, 0].tolist()
    assert torch.allclose(out_boxes[0, 0], torch.tensor([16 - x1, y0, 16 - x0, y1]), atol=1e-4)


def test_training_batches_are_augmented_reproducibly_and_validation_batches_never():
    rng = np.random.default_rng(0)
    x = rng.random((40, 1, 8, 8)).astype(np.float32)
    rows = table(x, np.arange(40) % 2, (1, 8, 8), 2)
    info = DataInfo((1, 8, 8), 2, tuple(n for n in rows.column_names if n != "label"), "label")
    plain = InMemoryBatches(rows, rows, info, 16, seed=1)
    aug = Augment(rotate=20)
    first = [b["x"] for b in InMemoryBatches(rows, rows, info, 16, seed=1, augment=aug).train(2)]
    again = [b["x"] for b in InMemoryBatches(rows, rows, info, 16, seed=1, augment=aug).train(2)]
    untouched = [b["x"] for b in plain.train(2)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert all(not torch.equal(a, u) and a.shape == u.shape for a, u in zip(first, untouched))
    val = InMemoryBatches(rows, rows, info, 16, seed=1, augment=aug).val()
    assert all(torch.equal(a["x"], b["x"]) for a, b in zip(val, plain.val()))


def test_augmenting_samples_that_are_not_images_is_a_spec_error():
    raw = {"name": "x", "model": "mlp", "task": "classify", "data": {"dataset": "moons-2d", "augment": {"hflip": True}},
           "stop": {"epochs": 1}}
    with pytest.raises(SpecError, match="augment transforms images"):
        jobs.parse_spec(raw)
    with pytest.raises(SpecError, match="rotate"):
        jobs.parse_spec(raw | {"data": {"dataset": "digits", "augment": {"rotate": 400}}})


def test_flipping_captioned_images_is_a_spec_error_since_captions_name_sides():
    raw = {"name": "x", "model": "captioner", "task": "caption", "stop": {"epochs": 1},
           "data": {"dataset": "shapes-test", "augment": {"hflip": True}}}
    with pytest.raises(SpecError, match="flips would swap"):
        jobs.parse_spec(raw)
    jobs.parse_spec(raw | {"data": {"dataset": "shapes-test", "augment": {"rotate": 10}}})
