"""A panel drawn from what the screen shows: the trace, the step, the layer and the unit.

The screen owns those four as reactives and binds them into each panel
(`Panel().data_bind(MainScreen.trace, ...)`); a panel redraws when one changes and
never holds a copy that could go stale.
"""

from __future__ import annotations

from textual.reactive import var

from rnn_tui.core.trace_file import Trace
from rnn_tui.ui.labels import step_labels
from rnn_tui.ui.widgets.lines import LineWidget


class TracePanel(LineWidget):
    trace: var[Trace | None] = var(None, init=False)  # the trace on screen (compared by identity)
    step: var[int] = var(0, init=False)  # the current time step
    track: var[int] = var(0, init=False)  # layer * directions + direction
    unit: var[int] = var(0, init=False)  # the selected hidden unit

    def watch_trace(self, old: Trace | None, new: Trace | None) -> None:
        self._labels = step_labels(new) if new is not None else []
        self.changed(layout=self.reshaped(old, new))

    def watch_step(self) -> None:
        self.changed()

    def watch_track(self) -> None:
        self.changed()

    def watch_unit(self) -> None:
        self.changed()

    def reshaped(self, old: Trace | None, new: Trace | None) -> bool:
        """Whether the panel's height may change with the new trace."""
        return False

    @property
    def labels(self) -> list[str]:
        """One label per step of the trace on screen."""
        return getattr(self, "_labels", [])

    @property
    def dark(self) -> bool:
        theme = self.app.current_theme
        return theme.dark if theme else True
