import torch

# One thread: tests share the machine with whatever else runs, and two torch
# threads on two busy cores spin-wait each other into a crawl.
torch.set_num_threads(1)
