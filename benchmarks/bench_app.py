"""The app as a person meets it: first frame, key-to-screen latency, heatmap redraw, memory.

    python benchmarks/bench_app.py [--keys 100] [--slow-keys 40] [--launches 5] [--resizes 20]

first frame   `rnn-tui` launched in tmux; time until its status line is on screen
key latency   with the real trainer running, Right is sent through a tmux control
              client, which is told the moment the app writes the new step counter
              (includes tmux's own cost, and the wait for Textual's next frame); keys
              at three paces in a 120x40 terminal, at two paces in 80x24 and 200x60,
              and a one-label Textual app timed the same way, while rnn-tui still
              trains, as the reference for what any app pays here
resize        training paused, the window is switched between 120x40 and 200x60;
              from the resize to 200x60: the first byte of the app's new frame (Textual
              composes a frame whole before it writes it: the app's redraw is done),
              the screen showing its final picture (the end of the first burst of
              output after which the pane, captured once, is what it settles to), and
              the last byte (Textual lays out and sends the unchanged screen twice more
              after a resize, whatever the app); and the same for the one-label app
heatmap       a full redraw (every visible line, cache cleared) of 256 units x
              2000 steps in a 200x60 terminal
memory        proportional set size (PSS) of the app and its trainer process together
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # run from a checkout without installing


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True).stdout


def launch(session: str, workdir: str, size=(120, 40), extra: str = "") -> float:
    cmd = (f"cd {workdir} && PYTHONPATH={ROOT} {sys.executable} -m rnn_tui --runs-dir {workdir}/runs "
           f"--no-save {extra}")
    for _ in range(3):  # a tmux server still shutting down can refuse the first try
        start = time.perf_counter()
        tmux("new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]), cmd)
        if subprocess.run(["tmux", "has-session", "-t", session], capture_output=True).returncode == 0:
            break
        time.sleep(1)
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


class ControlClient:
    """A tmux control-mode client: the pane's output is pushed to us as it is written.

    Timing keys this way needs no polling (a `capture-pane` process every few ms
    would itself compete with the app for the CPU). A thread reads what tmux pushes and
    stamps each line with the time it arrived.
    """

    def __init__(self, session: str) -> None:
        tmux("set-option", "-t", session, "window-size", "manual")  # keep the pane's size
        self.proc = subprocess.Popen(["tmux", "-C", "attach", "-t", session], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, errors="replace")
        self.session = session
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        # Large raw reads, each stamped once: a frame of 80 KB comes as ~100 KB of
        # %output lines, and reading it line by line would itself delay the last one.
        fd, rest = self.proc.stdout.fileno(), b""
        while chunk := os.read(fd, 1 << 16):
            stamp = time.perf_counter()
            *lines, rest = (rest + chunk).split(b"\n")
            for line in lines:
                self.lines.put((stamp, line.decode(errors="replace") + "\n"))

    def _next(self, timeout: float) -> tuple[float, str] | None:
        try:
            return self.lines.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None

    def _run(self, command: str) -> float:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return time.perf_counter()

    def send(self, key: str) -> None:
        self._run(f"send-keys -t {self.session} {key}")

    def wait_output(self, needle: str, seconds: float = 5.0) -> None:
        """Read pushed output until `needle` appears in what the app wrote."""
        deadline = time.perf_counter() + seconds
        seen = ""
        while (got := self._next(deadline - time.perf_counter())) is not None:
            if got[1].startswith("%output "):
                seen = (seen + got[1].split(" ", 2)[2].rstrip("\n"))[-4000:]
                if needle in seen:
                    return
        raise RuntimeError(f"{needle!r} was not written within {seconds} s")

    def quiet_after(self, command: str, quiet: float = 0.4) -> float:
        """Run a tmux command; seconds from then to the last output written before the
        pane stays quiet for `quiet` seconds (the app's whole answer to it)."""
        start = self._run(command)
        last = start
        while (got := self._next(quiet)) is not None:
            if got[1].startswith("%output "):
                last = got[0]
        return last - start

    def settled_after(self, command: str, quiet: float = 0.4, gap: float = 0.002) -> tuple[float, float, float]:
        """Run a tmux command; seconds from then (to the first byte of output, to the screen
        showing its final picture, to the last output written before the pane stays quiet
        for `quiet` seconds).

        Textual composes a whole frame before it writes any of it: the first byte tells
        when the app's redraw was done. The output comes in bursts, a frame each (tmux
        reads a frame's bytes back to back; Textual's next frame comes milliseconds
        later); when one ends (`gap` seconds without output) the pane is captured once (`capture-pane -e`:
        text and colours), and the final picture is shown at the end of the first burst
        whose capture equals the pane once quiet. Capturing all along instead would slow
        tmux, and with it what is timed.
        """
        start = self._run(command)
        first = last = None
        bursts: list[float] = []  # the end of each burst a capture was asked after
        captures: list[str] = []
        block, pending = None, 1  # the command's own reply comes first
        while True:
            got = self._next(gap if last is not None and (not bursts or bursts[-1] != last) else quiet)
            if got is None:
                if last is None or (bursts and bursts[-1] == last):
                    if not pending:
                        break  # quiet since the last burst, and its capture is in
                    continue
                bursts.append(last)  # a burst has ended: what does the pane show now?
                self._run(f"capture-pane -p -e -t {self.session}")
                pending += 1
                continue
            stamp, line = got
            if line.startswith("%output "):
                first = stamp if first is None else first
                last = stamp
            elif line.startswith("%begin "):
                block = []
            elif line.startswith(("%end ", "%error ")) and block is not None:
                captures.append("".join(block))
                block, pending = None, pending - 1
            elif block is not None:
                block.append(line)
        if first is None:
            raise RuntimeError(f"nothing was written after {command!r}")
        captures = captures[1:]  # the first block is the command's reply
        final = self._capture()
        shown = next(end for end, text in zip(bursts, captures) if text == final)
        return first - start, shown - start, last - start

    def _capture(self) -> str:
        self._run(f"capture-pane -p -e -t {self.session}")
        block = None
        while (got := self._next(5.0)) is not None:
            line = got[1]
            if line.startswith("%begin "):
                block = []
            elif line.startswith(("%end ", "%error ")) and block is not None:
                return "".join(block)
            elif block is not None:
                block.append(line)
        raise RuntimeError("tmux did not answer capture-pane")

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.terminate()
        self.proc.wait(5)


def key_latencies(session: str, keys: int, pace: float) -> list[float]:
    """Seconds from sending Right (Home at the end) to the app writing the new step,
    one key every `pace` seconds."""
    client = ControlClient(session)
    try:
        step = int(wait_for(session, r"step (\d+)/(\d+)").group(1))
        steps = int(wait_for(session, r"step (\d+)/(\d+)").group(2))
        lags = []
        for _ in range(keys):
            key, target = ("Right", step + 1) if step < steps else ("Home", 1)
            time.sleep(pace)
            start = time.perf_counter()
            client.send(key)
            client.wait_output(f"step {target}/{steps}")
            lags.append(time.perf_counter() - start)
            step = target
        return lags
    finally:
        client.close()


REFERENCE_APP = """
from textual.app import App
from textual.widgets import Static

class Counter(App):
    BINDINGS = [("right", "move(1)"), ("home", "move(0)"), ("q", "quit")]
    step = 1

    def compose(self):
        yield Static(self.text(), id="s")

    def text(self):
        return f"rnn-tui reference step {self.step}/64"

    def action_move(self, by):
        self.step = self.step + 1 if by else 1
        self.query_one("#s").update(self.text())

Counter().run()
"""


def reference_latencies(keys: int, pace: float, resizes: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The same measurements (keys, then resizes) on a one-label Textual app: what tmux,
    Textual and this machine cost before rnn-tui does anything."""
    session = "bench-reference"
    script = os.path.join(tempfile.mkdtemp(prefix="rnn-tui-ref-"), "counter.py")
    with open(script, "w") as fh:
        fh.write(REFERENCE_APP)
    tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "40", f"{sys.executable} {script}")
    try:
        wait_for(session, r"step 1/64")
        lags = np.array(key_latencies(session, keys, pace)) * 1e3
        redraws = np.array(timed_resizes(session, resizes)) * 1e3 if resizes else np.zeros((0, 3))
        return lags, redraws
    finally:
        tmux("kill-session", "-t", session)


def resize_redraws(session: str, times: int) -> list[tuple[float, float, float]]:
    """(to the first byte, to the final picture, to the last byte) in seconds, for resizes
    to 200x60, training paused so that the redraw is all the app writes."""
    tmux("send-keys", "-t", session, "t")
    wait_for(session, r"paused")
    try:
        return timed_resizes(session, times)
    finally:
        tmux("send-keys", "-t", session, "t")


def timed_resizes(session: str, times: int) -> list[tuple[float, float, float]]:
    """For each resize 120x40 -> 200x60: seconds to the first byte the app writes for it,
    to the screen showing its final picture, and to the last byte."""
    client = ControlClient(session)
    try:
        client.quiet_after(f"resize-window -t {session} -x 120 -y 40", quiet=1.0)
        redraws = []
        for _ in range(times):
            redraws.append(client.settled_after(f"resize-window -t {session} -x 200 -y 60"))
            client.quiet_after(f"resize-window -t {session} -x 120 -y 40")
        return redraws
    finally:
        client.close()


def resize_figures(redraws: np.ndarray) -> str:
    """Median and p95 of each column of (first byte, final picture, last byte) in ms."""
    names = ("first byte", "final picture", "last byte")
    return ", ".join(f"{name} median {np.median(redraws[:, i]):.1f} ms (p95 {np.percentile(redraws[:, i], 95):.1f})"
                     for i, name in enumerate(names))


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
    parser.add_argument("--keys", type=int, default=100, help="keys timed at the 0.1 s and 0.5 s paces")
    parser.add_argument("--slow-keys", type=int, default=40, help="keys timed at the 1.5 s pace")
    parser.add_argument("--launches", type=int, default=5)
    parser.add_argument("--resizes", type=int, default=20, help="resizes to 200x60 timed (0: none)")
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

    reference = None
    for size in ((80, 24), (120, 40), (200, 60)):
        session = f"bench-keys-{size[0]}"
        launch(session, work, size, extra="--scenario text --steps 1000000")  # training runs throughout
        wait_for(session, r"step 1/\d+")
        wait_for(session, r"\d[\d,]* seq/s", seconds=90)  # the trainer is running
        # at 0.1 and 0.5 s the trace holds still under the keys (it catches up once they have
        # been quiet for a second); at 1.5 s new traces are redrawn between keys
        paces = {0.1: args.keys, 0.5: args.keys}
        if size == (120, 40):
            paces[1.5] = args.slow_keys
        paced = {pace: np.array(key_latencies(session, n, pace)) * 1e3 for pace, n in paces.items()}
        rate = wait_for(session, r"([\d,]+) seq/s").group(1)
        if size == (120, 40):
            reference, reference_resizes = reference_latencies(args.keys, 0.1, args.resizes)
            pid = int(tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())
            pss, rss = memory_mb(pid)
        if size == (200, 60) and args.resizes:
            redraws = np.array(resize_redraws(session, args.resizes)) * 1e3
        tmux("send-keys", "-t", session, "q")
        time.sleep(2)
        tmux("kill-session", "-t", session)
        for pace, lags_ms in paced.items():
            print(f"key to screen {size[0]}x{size[1]}, training running ({rate} seq/s), a key every {pace} s: "
                  f"median {np.median(lags_ms):.1f} ms, p95 {np.percentile(lags_ms, 95):.1f} ms, "
                  f"max {lags_ms.max():.1f} ms over {len(lags_ms)} keys")
    print(f"reference, a one-label Textual app measured the same way (training still running): "
          f"median {np.median(reference):.1f} ms, p95 {np.percentile(reference, 95):.1f} ms")
    print(f"memory, app + trainer: {pss:.0f} MB PSS ({rss:.0f} MB RSS, shared libraries counted twice)")
    if args.resizes:
        print(f"resize 120x40 -> 200x60 (training paused), over {len(redraws)}: {resize_figures(redraws)}")
        print(f"reference, the one-label app resized the same way (training still running): "
              f"{resize_figures(reference_resizes)}")

    redraw = np.array(heatmap_redraw()) * 1e3
    print(f"heatmap full redraw 256 units x 2000 steps, 200x60: median {np.median(redraw):.1f} ms, "
          f"max {redraw.max():.1f} ms")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
