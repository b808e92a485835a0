"""Hidden state as a heatmap: units down, time across, two units per text row.

Each character cell is '▀' with the upper unit as foreground and the lower unit
as background, so a 128-unit state needs 64 rows. Runs of equal colour merge
into one segment and finished lines are cached: a full redraw stays cheap.
The first row is a time ruler with ▼ over the current step.
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from rnn_tui.ui import colors

GUTTER = 5  # "u123▕" unit labels


class Heatmap(ScrollView, can_focus=False):
    DEFAULT_CSS = """
    Heatmap { height: 1fr; scrollbar-size: 1 1; }
    """

    step: reactive[int] = reactive(0)
    unit: reactive[int] = reactive(0)

    class StepClicked(Message):
        def __init__(self, step: int) -> None:
            self.step = step
            super().__init__()

    class UnitSelected(Message):
        def __init__(self, unit: int) -> None:
            self.unit = unit
            super().__init__()

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.values = np.zeros((0, 0), np.float32)  # [T, H]
        self.dark = True
        self._levels = np.zeros((0, 0), np.int16)
        self._cache: dict[int, Strip] = {}
        self.zoom = 1  # columns per step: short sequences are drawn wider

    def _fit_zoom(self) -> None:
        steps = self.values.shape[0] if self.values.size else 0
        room = self.size.width - GUTTER - 1
        zoom = max(1, min(4, room // steps)) if steps else 1
        if zoom != self.zoom:
            self.zoom = zoom
            self._cache.clear()
        units = self.values.shape[1] if self.values.size else 0
        self.virtual_size = Size(GUTTER + steps * self.zoom, 1 + (units + 1) // 2)

    def on_resize(self) -> None:
        self._fit_zoom()
        self.refresh()

    def set_values(self, values: np.ndarray, dark: bool = True) -> None:
        """values: [T, H] for one layer and direction, in [-1, 1] for tanh states."""
        self.values, self.dark = values, dark
        self._levels = colors.diverging_levels(values)
        self._cache.clear()
        self._fit_zoom()
        self.refresh()
        self._follow_step()

    # ----------------------------------------------------------- reactivity
    def watch_step(self, old: int, new: int) -> None:
        self._cache.pop(-1, None)  # the ruler
        self.refresh()
        self._follow_step()

    def watch_unit(self) -> None:
        self._cache.clear()
        self.refresh()

    def _follow_step(self) -> None:
        width = self.scrollable_content_region.width - GUTTER
        if width <= 0:
            return
        left, x = self.scroll_offset.x, self.step * self.zoom
        if not left <= x < left + width:
            self.scroll_to(x=max(0, x - width // 2), animate=False)

    # ----------------------------------------------------------- rendering
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = y + scroll_y
        width = self.scrollable_content_region.width
        strip = self._line(row)
        # the unit labels stay put while the time axis scrolls
        gutter, body = strip.crop(0, GUTTER), strip.crop(GUTTER + scroll_x, GUTTER + scroll_x + width - GUTTER)
        return Strip.join([gutter, body]).adjust_cell_length(width)

    def _line(self, row: int) -> Strip:
        key = -1 if row == 0 else row
        if key in self._cache:
            return self._cache[key]
        steps, units = self._levels.shape if self._levels.size else (0, 0)
        dim = Style(dim=True)
        zoom = self.zoom
        if row == 0:
            ruler = [" "] * (steps * zoom)
            every = 10 if zoom == 1 else 5
            for t in range(0, steps, every):
                for k, ch in enumerate(str(t)):
                    if t * zoom + k < len(ruler):
                        ruler[t * zoom + k] = ch
            if 0 <= self.step < steps:
                ruler[self.step * zoom : (self.step + 1) * zoom] = "▼" * zoom
            strip = Strip([Segment(" t   ", dim), Segment("".join(ruler), Style(bold=True))])
        elif (row - 1) * 2 >= units:
            strip = Strip.blank(GUTTER + steps * zoom)
        else:
            top_unit = (row - 1) * 2
            scale = colors.diverging(self.dark)
            top = self._levels[:, top_unit]
            bottom = self._levels[:, top_unit + 1] if top_unit + 1 < units else None
            selected = self.unit in (top_unit, top_unit + 1)
            label = f"{'▶' if selected else ' '}{top_unit:>3}▕"
            segments = [Segment(label, Style(bold=selected, dim=not selected))]
            start = 0
            for t in range(1, steps + 1):  # merge runs of equal colour pairs
                if t == steps or top[t] != top[start] or (bottom is not None and bottom[t] != bottom[start]):
                    lower = scale[bottom[start]] if bottom is not None else None
                    style = colors.half_block(scale[top[start]], lower) if lower else Style(color=scale[top[start]])
                    segments.append(Segment("▀" * ((t - start) * zoom), style))
                    start = t
            strip = Strip(segments)
        self._cache[key] = strip
        return strip

    # ----------------------------------------------------------- mouse
    def on_click(self, event) -> None:
        x = (event.x - GUTTER + self.scroll_offset.x) // self.zoom
        row = event.y + self.scroll_offset.y
        steps, units = self.values.shape if self.values.size else (0, 0)
        if event.x >= GUTTER and 0 <= x < steps:
            self.post_message(self.StepClicked(x))
        if row >= 1 and (row - 1) * 2 < units:
            unit = (row - 1) * 2
            if unit == self.unit and unit + 1 < units:  # a second click picks the lower unit
                unit += 1
            self.post_message(self.UnitSelected(unit))
