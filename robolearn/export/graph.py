"""The module that becomes the ONNX graph: policy, then the task's action-to-command mapping.

Only mappings that can be written as tensor arithmetic are exportable; they are recognised from the task's
`action_to_command` implementation, and export checks the result against that Python code on real robot
observations, so a task that overrides the mapping in a compatible-looking but different way is caught.
"""

from __future__ import annotations

import copy

import torch

from robolearn.export.metadata import AFFINE, POSITION_DELTA
from robolearn.spec import RobotSpec
from robolearn.tasks.base import PositionDeltaTask, Task


class ExportError(ValueError):
    """The policy or task cannot be exported as asked; the message says what to change."""


def command_mapping_of(task: Task) -> tuple[str, float | None]:
    """("affine", None) or ("position_delta", max_delta) for `task`, or ExportError for a custom mapping."""
    method = type(task).action_to_command
    if method is Task.action_to_command:
        return AFFINE, None
    if method is PositionDeltaTask.action_to_command:
        return POSITION_DELTA, float(task.max_delta)
    raise ExportError(
        f"task {type(task).__name__} overrides action_to_command; export can bake in only the affine scaling "
        f"(Task default) or the position delta (PositionDeltaTask). Express the task's mapping as one of "
        f"these, or extend robolearn.export.graph with the new mapping"
    )


class PolicyGraph(torch.nn.Module):
    """features [B, obs_dim] -> (action [B, n] in [-1, 1], command [B, n] in robot units)."""

    def __init__(self, policy: torch.nn.Module, spec: RobotSpec, mapping: str, max_delta: float | None = None,
                 joint_pos: slice | None = None) -> None:
        super().__init__()
        # A private float32 CPU copy: export must not change the learner's module (device, mode, grads).
        self.policy = copy.deepcopy(policy).to("cpu", torch.float32).eval().requires_grad_(False)
        self.mapping = mapping
        self.register_buffer("low", torch.as_tensor(spec.command_low, dtype=torch.float32))
        self.register_buffer("high", torch.as_tensor(spec.command_high, dtype=torch.float32))
        n = spec.action_size
        if mapping == AFFINE:
            self.register_buffer("half_span", (self.high - self.low) * 0.5)
        elif mapping == POSITION_DELTA:
            if max_delta is None or joint_pos is None or joint_pos.stop - joint_pos.start < n:
                raise ExportError("position_delta mapping needs max_delta and a joint_pos block of the command size")
            self.max_delta = float(max_delta)
            self.joint_start = int(joint_pos.start)
        else:
            raise ExportError(f"unknown command mapping {mapping!r}")
        self.action_size = n

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Clamped as Task.action_to_command clips, so graph and Python agree even at the bounds.
        action = self.policy(features).clamp(-1.0, 1.0)
        if self.mapping == AFFINE:
            command = self.low + (action + 1.0) * self.half_span
        else:
            joint_pos = features[:, self.joint_start:self.joint_start + self.action_size]
            command = torch.minimum(torch.maximum(joint_pos + self.max_delta * action, self.low), self.high)
        return action, command
