"""Discrete-time LQR designed on a model linearised at an equilibrium."""

from __future__ import annotations

import numpy as np
import torch

from robolearn.models.base import DynamicsModel


def dlqr(A: np.ndarray, B: np.ndarray, Q: np.ndarray, R: np.ndarray, iterations: int = 10_000,
         tol: float = 1e-10) -> np.ndarray:
    """Gain K of u = -K x minimising sum x'Qx + u'Ru, by iterating the discrete Riccati equation."""
    A, B, Q, R = (np.atleast_2d(np.asarray(m, dtype=np.float64)) for m in (A, B, Q, R))
    P = Q.copy()
    for _ in range(iterations):
        gain = np.linalg.solve(R + B.T @ P @ B, B.T @ P @ A)
        P_next = Q + A.T @ P @ (A - B @ gain)
        if np.max(np.abs(P_next - P)) < tol * max(1.0, np.max(np.abs(P))):
            return np.linalg.solve(R + B.T @ P_next @ B, B.T @ P_next @ A)
        P = P_next
    raise ValueError("LQR: the Riccati iteration did not converge; is (A, B) stabilisable and Q, R positive?")


def lqr_for_model(model: DynamicsModel, Q: np.ndarray, R: np.ndarray, x_eq: np.ndarray | None = None,
                  u_eq: np.ndarray | None = None) -> np.ndarray:
    """LQR gain for `model` linearised at (x_eq, u_eq) (default: the origin)."""
    x0 = torch.zeros(model.state_dim, dtype=torch.float64) if x_eq is None else torch.as_tensor(x_eq, dtype=torch.float64)
    u0 = torch.zeros(model.input_dim, dtype=torch.float64) if u_eq is None else torch.as_tensor(u_eq, dtype=torch.float64)
    A, B = model.jacobians(x0, u0)
    return dlqr(A.numpy(), B.numpy(), Q, R)
