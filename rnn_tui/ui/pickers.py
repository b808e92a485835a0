"""The scenario picker (s): built-ins and ./scenarios files, with their descriptions."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option


class ScenarioPicker(ModalScreen):
    BINDINGS = [Binding("escape,q", "dismiss_none", "cancel")]
    DEFAULT_CSS = """
    ScenarioPicker { align: center middle; }
    ScenarioPicker > Vertical { width: 80%; max-width: 100; height: 80%; border: round $accent; background: $surface; }
    ScenarioPicker OptionList { height: 1fr; }
    ScenarioPicker #about { height: auto; max-height: 8; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, scenarios: list[dict]) -> None:
        """`scenarios`: the trainer's Catalog entries ({"name", "task", "title", "description", "ref"})."""
        super().__init__()
        self.scenarios = scenarios

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Pick a scenario (enter) · escape cancels"
            yield OptionList(*[Option(f"{s['name']:<11} {s['task']:<11} {s['title']}", id=str(i))
                               for i, s in enumerate(self.scenarios)])
            yield Static("", id="about")

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        scenario = self.scenarios[int(event.option.id)]
        self.query_one("#about", Static).update(" ".join(scenario["description"].split()))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.scenarios[int(event.option.id)]["ref"])

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
