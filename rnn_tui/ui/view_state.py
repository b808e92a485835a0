"""What the screen shows, and the rules for it, without Textual: tested without Pilot.

`ViewState` reads the trainer's events and decides: which run is in focus, which
sample is watched, which trace may be shown (never one of a replaced run, never one
of another sample, and none that lands while the user is stepping), and what the
headline says. It sends commands through the client it is given; it never blocks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rnn_tui.core.trace_file import Trace
from rnn_tui.training import protocol as p

COMPARE_ARCHS = ["rnn", "lstm", "gru"]
MAIN = "main"
# While the user steps by hand the trace holds still; it catches up with the newest
# weights once the keys have been quiet this long. Numbers do not shift under the
# eyes of someone reading a step a second, and keys do not land behind a redraw of
# every panel (at 0.3 s, one key in twenty at two keys a second did: 35-50 ms).
STEPPING_QUIET_S = 1.0


@dataclass
class Update:
    """What one batch of events changed."""

    info: bool = False  # a run was (re)built: labels, sizes, goal
    training: bool = False  # a new snapshot: the training panel and status line
    text: str | None = None  # newly generated text
    messages: list[tuple[str, str]] = field(default_factory=list)  # (message, severity)
    fatal: str | None = None  # the trainer cannot start: the app ends with this line, status 2
    saved: list[str] = field(default_factory=list)  # checkpoints written
    experiment: str | None = None  # an experiment's answer arrived (its name)


class ViewState:
    def __init__(self, client, compare: bool = False, clock=None):
        self.client = client
        self.clock = clock or time.monotonic
        self.compare = compare
        self.info: dict[str, p.RunInfo] = {}  # run label -> what it is
        self.snaps: dict[str, p.Snapshot] = {}  # run label -> how it is doing
        self.focus_run = "lstm" if compare else MAIN
        self.sample = 0
        self.catalog: list[dict] = []
        self.temperature: float | None = None  # None: the scenario's
        self.generating = False  # g was pressed: new text after each evaluation
        self._generated_at = -1  # the evaluation step whose text is on screen
        self._latest: p.TraceReady | None = None  # the newest trace that fits what is shown
        self._shown: tuple | None = None  # (uid, version, sample) of the trace on screen
        self._last_key = -1e9  # clock() of the last stepping key
        self._urgent = True  # show the next fitting trace at once (first, or a new sample)
        self.unsaved: str | None = None  # why training cannot be saved now, if it cannot
        self._asked: dict = {}  # model fields of switches sent and not yet answered
        self.results: dict[str, dict[str, p.ExperimentResult]] = {}  # experiment -> run -> newest answer

    # ------------------------------------------------------------ events
    def apply(self, events: list) -> Update:
        out = Update()
        for event in events:
            match event:
                case p.RunInfo():
                    self.info[event.run] = event
                    self._asked = {}
                    out.info = True
                    if event.run == self.focus_run:
                        self._urgent = True
                        self.sample = min(self.sample, max(0, event.val_samples - 1))
                case p.Snapshot():
                    if self._current(event.run, event.uid):
                        self.snaps[event.run] = event
                        out.training = True
                case p.TraceReady():
                    if event.run == self.focus_run and self._current(event.run, event.uid) \
                            and event.sample == self.sample:
                        self._latest = event
                case p.ExperimentResult() if self._current(event.run, event.uid):
                    self.results.setdefault(event.name, {})[event.run] = event
                    out.experiment = event.name
                case p.Generated() if event.run == self.focus_run:
                    out.text = (f"temperature {event.temperature:g} · step {event.step:,} · again at each "
                                f"evaluation\n{event.text}")
                case p.TrainerError():
                    self._asked = {}  # a refused switch: the model stays as it was
                    where = f" ({event.run})" if event.run not in ("", MAIN) else ""
                    out.messages.append((f"trainer{where}: {event.reason}", "error"))
                    if event.unsaved:
                        self.unsaved = event.reason
                case p.Saved():
                    self.unsaved = None
                    out.saved.append(event.path)
                    if not event.periodic:
                        out.messages.append((f"{self._who(event.run)}saved {event.path}", "information"))
                case p.Notice():
                    out.messages.append((event.text, "information"))
                case p.Fatal():
                    out.fatal = event.reason
                case p.Catalog():
                    self.catalog = event.scenarios
        if out.info and self.focus_run not in self.info and self.info:
            self.focus_run = next(iter(self.info))
            self.watch()
        if out.training and self.generating and self.last_evaluation_step() != self._generated_at:
            self.generate()  # the text follows the model as it learns
        return out

    @staticmethod
    def _who(run: str) -> str:
        return "" if run in ("", MAIN) else f"{run}: "

    def _current(self, run: str, uid: int) -> bool:
        """From the run as it is now, not one replaced since (a switch, reset or load)."""
        info = self.info.get(run)
        return info is not None and info.uid == uid

    @property
    def ready(self) -> bool:
        return self.focus_run in self.info

    @property
    def run(self) -> p.RunInfo | None:
        return self.info.get(self.focus_run)

    @property
    def snap(self) -> p.Snapshot | None:
        return self.snaps.get(self.focus_run)

    # ------------------------------------------------------------ the picture
    def key_pressed(self) -> None:
        """A stepping key (or click): new traces wait until the keys are quiet."""
        self._last_key = self.clock()

    def trace_to_show(self) -> Trace | None:
        """The trace the screen should switch to now, or None to keep what it shows."""
        ready = self._latest
        if ready is None or (ready.uid, ready.version, ready.sample) == self._shown:
            return None
        if not self._urgent and self.clock() - self._last_key < STEPPING_QUIET_S:
            return None
        self._shown, self._urgent = (ready.uid, ready.version, ready.sample), False
        return ready.trace

    def move_sample(self, delta: int) -> None:
        run = self.run
        if run is None:
            return
        self.sample = (self.sample + delta) % max(1, run.val_samples)
        self._latest, self._urgent = None, True  # the new sample's trace shows the moment it comes
        self.watch()

    def watch(self) -> None:
        """Ask the focused run to trace the current sample (again after each new weights)."""
        self.client.send(p.Watch(self.sample, run=self.focus_run))

    # ------------------------------------------------------------ commands
    def send(self, command: p.Command) -> None:
        self.client.send(command)

    def toggle_training(self) -> None:
        snap = self.snap
        self.send(p.Pause() if snap is not None and snap.status == "running" else p.Start())

    def switch(self, **model) -> None:
        self._asked.update(model)
        self.send(p.Switch(model=model))
        self._urgent = True

    @property
    def model(self) -> dict:
        """The focused run's model as last asked for: a second key before the trainer has
        answered the first builds on the first."""
        return {**(self.run.model if self.run else {}), **self._asked}

    def switch_source(self, ref: str) -> None:
        self.sample = 0
        self.send(p.Switch(source={"scenario": ref}))
        self.watch()
        self._urgent = True

    def type_input(self, text: str) -> None:
        """Trace a typed sequence (every run, in compare mode) instead of a validation sample."""
        self.sample = p.INPUT_SAMPLE
        self._latest, self._urgent = None, True
        self.send(p.TraceInput(text))

    def ask(self, name: str, **params) -> None:
        """An experiment on the current weights: every run in compare mode, side by side."""
        self.results.pop(name, None)
        self.send(p.Experiment(name, params))

    def open_run(self, checkpoint: str, train: bool = False) -> None:
        """A past run's checkpoint, with its own data, model and history."""
        self.sample = 0
        self._asked.clear()
        self.send(p.Open(checkpoint, train=train))
        self.watch()
        self._urgent = True

    def generate(self) -> str | None:
        """Ask the focused run for text; None, or why it cannot."""
        run = self.run
        if run is None:
            return "the model is still loading"
        if run.kind != "next_token":
            self.generating = False
            return f"generation needs a text scenario; {run.scenario} is {run.kind}"
        self.send(p.Generate(self.temperature, run=self.focus_run))
        self.generating = True
        self._generated_at = self.last_evaluation_step()
        return None

    def last_evaluation_step(self) -> int:
        """The step of the focused run's last validation pass: new text is due after each.
        (Not the history's length: a long history is thinned, and its length stalls.)"""
        snap = self.snap
        return snap.history[-1].get("step", 0) if snap and snap.history else 0

    def restart_spec(self) -> dict:
        """What a new trainer (compare mode on or off) starts from: the focused run as it is."""
        run, snap = self.run, self.snap
        if run is None:
            return {}
        return {"source": run.source, "model": run.model, "train": snap.train if snap else run.train}

    # ------------------------------------------------------------ words
    def headline(self, playing: bool, speed: int) -> str:
        run = self.run
        if run is None:
            return "rnn-tui · starting the trainer…"
        m = run.model
        shape = f"{m['arch'].upper()} {m['layers']}×{m['hidden']}" + (" bi" if m.get("bidirectional") else "")
        runs = " vs ".join(label for label in COMPARE_ARCHS if label in self.info) if self.compare else ""
        play = f"▶ {speed}/s" if playing else "⏸ stepping"
        return (f"rnn-tui · {run.scenario} ({run.kind}) · {shape}{' · compare ' + runs if runs else ''}"
                f" · {self.sample_text} · {play}")

    @property
    def sample_text(self) -> str:
        run = self.run
        if self.sample == p.INPUT_SAMPLE:
            return "your input (n: samples)"
        return f"sample {self.sample + 1}/{run.val_samples if run else '?'}"

    def generation_hint(self) -> str:
        run = self.run
        if run is None:
            return ""
        if run.inspect_only:
            return f"generation needs a model trained here; this is {run.title}"
        if run.kind == "next_token":
            return "press g to sample text from the model; it samples again after each evaluation"
        return f"generation is for text scenarios; {run.scenario} is {run.kind}"
