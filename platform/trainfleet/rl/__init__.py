"""Reinforcement learning: environments, shared machinery, tabular and deep algorithms."""
