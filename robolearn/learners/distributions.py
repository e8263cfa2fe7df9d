"""The tanh-squashed Gaussian policy head shared by SAC and AVG."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
_LOG_2PI = math.log(2.0 * math.pi)


def sample_tanh_gaussian(mean: torch.Tensor, log_std: torch.Tensor, deterministic: bool = False,
                         generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Reparameterised sample a = tanh(mean + std * eps) and its log-probability (summed over the last dim).

    The tanh correction uses log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), which stays finite where
    the naive form underflows. `generator` (on mean's device) draws eps from a learner's own random stream,
    so several learners in one process do not perturb each other and a checkpoint can restore it.
    """
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
    return torch.tanh(pre_tanh), log_prob
