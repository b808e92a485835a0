"""Every gate's activation per unit at the current step, with how saturated it is.

A saturated gate (near 0 or 1) is a switch: a forget gate near 1 keeps memory,
near 0 wipes it. Each character cell holds two units (upper and lower half);
rows wrap when units outnumber columns. The first line is the legend: each
colour scale the rows use, with its ends. Under each row: the share of units
saturated at each end and the selected unit's value. The LSTM's cell state c is
unbounded and drawn through tanh, and labelled so. An Elman RNN's row is its
activation of the pre-activation a: tanh(a) (saturated at ±1), or relu(a)
(unbounded above; the share of units at 0, dead at this step, is what matters).

Inside a scroll box the panel says, in the box's lower border, how many lines
lie below and whose they are, rather than hiding them silently.
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.containers import ScrollableContainer

from rnn_tui.core.trace_file import Trace
from rnn_tui.ui import colors
from rnn_tui.ui.widgets.box import set_border_text
from rnn_tui.ui.widgets.lines import Line
from rnn_tui.ui.widgets.panel import TracePanel

MINUS = "\u2212"  # the minus sign of "−1", wider than a hyphen

# name in the trace -> (short name, label, kind): "01" for sigmoid gates in [0, 1],
# "pm" for tanh-like values in [-1, 1], "relu" for relu(a) in [0, ∞)
ROWS = {
    "lstm": [("i", "i", "i input", "01"), ("f", "f", "f forget", "01"), ("g", "g", "g candidate", "pm"),
             ("o", "o", "o output", "01"), ("c", "c", "tanh(c) cell", "pm"), ("h", "h", "h hidden", "pm")],
    "gru": [("r", "r", "r reset", "01"), ("z", "z", "z update", "01"), ("n", "n", "n candidate", "pm"),
            ("h", "h", "h hidden", "pm")],
    "rnn": [("preact", "tanh(a)", "tanh(a) pre", "pm"), ("h", "h", "h hidden", "pm")],
    "rnn-relu": [("preact", "relu(a)", "relu(a) pre", "relu"), ("h", "h", "h hidden", "relu")],
}
SCALE_NAMES = {"01": "sigmoid", "pm": "tanh", "relu": "relu"}
LABEL = 13  # "f forget" and friends
STATS = 45  # "  ≤−0.95: 100%  ≥+0.95: 100%  unit 127: +0.93"
SATURATED = 0.05  # within this of a bound counts as saturated
BOLD, DIM = Style(bold=True), Style(dim=True)


def saturation(values: np.ndarray, kind: str) -> tuple[float, float]:
    """Share of units near the low and the high end of the row's range; for relu,
    the share at 0 (dead at this step) and 0.0 (relu has no upper bound)."""
    if kind == "relu":
        return float(np.mean(values <= 0.0)), 0.0
    low = -1.0 if kind == "pm" else 0.0
    return float(np.mean(values <= low + SATURATED)), float(np.mean(values >= 1.0 - SATURATED))


def percent(share: float) -> str:
    """A share as a whole percentage that never rounds a unit away: '<1%', not '0%'."""
    if 0.0 < share < 0.005:
        return "<1%"
    if 0.995 <= share < 1.0:
        return ">99%"
    return f"{share * 100:.0f}%"


def signed(value: float) -> str:
    """+0.80 / −0.80, with a real minus sign."""
    return f"{value:+.2f}".replace("-", MINUS)


ENDS = {"01": (f"≤{SATURATED:.2f}", f"≥{1 - SATURATED:.2f}"),
        "pm": (f"≤{MINUS}{1 - SATURATED:.2f}", f"≥+{1 - SATURATED:.2f}"), "relu": ("at 0 (dead)",)}
SPACINGS = (("  ", ": "), (" ", ": "), (" ", ":"))  # (between parts, after a name): roomy to tight


def stats_parts(kind: str, values: np.ndarray, unit: int) -> tuple[list[tuple[str, str]], tuple[str, str]]:
    """([(end, its share)], ("unit 7", its value)) for one row."""
    shares = [percent(share) for share in saturation(values, kind)]
    return list(zip(ENDS[kind], shares)), (f"unit {unit}", signed(float(values[unit])))


def fit(parts: list[tuple[str, str]], room: int | None) -> str:
    """'name: value  name: value', as roomy as `room` allows (the tightest if none fits)."""
    for gap, colon in SPACINGS:
        text = gap.join(f"{name}{colon}{value}" for name, value in parts)
        if room is None or len(text) <= room:
            break
    return text


def stats_text(kind: str, values: np.ndarray, unit: int, room: int | None = None) -> str:
    """Shares saturated at each end, spelled out, and the selected unit's value, on one
    line: '≤0.05: 1%  ≥0.95: 2%  unit 0: +0.80', tighter when `room` is short."""
    ends, selected = stats_parts(kind, values, unit)
    return fit([*ends, selected], room)


def nonlinearity(trace: Trace) -> str:
    """An Elman RNN's (or ESN's) activation: trace.meta["nonlinearity"] when the trace
    says, else read off the trace itself: relu(a) is never negative and equals max(a, 0)."""
    named = trace.meta.get("nonlinearity") if isinstance(trace.meta, dict) else None
    if named in ("tanh", "relu"):
        return named
    pre = trace.gates.get("preact")
    if pre is None or pre.shape != trace.h.shape or np.any(trace.h < 0):
        return "tanh"
    return "relu" if np.allclose(trace.h, np.maximum(pre, 0.0), rtol=1e-3, atol=1e-4) else "tanh"


class Gates(TracePanel):
    DEFAULT_CSS = """
    Gates { height: auto; min-height: 4; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._arch_for: tuple | None = None  # (trace, its row set): the relu check reads the whole trace once
        self._top_for: tuple | None = None  # (trace, track, relu's upper colour bound)
        self._note = ""  # what this panel last wrote in its scroll box's border

    def reshaped(self, old: Trace | None, new: Trace | None) -> bool:
        return _shape(old) != _shape(new)

    # ----------------------------------------------------------- what is drawn
    def _arch(self, trace: Trace) -> str:
        """The row set: lstm, gru, rnn or rnn-relu (an ESN draws as an rnn)."""
        if self._arch_for is None or self._arch_for[0] is not trace:
            arch = "rnn" if trace.arch in ("rnn", "esn") else trace.arch
            if arch == "rnn" and nonlinearity(trace) == "relu":
                arch = "rnn-relu"
            self._arch_for = (trace, arch if arch in ROWS else "rnn")
        return self._arch_for[1]

    def _relu_top(self) -> float:
        """The upper end of relu's colour scale: the largest relu(a) of this layer over
        the whole sequence, so that a colour means the same value at every step."""
        tr, k = self.trace, self.track
        if self._top_for is None or self._top_for[:2] != (tr, k):
            top = float(np.nanmax(np.maximum(tr.gates["preact"][:, k], 0.0), initial=0.0))
            self._top_for = (tr, k, top if top > 0 else 1.0)
        return self._top_for[2]

    def _rows(self):
        tr = self.trace
        t, k = min(self.step, tr.steps - 1), min(self.track, tr.h.shape[1] - 1)
        for key, short, label, kind in ROWS[self._arch(tr)]:
            if key == "h":
                values = tr.h[t, k]
            elif key == "c":
                values = np.tanh(tr.c[t, k])
            elif key == "preact":
                pre = tr.gates[key][t, k]
                values = np.maximum(pre, 0.0) if kind == "relu" else np.tanh(pre)
            else:
                values = tr.gates[key][t, k]
            yield short, label, kind, values

    def _scale(self, kind: str):
        return colors.sequential() if kind in ("01", "relu") else colors.diverging(self.dark)

    def _levels(self, kind: str, values: np.ndarray) -> np.ndarray:
        if kind == "01":
            return colors.sequential_levels(values)
        if kind == "relu":
            return colors.sequential_levels(values / self._relu_top())
        return colors.diverging_levels(values)

    # ----------------------------------------------------------- layout
    def _per_row(self, width: int) -> int:
        """Cells per text row; each cell holds two units (upper and lower half)."""
        return max(4, width - LABEL - (STATS if width >= LABEL + STATS + 24 else 0))

    def _stats_lines(self, width: int) -> int:
        """Lines for a row's numbers: 0 beside its cells (wide), 1 below them, or 2 when
        even the tightest line could be cut (the selected unit's value goes on the second)."""
        if self._per_row(width) != max(4, width - LABEL):
            return 0
        digits = len(str(self.trace.hidden - 1))
        for _key, _short, _label, kind in ROWS[self._arch(self.trace)]:
            value = 7 if kind == "relu" else 5  # "+0.80"; relu(a) is unbounded: up to "+999.99"
            worst = sum(len(end) + 5 for end in ENDS[kind]) + len(ENDS[kind]) + len("unit :") + digits + value
            if worst > width:  # "100%" at every end, the widest unit number
                return 2
        return 1

    def _lines_per_row(self, width: int) -> int:
        """Text lines per gate row: its cells, and its numbers when they have lines of their own."""
        return -(-self.trace.hidden // (2 * self._per_row(width))) + self._stats_lines(width)

    def get_content_height(self, container, viewport, width: int) -> int:
        if self.trace is None:
            return 1
        return 1 + len(ROWS[self._arch(self.trace)]) * self._lines_per_row(width)

    def lines(self, width: int) -> list[Line]:
        if self.trace is None:
            return [Text("waiting for the first trace…", style="dim")]
        per_row = self._per_row(width)
        below = self._stats_lines(width)  # narrow: the numbers get one line of their own, or two
        rows = list(self._rows())
        out: list[Line] = [self._legend(width, [kind for _, _, kind, _ in rows])]
        unit = min(self.unit, self.trace.hidden - 1)
        for _short, label, kind, values in rows:
            scale, levels = self._scale(kind), self._levels(kind, values)
            for start in range(0, len(values), 2 * per_row):
                chunk = levels[start : start + 2 * per_row]
                line = [Segment(f"{label if start == 0 else '':<{LABEL}}", BOLD if start == 0 else None)]
                line += colors.half_blocks(chunk[0::2], chunk[1::2], scale)
                if start == 0 and not below:
                    line += [Segment(" "), Segment(stats_text(kind, values, unit), DIM)]
                out.append(line)
            if below:
                ends, selected = stats_parts(kind, values, unit)
                texts = [fit([*ends, selected], width)] if below == 1 else [fit(ends, width), fit([selected], width)]
                out += [[Segment("  " if len(text) + 2 <= width else ""), Segment(text, DIM)] for text in texts]
        return out

    def _legend(self, width: int, kinds: list[str]) -> list[Segment]:
        """One colour bar per scale the rows use: '0 ███ 1 sigmoid  −1 ███ +1 tanh'."""
        shown = list(dict.fromkeys(kinds))
        ends = {"01": ("0", "1"), "pm": (f"{MINUS}1", "+1")}
        if "relu" in shown:
            ends["relu"] = ("0", f"{self._relu_top():.3g}")
        text = sum(len(ends[k][0]) + len(ends[k][1]) + len(SCALE_NAMES[k]) + 5 for k in shown)
        cells = max(3, min(11, (width - text) // len(shown)))
        out: list[Segment] = []
        for kind in shown:
            if out:
                out.append(Segment("  "))
            low, high = ends[kind]
            out += colors.legend(low, self._scale(kind), high, cells, SCALE_NAMES[kind], DIM)
        return out

    # ----------------------------------------------------------- what lies below
    def on_mount(self) -> None:
        box = self.parent
        if isinstance(box, ScrollableContainer):
            self.watch(box, "scroll_y", self.say_what_is_below, init=False)
            box.message_signal.subscribe(self, self._box_message)

    def _box_message(self, message) -> None:
        if isinstance(message, events.Resize):
            self.say_what_is_below()

    def on_resize(self) -> None:
        self.say_what_is_below()

    def say_what_is_below(self) -> None:
        """'+12 lines below (o, c, h): scroll' in the scroll box's lower border, or nothing."""
        box = self.parent
        if not isinstance(box, ScrollableContainer) or self.trace is None:
            return
        visible = box.scrollable_content_region.height
        end = round(box.scroll_y) + visible  # the first line out of sight
        below = self.outer_size.height - end
        note = ""
        if below > 0 and visible > 0:
            per_row = self._lines_per_row(self.size.width)
            names = [short for i, (_key, short, _label, _kind) in enumerate(ROWS[self._arch(self.trace)])
                     if 1 + (i + 1) * per_row > end]  # rows whose last line is out of sight
            lines = f"+{below} line{'s' if below > 1 else ''} below"
            note = f"{lines} ({', '.join(names)}): scroll"
            if len(note) > box.size.width - 4:
                note = f"{lines}: scroll"
        if note != self._note:
            if box.border_subtitle in ("", None) or box.border_subtitle == self._note:
                set_border_text(box, note)
            self._note = note

    @property
    def below_note(self) -> str:
        """What the panel says about the lines out of sight ('' when all are in view)."""
        return self._note


def _shape(trace: Trace | None) -> tuple | None:
    """What the panel's height depends on."""
    return None if trace is None else (trace.arch, trace.hidden)
