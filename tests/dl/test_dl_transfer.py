"""Transfer learning: pre-train on digits 0-4, reuse the body for digits 5-9 (in-process)."""

from __future__ import annotations

from pathlib import Path

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


FROZEN_JOB = Path(__file__).resolve().parents[2] / "jobs" / "dl" / "transfer_digits_5to9_frozen.yaml"


def test_shipped_frozen_job_keeps_the_weights_files_base_exactly_while_the_head_learns():
    """The notes' recipe from a user-supplied weights file: every base tensor, batch-norm running
    statistics included, equals the file's after training; the new head moved and beats chance (0.2)."""
    from trainfleet import jobs
    from trainfleet.dl.build import build
    from trainfleet.dl.engine import fit_in_process
    from trainfleet.seeding import seed_everything

    spec, _ = jobs.load_job(FROZEN_JOB, {"stop.epochs": 3})
    model, rows, prepared = fit_in_process(spec)
    saved = torch.load(model.hp.weights, map_location="cpu", weights_only=True)
    body = {k: v for k, v in model.net.state_dict().items() if k.startswith("body.")}
    assert body and set(body) == {k for k in saved if k.startswith("body.")}
    for name, value in body.items():
        assert torch.equal(value, saved[name]), name
    seed_everything(spec.seed)
    _, _, untrained = build(spec, prepared.info)  # what fit started from
    assert not torch.equal(model.net.head.weight, untrained.net.head.weight)
    assert rows[-1]["val_accuracy"] > 0.4, rows[-1]


def test_weights_file_is_read_weights_only_and_a_pickled_object_is_refused(tmp_path):
    from trainfleet import jobs
    from trainfleet.dl.engine import fit_in_process
    from trainfleet.errors import UserError

    bad = tmp_path / "backbone.pt"
    torch.save({"head.weight": torch.zeros(5, 64), "note": Path("not/a/tensor")}, bad)  # needs a pickled class
    spec, _ = jobs.load_job(FROZEN_JOB, {"stop.epochs": 1, "hparams.weights": str(bad)})
    with pytest.raises(UserError, match="not a weights-only state_dict"):
        fit_in_process(spec)
