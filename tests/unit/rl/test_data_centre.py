"""The data-centre cooling env's physics: what heat balance and thermodynamics fix exactly."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from trainfleet import jobs
from trainfleet.errors import SpecError
from trainfleet.rl.envs import data_centre as dc

ENV_ID = "trainfleet/DataCentreCooling-v0"


def make(**kwargs) -> dc.DataCentreCoolingEnv:
    return gym.make(ENV_ID, **kwargs).unwrapped


def test_passes_gymnasium_env_checker():
    check_env(make(), skip_render_check=True)


def test_a_day_is_288_five_minute_steps_and_days_scale_it():
    for days in (1, 2):
        env = make(days=days)
        env.reset(seed=0)
        steps, truncated = 0, False
        while not truncated:
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            assert not terminated, "the plant never terminates an episode"
            steps += 1
        assert steps == 288 * days, f"{days} day(s) took {steps} steps"


def test_setpoint_scaling_round_trips():
    action = dc.to_action(21.0, 12.0, 0.6)
    assert np.allclose(dc.to_setpoints(action), [21.0, 12.0, 0.6], atol=1e-5), f"{dc.to_setpoints(action)}"
    assert np.allclose(dc.to_action(18.0, 6.0, 0.2), -1.0) and np.allclose(dc.to_action(27.0, 18.0, 1.0), 1.0)


def test_heat_removed_equals_heat_produced_at_steady_state():
    """Constant load and setpoints: after many time constants the zones store nothing, so the coil removes the IT heat."""
    env = make(load_scale=0.8)
    env.reset(seed=3)
    env.it_kw[:] = env.it_kw[0]  # hold the load so a steady state exists
    action = dc.to_action(20.0, 12.0, 0.7)
    for _ in range(100):
        _, _, _, _, info = env.step(action)
    assert info["heat_removed_kwh"] == pytest.approx(info["it_kwh"], rel=1e-6), f"{info}"
    expected = 20.0 + env.it_kw[0] / (0.7 * env.airflow * dc.CP_AIR)  # T = T_supply + Q / (m c_p)
    assert np.allclose(env.inlet, expected, atol=1e-6), f"inlets {env.inlet} vs steady state {expected}"


def test_energy_is_conserved_in_every_transient_step():
    """Heat produced = heat removed + heat stored in the zones' thermal mass, step by step."""
    env = make()
    env.reset(seed=1)
    for t in range(20):
        before = env.inlet.copy()
        _, _, _, _, info = env.step(dc.to_action(18.0 + t % 5, 7.0, 0.3 + 0.03 * t))
        stored_kwh = float(np.sum(env.physics["thermal_mass"] * (env.inlet - before))) / 3600.0
        assert info["it_kwh"] == pytest.approx(info["heat_removed_kwh"] + stored_kwh, rel=1e-9), f"step {t}: {info}"


def test_chiller_cop_falls_with_outdoor_temperature_and_rises_with_chilled_water():
    outdoor = np.linspace(-10.0, 45.0, 56)
    cops = np.array([dc.chiller_cop(o, 10.0, 0.45) for o in outdoor])
    assert np.all(np.diff(cops) <= 0) and cops[-1] < cops[20], f"COP not decreasing in outdoor temperature: {cops}"
    # lift = outdoor + 5 - (10 - 2) K: above its 10 K floor from 13 C outside, the COP strictly falls
    assert np.all(np.diff(cops[outdoor >= 13.0]) < 0), f"not strictly decreasing above 13 C: {cops}"
    water = [dc.chiller_cop(30.0, c, 0.45) for c in (6.0, 10.0, 14.0, 18.0)]
    assert np.all(np.diff(water) > 0), f"COP not increasing in chilled-water setpoint: {water}"
    # Carnot fraction: 0.45 * 281.15 K / (35 + 273.15 - 281.15) K at 10 C water, 30 C outside
    assert dc.chiller_cop(30.0, 10.0, 0.45) == pytest.approx(0.45 * 281.15 / 27.0)


def test_fan_power_is_cubic_in_speed():
    env = make()
    powers = []
    for speed in (0.4, 0.8):
        env.reset(seed=0)
        _, _, _, _, info = env.step(dc.to_action(20.0, 12.0, speed))
        assert info["cooling_kwh"] == pytest.approx((info["fan_kw"] + info["chiller_kw"]) * 5 / 60), f"{info}"
        powers.append(info["fan_kw"])
    assert powers[1] == pytest.approx(8 * powers[0], rel=1e-5), f"{powers}"
    assert powers[1] == pytest.approx(4 * 15.0 * 0.8**3, rel=1e-5)


def test_info_reports_pue_cooling_kwh_and_degree_minutes_over_the_limit():
    env = make()
    env.reset(seed=0)
    for _ in range(6):  # warm air, little of it: the zones overheat within half an hour
        _, reward, _, _, info = env.step(dc.to_action(27.0, 18.0, 0.2))
    assert reward == -info["cooling_kwh"]
    assert info["pue"] == pytest.approx(1 + info["cooling_kwh"] / info["it_kwh"])
    over = np.maximum(env.inlet - dc.INLET_LIMIT_C, 0.0)
    assert over.sum() > 0 and info["constraint_cost"] == pytest.approx(over.sum() * 5.0), f"{info}, inlets {env.inlet}"


def test_randomised_physics_differ_per_episode_and_replay_from_the_seed():
    ranges = {"thermal_mass": [8000.0, 25000.0], "chiller_efficiency": [0.35, 0.55], "load_scale": [0.7, 1.1]}
    draws = []
    for _ in range(2):
        env = make(**ranges)
        draws.append([env.reset(seed=7)[1]["physics"]] + [env.reset()[1]["physics"] for _ in range(3)])
    assert draws[0] == draws[1], "the same seed must give the same sequence of physics"
    assert len({tuple(p.values()) for p in draws[0]}) == 4, f"physics repeated across episodes: {draws[0]}"
    for physics in draws[0]:
        for name, (low, high) in ranges.items():
            assert low <= physics[name] <= high, f"{name}={physics[name]} outside [{low}, {high}]"


def test_traces_are_reproducible_from_the_seed_and_differ_between_seeds():
    a, b, c = make(), make(), make()
    a.reset(seed=5), b.reset(seed=5), c.reset(seed=6)
    assert np.array_equal(a.it_kw, b.it_kw) and np.array_equal(a.outdoor_c, b.outdoor_c)
    assert not np.array_equal(a.it_kw, c.it_kw)


def test_summer_is_warmer_than_winter_and_afternoon_load_above_night():
    summer, winter = make(start_day=196), make(start_day=15)
    summer.reset(seed=0), winter.reset(seed=0)
    assert summer.outdoor_c.mean() > winter.outdoor_c.mean() + 10, "seasonal cycle missing"
    load = summer.it_kw.sum(axis=1)
    assert load[14 * 12] > load[3 * 12], "IT load should peak in the afternoon, not at 03:00"


@pytest.mark.parametrize("bad", [[5.0, 1.0], [1.0, 2.0, 3.0], "abc", -1.0, [0.0, 1.0], True])
def test_bad_randomisation_range_is_a_one_line_spec_error(bad):
    raw = {"name": "t", "algorithm": "fixed_setpoints", "stop": {"iterations": 1},
           "env": {"id": ENV_ID, "kwargs": {"thermal_mass": bad}}}
    with pytest.raises(SpecError, match="thermal_mass must be a positive number"):
        jobs.parse_spec(raw)


def test_sensor_noise_and_dropout_change_the_readings_not_the_plant():
    """Partial observability: noisy, stale inlet readings; the true inlets (and the cost) are untouched."""
    action = dc.to_action(20.0, 12.0, 0.6)
    clean, noisy, dropped = make(), make(sensor_noise_c=0.5), make(sensor_dropout=0.3)
    for env in (clean, noisy, dropped):
        env.reset(seed=7)
    errors, stale, inlets = [], [], []
    for _ in range(200):
        previous = dropped.readings.copy()
        obs = [env.step(action)[0] for env in (clean, noisy, dropped)]
        assert np.allclose(obs[0][:4], clean.inlet, atol=1e-4), "no noise: the sensors read the true inlets"
        errors.append(obs[1][:4] - noisy.inlet)
        stale.append(np.isclose(obs[2][:4], previous, atol=1e-6) & ~np.isclose(dropped.inlet, previous, atol=1e-6))
        inlets.append([clean.inlet, noisy.inlet, dropped.inlet])
    inlets = np.array(inlets)
    assert np.allclose(inlets[:, 0], inlets[:, 1]) and np.allclose(inlets[:, 0], inlets[:, 2]), "the plant is the same"
    assert abs(np.std(errors) - 0.5) < 0.05 and abs(np.mean(errors)) < 0.05, f"noise std {np.std(errors):.3f}"
    # the inlets change every step while they settle, so a stale reading shows; 0.3 of 800 readings ~ 240
    assert 0.2 < np.mean(stale) < 0.4, f"stale fraction {np.mean(stale):.3f}"
    with pytest.raises(ValueError, match="sensor_dropout"):
        make(sensor_dropout=1.0)
