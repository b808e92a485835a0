"""The training loop, the run logic behind every command, checkpoints and the snapshot
channel, all in this process (the process boundary itself: test_worker.py)."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from rnn_tui.cli import main as cli_main
from rnn_tui.core import checkpoint
from rnn_tui.core.config import ModelConfig, TrainConfig
from rnn_tui.core.model import SequenceModel
from rnn_tui.core.trace import trace_sequence
from rnn_tui.data.source import Source
from rnn_tui.errors import UserError
from rnn_tui.training import loop
from rnn_tui.training.channel import LatestSender, take_latest
from rnn_tui.training.fake import FakeTrainerClient
from rnn_tui.training.host import Host
from rnn_tui.training.loop import Trainer
from rnn_tui.training.protocol import Command, Generated, Notice, TrainerError
from rnn_tui.training.session import max_pool, thin

SINE = {"scenario": "sine", "data": {"seq_len": 20, "train_size": 128, "val_size": 32}}
SMALL = {"hidden": 8}
QUICK = {"eval_every": 5, "steps": 40}


def sine_data():
    return Source.from_dict(SINE).load().build_data(0)


def make_host(tmp_path=None, compare=None, model=SMALL, train=QUICK, source=SINE):
    out: list = []
    labels = compare or ["main"]
    specs = {label: {"source": source, "model": dict(model), "train": dict(train)} for label in labels}
    host = Host(specs, str(tmp_path / "runs") if tmp_path else None, True, bool(compare), out.append)
    return host, out


def errors(out):
    return [m.reason for m in out if isinstance(m, TrainerError)]


def notices(out):
    return [m.text for m in out if isinstance(m, Notice)]


# ------------------------------------------------------------------ the loop


def test_lr_change_keeps_adam_state_and_a_new_optimizer_starts_fresh():
    t = Trainer(sine_data(), ModelConfig(hidden=8), TrainConfig())
    for _ in range(3):
        t.train_step()
    first = next(iter(t.model.parameters()))
    moments = t.optimizer.state[first]["exp_avg"].clone()
    t.configure(lr=1e-4, weight_decay=0.01, clip=0.5)
    assert isinstance(t.optimizer, torch.optim.Adam)
    assert torch.equal(t.optimizer.state[first]["exp_avg"], moments)  # state kept
    assert t.optimizer.param_groups[0]["lr"] == 1e-4
    assert t.optimizer.param_groups[0]["weight_decay"] == 0.01
    assert t.train_config.clip == 0.5
    t.configure(optimizer="sgd", momentum=0.5)
    assert isinstance(t.optimizer, torch.optim.SGD) and not t.optimizer.state
    assert t.optimizer.param_groups[0]["momentum"] == 0.5 and t.optimizer.param_groups[0]["lr"] == 1e-4
    t.train_step()  # and it trains
    with pytest.raises(UserError, match="lr must be"):
        t.configure(lr=-1.0, batch_size=8)
    assert t.train_config.batch_size == 32  # nothing of a rejected change applies
    with pytest.raises(UserError, match="'seed' cannot change"):
        t.configure(seed=3)


def test_pre_clip_grad_norm_recorded_every_step_and_summarised_per_evaluation():
    t = Trainer(sine_data(), ModelConfig(hidden=8), TrainConfig(clip=1e-3))
    assert t.grad_norms.maxlen == loop.GRAD_NORM_MEMORY
    for _ in range(7):
        t.train_step()
    norms = list(t.grad_norms)
    assert len(norms) == 7 and all(n > 1e-3 for n in norms)  # before clipping, not after
    row = t.evaluate()
    assert row["grad_norm"] == norms[-1]
    assert row["grad_norm_max"] == max(norms)
    assert row["grad_norm_mean"] == pytest.approx(sum(norms) / 7)


def test_dropout_changes_live_between_layers():
    t = Trainer(sine_data(), ModelConfig(hidden=8, layers=2), TrainConfig())
    t.configure(dropout=0.3)
    assert t.model.core.dropout == 0.3 and t.model_config.dropout == 0.3


def test_divergence_stops_restores_finite_weights_and_reports_the_step():
    host, out = make_host(model={"arch": "rnn", "hidden": 16},
                          train={"lr": 100.0, "clip": 0.0, "optimizer": "sgd", "eval_every": 2, "steps": 500})
    run = host.runs["main"]
    host.handle(Command("start"))
    for _ in range(100):
        host.train_for(1.0, max_rounds=1)
        if not host.busy:
            break
    snap = host.snapshots()[0]
    assert snap.status == "diverged" and not host.busy
    d = snap.diverged
    assert d["step"] > d["restored_step"] >= 0 and d["step"] == snap.step + 1
    assert "is inf" in d["reason"] or "is nan" in d["reason"]
    assert all(torch.isfinite(w).all() for w in snap.weights.values())
    assert math.isfinite(snap.metrics["val_loss"])  # the restored weights work
    assert any(f"diverged at step {d['step']}" in n for n in notices(out))
    # A lower learning rate and resume: training goes on from the restored weights.
    host.handle(Command("set", {"lr": 1e-3}))
    host.handle(Command("resume"))
    host.train_for(1.0, max_rounds=3)
    assert run.status == "running" and run.trainer.diverged is None and not errors(out)


# ------------------------------------------------------------------ commands


def test_commands_pause_resume_step_reset_set_switch(tmp_path):
    host, out = make_host()
    run = host.runs["main"]
    assert run.status == "paused" and run.trainer.step == 0
    host.handle(Command("step"))
    assert run.trainer.step == 1 and run.status == "paused"
    host.handle(Command("start"))
    host.train_for(1.0, max_rounds=4)
    assert run.trainer.step == 5 and len(run.trainer.history) == 1  # evaluated at eval_every
    host.handle(Command("pause"))
    host.train_for(1.0, max_rounds=4)
    assert run.trainer.step == 5
    host.handle(Command("set", {"lr": 1e-4, "batch_size": 4, "clip": 0.0}))
    assert run.snapshot().train["lr"] == 1e-4 and run.trainer.train_config.batch_size == 4
    host.handle(Command("set", {"lr": "fast"}))
    assert "lr must be" in errors(out)[-1]
    host.handle(Command("reset"))
    assert run.trainer.step == 0 and not run.trainer.history
    again = run.snapshot().weights
    fresh = make_host()[0].runs["main"].snapshot().weights
    assert all(torch.equal(again[k], fresh[k]) for k in fresh)  # reset = the seed's weights
    host.handle(Command("switch", {"arch": "gru", "hidden": 12}))
    run = host.runs["main"]
    assert run.trainer.model_config.arch == "gru" and run.trainer.model_config.hidden == 12
    assert run.trainer.train_config.batch_size == 4  # settings survive a model switch
    host.handle(Command("switch", {"source": {"scenario": "sentiment", "data": {"train_size": 64, "val_size": 32}}}))
    run = host.runs["main"]
    assert run.trainer.data.kind == "classify" and run.snapshot().source["scenario"] == "sentiment"
    assert run.trainer.model_config == Source(scenario="sentiment").load().model  # the scenario's own
    assert not errors(out)[1:]


def test_watch_traces_the_sample_with_the_training_weights_exactly_and_only_when_due():
    host, out = make_host()
    assert not host.traces_due() and host.traces() == []  # nothing watched yet
    host.handle(Command("watch", {"sample": 3}))
    assert host.traces_due()
    (ready,) = host.traces()
    run, data = host.runs["main"], host.runs["main"].trainer.data
    assert (ready.run, ready.step, ready.sample) == ("main", 0, 3)
    # What the trainer traced is what the UI used to trace from the snapshot's weights.
    snap = run.snapshot()
    model = SequenceModel(ModelConfig(**snap.model), data.kind, data.input_size, data.output_size, data.tokens_in)
    model.load_state_dict(snap.weights)
    expected = trace_sequence(model.eval(), data.val.x[3], data.val.y[3])
    assert np.array_equal(ready.trace.h, expected.h) and np.array_equal(ready.trace.grad_h, expected.grad_h)
    assert not host.traces_due() and host.traces()[0].serial == ready.serial  # unchanged: not traced again
    host.handle(Command("step"))
    assert host.traces_due()
    stepped = host.traces()[0]
    assert stepped.step == 1 and stepped.serial != ready.serial and not np.array_equal(stepped.trace.h, ready.trace.h)
    host.handle(Command("reset"))  # back to step 0, and to the seed's weights: a new trace all the same
    assert host.traces_due() and np.array_equal(host.traces()[0].trace.h, ready.trace.h)
    host.handle(Command("watch", {"sample": len(data.val) + 1}))  # wraps to the split
    assert host.traces()[0].sample == 1
    host.handle(Command("watch", {"sample": -1}))
    assert "sample must be a whole number" in errors(out)[-1]
    host.handle(Command("step"))
    model = run.trainer.model
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.grad.clone() for p in model.parameters()]
    host.handle(Command("watch", {"sample": 2, "epoch": 7}))
    assert host.traces()[0].epoch == 7
    # Tracing used a copy: the training model's mode, weights and gradients are its own.
    assert model.training
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))


def test_a_failing_trace_is_said_once_not_every_second(monkeypatch):
    host, out = make_host()
    host.handle(Command("watch", {"sample": 0}))
    monkeypatch.setattr(type(host.runs["main"]), "trace", lambda run, sample, epoch, serial: 1 / 0)
    for _ in range(3):
        host.handle(Command("step"))
        assert host.traces() == []
    (said,) = errors(out)
    assert said.startswith("trace failed: ZeroDivisionError") and said.endswith("division by zero")


def test_generate_is_text_from_the_weights_and_refused_for_other_tasks():
    text = {"scenario": "text", "data": {"seq_len": 16}}
    host, out = make_host(source=text)
    host.handle(Command("generate", {"temperature": 0.5}))
    (made,) = [m for m in out if isinstance(m, Generated)]
    assert made.temperature == 0.5 and len(made.text) == host.runs["main"].scenario.sample.get("length", 200)
    host.handle(Command("generate", {"temperature": 0.5}))
    assert [m for m in out if isinstance(m, Generated)][-1].text == made.text  # same weights, same step: same text
    host, out = make_host()
    host.handle(Command("generate"))
    assert "generation needs a text scenario; sine is forecast" in errors(out)[-1]


def test_budget_pauses_and_resume_trains_another_budget():
    host, out = make_host(train={"eval_every": 5, "steps": 10})
    host.handle(Command("start"))
    host.train_for(5.0)
    run = host.runs["main"]
    assert run.status == "paused" and run.trainer.step == 10
    assert any("budget of 10 steps" in n for n in notices(out))
    host.handle(Command("resume"))
    host.train_for(5.0)
    assert run.trainer.step == 20


def test_failures_are_messages_and_the_host_recovers(tmp_path, monkeypatch):
    host, out = make_host()
    bad = tmp_path / "bad.toml"
    bad.write_text("title = 'x'\n")
    host.handle(Command("switch", {"source": {"scenario": str(bad)}}))
    assert "missing key" in errors(out)[-1]
    assert host.runs["main"].trainer.data.kind == "forecast"  # the old run is untouched
    host.handle(Command("dance"))
    assert "unknown command 'dance'" in errors(out)[-1]

    def explode():
        raise RuntimeError("out of memory, pretend")

    run = host.runs["main"]
    monkeypatch.setattr(run.trainer, "train_step", explode)
    host.handle(Command("start"))
    host.train_for(1.0)
    assert run.status == "stopped"
    assert "RuntimeError" in errors(out)[-1] and "out of memory, pretend" in errors(out)[-1]
    monkeypatch.undo()
    host.handle(Command("reset"))
    host.handle(Command("start"))
    host.train_for(1.0, max_rounds=2)
    assert host.runs["main"].trainer.step == 2


def test_a_bad_first_scenario_waits_for_a_switch(tmp_path):
    host, out = make_host(source={"scenario": str(tmp_path / "missing.toml")})
    assert not host.runs and "not found" in errors(out)[0]
    host.handle(Command("start"))
    assert "no model yet" in errors(out)[-1]
    host.handle(Command("switch", {"source": SINE, "hidden": 8}))
    assert host.runs["main"].trainer.model_config.hidden == 8


def test_compare_runs_share_data_and_steps():
    host, out = make_host(compare=["rnn", "lstm", "gru"])
    data = {id(run.trainer.data) for run in host.runs.values()}
    assert len(data) == 1
    host.handle(Command("start"))
    host.train_for(1.0, max_rounds=5)
    snaps = host.snapshots()
    assert [s.run for s in snaps] == ["rnn", "lstm", "gru"]
    assert [s.model["arch"] for s in snaps] == ["rnn", "lstm", "gru"]
    assert {s.step for s in snaps} == {5}
    host.handle(Command("switch", {"arch": "rnn"}))
    assert "compare mode" in errors(out)[-1]
    host.handle(Command("pause", {"run": "gru"}))
    host.train_for(1.0, max_rounds=2)
    assert [s.step for s in host.snapshots()] == [7, 7, 5]


# ------------------------------------------------------------------ runs and checkpoints


def test_run_folder_metrics_and_checkpoints_for_trace_and_train(tmp_path, capsys):
    host, out = make_host(tmp_path)
    host.handle(Command("start"))
    host.train_for(10.0, max_rounds=10)
    folders = list((tmp_path / "runs").iterdir())
    assert len(folders) == 1 and folders[0].name.startswith("sine-lstm-")
    rows = [json.loads(line) for line in (folders[0] / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [5, 10]  # flushed as written: readable while open
    host.handle(Command("save"))
    ckpt = folders[0] / "step-10.pt"
    assert notices(out)[-1] == f"saved {ckpt}"
    payload = torch.load(ckpt, weights_only=True)
    assert payload["meta"]["step"] == 10 and payload["meta"]["task"] == "forecast"
    lstm = torch.nn.LSTM(1, 8, batch_first=True)
    lstm.load_state_dict(payload["core"], strict=True)
    # What the CLI needs: no other option than the checkpoint.
    assert cli_main(["trace", "--checkpoint", str(ckpt), "--out", str(tmp_path / "t.npz")]) == 0
    assert cli_main(["train", "--checkpoint", str(ckpt), "--steps", "5", "--json"]) == 0
    capsys.readouterr()
    # Stop saves what was trained since (save_on_quit), and nothing twice.
    host.handle(Command("step"))
    host.handle(Command("stop"))
    assert (folders[0] / "step-11.pt").is_file() and host.finished


def test_no_runs_dir_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    host, out = make_host()
    host.handle(Command("start"))
    host.train_for(1.0, max_rounds=6)
    host.stop()
    assert list(tmp_path.iterdir()) == []
    host, out = make_host()
    host.handle(Command("save"))
    assert "give a path" in errors(out)[-1]


def test_load_restores_weights_and_refuses_another_shape(tmp_path):
    host, out = make_host(tmp_path)
    host.handle(Command("start"))
    host.train_for(10.0, max_rounds=10)
    host.handle(Command("save", {"path": str(tmp_path / "a.pt")}))
    trained = host.snapshots()[0].weights
    host.handle(Command("reset"))
    host.handle(Command("load", {"path": str(tmp_path / "a.pt")}))
    snap = host.snapshots()[0]
    assert snap.step == 10 and all(torch.equal(trained[k], snap.weights[k]) for k in trained)
    assert notices(out)[-1].startswith(f"loaded {tmp_path / 'a.pt'} at step 10")

    other, _ = make_host(model={"arch": "gru", "hidden": 8})
    other.handle(Command("save", {"path": str(tmp_path / "gru.pt")}))
    host.handle(Command("load", {"path": str(tmp_path / "gru.pt")}))
    assert "a gru 1x8 forecast checkpoint does not fit this lstm 1x8 forecast run" in errors(out)[-1]
    assert host.snapshots()[0].step == 10  # untouched

    truncated = tmp_path / "cut.pt"
    truncated.write_bytes((tmp_path / "a.pt").read_bytes()[:500])
    host.handle(Command("load", {"path": str(truncated)}))
    assert "not a readable torch tensor file" in errors(out)[-1]
    with pytest.raises(UserError, match="not a readable torch tensor file"):
        checkpoint.load(truncated)


def test_compare_load_picks_the_run_of_the_checkpoint_arch(tmp_path):
    single, _ = make_host(model={"arch": "gru", "hidden": 8})
    single.handle(Command("step"))
    single.handle(Command("save", {"path": str(tmp_path / "gru.pt")}))
    host, _ = make_host(compare=["rnn", "gru"])
    host.handle(Command("load", {"path": str(tmp_path / "gru.pt")}))
    assert [s.step for s in host.snapshots()] == [0, 1]
    host.handle(Command("save", {"path": str(tmp_path / "both.pt")}))
    assert (tmp_path / "both-rnn.pt").is_file() and (tmp_path / "both-gru.pt").is_file()


def test_a_save_cut_short_never_leaves_a_corrupt_checkpoint(tmp_path, monkeypatch):
    model = SequenceModel(ModelConfig(hidden=8), "forecast", 1, 1, False)
    target = tmp_path / "run" / "model.pt"
    checkpoint.save(target, model, {"step": 1})
    before = target.read_bytes()
    real_save, real_replace = torch.save, os.replace
    writes_to_target = []

    def half_then_killed(obj, fh, *a, **k):  # dies halfway through writing
        fh.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", half_then_killed)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(target, model, {"step": 2})
    assert target.read_bytes() == before and list(target.parent.iterdir()) == [target]

    def spy_replace(src, dst):  # the rename is the only thing that ever touches the target
        writes_to_target.append(dst)
        assert Path(dst).read_bytes() == before  # still the old, complete file right up to it
        return real_replace(src, dst)

    monkeypatch.setattr(torch, "save", real_save)
    monkeypatch.setattr(os, "replace", spy_replace)
    checkpoint.save(target, model, {"step": 3})
    assert writes_to_target == [target]
    assert checkpoint.load(target)["meta"]["step"] == 3


# ------------------------------------------------------------------ snapshots


def test_snapshot_weights_are_the_trained_tensors_and_pickle_cheaply():
    import pickle

    from rnn_tui.core.trace import trace_sequence

    host, _ = make_host()
    host.handle(Command("start"))
    host.train_for(10.0, max_rounds=12)
    run = host.runs["main"]
    snap = pickle.loads(pickle.dumps(run.snapshot()))
    assert isinstance(snap.weights["core.weight_hh_l0"], torch.Tensor)
    data = run.trainer.data
    model = SequenceModel(ModelConfig(**snap.model), data.kind, data.input_size, data.output_size, data.tokens_in)
    model.load_state_dict(snap.weights, strict=True)
    model.eval(), run.trainer.model.eval()
    x, y = data.val.x[:4], data.val.y[:4]
    assert torch.equal(model(x), run.trainer.model(x))
    ours, theirs = trace_sequence(model, x[0], y[0]), trace_sequence(run.trainer.model, x[0], y[0])
    assert (ours.h == theirs.h).all() and (ours.grad_h == theirs.grad_h).all()
    assert len(snap.grad_norms) == 12 and snap.history[-1]["step"] == 10


def test_history_and_grad_norms_stay_small_but_keep_the_spikes():
    rows = [{"step": i} for i in range(1, 3001)]
    kept = thin(rows, 1000)
    assert len(kept) <= 1001 and kept[0]["step"] == 1 and kept[-1]["step"] == 3000
    assert thin(rows + [{"step": 3001}], 1000)[:-1] == kept[:-1]  # points stay put
    norms = [1.0] * 2000
    norms[1234] = 99.0
    pooled = max_pool(norms, 500)
    assert len(pooled) == 500 and max(pooled) == 99.0


def test_fake_client_is_deterministic_and_speaks_the_protocol():
    def session():
        client = FakeTrainerClient(SINE, SMALL, {"eval_every": 3}, compare=["rnn", "gru"], steps_per_poll=2)
        client.start()
        first = client.poll()
        client.send("start")
        for _ in range(4):
            last = client.poll()
        client.send("set", lr=0.01, run="rnn")
        client.send("pause")
        paused = client.poll()
        assert client.poll() == []  # nothing new while paused
        return first, last, paused, client

    a, b = session(), session()
    assert [s.step for s in a[0]] == [0, 0] and [s.step for s in a[1]] == [8, 8]
    assert a[2][0].train["lr"] == 0.01 and a[2][1].train["lr"] != 0.01  # set(run="rnn") reached rnn only
    assert all(s.status == "paused" for s in a[2])
    for x, y in zip(a[1], b[1], strict=True):
        assert x.metrics == y.metrics and x.seq_per_s == y.seq_per_s and x.grad_norms == y.grad_norms
        assert all(torch.equal(x.weights[k], y.weights[k]) for k in x.weights)
    with pytest.raises(ValueError):
        a[3].send("fly")
    assert [c.name for c in a[3].sent] == ["start", "set", "pause"]


# ------------------------------------------------------------------ the channel


def _rss_mb() -> float:
    """Resident memory now (not the peak, which an earlier test may have set)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_latest_wins_stays_bounded_when_nobody_reads():
    reader, writer = multiprocessing.get_context("spawn").Pipe(duplex=False)
    sender = LatestSender(writer)
    big = bytes(4 << 20)
    sender.publish((0, big))
    before = _rss_mb()
    for i in range(1, 200):  # 800 MB published in all; a queue would hold it all
        sender.publish((i, big))
    assert _rss_mb() - before < 60
    # The newest arrives, at most one message late (behind the one already being written).
    got, deadline = [], time.monotonic() + 10
    while (not got or got[-1][0] != 199) and time.monotonic() < deadline:
        message = take_latest(reader)
        if message is not None:
            got.append(message)
    assert [m[0] for m in got][-1] == 199 and len(got) <= 2
    assert sender.flush(timeout=5) and take_latest(reader) is None


def test_training_modules_do_not_import_textual():
    code = ("import sys; import rnn_tui.training.worker, rnn_tui.training.fake, rnn_tui.training.headless; "
            "sys.exit('textual' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
