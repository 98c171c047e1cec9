"""The deterministic actor-critic kit of DDPG and TD3, on top of the replay loop (`off_policy.py`).

mu(s) squashed into the action box, its exploration wrapper (the policy rollout workers run),
the Q(s, a) critic, the bundle of actor, critic, targets, optimisers and noise, and the
`OffPolicyAlgorithm` hooks both algorithms fill in alike. Each algorithm file keeps its own math.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from pydantic import Field
from torch import nn

from trainfleet.rl.core.networks import mlp, soft_update
from trainfleet.rl.core.noise import NoiseHparams, make_noise
from trainfleet.rl.core.off_policy import OffPolicyHparams, adam
from trainfleet.rl.core.workers import PolicyBuilder


def flat_dim(space: gym.Space) -> int:
    return int(np.prod(space.shape))


class DeterministicActor(nn.Module):
    """mu(s): an MLP squashed by tanh and rescaled to the action box [low, high]."""

    scale: torch.Tensor
    center: torch.Tensor

    def __init__(self, obs_space: gym.Space, action_space: gym.spaces.Box, hidden: list[int],
                 activation: str = "relu") -> None:
        super().__init__()
        self.net = mlp(flat_dim(obs_space), hidden, activation, out_dim=flat_dim(action_space), out_gain=0.01)
        low, high = torch.as_tensor(action_space.low), torch.as_tensor(action_space.high)
        self.register_buffer("scale", (high - low) / 2)
        self.register_buffer("center", (high + low) / 2)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.center + self.scale * torch.tanh(self.net(obs.flatten(1)))

    def clamp(self, actions: torch.Tensor) -> torch.Tensor:
        return torch.max(torch.min(actions, self.center + self.scale), self.center - self.scale)


class NoisyActor(nn.Module):
    """The exploration policy of DDPG/TD3: mu(s) + noise·(half-range), clipped to the box.

    `noise` (one row per env, from `rl/core/noise.py`) is given in the trial process. A rollout
    worker draws its own: Gaussian of std `sigma`, or with `ou = (sigma, theta, dt)` an
    Ornstein-Uhlenbeck process per env kept here (not a weight: new weights leave it alone)
    and restarted at 0 when the worker reports an env's episode ended (`episodes_ended`).
    """

    def __init__(self, actor: DeterministicActor) -> None:
        super().__init__()
        self.actor = actor
        self.ou_x: torch.Tensor | None = None

    def explore(self, obs: torch.Tensor, generator: torch.Generator | None = None, random: bool = False,
                noise: np.ndarray | None = None, sigma: float = 0.0,
                ou: tuple[float, float, float] | None = None) -> tuple[torch.Tensor, dict]:
        a = self.actor
        shape = (obs.shape[0], *a.scale.shape)
        if random:
            u = torch.rand(shape, generator=generator, device=obs.device)
            return a.center + a.scale * (2 * u - 1), {}
        if noise is not None:
            eps = torch.as_tensor(noise, device=obs.device)
        elif ou is not None:
            ou_sigma, theta, dt = ou
            if self.ou_x is None or self.ou_x.shape != shape:
                self.ou_x = torch.zeros(shape, device=obs.device)
            step = torch.randn(shape, generator=generator, device=obs.device)
            self.ou_x = self.ou_x - theta * self.ou_x * dt + ou_sigma * dt**0.5 * step
            eps = self.ou_x
        else:
            eps = sigma * torch.randn(shape, generator=generator, device=obs.device)
        return a.clamp(a(obs) + eps * a.scale), {}

    def episodes_ended(self, ended: np.ndarray) -> None:
        """Restart the OU process of the envs whose episode ended (the rollout worker calls this)."""
        if self.ou_x is not None:
            self.ou_x[torch.as_tensor(ended, device=self.ou_x.device)] = 0.0

    def episode_state(self) -> dict[str, Any]:
        """The OU process mid-episode: part of the worker's checkpoint, so a resume continues it."""
        return {"ou_x": None if self.ou_x is None else self.ou_x.clone()}

    def set_episode_state(self, state: dict[str, Any]) -> None:
        self.ou_x = state["ou_x"]


def _noisy_actor(obs_space: gym.Space, action_space: gym.spaces.Box, hidden: list[int], activation: str) -> NoisyActor:
    return NoisyActor(DeterministicActor(obs_space, action_space, hidden, activation))


def noisy_actor_builder(hidden: list[int], activation: str = "relu") -> PolicyBuilder:
    """Picklable builder of a rollout worker's `NoisyActor`."""
    return functools.partial(_noisy_actor, hidden=list(hidden), activation=activation)


class QCritic(nn.Module):
    """Q(s, a): an MLP on the concatenated observation and action."""

    def __init__(self, obs_space: gym.Space, action_space: gym.spaces.Box, hidden: list[int],
                 activation: str = "relu") -> None:
        super().__init__()
        self.net = mlp(flat_dim(obs_space) + flat_dim(action_space), hidden, activation, out_dim=1)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([obs.flatten(1), action.flatten(1)], dim=1)).squeeze(-1)


class ActorCriticHparams(OffPolicyHparams):
    """What DDPG and TD3 share on top of the replay loop."""

    batch_size: int = Field(256, ge=1, description="minibatch size per gradient step")
    tau: float = Field(0.005, gt=0, le=1, description="soft target update weight")
    noise: NoiseHparams = Field(NoiseHparams(kind="gaussian", sigma=0.1), description="exploration noise on mu(s)")


class ActorCritic:
    """DDPG/TD3's learnable parts: actor, critic, target copies, two Adams, exploration noise."""

    def __init__(self, actor: DeterministicActor, critic: nn.Module, lr: float, noise: NoiseHparams,
                 num_envs: int, rng: np.random.Generator) -> None:
        self.actor, self.critic = actor, critic
        self.behaviour = NoisyActor(actor)
        self.actor_target = copy.deepcopy(actor).requires_grad_(False)
        self.critic_target = copy.deepcopy(critic).requires_grad_(False)
        self.actor_optimizer = adam(actor.parameters(), lr)
        self.critic_optimizer = adam(critic.parameters(), lr)
        self.noise_hp = noise
        self.noise = make_noise(noise, (num_envs, *actor.scale.shape), rng)

    def explore_kwargs(self, remote: bool) -> dict[str, Any]:
        """Workers draw the same kind of noise themselves: Gaussian, or OU with its state on the worker."""
        hp = self.noise_hp
        if not remote:
            return {"noise": self.noise.sample()}
        return {"ou": (hp.sigma, hp.theta, hp.dt)} if hp.kind == "ou" else {"sigma": hp.sigma}

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> np.ndarray:
        return self.actor(obs[None].float())[0].cpu().numpy()

    def update_targets(self, tau: float) -> None:
        soft_update(self.critic_target, self.critic, tau)
        soft_update(self.actor_target, self.actor, tau)

    def modules(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        return {"actor": self.actor, "actor_target": self.actor_target, "critic": self.critic,
                "critic_target": self.critic_target, "actor_optimizer": self.actor_optimizer,
                "critic_optimizer": self.critic_optimizer}


class ActorCriticPlumbing:
    """The `OffPolicyAlgorithm` hooks DDPG and TD3 fill in alike, given `self.ac: ActorCritic`.

    Mixed in before `OffPolicyAlgorithm` so each algorithm file keeps only its own math.
    """

    ac: ActorCritic
    hp: ActorCriticHparams

    @classmethod
    def space_problem(cls, observation_space: gym.Space, action_space: gym.Space) -> str | None:
        if isinstance(action_space, gym.spaces.Box):
            return None
        return f"{cls.__name__.lower()} needs a continuous (Box) action space"

    def build_actor_critic(self, critic_cls: type[nn.Module]) -> None:
        """Actor, critic (one Q or twin Qs), their targets and the exploration noise."""
        hp = self.hp
        actor = DeterministicActor(self.obs_space, self.action_space, hp.hidden, hp.activation).to(self.device)
        critic = critic_cls(self.obs_space, self.action_space, hp.hidden, hp.activation).to(self.device)
        self.ac = ActorCritic(actor, critic, self.learning_rate(), hp.noise, self.ctx.num_envs, self.rng)
        self.behaviour = self.ac.behaviour

    def worker_policy(self) -> PolicyBuilder:
        return noisy_actor_builder(self.hp.hidden, self.hp.activation)

    def explore_kwargs(self, remote: bool) -> dict[str, Any]:
        return self.ac.explore_kwargs(remote)

    def episodes_ended(self, ended: np.ndarray) -> None:
        self.ac.noise.reset(ended)

    def networks(self) -> dict[str, Any]:
        return self.ac.modules()

    def extra_state(self) -> dict[str, Any]:
        return {"noise": self.ac.noise.get_state()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.ac.noise.set_state(state["noise"])

    def act(self, obs: Any) -> np.ndarray:
        return self.ac.act(torch.as_tensor(np.asarray(obs), device=self.ac.actor.scale.device))
