"""trainfleet: every RL algorithm and DL model of the curriculum as a Ray job."""

__version__ = "0.1.0"
