"""Replay buffers: ring-buffer wraparound, sum-tree sampling, PER importance weights."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from trainfleet.rl.core.replay import PrioritizedReplayBuffer, ReplayBuffer
from trainfleet.rl.core.schedules import Schedule
from trainfleet.rl.core.sum_tree import MinTree, SumTree

OBS = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
ACT = gym.spaces.Discrete(3)


def fill(buf: ReplayBuffer, start: int, n: int) -> np.ndarray:
    """n transitions whose observation holds their global insertion number."""
    k = np.arange(start, start + n, dtype=np.float32)
    obs = np.stack([k, -k], axis=1)
    return buf.add(obs, (k % 3).astype(np.int64), k, obs + 1, (k % 2 == 0).astype(np.float32))


def test_uniform_buffer_wraps_around_and_keeps_the_newest():
    buf = ReplayBuffer(5, OBS, ACT, seed=0)
    fill(buf, 0, 3)
    assert len(buf) == 3 and buf.pos == 3
    written = fill(buf, 3, 4)  # 3, 4 fill the end; 5, 6 overwrite slots 0, 1
    np.testing.assert_array_equal(written, [3, 4, 0, 1])
    assert len(buf) == 5 and buf.pos == 2
    np.testing.assert_array_equal(buf.rewards, [5, 6, 2, 3, 4])
    np.testing.assert_array_equal(buf.next_obs[:, 0], buf.obs[:, 0] + 1)
    fill(buf, 7, 12)  # more than the capacity in one add: only the newest 5 survive
    assert sorted(buf.rewards.tolist()) == [14, 15, 16, 17, 18]


def test_uniform_sample_only_draws_filled_slots_and_matches_rows():
    buf = ReplayBuffer(100, OBS, ACT, seed=1)
    fill(buf, 0, 10)
    s = buf.sample(500)
    assert set(s.rewards.tolist()) <= set(range(10))
    np.testing.assert_array_equal(s.obs[:, 0].numpy(), s.rewards.numpy())
    np.testing.assert_array_equal(s.actions.numpy(), s.rewards.numpy().astype(int) % 3)
    assert s.weights.eq(1).all()


def test_uniform_burst_is_one_draw_cut_into_minibatches():
    buf = ReplayBuffer(100, OBS, ACT, seed=3)
    fill(buf, 0, 50)
    burst = list(buf.sample_burst(4, 16))
    assert [len(b.rewards) for b in burst] == [16] * 4
    for b in burst:  # every row is one stored transition
        np.testing.assert_array_equal(b.obs[:, 0].numpy(), b.rewards.numpy())
        np.testing.assert_array_equal(b.next_obs[:, 0].numpy(), b.rewards.numpy() + 1)
    one_draw = ReplayBuffer(100, OBS, ACT, seed=3)
    fill(one_draw, 0, 50)
    np.testing.assert_array_equal(np.concatenate([b.indices for b in burst]), one_draw.sample(64).indices)
    assert len({tuple(b.indices) for b in burst}) == 4


def test_prioritized_burst_draws_each_minibatch_after_the_last_priority_update():
    buf = PrioritizedReplayBuffer(8, OBS, ACT, seed=8, alpha=1.0)
    fill(buf, 0, 8)
    burst = buf.sample_burst(3, 64)
    first = next(burst)
    assert len(set(first.indices.tolist())) > 4
    buf.update_priorities(np.array([5]), np.array([1000.0]))
    assert np.mean(next(burst).indices == 5) > 0.9


def test_uniform_state_round_trip_continues_identically():
    a = ReplayBuffer(8, OBS, ACT, seed=2)
    fill(a, 0, 11)
    a.sample(4)
    b = ReplayBuffer(8, OBS, ACT, seed=99)
    b.set_state(a.get_state())
    fill(a, 11, 2), fill(b, 11, 2)
    np.testing.assert_array_equal(a.sample(16).rewards.numpy(), b.sample(16).rewards.numpy())


def test_sum_tree_totals_and_prefix_search():
    tree = SumTree(5)  # 8 leaves internally; the 3 unused ones stay 0
    tree.update(np.arange(5), np.array([1.0, 0.0, 2.0, 3.0, 4.0]))
    assert tree.total() == 10.0
    # leaf i covers [cumsum_{i-1}, cumsum_i): 0:[0,1) 1:empty 2:[1,3) 3:[3,6) 4:[6,10)
    found = tree.find_prefix_sum(np.array([0.0, 0.99, 1.0, 2.5, 3.0, 5.99, 6.0, 9.999999]))
    np.testing.assert_array_equal(found, [0, 0, 2, 2, 3, 3, 4, 4])
    tree.update(np.array([4, 4]), np.array([9.0, 0.5]))  # last write wins
    assert tree.total() == 6.5
    mins = MinTree(5)
    mins.update(np.arange(3), np.array([3.0, 0.25, 2.0]))
    assert mins.min() == 0.25


def test_sum_tree_never_returns_an_empty_leaf_at_the_upper_edge():
    tree = SumTree(6)
    tree.update(np.arange(3), np.array([0.1, 0.2, 0.3]))
    found = tree.find_prefix_sum(np.array([tree.total(), np.nextafter(tree.total(), 0)]))
    np.testing.assert_array_equal(found, [2, 2])


def test_prioritized_sampling_frequencies_match_priorities():
    """Chi-square goodness of fit: counts over many draws against P(i) = p_i^a / sum p^a."""
    rng = np.random.default_rng(0)
    n, alpha = 16, 0.7
    buf = PrioritizedReplayBuffer(n, OBS, ACT, seed=3, alpha=alpha, eps=0.0)
    fill(buf, 0, n)
    td = rng.uniform(0.05, 3.0, n)
    buf.update_priorities(np.arange(n), td)
    expected_p = td**alpha / np.sum(td**alpha)
    np.testing.assert_allclose(buf.probabilities(np.arange(n)), expected_p)
    counts = np.zeros(n)
    draws = 2000
    for _ in range(draws):
        np.add.at(counts, buf.sample(32).indices, 1)
    expected = expected_p * draws * 32
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    # 15 degrees of freedom: the 99.9% quantile is 37.7. Stratification only lowers the spread.
    assert chi2 < 37.7, chi2


def test_alpha_zero_is_uniform():
    buf = PrioritizedReplayBuffer(4, OBS, ACT, seed=4, alpha=0.0)
    fill(buf, 0, 4)
    buf.update_priorities(np.arange(4), np.array([0.1, 10.0, 3.0, 0.0]))
    np.testing.assert_allclose(buf.probabilities(np.arange(4)), 0.25)
    np.testing.assert_allclose(buf.sample(8, beta=1.0).weights.numpy(), 1.0)


def test_importance_weights_are_those_of_the_per_paper():
    """Hand-computed: N = 4, alpha = 1, priorities 1, 2, 3, 4 (P = 0.1 .. 0.4), beta = 0.5."""
    buf = PrioritizedReplayBuffer(4, OBS, ACT, seed=5, alpha=1.0, eps=0.0)
    fill(buf, 0, 4)
    buf.update_priorities(np.arange(4), np.array([1.0, 2.0, 3.0, 4.0]))
    p = np.array([0.1, 0.2, 0.3, 0.4])
    w = (4 * p) ** -0.5  # (N P(i))^-beta
    np.testing.assert_allclose(buf.importance_weights(np.arange(4), 0.5), w / w.max())
    np.testing.assert_allclose(buf.importance_weights(np.arange(4), 0.5), [1.0, 0.5**0.5, (1 / 3) ** 0.5, 0.5])
    s = buf.sample(64, beta=0.5)
    np.testing.assert_allclose(s.weights.numpy(), (w / w.max())[s.indices], rtol=1e-6)
    assert (s.weights > 0).all() and (s.weights <= 1).all()
    # beta = 1 with these weights makes the weighted sample mean unbiased: E_P[w x] ∝ E_uniform[x]
    x = np.array([5.0, -1.0, 2.0, 7.0])
    w1 = buf.importance_weights(np.arange(4), 1.0)
    assert np.sum(p * w1 * x) / np.sum(p * w1) == pytest.approx(x.mean())


def test_priority_update_changes_sampling():
    buf = PrioritizedReplayBuffer(8, OBS, ACT, seed=6, alpha=1.0)
    fill(buf, 0, 8)
    before = np.bincount(np.concatenate([buf.sample(8).indices for _ in range(200)]), minlength=8)
    assert before.min() > 100  # all start at the max priority: equal chances
    buf.update_priorities(np.array([5]), np.array([1000.0]))
    after = np.bincount(np.concatenate([buf.sample(8).indices for _ in range(200)]), minlength=8)
    assert after[5] > 0.95 * after.sum()
    # a new transition enters with the maximum priority seen so far
    idx = fill(buf, 8, 1)
    assert buf.sum_tree[idx][0] == pytest.approx(1000.0 + buf.eps)


def test_prioritized_state_round_trip():
    a = PrioritizedReplayBuffer(8, OBS, ACT, seed=7)
    fill(a, 0, 10)
    a.update_priorities(np.arange(8), np.linspace(0.1, 2.0, 8))
    b = PrioritizedReplayBuffer(8, OBS, ACT, seed=0)
    b.set_state(a.get_state())
    np.testing.assert_array_equal(a.sum_tree.nodes, b.sum_tree.nodes)
    np.testing.assert_array_equal(a.sample(16, 0.6).indices, b.sample(16, 0.6).indices)


def test_schedules():
    lin = Schedule(schedule="linear", start=1.0, end=0.1, steps=100)
    assert [lin.value(t) for t in (0, 50, 100, 10_000)] == pytest.approx([1.0, 0.55, 0.1, 0.1])
    exp = Schedule(schedule="exponential", start=1.0, end=0.01, steps=100)
    assert [exp.value(t) for t in (0, 50, 100, 200)] == pytest.approx([1.0, 0.1, 0.01, 0.01])
    with pytest.raises(ValueError):
        Schedule(schedule="exponential", start=1.0, end=0.0, steps=10)
