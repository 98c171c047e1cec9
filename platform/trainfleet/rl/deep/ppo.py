"""Proximal Policy Optimisation with the clipped surrogate objective.

Schulman et al. 2017, "Proximal Policy Optimization Algorithms" (arXiv:1707.06347), with GAE
(Schulman et al. 2016, arXiv:1506.02438). Each iteration: roll out `n_steps` x envs with the
current policy, compute GAE(lambda) advantages, then run `epochs` passes of shuffled
minibatches maximising

    L = E[ min(r A, clip(r, 1-eps, 1+eps) A) ] - c_v L_V + c_e H[pi],   r = pi(a|s) / pi_old(a|s)

Deviations from the paper, all standard in its reference implementation (openai/baselines
ppo2) and CleanRL's `ppo.py`:
- advantages are normalised per minibatch (`norm_adv`);
- the value loss is clipped around the old values (`value_clip`; None turns it off);
- gradients are clipped by global norm; the learning rate and clip range can decay linearly
  to 0 over `anneal_env_steps` (RL-Zoo's CartPole setting);
- `target_kl` stops the epochs early when the policy moved too far (approx KL, Schulman's
  "k3" estimator  E[(r - 1) - log r]).
Separate actor and critic networks with one optimiser, as CleanRL's ppo.py.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field

from trainfleet import results
from trainfleet.rl.core.algorithm import RunContext, ensure_finite
from trainfleet.rl.core.clipped_objective import clipped_losses
from trainfleet.rl.core.on_policy import Batch, OnPolicyAlgorithm, OnPolicyHparams
from trainfleet.rl.core.rollout_buffer import Rollout
from trainfleet.rl.core.schedules import Schedule, set_lr


class PPOHparams(OnPolicyHparams):
    gae_lambda: float = Field(0.95, ge=0, le=1, description="GAE lambda: 0 = one-step TD, 1 = Monte Carlo")
    clip: float = Field(0.2, gt=0, description="surrogate clip range epsilon (0.1 .. 0.3)")
    value_clip: float | None = Field(0.2, gt=0, description="clip V around its old value by this; null = off")
    epochs: int = Field(10, ge=1, description="passes over each rollout (3 .. 30)")
    minibatch_size: int = Field(256, ge=1, description="steps per gradient step")
    ent_coef: float = Field(0.0, ge=0, description="entropy bonus weight (0 .. 0.01)")
    vf_coef: float = Field(0.5, ge=0, description="value loss weight")
    norm_adv: bool = Field(True, description="normalise advantages within each minibatch")
    target_kl: float | None = Field(None, gt=0, description="stop an iteration's epochs beyond this approx KL")
    anneal_env_steps: int | None = Field(None, ge=1, description="decay lr and clip linearly to 0 over these env steps")


class PPO(OnPolicyAlgorithm):
    Hparams = PPOHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.hp.lr, eps=1e-5)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"adam": self.optimizer}

    def progress_left(self) -> float:
        """1 -> 0 over `anneal_env_steps` (1 forever without annealing)."""
        if self.hp.anneal_env_steps is None:
            return 1.0
        return Schedule(start=1.0, end=0.0, steps=self.hp.anneal_env_steps).value(self.env_steps)

    def update(self, rollout: Rollout) -> dict[str, Any]:
        return self.optimise(self.batch(rollout, self.hp.gae_lambda))

    # ---- ALGO LOGIC ----------------------------------------------------------------------------
    def optimise(self, b: Batch) -> dict[str, Any]:
        """The clipped-objective epochs on one batch (PPO-Lagrangian hands in penalised advantages)."""
        hp = self.hp
        frac = self.progress_left()
        set_lr([self.optimizer], hp.lr * frac)
        clip = hp.clip * frac
        n = b.obs.shape[0]
        sums = torch.zeros(5, device=self.device)  # policy, value, entropy, approx_kl, clipfrac
        steps = 0
        for _ in range(hp.epochs):
            # one minibatch covering the batch needs no shuffling (and no gather copies)
            perm = torch.randperm(n, generator=self.generator).to(self.device) if n > hp.minibatch_size else None
            epoch_kl = torch.zeros((), device=self.device)
            for start in range(0, n, hp.minibatch_size):
                idx = perm[start:start + hp.minibatch_size] if perm is not None else slice(None)
                logp, entropy, value = self.model.evaluate(b.obs[idx], b.actions[idx])
                c = clipped_losses(logp, b.logp[idx], b.advantages[idx], clip, hp.norm_adv,
                                   value, b.values[idx], b.returns[idx], hp.value_clip)
                loss_entropy = entropy.mean()
                loss = c.policy + hp.vf_coef * c.value - hp.ent_coef * loss_entropy

                self.optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), hp.max_grad_norm)
                self.optimizer.step()
                sums += torch.stack([c.policy, c.value, loss_entropy, c.approx_kl, c.clip_fraction]).detach()
                epoch_kl = c.approx_kl
                steps += 1
            if hp.target_kl is not None and float(epoch_kl) > hp.target_kl:
                break
        # ---- END ALGO LOGIC ------------------------------------------------------------------------
        policy, value, entropy, kl, clipfrac = (sums / max(steps, 1)).tolist()
        ensure_finite(policy=policy, value=value)
        with torch.no_grad():
            explained = 1 - torch.var(b.returns - b.values) / (torch.var(b.returns) + 1e-8)
        return {
            results.loss_key("policy"): policy,
            results.loss_key("value"): value,
            results.loss_key("entropy"): entropy,
            "approx_kl": kl,
            "clip_fraction": clipfrac,
            "explained_variance": float(explained),
            "lr": hp.lr * frac,
            "gradient_steps": steps,
        }
