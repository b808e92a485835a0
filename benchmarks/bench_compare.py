"""Compare mode: one training process taking turns, or one process per architecture?

Trains rnn, lstm and gru on the same data and budget through TrainerClient, in both
arrangements (each process on one torch thread), alternating so machine noise hits
both alike, and reports the wall time until all three have trained their budget.

    python benchmarks/bench_compare.py [--steps 300] [--repeats 2] [--hidden 64]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from rnn_tui.training import client as trainer_client
from rnn_tui.training import protocol as p
from rnn_tui.training.protocol import Snapshot, TrainerError
from rnn_tui.training.client import TrainerClient

ARCHS = ["rnn", "lstm", "gru"]


def one_round(layout: str, steps: int, hidden: int, scenario: str) -> tuple[float, dict]:
    """Seconds from "start" until every run has trained `steps`, and when each finished."""
    trainer_client.COMPARE_LAYOUT = layout  # read when the client is made
    client = TrainerClient({"source": {"scenario": scenario}, "model": {"hidden": hidden},
                            "train": {"steps": steps, "eval_every": steps, "batch_size": 32}}, runs_dir=None,
                           compare=ARCHS)
    client.start()
    try:
        ready: set = set()
        while len(ready) < len(ARCHS):  # every process up, data built, weights made
            for m in client.poll():
                if isinstance(m, TrainerError):
                    raise SystemExit(f"{m.run}: {m.reason}")
                if isinstance(m, Snapshot):
                    ready.add(m.run)
            time.sleep(0.01)
        start = time.perf_counter()
        client.send(p.Start())
        finished: dict = {}
        while len(finished) < len(ARCHS):
            for m in client.poll():
                if isinstance(m, Snapshot) and m.step >= steps and m.run not in finished:
                    finished[m.run] = time.perf_counter() - start
            time.sleep(0.01)
        return max(finished.values()), finished
    finally:
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--scenario", default="sine")
    args = parser.parse_args()
    print(f"{args.scenario}, rnn+lstm+gru, H={args.hidden}, batch 32, {args.steps} steps each, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    results: dict[str, list] = {"shared": [], "each": []}
    for _ in range(args.repeats):
        for layout, times in results.items():
            total, finished = one_round(layout, args.steps, args.hidden, args.scenario)
            times.append(total)
            each = "  ".join(f"{a} {finished[a]:.1f}s" for a in ARCHS)
            print(f"  {layout:>6}: all done in {total:5.1f} s ({each})", flush=True)
    sequences = len(ARCHS) * args.steps * 32
    print(f"{'layout':>8} {'median s':>9} {'seq/s (all runs)':>17}")
    for layout, times in results.items():
        median = statistics.median(times)
        print(f"{layout:>8} {median:>9.1f} {sequences / median:>17,.0f}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
