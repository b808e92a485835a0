"""When Python's cycle collector may stop the app: between keys, not under them.

A full collection walks every object the collector tracks: in a running app ~45,000 of
Textual's line caches, 7-18 ms on a 2-core machine, run whenever enough objects have
built up, so now and then just as a key's frame is being drawn. Here the app's
long-lived objects are frozen out of its reach after the first frame, the automatic full
passes are turned off (the young generations still collect as usual), and a full pass
runs once input has been quiet for a moment, or anyway when one is long overdue.
"""

from __future__ import annotations

import gc
import time

# A full pass waits until no key, click or resize for this long; at 0.5 s it ran just as
# the next key of someone stepping twice a second came, and delayed its frame 10-20 ms.
QUIET_S = 0.2
EVERY_S = 5.0  # and runs at most this often
OVERDUE_S = 30.0  # keys or not, at least this often (a key held down for a minute)
NEVER = 1 << 30  # a threshold the count of younger passes never reaches


class IdleCollector:
    """Owns the collector's settings while the app runs: `start` after the first frame,
    `input` on every key, click and resize, `tick` a few times a second, `stop` at the end."""

    def __init__(self, clock=time.monotonic) -> None:
        self.clock = clock
        self.last_input = self.last_pass = clock()
        self.saved: tuple[int, ...] | None = None

    def start(self) -> None:
        gc.collect()
        gc.freeze()  # Textual's and the app's own objects live as long as the app
        self.saved = gc.get_threshold()
        young, middle = self.saved[:2]
        gc.set_threshold(young, middle, NEVER)
        self.last_pass = self.clock()

    def input(self) -> None:
        self.last_input = self.clock()

    def tick(self) -> bool:
        """Run a full pass if one is due; True when it ran."""
        if self.saved is None:
            return False
        now = self.clock()
        since = now - self.last_pass
        if since < OVERDUE_S and (since < EVERY_S or now - self.last_input < QUIET_S):
            return False
        gc.collect()
        self.last_pass = self.clock()
        return True

    def stop(self) -> None:
        if self.saved is not None:
            gc.set_threshold(*self.saved)
            gc.unfreeze()
            self.saved = None
