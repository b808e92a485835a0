"""How long each `rnn-tui inspect` experiment takes on an LSTM (H=128) at T=100.

horizon: one sequence and its changed copy, in float64; spectrum: the four gate
blocks' eigenvalues and singular values; units: the h of every unit over the
first N sequences (default 100, as `inspect units`) correlated with a rule. The
model is untrained, which changes none of the costs. One torch thread, as in the
trainer's process; median and 95th percentile of --repeats runs after a warm-up.

    python benchmarks/bench_experiments.py [--repeats 20] [--steps 100] [--hidden 128] [--samples 100]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from rnn_tui.core.config import ModelConfig
from rnn_tui.core.experiments import horizon, rank_units, spectrum
from rnn_tui.core.model import SequenceModel
from rnn_tui.inspect_cmd import DEFAULT_SAMPLES

TARGET_MS = 200  # each experiment, at T=100 and H=128 (issue 11)


def adding_like(samples: int, steps: int) -> torch.Tensor:
    """[N, T, 2]: a value and a marker per step, as the adding problem's."""
    gen = torch.Generator().manual_seed(0)
    values = torch.rand(samples, steps, 1, generator=gen)
    markers = torch.zeros(samples, steps, 1)
    markers[:, [steps // 4, 3 * steps // 4]] = 1.0
    return torch.cat([values, markers], -1)


def timed(call, repeats: int) -> list[float]:
    call()  # warm-up: first calls allocate
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = SequenceModel(ModelConfig(arch="lstm", hidden=args.hidden), "regress", 2, 1, False).eval()
    samples = adding_like(args.samples, args.steps)
    experiments = {
        "horizon": lambda: horizon(model, samples[0], args.steps // 4, delta=0.5),
        "spectrum": lambda: spectrum(model),
        f"units ({args.samples} seq)": lambda: rank_units(model, samples, "marked"),
    }
    print(f"LSTM H={args.hidden}, T={args.steps}, 1 thread, {args.repeats} runs each; target <= {TARGET_MS} ms")
    print(f"{'experiment':<18} {'median ms':>10} {'p95 ms':>8}")
    for name, call in experiments.items():
        ms = np.array(timed(call, args.repeats)) * 1e3
        print(f"{name:<18} {statistics.median(ms):>10.1f} {np.percentile(ms, 95):>8.1f}")


if __name__ == "__main__":
    main()
