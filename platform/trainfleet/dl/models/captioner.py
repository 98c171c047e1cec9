"""Image captioning (notes L6743-6803): a CNN encoder and an LSTM decoder that writes a sentence.

- `captioner` is Show, Attend and Tell (Xu et al. 2015): the encoder keeps its spatial feature
  map (h x w positions of C channels); at every word the LSTM's state queries those positions
  through the shared multi-head attention, and the attended context feeds both the LSTM input
  and the word output. The state starts from the mean feature.
- `merge_captioner` is the notes' encoder-decoder as they meant it (Tanti et al. 2018's merge
  architecture): an LSTM reads the words only, and the pooled image feature is merged with its
  output before the word layer. The notes' Keras model declared the image input and never
  used it, so its captions could not depend on the image.

No ImageNet encoder can be downloaded here: the encoder trains with the decoder, or starts from
a user's `weights` file (a state_dict of a `cnn` job's conv blocks, as `torch.save` writes it).
"""

from __future__ import annotations

from pathlib import Path

import torch
from pydantic import Field, model_validator
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.hparams import TrainHparams
from trainfleet.dl.models.attention import MultiHeadAttention
from trainfleet.dl.models.cnn import CNNHparams, conv_stack, image_shape
from trainfleet.dl.models.decoding import PAD_ID, SentenceDecoder, State
from trainfleet.fields import Width


class CaptionerHparams(TrainHparams):
    channels: list[Width] = Field([32, 64], min_length=1, description="encoder conv blocks (same padding, BN, 2x2 pool)")
    embed: int = Field(64, ge=1, description="word embedding width")
    hidden: int = Field(128, ge=1, description="LSTM state width")
    heads: int = Field(1, ge=1, description="attention heads over image positions; must divide hidden")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout before the word layer")
    beam: int = Field(1, ge=1, description="beam width of validation decoding (1 = greedy)")
    weights: str | None = Field(None, description="encoder state_dict file (torch.save of a cnn's conv blocks)")

    @model_validator(mode="after")
    def _consistent(self) -> CaptionerHparams:
        if self.hidden % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide hidden ({self.hidden})")
        if self.weights is not None and not Path(self.weights).is_file():
            raise ValueError(f"no such weights file: {self.weights}")
        return self


def image_encoder(hp: CaptionerHparams, channels_in: int) -> nn.Sequential:
    """Conv blocks of `cnn` (same padding, BatchNorm, ReLU, 2x2 max-pool), optionally loaded from a file."""
    encoder = conv_stack(channels_in, CNNHparams(channels=hp.channels, padding="same", batchnorm=True))
    if hp.weights is not None:
        encoder.load_state_dict(torch.load(hp.weights, map_location="cpu", weights_only=True))
    return encoder


class AttentionDecoder(nn.Module):
    """LSTM decoder attending over a set of feature vectors (image positions or video frames)."""

    def __init__(self, vocab: int, feat_dim: int, hp: CaptionerHparams) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, hp.embed, padding_idx=PAD_ID)
        self.attend = MultiHeadAttention(hp.hidden, hp.heads, kv_dim=feat_dim)
        self.cell = nn.LSTMCell(hp.embed + hp.hidden, hp.hidden)
        self.init_h = nn.Linear(feat_dim, hp.hidden)
        self.init_c = nn.Linear(feat_dim, hp.hidden)
        self.drop = nn.Dropout(hp.dropout)
        self.out = nn.Linear(2 * hp.hidden, vocab)
        self.last_weights: torch.Tensor | None = None

    def start(self, feats: torch.Tensor) -> State:
        mean = feats.mean(1)
        return torch.tanh(self.init_h(mean)), torch.tanh(self.init_c(mean)), feats

    def step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        h, c, feats = state
        context, weights = self.attend(h[:, None], feats)
        self.last_weights = weights.detach()[:, :, 0]  # (N, heads, positions): what this word looked at
        context = context[:, 0]
        h, c = self.cell(torch.cat([self.embed(tokens), context], -1), (h, c))
        return self.out(self.drop(torch.cat([h, context], -1))), (h, c, feats)


class ImageCaptioner(SentenceDecoder):
    """What both captioners share: the image encoder and the caption vocabulary."""

    Hparams = CaptionerHparams

    def __init__(self, hp: CaptionerHparams, info: DataInfo) -> None:
        super().__init__()
        c, _, _ = image_shape(info)
        self._shape, self.vocab = info.shape, info.vocab
        self.encoder = image_encoder(hp, c)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) encoder features."""
        return self.encoder(x.reshape(len(x), *self._shape))


class Captioner(ImageCaptioner):
    """Show, Attend and Tell."""

    def __init__(self, hp: CaptionerHparams, info: DataInfo, out_dim: int) -> None:
        super().__init__(hp, info)
        self.decoder = AttentionDecoder(out_dim, hp.channels[-1], hp)

    def start(self, x: torch.Tensor) -> State:
        return self.decoder.start(self.feature_map(x).flatten(2).transpose(1, 2))  # (B, h*w, C): one per position

    def step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        return self.decoder.step(tokens, state)


class MergeCaptioner(ImageCaptioner):
    """Merge architecture: words through an LSTM, the pooled image merged in before the word layer."""

    def __init__(self, hp: CaptionerHparams, info: DataInfo, out_dim: int) -> None:
        super().__init__(hp, info)
        self.image = nn.Linear(hp.channels[-1], hp.hidden)
        self.embed = nn.Embedding(out_dim, hp.embed, padding_idx=PAD_ID)
        self.cell = nn.LSTMCell(hp.embed, hp.hidden)
        self.drop = nn.Dropout(hp.dropout)
        self.out = nn.Sequential(nn.Linear(2 * hp.hidden, hp.hidden), nn.ReLU(), nn.Linear(hp.hidden, out_dim))

    def start(self, x: torch.Tensor) -> State:
        pooled = self.feature_map(x).mean((2, 3))
        image = torch.relu(self.image(pooled))
        zeros = torch.zeros_like(image)
        return zeros, zeros, image

    def step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        h, c, image = state
        h, c = self.cell(self.embed(tokens), (h, c))
        return self.out(self.drop(torch.cat([h, image], -1))), (h, c, image)
