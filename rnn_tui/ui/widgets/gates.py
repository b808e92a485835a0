"""Every gate's activation per unit at the current step, with how saturated it is.

A saturated gate (near 0 or 1) is a switch: a forget gate near 1 keeps memory,
near 0 wipes it. Each character cell holds two units (upper and lower half);
rows wrap when units outnumber columns. Unbounded values (c, the RNN's
pre-activation) are drawn through tanh and labelled so.
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from rnn_tui.core.trace_file import Trace
from rnn_tui.ui import colors
from rnn_tui.ui.widgets.lines import Line
from rnn_tui.ui.widgets.panel import TracePanel


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
BOLD, DIM = Style(bold=True), Style(dim=True)


def saturation(values: np.ndarray, kind: str) -> tuple[float, float]:
    """Share of units near the low and the high end of the gate's range."""
    low = -1.0 if kind == "pm" else 0.0
    return float(np.mean(values <= low + SATURATED)), float(np.mean(values >= 1.0 - SATURATED))


class Gates(TracePanel):
    DEFAULT_CSS = """
    Gates { height: auto; min-height: 4; }
    """

    def reshaped(self, old: Trace | None, new: Trace | None) -> bool:
        return _shape(old) != _shape(new)

    def _rows(self):
        tr = self.trace
        t, k = min(self.step, tr.steps - 1), self.track
        for key, label, kind in ROWS[_arch(tr)]:
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
        return len(ROWS[_arch(self.trace)]) * rows

    def lines(self, width: int) -> list[Line]:
        if self.trace is None:
            return [Text("waiting for the first trace…", style="dim")]
        per_row = self._per_row(width)
        stats_below = per_row == width - LABEL  # narrow: the numbers get a line of their own
        out: list[Line] = []
        for label, kind, values in self._rows():
            scale = colors.sequential() if kind == "01" else colors.diverging(self.dark)
            levels = colors.sequential_levels(values) if kind == "01" else colors.diverging_levels(values)
            for start in range(0, len(values), 2 * per_row):
                chunk = levels[start : start + 2 * per_row]
                line = [Segment(f"{label if start == 0 else '':<{LABEL}}", BOLD if start == 0 else None)]
                line += colors.half_blocks(chunk[0::2], chunk[1::2], scale)
                if start == 0:
                    stats = Segment(self._stats(kind, values), DIM)
                    if stats_below:
                        out.append(line)
                        line = [Segment(" " * LABEL), stats]
                    else:
                        line.append(stats)
                out.append(line)
        return out

    def _stats(self, kind: str, values: np.ndarray) -> str:
        """Shares saturated at each end, and the selected unit's value."""
        low, high = saturation(values, kind)
        lo, hi = ("-1", "+1") if kind == "pm" else ("0", "1")
        unit = min(self.unit, len(values) - 1)
        return f" {lo}:{low:.0%} {hi}:{high:.0%} u{unit} {values[unit]:+.2f}"


def _arch(trace: Trace) -> str:
    return "rnn" if trace.arch in ("rnn", "esn") else trace.arch


def _shape(trace: Trace | None) -> tuple | None:
    """What the panel's height depends on."""
    return None if trace is None else (trace.arch, trace.hidden)
