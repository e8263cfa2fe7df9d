"""Sim-to-real tools on top of the sim's perturbation API: robustness reports (robustness.py)."""
