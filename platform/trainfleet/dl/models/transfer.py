"""Transfer learning (notes U3.18, L5982-6038): reuse a pre-trained body, train a new head.

Steps of the notes: 1 load a pre-trained model (here: the final checkpoint of another
trainfleet job, or a local weights file), 2 freeze the base, 3 add a new output layer,
4 train, 5 optionally unfreeze the top k layers of the base and fine-tune them with a lower
learning rate. Any backbone with a `body` and a `head` works (cnn, mlp, keras examples).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch
from pydantic import Field, model_validator
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.hparams import TrainHparams
from trainfleet.errors import UserError, first_line

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
    return _weights_file_backbone(hp, info)


def _weights_file_backbone(hp: TransferHparams, info: DataInfo) -> nn.Module:
    """The `backbone` model with the state_dict of `weights`, read weights-only (tensors, no code)."""
    from trainfleet import registry

    try:
        state = torch.load(hp.weights, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # torch's own message invites loading it unsafely: not repeated here
        raise UserError(f"hparams.weights: {hp.weights} is not a weights-only state_dict file: it holds pickled "
                        "objects other than tensors (save one with torch.save(model.state_dict()))") from None
    except (RuntimeError, EOFError, KeyError, ValueError) as err:  # not a torch.save file at all
        raise UserError(f"hparams.weights: {hp.weights} is not a torch state_dict file: {first_line(err, 120)}") from None
    if not isinstance(state, dict) or "head.weight" not in state:
        raise UserError(f"hparams.weights: {hp.weights} holds no `head.weight`: not the state_dict of a "
                        f"{'/'.join(BACKBONES)} model")
    cls = registry.MODELS[hp.backbone].load()
    model = cls(cls.Hparams.model_validate(hp.backbone_hparams), info, state["head.weight"].shape[0])
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise UserError(f"hparams.weights: {hp.weights} does not fit backbone {hp.backbone!r} with "
                        f"backbone_hparams {hp.backbone_hparams}: {first_line(err, 120)}") from None
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

    def train(self, mode: bool = True) -> Transfer:
        """Frozen batch-norm layers of the base stay in inference mode (Keras `trainable=False`).

        Otherwise every training batch would still move their running mean and variance: the
        frozen base's buffers would change and its features drift under the new head.
        """
        super().train(mode)
        for m in self.net.body.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and not any(p.requires_grad for p in m.parameters()):
                m.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def param_groups(self, lr: float) -> list[dict[str, Any]]:
        """The new head at `lr`; unfrozen base layers at `lr * base_lr_scale`."""
        base = [p for p in self.net.body.parameters() if p.requires_grad]
        return [{"params": list(self.net.head.parameters()), "lr": lr},
                {"params": base, "lr": lr * self.hp.base_lr_scale}]
