"""Torch modules for the curriculum's models: each file a config (`Hparams`) and an `nn.Module`, no loop.

Every model class is built as `Model(hp, info)` where `info` is the dataset's
`trainfleet.dl.data.source.DataInfo` (input shape, number of classes).
"""
