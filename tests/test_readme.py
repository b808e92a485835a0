"""The README's key table is the app's key bindings, not a copy that drifts."""

from __future__ import annotations

from pathlib import Path

from rnn_tui.ui.main_screen import MainScreen
from rnn_tui.ui.help import key_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_keys_are_the_bindings():
    text = README.read_text()
    start = text.index("<!-- keys:")
    table = text[text.index("\n", start) + 1:text.index("<!-- /keys -->")].strip()
    assert table == key_table(MainScreen.BINDINGS), "README keys differ: paste key_table(MainScreen.BINDINGS)"
