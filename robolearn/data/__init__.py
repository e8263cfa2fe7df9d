"""Recorded experience: demonstrations and episodes, in policy space, saved as .npz."""

from robolearn.data.transitions import Transitions, collect_demonstrations

__all__ = ["Transitions", "collect_demonstrations"]
