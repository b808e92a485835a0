"""Soak: the app under thousands of random keys and resizes, with a trainer that keeps training.

    python benchmarks/bench_soak.py [--keys 10000] [--resize-every 50] [--seed 0] [--trainer process|fake]

The app runs headless (Textual's Pilot) against the trainer process (default), which
trains on the other core and sends snapshots and traces, so the resident memory
measured is the app's own; `--trainer fake` runs the in-process fake trainer instead
(its torch tensors then count too). Keys are drawn from every binding that neither
quits nor writes files (help, zoom, layers, units, samples, play; one key in fifty
trains, resets, switches the arch or opens the spectrum or help, with escape among
them to close what opens); every --resize-every keys the terminal takes a random
size from 40x12 to 250x70. An exception anywhere fails the run. Reported: the app's
resident memory after a warm-up (every key once at the largest and the smallest
size, then the first 20% of the random keys: help keeps what it draws at each new size
for a while), every tenth of the way, and at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from rnn_tui.cli import build_parser  # noqa: E402
from rnn_tui.training.client import TrainerClient  # noqa: E402
from rnn_tui.training.fake import FakeTrainerClient  # noqa: E402
from rnn_tui.ui.app import RnnTuiApp  # noqa: E402

KEYS = ("left", "right", "home", "end", "space", "plus", "minus", "n", "p", "left_square_bracket",
        "right_square_bracket", "L", "z", "1", "2", "3", "4", "5", "6", "0", "escape")
# Keys that rebuild the model or ask the trainer a question: one key in fifty.
HEAVY = ("t", "r", "a", "x", "question_mark", "g")


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def soak(keys: int, resize_every: int, seed: int, trainer: str) -> tuple[float, float, float, list]:
    rng = random.Random(seed)
    args = build_parser(None).parse_args(["--scenario", "adding", "--seq-len", "30", "--hidden", "16"])
    client = TrainerClient if trainer == "process" else FakeTrainerClient
    app = RnnTuiApp(client, {"options": args}, runs_dir=None, save_on_quit=False)
    warm, samples = None, []
    start = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        # Warm-up: the largest and the smallest screen, and every key once (help loads its
        # fonts and lexers, the spectrum its solver): what a session loads once is not growth.
        for size in ((250, 70), (40, 12), (120, 40)):
            await pilot.resize_terminal(*size)
            for key in (*KEYS, *HEAVY):
                await pilot.press(key)
                await pilot.pause()
                if key in HEAVY:
                    await pilot.press("escape")
        for i in range(keys):
            if i % resize_every == 0:
                await pilot.resize_terminal(rng.randint(40, 250), rng.randint(12, 70))
            await pilot.press(rng.choice(HEAVY if rng.random() < 0.02 else KEYS))
            if i % 10 == 0:
                await pilot.pause()
            if i == keys // 5:
                warm = rss_mb()
            if i % max(keys // 10, 1) == 0:
                samples.append(round(rss_mb()))
        await pilot.pause()
        end = rss_mb()
    app.client.close(timeout=5)
    return warm, end, time.perf_counter() - start, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--resize-every", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--trainer", choices=("process", "fake"), default="process")
    args = parser.parse_args()
    warm, end, seconds, samples = asyncio.run(soak(args.keys, args.resize_every, args.seed, args.trainer))
    print(f"{args.keys:,} random keys and {args.keys // args.resize_every:,} random resizes in {seconds:.0f} s "
          f"({args.trainer} trainer), no exception; the app's resident memory {warm:.0f} MB after warm-up, "
          f"{end:.0f} MB at the end ({(end - warm) / warm:+.1%}); every tenth of the way: {samples} MB")


if __name__ == "__main__":
    main()
