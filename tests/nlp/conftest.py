"""NLP tests run torch on one thread, as the Train workers and trials do (two threads collapse on 2 busy cores)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
