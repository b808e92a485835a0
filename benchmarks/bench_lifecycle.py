"""The app's life cycle, seen from outside through tmux only: launch, quit, memory, stalls.

    python benchmarks/bench_lifecycle.py [--root DIR] [--launches N]

It runs `python -m rnn_tui --runs-dir <tmp>/runs` with PYTHONPATH=DIR (default: this
checkout), in a 120x40 tmux pane on a private tmux server, default scenario. It uses no
internal API of the app, so it measures any version of it (point --root at a worktree).

launch -> first trace   seconds from `tmux new-session` until the heatmap panel's title
                        reads "Hidden state h, layer 1" (it says "Hidden state h  (units
                        × time)" until a trace is drawn); median and max over N launches
q -> all gone           each launch trains ~5 s after its first trace, then gets `q`:
                        seconds until the app process and every descendant (found from
                        the pane pid with `pgrep -P`, recursively, before q) have exited;
                        also how many launches left a checkpoint (*.pt) in the runs dir
memory                  PSS (/proc/PID/smaps_rollup) after ~10 s of training: the app's
                        own process, and the app plus all its descendants (the trainer)
stall after a key       c (compare on), c (compare off), a (architecture), r (reset) and
                        s (scenario picker, Down, Enter: the next scenario). The key is
                        sent through a tmux control client, then Right (Home at the last
                        step) one at a time for ~3 s, each timed until the app writes the
                        new "step N/M"; the max key->screen latency is how long the event
                        loop was frozen. After a and s the old trace is dropped: until the
                        new model's first trace is drawn, Right has nothing to move, so
                        those first latencies include the wait for that trace (reported)
"""

from __future__ import annotations

import argparse
import glob
import os
import queue
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

SOCKET = f"rnn-lifecycle-{os.getpid()}"  # a private tmux server: no clash with anyone's sessions
SIZE = (120, 40)
TRACED = "Hidden state h, layer 1"
STEP = re.compile(r"step (\d+)/(\d+)")


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True).stdout


def screen(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session)


def wait_screen(session: str, pattern: str, seconds: float = 120) -> re.Match | None:
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        match = re.search(pattern, screen(session))
        if match:
            return match
        time.sleep(0.02)
    return None


def launch(session: str, root: str, work: str, extra: str = "") -> tuple[float, int]:
    """Start the app; (time of new-session, pid of the app's own process)."""
    cmd = (f"exec env PYTHONPATH={shlex.quote(root)} {shlex.quote(sys.executable)} -m rnn_tui "
           f"--runs-dir {shlex.quote(work)}/runs {extra}")
    for _ in range(3):  # a tmux server still shutting down can refuse the first try
        start = time.perf_counter()
        if subprocess.run(["tmux", "-L", SOCKET, "new-session", "-d", "-s", session, "-c", work,
                           "-x", str(SIZE[0]), "-y", str(SIZE[1]), cmd], capture_output=True).returncode == 0:
            break
        time.sleep(1)
    else:
        raise RuntimeError("tmux new-session failed 3 times")
    return start, int(tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())


def descendants(pid: int) -> list[int]:
    kids = [int(k) for k in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                           text=True).stdout.split()]
    return kids + [d for k in kids for d in descendants(k)]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except (FileNotFoundError, IndexError):
        return False


def pss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            return sum(int(line.split()[1]) for line in fh if line.startswith("Pss:")) / 1024
    except FileNotFoundError:
        return 0.0


class ControlClient:
    """A tmux control-mode client: what the app writes is pushed to a reader thread,
    so a key's answer is seen the moment tmux gets it, with no capture-pane polling."""

    def __init__(self, session: str) -> None:
        tmux("set-option", "-t", session, "window-size", "manual")  # keep the pane at 120x40
        self.proc = subprocess.Popen(["tmux", "-L", SOCKET, "-C", "attach", "-t", session],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     bufsize=1, errors="replace")
        self.session, self.lines = session, queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("%output "):
                self.lines.put(line.split(" ", 2)[2].rstrip("\n"))

    def send(self, key: str) -> None:
        while not self.lines.empty():  # only what the app writes after this key counts
            self.lines.get_nowait()
        self.proc.stdin.write(f"send-keys -t {self.session} {key}\n")
        self.proc.stdin.flush()

    def wait_step_change(self, old: tuple[int, int], seconds: float) -> tuple[int, int] | None:
        """The first "step N/M" the app writes that differs from `old`, or None."""
        deadline, seen = time.perf_counter() + seconds, ""
        while (left := deadline - time.perf_counter()) > 0:
            try:
                seen = (seen + self.lines.get(timeout=left))[-4000:]
            except queue.Empty:
                break
            for m in STEP.finditer(seen):
                if (int(m.group(1)), int(m.group(2))) != old:
                    return int(m.group(1)), int(m.group(2))
        return None

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.terminate()
        self.proc.wait(5)


def lifecycle(root: str, work: str, i: int) -> tuple[float, float, int, bool]:
    """One launch: (s to first trace, s from q to all gone, descendants, checkpoint written)."""
    session = f"launch{i}"
    start, pid = launch(session, root, work)
    if not wait_screen(session, re.escape(TRACED)):
        raise RuntimeError(f"launch {i}: no trace within 120 s; screen:\n{screen(session)}")
    first = time.perf_counter() - start
    time.sleep(5)  # let it train
    tree = [pid] + descendants(pid)
    quit_at = time.perf_counter()
    tmux("send-keys", "-t", session, "q")
    while any(alive(p) for p in tree) and time.perf_counter() - quit_at < 60:
        time.sleep(0.01)
    gone = time.perf_counter() - quit_at
    for p in tree:  # still there after 60 s: ours to end
        if alive(p):
            gone = float("inf")
            os.kill(p, 9)
    return first, gone, len(tree) - 1, bool(glob.glob(f"{work}/runs/**/*.pt", recursive=True))


def current_step(session: str, seconds: float) -> tuple[tuple[int, int] | None, float]:
    """("step N/M" on screen, seconds waited for one to be there)."""
    start = time.perf_counter()
    match = wait_screen(session, STEP.pattern, seconds)
    return (int(match.group(1)), int(match.group(2))) if match else None, time.perf_counter() - start


def stall(session: str, client: ControlClient, key: str, window: float = 3.0,
          timeout: float = 15.0) -> tuple[list[float], list[str]]:
    """Send `key`, then Right/Home one at a time for `window` s: (latencies, notes)."""
    notes: list[str] = []
    before, _ = current_step(session, 30)
    if before is None:
        return [], ["no step counter on screen before the key"]
    if key == "s":  # the picker opens on the current scenario: Down, then Enter picks the next
        name = re.search(r"rnn-tui · (\S+)", screen(session)).group(1)
        client.send("s")
        if not wait_screen(session, "Pick a scenario", 10):
            return [], ["the scenario picker did not open"]
        client.send("Down")
        time.sleep(0.3)
        key = "Enter"
    t0 = time.perf_counter()
    client.send(key)
    lags: list[float] = []
    at: list[float] = []  # when each probe was sent, seconds after the key
    while time.perf_counter() - t0 < window:
        now, waited = current_step(session, timeout)
        if now is None:
            notes.append(f"no step counter on screen for {timeout:.0f} s")
            break
        n, m = now
        probe = "Right" if n < m else "Home"
        sent = time.perf_counter()
        client.send(probe)
        answer = client.wait_step_change(now, timeout)
        if answer is None:
            notes.append(f"{probe} at step {n}/{m} not answered within {timeout:.0f} s")
            break
        lags.append(time.perf_counter() - sent)
        at.append(sent - t0)
        expected = (n + 1, m) if probe == "Right" else (1, m)
        if answer != expected:
            notes.append(f"probe {len(lags)} ({lags[-1] * 1e3:.0f} ms, sent {sent - t0:.2f} s after the key) "
                         f"was answered by a new trace: step {n}/{m} -> {answer[0]}/{answer[1]}")
        time.sleep(0.02)
    if key == "Enter":
        after = re.search(r"rnn-tui · (\S+)", screen(session)).group(1)
        notes.append(f"scenario {name} -> {after}" if after != name else f"scenario stayed {name}")
    if lags:
        notes.insert(0, f"the max was the probe sent {at[lags.index(max(lags))]:.2f} s after the key")
    return lags, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        help="the checkout whose rnn_tui is measured (default: this one)")
    parser.add_argument("--launches", type=int, default=5)
    args = parser.parse_args()
    root = os.path.abspath(args.root)
    print(f"rnn_tui from {root}, {SIZE[0]}x{SIZE[1]}, tmux server -L {SOCKET}", flush=True)
    tmp = tempfile.mkdtemp(prefix="rnn-lifecycle-")
    try:
        runs = [lifecycle(root, tempfile.mkdtemp(dir=tmp), i) for i in range(args.launches)]
        firsts, gones, kids, saved = zip(*runs)
        print(f"launch -> first trace: median {statistics.median(firsts):.2f} s, max {max(firsts):.2f} s "
              f"over {len(runs)} launches ({SIZE[0]}x{SIZE[1]}, tmux)")
        print(f"q -> app and all descendants gone ({'-'.join(sorted({str(min(kids)), str(max(kids))}))} descendants), ~5 s into training: "
              f"median {statistics.median(gones):.2f} s, max {max(gones):.2f} s over {len(runs)} launches; "
              f"checkpoint *.pt written: {sum(saved)}/{len(runs)}")

        session, work = "keys", tempfile.mkdtemp(dir=tmp)
        _, pid = launch(session, root, work, "--no-save")
        if not wait_screen(session, re.escape(TRACED)):
            raise RuntimeError(f"no trace within 120 s; screen:\n{screen(session)}")
        time.sleep(10)
        tree = descendants(pid)
        app, total = pss_mb(pid), pss_mb(pid) + sum(pss_mb(p) for p in tree)
        print(f"memory after ~10 s of training: app process {app:.0f} MB PSS; "
              f"app + {len(tree)} descendants {total:.0f} MB PSS")

        client = ControlClient(session)
        try:
            for key, label in (("c", "c (compare on)"), ("c", "c (compare off)"), ("a", "a (architecture)"),
                               ("r", "r (reset)"), ("s", "s (picker, Down, Enter)")):
                time.sleep(3)  # let the previous key's work settle
                lags, notes = stall(session, client, key)
                figure = (f"max {max(lags) * 1e3:.0f} ms, median {statistics.median(lags) * 1e3:.0f} ms "
                          f"over {len(lags)} Right/Home keys") if lags else "not measurable"
                print(f"stall after {label}: {figure}" + "".join(f"\n    {note}" for note in notes), flush=True)
        finally:
            client.close()
    finally:
        tmux("kill-server")  # the private server: every session this script started
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
