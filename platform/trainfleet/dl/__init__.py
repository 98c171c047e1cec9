"""Deep learning on Ray Train: data pipeline, the curriculum's models, tasks and one training loop.

`data/` turns a job's `data:` section into a table and a seed-fixed split, `models/` holds
the torch modules (no training loops), `tasks/` the losses, metrics and per-batch steps,
`engine.py` the one epoch loop (no Ray), and `train.py` the few marked Ray Train calls.
"""
