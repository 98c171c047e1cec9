"""The plain PyTorch script a user would write instead of `trainfleet run` (the peer of dl_small_jobs.py).

    python benchmarks/plain_pytorch_digits.py mlp|cnn|lstm

Same data (scikit-learn's digits, pixels / 16, the same seed-0 80/20 split as the job), same
model, optimiser (Adam), batch size, learning rate and epochs as jobs/dl/mlp_digits.yaml,
cnn_digits.yaml and lstm_digit_sequences.yaml; one torch thread, as trainfleet uses. Prints
one JSON line with the final validation accuracy. No trainfleet import.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

SETTINGS = {  # model: (lr, epochs, batch size), as in the job files
    "mlp": (1.0e-3, 10, 32),
    "cnn": (1.0e-3, 15, 32),
    "lstm": (3.0e-3, 15, 32),
}


class LSTMClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.LSTM(8, 64, batch_first=True)
        self.head = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x.reshape(len(x), 8, 8))
        return self.head(out[:, -1])


def build(name: str) -> nn.Module:
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    if name == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(64 * 2 * 2, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10),
        )
    return LSTMClassifier()


def main(name: str) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    digits = load_digits()
    x = torch.tensor(digits.data / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)
    y = torch.tensor(digits.target, dtype=torch.int64)
    perm = np.random.default_rng(0).permutation(len(x))
    n_val = round(len(x) * 0.2)
    val_idx, train_idx = torch.from_numpy(np.sort(perm[:n_val])), torch.from_numpy(np.sort(perm[n_val:]))
    lr, epochs, batch_size = SETTINGS[name]
    train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[train_idx], y[train_idx]),
                                        batch_size=batch_size, shuffle=True)
    model = build(name)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        for xb, yb in train:
            loss = loss_fn(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            accuracy = float((model(x[val_idx]).argmax(1) == y[val_idx]).float().mean())
    print(json.dumps({"model": name, "val_accuracy": accuracy}))


if __name__ == "__main__":
    main(sys.argv[1])
