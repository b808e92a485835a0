"""`FakeTrainerClient`: TrainerClient's interface with no process, for the app's tests.

A real training process makes every Pilot keypress wait for a busy CPU, and its
timing differs from run to run. The fake runs the very same command handling
(`RunGroup`) in-process instead, and trains a fixed number of real optimizer steps per
`poll()`, under a clock that advances a fixed 1 ms each time it is read: the same
calls give the same snapshots, seq/s included, every time. (It loads torch into the
test's process; the real client never does: see test_layers.)
"""

from __future__ import annotations

from rnn_tui.errors import UserError
from rnn_tui.training import protocol as p
from rnn_tui.training.client import MAIN
from rnn_tui.training.process import catalog, first_specs
from rnn_tui.training.run_group import RunGroup

TICK_S = 0.001  # how far the fake clock moves each time it is read


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        self.now += TICK_S
        return self.now


class FakeTrainerClient:
    def __init__(self, start: dict, runs_dir: str | None = None, compare: list[str] | None = None,
                 save_on_quit: bool = False, steps_per_poll: int = 1, device: str = "cpu"):
        self.labels = list(compare) if compare else [MAIN]
        self._start = start
        self._options = (runs_dir, save_on_quit, list(compare or []))
        self._device = device
        self.steps_per_poll = steps_per_poll
        self.sent: list[p.Command] = []  # every command, for tests to assert on
        self.group: RunGroup | None = None
        self._outbox: list = []
        self._clock = _Clock()

    def start(self) -> None:
        if self.group is not None and not self.group.finished:
            return
        try:
            specs, load = first_specs(self._start, self.labels)
        except UserError as err:
            self._outbox.append(p.Fatal(str(err)))
            return
        self.group = RunGroup(specs, *self._options, emit=self._outbox.append, clock=self._clock,
                              device=self._device)
        if not self.group.runs and "options" in self._start:
            self._outbox.append(p.Fatal(self.group.build_error or "the scenario could not be built"))
            self.group = None
            return
        for label, path in load.items():
            self.group.handle(p.Load(path, run=label))
        self._outbox.append(catalog())

    def send(self, command: p.Command) -> None:
        if not isinstance(command, p.COMMANDS):
            raise TypeError(f"not a command: {command!r}")
        self.sent.append(command)
        if self.group is None or self.group.finished:
            self._outbox.append(p.TrainerError(command.run or ",".join(self.labels), "the trainer is not started"))
            return
        self.group.handle(command)

    def poll(self) -> list[p.Event]:
        group = self.group
        if group is not None and not group.finished and group.busy:
            group.train_for(float("inf"), max_rounds=self.steps_per_poll)
        out = self._take_outbox()
        if group is not None and group.changed():
            out += group.snapshots()
        if group is not None and group.traces_due():
            out += group.traces()
        return out

    def stop(self) -> None:
        if self.group is not None and not self.group.finished:
            self.group.stop()

    def close(self, timeout: float = 3) -> list[p.Event]:
        self.stop()
        return self._take_outbox()

    def _take_outbox(self) -> list:
        """Emptied in place: the group's `emit` is bound to this very list."""
        out = list(self._outbox)
        self._outbox.clear()
        return out

    @property
    def pids(self) -> list[int]:
        return []

    def __enter__(self) -> "FakeTrainerClient":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
