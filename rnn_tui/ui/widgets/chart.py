"""The loss chart: loss on a log scale against the training step, drawn in braille.

Each character cell holds a 2×4 grid of braille dots, so a 70×12 panel draws a
curve at 140×40 dots. The y axis is labelled at decades (every k-th when they are
many; 1-2-5 or finer ticks when the curves span less than two), the x axis at
whole steps. The naive baseline is a labelled horizontal line. Curves are told
apart by more than colour: the train curve is dashed, and in compare mode each
run stamps its own glyph along its curve and at its end, named in the legend and
beside the curve's last point.

`render_chart` is pure and never raises, whatever the size (0 rows, 1 column) or
the data (empty, one point, NaN, inf, zero or negative values, 600 decades):
what a log scale cannot draw is left out. `LossChart` is the widget: it builds
its lines only when its data or size changes and repaints from the cached strips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from rnn_tui.ui.widgets.lines import Line, LineWidget

BRAILLE = np.array([chr(0x2800 + bits) for bits in range(256)], dtype=object)
BRAILLE[0] = " "
# The bit of the dot at [sub-row, sub-column] of a cell (sub-row 0 is the top).
DOTS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.int64)
MIN_LOG_SPAN = 0.1  # decades: a flat curve still gets an axis a few ticks tall
DECADE_STRIDES = (1, 2, 3, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000)
DIM, AXIS = Style(dim=True), Style(dim=True)
BASELINE_COLOR = "dark_orange"
BASELINE_CHAR = "─"


@dataclass(frozen=True)
class Series:
    """One curve: points (x, y) with y > 0 drawn, the rest left out."""

    label: str
    xs: Sequence
    ys: Sequence
    color: str = "cyan"
    marker: str = ""  # a glyph stamped along the curve and on its last point ("" none)
    dashed: bool = False  # drawn in dashes (told apart from a solid curve without colour)

    @property
    def key(self) -> str:
        """What the legend shows before the label."""
        return self.marker or ("┄" if self.dashed else "━")


# ------------------------------------------------------------------ numbers


def log_points(xs: Iterable, ys: Iterable) -> tuple[np.ndarray, np.ndarray]:
    """(x, log10 y) of the points a log scale can draw: finite x, finite y > 0."""
    px, py = [], []
    for x, y in zip(xs, ys):
        try:
            fx, fy = float(x), float(y)
        except (TypeError, ValueError, OverflowError):
            continue
        if math.isfinite(fx) and math.isfinite(fy) and fy > 0:
            px.append(fx)
            py.append(math.log10(fy))
    return np.array(px, dtype=np.float64), np.array(py, dtype=np.float64)


def scale(values, lo: float, hi: float, n: int) -> np.ndarray:
    """Positions 0..n-1 for values between lo and hi (lo -> 0), clamped; NaN -> 0.

    Computed on halves, so no finite range overflows; a range of zero width puts
    everything in the middle."""
    v = np.asarray(values, dtype=np.float64)
    if n <= 1:
        return np.zeros(v.shape, dtype=np.int64)
    with np.errstate(all="ignore"):
        width = hi * 0.5 - lo * 0.5
        if not (math.isfinite(width) and width > 0):
            return np.full(v.shape, (n - 1) // 2, dtype=np.int64)
        t = (v * 0.5 - lo * 0.5) / width
        t = np.clip(np.nan_to_num(t, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    return np.rint(t * (n - 1)).astype(np.int64)


def x_ticks(lo: float, hi: float, max_ticks: int) -> list[int]:
    """Whole-number ticks between lo and hi, 1, 2 or 5 × 10^k apart (k >= 0): the
    closest spacing that gives at most `max_ticks`."""
    if max_ticks < 1 or not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
        return []
    if not math.isfinite(hi - lo):
        return []
    for k in range(0, 320):
        for m in (1, 2, 5):
            step = m * 10.0**k if k < 308 else math.inf
            if not math.isfinite(step):
                return []
            first, last = math.ceil(lo / step), math.floor(hi / step)
            if last - first + 1 <= max_ticks:
                return [int(i * step) for i in range(first, last + 1)]
    return []


def format_x(value: int) -> str:
    """A step as a short whole number: 950, 12500, 150k, 3M, 1e+12."""
    v = int(value)
    if abs(v) >= 10**9:
        return _exp(f"{v:.0e}")
    if abs(v) >= 10**6 and v % 10**6 == 0:
        return f"{v // 10**6}M"
    if abs(v) >= 10**5 and v % 1000 == 0:
        return f"{v // 1000}k"
    return str(v)


def _exp(text: str) -> str:
    """'1.5e-07' -> '1.5e-7', '2e+06' -> '2e6'."""
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{int(exponent)}"


def format_power(m: int, e: int) -> str:
    """m × 10^e (m a digit) as a label: 0.001, 0.02, 1, 500, 1e-5, 2e6."""
    if -4 <= e < 0:
        return f"{m * 10.0**e:.{-e}f}"
    if 0 <= e <= 4:
        return str(m * 10**e)
    return f"{m}e{e}"


def format_value(v: float, step: float) -> str:
    """A linear tick `v` to the precision its spacing `step` needs."""
    place = math.floor(math.log10(step)) if step > 0 and math.isfinite(step) else 0
    if 1e-4 <= abs(v) < 1e5:
        return f"{v:.{max(0, -place)}f}"
    digits = max(0, math.floor(math.log10(abs(v))) - place) if v else 0
    return _exp(f"{v:.{min(digits, 12)}e}")


def _powers(lo: float, hi: float, mantissas: Sequence[int]) -> list[tuple[float, str]]:
    out = []
    for e in range(math.floor(lo) - 1, math.ceil(hi) + 1):
        for m in mantissas:
            pos = e + math.log10(m)
            if lo - 1e-9 <= pos <= hi + 1e-9:
                out.append((pos, format_power(m, e)))
    return out


def _linear(lo: float, hi: float, max_ticks: int) -> list[list[tuple[float, str]]]:
    """Evenly spaced values (1, 2 or 5 × 10^k apart), densest first; within one decade
    or two only, where 10**lo and 10**hi are plain floats."""
    if not (-300 < lo and hi < 300):
        return []
    vlo, vhi = 10.0**lo, 10.0**hi
    span = vhi - vlo
    if not (span > 0 and math.isfinite(span)):
        return []
    top = math.floor(math.log10(span))
    out = []
    for e in range(top - 2, top + 1):
        for m in (1, 2, 5):
            step = m * 10.0**e
            first, last = math.ceil(vlo / step - 1e-9), math.floor(vhi / step + 1e-9)
            if last - first + 1 > max_ticks or last < first:
                continue
            ticks = [(i * step, format_value(i * step, step)) for i in range(first, last + 1)]
            out.append([(math.log10(v), label) for v, label in ticks if v > 0])
    return out


def log_ticks(lo: float, hi: float, max_ticks: int) -> list[tuple[float, str]]:
    """Ticks for a log axis from 10**lo to 10**hi, at most `max_ticks`: (log10 value, label).

    1-2-5 when they fit (four decades or fewer); decades (every k-th when there are
    too many); under two decades 1..9, then evenly spaced values for a narrow range.
    The first choice with two ticks or more wins, else the first with one."""
    if max_ticks < 1 or not (math.isfinite(lo) and math.isfinite(hi)) or hi < lo:
        return []
    first, last = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
    decades = max(0, last - first + 1)
    candidates: list[list[tuple[float, str]]] = []
    if decades <= 4:  # few decades, many rows: 1-2-5 where they fit
        candidates.append(_powers(lo, hi, (1, 2, 5)))
    for k in DECADE_STRIDES:
        candidates.append([(float(e), format_power(1, e)) for e in range(first, last + 1) if e % k == 0])
    if decades < 2:
        candidates.append(_powers(lo, hi, range(1, 10)))
        candidates += _linear(lo, hi, max_ticks)
    for fewest in (2, 1):
        for ticks in candidates:
            if fewest <= len(ticks) <= max_ticks:
                return ticks
    return []


def y_range(logs: Sequence[float]) -> tuple[float, float]:
    """The log10 range the axis shows: the data's, at least MIN_LOG_SPAN tall, padded a
    little, and reaching out to a decade that is close by."""
    lo, hi = min(logs), max(logs)
    if hi - lo < MIN_LOG_SPAN:
        mid = lo * 0.5 + hi * 0.5
        lo, hi = mid - MIN_LOG_SPAN / 2, mid + MIN_LOG_SPAN / 2
    span = hi - lo
    pad = span * 0.05
    down, up = math.floor(lo), math.ceil(hi)
    lo = down if span >= 1 and lo - down <= 0.2 * span else lo - pad
    hi = up if span >= 1 and up - hi <= 0.2 * span else hi + pad
    return lo, hi


def _path(cols: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every dot on the straight segments joining consecutive points."""
    if len(cols) < 2:
        return cols, rows
    dc, dr = np.diff(cols), np.diff(rows)
    n = np.maximum(np.maximum(np.abs(dc), np.abs(dr)), 1)
    seg = np.repeat(np.arange(len(n)), n)
    offset = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    t = offset / n[seg]
    c = cols[:-1][seg] + np.rint(dc[seg] * t).astype(np.int64)
    r = rows[:-1][seg] + np.rint(dr[seg] * t).astype(np.int64)
    return np.append(c, cols[-1]), np.append(r, rows[-1])


def _crop(segments: list[Segment], width: int) -> list[Segment]:
    return Segment.adjust_line_length(segments, max(0, width), pad=True)


# ------------------------------------------------------------------ drawing


def render_chart(series: Sequence[Series], width: int, height: int, baseline: float | None = None,
                 title: str = "loss (log)", empty: str = "no evaluation yet",
                 end_labels: bool = True) -> list[list[Segment]]:
    """`height` lines of exactly `width` cells: legend, plot, x axis, x labels (the
    extras only where there is room). Never raises for a size or for data."""
    width, height = int(width), int(height)
    if height <= 0:
        return []
    if width <= 0:
        return [[] for _ in range(height)]
    drawn = []  # (series, x, log10 y) of those with a point to draw
    for s in series:
        x, ly = log_points(s.xs, s.ys)
        if len(x):
            drawn.append((s, x, ly))
    base_log = None
    try:
        if baseline is not None and math.isfinite(float(baseline)) and float(baseline) > 0:
            base_log = math.log10(float(baseline))
    except (TypeError, ValueError, OverflowError):
        base_log = None

    legend = height >= 5
    x_labels = height >= 3
    x_axis = height >= 10
    ph = height - legend - x_labels - x_axis
    lines: list[list[Segment]] = []
    if legend:
        lines.append(_legend(title, [s for s, _, _ in drawn] or list(series), baseline if base_log is not None
                             else None, width))
    if not drawn:
        blank = [[Segment(" " * width)] for _ in range(ph + x_axis + x_labels)]
        blank[min(ph // 2, len(blank) - 1)] = _crop([Segment(empty.center(width), DIM)], width)
        return lines + blank

    logs = np.concatenate([ly for _, _, ly in drawn])
    lo, hi = y_range([float(logs.min()), float(logs.max())] + ([base_log] if base_log is not None else []))
    ticks = log_ticks(lo, hi, ph if ph <= 5 else (ph + 1) // 2)  # a label every other row, or every row if few
    label_w = max((len(label) for _, label in ticks), default=0)
    gutter = label_w + 1 if ticks and width >= label_w + 1 + 8 else 0
    names = [s.label for s, _, _ in drawn] + (["naive"] if base_log is not None else [])
    margin = max(len(n) for n in names) + 1 if end_labels else 0
    if width - gutter - margin < 12:
        margin = 0
    pw = max(1, width - gutter - margin)
    gutter = min(gutter, width - pw)

    xs_all = np.concatenate([x for _, x, _ in drawn])
    x0, x1 = float(xs_all.min()), float(xs_all.max())
    if x1 <= x0:
        x0, x1 = x0 - 1, x0 + 1

    sub_w, sub_h = 2 * pw, 4 * ph
    n = len(drawn)
    bits = np.zeros((ph, pw), dtype=np.int64)
    owner = np.full((ph, pw), -1, dtype=np.int64)  # whose colour a cell takes: the last drawn
    marks: dict[tuple[int, int], int] = {}  # cell -> the series whose glyph it shows
    ends: list[tuple[int, int]] = []  # (row of the last point, series index), for the end labels
    marked = [i for i, (s, _, _) in enumerate(drawn) if s.marker]
    gap = max(4, pw // 6)
    for i, (s, x, ly) in enumerate(drawn):
        c = scale(x, x0, x1, sub_w)
        r = sub_h - 1 - scale(ly, lo, hi, sub_h)
        pc, pr = _path(c, r)
        if s.dashed:
            keep = (pc // 2) % 2 == 0
            keep[-1] = True
            pc, pr = pc[keep], pr[keep]
        mine = np.zeros((ph, pw), dtype=np.int64)
        np.bitwise_or.at(mine, (pr // 4, pc // 2), DOTS[pr % 4, pc % 2])
        bits |= mine
        owner[mine > 0] = i
        ends.append((int(r[-1]), i))
        if s.marker:
            cells, first = np.unique(pc // 2, return_index=True)
            rows_at = dict(zip(cells.tolist(), (pr[first] // 4).tolist()))
            start = gap // 2 + (marked.index(i) * gap) // max(1, len(marked))
            for col in range(start, pw, gap):
                if col in rows_at:
                    marks[(rows_at[col], col)] = i
            marks[(int(r[-1] // 4), int(c[-1] // 2))] = i

    # glyphs and their style ids: series i -> i, its marker -> n + i, baseline -> 2n, none -> -1
    glyphs = BRAILLE[bits]
    sid = owner.copy()
    base_row = base_sub = None
    if base_log is not None:
        base_sub = int(sub_h - 1 - scale([base_log], lo, hi, sub_h)[0])
        base_row = base_sub // 4
        empty_cells = bits[base_row] == 0
        glyphs[base_row][empty_cells] = BASELINE_CHAR
        sid[base_row][empty_cells] = 2 * n
    for (row, col), i in marks.items():
        glyphs[row, col] = drawn[i][0].marker
        sid[row, col] = n + i
    styles = {-1: Style()}
    for i, (s, _, _) in enumerate(drawn):
        styles[i] = Style(color=s.color)
        styles[n + i] = Style(color=s.color, bold=True)
    styles[2 * n] = Style(color=BASELINE_COLOR)

    tick_rows: dict[int, str] = {}
    for pos, label in ticks:
        row = int((sub_h - 1 - scale([pos], lo, hi, sub_h)[0]) // 4)
        tick_rows.setdefault(row, label)
    side = _end_labels(ends, base_sub, drawn, ph) if margin else {}

    for row in range(ph):
        segs: list[Segment] = []
        if gutter:
            label = tick_rows.get(row)
            segs.append(Segment(f"{label or '':>{gutter - 1}}"[: gutter - 1], DIM))
            segs.append(Segment("┤" if label is not None else "│", AXIS))
        ids = sid[row]
        cuts = np.flatnonzero(np.diff(ids)) + 1
        starts = [0, *cuts.tolist()]
        stops = [*cuts.tolist(), pw]
        for a, b in zip(starts, stops):
            segs.append(Segment("".join(glyphs[row, a:b]), styles.get(int(ids[a]))))
        if margin:
            name, style = side.get(row, ("", None))
            segs.append(Segment(f" {name}".ljust(margin)[:margin], style))
        lines.append(_crop(segs, width))

    tick_list = x_ticks(x0, x1, max(1, pw // (max(len(format_x(int(x0))), len(format_x(int(x1)))) + 2)))
    tick_cols = [(int(scale([t], x0, x1, sub_w)[0] // 2), format_x(t)) for t in tick_list]
    if x_axis:
        axis = ["─"] * pw
        for col, _ in tick_cols:
            axis[col] = "┴"
        segs = [Segment(" " * (gutter - 1) + "└", AXIS)] if gutter else []
        lines.append(_crop(segs + [Segment("".join(axis), AXIS)], width))
    if x_labels:
        row = [" "] * width
        used = -1
        if gutter >= 5:
            row[:4] = "step"
            used = 4
        for col, label in tick_cols:
            start = gutter + col - len(label) // 2
            start = max(start, gutter, 0)
            start = min(start, width - len(label))
            if start <= used or start < 0:
                continue
            row[start:start + len(label)] = label
            used = start + len(label)
        lines.append([Segment("".join(row)[:width], DIM)])
    return lines


def _legend(title: str, series: Sequence[Series], baseline, width: int) -> list[Segment]:
    segs = [Segment(title, DIM)]
    for s in series:
        segs += [Segment("  "), Segment(f"{s.key} {s.label}", Style(color=s.color, bold=bool(s.marker)))]
    if baseline is not None:
        segs += [Segment("  "), Segment(f"{BASELINE_CHAR} naive {float(baseline):.3g}", Style(color=BASELINE_COLOR))]
    return _crop(segs, width)


def _end_labels(ends, base_sub, drawn, rows: int) -> dict[int, tuple[str, Style]]:
    """Each curve's name beside its last point (the baseline's beside its line), given
    as dot rows; a name whose row is taken moves to the nearest free one, up or down
    as its dot lies in the upper or lower half of its cell."""
    wanted = [(sub, drawn[i][0].label, Style(color=drawn[i][0].color, bold=bool(drawn[i][0].marker)))
              for sub, i in ends]
    if base_sub is not None:
        wanted.append((base_sub, "naive", Style(color=BASELINE_COLOR)))
    taken: dict[int, tuple[str, Style]] = {}
    for sub, name, style in sorted(wanted, key=lambda w: w[0]):
        row, up = sub // 4, sub % 4 < 2
        for delta in sorted(range(-rows, rows + 1), key=lambda d: (abs(d), (d > 0) == up)):
            if 0 <= row + delta < rows and row + delta not in taken:
                taken[row + delta] = (name, style)
                break
    return taken


def plain(lines: Sequence[Sequence[Segment]]) -> str:
    """The chart's text without styles (for tests and for reading)."""
    return "\n".join("".join(seg.text for seg in line) for line in lines)


# ------------------------------------------------------------------ widget


class LossChart(LineWidget):
    """The chart, redrawn when `show` brings new curves or the widget is resized."""

    DEFAULT_CSS = """
    LossChart { height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.series: tuple[Series, ...] = ()
        self.baseline: float | None = None
        self.title = "loss (log)"
        self._key = None

    def show(self, series: Sequence[Series], baseline: float | None, title: str = "loss (log)", key=None) -> None:
        """New curves; `key`, when given and the same as last time, says nothing changed."""
        if key is not None and key == self._key:
            return
        self._key = key
        self.series, self.baseline, self.title = tuple(series), baseline, title
        if self.is_mounted:
            self.changed()

    def lines(self, width: int) -> list[Line]:
        try:
            return render_chart(self.series, width, self.size.height, self.baseline, self.title)
        except Exception as err:  # a chart must never take the app down; render_chart is tested not to raise
            self.log.error(f"loss chart: {err!r}")
            return [Text(f"(the chart could not be drawn: {err})", style="dim")]
