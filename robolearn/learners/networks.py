"""Network building blocks for the off-policy learners: plain MLPs and a batched critic ensemble.

The ensemble keeps every member's weights in one tensor shaped [E, in, out] and runs all members with a
single batched matmul per layer, so ten critics cost a few large kernels instead of ten Python loops.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "silu": nn.SiLU, "gelu": nn.GELU}


def activation_class(name: str) -> type[nn.Module]:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, layer_norm: bool = False,
        activation: str = "relu") -> nn.Sequential:
    """Linear -> [LayerNorm] -> activation for each hidden size, then a linear output layer."""
    act = activation_class(activation)
    layers: list[nn.Module] = []
    last = in_dim
    for width in hidden:
        layers.append(nn.Linear(last, width))
        if layer_norm:
            layers.append(nn.LayerNorm(width))
        layers.append(act())
        last = width
    layers.append(nn.Linear(last, out_dim))
    return nn.Sequential(*layers)


class EnsembleLinear(nn.Module):
    """E independent linear layers evaluated as one batched matmul: [E, B, in] -> [E, B, out].

    A 2-D input [B, in] is shared by all members (broadcast without a copy). Each member is initialised
    like torch's nn.Linear (uniform in +-1/sqrt(in)), so a 1-member ensemble behaves like nn.Linear.
    """

    def __init__(self, members: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.members, self.in_dim, self.out_dim = members, in_dim, out_dim
        self.weight = nn.Parameter(torch.empty(members, in_dim, out_dim))
        self.bias = nn.Parameter(torch.empty(members, 1, out_dim))
        bound = 1.0 / math.sqrt(in_dim)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.out_dim == 1:
            # A Q-value head: CPU batched matmul with one output column is ~5x slower than multiply-and-sum.
            return (x * self.weight.transpose(1, 2)).sum(-1, keepdim=True) + self.bias
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.members, -1, -1)
        return torch.baddbmm(self.bias, x, self.weight)

    def extra_repr(self) -> str:
        return f"members={self.members}, in_dim={self.in_dim}, out_dim={self.out_dim}"


class EnsembleLayerNorm(nn.Module):
    """LayerNorm over the feature dim with a separate affine transform per ensemble member."""

    def __init__(self, members: int, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps
        self.weight = nn.Parameter(torch.ones(members, 1, dim))
        self.bias = nn.Parameter(torch.zeros(members, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.bias, F.layer_norm(x, (self.dim,), eps=self.eps), self.weight)


class EnsembleMLP(nn.Module):
    """E MLPs with identical shape evaluated together; output [E, B, out_dim]."""

    def __init__(self, members: int, in_dim: int, hidden: Sequence[int], out_dim: int,
                 layer_norm: bool = False, activation: str = "relu") -> None:
        super().__init__()
        act = activation_class(activation)
        layers: list[nn.Module] = []
        last = in_dim
        for width in hidden:
            layers.append(EnsembleLinear(members, last, width))
            if layer_norm:
                layers.append(EnsembleLayerNorm(members, width))
            layers.append(act())
            last = width
        layers.append(EnsembleLinear(members, last, out_dim))
        self.members = members
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def polyak_update(target: Sequence[torch.Tensor], source: Sequence[torch.Tensor], tau: float) -> None:
    """target <- (1 - tau) target + tau source, for all tensors in one fused call."""
    with torch.no_grad():
        torch._foreach_lerp_(list(target), list(source), tau)


def make_adam(params, lr: float, fused: bool = True, **kwargs) -> torch.optim.Adam:
    """Adam, fused into one kernel per step where this torch build supports it (CPU since torch 2.4)."""
    params = list(params)
    if fused:
        try:
            return torch.optim.Adam(params, lr=lr, fused=True, **kwargs)
        except (RuntimeError, TypeError, ValueError):
            pass  # older torch or an unsupported device: the plain implementation is still correct
    return torch.optim.Adam(params, lr=lr, **kwargs)
