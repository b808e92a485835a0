"""The app under Pilot, against the deterministic in-process fake trainer."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from rnn_tui.cli import build_parser
from rnn_tui.core.trace_file import Trace
from rnn_tui.training import protocol as p
from rnn_tui.training.fake import FakeTrainerClient
from rnn_tui.ui.app import RnnTuiApp
from rnn_tui.ui.main_screen import MainScreen
from rnn_tui.ui.help import HelpScreen
from rnn_tui.ui.labels import token_label
from rnn_tui.ui.pickers import ScenarioPicker
from rnn_tui.ui.widgets.heatmap import GUTTER, Heatmap
from rnn_tui.ui.widgets.sequence import Sequence


def make_app(*argv: str, client=FakeTrainerClient) -> RnnTuiApp:
    args = build_parser(None).parse_args(list(argv) or ["--scenario", "adding", "--seq-len", "12", "--hidden", "8"])
    return RnnTuiApp(client, {"options": args}, runs_dir=None, save_on_quit=False)


def main(app) -> MainScreen:
    return app.main


def shown(app):
    """The trace on screen."""
    return app.main.trace if app.main is not None else None


async def settle(app, pilot, until=lambda app: shown(app) is not None, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await pilot.pause(0.05)
        if until(app):
            await pilot.pause()
            return
    raise AssertionError("the app did not reach the expected state")


def sent(app) -> list[str]:
    return [type(c).__name__ for c in app.client.sent]


class HeldTrainerClient(FakeTrainerClient):
    """A fake trainer that says nothing until `held` is cleared: what the app shows
    before its trainer's first word, however slow the machine is to start the app."""

    held = True

    def poll(self):
        return [] if self.held else super().poll()


async def test_first_frame_shows_starting_then_a_trace():
    app = make_app(client=HeldTrainerClient)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        assert "starting" in str(main(app).status.render())
        app.client.held = False
        await settle(app, pilot)
        assert "adding" in str(main(app).status.render())
        assert sent(app)[:2] == ["Start", "Watch"]
        # what the screen labels things with came from the trainer, with the trace itself
        assert app.view.run.scenario == "adding" and shown(app).meta["scenario"] == "adding"


async def test_training_options_reach_the_trainer():
    app = make_app("--scenario", "adding", "--seq-len", "12", "--hidden", "8", "--steps", "7", "--lr", "0.01",
                   "--optimizer", "sgd")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, until=lambda a: a.view.snap is not None)
        train = app.view.snap.train  # what the trainer reports it runs with
        assert (train["steps"], train["lr"], train["optimizer"]) == (7, 0.01, "sgd")


async def test_stepping_keys():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = main(app)
        await pilot.press("right", "l", "l")
        assert screen.step == 3
        await pilot.press("left", "h")
        assert screen.step == 1
        await pilot.press("end")
        assert screen.step == shown(app).steps - 1
        await pilot.press("right")  # stays at the end
        assert screen.step == shown(app).steps - 1
        await pilot.press("home")
        assert screen.step == 0
        await pilot.press("right_square_bracket", "right_square_bracket", "left_square_bracket")
        assert screen.unit == 1
        # every panel is bound to the screen's state
        assert app.query_one(Heatmap).step == 0 and app.query_one(Heatmap).unit == 1
        assert app.query_one(Sequence).unit == 1 and app.query_one(Sequence).trace is shown(app)


async def test_trace_holds_still_while_stepping_then_catches_up():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        now = [0.0]
        app.view.clock = lambda: now[0]
        app.view.key_pressed()  # a key at t=0, and the clock stands still: the keys never go quiet
        before, step = shown(app), app.view.snap.step
        await settle(app, pilot, until=lambda a: a.view.snap.step >= step + 3)
        await pilot.pause(0.5)
        assert shown(app) is before  # training went on; the picture did not move under the keys
        now[0] = 10.0  # the keys go quiet
        await settle(app, pilot, until=lambda a: shown(a) is not before)
        assert shown(app).meta["step"] > before.meta["step"]  # newer weights


async def test_play_and_speed():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = main(app)
        await pilot.press("plus", "plus", "plus")  # 32 steps a second
        await pilot.press("space")
        assert screen.playing
        await settle(app, pilot, until=lambda a: main(a).step >= 2, seconds=5)
        await pilot.press("space")
        assert not screen.playing
        await pilot.press("minus")
        assert screen.speed_index == 4


async def test_samples_change_the_trace():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        first = shown(app).inputs.copy()
        await pilot.press("right")  # stepping holds new weights back, not a new sample
        await pilot.press("n")
        await settle(app, pilot, until=lambda a: not np.array_equal(shown(a).inputs, first))
        assert app.view.sample == 1 and main(app).step == 0 and shown(app).meta["sample"] == 1
        data = app.client.group.runs["main"].trainer.data
        assert np.array_equal(shown(app).inputs, data.val.x[1].numpy())
        await pilot.press("p", "p")
        assert app.view.sample == len(data.val) - 1


async def test_training_commands():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, until=lambda a: shown(a) is not None and a.view.snap is not None)
        await pilot.press("t")
        assert sent(app)[-1] == "Pause"
        await pilot.press("r")
        assert sent(app)[-1] == "Reset"
        await pilot.press("a")
        switch = [c for c in app.client.sent if isinstance(c, p.Switch)][-1]
        assert switch.model == {"arch": "gru"} and switch.source is None
        await settle(app, pilot, until=lambda a: shown(a).arch == "gru")
        assert "GRU" in str(main(app).status.render())
        await pilot.press("a", "a")  # two switches in a row, training paused: still a picture
        await settle(app, pilot, until=lambda a: shown(a).arch == "esn")


async def test_a_trace_from_before_a_switch_is_never_shown():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, until=lambda a: shown(a) is not None and a.view.snap is not None)
        stale = app.client.group.traces()[0]  # an LSTM's trace, as if still in the pipe
        stale = dataclasses.replace(stale, version=stale.version + 10**6)  # and new to the app
        await pilot.press("t", "a")
        real_poll = app.client.poll
        app.client.poll = lambda: [stale] + real_poll()
        await settle(app, pilot, until=lambda a: shown(a).arch == "gru")
        await pilot.pause(0.3)
        assert shown(app).arch == "gru"


async def test_a_refused_switch_keeps_the_picture():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, until=lambda a: shown(a) is not None and a.view.snap is not None)
        await pilot.press("t")  # paused: no new weights would bring a trace by themselves
        before = shown(app)
        main(app).set_model(layers=9)
        await settle(app, pilot, until=lambda a: any("layers" in n.message and "from 1 to 3" in n.message
                                                     for n in a._notifications))
        assert shown(app) is before and shown(app).arch == "lstm" and shown(app).layers == 1


async def test_live_controls_from_the_command_palette():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = main(app)
        screen.set_training(lr=1e-3)
        screen.set_training(clip=0.0)
        screen.set_training(optimizer="sgd")
        screen.set_model(hidden=16)
        assert app.client.sent[-4:] == [p.Set({"lr": 1e-3}), p.Set({"clip": 0.0}), p.Set({"optimizer": "sgd"}),
                                        p.Switch(model={"hidden": 16})]
        await settle(app, pilot, until=lambda a: shown(a).hidden == 16)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"learning rate")
        await pilot.pause(0.3)
        await pilot.press("escape")


async def test_compare_mode_trains_three_archs_and_never_blocks():
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        first = app.client
        await pilot.press("c")
        assert app.client is not first and first.group.finished  # the old trainer was told to stop
        await settle(app, pilot, until=lambda a: set(a.view.snaps) == {"rnn", "lstm", "gru"})
        assert app.client.labels == ["rnn", "lstm", "gru"] and shown(app).meta["run"] == "lstm"
        await pilot.press("c")
        await settle(app, pilot, until=lambda a: set(a.view.snaps) == {"main"})


async def test_help_and_scenario_picker():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("s")
        assert isinstance(app.screen, ScenarioPicker)
        await pilot.press("escape")
        assert not isinstance(app.screen, ScenarioPicker)
        await pilot.press("s", "enter")  # the first in the list: text
        await settle(app, pilot, until=lambda a: a.view.run.scenario == "text" and shown(a).tokens is not None)
        switch, watch = app.client.sent[-2:]
        assert isinstance(switch, p.Switch) and switch.source["scenario"].endswith("text.toml")
        assert watch == p.Watch(0, run="main")  # the new data's first sample
        assert shown(app).vocab == app.client.group.runs["main"].trainer.data.vocab


async def test_generate_follows_learning_and_refuses_elsewhere():
    app = make_app("--scenario", "text", "--hidden", "8", "--eval-every", "2")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, until=lambda a: shown(a) is not None and a.view.snap is not None)
        generation = main(app).generation
        assert "press g" in str(generation.render())
        await pilot.press("g")
        await settle(app, pilot, until=lambda a: "temperature 0.8" in str(generation.render()))
        first = str(generation.render())
        # a new evaluation brings new text, from the newer weights
        await settle(app, pilot, until=lambda a: str(generation.render()) != first)
        assert "temperature 0.8" in str(generation.render())
        main(app).set_temperature(0.2)
        await settle(app, pilot, until=lambda a: "temperature 0.2" in str(generation.render()))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, until=lambda a: shown(a) is not None and a.view.snap is not None)
        await pilot.press("g")
        await pilot.pause(0.5)
        assert "generation is for text scenarios; adding is regress" in str(main(app).generation.render())
        assert not app.view.generating
    app = make_app("--scenario", "text", "--hidden", "8")
    async with app.run_test(size=(80, 24)) as pilot:  # compact: the panel is hidden, and the app says so
        await settle(app, pilot, until=lambda a: shown(a) is not None and a.view.snap is not None)
        await pilot.press("g")
        assert any("hidden below 120×36 (this terminal is 80×24): press 6" in n.message for n in app._notifications)
        await pilot.press("6")
        generation = main(app).generation
        await settle(app, pilot, until=lambda a: "temperature" in str(generation.render()))
        assert generation.region.height > 5 and generation.region.width > 70  # zoomed: the whole room


async def test_export_is_the_trace_rnn_tui_trace_writes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app("--scenario", "brackets", "--hidden", "8")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("t")  # paused: the weights stay as exported
        await settle(app, pilot, until=lambda a: a.view.snap.status == "paused")
        await pilot.pause(0.3)
        await pilot.press("e")
        await pilot.pause(0.3)
        app.client.group.runs["main"].save(str(tmp_path / "now.pt"))
        data = app.client.group.runs["main"].trainer.data
    npz = list(tmp_path.glob("rnn-tui-*.npz"))
    assert len(npz) == 1 and len(list(tmp_path.glob("*.svg"))) == 1
    exported = Trace.load(npz[0])
    assert exported.vocab and exported.class_names and exported.meta["scenario"] == "brackets"
    text = "".join(exported.vocab[int(t)] for t in exported.tokens)  # decodes back to the tokens
    assert text == "".join(data.vocab[int(t)] for t in data.val.x[0]) and "(" in text
    subprocess.run([sys.executable, "-m", "rnn_tui", "trace", "--checkpoint", str(tmp_path / "now.pt"),
                    "--sample", "0", "--out", str(tmp_path / "cli.npz")], check=True, capture_output=True)
    cli = Trace.load(tmp_path / "cli.npz")
    assert cli.vocab == exported.vocab and cli.class_names == exported.class_names
    assert cli.meta["step"] == exported.meta["step"]
    for name in ("h", "outputs", "grad_h", "tokens"):
        np.testing.assert_allclose(getattr(cli, name), getattr(exported, name), rtol=1e-5, atol=1e-6)


async def test_clicks_jump_to_a_step():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        zoom = app.query_one(Heatmap).zoom  # short sequences get wider columns
        assert zoom > 1
        await pilot.click(Heatmap, offset=(GUTTER + 5 * zoom, 2))
        assert main(app).step == 5
        await pilot.click(Sequence, offset=(0, 1))  # the first token drawn
        assert main(app).step == 0


def test_control_characters_are_drawn_never_sent_raw():
    assert [token_label(c) for c in ("\r", " ", "\n", "\x07", "a", "\x7f")] == ["␍", "␣", "↵", "␇", "a", "␡"]


async def test_exploded_and_nan_gradients_are_drawn_not_crashed_on():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.view.key_pressed()
        app.view.clock = lambda: 0.0  # the keys never go quiet: the fake trainer's traces stay off
        app.view._last_key = 0.0
        trace = shown(app)
        grad_h, grad_x = trace.grad_h.copy(), trace.grad_x.copy()
        grad_h[0, 0], grad_h[1, 0], grad_x[2] = np.inf, np.nan, np.nan
        main(app).show_trace(dataclasses.replace(trace, grad_h=grad_h, grad_x=grad_x))
        await pilot.pause()
        assert "‖∂L/∂h_1‖ = inf" in app.query_one("#gradients").plain


async def test_numbers_on_screen_are_the_trace():
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        await pilot.press("right", "right")
        text = app.query_one("#gradients").plain
        assert f"‖∂L/∂h_3‖ = {shown(app).grad_h[2, 0]:.2e}" in text
        seq = app.query_one(Sequence).plain
        assert f"predicted {shown(app).outputs[2, 0]:+.3f}" in seq


async def test_tiny_terminal_says_how_large_it_must_be():
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        assert main(app).has_class("-too-small")
        assert "at least 80×24" in str(app.query_one("#too-small").render())


async def test_bad_option_closes_with_one_line_and_status_2():
    app = make_app("--scenario", "nosuch")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, until=lambda a: a.exit_message is not None)
    assert app.return_code == 2 and "nosuch" in app.exit_message


async def test_quit_saves_and_asks_first_when_it_cannot():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.view.apply([p.TrainerError("main", "cannot write metrics (disk full)", unsaved=True)])
        app.save_on_quit = True
        await pilot.press("q")
        assert "disk full" in str(app.screen.query_one("Static").render())  # asked, not gone
        await pilot.press("n")
        assert isinstance(app.screen, MainScreen)
        await pilot.press("q", "y")
    assert app.client.group.finished  # told to stop (and save) on the way out


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_real_command_in_tmux(tmp_path):
    """The real `rnn-tui` with a real trainer: it draws, steps, and quits leaving nothing."""
    session = f"rnn-tui-test-{os.getpid()}"
    env_path = os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])
    # pytest sets COLUMNS and LINES for its own output; the app would take them as its size
    cmd = (f"unset COLUMNS LINES; cd {tmp_path} && PYTHONPATH={env_path} {sys.executable} -m rnn_tui "
           f"--scenario adding --seq-len 20 --hidden 64 --runs-dir {tmp_path}/runs; echo EXITED $?; sleep 30")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", cmd], check=True)

    def screen() -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout

    def wait_for(text: str, seconds: float = 60) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            shown = screen()
            if text in shown:
                return shown
            time.sleep(0.3)
        raise AssertionError(f"{text!r} never appeared; screen:\n{screen()}")

    try:
        wait_for("step 1/20")
        subprocess.run(["tmux", "send-keys", "-t", session, "Right", "Right"], check=True)
        wait_for("step 3/20")
        # 64 units overflow the gates panel: a focusable scroll box would be auto-focused
        # in a real terminal and take Home/End for itself
        subprocess.run(["tmux", "send-keys", "-t", session, "End"], check=True)
        wait_for("step 20/20")
        subprocess.run(["tmux", "send-keys", "-t", session, "Home"], check=True)
        wait_for("step 1/20")
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        wait_for("EXITED 0")
        assert list((tmp_path / "runs").glob("*/*.pt")), "no checkpoint saved on quit"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    leftover = subprocess.run(["pgrep", "-f", f"runs-dir {tmp_path}/runs"], capture_output=True, text=True).stdout
    assert leftover.strip() == ""


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_a_closed_terminal_saves_and_says_where(tmp_path):
    """SIGHUP (the terminal window closed) reaches the app and its trainer: both save and end."""
    session = f"rnn-tui-hup-{os.getpid()}"
    env_path = os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])
    cmd = (f"cd {tmp_path} && PYTHONPATH={env_path} exec {sys.executable} -m rnn_tui --scenario adding "
           f"--seq-len 20 --hidden 16 --runs-dir {tmp_path}/runs 2>{tmp_path}/stderr")
    subprocess.run(["tmux", "-L", session, "new-session", "-d", "-s", session, "-x", "100", "-y", "30", cmd],
                   check=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((tmp_path / "runs").glob("*/metrics.jsonl")):
            time.sleep(0.3)  # trained up to its first evaluation
        assert list((tmp_path / "runs").glob("*/metrics.jsonl")), "it never trained"
        subprocess.run(["tmux", "-L", session, "kill-server"], check=True)  # the terminal goes away: SIGHUP
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and subprocess.run(
                ["pgrep", "-f", f"runs-dir {tmp_path}/runs"], capture_output=True).returncode == 0:
            time.sleep(0.2)
    finally:
        subprocess.run(["tmux", "-L", session, "kill-server"], capture_output=True)
    saved = list((tmp_path / "runs").glob("*/step-*.pt"))
    assert saved, "nothing saved when the terminal closed"
    assert f"checkpoint {saved[0]}" in (tmp_path / "stderr").read_text()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_a_terminal_closed_at_once_never_leaves_the_app_running(tmp_path):
    """Closed right after the first frame, Textual's shutdown can block for good on its
    writer to the gone terminal (about one close in three): the app ends all the same."""
    server = f"rnn-tui-hup-now-{os.getpid()}"
    env_path = os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])
    tmux = ["tmux", "-L", server]
    try:
        for i in range(4):
            cmd = (f"cd {tmp_path} && PYTHONPATH={env_path} exec {sys.executable} -m rnn_tui --scenario adding "
                   f"--seq-len 20 --hidden 16 --no-save --runs-dir {tmp_path}/runs{i}")
            subprocess.run([*tmux, "new-session", "-d", "-s", f"s{i}", "-x", "200", "-y", "60", cmd], check=True)
        for i in range(4):
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and "rnn-tui" not in subprocess.run(
                    [*tmux, "capture-pane", "-p", "-t", f"s{i}"], capture_output=True, text=True).stdout:
                time.sleep(0.01)
            subprocess.run([*tmux, "kill-session", "-t", f"s{i}"], check=True)  # the terminal goes away
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and subprocess.run(
                ["pgrep", "-f", f"runs-dir {tmp_path}/runs"], capture_output=True).returncode == 0:
            time.sleep(0.2)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
    left = subprocess.run(["pgrep", "-af", f"runs-dir {tmp_path}/runs"], capture_output=True, text=True).stdout
    subprocess.run(["pkill", "-9", "-f", f"runs-dir {tmp_path}/runs"], capture_output=True)
    assert left.strip() == "", f"still running 30 s after their terminals closed:\n{left}"


async def test_every_panel_is_one_key_away_at_80x24_and_120x40():
    app = make_app("--scenario", "text", "--hidden", "8")
    for size in ((80, 24), (120, 40)):
        async with app.run_test(size=size) as pilot:
            await settle(app, pilot, until=lambda a: shown(a) is not None and a.view.snap is not None)
            screen = main(app)
            # the overview keeps the gradient's figure for the current step inside its box
            grads, box = screen.query_one("#gradients"), screen.query_one("#grad-box")
            assert "‖∂L/∂h_1‖" in grads.plain
            assert len(grads.plain.splitlines()) <= grads.region.height
            assert grads.region.bottom < box.region.bottom, f"{grads.region} overflows {box.region} at {size}"
            for key, box in zip("123456", ("#unrolled-box", "#gates-box", "#heatmap-box", "#grad-box", "#training",
                                           "#generation")):
                await pilot.press(key)
                await pilot.pause()
                region = screen.query_one(box).region
                assert region.height >= 8 and region.width >= size[0] - 2, f"{box} at {size}: {region}"
                assert f"zoom {key}" in str(screen.status.render())
            await pilot.press("0")
            await pilot.pause()
            assert screen.zoom == "" and screen.query_one("#heatmap-box").region.height > 0
        app = make_app("--scenario", "text", "--hidden", "8")


async def test_a_step_repaints_the_lines_it_changed(monkeypatch):
    """A step repaints the heatmap legend's line of its box's border, not the box (Textual
    repaints a whole widget when its border text is set, and every line of the heatmap
    with it), and a panel line that did not change keeps its strip."""
    from textual.widget import Widget

    app = make_app("--scenario", "text", "--hidden", "12")
    async with app.run_test(size=(200, 60)) as pilot:
        await settle(app, pilot)
        screen = main(app)
        box, unrolled = screen.query_one("#heatmap-box"), screen.query_one("#unrolled")
        kept = list(unrolled._strips)
        repaints = []
        original = Widget.refresh

        def spy(self, *regions, **kwargs):
            if self is box:
                repaints.append(regions)
            return original(self, *regions, **kwargs)

        monkeypatch.setattr(Widget, "refresh", spy)
        await pilot.press("right")
        await pilot.pause()
        assert "step 2:" in str(box.border_subtitle)  # the legend reads the new step
        # one line of its border each time (the upper one too when a new trace retitles it), in content lines
        top, bottom = -box.content_offset.y, box.outer_size.height - 1 - box.content_offset.y
        assert all(len(r) == 1 and r[0].height == 1 and r[0].y in (top, bottom) for r in repaints), repaints
        assert any(r[0].y == bottom for r in repaints), repaints
        # the diagram's caption under it did not change: the same strip, not built again
        assert unrolled._strips[-1] is kept[-1]


async def test_a_resize_restyles_only_the_boxes_it_changes(monkeypatch):
    """Crossing 45 rows hides or shows the diagram; its size class sits on its box, so a
    resize restyles that box, never the whole screen (a class on the Screen restyled all
    ~40 widgets: most of a resize's own work)."""
    app = make_app("--scenario", "text", "--hidden", "12")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        screen = main(app)
        restyled = []
        original = app.update_styles
        monkeypatch.setattr(app, "update_styles",
                            lambda node=None, **kwargs: (restyled.append(node), original(node, **kwargs))[1])
        for size in ((200, 60), (120, 40), (100, 30), (120, 40)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            assert screen.query_one("#unrolled-box").display == (size[1] >= 45 and size[0] >= 120), size
        assert restyled and screen not in restyled, restyled
