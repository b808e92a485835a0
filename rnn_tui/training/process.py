"""The training process: `serve` runs a RunGroup and talks to the app over four pipes.

The process trains in chunks of about 50 ms and reads commands between chunks, so a
command takes effect within a chunk. It runs torch on one thread: the app's process
keeps the other core (two torch threads froze a UI loop for 0.4 s).

Four channels, one job each:
    commands   app -> trainer, a pipe; its end-of-file means the app is gone
    events     trainer -> app, a pipe: RunInfo, errors, notices, text; every one delivered
    snapshots  trainer -> app, latest wins (channel.py): ~2.5 a second while training, and
               right after a command; a slow reader gets the newest, memory never grows
    traces     trainer -> app, latest wins: the watched sample traced with the newest
               weights at most once a second while training, and at once after a command
               that changes the picture (NEW_PICTURE)

Every way this process can be told to end (Stop, SIGTERM, SIGHUP when the terminal
closes, the app vanishing) saves what was trained since the last save first.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import asdict

from rnn_tui.errors import UserError
from rnn_tui.training import protocol as p
from rnn_tui.training.channel import LatestSender
from rnn_tui.training.run_group import RunGroup

CHUNK_S = 0.05  # training between looks at the command pipe
PUBLISH_S = 0.4  # at most 2.5 snapshots a second: each redraws the training panel
TRACE_S = 1.0  # at most one trace a second while training: each redraws every panel
# Commands after which the app waits for a new picture: traced at once, not on the clock.
NEW_PICTURE = (p.Watch, p.Step, p.Reset, p.Switch, p.Load, p.Open, p.TraceInput)
IDLE_WAIT_S = 0.25  # paused: how long to sleep on the command pipe
# Trainers yield to the UI when both want the CPU (niceness 5: about a third of the share).
NICENESS = 5


def first_specs(start: dict, labels: list[str]) -> tuple[dict, dict]:
    """The runs' specs and the checkpoints to load ({label: path}), from what the app was
    started with: {"options": argparse namespace} the first time, {"source", "model",
    "train", "load"} for a comparison or a restart. Bad options raise UserError."""
    if "options" in start:
        from rnn_tui.training.options import resolve

        options = start["options"]
        _, source, model, train, _ = resolve(options)
        spec = {"source": source, "model": asdict(model), "train": asdict(train)}
        load = {label: options.checkpoint for label in labels} if options.checkpoint else {}
    else:
        spec = {k: start[k] for k in ("source", "model", "train")}
        load = dict(start.get("load") or {})
    return {label: dict(spec) for label in labels}, load


def catalog() -> p.Catalog:
    """The scenarios a user can pick, each saying what it needs that is missing."""
    import importlib.util

    from rnn_tui.data.scenario import list_scenarios

    def title(s) -> str:
        if s.data.get("generator") == "digits" and importlib.util.find_spec("sklearn") is None:
            return f"{s.title} (needs scikit-learn: pip install 'rnn-tui[digits]')"
        return s.title

    return p.Catalog([{"name": s.name, "task": s.task, "title": title(s), "description": s.description,
                       "ref": str(s.path) if s.path is not None else s.name} for s in list_scenarios()])


def serve(start: dict, labels: list[str], runs_dir, save_on_quit: bool, compare: list[str], device: str, commands,
          events, snapshot_conn, trace_conn) -> None:
    """The training process's main loop. Returns when told to stop or when the app is gone."""
    _quiet()
    import torch

    torch.set_num_threads(1)
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    parent = os.getppid()
    snapshots = LatestSender(snapshot_conn, "snapshot-writer")
    traces = LatestSender(trace_conn, "trace-writer")
    app_gone = ending = False

    def on_end_signal(signum, frame) -> None:
        # SIGTERM (the app's exit, or kill) and SIGHUP (the terminal closed): save first. A
        # flag, not an exception, so that no message is cut in half on its pipe.
        nonlocal ending
        ending = True

    signal.signal(signal.SIGTERM, on_end_signal)
    signal.signal(signal.SIGHUP, on_end_signal)
    # Ctrl+C in a terminal reaches the whole process group; the app decides when we stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def emit(message) -> None:
        nonlocal app_gone
        try:
            events.send(message)
        except OSError:  # the app is gone; the loop below notices and leaves
            app_gone = True

    try:
        specs, load = first_specs(start, labels)
        group = RunGroup(specs, runs_dir, save_on_quit, compare, emit, device=device)
        if not group.runs and "options" in start:
            raise UserError(group.build_error or "the scenario could not be built")
        for label, path in load.items():
            group.handle(p.Load(path, run=label))
        emit(catalog())
    except UserError as err:
        emit(p.Fatal(str(err)))
        events.close()
        return
    last_publish, last_trace, urgent, urgent_trace = 0.0, 0.0, True, True
    try:
        while not group.finished:
            now = time.perf_counter()
            if group.changed() and (urgent or now - last_publish >= PUBLISH_S):
                snapshots.publish(group.snapshots())
                last_publish, urgent = now, False
            if group.traces_due() and (urgent_trace or now - last_trace >= TRACE_S):
                traces.publish(group.traces())
                last_trace, urgent_trace = now, False
            wait = 0.0 if group.busy else IDLE_WAIT_S
            while commands.poll(wait):
                command = commands.recv()
                group.handle(command)
                urgent, wait = True, 0.0
                urgent_trace = urgent_trace or isinstance(command, NEW_PICTURE)
                if group.finished:
                    break
            if ending or app_gone or snapshots.broken or os.getppid() != parent:
                group.stop()  # saves, and says where
            if not group.finished and not (urgent_trace and group.traces_due()):  # the new picture first
                group.train_for(CHUNK_S)
    except (EOFError, BrokenPipeError, ConnectionResetError):  # the app is gone: save and leave
        group.stop()
        return
    if group.runs:  # the final "stopped" state, for an app that still reads
        snapshots.publish(group.snapshots())
        snapshots.flush(timeout=0.5)


def _quiet() -> None:
    """The app owns the terminal: a warning printed here would scribble over its screen.
    Errors reach the app as TrainerError; RNN_TUI_WORKER_LOG names a file for the rest."""
    target = os.environ.get("RNN_TUI_WORKER_LOG") or os.devnull
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
