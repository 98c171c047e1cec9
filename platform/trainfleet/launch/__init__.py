"""Ray at the edges: the only package that starts Ray, builds Tuners and talks to the Jobs API."""

import os

# The platform prints its own progress line; keep Tune's tables and hints out of the way.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
