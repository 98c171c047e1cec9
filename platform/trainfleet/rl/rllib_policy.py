"""An RLlib policy as plain torch: written at each checkpoint, read back by `trainfleet eval` without Ray.

RLlib's own checkpoint rebuilds its module from a pickle (`class_and_ctor_args.pkl`), i.e. it
runs code from the run directory, and it needs Ray. So at every checkpoint trainfleet also writes

    policy.pt     the greedy path's tensors (torch.save of plain tensors, loaded weights_only)
    policy.json   the layer sequence those tensors fill (linear, layer norm, activations) and how
                  an action comes out of the last layer (`argmax`, or the Gaussian `mean`)

The greedy path of every default RLlib MLP module is a chain of sequential leaf layers: the actor
encoder then the policy head (PPO, APPO, IMPALA, SAC), or the encoder then the advantage head (DQN:
with dueling heads the argmax of Q = V + A - mean(A) is the argmax of A). The export checks itself:
it is written only when the rebuilt chain gives the module's own greedy output on sample observations.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from trainfleet.errors import UserError, first_line

WEIGHTS_FILE = "policy.pt"
LAYOUT_FILE = "policy.json"
FORMAT = 1

# leaf module type -> name in policy.json (and back); parameterless ones are activations
_LAYERS: dict[type[nn.Module], str] = {
    nn.Linear: "linear", nn.LayerNorm: "layer_norm", nn.Tanh: "tanh", nn.ReLU: "relu", nn.SiLU: "silu",
    nn.ELU: "elu", nn.Sigmoid: "sigmoid", nn.Identity: "identity",
}
_ACTIVATIONS = {name: cls for cls, name in _LAYERS.items() if name not in ("linear", "layer_norm")}


def greedy_layers(module: nn.Module, parts: Sequence[Sequence[str]]) -> list[nn.Module] | None:
    """The leaf layers of the greedy path, in order; each part names its candidate submodules
    (the first that exists is used). None when a layer is not a plain sequential type."""
    layers: list[nn.Module] = []
    for candidates in parts:
        part = next((module.get_submodule(c) for c in candidates if _has(module, c)), None)
        if part is None:
            return None
        for leaf in (m for m in part.modules() if not list(m.children())):
            if type(leaf) not in _LAYERS:
                return None
            layers.append(leaf)
    return layers


def _has(module: nn.Module, name: str) -> bool:
    try:
        module.get_submodule(name)
    except AttributeError:
        return False
    return True


def export(directory: Path, layers: list[nn.Module], action: str,
           reference: Callable[[torch.Tensor], torch.Tensor], sample_obs: np.ndarray) -> bool:
    """Write policy.pt/policy.json when the chain reproduces `reference` (the module's greedy
    action before unsquashing) on `sample_obs`; returns whether it was written."""
    layout = [{"type": _LAYERS[type(m)], **_shape_args(m)} for m in layers]
    tensors = {f"{i}.{k}": v.detach().cpu().clone() for i, m in enumerate(layers) for k, v in m.state_dict().items()}
    policy = _build(layout, tensors)
    obs = torch.as_tensor(sample_obs, dtype=torch.float32)
    with torch.no_grad():
        if not torch.allclose(_greedy(policy(obs), action), reference(obs).float(), atol=1e-5):
            return False
    torch.save(tensors, directory / WEIGHTS_FILE)
    (directory / LAYOUT_FILE).write_text(json.dumps({"format": FORMAT, "action": action, "layers": layout}))
    return True


def _shape_args(m: nn.Module) -> dict[str, Any]:
    if isinstance(m, nn.LayerNorm):
        return {"eps": m.eps}
    return {}


def _build(layout: list[dict[str, Any]], tensors: dict[str, torch.Tensor]) -> nn.Sequential:
    seq = []
    for i, layer in enumerate(layout):
        kind = layer["type"]
        if kind == "linear":
            w = tensors[f"{i}.weight"]
            m: nn.Module = nn.Linear(w.shape[1], w.shape[0], bias=f"{i}.bias" in tensors)
        elif kind == "layer_norm":
            m = nn.LayerNorm(tensors[f"{i}.weight"].shape, eps=float(layer["eps"]))
        else:
            m = _ACTIVATIONS[kind]()
        m.load_state_dict({k.split(".", 1)[1]: v for k, v in tensors.items() if k.split(".", 1)[0] == str(i)})
        seq.append(m)
    return nn.Sequential(*seq).eval()


def _greedy(out: torch.Tensor, action: str) -> torch.Tensor:
    if action == "argmax":
        return out.argmax(dim=-1).float()
    return out[..., : out.shape[-1] // 2]  # a Gaussian's inputs: mean, then log std


def unsquash(action: np.ndarray, space: gym.spaces.Box) -> np.ndarray:
    """RLlib's env runners map [-1, 1] policy outputs onto the action bounds (normalize_actions)."""
    return np.clip(space.low + (action + 1.0) * (space.high - space.low) / 2.0, space.low, space.high)


def load(directory: Path, action_space: gym.Space) -> Callable[[Any], Any]:
    """The greedy `act(obs)` from a checkpoint directory, or a UserError naming what is wrong."""
    layout_path, weights_path = directory / LAYOUT_FILE, directory / WEIGHTS_FILE
    if not layout_path.is_file() or not weights_path.is_file():
        raise UserError(f"{directory}: no {LAYOUT_FILE}/{WEIGHTS_FILE} (a checkpoint from an older trainfleet, "
                        "or a module that is not a plain MLP); eval reads only weights trainfleet wrote itself")
    try:
        meta = json.loads(layout_path.read_text())
        tensors = torch.load(weights_path, map_location="cpu", weights_only=True)
        if meta.get("format") != FORMAT or meta.get("action") not in ("argmax", "mean"):
            raise ValueError(f"unknown policy format {meta.get('format')!r}/{meta.get('action')!r}")
        policy = _build(meta["layers"], tensors)
    except Exception as err:  # any damage to either file is the same user-side problem
        raise UserError(f"{directory}: unreadable RLlib policy files ({first_line(err)})") from None
    action = meta["action"]

    def act(obs: Any) -> Any:
        with torch.no_grad():
            out = _greedy(policy(torch.as_tensor(np.asarray(obs)[None], dtype=torch.float32)), action)[0].numpy()
        if isinstance(action_space, gym.spaces.Box):
            return unsquash(out, action_space)
        return int(out)

    return act
