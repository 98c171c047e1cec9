"""`trainfleet report` for a segmentation or detection run: held-out images, the truth beside the
final model's prediction (class masks over the image, or boxes with their class and score)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

MIN_SCORE = 0.3  # detections drawn: those the model is fairly sure of
CLASS_COLOURS = "tab10"


def _image(sample: torch.Tensor) -> Any:
    image = sample.permute(1, 2, 0).clamp(0, 1).numpy()
    return image[..., 0] if image.shape[-1] == 1 else image


def _boxes(ax: Any, boxes: torch.Tensor, labels: torch.Tensor, scores: torch.Tensor | None = None) -> None:
    from matplotlib import colormaps
    from matplotlib.patches import Rectangle

    colours = colormaps[CLASS_COLOURS]
    for i, (b, c) in enumerate(zip(boxes.tolist(), labels.tolist())):
        ax.add_patch(Rectangle((b[0] - 0.5, b[1] - 0.5), b[2] - b[0], b[3] - b[1], fill=False, lw=1.5, ec=colours(c)))
        text = str(c) if scores is None else f"{c} {float(scores[i]):.2f}"
        ax.text(b[0], b[1] - 1, text, color=colours(c), fontsize=6)


@torch.no_grad()
def prediction_figure(plt: Any, run_dir: str | Path, n: int = 4) -> Any:
    from trainfleet.dl.evaluate import load_trained, val_batch
    from trainfleet.results import final_checkpoint

    t = load_trained(run_dir, final_checkpoint(run_dir))
    batch = val_batch(t, n)
    x = batch["x"]
    out = t.model(x)
    fig, axes = plt.subplots(len(x), 2, figsize=(5, 2.5 * len(x)), squeeze=False)
    if t.spec.task == "segment":
        from trainfleet.dl.tasks.segment import full_size

        pred = full_size(out, batch["mask"]).argmax(1)
        classes = out.shape[1]
        for i in range(len(x)):
            for ax, mask in zip(axes[i], (batch["mask"][i], pred[i])):
                ax.imshow(_image(x[i]))
                ax.imshow(mask.numpy(), cmap=CLASS_COLOURS, vmin=0, vmax=9, alpha=0.45, interpolation="nearest")
    else:
        found = t.model.detect(out)
        classes = t.model.num_classes
        for i in range(len(x)):
            for ax in axes[i]:
                ax.imshow(_image(x[i]))
            _boxes(axes[i][0], batch["boxes"][i], batch["box_labels"][i])
            keep = found[i]["scores"] >= MIN_SCORE
            _boxes(axes[i][1], found[i]["boxes"][keep], found[i]["labels"][keep], found[i]["scores"][keep])
    axes[0][0].set_title("truth", fontsize=9)
    axes[0][1].set_title("prediction" + (f" (score >= {MIN_SCORE})" if t.spec.task == "detect" else ""), fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle(f"{t.spec.name}: held-out {t.spec.task} ({classes} classes, colour = class)", fontsize=9)
    return fig
