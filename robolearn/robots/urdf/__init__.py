"""URDF descriptions of the robots, shared by the simulation, the workspace models and `robot_description`
(a package so that installs ship them)."""
