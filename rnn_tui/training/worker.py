"""Training in its own process, steered from the app: `TrainerClient`.

The process trains in chunks of about 50 ms and reads commands between chunks, so
a command takes effect within a chunk. It runs torch on one thread: the UI's
process keeps the other core (two torch threads froze a UI loop for 0.4 s).

Four channels, one job each:
    commands   app -> trainer, a pipe; its end-of-file means the app is gone
    events     trainer -> app, a pipe: errors, notices and generated text, every one delivered
    snapshots  trainer -> app, latest wins (channel.py): ~2.5 a second while training,
               and right after a command; a slow reader gets the newest, and memory
               never grows
    traces     trainer -> app, latest wins: the sample the app shows, traced with the
               newest weights at most once a second while training, and at once after
               a command that changes the picture (NEW_PICTURE). Tracing here rather
               than in a thread of the app keeps torch's Python-side work from
               contending with the app's event loop for the interpreter (keys waited
               up to 50 ms behind a trace there).

Textual replaces sys.stderr with an object whose fileno() is -1, and
multiprocessing hands sys.stderr's descriptor to the processes it starts ("bad
value(s) in fds_to_keep"), so every process (the resource tracker included) is
started with the real stderr in place.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time

from rnn_tui.errors import UserError
from rnn_tui.training.channel import LatestSender, latest_wins_pipe, take_latest
from rnn_tui.training.host import MAIN, Host, checkpoint_arch
from rnn_tui.training.protocol import COMMANDS, Command, Message, TrainerError

CHUNK_S = 0.05  # training between looks at the command pipe
PUBLISH_S = 0.4  # at most 2.5 snapshots a second: each redraws the whole screen
TRACE_S = 1.0  # at most one trace a second while training: each redraws every panel
# Commands after which the app waits for a new picture: traced at once, not on the clock.
NEW_PICTURE = ("watch", "step", "reset", "switch", "load")
IDLE_WAIT_S = 0.25  # paused: how long to sleep on the command pipe
# Compare mode: on two otherwise idle cores, one process per run trained rnn+lstm+gru
# 1.5x sooner than one process taking turns (5.3 s vs 7.8 s), and the UI's 16 ms timer
# stayed within 2.6 ms (p95) and 5.2 ms (max) beside them; under a heavy foreign load
# the two came out even (benchmarks/bench_compare.py, bench_ui_lag.py --compare).
COMPARE_LAYOUT = "each"  # or "shared": one process, the runs taking turns a step each
# Trainers yield to the UI when both want the CPU (niceness 5: about a third of the share).
NICENESS = 5
# Commands that bring back a process that died (the app can always recover).
RESTARTING = ("start", "resume", "reset", "switch")


# ------------------------------------------------------------------ the child


def serve(specs: dict, runs_dir, save_on_quit: bool, compare: bool, commands, events, snapshot_conn,
          trace_conn) -> None:
    """The training process's main loop. Returns when told to stop or when the app is gone."""
    _quiet()
    import torch

    torch.set_num_threads(1)
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    parent = os.getppid()
    snapshots = LatestSender(snapshot_conn, "snapshot-writer")
    traces = LatestSender(trace_conn, "trace-writer")
    app_gone = terminated = False

    def on_terminate(signum, frame) -> None:
        # multiprocessing terminates daemonic children at the app's exit: save first. A flag,
        # not an exception, so that no message is cut in half on its pipe.
        nonlocal terminated
        terminated = True

    signal.signal(signal.SIGTERM, on_terminate)
    # Ctrl+C in a terminal reaches the whole process group; the app decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def emit(message) -> None:
        nonlocal app_gone
        try:
            events.send(message)
        except OSError:  # the app is gone; the loop below notices and leaves
            app_gone = True

    host = Host(specs, runs_dir, save_on_quit, compare, emit)
    last_publish, last_trace, urgent, urgent_trace = 0.0, 0.0, True, True
    try:
        while not host.finished:
            now = time.perf_counter()
            if host.changed() and (urgent or now - last_publish >= PUBLISH_S):
                snapshots.publish(host.snapshots())
                last_publish, urgent = now, False
            if host.traces_due() and (urgent_trace or now - last_trace >= TRACE_S):
                traces.publish(host.traces())
                last_trace, urgent_trace = now, False
            wait = 0.0 if host.busy else IDLE_WAIT_S
            while commands.poll(wait):
                command = commands.recv()
                host.handle(command)
                urgent, wait = True, 0.0
                urgent_trace = urgent_trace or command.name in NEW_PICTURE
                if host.finished:
                    break
            if terminated or app_gone or snapshots.broken or os.getppid() != parent:
                host.stop()
            if not host.finished and not (urgent_trace and host.traces_due()):  # the new picture first
                host.train_for(CHUNK_S)
    except (EOFError, BrokenPipeError, ConnectionResetError):  # the app is gone: save and leave
        host.stop()
        return
    if host.runs:  # the final "stopped" state, for an app that still reads
        snapshots.publish(host.snapshots())
        snapshots.flush(timeout=0.5)


def _quiet() -> None:
    """The app owns the terminal: a warning printed here would scribble over its screen.
    Errors reach the app as TrainerError; RNN_TUI_WORKER_LOG names a file for the rest."""
    target = os.environ.get("RNN_TUI_WORKER_LOG") or os.devnull
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


# ------------------------------------------------------------------ the app's side


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
    """One training process and its four channels."""

    def __init__(self, labels: list[str], specs: dict, runs_dir, save_on_quit: bool, compare: bool):
        import multiprocessing

        self.labels, self.specs = labels, specs
        self.options = (runs_dir, save_on_quit, compare)
        self.context = multiprocessing.get_context("spawn")
        self.process = None
        self.reported_death = self.stopping = False
        self.watch: Command | None = None  # the last watch sent: a restarted process gets it again

    def start(self) -> None:
        ctx = self.context
        with real_stderr():
            command_in, command_out = ctx.Pipe(duplex=False)  # (reader, writer)
            event_in, event_out = ctx.Pipe(duplex=False)
            snapshot_in, snapshot_out = latest_wins_pipe(ctx)
            trace_in, trace_out = latest_wins_pipe(ctx)
            self.process = ctx.Process(
                target=serve, name=f"rnn-tui trainer ({', '.join(self.labels)})", daemon=True,
                args=(self.specs, *self.options, command_in, event_out, snapshot_out, trace_out),
            )
            self.process.start()
        for conn in (command_in, event_out, snapshot_out, trace_out):
            conn.close()  # the child holds these ends now; our copies would hide its exit
        self.commands, self.events, self.snapshots, self.traces = command_out, event_in, snapshot_in, trace_in
        self.reported_death = self.stopping = False

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def send(self, command: Command) -> bool:
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
        snapshots = take_latest(self.snapshots)
        for snap in snapshots or []:  # a restart starts from what the app last saw
            self.specs[snap.run] = {"source": snap.source, "model": snap.model, "train": snap.train}
        return out + (snapshots or []) + (take_latest(self.traces) or [])

    def ask_to_stop(self) -> None:
        self.stopping = True
        if self.alive:
            self.send(Command("stop"))

    def close(self, deadline: float) -> list:
        """Wait for it to end until `deadline` (time.monotonic), then end it by force."""
        out = []
        if self.process is None:
            return out
        while self.alive and time.monotonic() < deadline:
            out += self.receive()  # also keeps the events pipe from filling up
            self.process.join(0.05)
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
    """Start, steer and watch training in another process.

        client = TrainerClient({"scenario": "sine"}, {"arch": "gru"}, {"lr": 3e-3})
        client.start()            # the process starts paused at step 0
        client.send("start")
        for message in client.poll():   # from a timer in the app
            ...                   # protocol.Message: Snapshot, TraceReady, Generated, ...
        client.close()            # stops, saves (save_on_quit), leaves no process

    `source`, `model`, `train`: a data.source.Source dict and ModelConfig / TrainConfig
    fields; fields left out come from the scenario. `compare`: several architectures
    trained side by side on the same data, seed and budget; each run is labelled by its
    arch (otherwise the one run is labelled "main"). `runs_dir=None` writes no files.
    """

    def __init__(self, source: dict, model: dict, train: dict, runs_dir: str | None = "runs",
                 compare: list[str] | None = None, save_on_quit: bool = True):
        labels = list(compare) if compare else [MAIN]
        if len(set(labels)) != len(labels):
            raise ValueError(f"compare: each architecture once, got {labels}")
        spec = {"source": dict(source), "model": dict(model), "train": dict(train)}
        groups = [[label] for label in labels] if compare and COMPARE_LAYOUT == "each" else [labels]
        self.labels = labels
        self._processes = [
            _Process(group, {label: dict(spec) for label in group}, runs_dir, save_on_quit, bool(compare))
            for group in groups
        ]
        self._pending: list = []  # messages made on this side, handed out by the next poll

    def start(self) -> None:
        """Start the training process(es); again after one died, from its last snapshot."""
        for proc in self._processes:
            if not proc.alive:
                self._restart(proc)

    def _restart(self, proc: _Process) -> None:
        self._pending += proc.close(deadline=0)  # what the old one said last is still news
        proc.start()
        if proc.watch is not None:  # the app still shows that sample
            proc.send(proc.watch)

    def send(self, name: str, **args) -> None:
        """A command (see training.protocol); `run=` sends it to one run of a comparison."""
        if name not in COMMANDS:
            raise ValueError(f"unknown command {name!r}; expected one of {', '.join(COMMANDS)}")
        if name == "load" and len(self.labels) > 1 and "run" not in args and args.get("path"):
            try:  # a comparison loads a checkpoint into the run of its architecture
                arch = checkpoint_arch(args["path"])
            except UserError as err:
                self._pending.append(TrainerError(",".join(self.labels), str(err)))
                return
            if arch not in self.labels:
                self._pending.append(TrainerError(",".join(self.labels), f"load {args['path']}: a {arch} "
                                                  f"checkpoint, and this comparison trains {', '.join(self.labels)}"))
                return
            args["run"] = arch
        target = args.get("run")
        for proc in self._processes:
            if target is not None and target not in proc.labels:
                continue
            if proc.process is None:
                self._pending.append(TrainerError(",".join(proc.labels), "the trainer is not started"))
                continue
            if not proc.alive and name in RESTARTING:
                self._restart(proc)
            if name == "stop":
                proc.stopping = True  # its end is no surprise
            if name == "watch":
                proc.watch = Command(name, args)
            if not proc.send(Command(name, args)):
                self._pending.append(TrainerError(",".join(proc.labels), "the trainer process is not "
                                                  "running; reset or switch to start it again"))

    def poll(self) -> list[Message]:
        """What arrived since the last poll: events in order, then the newest snapshot and trace of each run."""
        out, self._pending = self._pending, []
        for proc in self._processes:
            if proc.process is None:
                continue
            out += proc.receive()
            if not proc.alive and not proc.reported_death and not proc.stopping:
                proc.reported_death = True
                code = proc.process.exitcode
                out.append(TrainerError(",".join(proc.labels), f"the trainer process stopped unexpectedly "
                                        f"(exit code {code}); reset or switch to start it again"))
        return out

    def close(self, timeout: float = 3) -> list[Message]:
        """Stop every process (saving first when save_on_quit) and wait at most `timeout`
        seconds before ending them by force. Returns the last messages, e.g. "saved ..."."""
        out, self._pending = self._pending, []
        deadline = time.monotonic() + timeout
        for proc in self._processes:  # all at once: they save side by side
            proc.ask_to_stop()
        for proc in self._processes:
            out += proc.close(deadline)
        return out

    @property
    def pids(self) -> list[int]:
        return [p.process.pid for p in self._processes if p.process is not None]

    def __enter__(self) -> "TrainerClient":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
