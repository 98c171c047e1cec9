"""Planners find the best action sequence of a known score, scoring every candidate in one batched call."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from trainfleet.rl.model_based.planners import PlannerHparams, make_planner

BOX = gym.spaces.Box(-2.0, 2.0, (2,), np.float32)
TARGET = torch.tensor([0.7, -1.2])


class Recorder:
    """score(seqs) = −Σ_t ‖a_t − TARGET‖², recording the batch size of every call."""

    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(self, seqs: torch.Tensor) -> torch.Tensor:
        self.batches.append(len(seqs))
        return -((seqs - TARGET) ** 2).sum((1, 2))


@pytest.mark.parametrize("kind, tol", [("random", 0.8), ("cem", 0.1), ("cma_es", 0.25)])
def test_box_planners_find_the_best_first_action_in_batched_calls(kind, tol):
    hp = PlannerHparams(kind=kind, horizon=3, candidates=200, iterations=6, elites=20)
    score = Recorder()
    action, _ = make_planner(hp, BOX, seed=0).plan(score)
    assert np.abs(action - TARGET.numpy()).max() < tol, (kind, action)
    assert action.shape == (2,) and (np.abs(action) <= 2).all()
    calls = 1 if kind == "random" else hp.iterations
    assert score.batches == [hp.candidates] * calls, score.batches


def test_cem_beats_random_shooting_at_equal_candidates():
    hp = {"horizon": 5, "candidates": 100, "iterations": 5, "elites": 10}
    cem = make_planner(PlannerHparams(kind="cem", **hp), BOX, seed=0).plan(Recorder())[1]
    rand = make_planner(PlannerHparams(kind="random", **hp), BOX, seed=0).plan(Recorder())[1]
    assert cem > rand, (cem, rand)


def test_discrete_cem_finds_the_best_action_sequence():
    """Reward 1 for action (t mod 3) at step t: the best sequence is 0, 1, 2, 0, 1, 2."""
    space = gym.spaces.Discrete(3)
    best = torch.arange(6) % 3

    def score(seqs: torch.Tensor) -> torch.Tensor:
        return (seqs == best).float().sum(1)

    planner = make_planner(PlannerHparams(kind="cem", horizon=6, candidates=100, iterations=5, elites=10), space, seed=0)
    action, value = planner.plan(score)
    assert int(action) == 0 and value == 6.0, (action, value)
    # the warm start shifted by one step: the next plan starts from the sequence's second action
    assert int(planner.probs[0].argmax()) == 1, planner.probs
