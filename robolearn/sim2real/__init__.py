"""Sim-to-real: excite a robot safely and record it (`excitation`, `recording`), then fit the simulator's
parameters to that recording (`sysid`, which needs the `sysid` extra: PyBullet and cma); robustness reports
of a policy under the sim's perturbations (`robustness`)."""
