"""The tanh-squashed Gaussian policy head shared by SAC and AVG."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
_LOG_2PI = math.log(2.0 * math.pi)


class TanhGaussianTape(NamedTuple):
    """What the hand-written backward of a tanh-Gaussian sample needs (robolearn/learners/manual_grad.py)."""

    raw_log_std: torch.Tensor  # before clamping: the clamp passes no gradient outside its range
    std: torch.Tensor
    noise: torch.Tensor
    action: torch.Tensor


def sample_tanh_gaussian_taped(mean: torch.Tensor, log_std: torch.Tensor, deterministic: bool = False,
                               generator: torch.Generator | None = None,
                               ) -> tuple[torch.Tensor, torch.Tensor, TanhGaussianTape]:
    """`sample_tanh_gaussian`, also returning the tape for `tanh_gaussian_grads`."""
    raw_log_std = log_std
    log_std = log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)
    std = log_std.exp()
    if deterministic:
        noise = torch.zeros_like(mean)
    elif generator is None:
        noise = torch.randn_like(mean)
    else:
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
    pre_tanh = mean + std * noise
    log_prob = (-0.5 * noise.pow(2) - log_std - 0.5 * _LOG_2PI).sum(-1)
    log_prob = log_prob - (2.0 * (math.log(2.0) - pre_tanh - F.softplus(-2.0 * pre_tanh))).sum(-1)
    action = torch.tanh(pre_tanh)
    return action, log_prob, TanhGaussianTape(raw_log_std, std, noise, action)


def sample_tanh_gaussian(mean: torch.Tensor, log_std: torch.Tensor, deterministic: bool = False,
                         generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Reparameterised sample a = tanh(mean + std * eps) and its log-probability (summed over the last dim).

    The tanh correction uses log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), which stays finite where
    the naive form underflows. `generator` (on mean's device) draws eps from a learner's own random stream,
    so several learners in one process do not perturb each other and a checkpoint can restore it.
    """
    action, log_prob, _ = sample_tanh_gaussian_taped(mean, log_std, deterministic, generator)
    return action, log_prob


def tanh_gaussian_grads(tape: TanhGaussianTape, grad_action: torch.Tensor, grad_log_prob: torch.Tensor,
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients with respect to (mean, log_std) of a loss whose gradients with respect to the sample's
    action [B, A] and log-probability [B] are given, with the noise held fixed (reparameterisation).

    With u = mean + std * eps and a = tanh(u): da/du = 1 - a^2; the log-probability's tanh correction has
    d/du = 2 tanh(u) = 2a; and log_std enters the log-probability directly (-1) and through u (std * eps).
    """
    a = tape.action
    grad_log_prob = grad_log_prob.unsqueeze(-1)
    grad_u = torch.addcmul(grad_action * (1.0 - a * a), grad_log_prob, a, value=2.0)
    in_range = (tape.raw_log_std >= LOG_STD_MIN) & (tape.raw_log_std <= LOG_STD_MAX)
    grad_log_std = (grad_u * tape.std * tape.noise - grad_log_prob) * in_range
    return grad_u, grad_log_std
