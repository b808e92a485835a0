"""The experiments' screen: what if, the spectrum or the unit search, answered live.

It opens at once, says what was asked, and fills in when the trainer's answer comes
(the question is computed in the trainer's process, never here). `r` asks again with
the newest weights. For a unit search, enter on a unit selects it: the main screen
then tints the text by it.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from rnn_tui.ui.widgets.experiment_view import horizon_lines, spectrum_lines
from rnn_tui.ui.widgets.footer import Footer

TITLES = {"horizon": "What if · memory horizon", "spectrum": "The recurrent matrix's spectrum",
          "units": "Find the unit that does X"}


class ExperimentScreen(ModalScreen[tuple | None]):
    BINDINGS = [Binding("escape,q", "close", "back"), Binding("r", "again", "ask again")]
    DEFAULT_CSS = """
    ExperimentScreen { align: center middle; }
    ExperimentScreen > Vertical { width: 100%; height: 100%; border: round $accent; background: $surface;
                                  padding: 0 1; }
    ExperimentScreen VerticalScroll { height: auto; max-height: 1fr; }
    ExperimentScreen #answer { height: auto; }
    ExperimentScreen OptionList { height: 1fr; }
    """

    def __init__(self, name: str, asking: str, again, answers, decay=None, history=None) -> None:
        """`again()` sends the question anew; `answers()` gives those that came so far (run ->
        ExperimentResult); `decay`/`history`: the gradient's decay per step and the evaluation
        rows, for the spectrum's sentence and its radius over training."""
        super().__init__()
        self.experiment, self.asking, self.again, self.answers = name, asking, again, answers
        self.decay, self.history = decay, history or []
        self.results: dict = {}

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"{TITLES[self.experiment]} · r asks again · escape closes"
            with VerticalScroll():
                yield Static(Text(f"asking the trainer: {self.asking}…", style="dim"), id="answer")
            if self.experiment == "units":
                yield OptionList(id="units")
        yield Footer()

    def show(self, results: dict) -> None:
        """The newest answers, one per run (several in compare mode)."""
        self.results = dict(results)
        if not self.is_mounted or not self.query("#answer"):  # drawn at mount, or closed meanwhile
            return
        width = max(20, self.size.width - 4)
        if self.experiment == "horizon":
            lines = horizon_lines(self.results, width, rows=max(3, min(10, self.size.height - 14)))
        elif self.experiment == "spectrum":
            r = next(iter(self.results.values()))
            lines = spectrum_lines(r, width, max(6, min(14, self.size.height - 10)), self.decay, self.history)
        else:
            lines = self._units()
        self.query_one("#answer", Static).update(Text("\n").join(lines))

    def on_mount(self) -> None:
        if self.answers():  # the answer came before the screen was up
            self.call_after_refresh(self.show, self.answers())

    def _units(self) -> list[Text]:
        r = next(iter(self.results.values()))
        if r.result is None:
            return [Text(r.error or "no answer", style="bold red")]
        options = self.query_one("#units", OptionList)
        options.clear_options()
        for u in r.result[:30]:
            corr = "    —" if u["corr"] is None else f"{u['corr']:+.3f}"
            bar = "█" * int(round(abs(u["corr"] or 0) * 20))
            d = " ←" if u["direction"] else ""
            options.add_option(Option(f"layer {u['layer'] + 1}{d}  unit {u['unit']:>4}  r = {corr}  {bar}",
                                      id=f"{u['layer']},{u['direction']},{u['unit']}"))
        options.highlighted = 0
        options.focus()
        return [Text(f"rule: {self.asking}", style="bold"),
                Text(f"units ranked by |Pearson r| of h with the rule over every step of the validation samples "
                     f"(weights of step {r.step:,}); enter selects a unit: the text is then tinted by it", style="dim")]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        layer, direction, unit = map(int, event.option.id.split(","))
        self.dismiss(("unit", layer, direction, unit))

    def action_again(self) -> None:
        self.query_one("#answer", Static).update(Text(f"asking the trainer again: {self.asking}…", style="dim"))
        self.again()

    def action_close(self) -> None:
        self.dismiss(None)
