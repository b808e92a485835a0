"""`TrainerClient`: start, steer and watch training in other processes, from the app.

No torch here, and no dataset: this module is what the app's process imports, and
the trainer's process (training/process.py) does all of that.

    client = TrainerClient({"options": args})    # or {"source", "model", "train"[, "load"]}
    client.start()                  # the process starts paused at its first step
    client.send(protocol.Start())
    for event in client.poll():     # from a timer in the app: RunInfo, Snapshot, TraceReady...
        ...
    client.close()                  # stops, saves (save_on_quit), leaves no process

A trainer process that dies unexpectedly is started again, from its newest checkpoint,
and told again which sample is watched and whether it was training; the app is told
in a TrainerError. After RESTART_LIMIT deaths within RESTART_WINDOW_S it is left down
until a command that trains (Start, Reset, Switch) brings it back.

Textual replaces sys.stderr with an object whose fileno() is -1, and multiprocessing
hands sys.stderr's descriptor to the processes it starts ("bad value(s) in
fds_to_keep"), so every process is started with the real stderr in place.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

from rnn_tui.training import protocol as p
from rnn_tui.training.channel import latest_wins_pipe, take_latest

MAIN = "main"  # the label of the one run outside compare mode
# Compare mode: on two otherwise idle cores, one process per run trained rnn+lstm+gru
# 1.5x sooner than one process taking turns (benchmarks/bench_compare.py).
COMPARE_LAYOUT = "each"  # or "shared": one process, the runs taking turns a step each
# Commands that bring back a process that is down.
RESTARTING = (p.Start, p.Reset, p.Switch)
RESTART_LIMIT, RESTART_WINDOW_S = 3, 60.0


def _run_trainer(*args) -> None:
    """The process's entry point: torch is imported there, never in the app's process."""
    from rnn_tui.training.process import serve

    serve(*args)
    # Everything is saved, closed and flushed by now: skip tearing down torch's modules
    # (about half a second of a quit).
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


@contextlib.contextmanager
def real_stderr():
    """multiprocessing passes sys.stderr's fd to new processes; inside a Textual app it is -1."""
    stream, spare = sys.__stderr__, None
    if stream is None or _bad_fileno(stream):  # no real stderr at all: the null device
        stream = spare = open(os.devnull, "w")
    try:
        with contextlib.redirect_stderr(stream):
            yield
    finally:
        if spare is not None:
            spare.close()


def _bad_fileno(stream) -> bool:
    try:
        return stream.fileno() < 0
    except (OSError, ValueError, AttributeError):
        return True


class _Process:
    """One training process, its four channels, and what it last said about its runs."""

    def __init__(self, labels: list[str], start: dict, options: tuple):
        import multiprocessing

        self.labels, self.first_start, self.options = labels, start, options
        self.context = multiprocessing.get_context("spawn")
        self.process = None
        self.stopping = self.fatal = False
        self.down = False  # died, and not restarted
        self.deaths: list[float] = []
        self.watch: p.Watch | None = None  # the last watch sent: a restarted process gets it again
        self.info: dict[str, p.RunInfo] = {}
        self.last: dict[str, p.Snapshot] = {}
        # Each run's newest checkpoint, from the events themselves: a snapshot's may name a
        # periodic file that was pruned since.
        self.newest: dict[str, str | None] = {}

    def start(self, start: dict | None = None) -> None:
        ctx = self.context
        with real_stderr():
            command_in, command_out = ctx.Pipe(duplex=False)  # (reader, writer)
            event_in, event_out = ctx.Pipe(duplex=False)
            snapshot_in, snapshot_out = latest_wins_pipe(ctx)
            trace_in, trace_out = latest_wins_pipe(ctx)
            self.process = ctx.Process(
                target=_run_trainer, name=f"rnn-tui trainer ({', '.join(self.labels)})", daemon=True,
                args=(start or self.first_start, self.labels, *self.options, command_in, event_out,
                      snapshot_out, trace_out),
            )
            self.process.start()
        for conn in (command_in, event_out, snapshot_out, trace_out):
            conn.close()  # the child holds these ends now; our copies would hide its exit
        self.commands, self.events, self.snapshots, self.traces = command_out, event_in, snapshot_in, trace_in
        self.stopping = self.down = False

    def restart_spec(self) -> tuple[dict, str | None]:
        """What a new process rebuilds from: the runs as last described, their newest checkpoints."""
        label = self.labels[0]
        info, snap = self.info.get(label), self.last.get(label)
        if info is None:
            return self.first_start, None
        start = {"source": info.source, "model": info.model, "train": snap.train if snap else info.train,
                 "load": {lb: path for lb, path in self.newest.items() if path}}
        return start, next(iter(start["load"].values()), None)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def send(self, command) -> bool:
        try:
            self.commands.send(command)
            return True
        except (BrokenPipeError, OSError):
            return False

    def receive(self) -> list:
        out = []
        try:
            while self.events.poll(0):
                out.append(self.events.recv())
        except (EOFError, OSError):
            pass
        snapshots = take_latest(self.snapshots) or []
        for event in out:
            if isinstance(event, p.RunInfo):
                self.info[event.run] = event
                self.newest[event.run] = event.checkpoint  # a new run: its own checkpoints only
            elif isinstance(event, p.Saved):
                self.newest[event.run] = event.path
            elif isinstance(event, p.Fatal):
                self.fatal = True
        for snap in snapshots:
            self.last[snap.run] = snap
        return out + snapshots + (take_latest(self.traces) or [])

    def close(self, deadline: float) -> list:
        """Wait for it to end until `deadline` (time.monotonic), then end it by force."""
        out = []
        if self.process is None:
            return out
        while self.alive and time.monotonic() < deadline:
            out += self.receive()  # also keeps the events pipe from filling up
            self.process.join(0.02)
        out += self.receive()
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(1.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(1.0)
        for conn in (self.commands, self.events, self.snapshots, self.traces):
            conn.close()
        self.process.close()
        self.process = None
        return out


class TrainerClient:
    """`start`: {"options": argparse namespace} (the trainer resolves scenario, sizes and
    checkpoint), or {"source", "model", "train"} dicts (fields left out come from the
    scenario) with an optional {"load": {label: checkpoint}}. `device`: where the trainer
    process trains (cpu, cuda or auto); traces are always computed on a CPU copy. `compare`: architectures
    trained side by side on the same data, seed and budget, each run labelled by its arch
    (otherwise the one run is "main"). `runs_dir=None` writes no files."""

    def __init__(self, start: dict, runs_dir: str | None = "runs", compare: list[str] | None = None,
                 save_on_quit: bool = True, device: str = "cpu"):
        labels = list(compare) if compare else [MAIN]
        if len(set(labels)) != len(labels):
            raise ValueError(f"compare: each architecture once, got {labels}")
        groups = [[label] for label in labels] if compare and COMPARE_LAYOUT == "each" else [labels]
        self.labels = labels
        options = (runs_dir, save_on_quit, labels if compare else [], device)
        self._processes = [_Process(group, start, options) for group in groups]
        self._pending: list = []  # events made on this side, handed out by the next poll

    def start(self) -> None:
        for proc in self._processes:
            if not proc.alive:
                proc.start()

    def send(self, command: p.Command) -> None:
        """A command (training.protocol); its `run` sends it to one run of a comparison."""
        if not isinstance(command, p.COMMANDS):
            raise TypeError(f"not a command: {command!r}")
        for proc in self._processes:
            if command.run is not None and command.run not in proc.labels:
                continue
            if proc.process is None or (proc.down and isinstance(command, RESTARTING)):
                self._restart(proc, why=None)
            if isinstance(command, p.Stop):
                proc.stopping = True  # its end is no surprise
            if isinstance(command, p.Watch):
                proc.watch = command
            if not proc.send(command):
                self._pending.append(p.TrainerError(",".join(proc.labels), "the trainer process is not "
                                                    "running; press t or r to start it again"))

    def _restart(self, proc: _Process, why: str | None) -> None:
        """A new process for these runs, from their newest checkpoints; training and
        watching go on as before."""
        was_running = any(s.status == "running" for s in proc.last.values())
        start, checkpoint = proc.restart_spec()
        self._pending += proc.close(deadline=0)  # what the old one said last is still news
        proc.start(start)
        if proc.watch is not None:
            proc.send(proc.watch)
        if was_running:
            proc.send(p.Start())
        if why:
            origin = f"from {checkpoint}" if checkpoint else "from the seed (no checkpoint yet)"
            self._pending.append(p.TrainerError(",".join(proc.labels), f"{why}; restarted {origin}"))

    def poll(self) -> list[p.Event]:
        """What arrived since the last poll: events in order, then the newest snapshot and
        trace of each run."""
        out, self._pending = self._pending, []
        for proc in self._processes:
            if proc.process is None:
                continue
            out += proc.receive()
            if proc.alive or proc.stopping or proc.fatal or proc.down:
                continue
            code = proc.process.exitcode
            now = time.monotonic()
            proc.deaths = [t for t in proc.deaths if now - t < RESTART_WINDOW_S] + [now]
            why = f"the trainer process stopped unexpectedly (exit code {code})"
            if len(proc.deaths) > RESTART_LIMIT:
                proc.down = True
                out.append(p.TrainerError(",".join(proc.labels), f"{why} {len(proc.deaths)} times in a minute; "
                                          "left stopped: press t or r to start it again"))
                continue
            self._restart(proc, why)
            out += self._pending
            self._pending = []
        return out

    def stop(self) -> None:
        """Ask every process to save and end; returns at once (see close)."""
        for proc in self._processes:
            proc.stopping = True
            if proc.alive:
                proc.send(p.Stop())

    def close(self, timeout: float = 3) -> list[p.Event]:
        """Stop every process (saving first when save_on_quit) and wait at most `timeout`
        seconds before ending them by force. Returns the last events, e.g. "saved ..."."""
        self.stop()
        out, self._pending = self._pending, []
        deadline = time.monotonic() + timeout
        for proc in self._processes:
            out += proc.close(deadline)
        return out

    @property
    def pids(self) -> list[int]:
        return [proc.process.pid for proc in self._processes if proc.process is not None]

    def __enter__(self) -> "TrainerClient":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
