"""The network unrolled through time around the current step.

x_t enters each cell from below, h_t (and c_t) passes right to the next step,
y_t leaves at the top. Every cell in a row is the same cell with the same
weights; the current step's cell is drawn heavy. Each cell shows ||dL/dh_t||,
so the gradient's fading is visible along the chain. A backward direction gets
a second row whose arrows point left. Steps are numbered from 1, as the
Sequence panel counts them (y1, x1 for the first).
"""

from __future__ import annotations

from rich.text import Text

from rnn_tui.core.trace_file import Trace
from rnn_tui.ui.widgets.lines import Line
from rnn_tui.ui.widgets.panel import TracePanel
from rnn_tui.ui.labels import token_label


CELL = 9  # "┌──────┐" plus the arrow gap
NAMES = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN", "esn": "ESN"}


def _box(name: str, grad: float, current: bool, arrow_in: str, arrow_out: str) -> list[str]:
    tl, tr_, bl, br, h, v = ("┏", "┓", "┗", "┛", "━", "┃") if current else ("┌", "┐", "└", "┘", "─", "│")
    g = f"{grad:.0e}".replace("e-0", "e-").replace("e+0", "e+")
    return [
        f" {tl}{h * 5}{tr_}",
        f"{arrow_in}{v}{name:^5}{v}{arrow_out}",
        f" {v}{g:^5}{v}",
        f" {bl}{h * 5}{br}",
    ]


class Unrolled(TracePanel):
    DEFAULT_CSS = """
    Unrolled { height: auto; }
    """

    def reshaped(self, old: Trace | None, new: Trace | None) -> bool:
        return _shape(old) != _shape(new)

    def get_content_height(self, container, viewport, width: int) -> int:
        if self.trace is None:
            return 1
        return 6 + 4 * self.trace.layers * self.trace.directions

    def lines(self, width: int) -> list[Line]:
        tr = self.trace
        if tr is None:
            return [Text("waiting for the first trace…", style="dim")]
        width = max(CELL, width - 8)
        count = max(1, min(tr.steps, width // CELL))
        start = min(max(0, self.step - count // 2), max(0, tr.steps - count))
        steps = range(start, min(tr.steps, start + count))
        name = NAMES.get(tr.arch, tr.arch.upper())
        lines = ["       " + "".join(f"{'y' + str(s + 1):^{CELL}}" for s in steps),
                 "       " + "".join(f"{'▲':^{CELL}}" for _ in steps)]
        for layer in reversed(range(tr.layers)):
            for d in range(tr.directions):
                k = layer * tr.directions + d
                label = f"L{layer + 1}{' ←' if d else ' →'}" if tr.directions == 2 else f"L{layer + 1}"
                rows = ["", "", "", ""]
                for s in steps:
                    arrow_in, arrow_out = ("◀", " ") if d else ("▶", " ")
                    box = _box(name, float(tr.grad_h[s, k]), s == self.step, arrow_in, arrow_out)
                    for i in range(4):
                        rows[i] += box[i].ljust(CELL)[:CELL]
                carry = "h,c" if tr.c is not None else "h"
                rows[1] = f"{carry:>5}─" + rows[1] + ("─▶" if not d else "")
                rows[0], rows[2], rows[3] = "      " + rows[0], f"{label:<6}" + rows[2], "      " + rows[3]
                lines.extend(rows)
        lines.append("       " + "".join(f"{'▲':^{CELL}}" for _ in steps))
        lines.append("       " + "".join(f"{'x' + str(s + 1):^{CELL}}" for s in steps))
        lines.append("       " + "".join(f"{token_label(self._label(s))[:CELL - 2]:^{CELL}}" for s in steps))
        out: list[Line] = [Text(line, style="dim" if i < 2 or i == len(lines) - 2 else "")
                           for i, line in enumerate(lines)]
        out.append(Text("one cell, shared weights · in each box ‖∂L/∂h_t‖", style="dim italic"))
        return out

    def _label(self, s: int) -> str:
        return self.labels[s] if s < len(self.labels) else str(s + 1)


def _shape(trace: Trace | None) -> tuple | None:
    """What the diagram's height depends on."""
    return None if trace is None else (trace.layers, trace.directions)
