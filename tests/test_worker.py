"""The training process, for real: commands, snapshots, errors, restarts, and no process
left behind; and headless `rnn-tui train` ended by a signal. (The app's own tests use
FakeTrainerClient; see test_training.py.)"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
import weakref
from pathlib import Path

import pytest

from rnn_tui.core import checkpoint
from rnn_tui.core.config import ModelConfig
from rnn_tui.core.model import SequenceModel
from rnn_tui.core.trace import trace_sequence
from rnn_tui.data.source import Source
from rnn_tui.training import protocol as p
from rnn_tui.training.client import TrainerClient

SINE = {"scenario": "sine", "data": {"seq_len": 20, "train_size": 128, "val_size": 32}}
REPO = Path(__file__).resolve().parent.parent


def start(model=None, train=None, source=SINE) -> dict:
    """What a TrainerClient is started from."""
    return {"source": source, "model": {"hidden": 8, **(model or {})}, "train": dict(train or {})}


_unread: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # client -> polled, not yet waited through


def wait_for(client, predicate, timeout=20.0, seen=None):
    """Poll until a message satisfies `predicate`; returns it (all messages up to it go to
    `seen`). Messages polled after it wait for the next call: none is lost."""
    unread = _unread.setdefault(client, [])
    deadline = time.monotonic() + timeout
    while True:
        while unread:
            message = unread.pop(0)
            if seen is not None:
                seen.append(message)
            if predicate(message):
                return message
        if time.monotonic() >= deadline:
            raise AssertionError(f"nothing matched in {timeout} s; last seen: {seen[-3:] if seen else None}")
        unread.extend(client.poll())
        if not unread:
            time.sleep(0.02)


def poll(client) -> list:
    """What wait_for polled and passed over, then what the client has now."""
    unread = _unread.setdefault(client, [])
    out = unread + client.poll()
    unread.clear()
    return out


def snapshot(pred=lambda s: True):
    return lambda m: isinstance(m, p.Snapshot) and pred(m)


def run_info(pred=lambda i: True):
    return lambda m: isinstance(m, p.RunInfo) and pred(m)


def trace_ready(pred=lambda t: True):
    return lambda m: isinstance(m, p.TraceReady) and pred(m)


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie nobody has reaped yet is gone too
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def model_from(path, data) -> SequenceModel:
    """A model built here from a checkpoint's own metadata and tensors."""
    payload = checkpoint.load(path)
    model = SequenceModel(ModelConfig(**payload["meta"]["model"]), data.kind, data.input_size, data.output_size,
                          data.tokens_in)
    checkpoint.apply(model, payload, path)
    return model.eval()


def test_commands_end_to_end_and_the_weights_are_what_the_trace_reads(tmp_path):
    client = TrainerClient(start(train={"eval_every": 10, "steps": 100000}), runs_dir=str(tmp_path))
    seen: list = []
    client.start()
    try:
        info = wait_for(client, run_info(), seen=seen)
        assert info.run == "main" and info.scenario == "sine" and info.model["hidden"] == 8 and info.step == 0
        first = wait_for(client, snapshot(), seen=seen)
        assert first.step == 0 and first.status == "paused" and first.run == "main" and first.uid == info.uid
        # The untrained weights are exactly a SequenceModel built here with the same seed.
        data = Source.from_dict(SINE).load().build_data(0)
        local = SequenceModel(ModelConfig(**info.model), data.kind, data.input_size, data.output_size,
                              data.tokens_in, seed=info.train["seed"])
        client.send(p.Save(str(tmp_path / "untrained.pt")))
        untrained = wait_for(client, lambda m: isinstance(m, p.Saved), seen=seen)
        assert untrained == p.Saved("main", str(tmp_path / "untrained.pt"), 0, False)
        there = model_from(untrained.path, data).state_dict()
        assert all(v.equal(there[k]) for k, v in local.state_dict().items())

        client.send(p.Start())
        wait_for(client, snapshot(lambda s: s.status == "running" and s.step >= 20), seen=seen)
        client.send(p.Pause())
        paused = wait_for(client, snapshot(lambda s: s.status == "paused"), seen=seen)
        time.sleep(0.3)
        assert all(m.step == paused.step for m in poll(client) if isinstance(m, p.Snapshot))
        client.send(p.Step())
        stepped = wait_for(client, snapshot(lambda s: s.step == paused.step + 1), seen=seen)
        assert stepped.status == "paused" and stepped.history[-1]["step"] % 10 == 0
        client.send(p.Set({"lr": 1e-4, "clip": 0.0, "optimizer": "sgd"}))
        wait_for(client, snapshot(lambda s: s.train["lr"] == 1e-4 and s.train["optimizer"] == "sgd"), seen=seen)

        client.send(p.Save())
        saved = wait_for(client, lambda m: isinstance(m, p.Saved), seen=seen)
        path = saved.path
        assert saved.step == stepped.step and not saved.periodic
        assert Path(path).parent.parent == tmp_path and Path(path).name == f"step-{stepped.step}.pt"
        assert wait_for(client, snapshot(lambda s: s.saved == path), seen=seen).saved_step == stepped.step
        assert (Path(path).parent / "metrics.jsonl").read_text().count("\n") >= 2

        # Traces of the watched sample come from the trainer's process, with its weights:
        # the trace of the checkpoint it just wrote, made here, is the same.
        client.send(p.Watch(2))
        ready = wait_for(client, trace_ready(lambda t: t.trace.meta["step"] == stepped.step), seen=seen)
        expected = trace_sequence(model_from(path, data), data.val.x[2], data.val.y[2])
        assert (ready.run, ready.uid, ready.sample) == ("main", info.uid, 2)
        assert ready.trace.meta == {"scenario": "sine", "arch": "lstm", "step": stepped.step, "sample": 2,
                                    "run": "main", "nonlinearity": "tanh", "joiner": ""}
        assert ready.trace.vocab is None and ready.trace.class_names is None
        assert (ready.trace.h == expected.h).all() and (ready.trace.grad_h == expected.grad_h).all()

        client.send(p.Reset())
        fresh = wait_for(client, run_info(lambda i: i.step == 0 and i.uid != info.uid), seen=seen)
        wait_for(client, snapshot(lambda s: s.step == 0 and s.uid == fresh.uid), seen=seen)
        client.send(p.Load(path))
        loaded = wait_for(client, run_info(lambda i: i.step == stepped.step), seen=seen)
        wait_for(client, snapshot(lambda s: s.step == stepped.step and s.uid == loaded.uid), seen=seen)
        # Still watching sample 2: the loaded weights trace exactly as before the reset.
        again = wait_for(client, trace_ready(lambda t: t.uid == loaded.uid), seen=seen)
        assert (again.trace.h == ready.trace.h).all() and (again.trace.grad_h == ready.trace.grad_h).all()

        client.send(p.Switch(model={"arch": "gru", "hidden": 6}))
        wait_for(client, run_info(lambda i: i.model["arch"] == "gru" and i.model["hidden"] == 6), seen=seen)
        client.send(p.Load(path))
        refused = wait_for(client, lambda m: isinstance(m, p.TrainerError), seen=seen)
        assert "does not fit this gru 1x6" in refused.reason
        with pytest.raises(TypeError, match="not a command"):
            client.send("dance")
    finally:
        pids = client.pids
        client.close()
    assert all(gone(pid) for pid in pids)


def test_close_leaves_no_process_even_a_stuck_one(tmp_path):
    running = TrainerClient(start(train={"steps": 100000, "checkpoint_every": 0}), runs_dir=str(tmp_path))
    stuck = TrainerClient(start(), runs_dir=None)
    running.start()
    stuck.start()
    running.send(p.Start())
    wait_for(running, snapshot(lambda s: s.step > 0))
    wait_for(stuck, snapshot())
    pids = running.pids + stuck.pids
    assert len(pids) == 2 and all(not gone(pid) for pid in pids)

    last = running.close()  # saves on quit
    (on_quit,) = [m for m in last if isinstance(m, p.Saved)]
    assert on_quit.path.startswith(str(tmp_path)) and on_quit.step > 0 and not on_quit.periodic
    os.kill(stuck.pids[0], signal.SIGSTOP)  # it can no longer hear "stop"
    started = time.monotonic()
    stuck.close(timeout=0.5)
    assert time.monotonic() - started < 5
    assert multiprocessing.active_children() == []
    assert all(gone(pid) for pid in pids)
    checkpoints = list(tmp_path.glob("*/step-*.pt"))
    assert checkpoints == [Path(on_quit.path)] and checkpoint.load(checkpoints[0])["meta"]["step"] == on_quit.step


def test_a_crash_is_a_message_and_the_trainer_comes_back(tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text("title = 'half a scenario'\n")
    client = TrainerClient(start(), runs_dir=None)
    client.start()
    try:
        wait_for(client, snapshot())
        client.send(p.Switch(source={"scenario": str(bad)}))
        error = wait_for(client, lambda m: isinstance(m, p.TrainerError))
        assert str(bad) in error.reason and "missing key" in error.reason and "\n" not in error.reason
        client.send(p.Step())  # still there, with the old model
        wait_for(client, snapshot(lambda s: s.step == 1))

        client.send(p.Watch(1))
        wait_for(client, trace_ready())
        old_pid = client.pids[0]
        os.kill(old_pid, signal.SIGKILL)
        seen: list = []
        died = wait_for(client, lambda m: isinstance(m, p.TrainerError), seen=seen)
        assert died.reason == ("the trainer process stopped unexpectedly (exit code -9); "
                               "restarted from the seed (no checkpoint yet)")
        # Back by itself, from the last settings, still watching the same sample.
        back = wait_for(client, run_info(), seen=seen)
        assert client.pids[0] != old_pid and back.step == 0 and back.model["hidden"] == 8
        assert wait_for(client, trace_ready(lambda t: t.uid == back.uid), seen=seen).sample == 1
        new = snapshot(lambda s: s.uid == back.uid)
        snap = next(filter(new, seen), None) or wait_for(client, new)
        assert snap.status == "paused" and snap.step == 0  # as it was: paused
    finally:
        client.close()
    assert multiprocessing.active_children() == []


def test_a_trainer_that_keeps_dying_stays_down_until_told_to_train(tmp_path):
    client = TrainerClient(start(), runs_dir=None)
    client.start()
    try:
        wait_for(client, snapshot())
        for death in range(1, 5):
            pid = client.pids[0]
            os.kill(pid, signal.SIGKILL)
            said = wait_for(client, lambda m: isinstance(m, p.TrainerError))
            if death <= 3:  # restarted each time
                assert "restarted from the seed" in said.reason
                wait_for(client, snapshot())
                assert client.pids[0] != pid
        assert "4 times in a minute" in said.reason and "left stopped" in said.reason
        time.sleep(0.5)
        assert not [m for m in poll(client) if not isinstance(m, p.TrainerError)]  # nothing came back
        assert gone(client.pids[0])
        client.send(p.Step())  # does not train: not brought back
        assert "not running" in wait_for(client, lambda m: isinstance(m, p.TrainerError)).reason
        client.send(p.Start())  # trains: back again
        wait_for(client, snapshot(lambda s: s.status == "running" and s.step > 0))
        assert not gone(client.pids[0])
    finally:
        client.close()
    assert multiprocessing.active_children() == []


def test_a_killed_trainer_restarts_from_its_newest_checkpoint_and_trains_on(tmp_path):
    # A checkpoint at every evaluation, an evaluation every 1000 steps (about a second).
    client = TrainerClient(start(train={"eval_every": 1000, "checkpoint_every": 1, "steps": 100000}),
                           runs_dir=str(tmp_path))
    seen: list = []
    client.start()
    try:
        first = wait_for(client, run_info(), seen=seen)
        client.send(p.Start())
        saved = wait_for(client, lambda m: isinstance(m, p.Saved), seen=seen)
        assert saved.periodic and saved.step == 1000
        wait_for(client, snapshot(lambda s: s.saved == saved.path and s.status == "running"), seen=seen)
        old_pid = client.pids[0]
        os.kill(old_pid, signal.SIGKILL)
        died = wait_for(client, lambda m: isinstance(m, p.TrainerError) and "restarted from" in m.reason, seen=seen)
        assert died.reason.startswith("the trainer process stopped unexpectedly (exit code -9); restarted from ")
        path = died.reason.rsplit("restarted from ", 1)[1]
        step = checkpoint.load(path)["meta"]["step"]
        assert step >= 1000 and Path(path).parent.parent == tmp_path
        back = wait_for(client, run_info(lambda i: i.uid != first.uid and i.step > 0), seen=seen)
        assert back.step == step  # the weights came back
        assert [m for m in seen if isinstance(m, p.TrainerError)] == [died]  # the load worked
        wait_for(client, snapshot(lambda s: s.uid == back.uid and s.status == "running" and s.step > step),
                 seen=seen)  # and it trains on, as it did
        assert client.pids[0] != old_pid
    finally:
        client.close()
    assert multiprocessing.active_children() == []


def test_a_restart_never_names_a_checkpoint_that_pruning_deleted(tmp_path):
    client = TrainerClient(start(train={"eval_every": 1, "checkpoint_every": 1, "steps": 100000}),
                           runs_dir=str(tmp_path))
    seen: list = []
    client.start()
    try:
        first = wait_for(client, run_info(), seen=seen)
        client.send(p.Start())
        wait_for(client, snapshot(lambda s: s.saved is not None and s.status == "running"), seen=seen)
        pid = client.pids[0]
        for _ in range(50):  # freeze it at a moment the newest checkpoint the client knows of is gone
            time.sleep(0.1)
            os.kill(pid, signal.SIGSTOP)
            time.sleep(0.1)
            seen += poll(client)
            known = [m for m in seen if isinstance(m, p.Snapshot)][-1].saved
            if not Path(known).exists():
                break
            os.kill(pid, signal.SIGCONT)
        assert not Path(known).exists() and list(tmp_path.glob("*/step-*.pt"))  # newer ones are there
        os.kill(pid, signal.SIGKILL)
        wait_for(client, lambda m: isinstance(m, p.TrainerError) and "restarted from" in m.reason, seen=seen)
        # built, then loaded: the loaded run says the checkpoint's step
        loaded = wait_for(client, lambda m: isinstance(m, p.RunInfo) and m.uid != first.uid and m.step > 0,
                          seen=seen)
        time.sleep(0.5)
        seen += poll(client)
    finally:
        client.close()
    assert not [m.reason for m in seen if isinstance(m, p.TrainerError) and "no such file" in m.reason]
    assert loaded.checkpoint and Path(loaded.checkpoint).exists()  # not the seed, and a file that is there


def test_a_reader_that_never_reads_does_not_grow_memory():
    # A big model's snapshots (~2.5 a second) and traces (~1 a second), nobody reading.
    client = TrainerClient(start(model={"hidden": 512}, train={"steps": 100000, "eval_every": 1000}),
                           runs_dir=None)
    client.start()
    try:
        wait_for(client, snapshot())
        client.send(p.Watch(0))
        client.send(p.Start())
        pid = client.pids[0]

        def rss_mb():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024

        # Past the first steps' allocations: the optimizer (its first use imports torch._dynamo),
        # its state, the autograd buffers. Read until then; from here on nobody reads.
        wait_for(client, snapshot(lambda s: s.step >= 20))
        time.sleep(2.0)  # and a few traces (each allocates its arrays once)
        before = rss_mb()
        time.sleep(4.0)  # ~10 snapshots and ~4 traces, nobody reading
        # The allocator's own swings reach ~15 MB here; a backlog would grow without end
        # (and a blocked pipe would stop training: the snapshot check below).
        assert rss_mb() - before < 40
        messages = client.poll()
        snaps = [m for m in messages if isinstance(m, p.Snapshot)]
        assert len(snaps) == 1 and snaps[0].status == "running"
        assert len([m for m in messages if isinstance(m, p.TraceReady)]) <= 1  # the newest, not a backlog
    finally:
        client.close()


def test_compare_mode_runs_are_labelled_by_arch(tmp_path):
    client = TrainerClient(start(train={"steps": 30, "eval_every": 10}), runs_dir=None,
                           compare=["rnn", "lstm", "gru"])
    client.start()
    latest, info, seen = {}, {}, []

    def collect(until, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not until():
            for m in client.poll():
                seen.append(m)
                assert not isinstance(m, p.TrainerError), m
                if isinstance(m, p.Snapshot):
                    latest[m.run] = m
                elif isinstance(m, p.RunInfo):
                    info[m.run] = m
            time.sleep(0.05)

    try:
        client.send(p.Start())
        collect(lambda: len(latest) == 3 and all(s.status == "paused" and s.step == 30 for s in latest.values()))
        assert sorted(latest) == sorted(info) == ["gru", "lstm", "rnn"]
        assert all(info[run].model["arch"] == run and s.step == 30 for run, s in latest.items())
        assert all([r["step"] for r in s.history] == [10, 20, 30] for s in latest.values())
        client.send(p.Save(str(tmp_path / "c.pt")))  # one file per run
        client.send(p.Reset())
        collect(lambda: all(s.step == 0 for s in latest.values()))
        client.send(p.Load(str(tmp_path / "c-gru.pt"), run="gru"))  # to the gru run only
        collect(lambda: latest["gru"].step == 30)
        assert latest["rnn"].step == latest["lstm"].step == 0
    finally:
        client.close()
    assert sorted(f.name for f in tmp_path.iterdir()) == ["c-gru.pt", "c-lstm.pt", "c-rnn.pt"]
    assert sorted(Path(m.path).name for m in seen if isinstance(m, p.Saved)) == ["c-gru.pt", "c-lstm.pt", "c-rnn.pt"]
    assert [m.text for m in seen if isinstance(m, p.Notice)][-1] == f"gru: loaded {tmp_path / 'c-gru.pt'} at step 30"


def test_compare_load_without_a_run_goes_to_the_run_of_its_arch(tmp_path):
    client = TrainerClient(start(), runs_dir=None, compare=["rnn", "gru"])
    client.start()
    seen: list = []
    try:
        client.send(p.Step(run="gru"))
        client.send(p.Save(str(tmp_path / "c.pt"), run="gru"))
        wait_for(client, lambda m: isinstance(m, p.Saved), seen=seen)
        client.send(p.Reset())
        wait_for(client, snapshot(lambda s: s.run == "gru" and s.step == 0), seen=seen)
        client.send(p.Load(str(tmp_path / "c-gru.pt")))  # protocol.Load: "goes to the run of its arch"
        wait_for(client, run_info(lambda i: i.run == "gru" and i.step == 1), seen=seen)
        time.sleep(0.5)
        seen += poll(client)
    finally:
        client.close()
    assert [m.reason for m in seen if isinstance(m, p.TrainerError)] == []


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
            from rnn_tui.training import protocol as p
            from rnn_tui.training.client import TrainerClient
            client = TrainerClient({"source": {"scenario": "sine"}, "model": {"hidden": 8},
                                    "train": {"steps": 100000, "checkpoint_every": 0}}, runs_dir=sys.argv[1])
            client.start()
            client.send(p.Start())
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


# ------------------------------------------------------------------ headless train, ended by a signal


@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_ends_headless_training_with_a_checkpoint_and_says_where(tmp_path, sig, status):
    # COLUMNS: rich wraps the summary at 80 columns off a terminal, a long path too.
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "1000"}
    proc = subprocess.Popen([sys.executable, "-m", "rnn_tui", "train", "--scenario", "sine", "--hidden", "8",
                             "--steps", "1000000", "--eval-every", "10", "--checkpoint-every", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(tmp_path.glob("runs/*/metrics.jsonl")):
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        (metrics,) = tmp_path.glob("runs/*/metrics.jsonl")
        while time.monotonic() < deadline and not metrics.read_text():  # training, past its first evaluation
            time.sleep(0.05)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == status, out + err
    lines = (out + err).splitlines()
    (said,) = [line for line in lines if line.startswith("checkpoint: ")]
    path = tmp_path / said.removeprefix("checkpoint: ")  # relative to its working folder
    assert path.parent == metrics.parent and path.name.startswith("step-")
    step = checkpoint.load(path)["meta"]["step"]
    assert step >= 10 and path.name == f"step-{step}.pt"
    assert f"interrupted ({sig.name})" in err
