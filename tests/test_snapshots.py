"""What the screen looks like, per architecture, at the smallest and a large size.

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


class Frozen(FakeTrainerClient):
    def send(self, command) -> None:
        if not isinstance(command, p.Start):  # stay at the seed's weights
            super().send(command)


def make(arch: str) -> RnnTuiApp:
    args = build_parser(None).parse_args(["--scenario", "adding", "--seq-len", "16", "--hidden", "12", "--arch", arch])
    return RnnTuiApp(Frozen, {"options": args}, runs_dir=None, save_on_quit=False)


@pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=["80x24", "160x50"])
@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_screen(snap_compare, arch, size):
    async def ready(pilot):
        await settle(pilot.app, pilot, until=lambda a: shown(a) is not None and a.view.snaps)
        await pilot.press("right", "right", "right")
        await pilot.pause(0.3)

    assert snap_compare(make(arch), terminal_size=size, run_before=ready)
