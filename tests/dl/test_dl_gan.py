"""GAN: a trained digit classifier recognises the generator's samples, which noise does not fool."""

from __future__ import annotations

import torch
from dl_helpers import train

from trainfleet.dl.tasks.generate import SAMPLES_FILE, sample


def confident_classes(classifier, images: torch.Tensor) -> tuple[float, int]:
    """(share of images classified with p > 0.9, number of distinct classes among those)."""
    with torch.no_grad():
        conf, cls = torch.softmax(classifier(images), 1).max(1)
    sure = conf > 0.9
    return float(sure.float().mean()), int(torch.unique(cls[sure]).numel())


def test_dcgan_samples_are_confidently_recognised_and_cover_most_classes(tmp_path):
    cnn, rows, _ = train("cnn", "classify", {"dataset": "digits"},
                         {"epochs": 8, "channels": [16, 32], "padding": "same", "batchnorm": True, "dense": [64]})
    assert rows[-1]["val_accuracy"] > 0.95
    cnn.eval()
    gan, rows, _ = train("dcgan", "generate", {"dataset": "digits", "batch_size": 64}, {"epochs": 25, "features": 32},
                         checkpoint_dir=str(tmp_path))
    assert {"loss_d", "loss_g", "val_d_real_accuracy"} <= set(rows[-1])
    assert (tmp_path / SAMPLES_FILE).stat().st_size > 1000  # the sample grid PNG is kept with the checkpoint

    share, classes = confident_classes(cnn, sample(gan, 500, seed=1))
    noise_share, noise_classes = confident_classes(cnn, torch.rand(500, 1, 8, 8))
    assert share >= 0.25 and classes >= 8, (share, classes)  # real-looking digits, no mode collapse
    assert noise_share < 0.15 and noise_classes <= 5, (noise_share, noise_classes)
    assert share > 2 * noise_share
