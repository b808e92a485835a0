"""Bordered boxes whose border text can change with every key and repaint one line.

Setting `border_title` or `border_subtitle` repaints the whole widget in Textual, and
so every line of the panel inside it is composed and sent to the terminal again: the
heatmap's legend in its box's lower border (it reads the value at the current step)
cost a repaint of the whole heatmap box on each step.
"""

from __future__ import annotations

from rich.text import Text
from textual.containers import Vertical
from textual.geometry import Region
from textual.widget import Widget


class BorderText:
    """Border texts set with `set_border_text` repaint their own line.

    A mixin, first in the bases of a widget class (`class Box(BorderText, Vertical)`),
    and no Widget itself: Textual takes a class's default CSS along its first Widget
    base, which must stay the container's."""

    _border_line: int | None = None  # while a text is being set: its line, 0 (top) or -1 (bottom)

    def set_border_text(self, text: str | Text | None, top: bool = False) -> None:
        """The lower border's text (the upper's with `top`), repainting that line only."""
        self._border_line = 0 if top else -1
        try:
            if top:
                self.border_title = text
            else:
                self.border_subtitle = text
        finally:
            self._border_line = None

    def refresh(self, *regions: Region, **kwargs) -> Widget:
        if self._border_line is not None and not regions and self.outer_size:
            # Setting a border text asks for a repaint of the whole box: its line is enough
            # (regions are given relative to the content, inside the border).
            width, height = self.outer_size
            y = 0 if self._border_line == 0 else height - 1
            regions = (Region(0, y, width, 1).translate(-self.content_offset),)
        return super().refresh(*regions, **kwargs)


class BorderBox(BorderText, Vertical):
    """A Vertical box whose border texts repaint their own line."""


def set_border_text(box: Widget, text: str | Text | None, top: bool = False) -> None:
    """Set a box's border text: its line only where the box is a BorderText, all of it otherwise."""
    if isinstance(box, BorderText):
        box.set_border_text(text, top)
    elif top:
        box.border_title = text
    else:
        box.border_subtitle = text
