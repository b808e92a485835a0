"""The app as a person meets it: first frame, key-to-screen latency, heatmap redraw, memory.

    python benchmarks/bench_app.py [--keys 60] [--launches 5]

first frame   `rnn-tui` launched in tmux; time until its status line is on screen
key latency   with the real trainer running, Right is sent through tmux and the
              screen polled until the step counter moves (includes tmux's own cost)
heatmap       a full redraw (every visible line, cache cleared) of 256 units x
              2000 steps in a 200x60 terminal
memory        proportional set size (PSS) of the app and its trainer process together
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # run from a checkout without installing


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True).stdout


def launch(session: str, workdir: str, size=(120, 40), extra: str = "") -> float:
    cmd = (f"cd {workdir} && PYTHONPATH={ROOT} {sys.executable} -m rnn_tui --runs-dir {workdir}/runs "
           f"--no-save {extra}")
    start = time.perf_counter()
    tmux("new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]), cmd)
    while "rnn-tui" not in tmux("capture-pane", "-p", "-t", session):
        if time.perf_counter() - start > 30:
            raise RuntimeError("no first frame within 30 s")
        time.sleep(0.005)
    return time.perf_counter() - start


def wait_for(session: str, pattern: str, seconds: float = 60) -> re.Match:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        match = re.search(pattern, tmux("capture-pane", "-p", "-t", session))
        if match:
            return match
        time.sleep(0.01)
    raise RuntimeError(f"{pattern!r} not on screen")


def memory_mb(pid: int) -> tuple[float, float]:
    """(PSS, RSS) in MB of a process and all its descendants.

    PSS splits each shared page (torch's libraries, mapped by both the app and its
    trainer) among the processes using it, so the sum is the app's real footprint;
    RSS counts those pages once per process.
    """
    pss = rss = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                for line in fh:
                    field, value = line.split()[:2] if ":" in line else ("", "0")
                    if field == "Pss:":
                        pss += int(value) / 1024
                    elif field == "Rss:":
                        rss += int(value) / 1024
        except (FileNotFoundError, ValueError):
            continue
        kids = subprocess.run(["pgrep", "-P", str(p)], capture_output=True, text=True).stdout.split()
        todo += [int(k) for k in kids]
    return pss, rss


def heatmap_redraw(repeats: int = 15) -> list[float]:
    from rnn_tui.ui.widgets.heatmap import Heatmap
    from textual.app import App

    values = np.tanh(np.random.default_rng(0).normal(size=(2000, 256))).astype(np.float32)

    class One(App):
        def compose(self):
            yield Heatmap()

    times: list[float] = []

    async def run():
        app = One()
        async with app.run_test(size=(200, 60)) as pilot:
            heatmap = app.query_one(Heatmap)
            heatmap.set_values(values)
            await pilot.pause()
            for _ in range(repeats):
                heatmap._cache.clear()
                start = time.perf_counter()
                for y in range(heatmap.size.height):
                    heatmap.render_line(y)
                times.append(time.perf_counter() - start)

    asyncio.run(run())
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=60)
    parser.add_argument("--launches", type=int, default=5)
    args = parser.parse_args()
    if shutil.which("tmux") is None:
        sys.exit("bench_app needs tmux")
    work = tempfile.mkdtemp(prefix="rnn-tui-bench-")

    firsts = []
    for i in range(args.launches):
        session = f"bench-first-{i}"
        firsts.append(launch(session, work))
        tmux("send-keys", "-t", session, "q")
        time.sleep(1.5)
        tmux("kill-session", "-t", session)
    print(f"first frame: median {statistics.median(firsts) * 1e3:.0f} ms, max {max(firsts) * 1e3:.0f} ms "
          f"over {len(firsts)} launches (tmux, 120x40)")

    session = "bench-keys"
    launch(session, work, extra="--scenario text")
    wait_for(session, r"step 1/\d+")
    wait_for(session, r"step \d[\d,]* +[\d,]+/s", seconds=90)  # the trainer is running
    lags = []
    for _ in range(args.keys):
        before = int(wait_for(session, r"step (\d+)/(\d+)").group(1))
        key = "Right" if before < 60 else "Home"
        start = time.perf_counter()
        tmux("send-keys", "-t", session, key)
        target = before + 1 if key == "Right" else 1
        wait_for(session, rf"step {target}/\d+", seconds=5)
        lags.append(time.perf_counter() - start)
    pid = int(tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())
    pss, rss = memory_mb(pid)
    rate = wait_for(session, r"([\d,]+)/s").group(1)
    tmux("send-keys", "-t", session, "q")
    time.sleep(2)
    tmux("kill-session", "-t", session)
    lags_ms = np.array(lags) * 1e3
    print(f"key to screen, training running ({rate} seq/s): median {np.median(lags_ms):.1f} ms, "
          f"p95 {np.percentile(lags_ms, 95):.1f} ms, max {lags_ms.max():.1f} ms over {len(lags)} keys")
    print(f"memory, app + trainer: {pss:.0f} MB PSS ({rss:.0f} MB RSS, shared libraries counted twice)")

    redraw = np.array(heatmap_redraw()) * 1e3
    print(f"heatmap full redraw 256 units x 2000 steps, 200x60: median {np.median(redraw):.1f} ms, "
          f"max {redraw.max():.1f} ms")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
