"""Networks with a hard, certified Lipschitz bound, and the certificate itself.

The certified map is policy features -> policy action, both measured in the Euclidean (l2) norm:
    ||pi(x) - pi(y)||_2 <= L ||x - y||_2   for all raw feature vectors x, y.
`LipschitzMLP` is: a fixed affine input normalisation, linear layers separated by 1-Lipschitz
activations, and a clamp to [-1, 1] (also 1-Lipschitz). Its Lipschitz constant is therefore at most
    ||W_1 D||_2 * ||W_2||_2 * ... * ||W_L||_2,
where D = diag(1 / scale) is the normaliser (the mean shift changes no difference). `project_()` keeps
that product <= alpha by exact spectral-norm projection of every layer onto its budget (budgets
multiply to alpha), with D folded into the first layer, so normalising the inputs only reconditions the
optimisation and never loosens the bound. The upper bound uses exact matrix 2-norms (SVD, float64);
the lower bound is found by gradient ascent and is a true lower bound on the constant of the network.
"""

from __future__ import annotations

import copy
import math
from typing import Sequence

import numpy as np
import torch
from torch import nn

from robolearn.learners.networks import make_adam

ACTIVATIONS = ("groupsort", "relu", "tanh")
NORM = "l2"
ROUNDING_MARGIN = 1e-5


class GroupSort2(nn.Module):
    """MaxMin activation: sorts each pair of units. A permutation on every linear piece, so it is
    1-Lipschitz and keeps gradient norm (Anil et al. 2019), which a norm-constrained net needs to reach
    its budget; ReLU discards half the gradient and makes tight bounds hard to attain."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pairs = x.unflatten(-1, (-1, 2))
        return torch.stack((pairs.amax(-1), pairs.amin(-1)), dim=-1).flatten(-2)


def make_activation(name: str) -> nn.Module:
    if name == "groupsort":
        return GroupSort2()
    if name == "relu":
        return nn.ReLU()
    if name == "tanh":
        return nn.Tanh()
    raise ValueError(f"unknown activation {name!r}; 1-Lipschitz choices are {list(ACTIVATIONS)}")


def spectral_norm(matrix: torch.Tensor) -> float:
    """Exact largest singular value, computed in float64 so rounding cannot hide an excess."""
    return float(torch.linalg.matrix_norm(matrix.detach().double(), ord=2))


PROJECTIONS = ("clip", "rescale")


@torch.no_grad()
def project_spectral_(weight: torch.Tensor, bound: float, input_scale: torch.Tensor | None = None,
                      method: str = "clip") -> float:
    """Make ||W diag(input_scale)||_2 <= bound, in place; returns the norm before projection.

    The norm comes from an exact SVD (float64), not a power-iteration estimate as in torch's
    spectral_norm, so the constraint holds after every step, not just on average.
    - "rescale": W <- W / max(1, ||W||_2 / bound). Keeps W's direction but shrinks every singular value.
    - "clip": singular values above the bound are set to it (the Euclidean projection onto the
      spectral-norm ball). The other directions keep their gain, which lets a norm-constrained network
      actually reach its budget: on the balance tasks it fits better and its measured constant comes
      closer to the certified one than with "rescale".
    Features with input_scale 0 are ignored by the network; their weight columns are left alone.
    """
    if not (bound > 0 and math.isfinite(bound)):
        raise ValueError(f"spectral bound must be a finite number > 0, got {bound}")
    if method not in PROJECTIONS:
        raise ValueError(f"unknown projection {method!r}; choose one of {list(PROJECTIONS)}")
    scale = None if input_scale is None else input_scale.detach().double()
    effective = weight.detach().double() if scale is None else weight.detach().double() * scale.unsqueeze(0)
    if not torch.all(torch.isfinite(effective)):
        raise FloatingPointError("a weight matrix holds NaN/inf: training diverged; lower the learning rate")
    if method == "rescale":
        norm = float(torch.linalg.matrix_norm(effective, ord=2))
        if norm > bound:
            weight.mul_(bound / norm)
        return norm
    u, sigma, vh = torch.linalg.svd(effective, full_matrices=False)
    norm = float(sigma[0])
    if norm > bound:
        projected = (u * sigma.clamp(max=bound)) @ vh
        if scale is not None:
            used = scale > 0
            projected = torch.where(used, projected / torch.where(used, scale, 1.0), weight.detach().double())
        weight.copy_(projected.to(weight.dtype))
    return norm


class LipschitzMLP(nn.Module):
    """features -> normalise (fixed) -> [Linear -> 1-Lipschitz activation]* -> Linear -> clamp[-1, 1]."""

    def __init__(self, in_size: int, out_size: int, hidden_sizes: Sequence[int], alpha: float,
                 activation: str = "groupsort", projection: str = "clip") -> None:
        super().__init__()
        if not (alpha > 0 and math.isfinite(alpha)):
            raise ValueError(f"alpha must be a finite number > 0, got {alpha}")
        if activation == "groupsort" and any(h % 2 for h in hidden_sizes):
            raise ValueError(f"groupsort pairs units: hidden sizes must be even, got {list(hidden_sizes)}")
        if projection not in PROJECTIONS:
            raise ValueError(f"unknown projection {projection!r}; choose one of {list(PROJECTIONS)}")
        self.alpha = float(alpha)
        self.projection = projection
        sizes = [in_size, *hidden_sizes, out_size]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        for layer in self.layers:
            # Zero biases: with small per-layer budgets, random biases would swamp the signal at the start.
            nn.init.zeros_(layer.bias)
        self.activation = make_activation(activation)
        self.register_buffer("input_mean", torch.zeros(in_size))
        self.register_buffer("input_scale", torch.ones(in_size))  # multiplies; 0 ignores a feature

    def layer_budgets(self) -> list[float]:
        """Spectral-norm budget of each layer (the first one with the normaliser folded in); their product
        is alpha.

        The normaliser's own gain c = max(input_scale) is given to the first layer and the rest, alpha / c,
        is split equally: in normalised coordinates every layer then has the same budget. Any split is
        equally expressive for positively homogeneous activations (a factor moves freely between layers),
        but an equal split in raw units would leave the first layer tiny when features vary little (angles
        of a few mrad) and training would stall behind the biases.
        """
        gain = float(self.input_scale.max())
        gain = gain if gain > 0 else 1.0  # every feature ignored: the net is constant, any split will do
        # The margin absorbs the float32 rounding of projected weights (relative error <= 6e-8 per entry,
        # so <= 6e-8 * sqrt(rank) in the 2-norm), so the product of the stored layers' norms stays <= alpha.
        per_layer = (self.alpha * (1.0 - ROUNDING_MARGIN) / gain) ** (1.0 / len(self.layers))
        return [gain * per_layer] + [per_layer] * (len(self.layers) - 1)

    @torch.no_grad()
    def set_normalizer(self, mean: np.ndarray, std: np.ndarray, min_std: float) -> None:
        """Fix x -> (x - mean) / std. Features with std < min_std did not vary in the data, carry nothing
        to imitate, and would inflate the bound by 1/std: they get weight zero instead."""
        std = np.asarray(std, dtype=np.float64)
        scale = np.where(std >= min_std, 1.0 / np.maximum(std, min_std), 0.0)
        self.input_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
        self.input_scale.copy_(torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(self.pre_clamp(x), -1.0, 1.0)

    def pre_clamp(self, x: torch.Tensor) -> torch.Tensor:
        """The network before the output clamp (training passes gradients through the clamp)."""
        h = (x - self.input_mean) * self.input_scale
        for layer in self.layers[:-1]:
            h = self.activation(layer(h))
        return self.layers[-1](h)

    def project_(self) -> None:
        """Enforce the hard constraint after an optimiser step."""
        for i, (layer, budget) in enumerate(zip(self.layers, self.layer_budgets())):
            project_spectral_(layer.weight, budget, self.input_scale if i == 0 else None, self.projection)

    def layer_norms(self) -> list[float]:
        """Exact ||W_1 D||_2, ||W_2||_2, ...: the factors of the upper bound."""
        first = self.layers[0].weight.detach().double() * self.input_scale.double().unsqueeze(0)
        return [spectral_norm(first)] + [spectral_norm(layer.weight) for layer in self.layers[1:]]

    def upper_bound(self) -> float:
        """Certified l2 Lipschitz constant of features -> action (product of exact layer norms)."""
        return float(np.prod(self.layer_norms()))


def jacobian_norms(fn: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """||J(x_i)||_2 for every row of x (one backward pass per output; outputs are few)."""
    x = x.detach().requires_grad_(True)
    y = fn(x)
    rows = [torch.autograd.grad(y[:, k].sum(), x, retain_graph=True)[0] for k in range(y.shape[1])]
    return torch.linalg.matrix_norm(torch.stack(rows, dim=1), ord=2)


def empirical_lower_bound(fn: nn.Module, starts: torch.Tensor, steps: int = 100, lr: float = 0.05,
                          seed: int = 0) -> float:
    """max over search points of ||J(x)||_2 and of ||f(x) - f(y)||_2 / ||x - y||_2.

    Both are lower bounds on the l2 Lipschitz constant. The search is gradient ascent on the difference
    quotient of pairs (x, y = x + small offset) from every start: for piecewise-linear nets the
    Jacobian norm itself has zero gradient almost everywhere, the quotient does not. Runs on a float64
    copy so rounding cannot push the result above the certified bound. `lr` is relative to the spread
    of the starts.
    """
    if starts.ndim != 2 or len(starts) == 0:
        raise ValueError(f"starts must be a non-empty (n, in_size) tensor, got shape {tuple(starts.shape)}")
    net = copy.deepcopy(fn).double().eval()
    for p in net.parameters():
        p.requires_grad_(False)
    device = next(net.parameters()).device
    starts = starts.detach().double().to(device)
    spread = float(starts.std(0).mean()) if len(starts) > 1 else 1.0
    spread = spread if spread > 0 else 1.0
    gen = torch.Generator().manual_seed(seed)
    offset = 1e-2 * spread * torch.randn(starts.shape, generator=gen, dtype=torch.float64).to(device)
    x = starts.clone().requires_grad_(True)
    y = (starts + offset).requires_grad_(True)
    optimiser = make_adam([x, y], lr * spread, fused=False)
    best = 0.0
    for _ in range(max(steps, 0)):
        quotient = _quotients(net, x, y)
        best = max(best, float(quotient.detach().max()))
        optimiser.zero_grad()
        (-quotient.sum()).backward()
        optimiser.step()
    with torch.no_grad():
        best = max(best, float(_quotients(net, x, y).max()))
    best = max(best, float(jacobian_norms(net, x.detach()).max()), float(jacobian_norms(net, starts).max()))
    return best


def _quotients(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    distance = torch.linalg.vector_norm(x - y, dim=1)
    change = torch.linalg.vector_norm(net(x) - net(y), dim=1)
    return torch.where(distance > 0, change / distance.clamp_min(1e-300), torch.zeros_like(distance))
