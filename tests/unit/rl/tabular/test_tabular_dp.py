"""Dynamic programming: the sparse model, exact evaluation = MRP closed form, VI = PI."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from trainfleet.errors import SpecError
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.core.checkpoint import load_state, save_state
from trainfleet.rl.envs.slippery_grid import SlipperyGridEnv
from trainfleet.rl.tabular.dynamic_programming import PolicyIteration, ValueIteration
from trainfleet.rl.tabular.model import TabularModel, evaluate_exact, greedy, one_hot, uniform_policy
from trainfleet.rl.tabular.planning import evaluate_iterative, improve, solve_optimal

GAMMA = 0.99
LAKE8 = ("FrozenLake-v1", {"map_name": "8x8", "is_slippery": True})


@pytest.fixture(scope="module")
def lake8() -> TabularModel:
    return TabularModel.from_env(gym.make(LAKE8[0], **LAKE8[1]))


def random_policy(model: TabularModel, seed: int = 0) -> np.ndarray:
    pi = np.random.default_rng(seed).random((model.n_states, model.n_actions))
    return pi / pi.sum(axis=1, keepdims=True)


def dense_mrp_solution(model: TabularModel, pi: np.ndarray, gamma: float) -> np.ndarray:
    """v = (I - gamma P_pi)^-1 R_pi, written out densely from P[s][a] without the sparse code."""
    P = model.P.toarray().reshape(model.n_actions, model.n_states, model.n_states).transpose(1, 0, 2)
    P_pi = np.einsum("sa,sat->st", pi, P)
    R_pi = (pi * model.R).sum(axis=1)
    return np.linalg.inv(np.eye(model.n_states) - gamma * P_pi) @ R_pi


def run_to_convergence(algo, max_iterations: int = 10_000) -> int:
    for i in range(1, max_iterations + 1):
        if algo.train_iteration()["done"]:
            return i
    raise AssertionError("did not converge")


def test_model_matches_the_envs_transition_dict():
    env = gym.make("FrozenLake-v1", is_slippery=True)
    model = TabularModel.from_env(env)
    P = model.P.toarray().reshape(4, 16, 16).transpose(1, 0, 2)  # rows are action-major
    for s in range(16):
        for a in range(4):
            expected_r = sum(p * r for p, _, r, _ in env.unwrapped.P[s][a])
            assert model.R[s, a] == pytest.approx(expected_r)
            expected_p = np.zeros(16)
            for p, nxt, _, terminated in env.unwrapped.P[s][a]:
                if not terminated:
                    expected_p[nxt] += p
            np.testing.assert_allclose(P[s, a], expected_p)


def test_array_and_dict_model_views_agree():
    env = SlipperyGridEnv(size=6, slip=0.3)
    from_arrays = TabularModel.from_env(env)
    from_dict = TabularModel.from_transitions(env.P, env.grid.size, 4)
    np.testing.assert_allclose(from_arrays.P.toarray(), from_dict.P.toarray())
    np.testing.assert_allclose(from_arrays.R, from_dict.R)


def test_policy_evaluation_equals_the_mrp_closed_form(lake8):
    pi = random_policy(lake8)
    closed = dense_mrp_solution(lake8, pi, GAMMA)
    np.testing.assert_allclose(evaluate_exact(lake8, pi, GAMMA), closed, atol=1e-10)
    np.testing.assert_allclose(evaluate_iterative(lake8, pi, GAMMA, theta=1e-12), closed, atol=1e-8)


def test_bellman_expectation_relations_hold(lake8):
    pi = random_policy(lake8, seed=1)
    v = evaluate_exact(lake8, pi, GAMMA)
    q = lake8.q_values(v, GAMMA)  # q_pi = R + gamma P v_pi (notes L1437)
    np.testing.assert_allclose((pi * q).sum(axis=1), v, atol=1e-10)  # v_pi = sum_a pi q_pi (L1429)


def test_value_and_policy_iteration_agree_on_frozenlake_8x8_slippery(lake8):
    hp = dict(gamma=GAMMA, theta=1e-12, eval_episodes=0)
    vi = ValueIteration(RunContext(*LAKE8, 1, ValueIteration.Hparams(**hp), 0))
    run_to_convergence(vi)
    exact = PolicyIteration(RunContext(*LAKE8, 1, PolicyIteration.Hparams(**hp), 0))
    iterative = PolicyIteration(RunContext(*LAKE8, 1, PolicyIteration.Hparams(evaluation="iterative", **hp), 0))
    assert run_to_convergence(exact) < 20  # policy iteration: a handful of improvements
    run_to_convergence(iterative)
    np.testing.assert_allclose(exact.v, vi.v, atol=1e-8)
    np.testing.assert_allclose(iterative.v, vi.v, atol=1e-8)
    # the same optimal policy up to ties: each one's action is optimal under the other's Q*
    q_star = lake8.q_values(vi.v, GAMMA)
    optimal = q_star >= q_star.max(axis=1, keepdims=True) - 1e-8
    rows = np.arange(lake8.n_states)
    for algo in (vi, exact, iterative):
        assert optimal[rows, algo.policy].all()
    # the greedy policy is one-hot and v* = max_a q*
    np.testing.assert_allclose(q_star.max(axis=1), vi.v, atol=1e-10)
    assert (one_hot(greedy(q_star), 4).sum(axis=1) == 1).all()
    # and its exact value is V*
    np.testing.assert_allclose(evaluate_exact(lake8, one_hot(exact.policy, 4), GAMMA), vi.v, atol=1e-8)


def test_policy_improvement_is_monotone(lake8):
    pi = uniform_policy(lake8.n_states, lake8.n_actions)
    policy = np.zeros(lake8.n_states, dtype=int)
    v = evaluate_exact(lake8, pi, GAMMA)
    for _ in range(5):
        policy = improve(lake8.q_values(v, GAMMA), policy)
        v_next = evaluate_exact(lake8, one_hot(policy, 4), GAMMA)
        assert (v_next >= v - 1e-10).all()
        v = v_next


def test_planners_report_platform_metrics_and_checkpoint(tmp_path):
    algo = ValueIteration(RunContext("FrozenLake-v1", {"is_slippery": False}, 1, ValueIteration.Hparams(eval_episodes=2), 0))
    first = algo.train_iteration()
    assert first["env_steps"] == 0 and first["value_delta"] == pytest.approx(1.0) and not first["done"]
    save_state(tmp_path, algo.get_state())
    iterations = run_to_convergence(algo)
    assert algo.train_iteration()["episode_return_mean"] == 1.0  # the greedy policy reaches the goal
    resumed = ValueIteration(RunContext("FrozenLake-v1", {"is_slippery": False}, 1, ValueIteration.Hparams(eval_episodes=2), 0))
    resumed.set_state(load_state(tmp_path))
    assert run_to_convergence(resumed) == iterations
    np.testing.assert_array_equal(resumed.v, algo.v)


def test_dp_on_cliffwalking_and_taxi_gives_the_known_optimum():
    cliff = ValueIteration(RunContext("CliffWalking-v1", {}, 1, ValueIteration.Hparams(gamma=0.999, eval_episodes=1), 0))
    run_to_convergence(cliff)
    assert cliff.train_iteration()["episode_return_mean"] == -13.0  # the cliff-edge path
    v_star, _ = solve_optimal(TabularModel.from_env(gym.make("Taxi-v3")), 0.99)
    taxi = PolicyIteration(RunContext("Taxi-v3", {}, 1, PolicyIteration.Hparams(eval_episodes=0), 0))
    run_to_convergence(taxi)
    np.testing.assert_allclose(taxi.v, v_star, atol=1e-6)


def test_planning_without_a_model_is_a_spec_error():
    with pytest.raises(SpecError, match="Discrete"):
        ValueIteration(RunContext("CartPole-v1", {}, 1, ValueIteration.Hparams(), 0))
