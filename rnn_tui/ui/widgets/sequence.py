"""The input sequence, the current step, and what the model predicted there.

Tokens are tinted by the selected unit's activation (blue negative, orange
positive): the classic picture of a quote- or bracket-tracking cell. Under them,
that unit's value over time as a sparkline aligned with the tokens.

The strip shows as many tokens as fit, the current step among them. Words (any
vocabulary with multi-character tokens besides markers like <go>) are drawn
apart; characters stay compact. Padding before or after a left-padded sentence is
folded into one mark that says so; the step counter still counts every step.
A step that is not scored (a many-to-one task before its last step) says so
rather than showing its output as if it were the answer.
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.message import Message

from rnn_tui.core.kinds import MANY_TO_ONE
from rnn_tui.core.trace_file import Trace
from rnn_tui.ui import colors
from rnn_tui.ui.labels import PAD, content_span, token_label, word_level
from rnn_tui.ui.widgets.lines import Line
from rnn_tui.ui.widgets.panel import TracePanel
from rnn_tui.ui.widgets.series_plot import plot_rows, step_at, value_range


SPARK = "▁▂▃▄▅▆▇█"
CURRENT, BOLD, DIM = Style(bold=True, reverse=True), Style(bold=True), Style(dim=True)
FOLDED = Style(dim=True, italic=True)
SERIES, PREDICTED, MARKER = Style(color="grey62"), Style(color="cyan", bold=True), Style(bgcolor="grey30")
PLOT_MIN_ROWS = 5  # a forecast is drawn as a plot when the panel has this many rows
NOT_SCORED = "not scored here; the answer is read at the last step"


def _prediction(trace: Trace, t: int, labels: list[str], target, ranked: str = "top") -> str:
    """What the output at step t says ('top-3: …', or the classes bare when `ranked` is
    ''), with the target when one is given."""
    out = trace.outputs[t]
    if trace.kind in ("forecast", "regress"):
        shown = f"target {target:+.3f}" if target is not None else ""
        return f"predicted {float(out[0]):+.3f}  {shown}".rstrip()
    top = np.argsort(out)[::-1][:3]
    line = " · ".join(f"{token_label(labels[i])} {out[i]:.0%}" for i in top)
    if ranked:
        line = f"{ranked}-{len(top)}: {line}"
    if target is not None and target >= 0:
        line = f"target {token_label(labels[target])} {'✓' if top[0] == target else '✗'}  " + line
    return line


def describe_step(trace: Trace, t: int, names: list[str] | None, vocab: list[str] | None) -> str:
    """One line: the model's output at step t against the target, or why there is none."""
    out = trace.outputs[t]
    if trace.decoder_start is not None and t < trace.decoder_start:
        return f"encoder step {t + 1}/{trace.decoder_start}: reading, no output yet"
    if np.all(np.isnan(out)):
        return "no output at this step (a bidirectional model answers once it has read everything)"
    if trace.kind == "core":
        return f"‖h_t‖ = {np.linalg.norm(trace.h[t, -1]):.3f}"
    labels = names or vocab or [str(i) for i in range(len(out))]
    scored = t >= len(trace.loss) or not np.isnan(trace.loss[t])
    if not scored:
        # The output of a step nobody scores is not an answer: say so, and what it would be.
        if trace.kind in MANY_TO_ONE:
            return f"{NOT_SCORED} · if it ended here: {_prediction(trace, t, labels, None, ranked='')}"
        return f"not scored here · {_prediction(trace, t, labels, None)}"
    target = None
    if trace.targets is not None:
        tgt = trace.targets
        if tgt.ndim == 0:
            target = tgt.item()
        else:
            index = t - (trace.decoder_start or 0)
            target = tgt[index].item() if index < len(tgt) else None
    return _prediction(trace, t, labels, target)


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
        self._items_for: Trace | None = None
        # What the strip draws, once per trace: (text, first step, end step, padding?)
        self._items: list[tuple[str, int, int, bool]] = []
        self._first = 0  # the first step that is not leading padding

    def _strip_items(self) -> list[tuple[str, int, int, bool]]:
        """The strip's pieces: one per token, each leading or trailing run of <pad> folded into one."""
        tr = self.trace
        if self._items_for is tr:
            return self._items
        labels, steps = self.labels, tr.steps
        first, end = content_span(tr)
        words = word_level(tr)
        items: list[tuple[str, int, int, bool]] = []
        if first > 0:
            items.append((f"‹{first}×{PAD}: padding hidden›", 0, first, True))
        for s in range(first, end):
            items.append((labels[s], s, s + 1, False))
        if end < steps:
            items.append((f"‹{steps - end}×{PAD}: padding hidden›", end, steps, True))
        # Words apart; characters together, but a marker (<go>, a folded run) is kept apart from them.
        spaced = []
        for i, (text, s0, s1, pad) in enumerate(items):
            apart = words or len(text) > 1 or (i + 1 < len(items) and len(items[i + 1][0]) > 1)
            spaced.append((text + " " if apart else text, s0, s1, pad))
        self._items, self._items_for, self._first = spaced, tr, first
        return spaced

    def _current_item(self, items, t: int) -> int:
        """The index of the item that holds step t."""
        if t < self._first:
            return 0  # the folded leading padding
        return min(len(items) - 1, (1 if self._first > 0 else 0) + t - self._first)

    @staticmethod
    def _window(widths: list[int], current: int, width: int) -> tuple[int, int]:
        """The range of items that fits in `width` columns, the current one in view:
        what came before gets up to half the room, what comes after the rest, and
        whichever side runs out first leaves its room to the other."""
        if not widths:
            return 0, 0
        start, end = current, current + 1
        used = before = widths[current]
        grew = True
        while grew:
            grew = False
            if end < len(widths) and used + widths[end] <= width:
                used, end, grew = used + widths[end], end + 1, True
            if start > 0 and used + widths[start - 1] <= width and before + widths[start - 1] <= width // 2:
                used, before, start, grew = used + widths[start - 1], before + widths[start - 1], start - 1, True
        while start > 0 and used + widths[start - 1] <= width:
            used, start = used + widths[start - 1], start - 1
        while end < len(widths) and used + widths[end] <= width:
            used, end = used + widths[end], end + 1
        return start, end

    def _plots(self) -> bool:
        """A forecast is drawn as the series against the one-step predictions."""
        tr = self.trace
        return (tr is not None and tr.kind == "forecast" and tr.inputs is not None
                and self.size.height >= PLOT_MIN_ROWS)

    def _head(self, tr: Trace, t: int) -> Text:
        return Text.assemble(
            (f"step {t + 1}/{tr.steps}  ", "bold"),
            (f"input {self.labels[t]!s}  ", ""),
            describe_step(tr, t, tr.class_names, tr.vocab),
            no_wrap=True, overflow="ellipsis",
        )

    def _forecast_lines(self, tr: Trace, t: int, width: int) -> list[Line]:
        """The series x_t, the model's prediction of the next value at each step, and the
        current step's column; the prediction at t is drawn at t + 1, where its target is."""
        series = tr.inputs[:, 0].astype(float)
        predicted = np.full(tr.steps, np.nan)
        predicted[1:] = tr.outputs[:-1, 0]
        lo, hi = value_range(series, predicted)
        rows = plot_rows([(series, SERIES), (predicted, PREDICTED)], width, self.size.height - 2, t, lo, hi,
                         MARKER)
        legend = Text.assemble(("⣀ series x_t", SERIES), ("   ⣀ predicted, one step ahead", PREDICTED),
                               ("   ▒ this step", "on grey30"), (f"   y {lo:+.2f}..{hi:+.2f}", "dim"),
                               no_wrap=True, overflow="ellipsis")
        return [self._head(tr, t), *rows, legend]

    def lines(self, width: int) -> list[Line]:
        if self.trace is None or not self.labels:
            return [Text("loading…", style="dim")]
        tr, width = self.trace, max(1, width)
        t = min(self.step, tr.steps - 1)
        if self._plots():
            return self._forecast_lines(tr, t, width)
        items = self._strip_items()
        current = self._current_item(items, t)
        start, end = self._window_near(items, current, width)
        unit = min(self.unit, tr.hidden - 1)
        values = tr.h[:, min(self.track, tr.h.shape[1] - 1), unit]
        levels = colors.diverging_levels(values)
        scale = colors.diverging(self.dark)
        tokens: list[Segment] = []
        spark: list[Segment] = []
        self._spans, x = [], 0
        lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
        sparks = np.nan_to_num((values - lo) / (hi - lo + 1e-12) * (len(SPARK) - 1)).astype(int)
        for text, s0, s1, pad in items[start:end]:
            here = s0 <= t < s1
            if pad:  # a folded run of padding: its spark is the current step's when it is here
                tokens.append(Segment(text, CURRENT if here else FOLDED))
                spark.append(Segment((SPARK[sparks[t]] if here else "·") * len(text), BOLD if here else DIM))
            else:
                tokens.append(Segment(text, CURRENT if here else colors.background(scale[levels[s0]])))
                spark.append(Segment(SPARK[sparks[s0]] * len(text), BOLD if here else DIM))
            self._spans.append((x, x + len(text), s0))
            x += len(text)
        head = self._head(tr, t)
        spark_label = Text(f"▁…█ and tint: unit {unit}'s h, {lo:+.2f}..{hi:+.2f} (blue < 0 < orange)",
                           style="dim", no_wrap=True, overflow="ellipsis")
        return [head, tokens, spark, spark_label]

    def _window_near(self, items, current: int, width: int) -> tuple[int, int]:
        """The window, measured over the items near the current one only (no more than
        `width` fit on either side): a long sequence costs no more than a short one."""
        lo, hi = max(0, current - width), min(len(items), current + width + 1)
        start, end = self._window([len(text) for text, *_ in items[lo:hi]], current - lo, width)
        return lo + start, lo + end

    def on_click(self, event) -> None:
        if self._plots() and 1 <= event.y < self.size.height - 1:
            self.post_message(self.StepClicked(step_at(event.x, self.size.width, self.trace.steps)))
            return
        if event.y not in (1, 2):
            return
        for x0, x1, step in self._spans:
            if x0 <= event.x < x1:
                self.post_message(self.StepClicked(step))
                return
