"""||dL/dh_t|| at every step on a log scale: vanishing or exploding, seen.

One column per step, bars measured in decades; under them the input saliency
||dL/dx_t|| as a sparkline. The headline number is the decay per step: the
factor by which the gradient shrinks (or grows) for each step it travels back,
fitted on log ||dL/dh_t|| before the last scored step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import math

import numpy as np
from rich.text import Text
from textual.widget import Widget

if TYPE_CHECKING:  # torch loads in the background; the first frame must not wait
    from rnn_tui.core.trace import Trace


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
    ok = g > 0
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


class Gradients(Widget):
    DEFAULT_CSS = """
    Gradients { height: 1fr; min-height: 5; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.trace: Trace | None = None
        self.step = 0
        self.track = 0

    def show(self, trace: Trace | None, step: int, track: int) -> None:
        self.trace, self.step, self.track = trace, step, track
        self.refresh()

    def render(self) -> Text:
        tr = self.trace
        if tr is None:
            return Text("waiting for the first trace…", style="dim")
        width, height = max(8, self.size.width - 7), max(2, self.size.height - 2)
        grad = tr.grad_h[:, self.track]
        start, end = window(tr.steps, self.step, width)
        logs = np.log10(np.maximum(grad, 1e-30))
        finite = grad > 0
        top = math.ceil(float(logs[finite].max())) if finite.any() else 0
        bottom = math.floor(float(logs[finite].min())) if finite.any() else -1
        bottom = min(bottom, top - 1)
        span = top - bottom
        out = Text(no_wrap=True, overflow="crop")
        for row in range(height):  # top row first
            row_low = bottom + span * (height - 1 - row) / height
            label = f"1e{top:+d} " if row == 0 else f"1e{bottom:+d} " if row == height - 1 else ""
            out.append(f"{label:>7}", style="dim")
            for s in range(start, end):
                frac = (logs[s] - row_low) / (span / height) if finite[s] else 0.0
                char = BLOCKS[int(np.clip(frac, 0, 1) * (len(BLOCKS) - 1))]
                out.append(char, style="bold yellow" if s == self.step else "cyan")
            out.append("\n")
        sal = tr.grad_x
        hi = float(sal.max()) or 1.0
        out.append(f"{'∂L/∂x ':>7}", style="dim")
        for s in range(start, end):
            out.append(SPARK[int(sal[s] / hi * (len(SPARK) - 1))], style="bold yellow" if s == self.step else "magenta")
        out.append("\n")
        decay = decay_per_step(grad, tr.loss)
        t = min(self.step, tr.steps - 1)
        facts = f"‖∂L/∂h_{t}‖ = {grad[t]:.2e}"
        if decay is not None:
            word = "shrinks" if decay < 1 else "grows"
            facts += f"   {word} ×{decay:.3f} per step back   ×{decay ** tr.steps:.1e} over {tr.steps}"
        out.append(facts, style="bold")
        return out
