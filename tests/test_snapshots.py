"""What the screen looks like, at the three sizes a learner sits at.

The fake trainer is never started here: the screen shows the seed's weights, the
same on every run. Update after a deliberate change with
`pytest tests/test_snapshots.py --snapshot-update` and look at the report.
"""

from __future__ import annotations

import pytest

from rnn_tui.cli import build_parser
from rnn_tui.training import protocol as p
from rnn_tui.training.fake import FakeTrainerClient
from rnn_tui.ui.app import RnnTuiApp
from tests.test_app import settle, shown

SIZES = {"80x24": (80, 24), "120x40": (120, 40), "200x60": (200, 60)}
SCENARIOS = {
    "text": ["--scenario", "text", "--hidden", "12"],
    "adding": ["--scenario", "adding", "--seq-len", "16", "--hidden", "12"],
    "sentiment-bi": ["--scenario", "sentiment", "--bidirectional", "--hidden", "12"],
    "compare": ["--scenario", "adding", "--seq-len", "16", "--hidden", "12"],
}


class Frozen(FakeTrainerClient):
    def send(self, command) -> None:
        if not isinstance(command, p.Start):  # stay at the seed's weights
            super().send(command)


def make(argv: list[str]) -> RnnTuiApp:
    return RnnTuiApp(Frozen, {"options": build_parser(None).parse_args(argv)}, runs_dir=None, save_on_quit=False)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_screen(snap_compare, scenario, size):
    async def ready(pilot):
        app = pilot.app
        await settle(app, pilot, until=lambda a: shown(a) is not None and a.view.snaps)
        if scenario == "compare":
            await pilot.press("c")
            await settle(app, pilot, until=lambda a: set(a.view.snaps) == {"rnn", "lstm", "gru"})
        await pilot.press("right", "right", "right")
        await pilot.pause(0.3)

    assert snap_compare(make(SCENARIOS[scenario]), terminal_size=SIZES[size], run_before=ready)


@pytest.mark.parametrize("arch", ["rnn", "gru"])
def test_other_cells(snap_compare, arch):
    """The gates panel and diagram of the other two cells (the LSTM is above)."""
    async def ready(pilot):
        await settle(pilot.app, pilot, until=lambda a: shown(a) is not None and a.view.snaps)
        await pilot.press("right", "right", "right")
        await pilot.pause(0.3)

    assert snap_compare(make(SCENARIOS["adding"] + ["--arch", arch]), terminal_size=(120, 40), run_before=ready)
