"""Every gate's activation per unit at the current step, with how saturated it is.

A saturated gate (near 0 or 1) is a switch: a forget gate near 1 keeps memory,
near 0 wipes it. One coloured cell per unit; rows wrap when units outnumber columns.
"""

from __future__ import annotations

import numpy as np
from rich.console import RenderableType
from rich.text import Text
from textual.widget import Widget

from rnn_tui.core.trace import Trace
from rnn_tui.ui import colors

# name in the trace -> (label, range): "01" for sigmoid gates, "pm" for tanh-like values
ROWS = {
    "lstm": [("i", "i input", "01"), ("f", "f forget", "01"), ("g", "g cell cand.", "pm"),
             ("o", "o output", "01"), ("c", "c cell tanh", "pm"), ("h", "h hidden", "pm")],
    "gru": [("r", "r reset", "01"), ("z", "z update", "01"), ("n", "n candidate", "pm"), ("h", "h hidden", "pm")],
    "rnn": [("preact", "a pre-act tanh", "pm"), ("h", "h hidden", "pm")],
}
LABEL = 15
SATURATED = 0.05  # within this of a bound counts as saturated


def saturation(values: np.ndarray, kind: str) -> tuple[float, float]:
    """Share of units near the low and the high end of the gate's range."""
    low = -1.0 if kind == "pm" else 0.0
    return float(np.mean(values <= low + SATURATED)), float(np.mean(values >= 1.0 - SATURATED))


class Gates(Widget):
    DEFAULT_CSS = """
    Gates { height: auto; min-height: 4; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.trace: Trace | None = None
        self.step = 0
        self.track = 0
        self.unit = 0
        self.dark = True

    def show(self, trace: Trace | None, step: int, track: int, unit: int, dark: bool = True) -> None:
        self.trace, self.step, self.track, self.unit, self.dark = trace, step, track, unit, dark
        self.refresh(layout=True)

    def _rows(self):
        tr = self.trace
        arch = "rnn" if tr.arch in ("rnn", "esn") else tr.arch
        t, k = min(self.step, tr.steps - 1), self.track
        for key, label, kind in ROWS[arch]:
            if key == "h":
                values = tr.h[t, k]
            elif key == "c":
                values = np.tanh(tr.c[t, k])
            elif key == "preact":
                values = np.tanh(tr.gates[key][t, k])
            else:
                values = tr.gates[key][t, k]
            yield label, kind, values

    def get_content_height(self, container, viewport, width: int) -> int:
        if self.trace is None:
            return 1
        per_row = max(1, width - LABEL - 18)
        rows = -(-self.trace.hidden // per_row)
        return len(ROWS["rnn" if self.trace.arch in ("rnn", "esn") else self.trace.arch]) * rows

    def render(self) -> RenderableType:
        if self.trace is None:
            return Text("waiting for the first trace…", style="dim")
        width = self.size.width
        per_row = max(1, width - LABEL - 18)
        out = Text(no_wrap=True, overflow="crop")
        for label, kind, values in self._rows():
            scale = colors.sequential() if kind == "01" else colors.diverging(self.dark)
            levels = colors.sequential_levels(values) if kind == "01" else colors.diverging_levels(values)
            low, high = saturation(values, kind)
            for start in range(0, len(values), per_row):
                out.append(f"{label if start == 0 else '':<{LABEL}}", style="bold" if start == 0 else "")
                for u in range(start, min(start + per_row, len(values))):
                    char = "▼" if u == self.unit else "█"
                    style = f"{scale[levels[u]].name} on default" if u != self.unit else f"bold {scale[levels[u]].name}"
                    out.append(char, style=style)
                if start == 0:
                    lo, hi = ("≈-1", "≈+1") if kind == "pm" else ("≈0", "≈1")
                    out.append(f" {lo}{low:>4.0%} {hi}{high:>4.0%}", style="dim")
                out.append("\n")
        out.rstrip()
        return out
