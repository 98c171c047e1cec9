"""Video-to-text (notes L6929-7051), S2VT-style: frames -> CNN features -> LSTM over time -> a sentence.

Each frame goes through the same conv blocks (the captioner's `image_encoder`). The flattened
map (where the digit is) goes through the LSTM over time: the motion. The map max-pooled over
positions (what is shown, wherever it is) joins each time step's LSTM state unchanged, so the
decoder attends over both; through the LSTM alone the digit's identity was learned only after
~10 epochs (at chance before), while the motion was learned in 3. An LSTM encoder reads the frame vectors in order, and the captioner's
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
        self.frame_proj = nn.Sequential(nn.Linear(flat, hp.hidden), nn.ReLU())
        self.temporal = nn.LSTM(hp.hidden, hp.hidden, batch_first=True)
        self.decoder = AttentionDecoder(out_dim, hp.hidden + hp.channels[-1], hp)

    def start(self, x: torch.Tensor) -> State:
        b, t = len(x), self._shape[0]
        frames = x.reshape(b * t, *self._shape[1:])
        fmap = self.frame_encoder(frames)
        where = self.frame_proj(fmap.flatten(1)).reshape(b, t, -1)
        states, _ = self.temporal(where)  # (B, T, hidden): the motion
        what = fmap.amax((2, 3)).reshape(b, t, -1)  # (B, T, C): the content, wherever it is in the frame
        return self.decoder.start(torch.cat([states, what], -1))

    def step(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        return self.decoder.step(tokens, state)
