"""Suite-wide settings: one torch thread (small nets on a loaded 2-core machine), a bounded hypothesis
profile for CI, the Agg matplotlib backend, and Ctrl-C as Python's KeyboardInterrupt."""

import os
import signal

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

torch.set_num_threads(1)

# A shell without job control starts `cmd &` with SIGINT ignored, and children inherit that: the Ctrl-C tests
# (the learner loop's, and a CLI run interrupted in a subprocess) would then test nothing but the launcher.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

settings.register_profile(
    "ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
