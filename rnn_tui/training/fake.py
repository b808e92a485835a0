"""`FakeTrainerClient`: TrainerClient's interface with no process, for the app's tests.

A real training process makes every Pilot keypress wait for a busy CPU, and its
timing differs from run to run. The fake runs the very same command handling
(`Host`) in-process instead, and trains a fixed number of real optimizer steps per
`poll()`, under a clock that advances a fixed 1 ms each time it is read: the same
calls give the same snapshots, seq/s included, every time.
"""

from __future__ import annotations

from rnn_tui.training.host import MAIN, Host
from rnn_tui.training.protocol import COMMANDS, Command, Message, TrainerError

TICK_S = 0.001  # how far the fake clock moves each time it is read


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        self.now += TICK_S
        return self.now


class FakeTrainerClient:
    def __init__(self, source: dict, model: dict, train: dict, runs_dir: str | None = None,
                 compare: list[str] | None = None, save_on_quit: bool = False, steps_per_poll: int = 1):
        self.labels = list(compare) if compare else [MAIN]
        spec = {"source": dict(source), "model": dict(model), "train": dict(train)}
        self._specs = {label: dict(spec) for label in self.labels}
        self._options = (runs_dir, save_on_quit, bool(compare))
        self.steps_per_poll = steps_per_poll
        self.sent: list[Command] = []  # every command, for tests to assert on
        self._host: Host | None = None
        self._outbox: list = []
        self._clock = _Clock()

    def start(self) -> None:
        if self._host is None or self._host.finished:
            self._host = Host(self._specs, *self._options, emit=self._outbox.append, clock=self._clock)

    def send(self, name: str, **args) -> None:
        if name not in COMMANDS:
            raise ValueError(f"unknown command {name!r}; expected one of {', '.join(COMMANDS)}")
        self.sent.append(Command(name, dict(args)))
        if self._host is None or self._host.finished:
            self._outbox.append(TrainerError(args.get("run", ",".join(self.labels)), "the trainer is not started"))
            return
        self._host.handle(Command(name, dict(args)))

    def poll(self) -> list[Message]:
        host = self._host
        if host is not None and not host.finished and host.busy:
            host.train_for(float("inf"), max_rounds=self.steps_per_poll)
        out = self._take_outbox()
        if host is not None and host.changed():
            out += host.snapshots()
        if host is not None and host.traces_due():
            out += host.traces()
        return out

    def close(self, timeout: float = 3) -> list[Message]:
        if self._host is not None and not self._host.finished:
            self._host.stop()
        return self._take_outbox()

    def _take_outbox(self) -> list:
        """Emptied in place: the host's `emit` is bound to this very list."""
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
