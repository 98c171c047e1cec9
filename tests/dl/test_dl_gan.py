"""GAN: a trained digit classifier recognises the generator's samples, which noise does not fool."""

from __future__ import annotations

import math
from dataclasses import replace
from functools import partial

import torch
from dl_helpers import train

from margins import Bar, check, describe, learned
from trainfleet.dl.tasks.generate import SAMPLES_FILE, sample


def confident_classes(classifier, images: torch.Tensor) -> tuple[float, int]:
    """(share of images classified with p > 0.9, number of distinct classes among those)."""
    with torch.no_grad():
        conf, cls = torch.softmax(classifier(images), 1).max(1)
    sure = conf > 0.9
    return float(sure.float().mean()), int(torch.unique(cls[sure]).numel())


GAN_METRICS = ("loss_d", "loss_g", "val_d_real_accuracy")


def dcgan(seed: int, checkpoint_dir: str | None = None) -> dict[str, float]:
    """A CNN judge trained on digits, then a DCGAN: how confidently the judge recognises 500 samples
    (and how many classes they cover), against 500 uniform-noise images."""
    cnn, rows, _ = train("cnn", "classify", {"dataset": "digits"},
                         {"epochs": 8, "channels": [16, 32], "padding": "same", "batchnorm": True, "dense": [64]},
                         seed=seed)
    cnn.eval()
    gan, gan_rows, _ = train("dcgan", "generate", {"dataset": "digits", "batch_size": 64},
                             {"epochs": 25, "features": 32}, seed=seed, checkpoint_dir=checkpoint_dir)
    share, classes = confident_classes(cnn, sample(gan, 500, seed=1))
    noise_share, noise_classes = confident_classes(cnn, torch.rand(500, 1, 8, 8))
    return {"judge_accuracy": rows[-1]["val_accuracy"], "share": share, "classes": float(classes),
            "noise_share": noise_share, "noise_classes": float(noise_classes),
            "share_over_noise": share - 2 * noise_share,
            **{k: gan_rows[-1].get(k, math.nan) for k in GAN_METRICS}}


DCGAN = learned("dl_dcgan_digits", dcgan, Bar("judge_accuracy", ">", 0.95),
                Bar("share", ">=", 0.25), Bar("classes", ">=", 8),  # real-looking digits, no mode collapse
                Bar("noise_share", "<", 0.15), Bar("noise_classes", "<=", 5), Bar("share_over_noise", ">", 0))


def test_dcgan_samples_are_confidently_recognised_and_cover_most_classes(tmp_path):
    result = check(replace(DCGAN, measure=partial(dcgan, checkpoint_dir=str(tmp_path))))
    assert not any(math.isnan(result[k]) for k in GAN_METRICS), describe(result)
    assert (tmp_path / SAMPLES_FILE).stat().st_size > 1000  # the sample grid PNG is kept with the checkpoint
