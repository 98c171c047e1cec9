"""Meta-RL: agents that adapt to unseen tasks of a task family (course notes L2958-3146)."""
