"""What the app is looking at: the scenario, its data, the trainer and what it sends.

No Textual here: the app calls these methods and draws what they return.
`load()` and `switch_source()` are slow (torch, data) and run in worker threads;
the rest is quick and runs on the event loop. Traces and generated text are
computed in the trainer's process and arrive through `poll()`: while the app
shows them, its own process runs no model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rnn_tui.errors import UserError

COMPARE_ARCHS = ["rnn", "lstm", "gru"]


@dataclass
class AppOptions:
    """What the command line asked for (parsed, not yet checked: checking needs torch)."""

    args: object  # the argparse namespace of `rnn-tui [options]`
    runs_dir: str | None = "runs"
    save_on_quit: bool = True
    client_factory: object = None  # TrainerClient, or a fake in tests
    extra: dict = field(default_factory=dict)


@dataclass
class Polled:
    """What one look at the trainer found."""

    changed: bool = False  # a new snapshot: the training panel and status line
    trace: object = None  # a new Trace of the current sample, or None
    text: str | None = None  # newly generated text
    messages: list[tuple[str, str]] = field(default_factory=list)  # (message, severity)


def input_label(row) -> str:
    """A vector input, short: its value, with ◆ for a set flag (the adding problem's marker)."""
    if len(row) == 1:
        return f"{row[0]:+.2f}"
    if len(row) == 2 and row[1] in (0.0, 1.0):
        return f"{row[0]:.2f}" + ("◆" if row[1] else "")
    return "|".join(f"{v:.1f}" for v in row[:3])


class Session:
    def __init__(self, options: AppOptions):
        self.options = options
        self.ready = False
        self.client = None
        self.snaps: dict = {}  # run label -> latest Snapshot
        self.focus_run = "main"
        self.sample_index = 0
        self.compare = False
        self.temperature: float | None = None  # None: the scenario's
        self._traces: dict = {}  # run label -> the latest TraceReady
        self._shown = None  # the serial of the trace last handed to the app
        # Grows at every switch of model, data or trainer: a trace made before it (still
        # in a pipe, or traced just before the trainer read the switch) is never shown.
        self.epoch = 0

    # ------------------------------------------------------------ loading (thread)
    def load(self) -> None:
        import torch

        from rnn_tui.cli import resolve

        # The app's torch work is checking options and checkpoints at start; whatever
        # else comes, a second thread would only spin against the trainer for its core.
        torch.set_num_threads(1)
        scenario, source, model, train, payload = resolve(self.options.args)
        self._adopt(scenario, source, model, train)
        self._start_client(payload)
        self.ready = True

    def _adopt(self, scenario, source: dict, model, train) -> None:
        from dataclasses import asdict

        from rnn_tui.core import tasks

        data = scenario.build_data(train.seed)
        self.scenario, self.source, self.data = scenario, source, data
        self.model, self.train = asdict(model), asdict(train)
        self.baseline = tasks.baseline(data)
        self.sample_index = 0
        solved = scenario.solved
        self.goal_text = f"{solved.metric} {solved.direction} {solved.goal:g}"

    def _start_client(self, payload) -> None:
        from rnn_tui.training.worker import TrainerClient

        factory = self.options.client_factory or TrainerClient
        compare = COMPARE_ARCHS if self.compare else None
        self.client = factory(self.source, self.model, self.train, runs_dir=self.options.runs_dir,
                              compare=compare, save_on_quit=self.options.save_on_quit)
        self.client.start()
        if payload is not None and self.options.args.checkpoint:
            self.client.send("load", path=str(self.options.args.checkpoint))
        self.client.send("start")
        self.snaps, self.focus_run = {}, ("lstm" if self.compare else "main")
        self.forget_traces()
        self.watch()

    # ------------------------------------------------------------ trainer
    def poll(self) -> Polled:
        """What the trainer said since the last poll."""
        from rnn_tui.training.protocol import Generated, Notice, Snapshot, TraceReady, TrainerError

        out = Polled()
        for msg in self.client.poll():
            if isinstance(msg, Snapshot):
                self.snaps[msg.run] = msg
                out.changed = True
            elif isinstance(msg, TraceReady):
                self._traces[msg.run] = msg
            elif isinstance(msg, Generated) and msg.run == self.focus_run:
                out.text = (f"temperature {msg.temperature:g} · step {msg.step:,} · again at each evaluation\n"
                            f"{msg.text}")
            elif isinstance(msg, TrainerError):
                out.messages.append((f"trainer ({msg.run}): {msg.reason}", "error"))
            elif isinstance(msg, Notice):
                out.messages.append((msg.text, "information"))
        if out.changed and self.focus_run not in self.snaps:
            self.focus_run = next(iter(self.snaps))
            self.watch()
        ready = self._traces.get(self.focus_run)
        if (ready is not None and ready.epoch == self.epoch and ready.sample == self.sample_index
                and ready.serial != self._shown):
            self._shown = ready.serial
            out.trace = ready.trace
        return out
    def command(self, name: str, **args) -> None:
        self.client.send(name, **args)

    def toggle_training(self) -> None:
        snap = self.snaps.get(self.focus_run)
        self.command("pause" if snap is None or snap.status == "running" else "resume")

    def switch(self, **model_changes) -> None:
        self.model = {**self.model, **model_changes}
        self.forget_traces()
        self.command("switch", **model_changes)
        self.snaps = {}
        self.watch()  # the new model's picture, or the old one's again if the switch is refused

    def switch_source(self, source: dict) -> None:
        from rnn_tui.data.source import Source

        scenario = Source.from_dict(source).load()
        self._adopt(scenario, Source.from_dict(source).to_dict(), scenario.model, scenario.train)
        self.command("switch", source=self.source)
        self.snaps = {}
        self.watch()

    def toggle_compare(self) -> bool:
        self.client.close()
        self.compare = not self.compare
        self._start_client(None)
        return self.compare

    def close(self) -> None:
        if self.client is not None:
            self.client.close()

    # ------------------------------------------------------------ what to show
    @property
    def scenario_name(self) -> str:
        return self.scenario.name if self.ready else "…"

    @property
    def vocab(self):
        return self.data.vocab if self.ready else None

    @property
    def class_names(self):
        return self.data.class_names if self.ready else None

    def headline(self, playing: bool, speed: int) -> str:
        if not self.ready:
            return "rnn-tui · loading torch, data and the trainer…"
        m = self.snaps.get(self.focus_run)
        model = m.model if m else self.model
        shape = f"{model['arch'].upper()} {model['layers']}×{model['hidden']}"
        if model.get("bidirectional"):
            shape += " bi"
        runs = " vs ".join(self.snaps) if self.compare and self.snaps else ""
        play = f"▶ {speed}/s" if playing else "⏸ stepping"
        return (f"rnn-tui · {self.scenario.name} ({self.data.kind}) · {shape}"
                f"{' · compare ' + runs if runs else ''} · sample {self.sample_index + 1}/{len(self.data.val)} · {play}")

    def labels(self, trace) -> list[str]:
        from rnn_tui.ui.widgets.sequence import token_label

        if trace.tokens is not None and self.data.vocab is not None:
            return [token_label(self.data.vocab[int(t)]) for t in trace.tokens]
        if trace.inputs is not None:
            return [input_label(row) for row in trace.inputs]
        return [str(t) for t in range(trace.steps)]

    def move_sample(self, delta: int) -> None:
        self.sample_index = (self.sample_index + delta) % len(self.data.val)
        self.watch()

    def scenario_choices(self) -> list:
        from rnn_tui.data.scenario import list_scenarios

        return list_scenarios()

    # ------------------------------------------------------------ traces and text
    def watch(self) -> None:
        """Ask the focused run to trace the current sample (again after each new weights)."""
        self.command("watch", run=self.focus_run, sample=self.sample_index, epoch=self.epoch)

    def forget_traces(self) -> None:
        """What the trainer traced so far no longer fits what the app will show."""
        self.epoch += 1
        self._traces = {}

    def generate(self) -> None:
        """Ask the focused run for text; it arrives through `poll`."""
        if self.data.kind != "next_token":
            raise UserError(f"generation needs a text scenario; {self.scenario.name} is {self.data.kind}")
        args = {} if self.temperature is None else {"temperature": self.temperature}
        self.command("generate", run=self.focus_run, **args)

    def last_evaluation_step(self) -> int:
        """The step of the focused run's last validation pass: new text is due after each.
        (Not the history's length: a long history is thinned, and its length stalls.)"""
        snap = self.snaps.get(self.focus_run)
        return snap.history[-1].get("step", 0) if snap and snap.history else 0
