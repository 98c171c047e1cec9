"""Offline data: built-in datasets, Parquet (local or pyarrow-filesystem URI), image folders.

Everything becomes an Arrow table plus `DataInfo` (sample shape, classes) and a train/val
split fixed by seed, the same in a Ray Train run, an in-process run and `trainfleet eval`.
"""
