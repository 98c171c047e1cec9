"""Deep model-free RL: one readable file per algorithm (REINFORCE ... TD3)."""
