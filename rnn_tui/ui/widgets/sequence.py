"""The input sequence, the current step, and what the model predicted there.

Tokens are tinted by the selected unit's activation (blue negative, orange
positive): the classic picture of a quote- or bracket-tracking cell. Under them,
that unit's value over time as a sparkline aligned with the tokens.
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.message import Message

from rnn_tui.core.trace_file import Trace
from rnn_tui.ui import colors
from rnn_tui.ui.labels import token_label
from rnn_tui.ui.widgets.lines import Line
from rnn_tui.ui.widgets.panel import TracePanel


SPARK = "▁▂▃▄▅▆▇█"
CURRENT, BOLD, DIM = Style(bold=True, reverse=True), Style(bold=True), Style(dim=True)


def describe_step(trace: Trace, t: int, names: list[str] | None, vocab: list[str] | None) -> str:
    """One line: the model's output at step t against the target."""
    out = trace.outputs[t]
    if trace.decoder_start is not None and t < trace.decoder_start:
        return f"encoder step {t + 1}/{trace.decoder_start}: reading, no output yet"
    if np.all(np.isnan(out)):
        return "no output at this step (a bidirectional model answers once it has read everything)"
    target = None
    if trace.targets is not None:
        tgt = trace.targets
        if tgt.ndim == 0:
            target = tgt.item()
        else:
            index = t - (trace.decoder_start or 0)
            target = tgt[index].item() if index < len(tgt) else None
    if trace.kind in ("forecast", "regress", "core"):
        if trace.kind == "core":
            return f"‖h_t‖ = {np.linalg.norm(trace.h[t, -1]):.3f}"
        pred = float(out[0])
        final = trace.kind == "regress" and t == trace.steps - 1
        shown = f"target {target:+.3f}" if target is not None and (trace.kind == "forecast" or final) else ""
        return f"predicted {pred:+.3f}  {shown}".rstrip()
    labels = names or vocab or [str(i) for i in range(len(out))]
    top = np.argsort(out)[::-1][:3]
    parts = [f"{token_label(labels[i])} {out[i]:.0%}" for i in top]
    line = "top-3: " + " · ".join(parts)
    if target is not None and target >= 0:
        mark = "✓" if top[0] == target else "✗"
        line = f"target {token_label(labels[target])} {mark}  " + line
    return line


class Sequence(TracePanel, can_focus=False):
    DEFAULT_CSS = """
    Sequence { height: 4; }
    """

    class StepClicked(Message):
        def __init__(self, step: int) -> None:
            self.step = step
            super().__init__()

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._spans: list[tuple[int, int, int]] = []  # (x0, x1, step) of drawn tokens

    def _window(self, width: int) -> tuple[int, int]:
        """The range of tokens that fits, with the current step in view."""
        widths = [len(label) + (1 if len(label) > 1 else 0) for label in self.labels]
        start = end = self.step
        used = widths[self.step] if widths else 0
        while True:
            grew = False
            if end + 1 < len(widths) and used + widths[end + 1] <= width:
                end, used, grew = end + 1, used + widths[end + 1], True
            if start > 0 and used + widths[start - 1] <= width and (self.step - start) < width // 2:
                start, used, grew = start - 1, used + widths[start - 1], True
            if not grew:
                return start, end + 1

    def lines(self, width: int) -> list[Line]:
        if self.trace is None or not self.labels:
            return [Text("loading…", style="dim")]
        tr, width = self.trace, max(1, width)
        t = min(self.step, tr.steps - 1)
        start, end = self._window(width)
        values = tr.h[:, self.track, min(self.unit, tr.hidden - 1)]
        levels = colors.diverging_levels(values)
        scale = colors.diverging(self.dark)
        tokens: list[Segment] = []
        spark: list[Segment] = []
        self._spans, x = [], 0
        lo, hi = float(np.min(values)), float(np.max(values))
        sparks = np.nan_to_num((values - lo) / (hi - lo + 1e-12) * (len(SPARK) - 1)).astype(int)
        for s in range(start, end):
            label = self.labels[s] + (" " if len(self.labels[s]) > 1 else "")
            tokens.append(Segment(label, CURRENT if s == t else colors.background(scale[levels[s]])))
            spark.append(Segment(SPARK[sparks[s]] * len(label), BOLD if s == t else DIM))
            self._spans.append((x, x + len(label), s))
            x += len(label)
        head = Text.assemble(
            (f"step {t + 1}/{tr.steps}  ", "bold"),
            (f"input {self.labels[t]!s}  ", ""),
            describe_step(tr, t, tr.class_names, tr.vocab),
            no_wrap=True, overflow="ellipsis",
        )
        spark_label = Text(f"unit {self.unit}: {lo:+.2f}..{hi:+.2f}", style="dim", no_wrap=True)
        return [head, tokens, spark, spark_label]

    def on_click(self, event) -> None:
        if event.y not in (1, 2):
            return
        for x0, x1, step in self._spans:
            if x0 <= event.x < x1:
                self.post_message(self.StepClicked(step))
                return
