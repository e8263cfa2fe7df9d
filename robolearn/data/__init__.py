"""Recorded experience: demonstrations, episodes and datasets (LeRobot v3, rosbag2 MCAP).

The dataset formats need the `data` extra (pyarrow, PyAV, rosbags); they are imported where used.
"""

from robolearn.data.demos import load_demonstrations
from robolearn.data.episodes import (Episode, EpisodeEnded, SourceFailed, policy_source, record_dataset,
                                      record_episode)
from robolearn.data.transitions import Transitions, collect_demonstrations

__all__ = ["Episode", "EpisodeEnded", "SourceFailed", "Transitions", "collect_demonstrations",
           "load_demonstrations", "policy_source", "record_dataset", "record_episode"]
