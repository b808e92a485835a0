"""Python's full collections (7-18 ms in a running app) wait for a pause in the keys."""

from __future__ import annotations

import gc

from rnn_tui.ui import collector as c
from tests.test_app import make_app, settle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def full_passes() -> int:
    return gc.get_stats()[2]["collections"]


def test_a_full_pass_waits_for_quiet_input_and_is_never_put_off_for_good():
    clock = Clock()
    collector = c.IdleCollector(clock)
    before = gc.get_threshold()
    collector.start()
    try:
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[:2] == before[:2] and gc.get_threshold()[2] >= c.NEVER  # no automatic full pass
        clock.now += c.EVERY_S - 0.1
        assert not collector.tick()  # too soon after the last
        clock.now += 0.2
        collector.input()
        assert not collector.tick()  # due, but a key just came
        clock.now += c.QUIET_S
        ran = full_passes()
        assert collector.tick() and full_passes() == ran + 1
        assert not collector.tick()
        # keys all the time: put off, but not past OVERDUE_S
        while clock.now - collector.last_pass < c.OVERDUE_S - 0.1:
            clock.now += 0.1
            collector.input()
            assert not collector.tick()
        clock.now += 0.1
        collector.input()
        assert collector.tick()
    finally:
        collector.stop()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    assert not collector.tick()  # stopped: the automatic passes are back


async def test_the_app_runs_no_full_pass_under_keys_and_one_after_them(monkeypatch):
    monkeypatch.setattr(c, "EVERY_S", 0.2)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.pause(0.5)  # the first frame is drawn and the app's objects frozen
        ran = full_passes()
        for _ in range(20):  # ~1.5 s of keys, each well within QUIET_S of the last
            await pilot.press("right")
            await pilot.pause(0.05)
        assert full_passes() == ran
        await pilot.pause(c.QUIET_S + 0.6)
        assert full_passes() > ran
    assert gc.get_threshold()[2] < c.NEVER  # the app's end gave the settings back
