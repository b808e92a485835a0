"""A widget drawn as a list of lines, built once per change and cached as strips.

Textual turns a Rich Text into its own Content on every repaint. For panels made
of hundreds of one-cell styled spans (a gate's units, a gradient's bars) that
cost tens of milliseconds per key press. These widgets build their lines only
when their data changes, render them once with Rich (several times faster),
repaint only the lines that differ, and repaint from the cache otherwise. A line
whose content is what it was keeps its strip: a step rebuilds only what it changed.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

Line = Text | list[Segment]


class LineWidget(Widget):
    """Subclasses implement `lines(width)` and call `changed()` when their data changes.

    The strips are rebuilt when the widget's size or the theme changes, too.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._strips: list[Strip] | None = None
        self._built_for: tuple | None = None  # (size, theme) the strips were built for
        self._by_content: dict = {}  # each line of the last build, by its content -> its strip
        self._styles: dict[Style | None, Style] = {}  # a segment's style -> it over the theme's colours
        self._base: Style | None = None  # the theme's colours those were built over

    def lines(self, width: int) -> list[Line]:
        """The panel's lines at this width, top to bottom (every subclass draws its own)."""
        raise NotImplementedError

    def changed(self, layout: bool = False) -> None:
        """Redraw from the widget's new data; `layout=True` only when its height may change."""
        old = self._strips if self._built_for == self._build_key() else None
        self._strips = None
        if layout or old is None or not self.size:
            self.refresh(layout=layout)
            return
        # Stepping often changes a few lines of many (one box of the diagram, a
        # marker): repaint just those.
        new = self._build()
        width = self.size.width
        # an unchanged line kept its strip (see _build)
        dirty = [Region(0, y, width, 1) for y in range(max(len(old), len(new)))
                 if y >= len(old) or y >= len(new) or old[y] is not new[y]]
        if dirty:
            self.refresh(*dirty)

    @property
    def plain(self) -> str:
        """The lines as plain text, at the widget's present width."""
        return "\n".join(line.plain if isinstance(line, Text) else "".join(seg.text for seg in line)
                         for line in self.lines(self.size.width))

    def render_line(self, y: int) -> Strip:
        strips = self._strips if self._built_for == self._build_key() and self._strips is not None else self._build()
        return strips[y] if y < len(strips) else Strip.blank(self.size.width, self.rich_style)

    def _build_key(self) -> tuple:
        return self.size, self.app.theme

    def _build(self) -> list[Strip]:
        width, base, console = self.size.width, self.rich_style, self.app.console
        key = self._build_key()
        if self._built_for != key or self._base != base:
            self._by_content, self._styles, self._base = {}, {}, base
        known, by_content, strips = self._by_content, {}, []
        for line in self.lines(width):
            content = _content(line)
            strip = known.get(content) or by_content.get(content)
            if strip is None:
                strip = self._strip(line, width, base, console, self._styles)
            by_content[content] = strip
            strips.append(strip)
        self._strips, self._by_content, self._built_for = strips, by_content, key
        return strips

    @staticmethod
    def _strip(line: Line, width: int, base: Style, console, styles: dict | None = None) -> Strip:
        """One line, cropped or padded to `width`, the theme's colours under its own.

        `styles` remembers each style over `base` (a gate row has a hundred cells in a
        few dozen colours)."""
        if isinstance(line, Text):
            if line.overflow == "ellipsis" and line.cell_len > width:
                line = line.copy()
                line.truncate(width, overflow="ellipsis")
            line = line.render(console)
        styles = {} if styles is None else styles
        segments = []
        for text, style, control in line:
            over = styles.get(style)
            if over is None:
                over = styles[style] = base + style
            segments.append(Segment(text, None if control else over, control))
        strip = Strip(segments)
        if strip.cell_length != width:
            strip = strip.crop_extend(0, width, base)
        return strip


def _content(line: Line) -> tuple:
    """What a line draws, as a key: equal keys make equal strips."""
    if isinstance(line, Text):
        return (line.plain, line.style, tuple(line.spans), line.overflow)
    return tuple(line)
