"""The cooling plant's safety shield: a random agent behind it never takes an inlet over 27 C."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from trainfleet import jobs, registry
from trainfleet.errors import SpecError
from trainfleet.rl.cooling_shield import SafetyShield
from trainfleet.rl.envs.data_centre import INLET_LIMIT_C, to_action, to_setpoints

ENV_ID = "trainfleet/DataCentreCooling-v0"


def random_day(seed: int, **kwargs) -> tuple[int, int]:
    """(steps with an inlet over the limit, steps the shield overrode) for one day of uniform random actions."""
    registry.register_envs()
    env = gym.make(ENV_ID, **kwargs)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    violations = overridden = 0
    done = False
    while not done:
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        violations += info["max_inlet_c"] > INLET_LIMIT_C
        overridden += int(info.get("shielded", 0))
        done = terminated or truncated
    env.close()
    return violations, overridden


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_agent_violates_without_the_shield_and_never_with_it(seed):
    # measured on seeds 0-2: 257, 181, 233 of 288 steps over 27 C without; 0 with (174, 115, 168 overrides)
    unshielded, _ = random_day(seed)
    assert unshielded > 20, f"a random agent should overheat the zones, got {unshielded} violating steps"
    shielded, overridden = random_day(seed, shield=True)
    assert shielded == 0, f"{shielded} steps over {INLET_LIMIT_C} C behind the shield"
    assert 0 < overridden < 288, f"the shield overrode {overridden} of 288 steps"


def test_shield_options_tighten_the_margin_and_bad_options_fail():
    _, default = random_day(5, shield=True)
    _, wide = random_day(5, shield={"margin_k": 3.0})
    assert wide > default, f"a 3 K margin should override more steps ({wide}) than 0.5 K ({default})"
    with pytest.raises(ValueError, match="shield options"):
        gym.make(ENV_ID, shield={"margin": 1.0})


def test_projection_keeps_safe_setpoints_and_clips_to_the_envelope():
    registry.register_envs()
    shield = gym.make(ENV_ID, shield=True).env
    while not isinstance(shield, SafetyShield):
        shield = shield.env
    inside = to_action(20.0, 12.0, 0.6)
    assert np.allclose(shield.project(inside), inside, atol=1e-6)
    assert np.allclose(to_setpoints(shield.project(to_action(27.0, 12.0, 0.2))), [24.0, 12.0, 0.3], atol=1e-4)


def test_a_job_with_a_bad_shield_option_is_a_spec_error(tmp_path):
    job = tmp_path / "job.yaml"
    job.write_text(f"name: x\nalgorithm: random\nenv: {{id: {ENV_ID}, kwargs: {{shield: {{margin: 1}}}}}}\nstop: {{iterations: 1}}\n")
    with pytest.raises(SpecError, match="cannot create .*shield options are"):
        jobs.load_job(str(job))


def test_unknown_env_kwargs_are_still_named_behind_the_shield_entry_point(tmp_path):
    job = tmp_path / "job.yaml"
    job.write_text(f"name: x\nalgorithm: ppo_lagrangian\nenv: {{id: {ENV_ID}, kwargs: {{shiled: true}}}}\nstop: {{iterations: 1}}\n")
    with pytest.raises(SpecError, match="did you mean 'shield'"):
        jobs.load_job(str(job))
    job.write_text(f"name: x\nalgorithm: ppo_lagrangian\nenv: {{id: {ENV_ID}, kwargs: {{sensor_dropout: 1.5}}}}\nstop: {{iterations: 1}}\n")
    with pytest.raises(SpecError, match="cannot create .*sensor_dropout in"):
        jobs.load_job(str(job))
