"""Your runs: listed headless and in the app, resumed with their whole history, overlaid, deleted."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from rnn_tui.cli import build_parser
from rnn_tui.training import protocol as p
from rnn_tui.training.fake import FakeTrainerClient
from rnn_tui.training.runs_index import list_runs, read_rows
from rnn_tui.ui.app import RnnTuiApp
from rnn_tui.ui.runs_screen import RunsScreen
from tests.test_app import settle
from tests.test_cli import in_tmp, run  # noqa: F401 - in_tmp keeps run folders out of the checkout

TRAIN = ["train", "--scenario", "sine", "--hidden", "8", "--eval-every", "10", "--batch-size", "8"]


def steps(folder) -> list[int]:
    return [json.loads(line)["step"] for line in (Path(folder) / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture
def trained(capsys, tmp_path):
    """A headless run of 30 steps, then one resumed from its checkpoint for 20 more."""
    assert run(TRAIN + ["--steps", "30"], capsys)[0] == 0
    (first,) = list_runs("runs")
    time.sleep(1.1)  # run folders are named to the second
    assert run(["train", "--checkpoint", first.checkpoint, "--steps", "20"], capsys)[0] == 0
    return first.path


def test_a_resumed_run_keeps_its_whole_history(trained):
    second, first = list_runs("runs")  # newest first
    assert first.path == trained
    assert steps(first.path) == [10, 20, 30]
    assert steps(second.path) == [10, 20, 30, 40, 50]  # the history it went on from, then its own
    assert json.loads((Path(second.path) / "run.json").read_text())["resumed_from"] == first.checkpoint
    assert (second.step, first.step) == (50, 30)
    assert Path(second.checkpoint).name == "step-50.pt"
    rows = [json.loads(line) for line in (Path(second.path) / "metrics.jsonl").read_text().splitlines()]
    assert second.best == min(r["val_loss"] for r in rows)
    assert second.metric == "val_loss" and second.goal == 0.01


def test_runs_lists_them_headless(trained, capsys):
    code, out, _ = run(["runs", "--json"], capsys)
    assert code == 0
    listed = json.loads(out)
    assert [r["step"] for r in listed] == [50, 30]
    assert {"path", "scenario", "arch", "hidden", "step", "best", "solved_at", "checkpoint", "updated"} <= set(listed[0])
    code, out, _ = run(["runs"], capsys)
    assert code == 0 and "step 50" in out and "go on" not in out and listed[0]["checkpoint"] in out


def test_runs_with_no_runs_and_a_bad_folder(capsys, tmp_path):
    code, out, _ = run(["runs"], capsys)
    assert code == 0 and "no runs under runs yet" in out
    Path("afile").write_text("x")
    code, _, err = run(["runs", "--runs-dir", "afile"], capsys)
    assert code == 2 and err.count("\n") == 1 and "is a file" in err


def test_metrics_are_thinned_and_a_cut_line_is_skipped(tmp_path):
    folder = tmp_path / "r"
    folder.mkdir()
    lines = [json.dumps({"step": i, "val_loss": 1 / i}) for i in range(1, 10_001)]
    (folder / "metrics.jsonl").write_text("\n".join(lines) + '\n{"step": 10001, "val_')
    rows = read_rows(folder, limit=500)
    assert 450 <= len(rows) <= 510 and rows[0]["step"] == 1 and rows[-1]["step"] == 10_000
    assert [r["step"] for r in read_rows(folder, up_to=3)] == [1, 2, 3]


def test_a_folder_without_summary_is_summarised_from_its_metrics(trained):
    second, _ = list_runs("runs")
    (Path(second.path) / "summary.json").unlink()
    again, _ = list_runs("runs")
    assert (again.step, again.best) == (second.step, second.best)


# ------------------------------------------------------------------ the app


def make_app(runs_dir: str) -> RnnTuiApp:
    args = build_parser(None).parse_args(["--scenario", "sine", "--hidden", "8"])
    return RnnTuiApp(FakeTrainerClient, {"options": args}, runs_dir=runs_dir, save_on_quit=False)


async def open_runs(app, pilot) -> None:
    """Wait for the run, press o, wait for the list of runs."""
    await settle(app, pilot, until=lambda a: a.view.run is not None)
    await pilot.press("o")
    await settle(app, pilot, until=lambda a: isinstance(a.screen, RunsScreen) and a.screen.runs)


async def test_the_runs_screen_opens_a_past_run_with_its_history(trained):
    app = make_app("runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_runs(app, pilot)
        assert app.screen.query_one("OptionList").option_count == 2
        await pilot.press("enter")  # the newest: the resumed run, 50 steps
        await settle(app, pilot, until=lambda a: a.view.snap is not None and a.view.snap.step == 50)
        assert isinstance(app.client.sent[-2], p.Open)
        snap = app.view.snap
        assert [r["step"] for r in snap.history] == [10, 20, 30, 40, 50]  # the whole history, on the chart
        assert snap.status == "paused"
        plotted = {s.label: list(s.xs) for s in app.main.training.chart.series}
        assert plotted["val"] == [10, 20, 30, 40, 50]


async def test_the_runs_screen_overlays_and_deletes(trained):
    app = make_app("runs")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_runs(app, pilot)
        await pilot.press("space", "down", "space", "o")  # both marked, overlaid
        await settle(app, pilot, until=lambda a: len(a.main.training.overlay) == 2)
        await settle(app, pilot, until=lambda a: a.view.snap is not None)
        labels = [s.label for s in app.main.training.chart.series]
        assert sum(label.startswith("lstm 1×8") for label in labels) == 2
        await pilot.press("o")
        await settle(app, pilot, until=lambda a: isinstance(a.screen, RunsScreen) and a.screen.runs)
        await pilot.press("down", "d")
        await pilot.press("n")  # asked first: kept
        assert len(list_runs("runs")) == 2
        await pilot.press("d", "y")
        await settle(app, pilot, until=lambda a: len(list_runs("runs")) == 1)
        await settle(app, pilot, until=lambda a: a.screen.query_one("OptionList").option_count == 1)
        await pilot.press("c")  # clears the overlay
        await settle(app, pilot, until=lambda a: not a.main.training.overlay)
