import os

import torch
from hypothesis import HealthCheck, settings

# One thread: tests share the machine with whatever else runs, and two torch
# threads on two busy cores spin-wait each other into a crawl.
torch.set_num_threads(1)

# The fuzz suite (test_fuzz.py): "ci" by default, a few hundred examples in all, the same
# ones every run; HYPOTHESIS_PROFILE=nightly for a long search with new examples each night.
settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("nightly", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
