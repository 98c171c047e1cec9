"""Shadow deployment (`trainfleet eval RUN --shadow BASELINE`): the notes' "gradual deployment with
human oversight" step (L3150-3299), made measurable.

The baseline controller runs the cooling plant; at every step the trained agent sees the same
sensors and proposes its setpoints, which are recorded and never applied. Reported: how often and by
how much the proposals differ from the baseline's setpoints, and what they would have cost by the
plant's one-step model (`DataCentreCoolingEnv.predict`) from the state the baseline reached: the
step's cooling energy and whether an inlet would have gone above 27 C. One step at a time, so the
counterfactual is the agent's action in the baseline's trajectory, not the agent's own trajectory
(which `trainfleet eval` without --shadow measures). A one-step cost also credits a proposal for the
heat it would leave in the room (the coil removes less while the zones warm), so it overstates what
handing over control would save: read it as a screen for disagreement and risk, not a saving.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from trainfleet import results
from trainfleet.errors import UserError
from trainfleet.rl.cooling_baselines import ENV_ID, PID, CoolingController, FixedSetpoints, RuleBased
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.envs.data_centre import INLET_LIMIT_C, STEP_MIN, DataCentreCoolingEnv, to_setpoints

BASELINES: dict[str, type[CoolingController]] = {"fixed_setpoints": FixedSetpoints, "rule_based": RuleBased, "pid": PID}
SETPOINTS = ("supply_air_c", "chilled_water_c", "fan_speed")
# a proposal "differs" when any setpoint is further than this from the baseline's
TOLERANCE = np.array([0.5, 0.5, 0.05])


def shadow_run(run_dir: str | Path, baseline: str, episodes: int = 1, seed: int = 10_000) -> dict[str, Any]:
    """The agent of `run_dir` shadowing `baseline` for `episodes` episodes (env seeds from `seed`)."""
    from trainfleet.evaluation import greedy_policy

    if baseline not in BASELINES:
        raise UserError(f"--shadow {baseline}: choose one of {', '.join(BASELINES)}")
    if episodes < 1:
        raise UserError(f"--episodes {episodes}: shadow at least 1 episode")
    spec, _ = results.load_run_spec(run_dir)
    if not spec.is_rl or spec.rl_env.id != ENV_ID:
        raise UserError(f"--shadow needs a run on {ENV_ID}; {run_dir} is not one")
    ckpt = results.final_checkpoint(run_dir)
    trial = results.read_trial_spec(ckpt)
    kwargs = {k: v for k, v in trial.rl_env.kwargs.items() if k != "shield"}  # the baseline is in control
    controller = BASELINES[baseline](RunContext(ENV_ID, kwargs, 1, BASELINES[baseline].Hparams(), seed))
    plant = controller.env.unwrapped
    assert isinstance(plant, DataCentreCoolingEnv)
    hours = STEP_MIN / 60.0
    diffs, differs, agent_kwh, agent_over, base_kwh, base_over = [], 0, 0.0, 0, 0.0, 0
    try:
        with greedy_policy(trial, ckpt) as agent:
            for ep in range(episodes):
                obs, _ = controller.env.reset(seed=seed + ep)
                controller.reset_controller()
                done = False
                while not done:
                    applied, proposed = controller.act(obs), agent(obs)
                    diff = np.abs(to_setpoints(np.asarray(proposed)) - to_setpoints(applied))
                    diffs.append(diff)
                    differs += bool(np.any(diff > TOLERANCE))
                    would = plant.predict(proposed)
                    agent_kwh += would.cooling_kw * hours
                    agent_over += bool(would.inlet.max() > INLET_LIMIT_C)
                    obs, _, terminated, truncated, info = controller.env.step(applied)
                    base_kwh += info["cooling_kwh"]
                    base_over += bool(info["max_inlet_c"] > INLET_LIMIT_C)
                    done = bool(terminated or truncated)
    finally:
        controller.close()
    d = np.array(diffs)
    return {
        "baseline": baseline, "episodes": episodes, "steps": len(d),
        "differ_fraction": differs / len(d),
        **{f"mean_abs_diff_{name}": float(d[:, i].mean()) for i, name in enumerate(SETPOINTS)},
        **{f"max_abs_diff_{name}": float(d[:, i].max()) for i, name in enumerate(SETPOINTS)},
        "baseline_cooling_kwh": base_kwh, "agent_model_cooling_kwh": agent_kwh,
        "agent_model_saving_pct": 100.0 * (1.0 - agent_kwh / base_kwh),
        "baseline_violation_minutes": base_over * STEP_MIN, "agent_model_violation_minutes": agent_over * STEP_MIN,
    }
