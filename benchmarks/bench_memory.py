"""Memory: the estimate a run is checked against before it is built, next to what it really takes.

    python benchmarks/bench_memory.py [--steps 3]

Each configuration runs in a fresh process: the data is built, then the peak resident
memory is reset (Linux: /proc/self/clear_refs) and a Trainer is made, trains a few
steps, evaluates and traces one sequence. Reported: the estimate of that part
(rnn_tui.core.memory.training), the measured growth of the peak over the memory
before it, and their ratio (the estimate should be at or above 1x, and not far).
Then the data alone: the generator's estimate against the growth of the peak while
building it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CASES = [
    ("text", {}, {}),
    ("text", {"arch": "gru", "hidden": 512, "layers": 2}, {}),
    ("adding", {"arch": "lstm", "hidden": 512, "layers": 2}, {"seq_len": 200}),
    ("adding", {"arch": "rnn", "hidden": 1024, "layers": 3, "bidirectional": True}, {"seq_len": 100}),
    ("sentiment", {"arch": "gru", "hidden": 1024, "layers": 3, "bidirectional": True}, {}),
    ("copy", {"arch": "lstm", "hidden": 1024}, {}),
    ("adding", {"arch": "lstm", "hidden": 128}, {"seq_len": 1000, "train_size": 100_000}),
]

CHILD = r"""
import json, sys, time
from dataclasses import replace
import torch
torch.set_num_threads(1)
from rnn_tui.core import memory
from rnn_tui.core.model import SequenceModel
from rnn_tui.core.trace import trace_sequence
from rnn_tui.data.generators import GENERATORS
from rnn_tui.data.scenario import load_scenario
from rnn_tui.training.trainer import Trainer

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

def reset_peak():
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")

name, model_fields, data_fields, steps = json.loads(sys.argv[1])
scenario = load_scenario(name)
if data_fields:
    scenario = scenario.with_data(**data_fields)
model = replace(scenario.model, **model_fields)
train = scenario.train
reset_peak(); before = rss("VmRSS:")
data = scenario.build_data(0)
data_peak = rss("VmHWM:") - before
data_estimate = GENERATORS[scenario.data["generator"]].data_bytes(scenario.data)
shape = memory.Shape(data.kind, data.input_size, data.output_size, data.tokens_in, data.seq_len)
estimate = memory.training(model, train, shape)
reset_peak(); before = rss("VmRSS:")
trainer = Trainer(data, model, train)
for _ in range(steps):
    trainer.train_step()
trainer.evaluate()
inspector = SequenceModel(model, data.kind, data.input_size, data.output_size, data.tokens_in)
inspector.load_state_dict(trainer.model.state_dict())
inspector.eval()
trace_sequence(inspector, data.val.x[0], data.val.y[0], None if data.val.dec_in is None else data.val.dec_in[0])
print(json.dumps({"estimate": estimate.total, "parts": estimate.parts, "peak": rss("VmHWM:") - before,
                  "data_estimate": data_estimate, "data_peak": data_peak}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    print(f"{'scenario':38} {'model':48} {'estimate':>9} {'measured':>9} {'ratio':>6}   "
          f"{'data est.':>9} {'data':>9} {'ratio':>6}")
    for name, model, data in CASES:
        out = subprocess.run([sys.executable, "-c", CHILD, json.dumps([name, model, data, args.steps])],
                             capture_output=True, text=True, cwd=ROOT, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        label = " ".join(f"{k}={v}" for k, v in model.items()) or "its own"
        mb = 2**20
        scenario = " ".join([name, *(f"{k}={v}" for k, v in data.items())])
        print(f"{scenario:38} {label:48} {row['estimate'] / mb:8.0f}M "
              f"{row['peak'] / mb:8.0f}M {row['estimate'] / max(row['peak'], 1):5.1f}x   "
              f"{row['data_estimate'] / mb:8.0f}M {row['data_peak'] / mb:8.0f}M "
              f"{row['data_estimate'] / max(row['data_peak'], 1):5.1f}x")


if __name__ == "__main__":
    main()
