"""Every gate's activation per unit at the current step, with how saturated it is.

A saturated gate (near 0 or 1) is a switch: a forget gate near 1 keeps memory,
near 0 wipes it. Each character cell holds two units (upper and lower half);
rows wrap when units outnumber columns. Unbounded values (c, the RNN's
pre-activation) are drawn through tanh and labelled so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from rich.console import RenderableType
from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from rnn_tui.ui import colors

if TYPE_CHECKING:  # torch loads in the background; the first frame must not wait
    from rnn_tui.core.trace import Trace

# name in the trace -> (label, range): "01" for sigmoid gates, "pm" for tanh-like values
ROWS = {
    "lstm": [("i", "i input", "01"), ("f", "f forget", "01"), ("g", "g candidate", "pm"),
             ("o", "o output", "01"), ("c", "tanh(c) cell", "pm"), ("h", "h hidden", "pm")],
    "gru": [("r", "r reset", "01"), ("z", "z update", "01"), ("n", "n candidate", "pm"), ("h", "h hidden", "pm")],
    "rnn": [("preact", "tanh(a) pre", "pm"), ("h", "h hidden", "pm")],
}
LABEL = 13  # "f forget" and friends
STATS = 26  # " 0:2% 1:41% u117 +0.93"
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

    def _per_row(self, width: int) -> int:
        """Cells per text row; each cell holds two units (upper and lower half)."""
        return max(4, width - LABEL - (STATS if width >= LABEL + STATS + 24 else 0))

    def get_content_height(self, container, viewport, width: int) -> int:
        if self.trace is None:
            return 1
        per_row = self._per_row(width)
        rows = -(-self.trace.hidden // (2 * per_row)) + (per_row == width - LABEL)
        return len(ROWS["rnn" if self.trace.arch in ("rnn", "esn") else self.trace.arch]) * rows

    def render(self) -> RenderableType:
        if self.trace is None:
            return Text("waiting for the first trace…", style="dim")
        per_cell_row = 2 * self._per_row(self.size.width)
        out = Text(no_wrap=True, overflow="crop")
        for label, kind, values in self._rows():
            scale = colors.sequential() if kind == "01" else colors.diverging(self.dark)
            levels = colors.sequential_levels(values) if kind == "01" else colors.diverging_levels(values)
            low, high = saturation(values, kind)
            for start in range(0, len(values), per_cell_row):
                out.append(f"{label if start == 0 else '':<{LABEL}}", style="bold" if start == 0 else "")
                stop = min(start + per_cell_row, len(values))
                for u in range(start, stop, 2):
                    top = scale[levels[u]]
                    bottom = scale[levels[u + 1]] if u + 1 < stop else None
                    out.append("▀", style=colors.half_block(top, bottom) if bottom else Style(color=top))
                if start == 0:
                    if self._per_row(self.size.width) == self.size.width - LABEL:  # narrow: stats below
                        out.append("\n" + " " * LABEL)
                    lo, hi = ("-1", "+1") if kind == "pm" else ("0", "1")
                    unit = min(self.unit, len(values) - 1)
                    out.append(f" {lo}:{low:.0%} {hi}:{high:.0%} u{unit} {values[unit]:+.2f}", style="dim")
                out.append("\n")
        out.rstrip()
        return out
