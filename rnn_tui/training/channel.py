"""A channel between processes where the latest message wins.

Snapshots are made faster than a busy UI may read them. A queue would grow behind
a slow reader, and a plain pipe would block the trainer as soon as the pipe's
64 KB buffer is full. Here the sender's `publish` only puts the message into a
one-message slot (replacing an unsent one), and a thread writes the slot to the
pipe. So the sender holds at most two messages (one waiting, one being written)
whatever the reader does, and training never waits for the reader.

The reader drains the pipe and keeps the last message. A message that was already
being written when a newer one was published arrives first; the newer one comes
with the next read.

Each end is its own pipe end, and no process keeps the other's: if the trainer
dies mid-message the reader sees end-of-file rather than waiting forever, and if the
app dies the writer gets a broken pipe rather than blocking forever.
"""

from __future__ import annotations

import pickle
import threading
import time


def latest_wins_pipe(context):
    """(reader, writer) connections: the app keeps the reader, the trainer gets the writer."""
    return context.Pipe(duplex=False)


class LatestSender:
    """The trainer's end: `publish` never blocks."""

    def __init__(self, conn, name: str = "latest-writer"):
        self._conn = conn
        self._slot: bytes | None = None
        self._writing = False
        self._changed = threading.Condition()
        self.broken = False  # the reader is gone
        threading.Thread(target=self._write, name=name, daemon=True).start()

    def publish(self, message) -> None:
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with self._changed:
            self._slot = payload  # an unsent older message is dropped here
            self._changed.notify_all()

    def _write(self) -> None:
        while True:
            with self._changed:
                while self._slot is None:
                    self._changed.wait()
                payload, self._slot, self._writing = self._slot, None, True
            try:
                self._conn.send_bytes(payload)  # blocks while the pipe is full: only this thread
            except OSError:
                self.broken = True
                return
            finally:
                with self._changed:
                    self._writing = False
                    self._changed.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait (at most `timeout` s) until everything published is in the pipe."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while (self._slot is not None or self._writing) and not self.broken:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return not self.broken


def take_latest(conn):
    """The newest message in the pipe, or None (also once the sender is gone)."""
    payload = None
    try:
        while conn.poll(0):
            payload = conn.recv_bytes()
    except (EOFError, OSError):  # the sender ended; whether that was expected is the caller's call
        pass
    return None if payload is None else pickle.loads(payload)
