"""Hidden state as a heatmap: units down, time across, two units per text row.

Each character cell is '▀' with the upper unit as foreground and the lower unit
as background, so a 128-unit state needs 64 rows. Runs of equal colour merge
into one segment and finished lines are cached: a full redraw stays cheap.

The legend says what the colours mean: the colour bar with its scale, −1 blue …
+1 orange, or ± the data's largest |h| when h is not tanh-bounded (a relu RNN),
and the selected unit's value at the current step. It sits in the lower border
of the box around the heatmap, where it costs no row; with no bordered box it is
the first line. The time ruler, numbered from 1 like the step counter, with ▼ and
the step's number over the current step in place of any tick it would cover,
stays at the top however far the rows are scrolled. The selected unit's row
(marked ▶) is scrolled into view when it changes.
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.strip import Strip

from rnn_tui.core.trace_file import Trace
from rnn_tui.ui import colors
from rnn_tui.ui.widgets.box import set_border_text

GUTTER = 5  # "u123▕" unit labels
MINUS = "\u2212"
BOLD, DIM = Style(bold=True), Style(dim=True)


def ruler_text(t0: int, t1: int, step: int, zoom: int, skip: int = 0, width: int | None = None) -> str:
    """The time axis over the columns skip..skip+width of steps t0..t1 (0-based),
    labelled from 1: ticks at 1 and every 10th step (5th when zoomed), '▼' and the
    current step's number at the step ('12▼' at the right edge). A tick the marker
    would touch, or one cut by an edge, is left out rather than shown in part.
    Labels may run on past the last step's column into the free room of the view."""
    cols = (t1 - t0) * zoom if width is None else skip + width  # past the last step: free room for labels
    lo, hi = skip, cols
    ruler = [" "] * cols
    taken = (0, 0)
    if t0 <= step < t1:
        mx, number = (step - t0) * zoom, str(step + 1)
        if mx + 1 + len(number) <= hi:
            start, mark = mx, "▼" + number
        elif mx - len(number) >= lo:
            start, mark = mx - len(number), number + "▼"
        else:
            start, mark = mx, "▼"
        ruler[start : start + len(mark)] = mark
        taken = (start - 1, start + len(mark) + 1)
    every = 10 if zoom == 1 else 5
    first = -(-(t0 + 1) // every) * every - 1  # the first step >= t0 whose number is a multiple of `every`
    for t in ([0] if t0 == 0 else []) + list(range(first, t1, every)):
        label, x = str(t + 1), (t - t0) * zoom
        if x < lo or x + len(label) > hi or (x < taken[1] and taken[0] < x + len(label)):
            continue
        ruler[x : x + len(label)] = label
    return "".join(ruler[lo:hi])


class Heatmap(ScrollView, can_focus=False):
    DEFAULT_CSS = """
    Heatmap { height: 1fr; scrollbar-size: 1 1; }
    """

    trace: var[Trace | None] = var(None, init=False)  # bound to the screen's: see panel.py
    track: var[int] = var(0, init=False)  # which layer and direction's h is drawn
    step: var[int] = var(0)  # a step repaints the two fixed lines only, not every row
    unit: var[int] = var(0)  # a unit repaints the legend and the two rows it moves between

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
        self.bound = 1.0  # the colour scale's ends are ±bound
        self._levels = np.zeros((0, 0), np.int16)
        self._cache: dict[tuple, tuple[Strip, Strip] | Strip] = {}  # rows, and rulers
        self.zoom = 1  # columns per step: short sequences are drawn wider
        self.header = 2  # fixed lines above the rows: the legend and the ruler, or the ruler alone
        self._box = None  # the bordered box whose lower border holds the legend, if any
        self._legend_shown: list[Segment] | None = None  # the legend last put there
        self._base_style: Style | None = None  # see _base

    def on_mount(self) -> None:
        # light/dark themes (ctrl+p → theme) switch the heatmap's neutral colour too
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)
        box = self.parent
        if box is not None and box.styles.border_bottom[0] not in ("", "none", "hidden", "blank"):
            self._box, self.header = box, 1
        self._show_legend()

    def _theme_changed(self, _theme) -> None:
        self._base_style = None  # the signal comes once the new theme's CSS is in place
        self._show_track()

    def _fit_zoom(self) -> None:
        steps = self.values.shape[0] if self.values.size else 0
        room = self.size.width - GUTTER - 1
        zoom = max(1, min(4, room // steps)) if steps else 1
        if zoom != self.zoom:
            self.zoom = zoom
            self._cache.clear()
        units = self.values.shape[1] if self.values.size else 0
        self.virtual_size = Size(GUTTER + steps * self.zoom, self.header + (units + 1) // 2)

    def on_resize(self) -> None:
        self._fit_zoom()
        self.refresh()
        self._follow_step()
        self._follow_unit()
        self._show_legend()

    def set_values(self, values: np.ndarray, dark: bool = True) -> None:
        """values: [T, H] for one layer and direction. Coloured over [-1, 1] when they
        lie in it (tanh states), else over ± their largest magnitude."""
        self.values, self.dark = values, dark
        peak = float(np.nanmax(np.abs(values), initial=0.0)) if values.size else 0.0
        self.bound = 1.0 if not np.isfinite(peak) or peak <= 1.0 + 1e-6 else peak
        self._levels = colors.diverging_levels(values / self.bound if self.bound != 1.0 else values)
        self._cache.clear()
        self._fit_zoom()
        self.refresh()
        self._follow_step()
        self._follow_unit()
        self._show_legend()

    # ----------------------------------------------------------- reactivity
    def watch_trace(self) -> None:
        self._show_track()

    def watch_track(self) -> None:
        self._show_track()

    def _show_track(self) -> None:
        trace = self.trace
        if trace is not None:
            self.set_values(trace.h[:, min(self.track, trace.h.shape[1] - 1)], self.app.current_theme.dark)

    def watch_step(self) -> None:
        self._follow_step()  # a scroll repaints everything by itself
        self.refresh(Region(0, 0, self.size.width, self.header))  # the ruler's ▼ (and the legend's readout)
        self._show_legend()

    def watch_unit(self, old: int, new: int) -> None:
        self._show_legend()
        top = round(self.scroll_offset.y)
        for unit in (old, new):  # the ▶ moves between two rows (their cache keys say selected or not)
            y = self.header + unit // 2 - top
            if self.header <= y < self.size.height:
                self.refresh(Region(0, y, self.size.width, 1))
        self._follow_unit()

    def _follow_step(self) -> None:
        width = self.scrollable_content_region.width - GUTTER
        if width <= 0:
            return
        left, x = self.scroll_offset.x, self.step * self.zoom
        if not left <= x < left + width:
            self.scroll_to(x=max(0, x - width // 2), animate=False)

    def _follow_unit(self) -> None:
        """Scroll the selected unit's row into view (to the middle, when it was out of it)."""
        body = self.scrollable_content_region.height - self.header
        units = self.values.shape[1] if self.values.size else 0
        if body <= 0 or not units:
            return
        row, top = min(self.unit, units - 1) // 2, round(self.scroll_offset.y)
        if not top <= row < top + body:
            self.scroll_to(y=max(0, row - body // 2), animate=False)

    # ----------------------------------------------------------- rendering
    @property
    def _base(self) -> Style:
        """The theme's colours under the labels and the ruler: `rich_style`, which Textual
        works out afresh from every ancestor's styles on each call, once per theme."""
        if self._base_style is None:
            self._base_style = self.rich_style
        return self._base_style

    @property
    def plain(self) -> str:
        """What the heatmap shows now, as text, one line per screen line."""
        return "\n".join("".join(seg.text for seg in self.render_line(y))
                         for y in range(self.scrollable_content_region.height))

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        if y == 0 and self.header == 2:
            return Strip(self._legend(False, width)).crop_extend(0, width, self._base)
        steps = self._levels.shape[0] if self._levels.size else 0
        # Only the steps in view are drawn: 2000 steps cost no more than 200.
        t0 = min(scroll_x // self.zoom, steps)
        t1 = min(steps, -(-(scroll_x + width - GUTTER) // self.zoom) + 1)
        skip = scroll_x - t0 * self.zoom
        if y == self.header - 1:
            return self._ruler(t0, t1, skip, width)
        gutter, body = self._line(y - self.header + scroll_y, t0, t1)
        body = body.crop(skip, skip + width - GUTTER)
        return Strip.join([gutter, body]).adjust_cell_length(width, self._base)

    def _ruler(self, t0: int, t1: int, skip: int, width: int) -> Strip:
        key = ("ruler", t0, t1, skip, width, self.step, self.app.theme)
        if key not in self._cache:
            if len(self._cache) > 4096:  # rulers of old steps and scroll positions
                self._cache.clear()
            base = self._base
            ruler = ruler_text(t0, t1, self.step, self.zoom, skip, max(0, width - GUTTER))
            self._cache[key] = Strip([Segment("step ", base + DIM), Segment(ruler, base + BOLD)]) \
                .adjust_cell_length(width, base)
        return self._cache[key]

    def _legend(self, boxed: bool = False, room: int | None = None) -> list[Segment]:
        """'h  −1 ███████████ +1  ▶ unit 3, step 5: +0.42', shorter when `room` is short."""
        base = Style() if boxed else self._base
        if not self._levels.size:
            return [Segment("h: waiting for the first trace…", base + DIM)]
        ends = "1" if self.bound == 1.0 else f"{self.bound:.3g}"
        steps, units = self.values.shape
        step, unit = min(self.step, steps - 1), min(self.unit, units - 1)
        value = f"{float(self.values[step, unit]):+.2f}".replace("-", MINUS)
        gap = " · " if boxed else "  "
        out: list[Segment] = []
        for cells, note, readout in ((11, "(±largest |h|)", f"▶ unit {unit}, step {step + 1}: {value}"),
                                     (5, "", f"▶ unit {unit}: {value}"), (3, "", f"▶ {value}")):
            out = [Segment("h ", BOLD),
                   *colors.legend(f"{MINUS}{ends}", colors.diverging(self.dark), f"+{ends}", cells,
                                  note if self.bound != 1.0 else "", DIM),
                   Segment(f"{gap}{readout}", BOLD)]
            if room is None or sum(len(seg.text) for seg in out) <= room:
                break
        return [Segment(seg.text, base + seg.style if seg.style else base) for seg in out]

    @property
    def legend(self) -> str:
        """The legend as text, wherever it is drawn."""
        return "".join(seg.text for seg in self._legend(self._box is not None, self._legend_room()))

    def _legend_room(self) -> int | None:
        """Columns for the legend: the box's lower border less its corners, or the width."""
        if self._box is not None:
            return self._box.size.width - 4 if self._box.size.width else None
        return self.scrollable_content_region.width or None

    def _show_legend(self) -> None:
        """Put the legend in the box's lower border (a step or a unit changes its readout)."""
        if self._box is not None:
            legend = self._legend(True, self._legend_room())
            if legend != self._legend_shown:
                self._legend_shown = legend
                set_border_text(self._box, Text.assemble(*((seg.text, seg.style) for seg in legend)))

    def _line(self, row: int, t0: int, t1: int) -> tuple[Strip, Strip]:
        """(unit label, cells for steps t0..t1) of one text row, cached."""
        units = self._levels.shape[1] if self._levels.size else 0
        selected = self.unit // 2 == row
        key = (row, t0, t1, selected, self.app.theme)  # labels carry the theme
        if key in self._cache:
            return self._cache[key]
        zoom = self.zoom
        base = self._base  # the theme's colours under labels and ruler (the key holds the theme)
        if row * 2 >= units:
            line = Strip.blank(GUTTER, base), Strip.blank((t1 - t0) * zoom, base)
        else:
            top_unit = row * 2
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
        row = event.y - self.header + self.scroll_offset.y
        steps, units = self.values.shape if self.values.size else (0, 0)
        if event.y >= self.header - 1 and event.x >= GUTTER and 0 <= x < steps:
            self.post_message(self.StepClicked(x))
        if event.y >= self.header and 0 <= row and row * 2 < units:
            unit = row * 2
            if unit == self.unit and unit + 1 < units:  # a second click picks the lower unit
                unit += 1
            self.post_message(self.UnitSelected(unit))
