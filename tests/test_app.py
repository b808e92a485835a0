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
from rnn_tui.training.fake import FakeTrainerClient
from rnn_tui.ui.app import RnnTuiApp
from rnn_tui.ui.help import HelpScreen
from rnn_tui.ui.pickers import ScenarioPicker
from rnn_tui.ui.session import AppOptions, Session
from rnn_tui.ui.widgets.heatmap import GUTTER, Heatmap
from rnn_tui.ui.widgets.sequence import Sequence, token_label


def make_app(*argv: str) -> RnnTuiApp:
    args = build_parser(None).parse_args(list(argv) or ["--scenario", "adding", "--seq-len", "12", "--hidden", "8"])
    options = AppOptions(args, runs_dir=None, save_on_quit=False, client_factory=FakeTrainerClient)
    return RnnTuiApp(Session(options))


async def settle(app, pilot, until=lambda app: app.trace is not None, seconds: float = 20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await pilot.pause(0.05)
        if until(app):
            await pilot.pause()
            return
    raise AssertionError("the app did not reach the expected state")


def sent(app) -> list[str]:
    return [c.name for c in app.session.client.sent]


async def test_first_frame_shows_loading_then_a_trace():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        assert "loading" in str(app.query_one("#status").render())
        await settle(app, pilot)
        assert "adding" in str(app.query_one("#status").render())
        assert sent(app)[0] == "start"


async def test_training_options_reach_the_trainer():
    app = make_app("--scenario", "adding", "--seq-len", "12", "--hidden", "8", "--steps", "7", "--lr", "0.01",
                   "--optimizer", "sgd")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        train = app.session.snaps["main"].train  # what the trainer reports it runs with
        assert (train["steps"], train["lr"], train["optimizer"]) == (7, 0.01, "sgd")


async def test_stepping_keys():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("right", "l", "l")
        assert app.step == 3
        await pilot.press("left", "h")
        assert app.step == 1
        await pilot.press("end")
        assert app.step == app.trace.steps - 1
        await pilot.press("right")  # stays at the end
        assert app.step == app.trace.steps - 1
        await pilot.press("home")
        assert app.step == 0
        await pilot.press("right_square_bracket", "right_square_bracket", "left_square_bracket")
        assert app.unit == 1
        assert app.query_one(Heatmap).step == 0 and app.query_one(Heatmap).unit == 1


async def test_trace_holds_still_while_stepping_then_catches_up():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app._last_step_key = time.monotonic() + 3600  # as if a key had just been pressed, for an hour
        shown, step = app.trace, app.session.snaps["main"].step
        await settle(app, pilot, until=lambda a: a.session.snaps["main"].step >= step + 3)
        await pilot.pause(0.5)
        assert app.trace is shown  # training went on; the picture did not move under the keys
        app._last_step_key = 0.0  # the keys go quiet
        await settle(app, pilot, until=lambda a: a.trace is not shown)
        assert app.trace is app.session._traces["main"].trace  # the trainer's newest trace is on screen


async def test_play_and_speed():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("plus", "plus", "plus")  # 32 steps a second
        await pilot.press("space")
        assert app.playing
        await settle(app, pilot, until=lambda a: a.step >= 2, seconds=5)
        await pilot.press("space")
        assert not app.playing
        await pilot.press("minus")
        assert app.speed_index == 4


async def test_samples_change_the_trace():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        first = app.trace.inputs.copy()
        await pilot.press("right")
        app._last_step_key = time.monotonic() + 3600  # as if stepping went on: that holds new weights, not a new sample
        await pilot.press("n")
        await settle(app, pilot, until=lambda a: a.trace is not None and not np.array_equal(a.trace.inputs, first))
        assert app.session.sample_index == 1 and app.step == 0
        assert np.array_equal(app.trace.inputs, app.session.data.val.x[1].numpy())
        await pilot.press("p", "p")
        assert app.session.sample_index == len(app.session.data.val) - 1


async def test_training_commands():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, until=lambda a: a.trace is not None and a.session.snaps)
        await pilot.press("t")
        assert sent(app)[-1] == "pause"
        await pilot.press("r")
        assert sent(app)[-1] == "reset"
        await pilot.press("a")
        switch = [c for c in app.session.client.sent if c.name == "switch"][-1]
        assert switch.args == {"arch": "gru"}
        await settle(app, pilot, until=lambda a: a.trace is not None and a.trace.arch == "gru")
        assert "GRU" in str(app.query_one("#status").render())
        await pilot.press("a", "a")  # two switches in a row, training paused: still a picture
        await settle(app, pilot, until=lambda a: a.trace is not None and a.trace.arch == "esn")


async def test_a_trace_from_before_a_switch_is_never_shown():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, until=lambda a: a.trace is not None and a.session.snaps)
        # an LSTM's trace, as if still in the pipe, and new to the app
        stale = dataclasses.replace(app.session._traces["main"], serial=(0, 10**9))
        await pilot.press("t", "a")
        real_poll = app.session.client.poll
        app.session.client.poll = lambda: [stale] + real_poll()
        await settle(app, pilot, until=lambda a: a.trace is not None)
        assert app.trace.arch == "gru"
        await pilot.pause(0.3)
        assert app.trace.arch == "gru"


async def test_a_refused_switch_brings_the_picture_back():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, until=lambda a: a.trace is not None and a.session.snaps)
        await pilot.press("t")  # paused: no new weights would bring a trace by themselves
        app.set_model(layers=9)
        assert app.trace is None
        await settle(app, pilot, until=lambda a: a.trace is not None)
        assert app.trace.arch == "lstm" and app.trace.layers == 1


async def test_live_controls_from_the_command_palette():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.set_training(lr=1e-3)
        app.set_training(clip=0.0)
        app.set_training(optimizer="sgd")
        app.set_model(hidden=16)
        names = [(c.name, c.args) for c in app.session.client.sent[-5:]]
        assert names == [("set", {"lr": 1e-3}), ("set", {"clip": 0.0}), ("set", {"optimizer": "sgd"}),
                         ("switch", {"hidden": 16}),
                         ("watch", {"run": "main", "sample": 0, "epoch": app.session.epoch})]
        await settle(app, pilot, until=lambda a: a.trace is not None and a.trace.hidden == 16)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"learning rate")
        await pilot.pause(0.3)
        await pilot.press("escape")


async def test_compare_mode_trains_three_archs():
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        await pilot.press("c")
        await settle(app, pilot, until=lambda a: set(a.session.snaps) == {"rnn", "lstm", "gru"})
        assert app.session.client.labels == ["rnn", "lstm", "gru"]
        await pilot.press("c")
        await settle(app, pilot, until=lambda a: set(a.session.snaps) == {"main"})


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
        await settle(app, pilot, until=lambda a: a.session.scenario_name == "text" and a.trace is not None and a.trace.tokens is not None)
        switch, watch = app.session.client.sent[-2:]
        assert switch.name == "switch" and switch.args["source"]["scenario"].endswith("text.toml")
        # the new data's first sample
        assert (watch.name, watch.args) == ("watch", {"run": "main", "sample": 0, "epoch": 2})


async def test_generate_follows_learning_and_refuses_elsewhere():
    app = make_app("--scenario", "text", "--hidden", "8", "--eval-every", "2")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, until=lambda a: a.trace is not None and a.session.snaps)
        generation = app.query_one("#generation")
        assert "press g" in str(generation.render())
        await pilot.press("g")
        await settle(app, pilot, until=lambda a: "temperature 0.8" in str(generation.render()))
        first = str(generation.render())
        # a new evaluation brings new text, from the newer weights
        await settle(app, pilot, until=lambda a: str(generation.render()) != first)
        assert "temperature 0.8" in str(generation.render())
        app.set_temperature(0.2)
        await settle(app, pilot, until=lambda a: "temperature 0.2" in str(generation.render()))
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, until=lambda a: a.trace is not None and a.session.snaps)
        await pilot.press("g")
        await pilot.pause(0.5)
        assert "generation is for text scenarios; adding is regress" in str(app.query_one("#generation").render())
        assert not app.generating
    app = make_app("--scenario", "text", "--hidden", "8")
    async with app.run_test(size=(80, 24)) as pilot:  # compact: the panel is hidden, and the app says so
        await settle(app, pilot, until=lambda a: a.trace is not None and a.session.snaps)
        await pilot.press("g")
        assert any("needs a terminal of at least 120×36; this one is 80×24" in n.message for n in app._notifications)


async def test_export_writes_trace_and_screenshot(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("e")
        await pilot.pause(0.3)
    npz = list(tmp_path.glob("*.npz"))
    svg = list(tmp_path.glob("*.svg"))
    assert len(npz) == 1 and len(svg) == 1
    assert np.load(npz[0])["grad_h"].shape == (12, 1)


async def test_clicks_jump_to_a_step():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        zoom = app.query_one(Heatmap).zoom  # short sequences get wider columns
        assert zoom > 1
        await pilot.click(Heatmap, offset=(GUTTER + 5 * zoom, 2))
        assert app.step == 5
        await pilot.click(Sequence, offset=(0, 1))  # the first token drawn
        assert app.step == 0


def test_control_characters_are_drawn_never_sent_raw():
    assert [token_label(c) for c in ("\r", " ", "\n", "\x07", "a", "\x7f")] == ["␍", "␣", "↵", "␇", "a", "␡"]


async def test_exploded_and_nan_gradients_are_drawn_not_crashed_on():
    import dataclasses

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app._last_step_key = time.monotonic() + 3600  # keep the fake trainer's traces off
        grad_h, grad_x = app.trace.grad_h.copy(), app.trace.grad_x.copy()
        grad_h[0, 0], grad_h[1, 0], grad_x[2] = np.inf, np.nan, np.nan
        app._show_trace(dataclasses.replace(app.trace, grad_h=grad_h, grad_x=grad_x))
        await pilot.pause()
        assert "‖∂L/∂h_0‖ = inf" in app.query_one("#gradients").plain


async def test_numbers_on_screen_are_the_trace():
    app = make_app()
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        await pilot.press("right", "right")
        text = app.query_one("#gradients").plain
        assert f"‖∂L/∂h_2‖ = {app.trace.grad_h[2, 0]:.2e}" in text
        seq = app.query_one(Sequence).plain
        assert f"predicted {app.trace.outputs[2, 0]:+.3f}" in seq


async def test_tiny_terminal_says_how_large_it_must_be():
    app = make_app()
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        assert app.screen.has_class("-too-small")
        assert "at least 80×24" in str(app.query_one("#too-small").render())


async def test_bad_option_closes_with_one_line_and_status_2():
    app = make_app("--scenario", "nosuch")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, until=lambda a: a.exit_message is not None)
    assert app.return_code == 2 and "nosuch" in app.exit_message


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_real_command_in_tmux(tmp_path):
    """The real `rnn-tui` with a real trainer: it draws, steps, and quits leaving nothing."""
    session = f"rnn-tui-test-{os.getpid()}"
    env_path = os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])
    cmd = (f"cd {tmp_path} && PYTHONPATH={env_path} {sys.executable} -m rnn_tui --scenario adding "
           f"--seq-len 20 --hidden 64 --runs-dir {tmp_path}/runs; echo EXITED $?; sleep 30")
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
