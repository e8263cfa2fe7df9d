"""URDF descriptions of the simulated robots (a package so that installs ship them)."""
