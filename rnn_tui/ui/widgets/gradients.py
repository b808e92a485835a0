"""||dL/dh_t|| at every step on a log scale: vanishing or exploding, seen.

One column per step, bars measured in decades; under them the input saliency
||dL/dx_t|| as a sparkline, and a time axis: step numbers (1-based, as the
Sequence panel counts; each number starts under its step's column) and ▲ under
the current step, whose column is drawn in yellow.

The headline number is the decay per step: the factor by which the gradient
shrinks (or grows) for each step it travels back, fitted on log ||dL/dh_t||.
"Back" is in the direction's own reading order: a backward direction reads the
sequence from its end, so its step back is a step to the *right*. The fit runs
up to where the loss enters that direction (see `decay`): a gradient is only
pure back-propagation before its sources.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from rnn_tui.core.kinds import MANY_TO_ONE
from rnn_tui.core.trace_file import Trace
from rnn_tui.ui.widgets.lines import Line
from rnn_tui.ui.widgets.panel import TracePanel

BLOCKS = " ▁▂▃▄▅▆▇█"
SPARK = "▁▂▃▄▅▆▇█"
GUTTER = 7  # the labels left of the columns
TICK_SPACINGS = (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)  # steps between numbers
DIM, CYAN, MAGENTA = Style(dim=True), Style(color="cyan"), Style(color="magenta")
CURRENT = Style(bold=True, color="yellow")  # the current step's column


def decay_per_step(grad: np.ndarray) -> float | None:
    """exp(-slope) of log||dL/dh|| against the step, the series in reading order and
    ending at the gradient's source: the factor per step travelled back. None when
    fewer than three steps have a finite, positive gradient."""
    ok = np.isfinite(grad) & (grad > 0)
    if ok.sum() < 3:
        return None
    slope = np.polyfit(np.arange(len(grad))[ok], np.log(grad[ok]), 1)[0]
    return float(np.exp(-slope))


@dataclass(frozen=True)
class Decay:
    factor: float  # per step back, in the direction's reading order
    source: str  # what it is fitted on: "loss" (dL/dh_t) or "last step's loss" (dl_s/dh_t)


def is_backward(trace: Trace, track: int) -> bool:
    """Whether the track (layer * directions + direction) reads the sequence from its end."""
    return trace.directions == 2 and track % 2 == 1


def decay(trace: Trace, track: int) -> Decay | None:
    """The decay per step back of one layer-direction, or None where it cannot be fitted.

    In the direction's reading order (reversed time for a backward direction):

    - many-to-one and a bare core: the loss reads each direction's final state,
      its last step, so ||dL/dh_t|| over the whole sequence;
    - else ||dL/dh_t|| up to the first scored step, where at least three steps
      come before it (the unscored prefix of a copy task, a seq2seq encoder);
    - else, every step scored (text, sine, brackets): ||dL/dh_t|| mixes every
      step's own loss, so the gradient of the last scored step's loss alone
      (grad_h_last), up to that step: how far back the last prediction's
      gradient reaches.
    """
    order = slice(None, None, -1) if is_backward(trace, track) else slice(None)
    grad = trace.grad_h[order, track]
    if trace.kind in MANY_TO_ONE or trace.kind == "core":
        factor = decay_per_step(grad)
        return None if factor is None else Decay(factor, "loss")
    scored = np.flatnonzero(~np.isnan(trace.loss[order]))
    if not len(scored):
        return None
    factor = decay_per_step(grad[: scored[0] + 1])
    if factor is not None:
        return Decay(factor, "loss")
    if trace.grad_h_last is None:  # a trace file from before grad_h_last
        return None
    factor = decay_per_step(trace.grad_h_last[order, track][: scored[-1] + 1])
    return None if factor is None else Decay(factor, "last step's loss")


def log_bars(values: np.ndarray, start: int, end: int, height: int) -> list[tuple[str, str]]:
    """Bars of values[start:end] on a log scale in `height` rows, top row first, each row
    with its label ("1e+0 " on the top row, the bottom decade on the last): decades from
    those of all `values`. NaN and 0 draw nothing; an exploded inf draws full height."""
    shown = values[start:end] > 0
    logs = np.log10(np.where(shown, values[start:end], 1.0))
    all_logs = np.log10(values[np.isfinite(values) & (values > 0)])
    top = math.ceil(float(all_logs.max())) if all_logs.size else 0
    bottom = math.floor(float(all_logs.min())) if all_logs.size else -1
    bottom = min(bottom, top - 1)
    span = top - bottom
    rows = []
    for row in range(height):
        row_low = bottom + span * (height - 1 - row) / height
        frac = np.where(shown, (logs - row_low) / (span / height), 0.0)
        bars = "".join(BLOCKS[i] for i in (np.clip(frac, 0, 1) * (len(BLOCKS) - 1)).astype(int))
        label = f"1e{top:+d} " if row == 0 else f"1e{bottom:+d} " if row == height - 1 else ""
        rows.append((label, bars))
    return rows


def window(steps: int, step: int, width: int) -> tuple[int, int]:
    if steps <= width:
        return 0, steps
    start = min(max(0, step - width // 2), steps - width)
    return start, start + width


def axis(start: int, end: int, current: int) -> str:
    """One character per step of [start, end): ▲ under `current` (an index into the
    window), and 1-based step numbers, each starting under its step's column, with
    a blank either side; a number that would touch ▲ or another number is left out."""
    chars = [" "] * (end - start)
    taken = [False] * len(chars)
    chars[current], taken[current] = "▲", True
    spacing = next((s for s in TICK_SPACINGS if s >= len(str(end)) + 2), TICK_SPACINGS[-1])
    for s in [start] + [s for s in range(start, end) if (s + 1) % spacing == 0]:
        label, col = str(s + 1), s - start
        if col + len(label) > len(chars) or any(taken[max(0, col - 1) : col + len(label) + 1]):
            continue
        chars[col : col + len(label)] = label
        taken[col : col + len(label)] = [True] * len(label)
    return "".join(chars)


class Gradients(TracePanel):
    DEFAULT_CSS = """
    Gradients { height: 1fr; min-height: 3; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._memo: dict[tuple, object] = {}  # what a step does not change: bars, sparkline, decay
        self._memo_for: Trace | None = None  # ... of this trace

    def _once(self, key: tuple, make):
        """make(), computed once per trace and key: a step moves the marker, not the bars."""
        if self._memo_for is not self.trace:
            self._memo, self._memo_for = {}, self.trace
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def lines(self, width: int) -> list[Line]:
        tr = self.trace
        if tr is None:
            return [Text("waiting for the first trace…", style="dim")]
        grad = tr.grad_h[:, self.track]
        facts = self._facts(grad, width)
        rows = self.size.height
        # short of rows, the saliency row goes first, then the facts shrink to one line:
        # the gradient's figures and the current step's place are what the panel is for
        with_saliency = rows >= 3 + len(facts)
        if rows < 2 + len(facts):
            facts = self._facts(grad, width, one_line=True)
        # the bars take the rows the saliency, the axis and the facts leave (one, at the least)
        cols, height = max(8, width - GUTTER), max(1, rows - 1 - with_saliency - len(facts))
        start, end = window(tr.steps, self.step, cols)
        current = min(self.step, tr.steps - 1) - start
        bars = self._once(("bars", self.track, start, end, height), lambda: log_bars(grad, start, end, height))
        out: list[Line] = [marked_row(f"{label:>{GUTTER}}", row, current, CYAN) for label, row in bars]
        if with_saliency:
            spark = self._once(("saliency", start, end), lambda: saliency(tr.grad_x, start, end))
            out.append(marked_row(f"{'∂L/∂x ':>{GUTTER}}", spark, current, MAGENTA))
        out.append(marked_row(f"{'step ':>{GUTTER}}", axis(start, end, current), current, DIM))
        return out + [Text(line, style="bold") for line in facts]

    def _facts(self, grad: np.ndarray, width: int, one_line: bool = False) -> list[str]:
        """Which layer and direction, the current step's gradient and the decay per step
        back: one line, or two if narrow, in a shorter wording if narrower still; with
        `one_line`, the decay only where it fits beside the gradient."""
        tr = self.trace
        t = min(self.step, tr.steps - 1)
        where = ""
        if tr.layers * tr.directions > 1:
            arrow = (" ←" if is_backward(tr, self.track) else " →") if tr.directions == 2 else ""
            where = f"L{self.track // tr.directions + 1}{arrow} "
        value = f"{grad[t]:.1e}" if one_line else f"= {grad[t]:.2e}"
        lines = [f"{where}‖∂L/∂h_{t + 1}‖ {value}"]  # 1-based, as the Sequence panel counts
        fit = self._once(("decay", self.track), lambda: decay(tr, self.track))
        if fit is None:
            return lines
        word = "shrinks" if fit.factor < 1 else "grows"
        full = f"{fit.source}: {word} ×{fit.factor:.3f} per step back"
        short = f"{fit.source}: ×{fit.factor:.3f}/step back"
        whole = math.exp(min(700.0, tr.steps * math.log(fit.factor)))  # a growth past float's range: 1e+304
        total = f", ×{whole:.1e} over {tr.steps} steps"  # only where it fits
        tight = f"×{fit.factor:.3f}/step back"
        for wording in (full, short, tight) if one_line else (full, short):  # on the first line, else a line of its own
            beside = ("  " if wording is tight else "   ") + wording
            if len(lines[0]) + len(beside) <= width:
                lines[0] += beside
                break
            if one_line:
                continue
            if len(wording) <= width or wording is short:
                lines.append(wording)
                break
        if len(lines[-1]) + len(total) <= width:
            lines[-1] += total
        return lines


def saliency(grad_x: np.ndarray, start: int, end: int) -> str:
    """‖∂L/∂x_t‖ over steps start..end as a sparkline, scaled to the sequence's largest."""
    finite_x = grad_x[np.isfinite(grad_x)]
    hi = float(finite_x.max()) if finite_x.size and finite_x.max() > 0 else 1.0
    sal = np.clip(np.nan_to_num(grad_x[start:end] / hi, nan=0.0, posinf=1.0), 0.0, 1.0)
    return "".join(SPARK[i] for i in (sal * (len(SPARK) - 1)).astype(int))


def marked(label: str, chars: str, current: int, style: str) -> Text:
    """A labelled row of one character per step, the current step's in bold yellow."""
    return Text.assemble((label, "dim"), (chars[:current], style), (chars[current : current + 1], "bold yellow"),
                         (chars[current + 1 :], style))


def marked_row(label: str, chars: str, current: int, style: Style) -> list[Segment]:
    """`marked` as segments, for a panel that redraws it at every step (no markup to parse)."""
    parts = ((label, DIM), (chars[:current], style), (chars[current : current + 1], CURRENT),
             (chars[current + 1 :], style))
    return [Segment(text, part_style) for text, part_style in parts if text]
