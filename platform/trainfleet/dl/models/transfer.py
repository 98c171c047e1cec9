"""Transfer learning (notes U3.18, L5982-6038): reuse a pre-trained body, train a new head.

Steps of the notes: 1 load a pre-trained model (here: the final checkpoint of another
trainfleet job, or a local weights file), 2 freeze the base, 3 add a new output layer,
4 train, 5 optionally unfreeze the top k layers of the base and fine-tune them with a lower
learning rate. Any backbone with a `body` and a `head` works (cnn, mlp, keras examples).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from pydantic import Field, model_validator
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.hparams import TrainHparams

# Models whose networks split into a `body` and a `head`: the ones a weights file can come from.
BACKBONES = ("cnn", "mlp")


class TransferHparams(TrainHparams):
    source: str | None = Field(None, description="run dir or checkpoint dir of the pre-training job")
    weights: str | None = Field(None, description="instead of `source`: a local state_dict file (torch.save)")
    backbone: str = Field("cnn", description=f"with `weights`: the model the file belongs to ({', '.join(BACKBONES)})")
    backbone_hparams: dict[str, Any] = Field(default_factory=dict, description="with `weights`: that model's hparams")
    freeze: bool = Field(True, description="freeze the pre-trained base (feature extraction)")
    unfreeze_top: int = Field(0, ge=0, description="then unfreeze this many of the base's top layers (fine-tuning)")
    base_lr_scale: float = Field(0.1, gt=0, le=1, description="learning rate of unfrozen base layers = lr x this")

    @model_validator(mode="after")
    def _one_source(self) -> TransferHparams:
        if (self.source is None) == (self.weights is None):
            raise ValueError("give exactly one of `source` (a run) or `weights` (a state_dict file)")
        return self


def checkpoint_dir(source: str | Path) -> Path:
    """A run dir's final (else latest) checkpoint, or the directory itself if it is a checkpoint."""
    p = Path(source)
    for sub in ("checkpoints/final", "checkpoints/latest"):
        if (p / sub / "state.pt").is_file():
            return p / sub
    return p


def load_backbone(hp: TransferHparams, info: DataInfo) -> nn.Module:
    from trainfleet import registry
    from trainfleet.dl import checkpoint

    if hp.source is not None:
        from trainfleet.dl.build import build

        loaded = checkpoint.read(checkpoint_dir(hp.source))
        if tuple(loaded.info.shape) != tuple(info.shape):
            raise ValueError(f"the backbone was trained on samples of shape {list(loaded.info.shape)}, "
                             f"this data has {list(info.shape)}")
        _, _, model = build(loaded.spec, loaded.info)
        model.load_state_dict(loaded.state["model"])
        return model
    state = torch.load(hp.weights, map_location="cpu", weights_only=True)
    cls = registry.MODELS[hp.backbone].load()
    out_dim = state["head.weight"].shape[0]
    model = cls(cls.Hparams.model_validate(hp.backbone_hparams), info, out_dim)
    model.load_state_dict(state)
    return model


class Transfer(nn.Module):
    Hparams = TransferHparams

    def __init__(self, hp: TransferHparams, info: DataInfo, out_dim: int) -> None:
        super().__init__()
        self.hp = hp
        self.net = load_backbone(hp, info)
        old = self.net.head
        self.net.head = nn.Linear(old.in_features, out_dim)  # step 3: a new output layer
        base = self.net.body
        if hp.freeze:
            base.requires_grad_(False)
        layers = [m for m in base if any(True for _ in m.parameters())]
        for layer in layers[len(layers) - hp.unfreeze_top:] if hp.unfreeze_top else []:
            layer.requires_grad_(True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        """The new head at `lr`; unfrozen base layers at `lr * base_lr_scale`."""
        base = [p for p in self.net.body.parameters() if p.requires_grad]
        return [{"params": list(self.net.head.parameters()), "lr": lr},
                {"params": base, "lr": lr * self.hp.base_lr_scale}]
