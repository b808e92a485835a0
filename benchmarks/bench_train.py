"""Training throughput of rnn-tui's Trainer against a plain PyTorch loop.

Both train the same fused torch.nn module and linear head with Adam, batch 32,
T=50, gradient clipping at 1.0, on the same forecasting data. They alternate in
blocks in one process so machine noise hits both alike; the ratio of median
sequences per second is reported per architecture.

    python benchmarks/bench_train.py [--blocks 7] [--steps 100] [--threads 0]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rnn_tui.core.config import ModelConfig, TrainConfig
from rnn_tui.data.base import Split, TaskData
from rnn_tui.training.trainer import Trainer

BATCH, STEPS_T, HIDDEN = 32, 50, 64


def sine_data(n=2048) -> TaskData:
    g = torch.Generator().manual_seed(0)
    t = torch.arange(STEPS_T + 1).float()
    freq = torch.rand(n, 1, generator=g) * 0.3 + 0.05
    waves = torch.sin(freq * t + torch.rand(n, 1, generator=g) * 6.28)
    split = Split(waves[:, :-1, None].contiguous(), waves[:, 1:].contiguous())
    return TaskData("forecast", split, split, input_size=1, output_size=1)


def plain_loop(arch: str, data: TaskData):
    """What a person would write by hand: module, head, Adam, clip, step."""
    torch.manual_seed(0)
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[arch]
    core, head = cls(1, HIDDEN, batch_first=True), torch.nn.Linear(HIDDEN, 1)
    params = list(core.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=3e-3)
    x, y = data.train.x, data.train.y

    def step():
        idx = torch.randint(len(x), (BATCH,))
        out, _ = core(x[idx])
        loss = torch.nn.functional.mse_loss(head(out).squeeze(-1), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

    return step


def timed(step, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * BATCH / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=7)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=0, help="torch threads; 0 = torch's default (all cores)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = sine_data()
    print(f"forecast, batch {BATCH}, T={STEPS_T}, H={HIDDEN}, Adam, clip 1.0, "
          f"{torch.get_num_threads()} threads, median of {args.blocks} blocks of {args.steps} steps")
    print(f"{'arch':>5} {'plain seq/s':>12} {'rnn-tui seq/s':>14} {'ratio':>6}")
    for arch in ("rnn", "lstm", "gru"):
        trainer = Trainer(data, ModelConfig(arch=arch, hidden=HIDDEN),
                          TrainConfig(lr=3e-3, batch_size=BATCH, clip=1.0))
        plain = plain_loop(arch, data)
        timed(plain, 10), timed(trainer.train_step, 10)  # warm-up
        ours, theirs = [], []
        for _ in range(args.blocks):
            theirs.append(timed(plain, args.steps))
            ours.append(timed(trainer.train_step, args.steps))
        a, b = statistics.median(theirs), statistics.median(ours)
        print(f"{arch:>5} {a:>12,.0f} {b:>14,.0f} {b / a:>6.2f}")


if __name__ == "__main__":
    main()
