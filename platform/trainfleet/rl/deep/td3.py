"""TD3: twin delayed DDPG (Fujimoto, van Hoof & Meger 2018, "Addressing Function Approximation
Error in Actor-Critic Methods").

DDPG's critic overestimates, and the actor exploits the errors. TD3 changes three things:
  1. clipped double Q: two critics; the target takes the smaller,
       y = r + γ(1 − terminated)·min_j Q'_j(s', ã);
  2. target policy smoothing: ã = clip(μ'(s') + clip(ε, −c, c), low, high), ε ~ N(0, σ̃²),
     so the target averages Q over a small action neighbourhood;
  3. delayed policy updates: the actor and all targets move once every `policy_delay`
     critic steps, so the actor climbs a critic that has settled.
Exploration is Gaussian noise on μ(s) (the paper's choice; OU is available). Networks,
targets, optimisers and noisy exploration are DDPG's (`ActorCritic` in rl/core/off_policy.py);
read this file as a diff against ddpg.py.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from pydantic import Field

from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.core.deterministic_actor_critic import ActorCriticHparams, ActorCriticPlumbing, QCritic
from trainfleet.rl.core.off_policy import OffPolicyAlgorithm
from trainfleet.rl.core.replay import ReplaySample


class TD3Hparams(ActorCriticHparams):
    policy_delay: int = Field(2, ge=1, description="critic steps per actor (and target) step")
    target_noise: float = Field(0.2, ge=0, description="target smoothing std, fraction of the action half-range")
    target_noise_clip: float = Field(0.5, ge=0, description="clip of the smoothing noise, same units")


class TwinCritic(torch.nn.Module):
    """Two independent Q(s, a) estimators evaluated together."""

    def __init__(self, *args: Any) -> None:
        super().__init__()
        self.q1, self.q2 = QCritic(*args), QCritic(*args)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.q1(obs, action), self.q2(obs, action)


class TD3(ActorCriticPlumbing, OffPolicyAlgorithm):
    Hparams = TD3Hparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.build_actor_critic(TwinCritic)
        self.critic_updates = 0

    # ---- ALGORITHM LOGIC ----------------------------------------------------------------------
    def update(self, batch: ReplaySample) -> dict[str, torch.Tensor]:
        hp, ac = self.hp, self.ac
        scale = ac.actor.scale
        with torch.no_grad():
            eps = torch.randn(batch.actions.shape, generator=self.torch_rng, device=self.device)
            eps = (eps * hp.target_noise).clamp(-hp.target_noise_clip, hp.target_noise_clip) * scale
            next_actions = ac.actor_target.clamp(ac.actor_target(batch.next_obs) + eps)
            next_q = torch.min(*ac.critic_target(batch.next_obs, next_actions))
            y = batch.rewards + hp.gamma * (1.0 - batch.terminated) * next_q
        q1, q2 = ac.critic(batch.obs, batch.actions)
        critic_loss = F.mse_loss(q1, y) + F.mse_loss(q2, y)
        ac.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        ac.critic_optimizer.step()
        self.critic_updates += 1
        terms = {"q": critic_loss.detach()}

        if self.critic_updates % hp.policy_delay == 0:
            actor_loss = -ac.critic.q1(batch.obs, ac.actor(batch.obs)).mean()
            ac.actor_optimizer.zero_grad(set_to_none=True)
            actor_loss.backward()
            ac.actor_optimizer.step()
            ac.update_targets(hp.tau)
            terms["actor"] = actor_loss.detach()
        return terms
    # ---- END ALGORITHM LOGIC ------------------------------------------------------------------

    def extra_state(self) -> dict[str, Any]:
        return {**super().extra_state(), "critic_updates": self.critic_updates}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        super().set_extra_state(state)
        self.critic_updates = state["critic_updates"]
