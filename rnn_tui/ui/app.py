"""The rnn-tui app: step through a sequence inside a network that is learning.

Data flows one way. The trainer (another process, started before the first frame)
sends what each run is (RunInfo), how it is doing (Snapshot) and, at most once a
second, a Trace of the sample on screen with its newest weights. `MainScreen` owns
what is shown (reactive trace, step, track, unit, bound into every panel);
`ViewState` decides which trace may be shown. Stepping only redraws: it never waits
for training, and this process never loads torch.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

from textual import events, work
from textual.app import App
from textual.binding import Binding

from rnn_tui.training import protocol as p
from rnn_tui.ui.collector import IdleCollector
from rnn_tui.ui.commands import RnnCommands
from rnn_tui.ui.confirm import Confirm
from rnn_tui.ui.main_screen import MainScreen
from rnn_tui.ui.view_state import COMPARE_ARCHS, ViewState

POLL_S = 0.1  # how often the trainer's pipes are read
# After the terminal closed: the trainer's time to save (the command line waits 5 s for
# it) and the app's own to shut down, before the process ends however far it got.
HANGUP_GRACE_S = 8.0
# Textual holds each resize 1/120 s to gather a window drag's stream of them into one
# layout. A resize with none in this long before it is the first of a stream (or a lone
# one, as from a tiling window manager or tmux): it is laid out at once.
RESIZE_QUIET_S = 0.1
COLLECT_CHECK_S = 0.1  # how often the collector is asked whether a full pass is due


class RnnTuiApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "rnn-tui"
    COMMANDS = App.COMMANDS | {RnnCommands}
    BINDINGS = [Binding("ctrl+c", "quit", "quit", show=False, priority=True)]

    def __init__(self, client_factory, start: dict, runs_dir: str | None = "runs", save_on_quit: bool = True,
                 client=None, device: str = "cpu") -> None:
        """`client_factory(start, runs_dir=, compare=, save_on_quit=)` makes a TrainerClient
        (or a fake); `client`, when given, is one already started (before the app ran)."""
        super().__init__()
        self.client_factory, self.runs_dir, self.save_on_quit = client_factory, runs_dir, save_on_quit
        self.device = device
        self.lesson = None  # rnn-tui --lesson N: the lesson shown beside the panels (ui.lessons.Lesson)
        self.client = client or self._new_client(start, compare=False)
        self.view = ViewState(self.client)
        self.exit_message: str | None = None
        self.saved: list[str] = []  # checkpoints written during the session, newest last
        self._closing: list = []  # clients being closed in the background
        self.collector = IdleCollector()  # Python's full collections, between keys
        self._last_resize = float("-inf")  # when the terminal last said its size changed

    def _new_client(self, start: dict, compare: bool):
        client = self.client_factory(start, runs_dir=self.runs_dir, compare=COMPARE_ARCHS if compare else None,
                                     save_on_quit=self.save_on_quit, device=self.device)
        client.start()
        return client

    async def _on_resize(self, event) -> None:
        """A resize after a quiet spell is drawn without Textual's 1/120 s wait (8 ms of the
        ~40 ms a 200x60 redraw takes); the rest of a drag's stream is still gathered."""
        await super()._on_resize(event)
        now, last = time.monotonic(), self._last_resize
        self._last_resize = now
        if now - last >= RESIZE_QUIET_S and getattr(self, "_resize_timer", None) is not None:
            self._check_resize()

    def get_default_screen(self) -> MainScreen:
        return MainScreen(self.view)

    def on_mount(self) -> None:
        self.view.send(p.Start())
        self.view.watch()
        self.set_interval(POLL_S, self.poll_trainer)
        loop = asyncio.get_running_loop()
        # kill, or a closed terminal: save and say where
        for sig, handler in ((signal.SIGTERM, self.quit_saving), (signal.SIGHUP, self.hang_up)):
            try:
                loop.add_signal_handler(sig, handler, True)
            except (NotImplementedError, RuntimeError, ValueError):  # not the main thread (tests)
                pass
        # The collector's full passes wait for a pause in the keys. From after the first
        # frame: the pass that freezes the app's objects takes ~10 ms it need not wait for.
        self.call_after_refresh(self.collector.start)
        self.set_interval(COLLECT_CHECK_S, self.collector.tick)

    def on_unmount(self) -> None:
        self.collector.stop()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp,
                              events.Resize)):
            self.collector.input()
        await super().on_event(event)

    @property
    def main(self) -> MainScreen | None:
        """The one MainScreen (also while a help or picker screen is on top of it)."""
        stack = self.screen_stack
        return stack[0] if stack and isinstance(stack[0], MainScreen) else None

    def poll_trainer(self) -> None:
        if self.main is None or self.main.status is None:  # not mounted yet: events wait in the pipes
            return
        update = self.view.apply(self.client.poll())
        self.saved += update.saved
        if update.fatal:
            self.exit_message = update.fatal
            self.exit(return_code=2)
            return
        if self.main is not None:
            self.main.show_update(update)

    # ------------------------------------------------------------ compare mode
    def toggle_compare(self) -> None:
        """A new trainer for one run or three; the old one saves and ends in a thread,
        never on the event loop (it took 1.7-4.2 s there)."""
        view = self.view
        if not view.ready:
            return
        start = view.restart_spec()
        old = self.client
        old.stop()
        self._close_in_background(old)
        self.client = self._new_client(start, compare=not view.compare)
        self.view = ViewState(self.client, compare=not view.compare)
        self.view.temperature = view.temperature
        main = self.main
        main.view = self.view  # the old picture stays until the new trainer's first trace
        self.view.send(p.Start())
        self.view.watch()
        main.update_status()
        main.notify("compare mode: rnn, lstm and gru on the same data" if self.view.compare else "compare mode off")

    @work(thread=True, group="close")
    def _close_in_background(self, client) -> None:
        events = client.close(timeout=5)
        self.call_from_thread(self._old_trainer_closed, events)

    def _old_trainer_closed(self, events: list) -> None:
        for event in events:
            if isinstance(event, p.Saved):
                self.saved.append(event.path)
                self.notify(f"{event.run}: saved {event.path}" if event.run != "main" else f"saved {event.path}")
            elif isinstance(event, p.TrainerError):
                self.notify(f"trainer ({event.run}): {event.reason}", severity="error")

    # ------------------------------------------------------------ quitting
    def action_quit(self) -> None:
        self.quit_saving()

    def quit_saving(self, by_signal: bool = False) -> None:
        """Ask the trainer to save and end, and leave at once; the command line waits for
        the save and says where it went. Asks first when training cannot be saved."""
        reason = self.view.unsaved
        if reason and not by_signal and self.save_on_quit:
            def answered(quit_anyway: bool | None) -> None:
                if quit_anyway:
                    self._leave()

            self.push_screen(Confirm(f"The training cannot be saved:\n{reason}\n\nQuit anyway and lose it? "
                                     "y quits, n stays."), answered)
            return
        self._leave()

    def hang_up(self, by_signal: bool = True) -> None:
        """The terminal is gone (SIGHUP): save and leave as for a kill. Textual's own
        shutdown can then block for good on its writer to the closed terminal (about one
        close in three right after the first frame), so a watchdog ends the process once
        the trainer has had its time to save."""
        self.quit_saving(by_signal)
        threading.Thread(target=_end_after, args=(HANGUP_GRACE_S,), daemon=True, name="rnn-tui hang-up").start()

    def _leave(self) -> None:
        self.client.stop()
        self.exit()


def _end_after(seconds: float) -> None:
    """End the process after `seconds` unless it has ended by itself. A trainer still
    running saves and ends when it sees the app gone (and it had the SIGHUP too)."""
    time.sleep(seconds)
    os._exit(0)
