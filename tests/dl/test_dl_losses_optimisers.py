"""The notes' loss and optimiser lists (L3536-3576) beyond the common ones: MAPE, Ftrl, full-batch GD."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from dl_helpers import spec, train

from trainfleet.dl.engine import in_memory
from trainfleet.dl.ftrl import Ftrl
from trainfleet.dl.tasks.losses import regression_loss
from trainfleet.errors import SpecError


def test_mape_is_the_mean_absolute_percentage_error():
    pred, target = torch.tensor([110.0, 45.0, -30.0]), torch.tensor([100.0, 50.0, -20.0])
    # |10|/100, |5|/50, |10|/20 -> 10 %, 10 %, 50 %
    assert regression_loss("mape", pred, target).item() == pytest.approx(70.0 / 3)
    assert regression_loss("mape", pred, target, reduction="sum").item() == pytest.approx(70.0)


def test_mape_on_class_scores_is_refused():
    with pytest.raises(SpecError, match="hparams.loss.*mape"):
        spec("mlp", "classify", {"dataset": "moons-2d"}, {"loss": "mape"})


def test_ftrl_step_is_the_papers_closed_form():
    # McMahan et al. 2013, Alg. 1 from w = 0, g = 2, alpha = 0.5, beta = 1: n = 4, sigma = 4, z = 2,
    # w = -z / ((beta + sqrt n) / alpha + l2) = -2 / 6; with l1 = 3 >= |z| the weight is exactly 0.
    for l1, expected in ((0.0, -1 / 3), (3.0, 0.0)):
        w = torch.zeros(1, requires_grad=True)
        opt = Ftrl([w], lr=0.5, beta=1.0, l1=l1)
        (2 * w).sum().backward()
        opt.step()
        assert w.item() == pytest.approx(expected)


def _sparse_logistic(seed: int) -> tuple[torch.Tensor, torch.Tensor, float, float]:
    """(weights, bias, final log-loss, log-loss of the base rate) of FTRL on 4 informative of 40 sparse features."""
    g = torch.Generator().manual_seed(seed)
    n, d = 2000, 40
    x = (torch.rand(n, d, generator=g) < 0.1).float()
    w_true = torch.zeros(d)
    w_true[:4] = torch.tensor([3.0, -3.0, 2.5, -2.5])
    y = (torch.rand(n, generator=g) < torch.sigmoid(x @ w_true)).float()
    w, b = torch.zeros(d, requires_grad=True), torch.zeros(1, requires_grad=True)
    opt = Ftrl([w, b], lr=0.5, l1=20.0)
    for _ in range(3):
        for i in range(0, n, 20):
            opt.zero_grad()
            F.binary_cross_entropy_with_logits(x[i:i + 20] @ w + b, y[i:i + 20], reduction="sum").backward()
            opt.step()
    with torch.no_grad():
        loss = F.binary_cross_entropy_with_logits(x @ w + b, y).item()
        base = F.binary_cross_entropy_with_logits(torch.logit(y.mean()).expand(n), y).item()
    return w.detach(), b.detach(), loss, base


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ftrl_with_l1_gives_exact_zeros_and_learns(seed):
    """Seeds 0-4: 23-30 of the 36 noise weights exactly 0, the 4 informative ones non-zero with the
    true sign, log-loss 0.52-0.55 against the base rate's 0.69."""
    w, _, loss, base = _sparse_logistic(seed)
    zeros = int((w[4:] == 0).sum())
    assert zeros >= 18, f"only {zeros} of 36 noise weights are exactly zero"
    assert (torch.sign(w[:4]) == torch.tensor([1.0, -1.0, 1.0, -1.0])).all(), f"informative weights {w[:4].tolist()}"
    assert loss < base - 0.08, f"log-loss {loss:.3f} vs base rate {base:.3f}"


def test_ftrl_is_selectable_in_a_job():
    """moons-2d, 5 epochs: chance is 0.5; seeds 0-2 reach 0.87-0.885."""
    _, rows, _ = train("mlp", "classify", {"dataset": "moons-2d"},
                       {"epochs": 5, "hidden": [16], "optimizer": "ftrl", "lr": 0.5, "loss": "bce"})
    assert rows[-1]["val_accuracy"] > 0.75, f"val_accuracy {rows[-1]['val_accuracy']:.3f}"


def test_gd_takes_the_whole_training_set_as_one_batch_and_learns():
    """sine-regression, 200 full-batch steps at lr 0.1: val_mae 0.095-0.11 (seeds 0-2); the mean predicts ~0.6."""
    s = spec("mlp", "regress", {"dataset": "sine-regression", "batch_size": 16}, {"optimizer": "gd"})
    prepared, batches = in_memory(s)
    epoch = list(batches.train(1))
    assert [len(b["x"]) for b in epoch] == [len(prepared.train)]
    _, rows, _ = train("mlp", "regress", {"dataset": "sine-regression"},
                       {"epochs": 200, "hidden": [32], "activation": "tanh", "optimizer": "gd", "lr": 0.1})
    assert rows[-1]["val_mae"] < 0.25, f"val_mae {rows[-1]['val_mae']:.3f}"
