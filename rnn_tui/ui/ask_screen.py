"""A one-line question: what to type in, with what it means and an example."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class AskScreen(ModalScreen[str | None]):
    """Enter answers with the text typed; escape answers None."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]
    DEFAULT_CSS = """
    AskScreen { align: center middle; }
    AskScreen > Vertical { width: 90%; max-width: 100; height: auto; border: round $accent;
                           background: $surface; padding: 0 1; }
    AskScreen #about { height: auto; color: $text-muted; }
    """

    def __init__(self, title: str, about: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.title_text, self.about, self.value, self.placeholder = title, about, value, placeholder

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"{self.title_text} · enter to ask · escape cancels"
            yield Static(self.about, id="about")
            yield Input(self.value, placeholder=self.placeholder, id="answer")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
