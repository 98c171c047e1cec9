"""Transfer learning: pre-train on digits 0-4, reuse the body for digits 5-9 (in-process)."""

from __future__ import annotations

import pytest
import torch
from dl_helpers import train

from trainfleet.dl.models.layers import count_parameters

CNN = {"channels": [16, 32], "padding": "same", "batchnorm": True, "dense": [64]}
FEW_SHOT = {"dataset": "digits-5to9", "batch_size": 16, "val_fraction": 0.9}  # ~90 labelled training images


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory) -> str:
    d = tmp_path_factory.mktemp("pretrained")
    _, rows, _ = train("cnn", "classify", {"dataset": "digits-0to4"}, {"epochs": 4, **CNN}, checkpoint_dir=str(d))
    assert rows[-1]["val_accuracy"] > 0.95
    return str(d)


def test_fine_tuning_a_pretrained_body_beats_training_from_scratch_on_the_same_budget(pretrained):
    budget = {"epochs": 2, "lr": 1.0e-2}
    gains = []
    for seed in (0, 1, 2):
        _, scratch, _ = train("cnn", "classify", FEW_SHOT, {**CNN, **budget}, seed=seed)
        _, tuned, _ = train("transfer", "classify", FEW_SHOT,
                            {**budget, "source": pretrained, "freeze": False, "base_lr_scale": 0.3}, seed=seed)
        gains.append(tuned[-1]["val_accuracy"] - scratch[-1]["val_accuracy"])
    assert sum(gains) / len(gains) >= 0.05, gains
    assert min(gains) > 0, gains


def test_frozen_base_trains_only_the_head_and_unfreezing_top_layers_moves_them(pretrained):
    model, _, _ = train("transfer", "classify", FEW_SHOT, {"epochs": 1, "source": pretrained})
    from trainfleet.dl.models.transfer import load_backbone

    original = load_backbone(model.hp, model_info(model))
    assert count_parameters(model, trainable_only=True) == count_parameters(model.net.head)
    for (name, p), q in zip(model.net.body.named_parameters(), original.body.parameters()):
        assert torch.equal(p, q), name  # the frozen base did not move

    tuned, _, _ = train("transfer", "classify", FEW_SHOT, {"epochs": 1, "source": pretrained, "unfreeze_top": 1})
    body = list(tuned.net.body.parameters())
    ref = list(original.body.parameters())
    assert not torch.equal(body[-1], ref[-1])  # the top layer (dense 64) was fine-tuned
    assert torch.equal(body[0], ref[0])  # the first conv stayed frozen


def model_info(model):
    from trainfleet.dl.checkpoint import read
    from trainfleet.dl.models.transfer import checkpoint_dir

    return read(checkpoint_dir(model.hp.source)).info
