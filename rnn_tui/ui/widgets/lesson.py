"""The lesson beside the panels (b shows and hides it): what to press, what to look at,
and the lesson's checks with their live figures.

Docked at the screen's right, so the panels stay in view (narrower) while it is read.
The checks are computed again whenever the trace, step or layer on screen changes, and
a few times a second for the training numbers; the text is redrawn only when it changed.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from rnn_tui.ui.lesson_checks import Checker
from rnn_tui.ui.lessons import Lesson

REFRESH_S = 0.25  # the training numbers arrive about ten times a second; this is enough to follow them
SHORT_ROWS = 30  # below this the intro gives its rows to what to do and the checks


def steps_text(lesson: Lesson) -> Text:
    """What to press and what to look at, numbered."""
    text = Text("Do", style="bold")
    for n, step in enumerate(lesson.steps, 1):
        text.append(f"\n{n}. ", style="bold")
        text.append(step)
    return text


def checks_text(results, closing: str) -> Text:
    text = Text("See, live", style="bold")
    for result in results:
        text.append("\n✓ " if result.met else "\n… ", style="bold green" if result.met else "dim")
        text.append(result.text, style="" if result.met else "dim")
    if closing and all(r.met for r in results):
        text.append(f"\n\n{closing}", style="italic")
    return text


class LessonText(VerticalScroll, can_focus=False):
    """What to do, scrolled by the mouse wheel where it is long: the keys drive the app."""


class LessonPanel(Vertical):
    DEFAULT_CSS = """
    LessonPanel { dock: right; width: 40%; min-width: 36; max-width: 64; height: 1fr;
                  border: round $accent; padding: 0 1; background: $surface; }
    LessonPanel.-hidden { display: none; }
    LessonPanel > LessonText { height: 1fr; scrollbar-size-vertical: 1; }
    LessonPanel > #lesson-checks { height: auto; max-height: 60%; border-top: solid $accent; }
    LessonPanel #lesson-intro { color: $text-muted; margin-bottom: 1; }
    LessonPanel.-short #lesson-intro { display: none; }
    """

    def __init__(self, lesson: Lesson) -> None:
        super().__init__(id="lesson")
        self.lesson = lesson
        self.checker = Checker(lesson)
        self.checks = Static("", id="lesson-checks")
        self._shown = ""  # the checks' text on screen

    def compose(self) -> ComposeResult:
        with LessonText():
            yield Static(Text(self.lesson.title, style="bold"), id="lesson-title")
            yield Static(self.lesson.intro, id="lesson-intro")
            yield Static(steps_text(self.lesson), id="lesson-steps")
        yield self.checks

    def on_mount(self) -> None:
        number = f" {self.lesson.number}" if self.lesson.number else ""
        self.border_title = f"Lesson{number}"
        self.border_subtitle = "b hides"
        for name in ("trace", "step", "track"):
            self.watch(self.screen, name, self.refresh_checks, init=False)
        self.set_interval(REFRESH_S, self.refresh_checks)
        self.refresh_checks()

    def on_resize(self) -> None:
        self.set_class(self.size.height < SHORT_ROWS, "-short")

    def refresh_checks(self, *_) -> None:
        screen = self.screen
        if self.has_class("-hidden"):
            return
        results = self.checker.results(screen.view, screen.trace, screen.step, screen.track)
        text = checks_text(results, self.lesson.closing)
        if text.plain != self._shown:
            self._shown = text.plain
            self.checks.update(text)


def toggle_lesson(screen, lesson: Lesson | None) -> None:
    """Show or hide the lesson panel; mounted the first time it is shown."""
    panels = screen.query(LessonPanel)
    if panels:
        panel = panels.first()
        panel.toggle_class("-hidden")
        panel.refresh_checks()
    elif lesson is None:
        screen.notify("no lesson is open: rnn-tui lessons lists them, rnn-tui --lesson N opens one",
                      severity="warning")
    else:
        screen.mount(LessonPanel(lesson))
