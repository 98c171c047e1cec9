"""The sweep's scheduler and searcher, each keeping a record of what it decided.

Tune's ASHA, PBT and Optuna act silently: a stopped trial looks like a short one, an exploited
trial like a lucky one. The subclasses here note each decision in a `SweepLog` on the driver,
which `trials.parquet` and the trial table show (ASHA: the iteration a trial was stopped at;
PBT: each exploit with donor, iteration, old and new values; Optuna: the suggestion order).

PBT also needs the checkpoints it clones to exist: `checkpoints_to_keep` sizes Tune's
retention, `SaveOnce` stops Tune from registering one checkpoint twice (see its docstring).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ray import tune
from ray.tune.result import SHOULD_CHECKPOINT
from ray.tune.schedulers import ASHAScheduler, PopulationBasedTraining, TrialScheduler
from ray.tune.search.optuna import OptunaSearch

from trainfleet import jobs
from trainfleet.launch.search_space import domain

TIME_ATTR = "training_iteration"


@dataclass
class SweepLog:
    """What the scheduler and searcher did, by trial id; `kinds` says which of them recorded."""

    kinds: set[str] = field(default_factory=set)  # "asha", "pbt", "optuna"
    stopped_at: dict[str, int] = field(default_factory=dict)
    exploits: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    suggestion: dict[str, int] = field(default_factory=dict)

    def columns(self, trial_id: str) -> dict[str, Any]:
        """This trial's trials.parquet columns (those of the scheduler/searcher in use)."""
        out: dict[str, Any] = {}
        if "asha" in self.kinds:
            out["stopped_at"] = self.stopped_at.get(trial_id)
        if "pbt" in self.kinds:
            out["exploits"] = self.exploits.get(trial_id, [])
        if "optuna" in self.kinds:
            out["suggestion"] = self.suggestion.get(trial_id)
        return out

    def note(self, trial_id: str) -> str:
        """A few words for the trial table: `stopped by ASHA at 2`, `cloned a1b2 at 8`."""
        if trial_id in self.stopped_at:
            return f"stopped by ASHA at {self.stopped_at[trial_id]}"
        if self.exploits.get(trial_id):
            last = self.exploits[trial_id][-1]
            return f"cloned {last['donor']} at {last['iteration']}"
        if trial_id in self.suggestion:
            return f"suggestion {self.suggestion[trial_id]}"
        return ""


class RecordingASHA(ASHAScheduler):
    """ASHA that notes the iteration at which it stops a trial."""

    def __init__(self, log: SweepLog, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log = log
        log.kinds.add("asha")

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict[str, Any]) -> str:
        decision = super().on_trial_result(tune_controller, trial, result)
        if decision == TrialScheduler.STOP and not result.get("stop_reason"):  # its own stop criterion, else ASHA
            self.log.stopped_at[trial.trial_id] = int(result[TIME_ATTR])
        return decision


class RecordingPBT(PopulationBasedTraining):
    """PBT that notes every exploit: the donor, the iteration cloned, the old and new values."""

    def __init__(self, log: SweepLog, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log = log
        log.kinds.add("pbt")

    def _exploit(self, tune_controller: Any, trial: Any, trial_to_clone: Any) -> None:
        # Private hook of Tune's PBT (the one place an exploit happens): check it on every Ray upgrade.
        old = dict(trial.config.get("overrides", {}))
        super()._exploit(tune_controller, trial, trial_to_clone)
        self.log.exploits.setdefault(trial.trial_id, []).append({
            "donor": trial_to_clone.trial_id,
            "iteration": int(self._trial_state[trial_to_clone].last_result[TIME_ATTR]),
            "old": old,
            "new": dict(trial.config.get("overrides", {})),
        })


class RecordingOptuna(OptunaSearch):
    """Optuna that numbers its suggestions, so a sweep shows what it proposed after what."""

    def __init__(self, log: SweepLog, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log = log
        log.kinds.add("optuna")

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        config = super().suggest(trial_id)
        if isinstance(config, dict):
            self.log.suggestion[trial_id] = len(self.log.suggestion) + 1
        return config


class SaveOnce(tune.Callback):
    """One registration per checkpoint under PBT.

    When a trial in PBT's upper quantile reports a result with a checkpoint, PBT asks it to
    save (to have something to clone) and Tune saves the reported checkpoint as well: the
    function trainable answers both with the same checkpoint, Tune registers it twice, and
    deletes it twice once it ages out of retention (`Error handling checkpoint ...
    FileNotFoundError`). Tune lets callbacks edit the result before it reads the save request;
    when PBT's save is already under way, the second request is dropped.
    """

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict[str, Any], **info: Any) -> None:
        if trial.is_saving and result.get(SHOULD_CHECKPOINT):
            result[SHOULD_CHECKPOINT] = False


def met_own_stop(trial_id: str, result: dict[str, Any]) -> bool:
    """Tune's stopper: a result that met the job's own `stop:` is the trial's last.

    Tune consults its stopper before the scheduler; without this, PBT could exploit into a trial
    on its final result and restart it past its budget.
    """
    return bool(result.get("stop_reason"))


def stopper(spec: jobs.JobSpec) -> Any:
    """`met_own_stop` for PBT sweeps only. Tune stops a trial by killing its actor, which leaves a
    DDP trial's Ray Train worker group (and its placement group) behind until the driver exits;
    other runs end their trial function themselves when the job's `stop:` is met."""
    return met_own_stop if spec.tune is not None and spec.tune.scheduler == "pbt" else None


def checkpoints_to_keep(spec: jobs.JobSpec) -> int:
    """Tune's per-trial checkpoint retention: the spec's `keep`, raised where PBT needs more.

    A PBT donor's clonable checkpoint is the one it saved at its last perturbation; until its
    next one it saves `perturbation_interval / checkpoint.every` more (and one at its stop), and
    the exploited trial may wait a round before it restores. Tune warns below 3.
    """
    if spec.tune is None or spec.tune.scheduler != "pbt":
        return spec.checkpoint.keep
    per_interval = spec.tune.perturbation_interval // spec.checkpoint.every
    return max(spec.checkpoint.keep, 2 * per_interval + 1, 3)


def scheduler(spec: jobs.JobSpec, log: SweepLog) -> Any:
    """Tune's trial scheduler for this job's `tune:` section (None: run every trial to its end)."""
    t = spec.tune
    if t is None or t.scheduler == "fifo":
        return None
    if t.scheduler == "asha":
        # One past the budget: a trial that lasts its budget ends itself. ASHA would stop it at max_t
        # by killing its actor, which leaves a DDP trial's Ray Train placement group behind.
        max_t = (spec.iteration_budget or 99) + 1
        return RecordingASHA(log, time_attr=TIME_ATTR, grace_period=min(t.grace_period, max_t), max_t=max_t,
                             reduction_factor=2)
    mutations = {}
    for path, dom in t.space.items():
        ((kind, values),) = dom.items()
        mutations[path] = values if kind in ("grid", "choice") else domain(kind, values)
    return RecordingPBT(
        log,
        time_attr=TIME_ATTR,
        perturbation_interval=t.perturbation_interval,
        hyperparam_mutations={"overrides": mutations},
    )


def searcher(spec: jobs.JobSpec, log: SweepLog) -> Any:
    """Tune's search algorithm (None: random/grid variants); Optuna is seeded from the job's seed."""
    t = spec.tune
    if t is None or t.searcher == "random":
        return None
    return RecordingOptuna(log, seed=spec.seed)


def callbacks(spec: jobs.JobSpec) -> list[tune.Callback]:
    """Callbacks the scheduler needs beside the run's recorder."""
    return [SaveOnce()] if spec.tune is not None and spec.tune.scheduler == "pbt" else []


