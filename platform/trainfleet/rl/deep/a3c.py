"""A3C: asynchronous advantage actor-critic.

Mnih et al. 2016, "Asynchronous Methods for Deep Reinforcement Learning" (arXiv:1602.01783),
Algorithm S3. Each rollout worker (a Ray actor with its own envs and policy copy) repeatedly:
rolls out `n_steps`, computes the actor-critic gradient of A2C's loss on its own rollout,
and sends the gradient -- not the data -- to the learner. The learner applies gradients in
arrival order (the pool's `ray.wait`), and answers *that worker alone* with fresh weights.
So a gradient may be computed on weights that are several updates old: its staleness
(learner version at application - version it was computed on) is reported as
`staleness_mean` / `staleness_max`. With 2 workers it is typically 1.

Deviations: the paper's workers are threads doing lock-free (Hogwild) updates on shared
parameters with a shared RMSProp; here workers are processes (possibly on other machines)
and one learner owns the parameters and the optimiser, as in later distributed versions
(e.g. RLlib's A3C). With `rollout_workers: 0` the one in-process worker alternates rollouts
and updates (staleness 0): that is A2C with a single env group.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from pydantic import Field

from trainfleet import results
from trainfleet.errors import SpecError
from trainfleet.rl.core.algorithm import RunContext, ensure_finite
from trainfleet.rl.core.on_policy import OnPolicyAlgorithm
from trainfleet.rl.core.rollout_buffer import Rollout, gae
from trainfleet.rl.deep.a2c import A2CHparams, actor_critic_loss, make_optimizer


class A3CHparams(A2CHparams):
    updates_per_iteration: int = Field(40, ge=1, description="gradients applied per reported iteration")


@dataclass(frozen=True)
class WorkerGradients:
    """Runs on a rollout worker: A2C's loss on its own rollout -> (gradients, loss terms)."""

    gamma: float
    gae_lambda: float
    vf_coef: float
    ent_coef: float
    norm_adv: bool

    def __call__(self, model: torch.nn.Module, rollout: Rollout) -> tuple[list[np.ndarray], dict[str, float]]:
        t, n = rollout.rewards.shape
        obs = torch.as_tensor(np.concatenate([rollout.obs.reshape(t * n, *rollout.obs.shape[2:]), rollout.next_obs]))
        with torch.no_grad():
            v = model.value(obs).numpy()
        values = v[: t * n].reshape(t, n)
        next_values = np.concatenate([values[1:], v[t * n:][None]], axis=0)
        adv, ret = gae(rollout.rewards, values, next_values, rollout.terminated, rollout.truncated,
                       self.gamma, self.gae_lambda)
        valid = rollout.valid
        loss, terms = actor_critic_loss(
            model, torch.as_tensor(rollout.obs[valid]), torch.as_tensor(rollout.actions[valid]),
            torch.as_tensor(adv[valid]), torch.as_tensor(ret[valid]), self.vf_coef, self.ent_coef, self.norm_adv,
        )
        model.zero_grad()
        loss.backward()
        grads = [p.grad.numpy().copy() if p.grad is not None else np.zeros(p.shape, np.float32)
                 for p in model.parameters()]
        return grads, {k: float(v) for k, v in terms.items()}


class A3C(OnPolicyAlgorithm):
    Hparams = A3CHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        if self.hp.normalize_reward:
            raise SpecError("a3c does not support normalize_reward (workers compute their own returns)",
                            path="hparams.normalize_reward")
        self.optimizer = make_optimizer(self.hp.optimizer, self.model.parameters(), self.hp.lr)
        hp = self.hp
        self.task = WorkerGradients(hp.gamma, hp.gae_lambda, hp.vf_coef, hp.ent_coef, hp.norm_adv)
        self.in_flight: set[int] = set()

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt": self.optimizer}

    def _start(self, worker: int, fresh_weights: bool) -> None:
        self.pool.submit(worker, self.hp.n_steps, task=self.task, weights=self.model if fresh_weights else None)
        self.in_flight.add(worker)

    # ---- ALGO LOGIC ----------------------------------------------------------------------------
    def train_iteration(self) -> dict[str, float]:
        hp = self.hp
        idle = [w for w in range(len(self.pool.workers)) if w not in self.in_flight]
        if idle:  # first iteration, or after a restore: every idle worker starts on one version
            self.pool.set_weights(self.model)
            for w in idle:
                self._start(w, fresh_weights=False)
        staleness, terms = [], []
        for _ in range(hp.updates_per_iteration):
            t0 = time.perf_counter()
            done = self.pool.wait(num_returns=1)[0]
            t1 = time.perf_counter()
            # sample_s: the workers' stepping (in parallel); transfer_s: the rest of the learner's wait
            self.timings["sample_s"] += done.rollout.sample_s
            self.timings["transfer_s"] += max(t1 - t0 - done.rollout.sample_s, 0.0)
            self.in_flight.discard(done.worker)
            grads, loss_terms = done.output
            ensure_finite(**loss_terms)
            staleness.append(self.pool.version - done.rollout.policy_version)
            self.optimizer.zero_grad()
            for p, g in zip(self.model.parameters(), grads):
                p.grad = torch.as_tensor(g, device=self.device)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), hp.max_grad_norm)
            self.optimizer.step()
            self.model.obs_norm.update(self.tensor(done.rollout.obs[done.rollout.valid]))
            self.record_episodes(done.rollout)
            self._start(done.worker, fresh_weights=True)  # answer this worker alone
            terms.append(loss_terms)
            self.timings["learn_s"] += time.perf_counter() - t1
        # ---- END ALGO LOGIC ------------------------------------------------------------------------
        return {
            **self.episode_metrics(),
            **{results.loss_key(k): float(np.mean([t[k] for t in terms])) for k in terms[0]},
            "staleness_mean": float(np.mean(staleness)),
            "staleness_max": int(np.max(staleness)),
            "learner_version": self.pool.version,
        }
