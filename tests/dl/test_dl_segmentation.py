"""Segmentation (issue 17): U-Net variants, the attention gate, the segment task's loss and metrics."""

from __future__ import annotations

import pytest
import torch
from dl_helpers import train
from margins import Bar, check, learned

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.models.unet import AttentionGate, AttentionUNet, UNet, UNetHparams
from trainfleet.dl.tasks.segment import overlap_metrics, overlap_sums, soft_dice_loss

SEGMENT = {"epochs": 4, "channels": [8, 16, 32], "lr": 3.0e-3}


def info(size: int, channels: int = 3) -> DataInfo:
    return DataInfo((channels, size, size), 3, (), "label")


@pytest.mark.parametrize("cls", [UNet, AttentionUNet])
@pytest.mark.parametrize("channels", [[8, 16], [8, 16, 32, 64]])
def test_full_unets_keep_the_input_size(cls, channels):
    model = cls(UNetHparams(channels=channels), info(32), out_dim=4)
    out = model(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 4, 32, 32), f"output {tuple(out.shape)} for a 32x32 input"


def test_notes_unet_outputs_half_size_and_skips_one_level():
    """The notes' Keras model: 128x128x3 in, 64x64 out; its only concat is at 64x64 (the 128x128
    map of the first conv never reaches the decoder)."""
    model = UNet(UNetHparams(variant="notes"), info(128), out_dim=1)
    seen = []
    model.notes.c3.register_forward_hook(lambda _m, inputs, _o: seen.append(tuple(inputs[0].shape)))
    out = model(torch.randn(1, 3, 128, 128))
    assert out.shape == (1, 1, 64, 64), f"output {tuple(out.shape)}"
    assert seen == [(1, 256, 64, 64)], f"decoder conv input {seen}: upsampled 128 + skip 128 channels at 64x64"


def test_attention_gate_coefficients_lie_in_unit_interval_with_the_skips_shape():
    gate = AttentionGate(skip=8, gate=16, inner=4)
    skip, g = torch.randn(2, 8, 16, 16), torch.randn(2, 16, 8, 8)
    out = gate(skip, g)
    alpha = gate.last_mask
    assert out.shape == skip.shape
    assert alpha is not None and alpha.shape == (2, 1, 16, 16), f"coefficients {None if alpha is None else alpha.shape}"
    assert float(alpha.min()) >= 0 and float(alpha.max()) <= 1, f"range [{float(alpha.min())}, {float(alpha.max())}]"
    assert torch.allclose(out, skip * alpha), "the gate multiplies the skip by its coefficients"


def test_attention_unet_gates_every_skip():
    model = AttentionUNet(UNetHparams(channels=[8, 16, 32]), info(32), out_dim=4)
    model(torch.randn(1, 3, 32, 32))
    shapes = [tuple(g.last_mask.shape) for g in model.gates]
    assert shapes == [(1, 1, 16, 16), (1, 1, 32, 32)], f"gate coefficient shapes {shapes}"


def test_unet_rejects_sides_the_poolings_cannot_halve():
    with pytest.raises(ValueError, match="divisible by 4"):
        UNet.check_data(UNetHparams(channels=[8, 16, 32]), (3, 30, 30))
    with pytest.raises(ValueError, match="no gates"):
        AttentionUNet.check_data(UNetHparams(variant="notes"), (3, 32, 32))


def test_overlap_metrics_match_hand_counts():
    """2x2 mask [[0, 1], [1, 1]] predicted as [[0, 0], [1, 1]]: class 0 I=1, P=2, T=1 -> IoU 1/2, Dice 2/3;
    class 1 I=2, P=2, T=3 -> IoU 2/3, Dice 4/5; class 2 absent from both and left out of the means."""
    mask = torch.tensor([[[0, 1], [1, 1]]])
    pred = torch.tensor([[[0, 0], [1, 1]]])
    m = overlap_metrics(overlap_sums(pred, mask, classes=3))
    assert m["val_mean_iou"] == pytest.approx((1 / 2 + 2 / 3) / 2), f"{m}"
    assert m["val_dice"] == pytest.approx((2 / 3 + 4 / 5) / 2), f"{m}"


def test_soft_dice_loss_matches_hand_values():
    """Saturated logits: a match gives 0; a miss by one class gives 1 - mean (0 + 1)/(P + T + 1) over
    classes 0, 1, 2 with (P, T) = (1, 1), (1, 2), (2, 1): 1 - (1/3 + 1/4 + 1/4)/3."""
    mask = torch.tensor([[[0, 1], [2, 1]]])
    right = 50 * torch.nn.functional.one_hot(mask, 3).permute(0, 3, 1, 2).float()
    wrong = 50 * torch.nn.functional.one_hot((mask + 1) % 3, 3).permute(0, 3, 1, 2).float()
    assert float(soft_dice_loss(right, mask)) == pytest.approx(0.0, abs=1e-6)
    assert float(soft_dice_loss(wrong, mask)) == pytest.approx(1 - (1 / 3 + 1 / 4 + 1 / 4) / 3, abs=1e-6)


def test_segment_task_scores_the_notes_model_on_full_size_masks():
    """The notes' half-size logits are upsampled to the 32x32 mask before loss and counts."""
    from trainfleet.dl.tasks.segment import Segment

    hp = UNetHparams(variant="notes")
    model = UNet(hp, info(32), out_dim=4)
    batch = {"x": torch.randn(2, 3, 32, 32), "mask": torch.randint(0, 4, (2, 32, 32))}
    sums = Segment().eval_sums(model, batch, hp)
    assert sum(sums[f"true_{c}"] for c in range(4)) == 2 * 32 * 32, f"{sums}"
    assert sum(sums[f"pred_{c}"] for c in range(4)) == 2 * 32 * 32, f"{sums}"


def test_report_draws_a_segment_runs_masks(tmp_path, capsys):
    from dl_helpers import run_job_cli

    from trainfleet.cli import main

    run_dir = run_job_cli(capsys, tmp_path, "unet_shapes.yaml", "hparams.channels=[8, 16]")
    assert main(["report", str(run_dir)]) == 0
    assert "predictions.png" in capsys.readouterr().out
    assert (run_dir / "predictions.png").stat().st_size > 10_000


def unet_vs_attention(seed: int) -> dict[str, float]:
    """Final validation mean IoU of U-Net and Attention U-Net at one budget (4 epochs, widths 8-16-32, batches of 16)."""
    iou = {}
    for model in ("unet", "attention_unet"):
        _, rows, _ = train(model, "segment", {"dataset": "shapes", "batch_size": 16}, SEGMENT, seed=seed)
        iou[model] = float(rows[-1]["val_mean_iou"])
    return {"unet": iou["unet"], "attention_unet": iou["attention_unet"],
            "attention_minus_unet": iou["attention_unet"] - iou["unet"]}


UNET_VS_ATTENTION = learned("vision_unet_shapes", unet_vs_attention, Bar("unet", ">=", 0.8),
                            Bar("attention_unet", ">=", 0.45))


def test_unet_learns_to_segment_shapes_and_attention_unet_is_reported():
    """Seeds 0-4, final mean IoU (background + 3 shape classes, validation split):
    unet 0.998 / 0.987 / 0.999 / 0.993 / 0.984 (min 0.984; predicting all background scores ~0.21);
    attention_unet 0.994 / 0.999 / 0.997 / 0.913 / 0.636, so attention minus U-Net is
    -0.004 / +0.012 / -0.002 / -0.080 / -0.348: at this budget the gates do not help and seed 4
    sits at 0.474 (a class not yet predicted) for two epochs. Its bar only says it learned.
    Batches of 32 at the same epochs were worse (unet 0.639 on seed 3): half the updates."""
    check(UNET_VS_ATTENTION)
