"""The runs view at scale: listing a thousand run folders, opening a run with 100k metric lines.

    python benchmarks/bench_runs.py [--runs 1000] [--lines 100000] [--repeats 7]

list      `list_runs` over generated run folders (run.json, summary.json, metrics.jsonl,
          two checkpoints each), and the whole `o` screen in a Textual app: from the key
          to a list holding every run
open      the history of a run with 100k evaluation rows read back as a resumed run reads
          it (thinned, up to the checkpoint's step), and its curves drawn by the loss chart
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from rnn_tui.training.run import HISTORY_LIMIT, thin  # noqa: E402
from rnn_tui.training.runs_index import list_runs, read_rows  # noqa: E402
from rnn_tui.ui.widgets.chart import render_chart  # noqa: E402
from rnn_tui.ui.widgets.training import TrainingPanel  # noqa: E402

GOAL = {"metric": "val_loss", "direction": "below", "goal": 0.01}


def make_runs(root: Path, runs: int) -> None:
    for i in range(runs):
        folder = root / f"sine-lstm-20260101-{i:06d}"
        folder.mkdir(parents=True)
        (folder / "run.json").write_text(json.dumps({
            "scenario": "sine", "model": {"arch": "lstm", "hidden": 32 + i % 3 * 32, "layers": 1,
                                          "bidirectional": False}, "task": "forecast", "goal": GOAL}))
        rows = [{"step": s * 100, "val_loss": 1 / (s + 1), "loss": 1 / (s + 1)} for s in range(1, 51)]
        (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        (folder / "summary.json").write_text(json.dumps({"step": 5000, "metric": "val_loss", "best": 0.02,
                                                         "goal": 0.01, "solved_at": None}))
        for step in (4900, 5000):
            (folder / f"step-{step}.pt").write_bytes(b"")


def time_list(root: Path, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        found = list_runs(root)
        times.append(time.perf_counter() - start)
    assert len(found) == len(list(root.iterdir()))
    return times


def time_screen(root: Path, repeats: int) -> list[float]:
    from textual.app import App

    from rnn_tui.ui.runs_screen import RunsScreen

    times: list[float] = []

    class Host(App):
        pass

    async def run() -> None:
        app = Host()
        async with app.run_test(size=(120, 40)) as pilot:
            for _ in range(repeats):
                start = time.perf_counter()
                screen = RunsScreen(str(root))
                await app.push_screen(screen)
                rows = screen.query_one("OptionList")
                while rows.option_count < len(list(root.iterdir())):
                    await pilot.pause(0.005)
                await pilot.pause()  # drawn
                times.append(time.perf_counter() - start)
                screen.dismiss(None)
                await pilot.pause()

    asyncio.run(run())
    return times


def time_open(folder: Path, lines: int, repeats: int) -> tuple[list[float], list[float]]:
    folder.mkdir(parents=True)
    with open(folder / "metrics.jsonl", "w") as fh:
        for s in range(1, lines + 1):
            fh.write(json.dumps({"step": s * 10, "loss": 1 / s, "val_loss": 1.1 / s, "accuracy": 0.5,
                                 "grad_norm": 0.3, "seq_per_s": 1000.0, "time": 1.0e9 + s}) + "\n")
    read, draw = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        rows = read_rows(folder, up_to=lines * 10, limit=HISTORY_LIMIT * 4)  # as Run.load reads it
        history = thin(rows, HISTORY_LIMIT)  # as a Snapshot carries it
        read.append(time.perf_counter() - start)

        class Snap:  # what the panel reads off a snapshot
            uid, step = 1, lines * 10

        Snap.history = history
        start = time.perf_counter()
        series, baseline = TrainingPanel.curves({"main": Snap}, {"val_loss": 1.0})
        render_chart(series, 190, 30, baseline)
        draw.append(time.perf_counter() - start)
    return read, draw


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1e3:.1f} ms, max {max(values) * 1e3:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rnn-tui-runs-bench-"))
    make_runs(work / "runs", args.runs)
    print(f"list_runs, {args.runs} run folders: {ms(time_list(work / 'runs', args.repeats))}")
    print(f"runs screen, key to a list of {args.runs} runs (120x40): {ms(time_screen(work / 'runs', 3))}")
    read, draw = time_open(work / "big", args.lines, args.repeats)
    print(f"open a run of {args.lines:,} evaluations: history read {ms(read)}; curves drawn (190x30) {ms(draw)}")


if __name__ == "__main__":
    main()
