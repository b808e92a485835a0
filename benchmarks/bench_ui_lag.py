"""Event-loop lag of a Textual app while a TrainerClient trains at full speed.

A minimal app (not rnn-tui's) runs a 16 ms timer and records how late each tick
fires; every 100 ms it polls the trainer and unpickles its snapshots and traces of a
watched sample, as the real app does. First without a trainer, then with one started
from inside the running App (the sys.stderr trap included), in the same run. Targets: p95 <= 10 ms, max <= 50 ms.

    python benchmarks/bench_ui_lag.py [--seconds 8] [--scenario sine] [--arch lstm]
        [--hidden 64] [--compare rnn,lstm,gru] [--layout shared|each]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from textual.app import App
from textual.widgets import Static

from rnn_tui.training import client as trainer_client
from rnn_tui.training import protocol as p
from rnn_tui.training.protocol import Snapshot, TrainerError
from rnn_tui.training.client import TrainerClient

TICK = 1 / 60


class LagApp(App):
    def __init__(self, make_client, seconds: float):
        super().__init__()
        self.make_client, self.seconds = make_client, seconds
        self.client = None
        self.lags: list[float] = []
        self.rates: list[float] = []
        self.errors: list[str] = []
        self.steps = 0
        self.measuring = make_client is None  # with a trainer: from its first training snapshot
        self.last_tick = None

    def compose(self):
        yield Static("measuring event-loop lag", id="label")

    def on_mount(self) -> None:
        if self.make_client is not None:
            self.client = self.make_client()
            self.client.start()  # inside the running App: sys.stderr has no file descriptor here
            self.client.send(p.Start())
            self.client.send(p.Watch(0))  # the trainer traces, as it does for the app
            self.set_interval(0.1, self.poll_trainer)
            self.set_timer(60, self.exit)  # give up if training never starts
        else:
            self.set_timer(self.seconds, self.exit)
        self.set_interval(TICK, self.tick)

    def tick(self) -> None:
        now = time.perf_counter()
        if self.measuring and self.last_tick is not None:
            self.lags.append(max(0.0, now - self.last_tick - TICK))
        self.last_tick = now

    def poll_trainer(self) -> None:
        for message in self.client.poll():
            if isinstance(message, TrainerError):
                self.errors.append(f"{message.run}: {message.reason}")
            elif isinstance(message, Snapshot) and message.status == "running":
                if not self.measuring:
                    self.measuring = True
                    self.set_timer(self.seconds, self.exit)
                    self.first_steps = {}
                self.first_steps.setdefault(message.run, message.step)
                self.steps = max(self.steps, message.step - self.first_steps[message.run])
                if message.seq_per_s:
                    self.rates.append(message.seq_per_s)
                self.query_one("#label", Static).update(f"{message.run} step {message.step}")

    def on_unmount(self) -> None:
        if self.client is not None:
            self.client.close()


def report(name: str, app: LagApp) -> None:
    lags = sorted(1000 * x for x in app.lags)
    if not lags:
        print(f"{name}: no ticks measured {app.errors}")
        return
    p50 = statistics.median(lags)
    p95 = lags[int(0.95 * (len(lags) - 1))]
    line = f"{name:<28} ticks {len(lags):4d}  lag p50 {p50:5.2f} ms  p95 {p95:5.2f} ms  max {lags[-1]:6.2f} ms"
    if app.make_client is not None:
        rate = statistics.median(app.rates) if app.rates else float("nan")
        line += f"  trainer {rate:,.0f} seq/s (median of snapshots)"
    print(line, flush=True)
    for error in app.errors:
        print(f"  trainer error: {error}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--scenario", default="sine")
    parser.add_argument("--arch", default="lstm")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--compare", help="e.g. rnn,lstm,gru")
    parser.add_argument("--layout", choices=("shared", "each"), help="compare mode: one process or one per run")
    args = parser.parse_args()
    if args.layout:
        trainer_client.COMPARE_LAYOUT = args.layout
    compare = args.compare.split(",") if args.compare else None

    def make_client():
        return TrainerClient({"source": {"scenario": args.scenario}, "model": {"arch": args.arch, "hidden": args.hidden},
                              "train": {"steps": 10**6}}, runs_dir=None, compare=compare)

    what = f"compare {args.compare} ({trainer_client.COMPARE_LAYOUT})" if compare else f"{args.arch} H={args.hidden}"
    print(f"{args.scenario}, {what}, {args.seconds:g} s each, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}")
    idle = LagApp(None, args.seconds)
    idle.run(headless=True)
    report("no trainer", idle)
    busy = LagApp(make_client, args.seconds)
    busy.run(headless=True)
    report("trainer at full speed", busy)


if __name__ == "__main__":
    main()
