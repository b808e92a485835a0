"""Live training: the numbers, the settings, and loss curves on a log scale.

One run: a line of progress and quality (step, seq/s, solved, val loss against the
naive baseline, accuracy, best), a line of the settings a user changes while it
trains (lr, clip, optimizer, batch), sparklines of val loss and ‖g‖, and the chart.
Compare mode: a small table with a row per architecture, the settings, and one curve
per architecture, each with its own glyph (the table's rows carry the same glyphs).

The text is one LineWidget whose height follows what it has to say and the room the
panel has; the chart (chart.py) takes the rest. Curves are downsampled to at most
a few hundred points and redrawn only when an evaluation adds one.
"""

from __future__ import annotations

import math
import textwrap
from itertools import groupby

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Size

from rnn_tui.ui.widgets.chart import LossChart, Series
from rnn_tui.ui.widgets.lines import Line, LineWidget

MAX_POINTS = 300
SPARK = "▁▂▃▄▅▆▇█"
COLORS = {"rnn": "red", "lstm": "cyan", "gru": "green", "esn": "magenta"}
MARKERS = {"rnn": "x", "lstm": "o", "gru": "+", "esn": "*"}
SPARE_MARKERS = "#@%&="
PAST_COLORS = ("yellow", "magenta", "bright_blue", "bright_green", "orange3")  # overlaid past runs
CHART_MIN_ROWS = 6  # the chart keeps this many rows when the text would take them
TEXT_MIN_ROWS = 3  # ... unless the text would keep fewer than this


def downsample(xs: list, ys: list, limit: int = MAX_POINTS) -> tuple[list, list]:
    if len(xs) <= limit:
        return xs, ys
    stride = math.ceil(len(xs) / limit)
    return xs[::stride] + [xs[-1]], ys[::stride] + [ys[-1]]


def marker(run: str, index: int = 0) -> str:
    return MARKERS.get(run) or SPARE_MARKERS[index % len(SPARE_MARKERS)]


def _num(value) -> float | None:
    """A finite float, or None."""
    try:
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return v if math.isfinite(v) else None


def best_val(history: list[dict]) -> float | None:
    vals = [v for v in (_num(r.get("val_loss")) for r in history) if v is not None]
    return min(vals) if vals else None


def solved_step(history: list[dict], goal: dict | None) -> int | None:
    """The step of the first evaluation that met the goal ({"metric", "direction", "goal"})."""
    if not goal:
        return None
    metric, target = goal.get("metric"), _num(goal.get("goal"))
    if metric is None or target is None:
        return None
    below = goal.get("direction") == "below"
    for row in history:
        v = _num(row.get(metric))
        if v is not None and (v < target if below else v > target):
            return row.get("step")
    return None


def compact(n) -> str:
    """12 -> 12, 12345 -> 12.3k, 2_500_000 -> 2.5M."""
    v = _num(n)
    if v is None:
        return "—"
    if abs(v) < 10_000:
        return f"{v:,.0f}"
    if abs(v) < 1_000_000:
        return f"{v / 1000:.1f}k"
    return f"{v / 1_000_000:.2g}M"


def _g(value, spec: str = ".4g") -> str:
    v = _num(value)
    return "—" if v is None else format(v, spec)


# ------------------------------------------------------------------ one run


def status_line(snap, baseline: dict | None, width: int = 10_000, solved_at: int | None = None) -> Text:
    """Progress, then how good it is, on one line: what does not fit at `width` is left
    out, least important first (best, naive, seq/s, accuracy), never the step."""
    m = snap.metrics or {}
    parts: list[tuple[int, Text]] = []  # (importance: lower is kept longer, text)
    parts.append((0, Text(f"step {snap.step:,}", style="bold")))
    parts.append((4, Text(f"{snap.seq_per_s:,.0f} seq/s")))
    if snap.status == "paused":
        parts.append((1, Text("⏸ paused (t trains)", style="bold yellow")))
    if snap.diverged:
        parts.append((1, Text(f"DIVERGED at step {snap.diverged.get('step')}", style="bold white on red")))
    elif snap.solved:
        at = f" at {solved_at:,}" if isinstance(solved_at, int) else ""
        parts.append((1, Text(f"✓ SOLVED{at}", style="bold black on green")))
    if m.get("val_loss") is not None:
        parts.append((2, Text(f"val {_g(m['val_loss'])}")))
        if baseline and _num(baseline.get("val_loss")) is not None:
            parts.append((5, Text(f"(naive {baseline['val_loss']:.3g})", style="dim")))
    if m.get("accuracy") is not None and _num(m["accuracy"]) is not None:
        parts.append((3, Text(f"acc {m['accuracy']:.1%}")))
    best = best_val(snap.history)
    if best is not None:
        parts.append((6, Text(f"best {best:.4g}", style="dim")))
    keep = list(parts)
    while len(keep) > 1 and sum(t.cell_len for _, t in keep) + 2 * (len(keep) - 1) > width:
        keep.remove(max(keep, key=lambda p: p[0]))
    text = Text(no_wrap=True, overflow="crop")
    for i, (_, part) in enumerate(keep):
        if i:
            text.append("  ")
        text.append_text(part)
    return text


def knobs_line(train: dict) -> Text:
    """The settings a user changes while training: lr, clip, optimizer, batch (and
    momentum, weight decay, dropout where they apply)."""
    t = train or {}
    clip = t.get("clip")
    fields = [("lr", _g(t.get("lr"), ".3g")), ("clip", _g(clip, "g") if clip else "off"),
              ("optimizer", str(t.get("optimizer", "?"))), ("batch", str(t.get("batch_size", "?")))]
    if t.get("optimizer") == "sgd" and _num(t.get("momentum")):
        fields.append(("momentum", _g(t["momentum"], "g")))
    if _num(t.get("weight_decay")):
        fields.append(("wd", _g(t["weight_decay"], ".2g")))
    if _num(t.get("dropout")):
        fields.append(("dropout", _g(t["dropout"], "g")))
    text = Text(no_wrap=True, overflow="crop")
    for i, (name, value) in enumerate(fields):
        text.append(("  " if i else "") + name + " ", style="dim")
        text.append(value, style="bold")
    return text


def spark_line(label: str, values: list, width: int, color: str, clip=None) -> Text:
    """The most recent values as a log-scale sparkline, the last and their range. With `clip`
    (a gradient-norm threshold, 0 or None: off), the bars above it are red, and before the
    range come the threshold, the bar height it lies at and how many bars are above it."""
    clip = _num(clip)
    clip = clip if clip and clip > 0 else None
    values = [v for v in (_num(v) for v in values) if v is not None and v > 0]
    values = values[-max(8 if clip else 1, width - len(label) - (44 if clip else 20)):]
    if not values:
        return Text(label + "—", style="dim", no_wrap=True)
    logs = [math.log10(v) for v in values]
    lo, hi = min(logs), max(logs)

    def bar(x: float) -> str:
        return SPARK[int((x - lo) / (hi - lo + 1e-12) * (len(SPARK) - 1))]

    text = Text.assemble((label, "dim"), no_wrap=True, overflow="crop")
    for above, run in groupby(zip(values, logs), key=lambda p: clip is not None and p[0] > clip):
        text.append("".join(bar(x) for _, x in run), style="bold red" if above else color)
    text.append(f" {values[-1]:.3g}", style="dim")
    if clip is not None:  # before the range: where the line is cropped, the range goes first
        over = sum(v > clip for v in values)
        level = math.log10(clip)
        where = f" at {bar(level)}" if lo <= level <= hi else ""
        text.append(f"  clip {clip:g}{where}, {over} above ", style="bold red" if over else "dim")
    text.append(f" ({min(values):.2g}..{max(values):.2g})", style="dim")
    return text


# ------------------------------------------------------------------ compare mode

TABLE = "{:<7}{:>8}{:>9}{:>8}{:>10}{:>10}  {}"  # arch, params, step, seq/s, val, best, solved


def table_header() -> Text:
    return Text(TABLE.format("  arch", "params", "step", "seq/s", "val loss", "best val", "solved at"),
                style="bold dim", no_wrap=True, overflow="crop")


def _verdict(snap, solved_at) -> tuple[str, str]:
    if snap.diverged:
        return f"✗ diverged at {snap.diverged.get('step')}", "bold red"
    if isinstance(solved_at, int):
        return f"✓ {solved_at:,}", "bold green"
    if snap.solved:
        return "✓", "bold green"
    return "—", "dim"


def table_row(run: str, index: int, snap, parameters, solved_at) -> Text:
    """One architecture: its glyph and name (in its colour), size, progress and quality."""
    verdict, style = _verdict(snap, solved_at)
    paused = " ⏸" if snap.status == "paused" else ""
    cells = TABLE.format(f"{marker(run, index)} {run}", compact(parameters), f"{snap.step:,}",
                         compact(snap.seq_per_s), _g((snap.metrics or {}).get("val_loss")),
                         _g(best_val(snap.history)), "")
    head = len(f"{marker(run, index)} {run}")
    return Text.assemble((cells[:head], f"bold {COLORS.get(run, 'white')}"), cells[head:], (verdict, style),
                         (paused, "yellow"), no_wrap=True, overflow="crop")


def table_row_compact(run: str, index: int, snap, parameters, solved_at) -> Text:
    """The same with its own labels, for when there is no room for the header."""
    verdict, style = _verdict(snap, solved_at)
    size = f"  {compact(parameters)} params" if _num(parameters) is not None else ""
    return Text.assemble((f"{marker(run, index)} {run:<5}", f"bold {COLORS.get(run, 'white')}"),
                         f"val {_g((snap.metrics or {}).get('val_loss'), '.3g')}",
                         f"  best {_g(best_val(snap.history), '.3g')}",
                         (f"  {verdict}" if verdict != "—" else "", style),
                         (f"  step {snap.step:,}  {compact(snap.seq_per_s)} seq/s{size}", "dim"),
                         no_wrap=True, overflow="crop")


# ------------------------------------------------------------------ the text


def panel_lines(snaps: dict, baseline: dict | None, focus_run: str, infos: dict | None, solved: dict,
                width: int, rows: int) -> list[Text]:
    """The panel's text, most important first, for `rows` rows at `width` columns.
    `solved`: run -> the step it was first seen solved at (when the goal is unknown)."""
    if not snaps:
        return [Text("training starts…", style="dim")][:max(rows, 0)]
    snap = snaps.get(focus_run) or next(iter(snaps.values()))
    infos = infos or {}

    def solved_at(run: str, s) -> int | None:
        info = infos.get(run)
        at = solved_step(s.history, getattr(info, "goal", None)) if info is not None else None
        return at if at is not None else solved.get(run)

    def params(run: str):
        return getattr(infos.get(run), "parameters", None)

    clip = (snap.train or {}).get("clip")
    grad = spark_line("‖g‖ pre-clip ", snap.grad_norms, width, "yellow", clip)
    if len(snaps) == 1:
        out = [status_line(snap, baseline, width, solved_at(focus_run, snap)), knobs_line(snap.train),
               spark_line("val loss     ", [r.get("val_loss") for r in snap.history], width, "cyan"), grad]
    elif rows >= len(snaps) + 2:
        out = [table_header()]
        out += [table_row(run, i, s, params(run), solved_at(run, s)) for i, (run, s) in enumerate(snaps.items())]
        out += [knobs_line(snap.train), spark_line(f"‖g‖ {focus_run:<8} ", snap.grad_norms, width, "yellow", clip)]
    else:
        out = [table_row_compact(run, i, s, params(run), solved_at(run, s)) for i, (run, s) in enumerate(snaps.items())]
        out.append(knobs_line(snap.train))
    return out[:max(rows, 0)]


def wanted_rows(snaps: dict) -> int:
    """How many lines the text has with room for all of them."""
    if not snaps:
        return 1
    return 4 if len(snaps) == 1 else len(snaps) + 3


class TrainingText(LineWidget):
    """The numbers and settings: as many lines as there are, in the room the chart leaves."""

    DEFAULT_CSS = """
    TrainingText { height: auto; }
    """

    def __init__(self, chart: LossChart | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.chart = chart
        self.snaps: dict = {}
        self.baseline: dict | None = None
        self.focus_run = "main"
        self.infos: dict | None = None
        self.solved: dict[str, int] = {}
        self.note = ""  # said instead of the numbers where nothing trains

    def show(self, snaps: dict, baseline: dict | None, focus_run: str, infos: dict | None,
             solved: dict[str, int]) -> None:
        reshaped = wanted_rows(snaps) != wanted_rows(self.snaps)
        self.snaps, self.baseline, self.focus_run, self.infos, self.solved = dict(snaps), baseline, focus_run, \
            infos, solved
        if self.is_mounted:
            self.changed(layout=reshaped)

    def budget(self, container_height: int) -> int:
        """The rows the text may take out of the panel's."""
        rows = max(0, container_height)
        chart_shown = self.chart is not None and self.chart.display
        if chart_shown and rows - CHART_MIN_ROWS >= TEXT_MIN_ROWS:
            rows -= CHART_MIN_ROWS
        return rows

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return min(wanted_rows(self.snaps), self.budget(container.height))

    def lines(self, width: int) -> list[Line]:
        if self.note:
            return [Text(line, style="dim") for line in textwrap.wrap(self.note, max(10, width))]
        return panel_lines(self.snaps, self.baseline, self.focus_run, self.infos, self.solved, width,
                           self.size.height)


class TrainingPanel(Vertical):
    DEFAULT_CSS = """
    TrainingPanel { height: 1fr; }
    TrainingPanel > TrainingText { height: auto; }
    TrainingPanel > LossChart { height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.chart = LossChart(id="loss-plot")
        self.text = TrainingText(self.chart, id="train-status")
        self._solved: dict[tuple[str, int], int] = {}  # (run, uid) -> the step it was first seen solved at
        self._plotted = None  # what the chart was last drawn from
        self.overlay: list[Series] = []  # past runs' curves (the runs screen's overlay)

    def compose(self) -> ComposeResult:
        yield self.text
        yield self.chart

    def update_runs(self, snaps: dict, baseline: dict | None, goal_text: str, focus_run: str,
                    infos: dict | None = None) -> None:
        """Show the runs' snapshots. `infos` (run -> RunInfo), when given, brings each
        run's parameter count and goal."""
        if not snaps or not self.is_attached:  # nothing yet, or closing down
            return
        for run, s in snaps.items():
            if s.solved:
                self._solved.setdefault((run, s.uid), (s.metrics or {}).get("step", s.step))
        solved = {run: self._solved[(run, s.uid)] for run, s in snaps.items() if (run, s.uid) in self._solved}
        self.text.show(snaps, baseline, focus_run, infos, solved)
        if self.border_subtitle != f"goal: {goal_text}":  # setting it repaints the box
            self.border_subtitle = f"goal: {goal_text}"
        self._snaps, self._baseline = snaps, baseline
        self._draw()

    def inspect_only(self, what: str) -> None:
        """Nothing trains: say what is shown instead of waiting for training numbers."""
        self.text.note = f"inspect-only: {what}, as it is; nothing trains here, so there are no loss curves."
        self.text.changed(layout=True)
        self.text.styles.height = "1fr"
        self.chart.display = False

    def set_overlay(self, curves: dict[str, list[dict]]) -> None:
        """Past runs' validation curves (label -> evaluation rows) drawn under the live
        ones, each with its own glyph; an empty dict takes them off."""
        self.overlay = [Series(label, *downsample([r["step"] for r in rows if r.get("step") is not None],
                                                  [r.get("val_loss") for r in rows if r.get("step") is not None]),
                               color=PAST_COLORS[i % len(PAST_COLORS)], marker=SPARE_MARKERS[i % len(SPARE_MARKERS)])
                        for i, (label, rows) in enumerate(curves.items())]
        self._draw()

    def _draw(self) -> None:
        snaps = getattr(self, "_snaps", None)
        if not snaps:
            return
        key = ([(run, s.uid, len(s.history), s.history[-1].get("step") if s.history else None)
                for run, s in snaps.items()], self._baseline, [id(c) for c in self.overlay])
        if key != self._plotted:  # the curves change only at evaluations
            self._plotted = key
            series, baseline = self.curves(snaps, self._baseline)
            self.chart.show(self.overlay + series, baseline)

    @staticmethod
    def curves(snaps: dict, baseline: dict | None) -> tuple[list[Series], float | None]:
        series = []
        for i, (run, s) in enumerate(snaps.items()):
            rows = [r for r in s.history if r.get("step") is not None]
            xs, ys = downsample([r["step"] for r in rows], [r.get("val_loss") for r in rows])
            if len(snaps) == 1:
                tx, ty = downsample([r["step"] for r in rows], [r.get("loss") for r in rows])
                series.append(Series("train", tx, ty, color="grey62", dashed=True))
                series.append(Series("val", xs, ys, color="cyan"))
            else:
                series.append(Series(run, xs, ys, color=COLORS.get(run, "white"), marker=marker(run, i)))
        return series, (baseline or {}).get("val_loss")
