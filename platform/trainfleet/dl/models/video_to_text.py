"""Video-to-text (notes L6929-7051), S2VT-style: frames -> CNN features -> LSTM over time -> a sentence.

Each frame goes through the same conv blocks (the captioner's `image_encoder`); the frame vector
joins the map max-pooled over positions (what is shown, wherever it is) with the whole map
flattened (where it is: what a motion caption is about). An LSTM encoder reads the frame vectors in order, and the captioner's
`AttentionDecoder` writes the sentence word by word while attending over the encoder's states
(temporal attention: which frames matter for this word). The notes' Keras model emitted one
word per frame (`return_sequences=True` into a softmax), so its output could not be a sentence
of another length than the video; this one decodes until <end>.
"""

from __future__ import annotations

import torch
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.models.captioner import AttentionDecoder, CaptionerHparams, image_encoder
from trainfleet.dl.models.decoding import SentenceDecoder, State


class VideoToText(SentenceDecoder):
    Hparams = CaptionerHparams

    def __init__(self, hp: CaptionerHparams, info: DataInfo, out_dim: int) -> None:
        super().__init__()
        if len(info.shape) != 4:
            raise ValueError(f"video_to_text reads videos (T, C, H, W); samples have shape {list(info.shape)}")
        self._shape, self.vocab = info.shape, info.vocab
        _, c, h, w = info.shape
        self.frame_encoder = image_encoder(hp, c)
        with torch.no_grad():
            flat = self.frame_encoder(torch.zeros(1, c, h, w)).numel()
        self.frame_proj = nn.Sequential(nn.Linear(flat + hp.channels[-1], hp.hidden), nn.ReLU())
        self.temporal = nn.LSTM(hp.hidden, hp.hidden, batch_first=True)
        self.decoder = AttentionDecoder(out_dim, hp.hidden, hp)

    def start(self, x: torch.Tensor) -> State:
        b, t = len(x), self._shape[0]
        frames = x.reshape(b * t, *self._shape[1:])
        fmap = self.frame_encoder(frames)
        what_where = torch.cat([fmap.amax((2, 3)), fmap.flatten(1)], 1)  # position-free content + layout
        per_frame = self.frame_proj(what_where).reshape(b, t, -1)
        states, _ = self.temporal(per_frame)  # (B, T, hidden)
        return self.decoder.start(states)

    def step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        return self.decoder.step(tokens, state)
