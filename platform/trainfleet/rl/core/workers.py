"""The rollout worker pool: the one place deep RL algorithms get experience from (and the only
module of `rl/` that calls Ray).

A `RolloutWorker` owns a gymnasium vector env and a CPU copy of the policy. The `WorkerPool`
runs `rollout_workers` of them as Ray actors in the trial's placement group (bundle 0 is the
learner, bundle i+1 worker i), or one in this process when `rollout_workers: 0` (fastest for
tiny envs, easiest to debug). Algorithms use three ways of driving it:

- synchronous batches (REINFORCE, A2C, PPO, TRPO): `set_weights(...)` puts the weights in the
  object store once, `sample(n_steps)` gathers one rollout per worker, joined along the env axis;
- asynchronous (A3C): `submit(worker, n_steps, task)` runs `task(policy, rollout)` on the
  worker, e.g. its gradients; `wait()` returns results in arrival order (`ray.wait`), and the
  learner answers that worker alone with `submit(..., weights=...)`;
- streaming (off-policy learners): `submit(worker, n_steps)` on every worker, then `wait(timeout=0)`
  polls finished rollouts (`Rollout.transitions()` gives replay tuples) while the learner trains;
- calls (policy search, meta-RL): `call(worker, fn, *args)` runs `fn(rollout_worker, *args)` there
  (no rollout; e.g. set a task, roll out, adapt the local policy copy, roll out again) and `wait()`
  returns its output; `map(fn, jobs)` deals many such jobs round-robin over the workers (they run
  in parallel) and returns their outputs in job order. `share(name, array)` puts a large read-only
  array (ES's noise table) in the object store once, and every worker, replacements included, maps
  that one copy; `put(payload)` stores one generation's small payload. `bytes_sent` counts what
  went to the workers.

A worker that dies (killed actor, crashed env) is replaced by a fresh one in the same bundle,
its request re-sent, and the event logged and counted (`restarts`, reported as
`worker_restarts`). A worker that keeps failing right after replacement is a bug, not bad luck:
after `MAX_CONSECUTIVE_FAILURES` the error propagates.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from trainfleet.rl.core.learner import configure_threads
from trainfleet.rl.core.rollout_buffer import COST_KEY, Rollout
from trainfleet.rl.core.wrappers import env_state, make_vec_env, set_env_state, single_env

log = logging.getLogger(__name__)

MAX_CONSECUTIVE_FAILURES = 3
# Policy builder: (single observation space, single action space) -> module with
# `explore(obs_tensor, generator, **act_kwargs) -> (actions, {name: tensor})`. Must pickle.
PolicyBuilder = Callable[[gym.Space, gym.Space], nn.Module]
# Async task run on a worker after its rollout: task(policy, rollout) -> anything picklable.
Task = Callable[[nn.Module, Rollout], Any]
# A call run on the worker itself, without a rollout: fn(worker, *args) -> anything picklable.
WorkerCall = Callable[..., Any]


@dataclass(frozen=True)
class EnvConfig:
    env_id: str
    kwargs: dict[str, Any]
    num_envs: int  # per worker


def env_spaces(env: EnvConfig) -> tuple[gym.Space, gym.Space]:
    """(observation space, action space) of one env, as the policy sees them."""
    probe = single_env(env.env_id, env.kwargs)
    try:
        return probe.observation_space, probe.action_space
    finally:
        probe.close()


class RolloutWorker:
    """Steps a vector env with its own copy of the policy. Plain class; the pool makes it an actor."""

    def __init__(self, env: EnvConfig, make_policy: PolicyBuilder, seed: int) -> None:
        configure_threads(1)
        self.env = make_vec_env(env.env_id, env.kwargs, env.num_envs, seed)
        self.policy = make_policy(self.env.single_observation_space, self.env.single_action_space).eval()
        self.generator = torch.Generator().manual_seed(seed)
        space = self.env.single_action_space
        self.clip = (space.low, space.high) if isinstance(space, gym.spaces.Box) else None
        self.reset(seed)
        self.version = 0

    def reset(self, seed: int | None = None) -> None:
        """Start fresh episodes in every env (meta-RL: after switching tasks)."""
        self.obs, _ = self.env.reset(seed=seed)
        n = self.obs.shape[0]
        self.prev_done = np.zeros(n, dtype=bool)
        self.ep_return = np.zeros(n)
        self.ep_len = np.zeros(n, dtype=np.int64)
        self.ep_cost = np.zeros(n)
        self.version = 0
        self.shared: dict[str, Any] = {}  # read-only arrays mapped from the object store

    def set_weights(self, weights: dict[str, torch.Tensor], version: int) -> None:
        self.policy.load_state_dict(weights)
        self.version = version

    def sample(self, n_steps: int, act_kwargs: dict[str, Any] | None = None) -> Rollout:
        """`n_steps` vector steps with the current policy (no gradients, numpy out)."""
        t0 = time.perf_counter()
        kw = act_kwargs or {}
        n = self.obs.shape[0]
        obs = np.empty((n_steps, *self.obs.shape), dtype=self.obs.dtype)
        rewards = np.empty((n_steps, n), dtype=np.float32)
        terminated = np.empty((n_steps, n), dtype=bool)
        truncated = np.empty((n_steps, n), dtype=bool)
        valid = np.empty((n_steps, n), dtype=bool)
        actions, extras, costs = None, {}, None
        ep_returns, ep_lengths, ep_costs = [], [], []
        with torch.inference_mode():
            for t in range(n_steps):
                obs[t] = self.obs
                valid[t] = ~self.prev_done
                action, extra = self.policy.explore(torch.from_numpy(self.obs), self.generator, **kw)
                action = action.numpy()
                if actions is None:
                    actions = np.empty((n_steps, *action.shape), dtype=action.dtype)
                    extras = {k: np.empty((n_steps, *v.shape), dtype=np.float32) for k, v in extra.items()}
                actions[t] = action
                for k, v in extra.items():
                    extras[k][t] = v.numpy()
                if self.clip is not None:
                    action = np.clip(action, *self.clip)
                self.obs, rewards[t], terminated[t], truncated[t], info = self.env.step(action)
                if COST_KEY in info:
                    if costs is None:
                        costs = np.zeros((n_steps, n), dtype=np.float32)
                    costs[t] = np.where(info[f"_{COST_KEY}"], info[COST_KEY], 0.0)
                    self.ep_cost += costs[t]
                self.ep_return += rewards[t]
                self.ep_len += valid[t]
                done = terminated[t] | truncated[t]
                if done.any():
                    if hasattr(self.policy, "episodes_ended"):  # a policy with per-episode state (OU noise)
                        self.policy.episodes_ended(done)
                    ep_returns.extend(self.ep_return[done].tolist())
                    ep_lengths.extend(self.ep_len[done].tolist())
                    if costs is not None:
                        ep_costs.extend(self.ep_cost[done].tolist())
                    self.ep_return[done] = 0.0
                    self.ep_len[done] = 0
                    self.ep_cost[done] = 0.0
                self.prev_done = done
        rollout = Rollout(
            obs=obs, actions=actions, rewards=rewards, terminated=terminated, truncated=truncated, valid=valid,
            next_obs=self.obs.copy(), extras=extras, episode_returns=ep_returns, episode_lengths=ep_lengths,
            costs=costs, episode_costs=ep_costs, policy_version=self.version,
        )
        rollout.sample_s = time.perf_counter() - t0
        return rollout

    def run(self, n_steps: int, task: Task | None, weights: dict[str, torch.Tensor] | None, version: int,
            act_kwargs: dict[str, Any] | None = None) -> tuple[Rollout, Any]:
        """Optionally take new weights, roll out, then run `task` on (policy, rollout)."""
        if weights is not None:
            self.set_weights(weights, version)
        rollout = self.sample(n_steps, act_kwargs)
        return rollout, (task(self.policy, rollout) if task is not None else None)

    def set_shared(self, name: str, value: Any) -> None:
        self.shared[name] = value

    def call(self, fn: WorkerCall, *args: Any) -> tuple[None, Any]:
        """`fn(self, *args)`: work that needs this worker's env and policy but not a rollout."""
        return None, fn(self, *args)

    def get_state(self) -> dict[str, Any]:
        return {
            "env": env_state(self.env), "obs": self.obs.copy(), "prev_done": self.prev_done.copy(),
            "ep_return": self.ep_return.copy(), "ep_len": self.ep_len.copy(), "ep_cost": self.ep_cost.copy(),
            "generator": self.generator.get_state(),
            "version": self.version,
            # per-episode policy state (DDPG's OU noise), not a weight: saved with the env it belongs to
            "policy": self.policy.episode_state() if hasattr(self.policy, "episode_state") else {},
        }

    def set_state(self, state: dict[str, Any]) -> None:
        set_env_state(self.env, state["env"])
        self.obs, self.prev_done = state["obs"].copy(), state["prev_done"].copy()
        self.ep_return, self.ep_len = state["ep_return"].copy(), state["ep_len"].copy()
        self.ep_cost = state.get("ep_cost", np.zeros_like(self.ep_return)).copy()  # absent before costs were kept
        self.generator.set_state(state["generator"])
        self.version = state["version"]
        if state.get("policy") and hasattr(self.policy, "set_episode_state"):
            self.policy.set_episode_state(state["policy"])

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        self.env.close()


def _tagged(worker: RolloutWorker, index: int, fn: WorkerCall, *args: Any) -> tuple[int, Any]:
    """A `map` job's output with its index (a replaced worker may answer resent jobs out of order)."""
    return index, fn(worker, *args)


@dataclass
class Completed:
    """One finished `submit` (its rollout, and the task's output if any) or `call` (no rollout)."""

    worker: int
    rollout: Rollout | None
    output: Any


def _cpu_weights(module_or_state: nn.Module | dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    state = module_or_state.state_dict() if isinstance(module_or_state, nn.Module) else module_or_state
    return {k: v.detach().to("cpu", copy=True) for k, v in state.items()}


class WorkerPool:
    """`num_workers` Ray actors (or one in-process worker when 0) behind one small interface."""

    def __init__(self, env: EnvConfig, make_policy: PolicyBuilder, num_workers: int, seed: int,
                 cpus_per_worker: float = 1.0) -> None:
        self.env, self.make_policy, self.seed = env, make_policy, seed
        self.num_workers, self.cpus_per_worker = num_workers, cpus_per_worker
        self.observation_space, self.action_space = env_spaces(env)
        self.num_envs = max(1, num_workers) * env.num_envs
        self.version = 0
        self.restarts = 0
        self.bytes_sent = 0  # serialised bytes handed to workers by put/call (remote workers only)
        self._weights: dict[str, torch.Tensor] | None = None
        self._weights_ref: Any = None
        self._shared: dict[str, Any] = {}  # name -> object ref (or the array itself in-process)
        self._failures = [0] * max(1, num_workers)
        # ref (or local ticket) -> (worker, worker method, its arguments)
        self._pending: dict[Any, tuple[int, str, tuple]] = {}
        self._uid = uuid.uuid4().hex[:8]
        self.workers: list[Any] = [self._spawn(i) for i in range(max(1, num_workers))]

    # ---- construction (the Ray integration points) -------------------------------------------
    @property
    def remote(self) -> bool:
        return self.num_workers > 0

    def _worker_seed(self, index: int) -> int:
        # A replacement gets a fresh stream: repeating the dead worker's episodes adds nothing.
        return self.seed + 1000 * index + 100_000 * self.restarts

    def _spawn(self, index: int) -> Any:
        if not self.remote:
            return RolloutWorker(self.env, self.make_policy, self._worker_seed(index))
        import ray
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        options: dict[str, Any] = {
            "num_cpus": self.cpus_per_worker,
            "name": f"trainfleet-rollout-{self._uid}-{index}-{self.restarts}",
            "max_restarts": 0,  # replaced by the pool instead, so the learner knows and counts it
        }
        pg = ray.util.get_current_placement_group()
        if pg is not None and pg.bundle_count > index + 1:
            options["scheduling_strategy"] = PlacementGroupSchedulingStrategy(
                pg, placement_group_bundle_index=index + 1
            )
        actor = ray.remote(RolloutWorker).options(**options).remote(self.env, self.make_policy, self._worker_seed(index))
        if self._weights_ref is not None:
            actor.set_weights.remote(self._weights_ref, self.version)
        for name, ref in self._shared.items():
            actor.set_shared.remote(name, ref)
        return actor

    def _replace(self, index: int, error: BaseException) -> None:
        import ray

        self._failures[index] += 1
        if self._failures[index] > MAX_CONSECUTIVE_FAILURES:
            raise RuntimeError(f"rollout worker {index} failed {MAX_CONSECUTIVE_FAILURES} times in a row") from error
        self.restarts += 1
        log.warning("rollout worker %d failed (%s); replacing it (restart #%d)", index,
                    str(error).splitlines()[0] if str(error) else type(error).__name__, self.restarts)
        ray.kill(self.workers[index], no_restart=True)
        self.workers[index] = self._spawn(index)

    # ---- weights --------------------------------------------------------------------------------
    def _store(self, weights: nn.Module | dict[str, torch.Tensor]) -> Any:
        """Make `weights` the latest version (what a replacement worker starts from)."""
        self.version += 1
        self._weights = _cpu_weights(weights)
        if not self.remote:
            return self._weights
        import ray

        self._weights_ref = ray.put(self._weights)
        return self._weights_ref

    def set_weights(self, weights: nn.Module | dict[str, torch.Tensor]) -> int:
        """Broadcast new weights (one object-store put for all workers); returns their version."""
        payload = self._store(weights)
        if not self.remote:
            self.workers[0].set_weights(payload, self.version)
        else:
            for w in self.workers:
                w.set_weights.remote(payload, self.version)
        return self.version

    # ---- shared objects and calls (policy search) --------------------------------------------------
    def share(self, name: str, value: np.ndarray) -> None:
        """One object-store copy of `value` for every worker: an actor's top-level ref argument comes
        back as a read-only numpy view on the node's shared memory, so nothing is copied per worker."""
        if not self.remote:
            self._shared[name] = value
            self.workers[0].set_shared(name, value)
            return
        import ray

        self._shared[name] = ray.put(value)
        for w in self.workers:
            w.set_shared.remote(name, self._shared[name])

    def put(self, payload: Any) -> Any:
        """Store one payload that several calls read (a generation's parameters): one put in all."""
        if not self.remote:
            return payload
        import ray

        self.bytes_sent += len(ray.cloudpickle.dumps(payload))
        return ray.put(payload)

    def call(self, worker: int, fn: WorkerCall, *args: Any) -> None:
        """Run `fn(worker_object, *args)` on one worker; `wait()` returns its output. A worker that dies
        before answering is replaced and the call re-sent, so a deterministic `fn` loses nothing."""
        self._send(worker, "call", (fn, *args))

    def _send(self, worker: int, method: str, request: tuple) -> None:
        if not self.remote:
            self._pending[object()] = (worker, method, request)
            return
        import ray

        self.bytes_sent += len(ray.cloudpickle.dumps([a for a in request if not isinstance(a, ray.ObjectRef)]))
        self._pending[getattr(self.workers[worker], method).remote(*request)] = (worker, method, request)

    # ---- synchronous ----------------------------------------------------------------------------
    def sample(self, n_steps: int, act_kwargs: dict[str, Any] | None = None) -> Rollout:
        """One rollout of `n_steps` from every worker, joined along the env axis (worker order)."""
        for i in range(len(self.workers)):
            self.submit(i, n_steps, act_kwargs=act_kwargs)
        done: dict[int, Rollout] = {}
        while len(done) < len(self.workers):
            for c in self.wait(num_returns=len(self.workers) - len(done)):
                done[c.worker] = c.rollout
        return Rollout.concat([done[i] for i in range(len(self.workers))])

    # ---- asynchronous ---------------------------------------------------------------------------
    def submit(self, worker: int, n_steps: int, task: Task | None = None, weights: nn.Module | dict | None = None,
               act_kwargs: dict[str, Any] | None = None) -> None:
        """Ask one worker for a rollout (and `task` on it). `weights` go to that worker alone."""
        payload = self._store(weights) if weights is not None else None
        self._send(worker, "run", (n_steps, task, payload, self.version, act_kwargs))

    def map(self, fn: WorkerCall, jobs: list[tuple]) -> list[Any]:
        """`fn(rollout_worker, *args)` for every args tuple, spread over the workers; outputs in job order."""
        for i, args in enumerate(jobs):
            self.call(i % len(self.workers), _tagged, i, fn, *args)
        out: list[Any] = [None] * len(jobs)
        for _ in jobs:
            index, value = self.wait(num_returns=1)[0].output
            out[index] = value
        return out

    def wait(self, num_returns: int = 1, timeout: float | None = None) -> list[Completed]:
        """Finished requests in arrival order: at least `num_returns`, unless `timeout` passes."""
        if not self._pending:
            return []
        if not self.remote:
            ticket = next(iter(self._pending))
            worker, method, request = self._pending.pop(ticket)
            rollout, output = getattr(self.workers[0], method)(*request)
            return [Completed(worker, rollout, output)]
        import ray

        out: list[Completed] = []
        while self._pending and len(out) < num_returns:
            ready, _ = ray.wait(list(self._pending), num_returns=min(num_returns - len(out), len(self._pending)),
                                timeout=timeout)
            if not ready:
                break
            for ref in ready:
                worker, method, request = self._pending.pop(ref)
                try:
                    rollout, output = ray.get(ref)
                except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as err:
                    self._replace(worker, err)  # the replacement starts from the latest weights
                    self._send(worker, method, request)
                    continue
                self._failures[worker] = 0
                out.append(Completed(worker, rollout, output))
        return out

    # ---- checkpointing --------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """Every worker's env, RNG and episode counters (so a resumed run steps the same envs)."""
        if not self.remote:
            states = [self.workers[0].get_state()]
        else:
            refs = [w.get_state.remote() for w in self.workers]
            states = [self._state_of(i, ref) for i, ref in enumerate(refs)]
        return {"workers": states, "version": self.version, "restarts": self.restarts}

    def _state_of(self, index: int, ref: Any) -> dict[str, Any]:
        """A worker's state; one that died since its last rollout is replaced first (as in `wait`),
        so a checkpoint taken right after a kill holds the fresh worker instead of failing."""
        import ray

        while True:
            try:
                state = ray.get(ref)
            except ray.exceptions.RayActorError as err:
                self._replace(index, err)
                ref = self.workers[index].get_state.remote()
                continue
            self._failures[index] = 0
            return state

    def set_state(self, state: dict[str, Any]) -> None:
        self.version, self.restarts = state["version"], state["restarts"]
        states = state["workers"]
        if len(states) != len(self.workers):
            log.warning("checkpoint has %d rollout workers, this run %d: envs start fresh", len(states),
                        len(self.workers))
            return
        if not self.remote:
            self.workers[0].set_state(states[0])
            return
        import ray

        ray.get([w.set_state.remote(s) for w, s in zip(self.workers, states)])

    def close(self) -> None:
        if not self.remote:
            self.workers[0].close()
            return
        import ray

        for w in self.workers:
            ray.kill(w, no_restart=True)
        self.workers = []
        self._pending.clear()
