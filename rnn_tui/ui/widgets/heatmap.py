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
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive, var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from rnn_tui.core.trace_file import Trace
from rnn_tui.ui import colors

GUTTER = 5  # "u123▕" unit labels
BOLD, DIM = Style(bold=True), Style(dim=True)


class Heatmap(ScrollView, can_focus=False):
    DEFAULT_CSS = """
    Heatmap { height: 1fr; scrollbar-size: 1 1; }
    """

    trace: var[Trace | None] = var(None, init=False)  # bound to the screen's: see panel.py
    track: var[int] = var(0, init=False)  # which layer and direction's h is drawn
    step: var[int] = var(0)  # not reactive: a step repaints the ruler only, not every row
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
        self._cache: dict[tuple, tuple[Strip, Strip]] = {}
        self.zoom = 1  # columns per step: short sequences are drawn wider

    def on_mount(self) -> None:
        # light/dark themes (ctrl+p → theme) switch the heatmap's neutral colour too
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._show_track())

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
    def watch_trace(self) -> None:
        self._show_track()

    def watch_track(self) -> None:
        self._show_track()

    def _show_track(self) -> None:
        trace = self.trace
        if trace is not None:
            self.set_values(trace.h[:, min(self.track, trace.h.shape[1] - 1)], self.app.current_theme.dark)

    def watch_step(self, old: int, new: int) -> None:
        self._follow_step()  # a scroll repaints everything by itself
        self.refresh(Region(0, 0, self.size.width, 1))  # the ruler's ▼ (its cache key holds the step)

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
        width = self.scrollable_content_region.width
        steps = self._levels.shape[0] if self._levels.size else 0
        # Only the steps in view are drawn: 2000 steps cost no more than 200.
        t0 = min(scroll_x // self.zoom, steps)
        t1 = min(steps, -(-(scroll_x + width - GUTTER) // self.zoom) + 1)
        gutter, body = self._line(y + scroll_y, t0, t1)
        skip = scroll_x - t0 * self.zoom
        body = body.crop(skip, skip + width - GUTTER)
        return Strip.join([gutter, body]).adjust_cell_length(width, self.rich_style)

    def _line(self, row: int, t0: int, t1: int) -> tuple[Strip, Strip]:
        """(unit label, cells for steps t0..t1) of one text row, cached."""
        key = (row, t0, t1, self.step if row == 0 else None, self.app.theme)  # labels carry the theme
        if key in self._cache:
            return self._cache[key]
        units = self._levels.shape[1] if self._levels.size else 0
        zoom = self.zoom
        base = self.rich_style  # the theme's colours under labels and ruler (the key holds the theme)
        if row == 0:
            ruler = [" "] * ((t1 - t0) * zoom)
            every = 10 if zoom == 1 else 5
            for t in range(t0 - t0 % every, t1, every):
                for k, ch in enumerate(str(t)):
                    x = (t - t0) * zoom + k
                    if 0 <= x < len(ruler):
                        ruler[x] = ch
            if t0 <= self.step < t1:
                x = (self.step - t0) * zoom
                ruler[x : x + zoom] = "▼" * zoom
            line = Strip([Segment(" t   ", base + DIM)]), Strip([Segment("".join(ruler), base + BOLD)])
        elif (row - 1) * 2 >= units:
            line = Strip.blank(GUTTER, base), Strip.blank((t1 - t0) * zoom, base)
        else:
            top_unit = (row - 1) * 2
            selected = self.unit in (top_unit, top_unit + 1)
            label = Segment(f"{'▶' if selected else ' '}{top_unit:>3}▕", base + (BOLD if selected else DIM))
            cells = Strip(self._cells(top_unit, t0, t1))
            if top_unit + 1 == units:  # an odd last unit: its cells have no lower colour of their own
                cells = cells.apply_style(base)
            line = Strip([label]), cells
        if len(self._cache) > 4096:  # rulers of old steps and scroll positions
            self._cache.clear()
        self._cache[key] = line
        return line

    def _cells(self, top_unit: int, t0: int, t1: int) -> list[Segment]:
        """Half-block cells for two units over steps t0..t1."""
        units = self._levels.shape[1]
        bottom = self._levels[t0:t1, top_unit + 1] if top_unit + 1 < units else None
        return colors.half_blocks(self._levels[t0:t1, top_unit], bottom, colors.diverging(self.dark), self.zoom)

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
