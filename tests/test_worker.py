"""The training process, for real: commands, snapshots, errors, restarts, and no process
left behind. (The app's own tests use FakeTrainerClient; see test_training.py.)"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import torch

from rnn_tui.core import checkpoint
from rnn_tui.core.config import ModelConfig
from rnn_tui.core.model import SequenceModel
from rnn_tui.core.trace import trace_sequence
from rnn_tui.data.source import Source
from rnn_tui.training.protocol import Notice, Snapshot, TraceReady, TrainerError
from rnn_tui.training.worker import TrainerClient

SINE = {"scenario": "sine", "data": {"seq_len": 20, "train_size": 128, "val_size": 32}}
REPO = Path(__file__).resolve().parent.parent


def wait_for(client, predicate, timeout=20.0, seen=None):
    """Poll until a message satisfies `predicate`; returns it (all messages go to `seen`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in client.poll():
            if seen is not None:
                seen.append(message)
            if predicate(message):
                return message
        time.sleep(0.02)
    raise AssertionError(f"nothing matched in {timeout} s; last seen: {seen[-3:] if seen else None}")


def snapshot(pred=lambda s: True):
    return lambda m: isinstance(m, Snapshot) and pred(m)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie nobody has reaped yet is gone too
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def model_from(snap: Snapshot, data) -> SequenceModel:
    model = SequenceModel(ModelConfig(**snap.model), data.kind, data.input_size, data.output_size, data.tokens_in)
    model.load_state_dict(snap.weights, strict=True)
    return model.eval()


def test_commands_end_to_end_and_the_weights_are_what_the_trace_reads(tmp_path):
    client = TrainerClient(SINE, {"hidden": 8}, {"eval_every": 10, "steps": 100000}, runs_dir=str(tmp_path))
    seen: list = []
    client.start()
    try:
        first = wait_for(client, snapshot(), seen=seen)
        assert first.step == 0 and first.status == "paused" and first.run == "main"
        # The untrained weights are exactly a SequenceModel built here with the same seed.
        data = Source.from_dict(SINE).load().build_data(0)
        local = SequenceModel(ModelConfig(**first.model), data.kind, data.input_size, data.output_size,
                              data.tokens_in, seed=first.train["seed"])
        assert all(torch.equal(v, first.weights[k]) for k, v in local.state_dict().items())

        client.send("start")
        wait_for(client, snapshot(lambda s: s.status == "running" and s.step >= 20), seen=seen)
        client.send("pause")
        paused = wait_for(client, snapshot(lambda s: s.status == "paused"), seen=seen)
        time.sleep(0.3)
        assert all(m.step == paused.step for m in client.poll() if isinstance(m, Snapshot))
        client.send("step")
        stepped = wait_for(client, snapshot(lambda s: s.step == paused.step + 1), seen=seen)
        assert stepped.status == "paused" and stepped.history[-1]["step"] % 10 == 0
        client.send("set", lr=1e-4, clip=0.0, optimizer="sgd")
        wait_for(client, snapshot(lambda s: s.train["lr"] == 1e-4 and s.train["optimizer"] == "sgd"), seen=seen)

        client.send("save")
        saved = wait_for(client, lambda m: isinstance(m, Notice) and m.text.startswith("saved "), seen=seen)
        path = saved.text.removeprefix("saved ")
        assert Path(path).parent.parent == tmp_path and Path(path).name == f"step-{stepped.step}.pt"
        # The snapshot's weights are the checkpoint's: the worker's model, tensor for tensor,
        # and the trace of either is the same.
        from_file = SequenceModel(ModelConfig(**stepped.model), data.kind, data.input_size, data.output_size,
                                  data.tokens_in)
        checkpoint.apply(from_file, checkpoint.load(path), path)
        from_snapshot = model_from(stepped, data)
        assert all(torch.equal(v, stepped.weights[k]) for k, v in from_file.state_dict().items())
        x, y = data.val.x[0], data.val.y[0]
        a, b = trace_sequence(from_snapshot, x, y), trace_sequence(from_file.eval(), x, y)
        assert (a.h == b.h).all() and (a.grad_h == b.grad_h).all()
        assert (Path(path).parent / "metrics.jsonl").read_text().count("\n") >= 2

        # Traces of the watched sample come from the trainer's process, with its weights.
        client.send("watch", sample=2)
        ready = wait_for(client, lambda m: isinstance(m, TraceReady) and m.step == stepped.step, seen=seen)
        expected = trace_sequence(from_snapshot, data.val.x[2], data.val.y[2])
        assert ready.sample == 2
        assert (ready.trace.h == expected.h).all() and (ready.trace.grad_h == expected.grad_h).all()

        client.send("reset")
        wait_for(client, snapshot(lambda s: s.step == 0), seen=seen)
        client.send("load", path=path)
        loaded = wait_for(client, snapshot(lambda s: s.step == stepped.step), seen=seen)
        assert all(torch.equal(v, loaded.weights[k]) for k, v in stepped.weights.items())

        client.send("switch", arch="gru", hidden=6)
        wait_for(client, snapshot(lambda s: s.model["arch"] == "gru" and s.model["hidden"] == 6), seen=seen)
        client.send("load", path=path)
        refused = wait_for(client, lambda m: isinstance(m, TrainerError), seen=seen)
        assert "does not fit this gru 1x6" in refused.reason
    finally:
        pids = client.pids
        client.close()
    assert all(gone(pid) for pid in pids)


def test_close_leaves_no_process_even_a_stuck_one(tmp_path):
    running = TrainerClient(SINE, {"hidden": 8}, {"steps": 100000}, runs_dir=str(tmp_path))
    stuck = TrainerClient(SINE, {"hidden": 8}, {}, runs_dir=None)
    running.start()
    stuck.start()
    running.send("start")
    wait_for(running, snapshot(lambda s: s.step > 0))
    wait_for(stuck, snapshot())
    pids = running.pids + stuck.pids
    assert len(pids) == 2 and all(not gone(pid) for pid in pids)

    last = running.close()  # saves on quit
    assert any(isinstance(m, Notice) and m.text.startswith(f"saved {tmp_path}") for m in last)
    os.kill(stuck.pids[0], signal.SIGSTOP)  # it can no longer hear "stop"
    started = time.monotonic()
    stuck.close(timeout=0.5)
    assert time.monotonic() - started < 5
    assert multiprocessing.active_children() == []
    assert all(gone(pid) for pid in pids)
    checkpoints = list(tmp_path.glob("*/step-*.pt"))
    assert len(checkpoints) == 1 and checkpoint.load(checkpoints[0])["meta"]["step"] > 0


def test_a_crash_is_a_message_and_the_trainer_comes_back(tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text("title = 'half a scenario'\n")
    client = TrainerClient(SINE, {"hidden": 8}, {}, runs_dir=None)
    client.start()
    try:
        wait_for(client, snapshot())
        client.send("switch", source={"scenario": str(bad)})
        error = wait_for(client, lambda m: isinstance(m, TrainerError))
        assert str(bad) in error.reason and "missing key" in error.reason and "\n" not in error.reason
        client.send("step")  # still there, with the old model
        wait_for(client, snapshot(lambda s: s.step == 1))

        client.send("watch", sample=1)
        wait_for(client, lambda m: isinstance(m, TraceReady))
        old_pid = client.pids[0]
        os.kill(old_pid, signal.SIGKILL)
        died = wait_for(client, lambda m: isinstance(m, TrainerError))
        assert "stopped unexpectedly" in died.reason
        client.send("reset")  # brings it back, from the last snapshot's settings, still watching
        seen: list = []
        assert wait_for(client, lambda m: isinstance(m, TraceReady), seen=seen).sample == 1
        back = next((m for m in seen if isinstance(m, Snapshot)), None) or wait_for(client, snapshot())
        assert client.pids[0] != old_pid and back.step == 0 and back.model["hidden"] == 8
    finally:
        client.close()
    assert multiprocessing.active_children() == []


def test_a_reader_that_never_reads_does_not_grow_memory():
    # ~4 MB of weights per snapshot, published ~2.5 times a second.
    client = TrainerClient(SINE, {"hidden": 512}, {"steps": 100000, "eval_every": 1000}, runs_dir=None)
    client.start()
    try:
        wait_for(client, snapshot())
        client.send("start")
        pid = client.pids[0]

        def rss_mb():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024

        time.sleep(2.0)  # past the first steps' allocations (optimizer state, buffers)
        before = rss_mb()
        time.sleep(4.0)  # ~10 snapshots, 40 MB if they piled up, nobody reading
        assert rss_mb() - before < 20
        messages = client.poll()
        snaps = [m for m in messages if isinstance(m, Snapshot)]
        assert len(snaps) == 1 and snaps[0].status == "running"
    finally:
        client.close()


def test_compare_mode_runs_are_labelled_by_arch(tmp_path):
    client = TrainerClient(SINE, {"hidden": 8}, {"steps": 30, "eval_every": 10}, runs_dir=None,
                           compare=["rnn", "lstm", "gru"])
    client.start()
    latest, seen = {}, []

    def collect(until, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not until():
            for m in client.poll():
                seen.append(m)
                assert not isinstance(m, TrainerError), m
                if isinstance(m, Snapshot):
                    latest[m.run] = m
            time.sleep(0.05)

    try:
        client.send("start")
        collect(lambda: len(latest) == 3 and all(s.status == "paused" and s.step == 30 for s in latest.values()))
        assert sorted(latest) == ["gru", "lstm", "rnn"]
        assert all(s.model["arch"] == run and s.step == 30 for run, s in latest.items())
        assert all([r["step"] for r in s.history] == [10, 20, 30] for s in latest.values())
        client.send("save", path=str(tmp_path / "c.pt"))  # one file per run
        client.send("reset")
        collect(lambda: all(s.step == 0 for s in latest.values()))
        client.send("load", path=str(tmp_path / "c-gru.pt"))  # goes to the gru run only
        collect(lambda: latest["gru"].step == 30)
        assert latest["rnn"].step == latest["lstm"].step == 0
    finally:
        client.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c-gru.pt", "c-lstm.pt", "c-rnn.pt"]
    assert [m.text for m in seen if isinstance(m, Notice)][-1] == f"loaded {tmp_path / 'c-gru.pt'} at step 30"


def run_script(code: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)


def test_starts_under_an_app_stderr_and_ends_when_the_app_is_killed(tmp_path):
    # Inside a running Textual App, sys.stderr is an object whose fileno() is -1.
    proc = run_script("""
        import io, multiprocessing, sys, time

        class AppStderr(io.TextIOBase):
            def write(self, s): return len(s)
            def fileno(self): return -1

        if __name__ == "__main__":
            sys.stderr = AppStderr()
            try:  # the trap is real: a plain process cannot start now
                multiprocessing.get_context("spawn").Process(target=print).start()
                print("plain start worked")
            except ValueError as err:
                print("plain start failed:", err)
            from rnn_tui.training.worker import TrainerClient
            client = TrainerClient({"scenario": "sine"}, {"hidden": 8}, {"steps": 100000}, runs_dir=sys.argv[1])
            client.start()
            client.send("start")
            deadline = time.monotonic() + 30
            got = []
            while not got and time.monotonic() < deadline:
                got = [m for m in client.poll() if type(m).__name__ == "Snapshot" and m.step > 0]
                time.sleep(0.05)
            print("training", bool(got), client.pids[0], flush=True)
            time.sleep(60)  # until killed, without a chance to close the client
    """, str(tmp_path))
    first, second = proc.stdout.readline(), proc.stdout.readline()
    assert first.strip() == "plain start failed: bad value(s) in fds_to_keep", first + second
    assert second.startswith("training True "), first + second
    pid = int(second.split()[-1])
    assert not gone(pid)
    proc.kill()
    proc.communicate()
    deadline = time.monotonic() + 10
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert gone(pid)
    saved = list(tmp_path.glob("sine-lstm-*/step-*.pt"))  # the app crashed; the training did not go
    assert len(saved) == 1 and checkpoint.load(saved[0])["meta"]["step"] > 0
