"""`trainfleet report` for a captioning run: held-out inputs with the final model's sentence, and
for an image captioner where each word looked (its attention over the encoder's positions)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from trainfleet.dl.data.captions import decode
from trainfleet.dl.models.decoding import END_ID, START_ID

MAX_WORDS = 8


@torch.no_grad()
def greedy_with_attention(model: Any, x: torch.Tensor, max_len: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Greedy word ids (B, <= max_len) and, per step, the decoder's attention averaged over heads
    (B, positions); no maps for a model without an attending decoder."""
    state = model.start(x)
    tokens = torch.full((len(x),), START_ID, dtype=torch.long)
    ids, maps = [], []
    for _ in range(max_len):
        logits, state = model.step(tokens, state)
        tokens = logits.argmax(-1)
        ids.append(tokens)
        weights = getattr(getattr(model, "decoder", None), "last_weights", None)
        if weights is not None:
            maps.append(weights.mean(1))
        if (torch.stack(ids, 1) == END_ID).any(1).all():
            break
    return torch.stack(ids, 1), maps


def _picture(sample: torch.Tensor) -> Any:
    """An image (C, H, W) as H x W x C, or a video (T, C, H, W) as its frames side by side."""
    if sample.dim() == 4:
        sample = torch.cat(list(sample), dim=-1)
    image = sample.permute(1, 2, 0).clamp(0, 1).numpy()
    return image[..., 0] if image.shape[-1] == 1 else image


def caption_figure(plt: Any, run_dir: str | Path, n: int = 4) -> Any:
    from trainfleet.dl.evaluate import load_trained, val_batch
    from trainfleet.results import final_checkpoint

    t = load_trained(run_dir, final_checkpoint(run_dir))
    batch = val_batch(t, n)
    x = batch["x"]
    ids, maps = greedy_with_attention(t.model, x, batch["tokens"].shape[-1] - 1)
    side = math.isqrt(maps[0].shape[-1]) if maps else 0
    spatial = bool(maps) and x.dim() == 4 and side * side == maps[0].shape[-1]
    cols = 1 + (min(len(maps), MAX_WORDS) if spatial else 0)
    fig, axes = plt.subplots(len(x), cols, figsize=(2.2 * cols + (4 if x.dim() == 5 else 0), 2.3 * len(x)),
                             squeeze=False)
    for i in range(len(x)):
        words = decode(ids[i].tolist(), t.model.vocab)
        axes[i][0].imshow(_picture(x[i]), cmap="gray")
        axes[i][0].set_title(f"{words}\nref: {decode(batch['tokens'][i, 0].tolist(), t.model.vocab)}", fontsize=7)
        for j in range(1, cols):
            word = words.split()[j - 1] if j - 1 < len(words.split()) else "<end>"
            axes[i][j].imshow(_picture(x[i]), alpha=0.5)
            axes[i][j].imshow(maps[j - 1][i].reshape(side, side).numpy(), cmap="magma", alpha=0.6,
                              extent=(-0.5, x.shape[-1] - 0.5, x.shape[-2] - 0.5, -0.5))
            axes[i][j].set_title(word, fontsize=8)
        for ax in axes[i]:
            ax.axis("off")
    fig.suptitle(f"{t.spec.name}: held-out captions" + (" and attention per word" if spatial else ""))
    return fig
