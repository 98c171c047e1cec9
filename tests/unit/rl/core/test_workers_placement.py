"""Learner placement: cuda only when the job asks for a learner GPU (1 or auto) and one is visible."""

from __future__ import annotations

import pytest
import torch

from trainfleet.jobs import Resources
from trainfleet.rl.core.learner import configure_threads, learner_device


@pytest.mark.parametrize(
    ("gpus", "visible", "expected"),
    [(0, True, "cpu"), (1, True, "cuda"), ("auto", True, "cuda"), ("auto", False, "cpu"), (1, False, "cpu")],
)
def test_learner_device(monkeypatch, gpus, visible, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: visible)
    assert learner_device(Resources(learner_gpus=gpus)).type == expected


def test_no_resources_means_cpu_and_threads_are_pinned():
    assert learner_device(None).type == "cpu"
    before = torch.get_num_threads()
    try:
        configure_threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
