"""The `o` screen: every run under the runs folder, to open, resume, compare or delete.

The runs are read in a worker thread (json only, never torch), so a thousand of them
never hold up a frame. What the screen decides goes back to the main screen as a
`RunsChoice`: open a run's newest checkpoint (paused, or training on), or overlay the
validation curves of the runs marked with space on the loss chart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from rnn_tui.training.runs_index import RunRecord, age, delete_run, figure, list_runs
from rnn_tui.ui.confirm import Confirm
from rnn_tui.ui.widgets.footer import Footer

COLUMNS = ("  scenario", "model", "steps", "best val", "solved at", "saved at", "written")


@dataclass
class RunsChoice:
    action: str  # "open", "resume" or "overlay"
    checkpoint: str | None = None  # open, resume
    runs: list[RunRecord] = field(default_factory=list)  # overlay


def _saved_at(run: RunRecord) -> str:
    """The step of the newest checkpoint (its file is step-<N>.pt), or "none"."""
    if run.checkpoint is None:
        return "none"
    return f"{int(Path(run.checkpoint).stem.split('-')[-1]):,}"


class RunsScreen(ModalScreen[RunsChoice | None]):
    BINDINGS = [
        Binding("enter", "choose('open')", "open", tooltip="open the run's newest checkpoint, paused"),
        Binding("r", "choose('resume')", "resume", tooltip="open it and train on"),
        Binding("space", "mark", "mark", tooltip="mark (or unmark) the run for an overlay"),
        Binding("o", "overlay", "overlay", tooltip="draw the marked runs' validation curves on the loss chart"),
        Binding("c", "clear_overlay", "clear overlay", tooltip="take the past runs' curves off the loss chart"),
        Binding("d", "delete", "delete", tooltip="delete the run's folder (asks first)"),
        Binding("escape,q", "dismiss_screen", "back"),
    ]
    DEFAULT_CSS = """
    RunsScreen { background: $background; }
    RunsScreen > #runs-box { border: round $primary; height: 1fr; }
    RunsScreen #runs-note { height: auto; padding: 0 1; color: $text-muted; }
    RunsScreen #runs-head { height: 1; padding: 0 2; text-style: bold; }
    RunsScreen OptionList { height: 1fr; text-wrap: nowrap; text-overflow: ellipsis; }
    """

    def __init__(self, runs_dir: str | None, current_folder: str | None = None) -> None:
        super().__init__()
        self.runs_dir, self.current_folder = runs_dir, current_folder
        self.runs: dict[str, RunRecord] = {}  # row key (the folder) -> run
        self.marked: set[str] = set()
        self.cells: dict[str, list[str]] = {}  # row key -> the row's cells
        self.widths: list[int] = [len(c) for c in COLUMNS]

    def compose(self) -> ComposeResult:
        with Vertical(id="runs-box"):
            yield Static("reading the runs…", id="runs-note")
            yield Static("", id="runs-head")
            yield OptionList(id="runs-list")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#runs-box").border_title = "Your runs"
        if self.runs_dir is None:
            self.note("this session keeps no run folder (--runs-dir)")
            return
        self.load()

    def note(self, text: str) -> None:
        self.query_one("#runs-note", Static).update(text)

    @work(thread=True, exclusive=True, group="runs")
    def load(self) -> None:
        try:
            runs = list_runs(self.runs_dir)
        except Exception as err:  # a runs folder that is a file, unreadable: say so
            self.app.call_from_thread(self.note, f"cannot read {self.runs_dir}: {err}")
            return
        self.app.call_from_thread(self.fill, runs)

    def fill(self, runs: list[RunRecord]) -> None:
        """One row per run, its cells in columns as wide as their widest (a text list, not a
        table: a thousand runs list in a fraction of a second)."""
        now = time.time()
        self.runs = {r.path: r for r in runs}
        self.cells = {r.path: [self._first(r), f"{r.arch} {r.size}", f"{r.step:,}", figure(r, short=True),
                               f"✓ {r.solved_at:,}" if r.solved_at is not None else "—",
                               _saved_at(r), f"{age(r.updated, now)} ago"]
                      for r in runs}
        self.widths = [max([len(head)] + [len(c[i]) for c in self.cells.values()]) for i, head in enumerate(COLUMNS)]
        self.query_one("#runs-head", Static).update(Text(self._row(list(COLUMNS)), no_wrap=True, overflow="crop"))
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options([Option(self._prompt(cells), id=path) for path, cells in self.cells.items()])
        if runs:
            options.highlighted = 0
            options.focus()
        if runs:
            current = " ▶ marks the run on screen." if any(map(self._is_current, runs)) else ""
            self.note(f"{len(runs)} run{'s' * (len(runs) != 1)} in {self.runs_dir}, newest first.{current}  "
                      "enter opens the newest checkpoint (saved at that step) paused, r trains on, space marks "
                      "runs and o draws their curves on the loss chart, d deletes")
        else:
            self.note(f"no runs in {self.runs_dir} yet: training writes one (metrics.jsonl, checkpoints)")

    def _prompt(self, cells: list[str]) -> Text:
        return Text(self._row(cells))

    def _row(self, cells: list[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, self.widths))

    def _first(self, run: RunRecord) -> str:
        """The mark (✓ marked, ▶ on screen) and the scenario."""
        return f"{self._mark(run)} {run.scenario}"

    def _mark(self, run: RunRecord) -> str:
        return "✓" if run.path in self.marked else "▶" if self._is_current(run) else " "

    def _is_current(self, run: RunRecord) -> bool:
        return self.current_folder is not None and Path(run.path).resolve() == Path(self.current_folder).resolve()

    def highlighted(self) -> RunRecord | None:
        options = self.query_one(OptionList)
        if not self.runs or options.highlighted is None:
            return None
        return self.runs.get(options.get_option_at_index(options.highlighted).id)

    # ------------------------------------------------------------ actions
    def action_choose(self, action: str) -> None:
        run = self.highlighted()
        if run is None:
            return
        if run.checkpoint is None:
            self.notify(f"{run.name} has no checkpoint to open (it ended before one was saved)", severity="warning")
            return
        self.dismiss(RunsChoice(action, checkpoint=run.checkpoint))

    @on(OptionList.OptionSelected)
    def _selected(self) -> None:
        self.action_choose("open")

    def action_mark(self) -> None:
        run = self.highlighted()
        if run is None:
            return
        self.marked ^= {run.path}
        self.cells[run.path][0] = self._first(run)
        self.query_one(OptionList).replace_option_prompt(run.path, self._prompt(self.cells[run.path]))

    def action_overlay(self) -> None:
        marked = [r for path, r in self.runs.items() if path in self.marked]
        if not marked:
            run = self.highlighted()
            marked = [run] if run is not None else []
        if marked:
            self.dismiss(RunsChoice("overlay", runs=marked))

    def action_clear_overlay(self) -> None:
        self.dismiss(RunsChoice("overlay"))

    def action_delete(self) -> None:
        run = self.highlighted()
        if run is None:
            return
        if self._is_current(run):
            self.notify("this is the run on screen; switch or reset first", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.delete(run)

        self.app.push_screen(Confirm(f"Delete the run {run.name}?\nIts folder {run.path} goes, with its metrics and "
                                     "checkpoints.\n\ny deletes, n keeps it."), answered)

    @work(thread=True, group="runs")
    def delete(self, run: RunRecord) -> None:
        try:
            delete_run(run.path, self.runs_dir)
        except Exception as err:
            self.app.call_from_thread(self.notify, f"could not delete {run.name}: {err}", severity="error")
            return
        self.marked.discard(run.path)
        self.app.call_from_thread(self.notify, f"deleted {run.path}")
        self.app.call_from_thread(self.load)

    def action_dismiss_screen(self) -> None:
        self.dismiss(None)
