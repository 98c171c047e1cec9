"""The notes' taxonomy networks (U3.11, L4830-4890): RBF network, deep belief network, spiking network.

Each learning case trains in-process with a modest budget; its bars sit below every seed of
0-4 as measured on a 2-core box (numbers in each case's docstring).
"""

from __future__ import annotations

import numpy as np
import torch
from dl_helpers import train
from margins import Bar, check, learned

from trainfleet.dl.data.source import to_arrays
from trainfleet.dl.models.dbn import RBM


def rbf_moons(seed: int) -> dict[str, float]:
    """RBF network (20 k-means centres, 20 epochs) vs logistic regression on the same two-moons split.

    Seeds 0-4: RBF val accuracy 1.000 / 0.990 / 0.995 / 0.960 / 0.995, logistic regression
    0.875 / 0.870 / 0.890 / 0.835 / 0.865 (margins 0.105-0.130).
    """
    from sklearn.linear_model import LogisticRegression

    _, rows, prepared = train("rbf", "classify", {"dataset": "moons-2d"},
                              {"epochs": 20, "centres": 20, "lr": 1.0e-2}, seed=seed)
    tr, va = to_arrays(prepared.train, prepared.info), to_arrays(prepared.val, prepared.info)
    linear = LogisticRegression().fit(tr["x"], tr["y"]).score(va["x"], va["y"])
    acc = rows[-1]["val_accuracy"]
    return {"val_accuracy": acc, "beyond_linear": acc - linear}


RBF_MOONS = learned("dl_rbf_moons", rbf_moons, Bar("val_accuracy", ">=", 0.94), Bar("beyond_linear", ">=", 0.06))


def test_rbf_network_draws_the_curved_boundary_a_linear_model_cannot():
    check(RBF_MOONS)


def test_rbf_centres_start_on_the_data_and_widths_train():
    model, _, prepared = train("rbf", "classify", {"dataset": "moons-2d"}, {"epochs": 1, "centres": 8, "init": "samples"})
    x = torch.from_numpy(to_arrays(prepared.train, prepared.info)["x"])
    assert float(torch.cdist(model.centres.detach(), x).min(1).values.max()) < 0.5  # every centre near some sample
    assert float(model.log_sigma.detach().std()) > 0  # widths moved apart from their shared start


def dbn_digits(seed: int) -> dict[str, float]:
    """DBN 64-256-128 (CD-1, 10 pretraining epochs per RBM), fine-tuned at Adam 1e-2, vs the same
    network without pretraining.

    Seeds 0-4, val accuracy after 1 / 5 fine-tuning epochs: pretrained 0.682 / 0.953, 0.663 / 0.950,
    0.702 / 0.936, 0.579 / 0.939, 0.649 / 0.955; without pretraining 0.306 / 0.950, 0.156 / 0.947,
    0.120 / 0.930, 0.078 / 0.889, 0.201 / 0.950. Chance is 0.1.
    """
    hp = {"epochs": 5, "lr": 1.0e-2, "pretrain_epochs": 10}
    _, rows, _ = train("dbn", "classify", {"dataset": "digits"}, hp, seed=seed)
    _, scratch, _ = train("dbn", "classify", {"dataset": "digits"}, {**hp, "epochs": 1, "pretrain_epochs": 0}, seed=seed)
    return {"val_accuracy": rows[-1]["val_accuracy"],
            "pretraining_gain_after_one_epoch": rows[0]["val_accuracy"] - scratch[0]["val_accuracy"]}


DBN_DIGITS = learned("dl_dbn_digits", dbn_digits, Bar("val_accuracy", ">=", 0.88),
                     Bar("pretraining_gain_after_one_epoch", ">=", 0.2))


def test_fine_tuned_dbn_classifies_digits_and_pretraining_gives_it_a_head_start():
    check(DBN_DIGITS)


def test_contrastive_divergence_lowers_an_rbms_reconstruction_error():
    """CD-1 on the digits, 5 epochs: mean squared error 0.178-0.180 -> 0.071-0.072 (seeds 0-4)."""
    from trainfleet.dl.data.builtin import _digits_arrays

    x = torch.from_numpy(_digits_arrays()[0])
    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        rbm = RBM(64, 64)
        before = rbm.reconstruction_error(x)
        for _ in range(5):
            for batch in x[torch.randperm(len(x))].split(32):
                rbm.cd_step(batch, k=1, lr=0.05)
        after = rbm.reconstruction_error(x)
        assert after < 0.6 * before, (seed, before, after)


def snn_digits(seed: int) -> dict[str, float]:
    """Spiking network, 128 LIF units, 25 steps, 3 epochs at Adam 1e-2.

    Seeds 0-4: val accuracy 0.936 / 0.969 / 0.911 / 0.958 / 0.955; hidden firing rate 0.13-0.17 (neurons spike, sparsely). Chance 0.1.
    """
    model, rows, _ = train("snn", "classify", {"dataset": "digits"}, {"epochs": 3, "lr": 1.0e-2}, seed=seed)
    return {"val_accuracy": rows[-1]["val_accuracy"], "spike_rate": model.last_spike_rate}


SNN_DIGITS = learned("dl_snn_digits", snn_digits, Bar("val_accuracy", ">=", 0.85),
                     Bar("spike_rate", ">", 0.01), Bar("spike_rate", "<", 0.9))


def test_spiking_network_learns_digits_through_its_surrogate_gradient():
    check(SNN_DIGITS)


def test_spike_function_steps_forward_and_passes_the_surrogate_backward():
    from trainfleet.dl.models.snn import SpikeFn

    v = torch.tensor([-1.0, -0.01, 0.0, 0.01, 1.0], requires_grad=True)
    s = SpikeFn.apply(v, 25.0)
    assert s.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]
    s.sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), 1 / (1 + 25 * v.detach().abs().numpy()) ** 2, rtol=1e-6)
