"""GPU or not, resolved once for every backend from `resources` (`auto`, 0/1, true/false).

Two questions, each answered only here: what a trial or Train worker reserves (`auto` asks
the cluster: a GPU when it has one for every worker), and what a process Ray placed trains on
(Ray sets CUDA_VISIBLE_DEVICES for it, so a visible GPU is the ground truth there).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch

GpuWant = bool | int | Literal["auto"]


def reserve_gpu(want: GpuWant, workers: int = 1) -> bool:
    """Whether each of `workers` processes reserves one GPU; `auto` when the cluster has enough (Ray started)."""
    if want == "auto":
        import ray

        return ray.cluster_resources().get("GPU", 0) >= workers  # RAY
    return bool(want)


def torch_device(want: GpuWant) -> torch.device:
    """cuda when the job asks for a GPU (1, true or auto) and this process sees one, else cpu."""
    import torch

    return torch.device("cuda" if want and torch.cuda.is_available() else "cpu")
