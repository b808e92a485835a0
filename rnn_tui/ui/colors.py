"""Colour scales that colour-blind readers can tell apart, as Rich styles.

Diverging (values in [-1, 1], e.g. h_t): blue for negative, orange for positive
(the blue/orange pair survives the common red-green deficiencies), fading to a
neutral at 0. Sequential (values in [0, 1], e.g. gates): dark to bright
yellow-green along a viridis-like ramp. A few levels, not 256: merged runs of
equal colour are what keep a big heatmap fast.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style

LEVELS = 21  # odd, so that 0 has a level of its own

NEGATIVE = (33, 102, 172)  # blue
POSITIVE = (230, 97, 1)  # orange
NEUTRAL_DARK = (40, 40, 46)
NEUTRAL_LIGHT = (240, 240, 240)
VIRIDIS = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]


def _mix(a, b, t: float) -> tuple[int, int, int]:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))


@lru_cache(maxsize=4)
def diverging(dark: bool = True) -> tuple[Color, ...]:
    neutral = NEUTRAL_DARK if dark else NEUTRAL_LIGHT
    half = LEVELS // 2
    out = []
    for k in range(LEVELS):
        v = (k - half) / half  # -1 .. 1
        end = POSITIVE if v > 0 else NEGATIVE
        out.append(Color.from_rgb(*_mix(neutral, end, abs(v) ** 0.8)))
    return tuple(out)


@lru_cache(maxsize=1)
def sequential() -> tuple[Color, ...]:
    out = []
    for k in range(LEVELS):
        pos = k / (LEVELS - 1) * (len(VIRIDIS) - 1)
        i = min(int(pos), len(VIRIDIS) - 2)
        out.append(Color.from_rgb(*_mix(VIRIDIS[i], VIRIDIS[i + 1], pos - i)))
    return tuple(out)


def diverging_levels(values: np.ndarray) -> np.ndarray:
    """Level index 0..LEVELS-1 of values clipped to [-1, 1]; NaN goes to the middle."""
    v = np.nan_to_num(np.clip(values, -1.0, 1.0), nan=0.0)
    return np.rint((v + 1.0) * (LEVELS // 2)).astype(np.int16)


def sequential_levels(values: np.ndarray) -> np.ndarray:
    v = np.nan_to_num(np.clip(values, 0.0, 1.0), nan=0.0)
    return np.rint(v * (LEVELS - 1)).astype(np.int16)


@lru_cache(maxsize=256)
def background(color: Color) -> Style:
    return Style(bgcolor=color)


@lru_cache(maxsize=4096)
def half_block(top: Color, bottom: Color | None) -> Style:
    """Two values in one cell: the upper half is the foreground of '▀'."""
    return Style(color=top, bgcolor=bottom)


@lru_cache(maxsize=8)
def _half_block_table(scale: tuple[Color, ...]) -> list[list[Style]]:
    """[top level][bottom level + 1] -> style; bottom -1 means no lower value."""
    return [[half_block(top, bottom) for bottom in (None, *scale)] for top in scale]


def half_blocks(top: np.ndarray, bottom: np.ndarray | None, scale: tuple[Color, ...], zoom: int = 1) -> list[Segment]:
    """A row of '▀' cells, two values each, with runs of equal cells merged into one segment.

    top, bottom: level indices; `bottom` may be one shorter (an odd count of units)
    or None, and those cells get no lower colour. `zoom` widens every cell.
    A plain loop over a style table: numpy's per-call overhead loses on rows this short.
    """
    table = _half_block_table(scale)
    uppers = top.tolist()
    lowers = [] if bottom is None else bottom.tolist()
    lowers += [-1] * (len(uppers) - len(lowers))
    segments: list[Segment] = []
    run, count = None, 0
    for pair in zip(uppers, lowers):
        if pair == run:
            count += 1
            continue
        if run is not None:
            segments.append(Segment("▀" * (count * zoom), table[run[0]][run[1] + 1]))
        run, count = pair, 1
    if run is not None:
        segments.append(Segment("▀" * (count * zoom), table[run[0]][run[1] + 1]))
    return segments


@lru_cache(maxsize=256)
def foreground(color: Color) -> Style:
    return Style(color=color)


def bar(scale: tuple[Color, ...], cells: int = 11) -> list[Segment]:
    """A colour bar for a legend: `cells` blocks from the scale's first level to its
    last, evenly spaced, in the very colours the cells are drawn with."""
    cells = max(2, cells)
    top = len(scale) - 1
    return [Segment("█", foreground(scale[round(k * top / (cells - 1))])) for k in range(cells)]


def legend(low: str, scale: tuple[Color, ...], high: str, cells: int = 11, note: str = "",
           style: Style | None = None) -> list[Segment]:
    """"low ███████ high note": what the colours of a panel mean."""
    out = [Segment(f"{low} ", style), *bar(scale, cells), Segment(f" {high}", style)]
    if note:
        out.append(Segment(f" {note}", style))
    return out
