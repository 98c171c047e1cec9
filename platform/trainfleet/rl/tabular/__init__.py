"""Unit 1 tabular methods: dynamic programming, Monte Carlo, TD learning, Dyna-Q."""
