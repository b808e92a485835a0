"""A time series drawn in braille on a linear scale, the current step's column marked.

Each character cell holds 2×4 braille dots, so a 100×6 plot draws 200×24 points;
between two steps the line is interpolated, one dot per dot column.
Where two series share a cell the later one's colour wins; the dots of both stay.
Used by the Sequence panel for forecasting: the series, the model's one-step
predictions and the current step, the picture every forecasting tutorial shows.
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style

# The bit of the dot at [sub-row, sub-column] of a cell (sub-row 0 is the top).
DOTS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.int64)


def value_range(*series: np.ndarray) -> tuple[float, float]:
    """The finite range of every series together (a flat one gets a little room)."""
    finite = np.concatenate([s[np.isfinite(s)] for s in series]) if series else np.zeros(0)
    if not finite.size:
        return -1.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


def plot_rows(series: list[tuple[np.ndarray, Style]], width: int, height: int, current: int | None,
              lo: float, hi: float, marker: Style) -> list[list[Segment]]:
    """`height` rows of `width` cells. series: (values [T], style), drawn in order; every
    series has the same T. NaN and inf are left out. `current`: the step whose column is
    drawn in `marker` style."""
    width, height = max(1, width), max(1, height)
    steps = max((len(values) for values, _ in series), default=0)
    bits = np.zeros((height, width), np.int64)
    owner = np.full((height, width), -1)
    dots_x, dots_y = 2 * width, 4 * height

    def x_dot(t: np.ndarray) -> np.ndarray:
        return np.zeros_like(t) if steps <= 1 else np.rint(t / (steps - 1) * (dots_x - 1)).astype(np.int64)

    for index, (values, _) in enumerate(series):
        values = np.asarray(values, float)
        ok = np.isfinite(values)
        t = np.flatnonzero(ok)
        if not t.size:
            continue
        # A line, not scattered points: every dot column between two steps is interpolated.
        at = t / max(1, steps - 1) * (dots_x - 1)
        x = np.arange(int(np.ceil(at[0])), int(np.floor(at[-1])) + 1) if len(t) > 1 else np.rint(at).astype(int)
        v = np.interp(x, at, values[ok]) if len(t) > 1 else values[ok]
        y = np.clip(np.rint((v - lo) / (hi - lo) * (dots_y - 1)), 0, dots_y - 1).astype(np.int64)
        row = (dots_y - 1) - y  # dot row 0 is the top
        np.bitwise_or.at(bits, (row // 4, x // 2), DOTS[row % 4, x % 2])
        owner[row // 4, x // 2] = index
    marked = int(x_dot(np.array([current]))[0] // 2) if current is not None and steps else -1
    rows = []
    for r in range(height):
        line = []
        for c in range(width):
            char = chr(0x2800 + int(bits[r, c])) if bits[r, c] else " "
            style = series[owner[r, c]][1] if owner[r, c] >= 0 else Style()
            if c == marked:
                style = style + marker
            line.append(Segment(char, style))
        rows.append(line)
    return rows


def step_at(x: int, width: int, steps: int) -> int:
    """The step a click at column `x` of the plot points to."""
    if steps <= 1 or width <= 1:
        return 0
    return int(np.clip(round((2 * x + 0.5) / (2 * width - 1) * (steps - 1)), 0, steps - 1))
