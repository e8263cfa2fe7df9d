"""The feedback policy-gradient estimator (Westenbroek et al.): differentiate an approximate model along
the trajectory the real system actually took.

A "ghost" rollout restarts from a recorded state and re-applies the policy, stepping with

    x~_{t+1} = F^(x~_t, u~_t) - F^(x_t, u_t) + x_{t+1},       u~_t = pi(x~_t) - sg(pi(x~_t)) + u_t

where (x_t, u_t, x_{t+1}) are measured and F^ is the model. Its forward values are exactly the data
(checked), while its derivatives are the model's Jacobians evaluated at the measured states, chained
through the policy's feedback: dx~_{t+1} = A^_t dx~_t + B^_t du~_t. The input is straight-through too, so
a command the safety layer clipped still yields the recorded trajectory.

Windows of `window` steps start at every `stride`-th step after `skip`; each restarts from the recorded
state (truncated backpropagation through time) and their losses are summed. All windows run as one batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from robolearn.models.base import DynamicsModel, ModelError, check_finite

PolicyFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x (N, n), t (N,)) -> u (N, m)
CostFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]  # (x, u, t) -> cost (N,)


@dataclass
class MeasuredRollout:
    """One real rollout in the model's coordinates: states x_0..x_T, applied inputs u_0..u_{T-1}, times t_0..t_T."""

    states: torch.Tensor  # (T + 1, state_dim)
    inputs: torch.Tensor  # (T, input_dim)
    times: torch.Tensor  # (T + 1,)

    def __post_init__(self) -> None:
        self.states = torch.as_tensor(self.states, dtype=torch.float64)
        self.inputs = torch.as_tensor(self.inputs, dtype=torch.float64)
        self.times = torch.as_tensor(self.times, dtype=torch.float64)
        if self.states.ndim != 2 or self.inputs.ndim != 2 or self.times.ndim != 1:
            raise ModelError(f"rollout: states must be (T+1, n), inputs (T, m), times (T+1,); got "
                             f"{tuple(self.states.shape)}, {tuple(self.inputs.shape)}, {tuple(self.times.shape)}")
        if len(self.states) != len(self.inputs) + 1 or len(self.times) != len(self.states):
            raise ModelError(f"rollout: {len(self.inputs)} inputs need {len(self.inputs) + 1} states and times, got "
                             f"{len(self.states)} states and {len(self.times)} times")
        check_finite(self.states, "rollout states")
        check_finite(self.inputs, "rollout inputs")
        check_finite(self.times, "rollout times")

    def __len__(self) -> int:
        return len(self.inputs)


@dataclass
class GhostResult:
    loss: torch.Tensor  # differentiable w.r.t. the policy parameters
    windows: int
    input_mismatch: float  # max |pi(x_t) - u_t|: how far applied inputs were from the policy's (safety clipping)


def window_starts(steps: int, window: int, stride: int = 1, skip: int = 0) -> torch.Tensor:
    if window <= 0 or stride <= 0 or skip < 0:
        raise ValueError(f"need window > 0, stride > 0, skip >= 0; got {window}, {stride}, {skip}")
    if skip + window > steps:
        raise ValueError(f"rollout of {steps} steps is too short for skip={skip} plus a window of {window}; "
                         f"collect longer rollouts or shrink the window")
    return torch.arange(skip, steps - window + 1, stride)


def ghost_loss(model: DynamicsModel, policy: PolicyFn, rollout: MeasuredRollout, cost: CostFn, window: int,
               stride: int = 1, skip: int = 0, check: bool = True, atol: float = 1e-8) -> GhostResult:
    """Sum of `cost` over every window's ghost rollout; backpropagate `loss` for the policy gradient."""
    model.check_state(rollout.states, "recorded state")
    model.check_input(rollout.inputs, "recorded input")
    x_data, u_data, t_data = rollout.states, rollout.inputs, rollout.times
    starts = window_starts(len(rollout), window, stride, skip)
    with torch.no_grad():
        model_next = model.step(x_data[:-1], u_data)  # F^(x_t, u_t): the data term the ghost subtracts
        mismatch = float((policy(x_data[:-1], t_data[:-1]) - u_data).abs().max())
    x = x_data[starts]
    loss = x.new_zeros(())
    for k in range(window):
        i = starts + k
        u_policy = policy(x, t_data[i])
        u = u_policy - u_policy.detach() + u_data[i]
        loss = loss + cost(x, u, t_data[i]).sum()
        x = model.step(x, u) - model_next[i] + x_data[i + 1]
        if check and not torch.allclose(x.detach(), x_data[i + 1], rtol=1e-9, atol=atol):
            worst = float((x.detach() - x_data[i + 1]).abs().max())
            raise AssertionError(f"ghost rollout left the recorded trajectory by {worst:.3e} at step offset {k}: "
                                 f"the model is not deterministic in its inputs")
    return GhostResult(loss=loss, windows=len(starts), input_mismatch=mismatch)


def rollout_model(plant: DynamicsModel, policy: PolicyFn, x0: torch.Tensor, times: torch.Tensor,
                  input_transform: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
                  ) -> MeasuredRollout:
    """Roll `policy` out on a model used as the plant (tests, benchmarks): the data a real robot would give.

    `input_transform(x, u)` maps the policy's input to what the plant receives (e.g. a safety clip).
    """
    xs = [torch.as_tensor(x0, dtype=torch.float64)]
    us = []
    with torch.no_grad():
        for t in times[:-1]:
            u = policy(xs[-1].unsqueeze(0), t.reshape(1)).squeeze(0)
            if input_transform is not None:
                u = input_transform(xs[-1], u)
            us.append(u)
            xs.append(plant.step(xs[-1], u))
    return MeasuredRollout(torch.stack(xs), torch.stack(us), times)
