"""Your own model in the app: a saved trace (`rnn-tui view`) or a torch.nn state_dict
(`rnn-tui --weights F --input X.npy`), inspect-only, every panel, n/p between samples."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from rnn_tui.cli import build_parser
from rnn_tui.training.trace_client import TraceClient
from rnn_tui.ui.app import RnnTuiApp
from tests.test_app import settle
from tests.test_hardening import overflowing
from tests.test_cli import in_tmp, run  # noqa: F401 - in_tmp: files land in a temporary folder


def open_app(client) -> RnnTuiApp:
    args = build_parser(None).parse_args([])
    return RnnTuiApp(None, {"options": args}, runs_dir=None, save_on_quit=False, client=client)


@pytest.fixture
def gru_files(tmp_path):
    """A plain torch.nn.GRU(3, 5) state_dict and three input sequences [3, 7, 3]."""
    torch.manual_seed(0)
    gru = torch.nn.GRU(3, 5, batch_first=True)
    torch.save(gru.state_dict(), tmp_path / "gru.pt")
    x = np.random.default_rng(0).normal(size=(3, 7, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    return gru, x, str(tmp_path / "gru.pt"), str(tmp_path / "x.npy")


@pytest.fixture
def gru_client(gru_files):
    """The app's client for those weights and inputs, started; closed after the test."""
    client = TraceClient(weights=gru_files[2], inputs=gru_files[3])
    client.start()
    yield client
    client.close()


async def test_your_own_gru_shows_its_gates_and_steps_through_its_inputs(gru_files, gru_client):
    gru, x, _, _ = gru_files
    app = open_app(gru_client)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        trace, run = app.main.trace, app.view.run
        assert run.inspect_only and run.val_samples == 3 and run.model["arch"] == "gru"
        assert set(trace.gates) >= {"r", "z", "n"}
        with torch.no_grad():
            out, _ = gru(torch.from_numpy(x[:1]))
        np.testing.assert_allclose(trace.h[:, 0], out[0].numpy(), rtol=1e-5, atol=1e-6)  # the module's own h
        gates = app.main.query_one("#gates").plain
        assert "r reset" in gates and "z update" in gates
        await pilot.press("n")
        await settle(app, pilot, until=lambda a: a.main.trace is not None and a.main.trace.meta["sample"] == 1)
        with torch.no_grad():
            out, _ = gru(torch.from_numpy(x[1:2]))
        np.testing.assert_allclose(app.main.trace.h[:, 0], out[0].numpy(), rtol=1e-5, atol=1e-6)
        await pilot.press("t")  # nothing trains: said, not silently ignored
        await pilot.pause()
        assert any("nothing trains here" in n.message for n in app._notifications)
        assert "inspect-only" in app.main.query_one("#train-status").plain
    gru_client.close()
    assert not gru_client.pids or all(not _alive(pid) for pid in gru_client.pids)


def _alive(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/status").read().find("State:\tZ") < 0
    except FileNotFoundError:
        return False


async def test_view_opens_saved_traces(capsys, tmp_path):
    for i, sample in enumerate((0, 3)):
        assert run(["trace", "--scenario", "brackets", "--hidden", "8", "--sample", str(sample),
                    "--out", f"t{i}.npz"], capsys)[0] == 0
    client = TraceClient(views=["t0.npz", "t1.npz"])
    client.start()
    app = open_app(client)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        assert app.main.trace.meta["sample"] == 0 and app.view.run.val_samples == 2
        assert app.view.run.vocab and "(" in app.view.run.vocab
        await pilot.press("n")
        await settle(app, pilot, until=lambda a: a.main.trace.meta["sample"] == 3)
        await pilot.press("r")
        await settle(app, pilot, until=lambda a: any("nothing trains here" in n.message for n in a._notifications))


async def test_typed_text_one_hot_over_a_vocabulary(tmp_path):
    torch.manual_seed(1)
    torch.save(torch.nn.LSTM(4, 6).state_dict(), tmp_path / "lstm.pt")
    client = TraceClient(weights=str(tmp_path / "lstm.pt"), text="abca d", vocab="abc d"[:4])
    client.start()
    try:
        deadline = time.monotonic() + 60
        events = []
        while time.monotonic() < deadline and not any(type(e).__name__ in ("TraceReady", "Fatal") for e in events):
            events += client.poll()
            time.sleep(0.05)
    finally:
        client.close()
    fatal = [e for e in events if type(e).__name__ == "Fatal"]
    assert fatal and "'d'" in fatal[0].reason  # 'd' is not one of the 4 columns: named, not dropped
    client = TraceClient(weights=str(tmp_path / "lstm.pt"), text="abca c", vocab="abc ")
    client.start()
    try:
        deadline, trace = time.monotonic() + 60, None
        while time.monotonic() < deadline and trace is None:
            client.send(__import__("rnn_tui.training.protocol", fromlist=["Watch"]).Watch(0))
            trace = next((e.trace for e in client.poll() if type(e).__name__ == "TraceReady"), None)
            time.sleep(0.05)
    finally:
        client.close()
    assert "".join(trace.vocab[int(t)] for t in trace.tokens) == "abca c"
    assert trace.inputs.shape == (6, 4) and (trace.inputs.sum(1) == 1).all()


@pytest.mark.parametrize("argv, says", [
    (["--input", "x.npy"], "go with --weights"),
    (["--weights", "w.pt"], "needs its inputs"),
    (["--weights", "w.pt", "--input-text", "ab"], "needs --vocab"),
    (["--weights", "w.pt", "--input", "x.npy", "--scenario", "adding"], "drop --scenario"),
])
def test_own_model_options_are_checked_in_one_line(argv, says, capsys):
    code, _, err = run(argv, capsys)
    assert code == 2 and says in err and err.count("\n") == 1


def test_the_apps_process_never_loads_torch_for_your_weights(gru_files):
    _, _, weights, inputs = gru_files
    script = textwrap.dedent(f"""
        import sys, time
        from rnn_tui.training.trace_client import TraceClient
        from rnn_tui.training import protocol as p
        client = TraceClient(weights={weights!r}, inputs={inputs!r})
        client.start()
        got = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(isinstance(e, p.TraceReady) for e in got):
            got += client.poll()
            time.sleep(0.05)
        client.close()
        print(any(isinstance(e, p.TraceReady) for e in got), "torch" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["True", "False"], out.stderr


async def test_experiments_on_your_own_weights(gru_files, gru_client):
    from rnn_tui.core.experiments import horizon, spectrum
    from rnn_tui.ui.experiment_screen import ExperimentScreen

    gru, x, _, _ = gru_files
    app = open_app(gru_client)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("right", "w", "enter")  # +0.5 at step 2 of sequence 1
        await settle(app, pilot, until=lambda a: "horizon" in a.view.results)
        got = app.view.results["horizon"]["main"]
        assert got.error is None
        want = horizon(gru, torch.from_numpy(x[0]), 1, delta=0.5)
        np.testing.assert_allclose(got.result["delta_h"], want["delta_h"], rtol=1e-9)
        assert isinstance(app.screen, ExperimentScreen)
        await pilot.press("escape", "x")
        await settle(app, pilot, until=lambda a: "spectrum" in a.view.results)
        radius = app.view.results["spectrum"]["main"].result[0]["spectral_radius"]
        assert radius == pytest.approx(spectrum(gru)[0]["spectral_radius"])


async def test_a_saved_trace_says_experiments_need_weights(capsys):
    assert run(["trace", "--scenario", "brackets", "--hidden", "8", "--out", "t.npz"], capsys)[0] == 0
    client = TraceClient(views=["t.npz"])
    client.start()
    app = open_app(client)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("x")
        await settle(app, pilot, until=lambda a: "spectrum" in a.view.results)
        assert "holds no weights" in app.view.results["spectrum"]["main"].error


def test_weights_whose_state_overflows_say_so_in_one_line(tmp_path):
    """The app's tracer holds the `trace --weights` rule: no picture of NaN, one line instead."""
    weights, inputs = overflowing(tmp_path)
    client = TraceClient(weights=weights, inputs=inputs, nonlinearity="relu")
    client.start()
    try:
        events, deadline = [], time.monotonic() + 30
        while time.monotonic() < deadline and not any(type(e).__name__ == "TrainerError" for e in events):
            events += client.poll()
            time.sleep(0.05)
    finally:
        client.close()
    errors = [e.reason for e in events if type(e).__name__ == "TrainerError"]
    assert errors and "overflows float32 at step 37 of 60" in errors[0] and "\n" not in errors[0]
