"""The rnn-tui app: step through a sequence inside a network that is learning.

Data flows one way. The trainer (another process) publishes snapshots of its
training and, at most once a second, a `Trace` of the sample on screen with its
newest weights (latest wins); every panel draws from the current Trace and the
current step. Stepping only redraws: it never waits for training or for torch.

The first frame needs nothing but Textual: torch, the data and the trainer
load in a worker thread behind a "loading" line.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import var
from textual.widgets import Footer, Static

from rnn_tui.errors import UserError
from rnn_tui.ui.commands import RnnCommands
from rnn_tui.ui.help import HelpScreen
from rnn_tui.ui.pickers import ScenarioPicker
from rnn_tui.ui.session import Session
from rnn_tui.ui.widgets.gates import Gates
from rnn_tui.ui.widgets.gradients import Gradients
from rnn_tui.ui.widgets.heatmap import Heatmap
from rnn_tui.ui.widgets.sequence import Sequence
from rnn_tui.ui.widgets.training import TrainingPanel
from rnn_tui.ui.widgets.unrolled import Unrolled

MIN_WIDTH, MIN_HEIGHT = 80, 24
FULL_WIDTH, FULL_HEIGHT = 120, 36  # below this the diagram and the generation panel give way
ARCH_CYCLE = ("lstm", "gru", "rnn", "esn")
SPEEDS = (1, 2, 4, 8, 16, 32)  # steps per second while playing
# While the user steps by hand the trace holds still; it catches up with the newest
# weights once the keys have been quiet this long. Numbers do not shift under the
# eyes of someone reading a step a second, and keys do not land behind a redraw of
# every panel (at 0.3 s, one key in twenty at two keys a second did: 35-50 ms).
STEPPING_QUIET_S = 1.0
POLL_S = 0.1  # how often the trainer's pipes are read


class GatesScroll(VerticalScroll, can_focus=False):
    """Scrolls the gates panel by mouse wheel only: the keys step through time.

    A focusable scroll container would be focused at start-up and swallow Home/End.
    """


class RnnTuiApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "rnn-tui"
    COMMANDS = App.COMMANDS | {RnnCommands}
    BINDINGS = [
        Binding("left,h", "step(-1)", "step", key_display="←/h"),
        Binding("right,l", "step(1)", "step", key_display="→/l"),
        Binding("home", "jump('first')", "first", show=False),
        Binding("end", "jump('last')", "last", show=False),
        Binding("space", "play", "play"),
        Binding("plus,equals_sign", "speed(1)", "faster", show=False),
        Binding("minus", "speed(-1)", "slower", show=False),
        Binding("n", "sample(1)", "next sample", show=False),
        Binding("p", "sample(-1)", "prev sample", show=False),
        Binding("right_square_bracket", "unit(1)", "next unit", show=False),
        Binding("left_square_bracket", "unit(-1)", "prev unit", show=False),
        Binding("L", "layer", "layer", show=False),
        Binding("t", "toggle_training", "train ⏯"),
        Binding("r", "reset", "reset"),
        Binding("a", "cycle_arch", "arch"),
        Binding("s", "pick_scenario", "scenario"),
        Binding("c", "compare", "compare"),
        Binding("g", "generate", "generate"),
        Binding("e", "export", "export"),
        Binding("question_mark", "help", "help", key_display="?"),
        Binding("q", "quit", "quit"),
    ]

    # `var`, not `reactive`: a reactive on the App repaints the whole screen on every
    # change; the watchers below redraw just the panels that show the step.
    step: var[int] = var(0)
    unit: var[int] = var(0)
    track: var[int] = var(0)

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.trace = None
        self.playing = False
        self.speed_index = 2
        self._play_timer = None
        self._pending_trace = None  # a new trace held back while the user steps
        self._new_sample = False  # n/p chose another sample: its trace shows the moment it comes
        self._last_step_key = 0.0  # time.monotonic() of the last stepping key
        self.exit_message: str | None = None
        self.generating = False  # g was pressed: new text after each evaluation
        self._generated_at = -1  # step of the last evaluation when the text on screen was sampled

    # ------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Static("rnn-tui · loading torch, data and the trainer…", id="status")
        yield Static("", id="too-small")
        with Vertical(id="sequence-box"):
            yield Sequence(id="sequence")
        with Horizontal(id="middle"):
            with Vertical(id="left"):
                with Vertical(id="unrolled-box"):
                    yield Unrolled(id="unrolled")
                with Vertical(id="heatmap-box"):
                    yield Heatmap(id="heatmap")
            with Vertical(id="right"):
                with GatesScroll(id="gates-box"):
                    yield Gates(id="gates")
                with Vertical(id="grad-box"):
                    yield Gradients(id="gradients")
        with Horizontal(id="bottom"):
            yield TrainingPanel(id="training")
            yield Static("", id="generation")
        yield Footer()

    def on_mount(self) -> None:
        titles = {"#sequence-box": "Sequence", "#unrolled-box": "Unrolled through time",
                  "#heatmap-box": "Hidden state h  (units × time)", "#gates-box": "Gates at this step",
                  "#grad-box": "Gradient ‖∂L/∂h_t‖ (log)", "#training": "Training",
                  "#generation": "Generation"}
        # Widgets are kept by reference: while a modal screen is open, query_one would
        # search that screen, and training goes on underneath.
        self.w = {name: self.query_one(f"#{name}") for name in (
            "status", "too-small", "sequence", "unrolled", "heatmap", "gates", "gradients",
            "training", "generation", "heatmap-box")}
        for selector, title in titles.items():
            self.query_one(selector).border_title = title
        self._fit(self.size.width, self.size.height)
        # light/dark themes (ctrl+p → theme) switch the heatmap's neutral colour too
        self.theme_changed_signal.subscribe(self, lambda _theme: self._redraw(full=True))
        self.load_session()
        self.set_interval(POLL_S, self.poll_trainer)

    def on_resize(self, event) -> None:
        self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        if not hasattr(self, "w"):
            return
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        self.screen.set_class(small, "-too-small")
        self.screen.set_class(not small and (width < FULL_WIDTH or height < FULL_HEIGHT), "-compact")
        self.screen.set_class(width >= 160 and height >= 45, "-roomy")
        if small:
            self.w["too-small"].update(
                f"rnn-tui needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT}; this one is {width}×{height}.\n"
                "Make the window larger (or the font smaller). q quits."
            )

    # ------------------------------------------------------------ loading
    @work(thread=True, exclusive=True, group="load")
    def load_session(self) -> None:
        """Heavy imports and data in a thread: the first frame never waits for torch."""
        try:
            self.session.load()
        except Exception as err:  # a UserError or a trainer that cannot start
            self.call_from_thread(self._fail, str(err))
            return
        self.call_from_thread(self._loaded)

    def _fail(self, message: str) -> None:
        self.exit_message = message
        self.exit(return_code=2)

    def _loaded(self) -> None:
        # torch, the data and the widgets live as long as the app: moving them out of
        # the collector's reach keeps its full passes from stalling a frame for 100+ ms.
        if not gc.get_freeze_count():  # once: what a later scenario leaves behind may be garbage
            gc.collect()  # loading's own cyclic garbage is freed, not frozen
            gc.freeze()
        self.step = 0
        self._update_status()
        self.generating = False
        self._generated_at = -1
        text_task = self.session.data.kind == "next_token"
        self.w["generation"].update(
            "press g to sample text from the model; it samples again after each evaluation" if text_task
            else f"generation is for text scenarios; {self.session.scenario_name} is {self.session.data.kind}"
        )

    def poll_trainer(self) -> None:
        if not self.session.ready:
            return
        polled = self.session.poll()
        for text, severity in polled.messages:
            self.notify(text, severity=severity, timeout=6)
        if polled.changed:
            self.w["training"].update_runs(
                self.session.snaps, self.session.baseline, self.session.goal_text, self.session.focus_run
            )
            self._update_status()
            if self.generating and self.session.last_evaluation_step() != self._generated_at:
                self.action_generate()  # the text follows the model as it learns
        if polled.text is not None:
            self.w["generation"].update(polled.text)
        if polled.trace is not None:
            self._pending_trace = polled.trace  # the newest wins
        # While the user steps, the picture holds still: numbers do not shift under a
        # reader's eyes, and keys never queue behind a redraw of every panel. A trace of
        # another sample than the one on screen is what the user asked for: at once.
        if self._pending_trace is not None and (self.trace is None or self._new_sample or not self._stepping()):
            trace, self._pending_trace, self._new_sample = self._pending_trace, None, False
            self._show_trace(trace)

    def _stepping(self) -> bool:
        """A stepping key was pressed moments ago: new traces wait."""
        return time.monotonic() - self._last_step_key < STEPPING_QUIET_S

    def _show_trace(self, trace) -> None:
        self.trace = trace
        if self.step >= trace.steps:
            self.step = trace.steps - 1
        self.track = min(self.track, trace.layers * trace.directions - 1)
        self.unit = min(self.unit, trace.hidden - 1)
        self._redraw(full=True)

    @property
    def dark(self) -> bool:
        return self.current_theme.dark if self.current_theme else True

    def _redraw(self, full: bool = False) -> None:
        tr, s = self.trace, self.session
        if tr is None:
            return
        labels = s.labels(tr)
        self.w["sequence"].show(tr, labels, self.step, self.track, self.unit,
                                      s.class_names, s.vocab, self.dark)
        self.w["unrolled"].show(tr, labels, self.step)
        self.w["gates"].show(tr, self.step, self.track, self.unit, self.dark)
        self.w["gradients"].show(tr, self.step, self.track)
        heatmap = self.w["heatmap"]
        if full:
            heatmap.set_values(tr.h[:, self.track], self.dark)
        heatmap.step, heatmap.unit = self.step, self.unit
        direction = " ←" if tr.directions == 2 and self.track % 2 else ""
        title = f"Hidden state h, layer {self.track // tr.directions + 1}{direction}  (units × time)"
        if self.w["heatmap-box"].border_title != title:  # setting it, even unchanged, repaints the box
            self.w["heatmap-box"].border_title = title

    def watch_step(self) -> None:
        self._redraw()

    def watch_unit(self) -> None:
        self._redraw()

    def watch_track(self) -> None:
        self._redraw(full=True)

    def _update_status(self) -> None:
        self.w["status"].update(self.session.headline(self.playing, SPEEDS[self.speed_index]), layout=False)

    # ------------------------------------------------------------ stepping
    def _last_step(self) -> int:
        return (self.trace.steps - 1) if self.trace else 0

    def action_step(self, delta: int) -> None:
        self._last_step_key = time.monotonic()
        self.step = max(0, min(self._last_step(), self.step + delta))

    def action_jump(self, where: str) -> None:
        self._last_step_key = time.monotonic()
        self.step = 0 if where == "first" else self._last_step()

    def action_play(self) -> None:
        self.playing = not self.playing
        if self._play_timer is not None:
            self._play_timer.stop()
            self._play_timer = None
        if self.playing:
            self._play_timer = self.set_interval(1 / SPEEDS[self.speed_index], self._advance)
        self._update_status()

    def _advance(self) -> None:
        self.step = 0 if self.step >= self._last_step() else self.step + 1

    def action_speed(self, delta: int) -> None:
        self.speed_index = max(0, min(len(SPEEDS) - 1, self.speed_index + delta))
        if self.playing:  # restart the timer at the new speed
            self.action_play()
            self.action_play()
        self._update_status()

    def action_sample(self, delta: int) -> None:
        if self.session.ready:
            self.session.move_sample(delta)
            self.step, self._pending_trace, self._new_sample = 0, None, True
            self._update_status()

    def action_unit(self, delta: int) -> None:
        if self.trace is not None:
            self.unit = (self.unit + delta) % self.trace.hidden

    def action_layer(self) -> None:
        if self.trace is not None:
            self.track = (self.track + 1) % (self.trace.layers * self.trace.directions)

    @on(Sequence.StepClicked)
    @on(Heatmap.StepClicked)
    def _clicked_step(self, message) -> None:
        self._last_step_key = time.monotonic()  # clicking through steps holds the trace too
        self.step = max(0, min(self._last_step(), message.step))

    @on(Heatmap.UnitSelected)
    def _clicked_unit(self, message: Heatmap.UnitSelected) -> None:
        self.unit = message.unit

    # ------------------------------------------------------------ training
    def action_toggle_training(self) -> None:
        if self.session.ready:
            self.session.toggle_training()

    def action_reset(self) -> None:
        if self.session.ready:
            self.session.command("reset")
            self.notify("weights reset from the seed")

    def action_cycle_arch(self) -> None:
        if not self.session.ready:
            return
        current = self.session.model.get("arch", "lstm")
        arch = ARCH_CYCLE[(ARCH_CYCLE.index(current) + 1) % len(ARCH_CYCLE)] if current in ARCH_CYCLE else "lstm"
        self.set_model(arch=arch)

    def set_model(self, **changes) -> None:
        self.session.switch(**changes)
        self.trace, self._pending_trace = None, None
        self.notify(", ".join(f"{k} → {v}" for k, v in changes.items()))
        self._update_status()

    def set_training(self, **changes) -> None:
        if self.session.ready:
            self.session.command("set", **changes)
            self.notify(", ".join(f"{k} → {v}" for k, v in changes.items()))

    def action_pick_scenario(self) -> None:
        if not self.session.ready:
            return

        def chosen(source: dict | None) -> None:
            if source:
                self.session.forget_traces()  # here, before a poll could show one from the old data
                self.trace, self._pending_trace, self.step = None, None, 0
                self.switch_scenario(source)

        self.push_screen(ScenarioPicker(self.session.scenario_choices()), chosen)

    @work(thread=True, exclusive=True, group="load")
    def switch_scenario(self, source: dict) -> None:
        try:
            self.session.switch_source(source)
        except Exception as err:
            self.call_from_thread(self.notify, str(err), severity="error")
            self.session.watch()  # the scenario stays: its picture comes back
            return
        self.call_from_thread(self._loaded)

    def action_compare(self) -> None:
        if self.session.ready:
            on_now = self.session.toggle_compare()
            self.notify("compare mode: rnn, lstm and gru on the same data" if on_now else "compare mode off")

    def action_generate(self) -> None:
        if not self.session.ready:
            return
        try:
            self.session.generate()
        except UserError as err:
            self.generating = False
            self.notify(str(err), severity="warning")
            return
        if not self.generating and self.screen.has_class("-compact"):  # the key, not a repeat after an evaluation
            self.notify(f"the Generation panel needs a terminal of at least {FULL_WIDTH}×{FULL_HEIGHT}; this one is "
                        f"{self.size.width}×{self.size.height}", severity="warning")
        self.generating = True
        self._generated_at = self.session.last_evaluation_step()

    def set_temperature(self, temperature: float) -> None:
        self.session.temperature = temperature
        self.notify(f"temperature → {temperature:g}")
        if self.generating:
            self.action_generate()

    def action_export(self) -> None:
        if self.trace is None:
            self.notify("nothing to export yet", severity="warning")
            return
        stem = f"rnn-tui-{self.session.scenario_name}-{time.strftime('%Y%m%d-%H%M%S')}"
        npz = Path(f"{stem}.npz")
        self.trace.save(npz)
        svg = self.save_screenshot(f"{stem}.svg", path=".")
        self.notify(f"exported {npz} and {Path(svg).name}")

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        self.session.close()
        self.exit()
