"""Learned dynamics models: (s, a) -> (s' − s, r), trained on normalised inputs and targets.

Every model here predicts the state *delta* and the reward (deltas are small and centred, so
they fit far better than s' itself), from inputs standardised by the data's mean and std.

- `EnsembleDynamics` is one class for four of the notes' model types (seed L2777–2809):
  `members: 1, probabilistic: false` is a deterministic MLP trained by MSE;
  `probabilistic: true` outputs a Gaussian mean and a log-variance, bounded softly between a
  learned floor and ceiling (Chua et al. 2018, appendix A.1) and trained by Gaussian NLL;
  `members: E > 1` is a bootstrap ensemble of either (each member fits its own resample of the
  data). The members are stacked weight tensors, so one batched matmul runs all of them: a
  planner evaluates every candidate of every member in one call per step.
- `GPDynamics` is a Gaussian process (scikit-learn, RBF + white-noise kernel): exact posterior
  mean and variance, for small data (training is cubic in the number of transitions).

Both share `step(obs, actions, generator)`: inputs shaped (members, batch, dim), the rows of
member m predicted by member m (trajectory sampling: a particle keeps its member), a draw from
the predicted Gaussian when the model is probabilistic. `predict` gives every member's mean and
variance of the same batch (disagreement, uncertainty). `holdout_errors` measures one-step and
k-step open-loop error on held-out trajectories.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from trainfleet.fields import Width
from trainfleet.rl.core.networks import ACTIVATIONS


class DynamicsHparams(BaseModel):
    """The model a model-based algorithm learns (`hparams.model` of mpc and mbpo)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["mlp", "gp"] = Field("mlp", description="mlp (deterministic/probabilistic/ensemble) or gp")
    members: int = Field(5, ge=1, le=64, description="bootstrap ensemble size (1 = a single model)")
    probabilistic: bool = Field(True, description="Gaussian mean + bounded log-variance by NLL; false = MSE")
    hidden: list[Width] = Field(default_factory=lambda: [200, 200], description="hidden layer widths")
    activation: Literal["silu", "relu", "elu", "tanh"] = Field("silu", description="hidden activation (PETS: silu/swish; relu is cheaper on CPU)")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    weight_decay: float = Field(1e-5, ge=0, description="L2 on the weights (Adam's decoupled weight_decay)")
    batch_size: int = Field(256, ge=1, description="minibatch per gradient step")
    epochs: int = Field(5, ge=1, description="passes over the data each time the model is fitted")
    holdout: float = Field(0.1, ge=0, lt=1, description="fraction of transitions held out for the error metrics")
    gp_max_points: int = Field(500, ge=10, le=5000, description="gp: most recent transitions it fits (cubic cost)")


class Standardizer(nn.Module):
    """x -> (x − mean) / std with statistics set from data (buffers: saved with the weights)."""

    mean: torch.Tensor  # buffers, registered in __init__
    std: torch.Tensor

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def fit(self, x: torch.Tensor) -> None:
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0).clamp_min(1e-6) if len(x) > 1 else torch.ones_like(self.std))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.std + self.mean


class EnsembleLinear(nn.Module):
    """`members` independent linear layers applied as one batched matmul on (members, batch, in)."""

    def __init__(self, members: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_dim)
        self.weight = nn.Parameter(torch.empty(members, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(members, 1, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


@dataclass
class Transitions:
    """Model training data as float tensors: observations, encoded actions, rewards, next observations."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor

    def __len__(self) -> int:
        return len(self.obs)

    def inputs(self) -> torch.Tensor:
        return torch.cat([self.obs, self.actions], -1)

    def targets(self) -> torch.Tensor:
        return torch.cat([self.next_obs - self.obs, self.rewards[:, None]], -1)


class EnsembleDynamics(nn.Module):
    """Deterministic or probabilistic MLP, alone or as a bootstrap ensemble (see the module doc)."""

    def __init__(self, obs_dim: int, act_dim: int, hp: DynamicsHparams, seed: int = 0) -> None:
        super().__init__()
        self.hp, self.obs_dim, self.members = hp, obs_dim, hp.members
        out = obs_dim + 1
        self.input_norm, self.target_norm = Standardizer(obs_dim + act_dim), Standardizer(out)
        widths = [obs_dim + act_dim, *hp.hidden]
        self.layers = nn.ModuleList(EnsembleLinear(hp.members, a, b) for a, b in itertools.pairwise(widths))
        self.head = EnsembleLinear(hp.members, widths[-1], 2 * out if hp.probabilistic else out)
        self.activation = ACTIVATIONS[hp.activation]()
        # the soft bounds of the log-variance (normalised units), learned within a penalty
        self.max_logvar = nn.Parameter(torch.full((out,), 0.5))
        self.min_logvar = nn.Parameter(torch.full((out,), -10.0))
        self.optimizer = torch.optim.Adam(self.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
        self.rng = np.random.default_rng(seed)

    @property
    def probabilistic(self) -> bool:
        return self.hp.probabilistic

    def _forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised inputs (members, batch, in) -> normalised mean and log-variance of the targets."""
        for layer in self.layers:
            z = self.activation(layer(z))
        out = self.head(z)
        if not self.probabilistic:
            return out, torch.zeros_like(out)
        mean, logvar = out.chunk(2, dim=-1)
        logvar = self.max_logvar - F.softplus(self.max_logvar - logvar)
        return mean, self.min_logvar + F.softplus(logvar - self.min_logvar)

    # ---- learning ---------------------------------------------------------------------------
    def fit(self, data: Transitions, epochs: int | None = None) -> dict[str, float]:
        """Refit the normalisers and train every member on its own bootstrap resample; returns the
        last epoch's mean training loss."""
        x, y = data.inputs(), data.targets()
        self.input_norm.fit(x)
        self.target_norm.fit(y)
        x, y = self.input_norm(x), self.target_norm(y)
        n = len(x)
        boot = torch.as_tensor(self.rng.integers(0, n, (self.members, n)) if self.members > 1
                               else np.arange(n)[None])
        losses: list[float] = []
        for _ in range(epochs or self.hp.epochs):
            losses = []
            order = boot[:, torch.as_tensor(self.rng.permutation(n))]
            for start in range(0, n, self.hp.batch_size):
                idx = order[:, start:start + self.hp.batch_size]
                losses.append(self._train_step(x[idx], y[idx]))
        return {"model_loss": float(np.mean(losses))}

    def _train_step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        mean, logvar = self._forward(x)
        if self.probabilistic:
            loss = (((mean - y) ** 2) * torch.exp(-logvar) + logvar).mean()
            loss = loss + 0.01 * (self.max_logvar.sum() - self.min_logvar.sum())
        else:
            loss = F.mse_loss(mean, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    # ---- prediction -------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every member's mean and variance of (s' − s, r) for one batch: (members, batch, obs_dim + 1)."""
        z = self.input_norm(torch.cat([obs, actions], -1)).expand(self.members, -1, -1)
        mean, logvar = self._forward(z)
        return self.target_norm.inverse(mean), logvar.exp() * self.target_norm.std ** 2

    @torch.no_grad()
    def step(self, obs: torch.Tensor, actions: torch.Tensor,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(next obs, reward) for rows shaped (members, batch, dim): member m predicts slice m,
        sampling from its Gaussian when probabilistic."""
        mean, logvar = self._forward(self.input_norm(torch.cat([obs, actions], -1)))
        if self.probabilistic:
            mean = mean + torch.randn(mean.shape, generator=generator, device=mean.device) * (0.5 * logvar).exp()
        out = self.target_norm.inverse(mean)
        return obs + out[..., :-1], out[..., -1]


class GPDynamics:
    """A Gaussian process on the most recent `gp_max_points` transitions (one kernel, all outputs)."""

    members = 1
    probabilistic = True

    def __init__(self, obs_dim: int, act_dim: int, hp: DynamicsHparams, seed: int = 0) -> None:
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

        kernel = (ConstantKernel(1.0, (1e-3, 1e6)) * RBF(np.ones(obs_dim + act_dim), (1e-2, 1e3))
                  + WhiteKernel(1e-3, (1e-8, 1.0)))
        self.gp = GaussianProcessRegressor(kernel, normalize_y=True, random_state=seed)
        self.hp, self.obs_dim = hp, obs_dim
        self.input_norm = Standardizer(obs_dim + act_dim)

    def fit(self, data: Transitions, epochs: int | None = None) -> dict[str, float]:
        x, y = data.inputs()[-self.hp.gp_max_points:], data.targets()[-self.hp.gp_max_points:]
        self.input_norm.fit(x)
        self.gp.fit(self.input_norm(x).numpy(), y.numpy())
        return {"model_loss": -float(self.gp.log_marginal_likelihood_value_) / len(x)}

    @torch.no_grad()
    def predict(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.input_norm(torch.cat([obs, actions], -1)).numpy()
        mean, std = self.gp.predict(x, return_std=True)
        std = std if std.ndim == 2 else np.repeat(std[:, None], mean.shape[1], 1)
        return torch.as_tensor(mean, dtype=torch.float32)[None], torch.as_tensor(std ** 2, dtype=torch.float32)[None]

    @torch.no_grad()
    def step(self, obs: torch.Tensor, actions: torch.Tensor,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The posterior mean (planning on the mean keeps a GP planner deterministic and cheap)."""
        shape = obs.shape[:-1]
        mean, _ = self.predict(obs.reshape(-1, obs.shape[-1]), actions.reshape(-1, actions.shape[-1]))
        out = mean[0].reshape(*shape, -1)
        return obs + out[..., :-1], out[..., -1]


Dynamics = EnsembleDynamics | GPDynamics


def build_model(obs_dim: int, act_dim: int, hp: DynamicsHparams, seed: int = 0) -> Dynamics:
    return (GPDynamics if hp.kind == "gp" else EnsembleDynamics)(obs_dim, act_dim, hp, seed)


def rollout_mean(model: Dynamics, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Open-loop mean prediction of the states after each action of `actions` (batch, k, act_dim),
    averaged over members: (batch, k, obs_dim)."""
    states = []
    s = obs
    for t in range(actions.shape[1]):
        mean, _ = model.predict(s, actions[:, t])
        s = s + mean.mean(0)[:, :-1]
        states.append(s)
    return torch.stack(states, 1)


def holdout_errors(model: Dynamics, obs: np.ndarray, actions: np.ndarray, next_obs: np.ndarray,
                   episode_starts: np.ndarray, k: int) -> dict[str, float]:
    """One-step and k-step mean squared state error on held-out consecutive transitions.

    Row i is (obs_i, action_i, next_obs_i); `episode_starts[i]` marks where a new episode begins,
    so a k-step window never crosses one. The k-step error rolls the model open-loop from obs_i
    with the true actions and compares with next_obs_{i+k-1}.
    """
    o, a, n = (torch.as_tensor(v, dtype=torch.float32) for v in (obs, actions, next_obs))
    one = float(((rollout_mean(model, o, a[:, None])[:, 0] - n) ** 2).mean())
    starts = [i for i in range(len(o) - k + 1) if not episode_starts[i + 1:i + k].any()]
    if not starts:
        return {"model_error_1": one, f"model_error_{k}": math.nan}
    idx = torch.as_tensor(starts)
    windows = torch.stack([a[idx + t] for t in range(k)], 1)
    far = float(((rollout_mean(model, o[idx], windows)[:, -1] - n[idx + k - 1]) ** 2).mean())
    return {"model_error_1": one, f"model_error_{k}": far}
