"""Machinery every RL algorithm shares: the Algorithm contract, checkpoints, envs, buffers, networks."""
