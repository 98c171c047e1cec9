"""Learned dynamics models: they recover a known linear system, their uncertainty is where it should be."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from trainfleet.rl.model_based.models import (
    DynamicsHparams,
    Transitions,
    build_model,
    holdout_errors,
)

A = np.array([[0.9, 0.2], [-0.1, 0.95]], np.float32)
B = np.array([[0.0], [0.5]], np.float32)
C = np.array([1.0, -2.0], np.float32)


def linear_data(n: int, seed: int, scale: float = 1.0) -> Transitions:
    """s' = A s + B a, r = C·s on states and actions uniform in [-scale, scale]."""
    rng = np.random.default_rng(seed)
    s = rng.uniform(-scale, scale, (n, 2)).astype(np.float32)
    a = rng.uniform(-scale, scale, (n, 1)).astype(np.float32)
    t = torch.as_tensor
    return Transitions(t(s), t(a), t(s @ C), t(s @ A.T + a @ B.T))


@pytest.mark.parametrize("kind", ["mlp", "gp"])
def test_model_recovers_a_linear_system(kind):
    torch.manual_seed(0)
    hp = DynamicsHparams(kind=kind, members=1, probabilistic=False, hidden=[64, 64], epochs=150, batch_size=128)
    model = build_model(2, 1, hp)
    model.fit(linear_data(1000 if kind == "mlp" else 200, seed=0))
    test = linear_data(200, seed=1, scale=0.8)
    mean, _ = model.predict(test.obs, test.actions)
    delta_err = float(((mean[0, :, :2] - (test.next_obs - test.obs)) ** 2).mean())
    reward_err = float(((mean[0, :, 2] - test.rewards) ** 2).mean())
    # the deltas have variance ~0.03 and the rewards ~1.7: errors are a small fraction of both
    assert delta_err < 1e-3 and reward_err < 1e-2, f"delta mse {delta_err:.2e}, reward mse {reward_err:.2e}"
    # the learned Jacobian d s'/d s at the origin is A
    eps = 1e-2
    probe = torch.tensor([[eps, 0.0], [0.0, eps], [-eps, 0.0], [0.0, -eps]])
    nxt = probe + model.predict(probe, torch.zeros(4, 1))[0][0, :, :2]
    jac = torch.stack([(nxt[0] - nxt[2]) / (2 * eps), (nxt[1] - nxt[3]) / (2 * eps)], 1).numpy()
    assert np.abs(jac - A).max() < 0.05, f"Jacobian {jac.round(3).tolist()} vs A {A.tolist()}"


def test_holdout_errors_grow_with_the_horizon_and_are_small_for_a_fitted_model():
    torch.manual_seed(0)
    model = build_model(2, 1, DynamicsHparams(members=1, probabilistic=False, hidden=[64, 64], epochs=100))
    model.fit(linear_data(1000, seed=0))
    rng = np.random.default_rng(2)  # one trajectory of 50 steps, an episode start at step 25
    s, obs, acts, nxt = rng.uniform(-0.5, 0.5, 2).astype(np.float32), [], [], []
    for _ in range(50):
        a = rng.uniform(-0.5, 0.5, 1).astype(np.float32)
        obs.append(s), acts.append(a)
        s = A @ s + B @ a
        nxt.append(s)
    starts = np.zeros(50, bool)
    starts[[0, 25]] = True
    errors = holdout_errors(model, np.array(obs), np.array(acts), np.array(nxt), starts, k=5)
    assert errors["model_error_1"] < 1e-3, errors
    assert errors["model_error_1"] < errors["model_error_5"] < 1e-2, errors


def test_gp_variance_grows_away_from_the_data():
    model = build_model(2, 1, DynamicsHparams(kind="gp"))
    model.fit(linear_data(200, seed=0, scale=1.0))
    near = torch.tensor([[0.1, -0.2]]), torch.tensor([[0.3]])
    far = torch.tensor([[4.0, -4.0]]), torch.tensor([[3.0]])
    v_near, v_far = model.predict(*near)[1].mean(), model.predict(*far)[1].mean()
    assert v_far > 10 * v_near, f"variance near the data {float(v_near):.3g}, far from it {float(v_far):.3g}"


def test_probabilistic_mlp_learns_where_the_noise_is():
    """Noise std 0.01 for x < 0 and 0.3 for x > 0: the NLL-trained variance follows it (aleatoric)."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2000, 1)).astype(np.float32)
    noise = np.where(x > 0, 0.3, 0.01).astype(np.float32) * rng.standard_normal((2000, 1)).astype(np.float32)
    t = torch.as_tensor
    data = Transitions(t(x), t(np.zeros_like(x)), t(np.zeros(2000, np.float32)), t(x + 0.5 * x + noise))
    model = build_model(1, 1, DynamicsHparams(members=1, probabilistic=True, hidden=[32, 32], epochs=60))
    model.fit(data)
    var = model.predict(t([[-0.5], [0.5]]), t([[0.0], [0.0]]))[1][0, :, 0]
    assert var[1] > 20 * var[0], f"variance where noisy {float(var[1]):.3g}, where quiet {float(var[0]):.3g}"
    assert 0.3 ** 2 / 3 < var[1] < 3 * 0.3 ** 2, f"variance where the noise std is 0.3: {float(var[1]):.3g}"


@pytest.mark.parametrize("probabilistic", [False, True])
def test_ensemble_disagrees_more_off_distribution(probabilistic):
    torch.manual_seed(0)
    model = build_model(2, 1, DynamicsHparams(members=5, probabilistic=probabilistic, hidden=[64, 64], epochs=40))
    model.fit(linear_data(1000, seed=0, scale=1.0))
    inside, outside = linear_data(200, seed=1, scale=0.9), linear_data(200, seed=1, scale=5.0)
    def disagreement(d: Transitions) -> float:
        return float(model.predict(d.obs, d.actions)[0].var(0).mean())
    d_in, d_out = disagreement(inside), disagreement(outside)
    assert d_out > 10 * d_in, f"member variance inside {d_in:.3g}, outside {d_out:.3g}"


def test_trajectory_sampling_keeps_each_particle_on_its_member():
    torch.manual_seed(0)
    model = build_model(2, 1, DynamicsHparams(members=3, probabilistic=False, hidden=[16]))
    model.fit(linear_data(100, seed=0), epochs=1)
    obs, act = torch.zeros(3, 4, 2), torch.zeros(3, 4, 1)
    nxt, rew = model.step(obs, act)
    means = model.predict(torch.zeros(1, 2), torch.zeros(1, 1))[0]  # (members, 1, 3)
    assert nxt.shape == (3, 4, 2) and rew.shape == (3, 4)
    assert torch.allclose(nxt[:, 0], means[:, 0, :2], atol=1e-5) and torch.allclose(rew[:, 0], means[:, 0, 2], atol=1e-5)
