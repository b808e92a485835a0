"""The one screen: every panel bound to the trace, step, layer and unit it shows.

`MainScreen` owns what is shown (reactive trace, step, track, unit, pushed into every
panel with data_bind), the key bindings (the single source of the key table in help,
palette and README) and the layout classes for each terminal size and zoom. Which
trace may be shown is `ViewState`'s call; the screen draws what it decides.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import Static

from rnn_tui.core.trace_file import Trace
from rnn_tui.training import protocol as p
from rnn_tui.ui.experiment_keys import ExperimentKeys
from rnn_tui.ui.view_state import ViewState
from rnn_tui.ui.widgets.box import BorderBox, BorderText
from rnn_tui.ui.widgets.footer import Footer
from rnn_tui.ui.widgets.gates import Gates
from rnn_tui.ui.widgets.gradients import Gradients
from rnn_tui.ui.widgets.heatmap import Heatmap
from rnn_tui.ui.widgets.sequence import Sequence
from rnn_tui.ui.widgets.training import TrainingPanel
from rnn_tui.ui.widgets.unrolled import Unrolled

if TYPE_CHECKING:
    from rnn_tui.training.runs_index import RunRecord
    from rnn_tui.ui.runs_screen import RunsChoice

# The help, the pickers, the runs list and the lesson panel are imported when first
# opened: the first frame does not wait for them (Markdown alone is ~30 ms).

MIN_WIDTH, MIN_HEIGHT = 80, 24
FULL_WIDTH, FULL_HEIGHT = 120, 36  # below this the generation panel and the loss chart give way
SHORT_HEIGHT = 45  # below this the overview leaves the diagram to its zoom key (1): the hidden state needs rows
ARCH_CYCLE = ("lstm", "gru", "rnn", "esn")
SPEEDS = (1, 2, 4, 8, 16, 32)  # steps per second while playing
TITLES = {"#sequence-box": "Sequence", "#unrolled-box": "1 Unrolled through time",
          "#heatmap-box": "3 Hidden state h  (units × time)", "#gates-box": "2 Gates at this step",
          "#grad-box": "4 Gradient ‖∂L/∂h_t‖ (log)", "#training": "5 Training", "#generation": "6 Generation"}
# The panels a zoom key gives the screen to (the sequence and the status line stay).
ZOOMS = ("unrolled", "gates", "heatmap", "grad", "training", "generation")
ZOOM_NAMES = {"unrolled": "the unrolled diagram", "gates": "every gate", "heatmap": "the hidden state",
              "grad": "the gradient", "training": "training and the loss chart", "generation": "generated text"}


class GatesScroll(BorderText, VerticalScroll, can_focus=False):
    """Scrolls the gates panel by mouse wheel only: the keys step through time.

    A focusable scroll container would be focused at start-up and swallow Home/End.
    """

    def render_lines(self, crop):
        # The note on the lines out of sight is said before the border is drawn: after a
        # resize the panel's own Resize event comes after the first frame at the new size,
        # which would show the old size's note until the frame after.
        for gates in self.query_children(Gates):
            gates.say_what_is_below()
        return super().render_lines(crop)


class MainScreen(ExperimentKeys, Screen):
    """The one screen: every panel bound to the trace, step, layer and unit shown."""

    BINDINGS = [
        Binding("left,h", "step(-1)", "step", key_display="←/h", id="step-back",
                tooltip="previous step"),
        Binding("right,l", "step(1)", "step", key_display="→/l", id="step-forward", tooltip="next step"),
        Binding("home", "jump('first')", "first", show=False, id="first", tooltip="first step"),
        Binding("end", "jump('last')", "last", show=False, id="last", tooltip="last step"),
        Binding("space", "play", "play", id="play", tooltip="play / pause stepping"),
        Binding("plus,equals_sign", "speed(1)", "faster", show=False, key_display="+", id="faster",
                tooltip="play faster"),
        Binding("minus", "speed(-1)", "slower", show=False, key_display="−", id="slower", tooltip="play slower"),
        Binding("n", "sample(1)", "next sample", show=False, id="next-sample", tooltip="next validation sample"),
        Binding("p", "sample(-1)", "prev sample", show=False, id="prev-sample",
                tooltip="previous validation sample"),
        Binding("right_square_bracket", "unit(1)", "next unit", show=False, key_display="]", id="next-unit",
                tooltip="next hidden unit"),
        Binding("left_square_bracket", "unit(-1)", "prev unit", show=False, key_display="[", id="prev-unit",
                tooltip="previous hidden unit"),
        Binding("L", "layer", "layer", show=False, id="layer", tooltip="next layer / direction"),
        Binding("z", "zoom_next", "zoom", id="zoom", tooltip="zoom: give the next panel the whole screen"),
        *[Binding(str(n), f"zoom('{panel}')", panel, show=False, id=f"zoom-{panel}",
                  tooltip=f"zoom: {ZOOM_NAMES[panel]} (again: all panels)") for n, panel in enumerate(ZOOMS, 1)],
        Binding("0,escape", "zoom('')", "all", show=False, key_display="0/esc", id="overview",
                tooltip="all panels again"),
        Binding("t", "toggle_training", "train ⏯", id="train", tooltip="pause / resume training"),
        Binding("r", "reset", "reset", id="reset", tooltip="reset the weights (the trained ones are saved first)"),
        Binding("a", "cycle_arch", "arch", id="arch", tooltip="cycle the architecture: lstm, gru, rnn, esn"),
        Binding("s", "pick_scenario", "scenario", id="scenario", tooltip="pick a scenario"),
        Binding("c", "compare", "compare", id="compare", tooltip="compare RNN, LSTM and GRU on the same data"),
        Binding("i", "type_input", "input", id="input",
                tooltip="type your own input: a sentence, brackets, text or numbers; traced at once"),
        Binding("w", "what_if", "what if", id="what-if",
                tooltip="what if the input at this step were different: how far does the change reach?"),
        Binding("x", "spectrum", "spectrum", show=False, id="spectrum",
                tooltip="the recurrent matrix's eigenvalues and singular values, and what they do to gradients"),
        Binding("u", "find_unit", "find unit", show=False, id="find-unit",
                tooltip="find the hidden unit that follows a rule (bracket depth, position, ...) and tint the text"),
        Binding("o", "runs", "runs", id="runs",
                tooltip="your runs: open or resume one, overlay past curves, delete"),
        Binding("g", "generate", "generate", id="generate", tooltip="generate text (text scenarios)"),
        Binding("e", "export", "export", id="export", tooltip="export the trace (.npz) and a screenshot (.svg)"),
        Binding("b", "lesson", "lesson", id="lesson",
                tooltip="show / hide the lesson: what to press, what to look at, live checks (rnn-tui lessons)"),
        Binding("question_mark", "help", "help", key_display="?", id="help",
                tooltip="help: panels, equations, what to try"),
        Binding("q", "quit", "quit", id="quit", tooltip="quit (saves a checkpoint and says where)"),
    ]

    trace: var[Trace | None] = var(None, init=False)  # the trace on screen
    step: var[int] = var(0, init=False)  # the current time step of it
    track: var[int] = var(0, init=False)  # which layer and direction: layer * directions + direction
    unit: var[int] = var(0, init=False)  # the selected hidden unit
    playing: var[bool] = var(False, init=False)  # stepping on its own, SPEEDS[speed_index] a second
    zoom: var[str] = var("", init=False)  # the panel that has the screen ("": all of them), one of ZOOMS
    speed_index: var[int] = var(2, init=False)

    def __init__(self, view: ViewState) -> None:
        super().__init__()
        self.view = view
        self._play_timer = None
        self.status: Static | None = None  # the headline; it and the panels below are set at mount
        self.training: TrainingPanel | None = None
        self.generation: Static | None = None
        self.heatmap_box: BorderBox | None = None
        self.too_small: Static | None = None
        self.bottom: Horizontal | None = None
        self.unrolled_box: Vertical | None = None
        self.sized: list = []  # the boxes the -compact class sits on

    # ------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        bound = (MainScreen.trace, MainScreen.step, MainScreen.track, MainScreen.unit)
        yield Static("rnn-tui · starting the trainer…", id="status")
        yield Static("", id="too-small")
        with Vertical(id="sequence-box"):
            yield Sequence(id="sequence").data_bind(*bound)
        with Horizontal(id="middle"):
            with Vertical(id="left"):
                with Vertical(id="unrolled-box"):
                    yield Unrolled(id="unrolled").data_bind(*bound)
                with BorderBox(id="heatmap-box"):
                    yield Heatmap(id="heatmap").data_bind(*bound)
            with Vertical(id="right"):
                with GatesScroll(id="gates-box"):
                    yield Gates(id="gates").data_bind(*bound)
                with Vertical(id="grad-box"):
                    yield Gradients(id="gradients").data_bind(*bound)
        with Horizontal(id="bottom"):
            yield TrainingPanel(id="training")
            yield Static("", id="generation")
        yield Footer()

    def on_mount(self) -> None:
        for selector, title in TITLES.items():
            self.query_one(selector).border_title = title
        # Kept by reference: a query while the app shuts down would find nothing.
        self.status = self.query_one("#status", Static)
        self.training = self.query_one(TrainingPanel)
        self.generation = self.query_one("#generation", Static)
        self.heatmap_box = self.query_one("#heatmap-box", BorderBox)
        self.too_small = self.query_one("#too-small", Static)
        self.bottom = self.query_one("#bottom", Horizontal)
        self.unrolled_box = self.query_one("#unrolled-box", Vertical)
        self.sized = [self.query_one("#sequence-box"), self.query_one("#middle"), self.bottom]
        self._fit(self.size.width, self.size.height)
        if getattr(self.app, "lesson", None) is not None:  # rnn-tui --lesson N: shown from the start
            self.action_lesson()

    def on_resize(self, event) -> None:
        self._fit(event.size.width, event.size.height)

    def _fit(self, width: int, height: int) -> None:
        if self.too_small is None:  # a resize before the mount: on_mount fits
            return
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        self.set_class(small, "-too-small")
        # The size classes sit on the boxes they change (see app.tcss): a class on the
        # Screen restyles every widget, which was most of a resize's own work.
        compact = not small and (width < FULL_WIDTH or height < FULL_HEIGHT)
        for box in self.sized:
            box.set_class(compact, "-compact")
        self.bottom.set_class(width >= 160 and height >= 45, "-roomy")
        self.unrolled_box.set_class(height < SHORT_HEIGHT, "-short")
        if small:
            self.too_small.update(
                f"rnn-tui needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT}; this one is {width}×{height}.\n"
                "Make the window larger (or the font smaller). q quits."
            )

    # ------------------------------------------------------------ what arrives
    def show_update(self, update) -> None:
        """Draw what one poll of the trainer changed (the app reads, the screen shows)."""
        view = self.view
        for text, severity in update.messages:
            self.notify(text, severity=severity, timeout=8 if severity == "error" else 4)
        if update.info:
            self.generation.update(view.generation_hint())
            if view.run is not None and view.run.inspect_only:
                self.training.inspect_only(view.run.title)
            self.set_class(view.run is not None and view.run.kind == "forecast", "-forecast")
            self.update_status()
        if update.training and view.snaps:
            run = view.run
            self.training.update_runs(view.snaps, run.baseline if run else None,
                                      run.goal_text if run else "", view.focus_run, infos=view.info)
            self.update_status()
        if update.text is not None:
            self.generation.update(update.text)
        if update.experiment:
            self.show_experiment(update.experiment)
        trace = view.trace_to_show()
        if trace is not None:
            self.show_trace(trace)

    def show_trace(self, trace: Trace) -> None:
        # Clamp first: the bound panels must never see a step past the new trace's end.
        self.step = min(self.step, trace.steps - 1)
        self.track = min(self.track, trace.layers * trace.directions - 1)
        self.unit = min(self.unit, trace.hidden - 1)
        self.trace = trace
        direction = " ←" if trace.directions == 2 and self.track % 2 else ""
        self.heatmap_box.set_border_text(
            f"3 Hidden state h, layer {self.track // trace.directions + 1}{direction}  (units × time)", top=True)

    def watch_track(self) -> None:
        if self.trace is not None:
            self.show_trace(self.trace)

    # ------------------------------------------------------------ zoom
    def action_zoom(self, panel: str) -> None:
        self.zoom = "" if self.zoom == panel else panel

    def action_zoom_next(self) -> None:
        order = ("",) + ZOOMS
        self.zoom = order[(order.index(self.zoom) + 1) % len(order)]

    def watch_zoom(self, old: str, new: str) -> None:
        if old:
            self.remove_class(f"-zoom-{old}")
        self.set_class(bool(new), "-zoomed")
        if new:
            self.add_class(f"-zoom-{new}")
        self.update_status()

    def update_status(self) -> None:
        if self.status is None:
            return
        zoom = f" · zoom {ZOOMS.index(self.zoom) + 1} (0: all)" if self.zoom else ""
        self.status.update(self.view.headline(self.playing, SPEEDS[self.speed_index]) + zoom, layout=False)

    def watch_playing(self) -> None:
        self.update_status()

    def watch_speed_index(self) -> None:
        self.update_status()

    # ------------------------------------------------------------ stepping
    def _last_step(self) -> int:
        return (self.trace.steps - 1) if self.trace else 0

    def action_step(self, delta: int) -> None:
        self.view.key_pressed()
        self.step = max(0, min(self._last_step(), self.step + delta))

    def action_jump(self, where: str) -> None:
        self.view.key_pressed()
        self.step = 0 if where == "first" else self._last_step()

    def action_play(self) -> None:
        self.playing = not self.playing
        self._restart_play_timer()

    def _restart_play_timer(self) -> None:
        if self._play_timer is not None:
            self._play_timer.stop()
            self._play_timer = None
        if self.playing:
            self._play_timer = self.set_interval(1 / SPEEDS[self.speed_index], self._advance)

    def _advance(self) -> None:
        self.step = 0 if self.step >= self._last_step() else self.step + 1

    def action_speed(self, delta: int) -> None:
        self.speed_index = max(0, min(len(SPEEDS) - 1, self.speed_index + delta))
        self._restart_play_timer()

    def action_sample(self, delta: int) -> None:
        if self.view.ready:
            self.view.move_sample(delta)
            self.step = 0
            self.update_status()

    def action_unit(self, delta: int) -> None:
        if self.trace is not None:
            self.unit = (self.unit + delta) % self.trace.hidden

    def action_layer(self) -> None:
        if self.trace is None:
            return
        tracks = self.trace.layers * self.trace.directions
        if tracks == 1:
            self.notify("one layer, one direction: nothing else to show (--layers 2 or --bidirectional add more)",
                        severity="warning", timeout=4)
            return
        self.track = (self.track + 1) % tracks

    @on(Sequence.StepClicked)
    @on(Heatmap.StepClicked)
    def _clicked_step(self, message) -> None:
        self.view.key_pressed()  # clicking through steps holds the trace too
        self.step = max(0, min(self._last_step(), message.step))

    @on(Heatmap.UnitSelected)
    def _clicked_unit(self, message: Heatmap.UnitSelected) -> None:
        self.unit = message.unit

    # ------------------------------------------------------------ training
    def _inspect_only(self) -> bool:
        """A saved trace or your own weights: say that nothing trains here."""
        if self.view.ready and self.view.run.inspect_only:
            self.notify(f"nothing trains here: this is {self.view.run.title}", severity="warning")
            return True
        return False

    def action_toggle_training(self) -> None:
        if self.view.ready and not self._inspect_only():
            self.view.toggle_training()

    def action_reset(self) -> None:
        if self.view.ready and not self._inspect_only():
            self.view.send(p.Reset())
            self.notify("weights reset from the seed (the trained ones are saved first)")

    def action_cycle_arch(self) -> None:
        if not self.view.ready or self.view.compare:
            if self.view.compare:
                self.notify("compare mode trains rnn, lstm and gru already; c leaves it", severity="warning")
            return
        current = self.view.model.get("arch", "lstm")
        arch = ARCH_CYCLE[(ARCH_CYCLE.index(current) + 1) % len(ARCH_CYCLE)] if current in ARCH_CYCLE else "lstm"
        self.set_model(arch=arch)

    def set_model(self, **changes) -> None:
        if not self.view.ready:
            return
        self.view.switch(**changes)
        self.notify(", ".join(f"{k} → {v}" for k, v in changes.items()) + " (the trained weights are saved first)")

    def set_training(self, **changes) -> None:
        if self.view.ready:
            self.view.send(p.Set(changes))
            self.notify(", ".join(f"{k} → {v}" for k, v in changes.items()))

    def action_pick_scenario(self) -> None:
        if not self.view.catalog:
            self.notify("the scenario list has not arrived from the trainer yet", severity="warning")
            return

        def chosen(ref: str | None) -> None:
            if ref:
                self.step = 0
                self.view.switch_source(ref)
                self.notify(f"loading {ref}… (the trained weights are saved first)")

        from rnn_tui.ui.pickers import ScenarioPicker

        self.app.push_screen(ScenarioPicker(self.view.catalog), chosen)

    def action_compare(self) -> None:
        if self.view.ready and self.view.run.inspect_only:
            self.notify("compare mode trains three fresh models; this is a model shown as it is",
                        severity="warning")
            return
        self.app.toggle_compare()

    def action_runs(self) -> None:
        run = self.view.run

        def chosen(choice: RunsChoice | None) -> None:
            if choice is None:
                return
            if choice.action == "overlay":
                self.overlay(choice.runs)
            elif self.view.compare:
                self.notify("compare mode trains three fresh runs; leave it (c) to open a past one",
                            severity="warning")
            elif self.view.ready:
                self.step = 0
                self.view.open_run(choice.checkpoint, train=choice.action == "resume")
                self.notify(f"opening {choice.checkpoint}… (the trained weights are saved first)")

        from rnn_tui.ui.runs_screen import RunsScreen

        self.app.push_screen(RunsScreen(self.app.runs_dir, run.folder if run else None), chosen)

    @work(thread=True, exclusive=True, group="overlay")
    def overlay(self, runs: list[RunRecord]) -> None:
        """Past runs' validation curves on the loss chart (read here, off the event loop)."""
        from rnn_tui.training.runs_index import read_rows

        curves = {}
        for r in runs:
            label = f"{r.arch} {r.size} {time.strftime('%m-%d %H:%M', time.localtime(r.started))}"
            label = next(f"{label}{n}" for n in ("", *(f" #{i}" for i in range(2, len(runs) + 2)))
                         if f"{label}{n}" not in curves)  # runs started in the same minute
            curves[label] = read_rows(r.path, limit=2000)
        self.app.call_from_thread(self.training.set_overlay, curves)
        if runs:
            self.app.call_from_thread(self.notify, f"the loss chart overlays {len(runs)} past "
                                                   f"run{'s' * (len(runs) != 1)} (o, then c clears)")

    def action_generate(self) -> None:
        was = self.view.generating
        why = self.view.generate()
        if why:
            self.notify(why, severity="warning")
            return
        if not was and self.bottom.has_class("-compact") and self.zoom != "generation":
            self.notify(f"the Generation panel is hidden below {FULL_WIDTH}×{FULL_HEIGHT} (this terminal is "
                        f"{self.size.width}×{self.size.height}): press 6 to see it", severity="warning")

    def set_temperature(self, temperature: float) -> None:
        self.view.temperature = temperature
        self.notify(f"temperature → {temperature:g}")
        if self.view.generating:
            self.view.generate()

    def action_export(self) -> None:
        if self.trace is None:
            self.notify("nothing to export yet", severity="warning")
            return
        stem = f"rnn-tui-{self.trace.meta.get('scenario', 'trace')}-{time.strftime('%Y%m%d-%H%M%S')}"
        run = self.view.run
        folder = Path(run.folder) if run is not None and run.folder else Path(".")  # the run's own folder
        try:
            folder.mkdir(parents=True, exist_ok=True)
            npz = folder / f"{stem}.npz"
            self.trace.save(npz)
            svg = self.app.save_screenshot(f"{stem}.svg", path=str(folder))
        except OSError as err:
            self.notify(f"cannot export to {folder}: {err.strerror or err}", severity="error")
            return
        self.notify(f"exported {npz} and {Path(svg).name}")

    def action_lesson(self) -> None:
        from rnn_tui.ui.widgets.lesson import toggle_lesson

        toggle_lesson(self, getattr(self.app, "lesson", None))

    def action_help(self) -> None:
        from rnn_tui.ui.help import HelpScreen

        self.app.push_screen(HelpScreen(MainScreen.BINDINGS))

    def action_quit(self) -> None:
        self.app.quit_saving()
