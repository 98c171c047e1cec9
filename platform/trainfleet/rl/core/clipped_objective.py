"""PPO's clipped surrogate and clipped value loss (Schulman et al. 2017), shared by the PPO
learners: feed-forward PPO and the recurrent RL² learner minimise the same objective."""

from __future__ import annotations

from typing import NamedTuple

import torch


class ClippedLoss(NamedTuple):
    policy: torch.Tensor
    value: torch.Tensor
    approx_kl: torch.Tensor  # Schulman's "k3" estimator E[(r - 1) - log r], no gradient
    clip_fraction: torch.Tensor


def clipped_losses(
    logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, clip: float, norm_adv: bool,
    value: torch.Tensor, old_value: torch.Tensor, returns: torch.Tensor, value_clip: float | None,
) -> ClippedLoss:
    """-E[min(r A, clip(r, 1-eps, 1+eps) A)] and 0.5 E[(V - R)^2] (V clipped around V_old when asked)."""
    log_ratio = logp - old_logp
    ratio = log_ratio.exp()
    if norm_adv and advantages.numel() > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    loss_policy = -torch.min(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages).mean()
    loss_value = (value - returns).pow(2)
    if value_clip is not None:
        clipped = old_value + (value - old_value).clamp(-value_clip, value_clip)
        loss_value = torch.max(loss_value, (clipped - returns).pow(2))
    with torch.no_grad():
        approx_kl = ((ratio - 1) - log_ratio).mean()
        clip_fraction = ((ratio - 1).abs() > clip).float().mean()
    return ClippedLoss(loss_policy, 0.5 * loss_value.mean(), approx_kl, clip_fraction)
