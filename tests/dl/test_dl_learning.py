"""Learning tests of the curriculum's models, run by the shared loop in-process (no Ray).

Each trains on a fixed seed with a modest budget and asserts a level that chance (or the
wrong model) cannot reach.
"""

from __future__ import annotations

import numpy as np
import pytest
from dl_helpers import train
from scipy.optimize import linprog


def test_perceptron_learns_a_linearly_separable_set():
    _, rows, _ = train("perceptron", "classify", {"dataset": "linear-2d"}, {"epochs": 5})
    assert rows[-1]["val_accuracy"] == 1.0
    assert rows[-1]["train_loss"] == 0.0  # the rule stopped making mistakes: it converged


def _linearly_separable(x: np.ndarray, y: np.ndarray) -> bool:
    """Is there (w, b) with s_i (w . x_i + b) >= 1 for all i? A feasibility LP."""
    s = 2 * y - 1
    a_ub = -s[:, None] * np.hstack([x, np.ones((len(x), 1))])
    res = linprog(np.zeros(x.shape[1] + 1), A_ub=a_ub, b_ub=-np.ones(len(x)), bounds=[(None, None)] * (x.shape[1] + 1))
    return res.status == 0


def test_xor_has_no_linear_separator_so_the_perceptron_fails_while_an_mlp_succeeds():
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    assert not _linearly_separable(corners, np.array([0, 1, 1, 0]))  # the proof: infeasible
    assert _linearly_separable(corners, np.array([0, 0, 0, 1]))  # AND is separable (sanity of the LP)
    _, rows, _ = train("perceptron", "classify", {"dataset": "xor-2d"}, {"epochs": 10})
    assert max(r["val_accuracy"] for r in rows) <= 0.8  # a line gets at most 3 of the 4 corner clusters
    _, rows, _ = train("mlp", "classify", {"dataset": "xor-2d"},
                       {"epochs": 30, "hidden": [8], "activation": "tanh", "lr": 0.01})
    assert rows[-1]["val_accuracy"] >= 0.98


def test_cnn_reaches_97_percent_on_digits():
    _, rows, _ = train("cnn", "classify", {"dataset": "digits"},
                       {"epochs": 8, "channels": [16, 32], "padding": "same", "batchnorm": True, "dense": [64]})
    assert rows[-1]["val_accuracy"] >= 0.97


@pytest.mark.parametrize("model", ["lstm", "gru"])
def test_recurrent_classifiers_reach_90_percent_on_digit_sequences(model):
    _, rows, _ = train(model, "classify", {"dataset": "digits-sequences"}, {"epochs": 10, "hidden": 64, "lr": 3.0e-3})
    assert rows[-1]["val_accuracy"] >= 0.90


def test_autoencoder_beats_pca_with_the_same_bottleneck():
    from sklearn.decomposition import PCA

    from trainfleet.dl.data.source import to_arrays

    k = 8
    _, rows, prepared = train("autoencoder", "reconstruct", {"dataset": "digits"}, {"epochs": 25, "bottleneck": k})
    x_train = to_arrays(prepared.train, prepared.info)["x"].reshape(len(prepared.train), -1)
    x_val = to_arrays(prepared.val, prepared.info)["x"].reshape(len(prepared.val), -1)
    pca = PCA(k).fit(x_train)
    pca_mse = float(((pca.inverse_transform(pca.transform(x_val)) - x_val) ** 2).mean())
    assert rows[-1]["val_mse"] < 0.9 * pca_mse


def test_regression_mlp_fits_a_sine():
    _, rows, _ = train("mlp", "regress", {"dataset": "sine-regression"},
                       {"epochs": 30, "hidden": [32, 32], "activation": "tanh", "loss": "huber", "lr": 0.01})
    assert rows[-1]["val_mae"] < 0.15  # predicting the mean would give ~0.6
