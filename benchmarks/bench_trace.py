"""Cost of a full trace (states, gates, BPTT gradient norms) against torch's fused pass.

The reference is what training does for one sequence: the fused nn.LSTM forward
plus autograd backward. Both run alternately in the same process, one thread,
and the ratio of medians is reported: absolute times depend on the machine.

    python benchmarks/bench_trace.py [--repeats 21]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rnn_tui.core.trace import trace_core


def fused_forward_backward(core, x):
    x = x.clone().requires_grad_(True)
    _, (h_n, _) = core(x)
    (0.5 * (h_n**2).sum()).backward()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--hidden", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    print(f"one-layer LSTM, H={args.hidden}, input 32, median of {args.repeats}, 1 thread")
    print(f"{'T':>6} {'fused fwd+bwd ms':>17} {'trace ms':>9} {'ratio':>6}")
    for steps in (50, 200, 1000):
        core = torch.nn.LSTM(32, args.hidden)
        x = torch.randn(steps, 32)
        fused, ours = [], []
        for i in range(args.repeats + 2):
            t0 = time.perf_counter()
            fused_forward_backward(core, x)
            t1 = time.perf_counter()
            trace_core(core, x)
            t2 = time.perf_counter()
            if i >= 2:  # warm-up
                fused.append(t1 - t0)
                ours.append(t2 - t1)
        a, b = statistics.median(fused), statistics.median(ours)
        print(f"{steps:>6} {a * 1e3:>17.2f} {b * 1e3:>9.2f} {b / a:>6.2f}")


if __name__ == "__main__":
    main()
