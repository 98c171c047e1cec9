"""DDPG: deep deterministic policy gradient (Lillicrap et al. 2016, "Continuous control with deep RL").

An actor μ(s; θ^μ) maps states to actions; a critic Q(s, a; θ^Q) learns their value by TD
from replay, and the actor climbs the critic: ∇_θ J ≈ mean_i ∇_a Q(s_i, a)|_{a=μ(s_i)} ∇_θ μ(s_i).
  critic target  y = r + γ(1 − terminated)·Q'(s', μ'(s'))     (target networks, primes)
  critic loss    mean (y − Q(s, a))²
  actor loss     −mean Q(s, μ(s))
  targets        θ' <- τθ + (1 − τ)θ' after every step (soft updates)
Exploration adds Ornstein–Uhlenbeck noise (the paper's choice) or Gaussian noise to μ(s).

Deviations: one learning rate for actor and critic (the paper used 1e-4 / 1e-3), no L2 weight
decay on the critic and no batch norm, as in the SB3/CleanRL versions that train reliably.
The course notes' actor/critic (400-300 units, tanh-scaled output) is `hidden: [400, 300]`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field

from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.core.deterministic_actor_critic import ActorCriticHparams, ActorCriticPlumbing, QCritic
from trainfleet.rl.core.noise import NoiseHparams
from trainfleet.rl.core.off_policy import OffPolicyAlgorithm
from trainfleet.rl.core.replay import ReplaySample


class DDPGHparams(ActorCriticHparams):
    noise: NoiseHparams = Field(NoiseHparams(kind="ou", sigma=0.2), description="exploration noise added to mu(s)")


class DDPG(ActorCriticPlumbing, OffPolicyAlgorithm):
    Hparams = DDPGHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.build_actor_critic(QCritic)

    # ---- ALGORITHM LOGIC ----------------------------------------------------------------------
    def update(self, batch: ReplaySample) -> dict[str, torch.Tensor]:
        hp, ac = self.hp, self.ac
        with torch.no_grad():
            next_q = ac.critic_target(batch.next_obs, ac.actor_target(batch.next_obs))
            y = batch.rewards + hp.gamma * (1.0 - batch.terminated) * next_q
        critic_loss = F.mse_loss(ac.critic(batch.obs, batch.actions), y)
        ac.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        ac.critic_optimizer.step()

        actor_loss = -ac.critic(batch.obs, ac.actor(batch.obs)).mean()
        ac.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.backward()
        ac.actor_optimizer.step()

        ac.update_targets(hp.tau)
        return {"q": critic_loss.detach(), "actor": actor_loss.detach()}
    # ---- END ALGORITHM LOGIC ------------------------------------------------------------------
