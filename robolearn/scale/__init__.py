"""Sim scale-out on Ray (the optional `ray` extra): PyBullet workers as Ray actors feeding one learner, and
seed / hyperparameter sweeps as Ray tasks.

- `cluster`: start Ray locally (loopback only, CPUs limited, no dashboard, no usage report) or join a
  cluster by address; the clear message when Ray is not installed.
- `worker`: one simulated env per Ray actor (its own process, so its own PyBullet DIRECT client), acting
  with the learner's latest weights and returning the link's `transitions` frames.
- `trainer`: the learner's side: hands workers the newest weights, checks every frame through the link's
  schema and sequence accounting, feeds the learner through the link's adapter (SAC, AVG), handles a lost
  worker as configured.
- `sweep`: whole training runs (`Learner.train`, one run folder each) as Ray tasks over seeds and a grid.

Why Ray and not the link for this: the link is one authenticated actor per learner across an untrusted
network; a sim farm wants N workers, scheduling and restarts, which Ray provides. Ray itself pickles its
calls and anyone who reaches its ports can run code there (token auth exists from Ray 2.52, the lowest
version the extra allows, and Ray 2.60 turns it on for a local cluster), so run it on trusted machines
only. Only the transitions use the link's frames (same schema, same checks);
weights travel through Ray's object store as the link's name -> array map.
"""

from robolearn.scale.cluster import require_ray

__all__ = ["require_ray"]
