"""||dL/dh_t|| at every step on a log scale: vanishing or exploding, seen.

One column per step, bars measured in decades; under them the input saliency
||dL/dx_t|| as a sparkline. The headline number is the decay per step: the
factor by which the gradient shrinks (or grows) for each step it travels back,
fitted on log ||dL/dh_t|| before the last scored step.
"""

from __future__ import annotations

import math

import numpy as np
from rich.text import Text

from rnn_tui.core.trace_file import Trace
from rnn_tui.ui.widgets.lines import Line
from rnn_tui.ui.widgets.panel import TracePanel



BLOCKS = " ▁▂▃▄▅▆▇█"
SPARK = "▁▂▃▄▅▆▇█"


def decay_per_step(grad: np.ndarray, loss: np.ndarray) -> float | None:
    """exp(slope) of log||dL/dh_t|| against t, before the gradient's source.

    Fitted on the steps before the first scored step for a loss at the end only
    (many-to-one), else on the whole sequence. Returns None when undefined.
    """
    scored = np.flatnonzero(~np.isnan(loss))
    end = scored[0] + 1 if len(scored) else len(grad)
    g = grad[:end]
    ok = np.isfinite(g) & (g > 0)
    if ok.sum() < 3:
        return None
    t = np.arange(len(g))[ok]
    slope = np.polyfit(t, np.log(g[ok]), 1)[0]
    return float(np.exp(-slope))  # per step travelled *back* in time


def window(steps: int, step: int, width: int) -> tuple[int, int]:
    if steps <= width:
        return 0, steps
    start = min(max(0, step - width // 2), steps - width)
    return start, start + width


class Gradients(TracePanel):
    DEFAULT_CSS = """
    Gradients { height: 1fr; min-height: 5; }
    """

    def lines(self, width: int) -> list[Line]:
        tr = self.trace
        if tr is None:
            return [Text("waiting for the first trace…", style="dim")]
        grad = tr.grad_h[:, self.track]
        facts = self._facts(grad, width)
        cols, height = max(8, width - 7), max(2, self.size.height - 1 - len(facts))
        start, end = window(tr.steps, self.step, cols)
        current = min(self.step, tr.steps - 1) - start
        shown = grad[start:end] > 0  # NaN and 0 draw nothing; an exploded inf draws full height
        logs = np.log10(np.where(shown, grad[start:end], 1.0))
        all_logs = np.log10(grad[np.isfinite(grad) & (grad > 0)])
        top = math.ceil(float(all_logs.max())) if all_logs.size else 0
        bottom = math.floor(float(all_logs.min())) if all_logs.size else -1
        bottom = min(bottom, top - 1)
        span = top - bottom
        out: list[Line] = []
        for row in range(height):  # top row first
            row_low = bottom + span * (height - 1 - row) / height
            frac = np.where(shown, (logs - row_low) / (span / height), 0.0)
            bars = "".join(BLOCKS[i] for i in (np.clip(frac, 0, 1) * (len(BLOCKS) - 1)).astype(int))
            label = f"1e{top:+d} " if row == 0 else f"1e{bottom:+d} " if row == height - 1 else ""
            out.append(_marked(f"{label:>7}", bars, current, "cyan"))
        finite_x = tr.grad_x[np.isfinite(tr.grad_x)]
        hi = float(finite_x.max()) if finite_x.size and finite_x.max() > 0 else 1.0
        sal = np.clip(np.nan_to_num(tr.grad_x[start:end] / hi, nan=0.0, posinf=1.0), 0.0, 1.0)
        spark = "".join(SPARK[i] for i in (sal * (len(SPARK) - 1)).astype(int))
        out.append(_marked(f"{'∂L/∂x ':>7}", spark, current, "magenta"))
        return out + [Text(line, style="bold") for line in facts]

    def _facts(self, grad: np.ndarray, width: int) -> list[str]:
        """The current step's gradient and the decay per step: one line, or two if narrow."""
        tr = self.trace
        t = min(self.step, tr.steps - 1)
        facts = [f"‖∂L/∂h_{t}‖ = {grad[t]:.2e}"]
        decay = decay_per_step(grad, tr.loss)
        if decay is not None:
            word = "shrinks" if decay < 1 else "grows"
            facts.append(f"{word} ×{decay:.3f} per step back, ×{decay ** tr.steps:.1e} over {tr.steps}")
        one_line = "   ".join(facts)
        return [one_line] if len(one_line) <= width else facts


def _marked(label: str, chars: str, current: int, style: str) -> Text:
    """A labelled row of one character per step, the current step's in bold yellow."""
    return Text.assemble((label, "dim"), (chars[:current], style), (chars[current : current + 1], "bold yellow"),
                         (chars[current + 1 :], style))
