"""Pendulum and cart-pole models for balance tasks, angles measured from upright."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch

from robolearn.models.base import DynamicsModel, ModelError


@dataclasses.dataclass(frozen=True)
class Pendulum(DynamicsModel):
    """Point mass on a massless rod. State [angle from upright (rad), angular velocity]; input [torque N·m].

    angle'' = (g / l) sin(angle) + (torque - damping * angle') / (m l^2), integrated with semi-implicit
    Euler (velocity first), which keeps the energy of the undamped pendulum bounded.
    """

    mass: float = 1.0
    length: float = 1.0
    damping: float = 0.0
    gravity: float = 9.81
    state_names: ClassVar[tuple[str, ...]] = ("angle", "angular_velocity")
    input_names: ClassVar[tuple[str, ...]] = ("torque",)
    scalable_params: ClassVar[tuple[str, ...]] = ("mass", "length", "damping", "gravity")
    mismatch_params: ClassVar[tuple[str, ...]] = ("mass",)  # the paper's pendulum experiments get the mass wrong

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.mass <= 0 or self.length <= 0 or self.damping < 0:
            raise ModelError(f"Pendulum: need mass > 0, length > 0, damping >= 0; got {self}")

    def _step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        angle, velocity = x.unbind(-1)
        inertia = self.mass * self.length**2
        accel = (self.gravity / self.length) * torch.sin(angle) + (u[..., 0] - self.damping * velocity) / inertia
        velocity_next = velocity + self.dt * accel
        return torch.stack((angle + self.dt * velocity_next, velocity_next), dim=-1)


@dataclasses.dataclass(frozen=True)
class CartPole(DynamicsModel):
    """Cart-pole (Barto et al. equations, frictionless). State [cart x, pole angle from upright, cart
    velocity, pole angular velocity]; input [force on the cart, N]."""

    cart_mass: float = 1.0
    pole_mass: float = 0.1
    pole_half_length: float = 0.5
    gravity: float = 9.81
    state_names: ClassVar[tuple[str, ...]] = ("cart_x", "pole_angle", "cart_velocity", "pole_angular_velocity")
    input_names: ClassVar[tuple[str, ...]] = ("force",)
    scalable_params: ClassVar[tuple[str, ...]] = ("cart_mass", "pole_mass", "pole_half_length", "gravity")
    mismatch_params: ClassVar[tuple[str, ...]] = ("cart_mass", "pole_mass")

    def _step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        pos, angle, vel, ang_vel = x.unbind(-1)
        total = self.cart_mass + self.pole_mass
        polemass_length = self.pole_mass * self.pole_half_length
        sin, cos = torch.sin(angle), torch.cos(angle)
        temp = (u[..., 0] + polemass_length * ang_vel**2 * sin) / total
        ang_acc = (self.gravity * sin - cos * temp) / (
            self.pole_half_length * (4.0 / 3.0 - self.pole_mass * cos**2 / total))
        acc = temp - polemass_length * ang_acc * cos / total
        vel_next = vel + self.dt * acc
        ang_vel_next = ang_vel + self.dt * ang_acc
        return torch.stack((pos + self.dt * vel_next, angle + self.dt * ang_vel_next, vel_next, ang_vel_next), dim=-1)
