"""What the app is looking at: the scenario, its data, the trainer and the latest weights.

No Textual here: the app calls these methods and draws what they return.
`load()`, `trace()`, `switch_source()` and `generate()` are slow (torch) and run in
worker threads; the rest is quick and runs on the event loop.
"""

from __future__ import annotations

import threading
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
        self._lock = threading.Lock()  # model + weights: touched by trace and generate threads
        self._model = None
        self._model_key = None
        self._weights_seen = None

    # ------------------------------------------------------------ loading (thread)
    def load(self) -> None:
        import torch

        from rnn_tui.cli import resolve

        # The app's own torch work is one short sequence at a time; a second thread
        # only spins against the trainer process for the other core and stalls the UI.
        torch.set_num_threads(1)
        scenario, source, model, train, payload = resolve(self.options.args)
        self._adopt(scenario, source, model, train)
        self._start_client(payload)
        self.ready = True

    def _adopt(self, scenario, source: dict, model, train) -> None:
        from dataclasses import asdict

        from rnn_tui.core import tasks

        data = scenario.build_data(train.seed)
        with self._lock:
            self.scenario, self.source, self.data = scenario, source, data
            self.model, self.train = asdict(model), asdict(train)
            self.baseline = tasks.baseline(data)
            self._model, self._model_key, self._weights_seen = None, None, None
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

    # ------------------------------------------------------------ trainer
    def poll(self) -> tuple[bool, list[tuple[str, str]]]:
        """(a new snapshot arrived, [(message, severity)])."""
        from rnn_tui.training.protocol import Notice, Snapshot, TrainerError

        changed, messages = False, []
        for msg in self.client.poll():
            if isinstance(msg, Snapshot):
                self.snaps[msg.run] = msg
                changed = True
            elif isinstance(msg, TrainerError):
                messages.append((f"trainer ({msg.run}): {msg.reason}", "error"))
            elif isinstance(msg, Notice):
                messages.append((msg.text, "information"))
        if changed and self.focus_run not in self.snaps:
            self.focus_run = next(iter(self.snaps))
        return changed, messages

    def command(self, name: str, **args) -> None:
        self.client.send(name, **args)

    def toggle_training(self) -> None:
        snap = self.snaps.get(self.focus_run)
        self.command("pause" if snap is None or snap.status == "running" else "resume")

    def switch(self, **model_changes) -> None:
        self.model = {**self.model, **model_changes}
        self.command("switch", **model_changes)
        self.snaps = {}

    def switch_source(self, source: dict) -> None:
        from rnn_tui.data.source import Source

        scenario = Source.from_dict(source).load()
        self._adopt(scenario, Source.from_dict(source).to_dict(), scenario.model, scenario.train)
        self.command("switch", source=self.source)
        self.snaps = {}

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

    def scenario_choices(self) -> list:
        from rnn_tui.data.scenario import list_scenarios

        return list_scenarios()

    # ------------------------------------------------------------ torch (threads)
    def _current_model(self):
        """The SequenceModel holding the focused run's latest weights, or None yet."""
        from rnn_tui.core.config import ModelConfig, from_dict
        from rnn_tui.core.model import SequenceModel

        snap = self.snaps.get(self.focus_run)
        if snap is None:
            return None
        key = tuple(sorted(snap.model.items()))
        if key != self._model_key:
            config = from_dict(ModelConfig, snap.model, "snapshot")
            d = self.data
            self._model = SequenceModel(config, d.kind, d.input_size, d.output_size, d.tokens_in).eval()
            self._model_key, self._weights_seen = key, None
        if self._weights_seen is not snap.weights:
            self._model.load_state_dict(snap.weights)
            self._weights_seen = snap.weights
        return self._model

    def trace(self):
        from rnn_tui.core.trace import trace_sequence

        with self._lock:
            model = self._current_model()
            if model is None:
                return None
            split, i = self.data.val, self.sample_index
            dec = None if split.dec_in is None else split.dec_in[i]
            return trace_sequence(model, split.x[i], split.y[i], dec)

    def generate(self) -> str:
        from rnn_tui.core.generate import sample_text

        if self.data.kind != "next_token":
            raise UserError(f"generation needs a text scenario; {self.scenario.name} is {self.data.kind}")
        settings = self.scenario.sample
        with self._lock:
            model = self._current_model()
            if model is None:
                raise UserError("no weights yet: wait for the first snapshot")
            temp = self.temperature if self.temperature is not None else settings.get("temperature", 0.8)
            text = sample_text(model, self.data.vocab, settings.get("prompt", "\n"),
                               settings.get("length", 200), temp, self.data.joiner,
                               seed=self.snaps[self.focus_run].step)
        return f"temperature {temp:g} · step {self.snaps[self.focus_run].step:,} · again at each evaluation\n{text}"

    def last_evaluation_step(self) -> int:
        """The step of the focused run's last validation pass: new text is due after each.
        (Not the history's length: a long history is thinned, and its length stalls.)"""
        snap = self.snaps.get(self.focus_run)
        return snap.history[-1].get("step", 0) if snap and snap.history else 0
