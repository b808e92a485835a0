"""The training loop, the run logic behind every command, checkpoints, headless training
and the snapshot channel, all in this process (the process boundary itself: test_worker.py)."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import pickle
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
from rnn_tui.training import protocol as p
from rnn_tui.training import trainer as trainer_module
from rnn_tui.training.channel import LatestSender, take_latest
from rnn_tui.training.fake import FakeTrainerClient
from rnn_tui.training.run import max_pool, thin
from rnn_tui.training.run_group import RunGroup
from rnn_tui.training.trainer import Trainer

SINE = {"scenario": "sine", "data": {"seq_len": 20, "train_size": 128, "val_size": 32}}
SMALL = {"hidden": 8}
QUICK = {"eval_every": 5, "steps": 40}


def sine_data():
    return Source.from_dict(SINE).load().build_data(0)


def make_group(tmp_path=None, compare=None, model=SMALL, train=QUICK, source=SINE):
    out: list = []
    labels = compare or ["main"]
    specs = {label: {"source": source, "model": dict(model), "train": dict(train)} for label in labels}
    group = RunGroup(specs, str(tmp_path / "runs") if tmp_path else None, True, bool(compare), out.append)
    return group, out


def errors(out):
    return [m.reason for m in out if isinstance(m, p.TrainerError)]


def notices(out):
    return [m.text for m in out if isinstance(m, p.Notice)]


def saves(out):
    return [m for m in out if isinstance(m, p.Saved)]


def infos(out):
    return [m for m in out if isinstance(m, p.RunInfo)]


def weights(group, label="main") -> dict:
    """The run's training weights as they are now (snapshots carry none)."""
    return {k: v.detach().clone() for k, v in group.runs[label].trainer.model.state_dict().items()}


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def same_tensors(a: dict, b: dict) -> bool:
    """Two checkpoint payloads hold the same tensors, part for part."""
    parts = [part for part in checkpoint.PARTS if part in a or part in b]
    return all(part in a and part in b and same_weights(a[part], b[part]) for part in parts)


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
    assert t.grad_norms.maxlen == trainer_module.GRAD_NORM_MEMORY
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
    group, out = make_group(model={"arch": "rnn", "hidden": 16},
                            train={"lr": 100.0, "clip": 0.0, "optimizer": "sgd", "eval_every": 2, "steps": 500})
    run = group.runs["main"]
    group.handle(p.Start())
    for _ in range(100):
        group.train_for(1.0, max_rounds=1)
        if not group.busy:
            break
    snap = group.snapshots()[0]
    assert snap.status == "diverged" and not group.busy
    d = snap.diverged
    assert d["step"] > d["restored_step"] >= 0 and d["step"] == snap.step + 1
    assert "is inf" in d["reason"] or "is nan" in d["reason"]
    assert all(torch.isfinite(w).all() for w in weights(group).values())
    assert math.isfinite(snap.metrics["val_loss"])  # the restored weights work
    assert any(f"diverged at step {d['step']}" in n for n in notices(out))
    # A lower learning rate and resume: training goes on from the restored weights.
    group.handle(p.Set({"lr": 1e-3}))
    group.handle(p.Start())
    group.train_for(1.0, max_rounds=3)
    assert run.status == "running" and run.trainer.diverged is None and not errors(out)


# ------------------------------------------------------------------ commands


def test_commands_pause_resume_step_reset_set_switch(tmp_path):
    group, out = make_group()
    run = group.runs["main"]
    assert run.status == "paused" and run.trainer.step == 0
    group.handle(p.Step())
    assert run.trainer.step == 1 and run.status == "paused"
    group.handle(p.Start())
    group.train_for(1.0, max_rounds=4)
    assert run.trainer.step == 5 and len(run.trainer.history) == 1  # evaluated at eval_every
    group.handle(p.Pause())
    group.train_for(1.0, max_rounds=4)
    assert run.trainer.step == 5
    group.handle(p.Set({"lr": 1e-4, "batch_size": 4, "clip": 0.0}))
    assert run.snapshot().train["lr"] == 1e-4 and run.trainer.train_config.batch_size == 4
    group.handle(p.Set({"lr": "fast"}))
    assert "lr must be" in errors(out)[-1]
    group.handle(p.Reset())
    assert run.trainer.step == 0 and not run.trainer.history
    fresh_group, _ = make_group()
    assert same_weights(weights(group), weights(fresh_group))  # reset = the seed's weights
    group.handle(p.Switch(model={"arch": "gru", "hidden": 12}))
    run = group.runs["main"]
    assert run.trainer.model_config.arch == "gru" and run.trainer.model_config.hidden == 12
    assert run.trainer.train_config.batch_size == 4  # settings survive a model switch
    assert infos(out)[-1].model["arch"] == "gru" and infos(out)[-1].uid == run.uid  # the app is told
    group.handle(p.Switch(source={"scenario": "sentiment", "data": {"train_size": 64, "val_size": 32}}))
    run = group.runs["main"]
    info = infos(out)[-1]
    assert run.trainer.data.kind == "classify" and info.source["scenario"] == "sentiment"
    assert info.kind == "classify" and info.class_names == run.trainer.data.class_names
    assert run.trainer.model_config == Source(scenario="sentiment").load().model  # the scenario's own
    assert not errors(out)[1:]


def test_watch_traces_the_sample_with_the_training_weights_exactly_and_only_when_due():
    group, out = make_group()
    assert not group.traces_due() and group.traces() == []  # nothing watched yet
    group.handle(p.Watch(3))
    assert group.traces_due()
    (ready,) = group.traces()
    run, data = group.runs["main"], group.runs["main"].trainer.data
    assert (ready.run, ready.uid, ready.sample) == ("main", run.uid, 3)
    assert ready.trace.meta == {"scenario": "sine", "arch": "lstm", "step": 0, "sample": 3, "run": "main",
                                "nonlinearity": "tanh", "joiner": ""}
    assert ready.trace.vocab is None and ready.trace.class_names is None  # a forecast has neither
    # What the trainer traced is what a model built from RunInfo and the training weights traces.
    info = run.info()
    model = SequenceModel(ModelConfig(**info.model), data.kind, data.input_size, data.output_size, data.tokens_in)
    model.load_state_dict(weights(group))
    expected = trace_sequence(model.eval(), data.val.x[3], data.val.y[3])
    assert np.array_equal(ready.trace.h, expected.h) and np.array_equal(ready.trace.grad_h, expected.grad_h)
    assert not group.traces_due() and group.traces()[0] is ready  # unchanged: not traced again
    group.handle(p.Step())
    assert group.traces_due()
    stepped = group.traces()[0]
    assert stepped.trace.meta["step"] == 1 and stepped.uid == ready.uid and stepped.version != ready.version
    assert not np.array_equal(stepped.trace.h, ready.trace.h)
    group.handle(p.Reset())  # back to step 0, and to the seed's weights: a new trace all the same
    assert group.traces_due()
    again = group.traces()[0]
    assert again.uid != ready.uid and again is not ready  # a new run: never mistaken for the old one's
    assert np.array_equal(again.trace.h, ready.trace.h)
    group.handle(p.Watch(len(data.val) + 1))  # wraps to the split
    assert group.traces()[0].sample == 1 and group.traces()[0].trace.meta["sample"] == 1
    group.handle(p.Watch(-2))  # -1 is the typed input; below that, nothing
    assert "sample must be a whole number" in errors(out)[-1]
    group.handle(p.Step())
    model = run.trainer.model
    before = weights(group)
    grads = [param.grad.clone() for param in model.parameters()]
    group.handle(p.Watch(2))
    assert group.traces()[0].sample == 2 and group.traces()[0].trace.meta["step"] == 1
    # Tracing used a copy: the training model's mode, weights and gradients are its own.
    assert model.training
    assert same_weights(weights(group), before)
    assert all(torch.equal(param.grad, g) for param, g in zip(model.parameters(), grads))


def test_traces_carry_the_data_vocabulary_class_names_and_provenance():
    text = {"scenario": "text", "data": {"seq_len": 16}}
    group, _ = make_group(source=text, model={"hidden": 8})
    group.handle(p.Watch(1))
    (ready,) = group.traces()
    data = group.runs["main"].trainer.data
    assert data.kind == "next_token" and data.vocab
    assert ready.trace.vocab == data.vocab and ready.trace.class_names is None
    assert ready.trace.meta == {"scenario": "text", "arch": group.runs["main"].trainer.model_config.arch,
                                "step": 0, "sample": 1, "run": "main", "nonlinearity": "tanh", "joiner": ""}
    sentiment = {"scenario": "sentiment", "data": {"train_size": 64, "val_size": 32}}
    group, _ = make_group(source=sentiment, model={"hidden": 8})
    group.handle(p.Watch(0))
    (ready,) = group.traces()
    data = group.runs["main"].trainer.data
    assert data.kind == "classify" and data.class_names
    assert ready.trace.class_names == data.class_names and ready.trace.vocab == data.vocab
    assert ready.trace.meta["scenario"] == "sentiment" and ready.trace.meta["sample"] == 0


def test_a_failing_trace_is_said_once_not_every_second(monkeypatch):
    group, out = make_group()
    group.handle(p.Watch(0))
    monkeypatch.setattr(type(group.runs["main"]), "trace", lambda run, sample: 1 / 0)
    for _ in range(3):
        group.handle(p.Step())
        assert group.traces() == []
    (said,) = errors(out)
    assert said.startswith("trace failed: ZeroDivisionError") and said.endswith("division by zero")


def test_generate_is_text_from_the_weights_and_refused_for_other_tasks():
    text = {"scenario": "text", "data": {"seq_len": 16}}
    group, out = make_group(source=text)
    group.handle(p.Generate(0.5))
    (made,) = [m for m in out if isinstance(m, p.Generated)]
    assert made.temperature == 0.5 and len(made.text) == group.runs["main"].scenario.sample.get("length", 200)
    group.handle(p.Generate(0.5))
    assert [m for m in out if isinstance(m, p.Generated)][-1].text == made.text  # same weights, same step: same text
    group, out = make_group()
    group.handle(p.Generate())
    assert "generation needs a text scenario; sine is forecast" in errors(out)[-1]


def test_budget_pauses_and_resume_trains_another_budget():
    group, out = make_group(train={"eval_every": 5, "steps": 10})
    group.handle(p.Start())
    group.train_for(5.0)
    run = group.runs["main"]
    assert run.status == "paused" and run.trainer.step == 10
    assert any("budget of 10 steps" in n for n in notices(out))
    group.handle(p.Start())
    group.train_for(5.0)
    assert run.trainer.step == 20


def test_failures_are_messages_and_the_group_recovers(tmp_path, monkeypatch):
    group, out = make_group()
    bad = tmp_path / "bad.toml"
    bad.write_text("title = 'x'\n")
    group.handle(p.Switch(source={"scenario": str(bad)}))
    assert "missing key" in errors(out)[-1]
    assert group.runs["main"].trainer.data.kind == "forecast"  # the old run is untouched
    # Something that is not a command (here an event sent back) is one line, not a crash.
    group.handle(p.Notice("main", "dance"))
    assert "unknown command Notice(" in errors(out)[-1]

    def explode():
        raise RuntimeError("out of memory, pretend")

    run = group.runs["main"]
    monkeypatch.setattr(run.trainer, "train_step", explode)
    group.handle(p.Start())
    group.train_for(1.0)
    assert run.status == "stopped"
    assert "RuntimeError" in errors(out)[-1] and "out of memory, pretend" in errors(out)[-1]
    monkeypatch.undo()
    group.handle(p.Reset())
    group.handle(p.Start())
    group.train_for(1.0, max_rounds=2)
    assert group.runs["main"].trainer.step == 2


def test_clients_refuse_what_is_not_a_command():
    client = FakeTrainerClient({"source": SINE, "model": SMALL, "train": QUICK})
    client.start()
    for wrong in ("dance", p.Notice("main", "dance"), p.Start):  # a string, an event, a class
        with pytest.raises(TypeError, match="not a command"):
            client.send(wrong)
    assert client.sent == []


def test_a_bad_first_scenario_waits_for_a_switch(tmp_path):
    group, out = make_group(source={"scenario": str(tmp_path / "missing.toml")})
    assert not group.runs and "not found" in errors(out)[0]
    group.handle(p.Start())
    assert "no model yet" in errors(out)[-1]
    group.handle(p.Switch(source=SINE, model={"hidden": 8}))
    assert group.runs["main"].trainer.model_config.hidden == 8
    assert infos(out)[-1].model["hidden"] == 8 and infos(out)[-1].scenario == "sine"


def test_compare_runs_share_data_and_steps():
    group, out = make_group(compare=["rnn", "lstm", "gru"])
    data = {id(run.trainer.data) for run in group.runs.values()}
    assert len(data) == 1
    assert [(i.run, i.model["arch"]) for i in infos(out)] == [("rnn", "rnn"), ("lstm", "lstm"), ("gru", "gru")]
    group.handle(p.Start())
    group.train_for(1.0, max_rounds=5)
    snaps = group.snapshots()
    assert [s.run for s in snaps] == ["rnn", "lstm", "gru"]
    assert [group.runs[s.run].trainer.model_config.arch for s in snaps] == ["rnn", "lstm", "gru"]
    assert {s.step for s in snaps} == {5}
    group.handle(p.Switch(model={"arch": "rnn"}))
    assert "compare mode" in errors(out)[-1]
    group.handle(p.Pause(run="gru"))
    group.train_for(1.0, max_rounds=2)
    assert [s.step for s in group.snapshots()] == [7, 7, 5]


# ------------------------------------------------------------------ runs and checkpoints


def test_run_folder_metrics_and_checkpoints_for_trace_and_train(tmp_path, capsys):
    group, out = make_group(tmp_path)
    group.handle(p.Start())
    group.train_for(10.0, max_rounds=10)
    folders = list((tmp_path / "runs").iterdir())
    assert len(folders) == 1 and folders[0].name.startswith("sine-lstm-")
    rows = [json.loads(line) for line in (folders[0] / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [5, 10]  # flushed as written: readable while open
    assert json.loads((folders[0] / "run.json").read_text())["model"]["hidden"] == 8
    group.handle(p.Save())
    ckpt = folders[0] / "step-10.pt"
    assert saves(out)[-1] == p.Saved("main", str(ckpt), 10, False)
    assert group.snapshots()[0].saved == str(ckpt) and group.snapshots()[0].saved_step == 10
    payload = torch.load(ckpt, weights_only=True)
    assert payload["meta"]["step"] == 10 and payload["meta"]["task"] == "forecast"
    lstm = torch.nn.LSTM(1, 8, batch_first=True)
    lstm.load_state_dict(payload["core"], strict=True)
    # What the CLI needs: no other option than the checkpoint.
    assert cli_main(["trace", "--checkpoint", str(ckpt), "--out", str(tmp_path / "t.npz")]) == 0
    assert cli_main(["train", "--checkpoint", str(ckpt), "--steps", "5", "--json",
                     "--runs-dir", str(tmp_path / "cli-runs")]) == 0
    capsys.readouterr()
    # Stop saves what was trained since (save_on_quit), and nothing twice.
    before = len(saves(out))
    group.handle(p.Step())
    group.handle(p.Stop())
    assert (folders[0] / "step-11.pt").is_file() and group.finished
    assert saves(out)[before:] == [p.Saved("main", str(folders[0] / "step-11.pt"), 11, False)]


def test_periodic_checkpoints_keep_the_newest_two_and_hand_saves_stay(tmp_path):
    group, out = make_group(tmp_path, train={"eval_every": 5, "steps": 40, "checkpoint_every": 2})
    group.handle(p.Start())
    group.train_for(10.0, max_rounds=20)
    (folder,) = (tmp_path / "runs").iterdir()
    assert [(s.step, s.periodic) for s in saves(out)] == [(10, True), (20, True)]  # every 2nd evaluation
    group.handle(p.Save())  # by hand, at step 20: kept for good
    assert saves(out)[-1] == p.Saved("main", str(folder / "step-20.pt"), 20, False)
    assert group.runs["main"].keep() is None  # nothing trained since the last save
    group.handle(p.Start())
    group.train_for(10.0)  # to the budget: periodic at 30 and 40
    assert [(s.step, s.periodic) for s in saves(out)][-2:] == [(30, True), (40, True)]
    assert sorted(f.name for f in folder.glob("step-*.pt")) == ["step-20.pt", "step-30.pt", "step-40.pt"]
    assert checkpoint.load(folder / "step-40.pt")["meta"]["step"] == 40

    group, out = make_group(tmp_path / "off", train={"eval_every": 5, "steps": 40, "checkpoint_every": 0})
    group.handle(p.Start())
    group.train_for(10.0)
    assert group.runs["main"].trainer.step == 40 and saves(out) == []  # 0: no periodic checkpoints


def test_the_budget_s_end_is_kept_between_periodic_checkpoints(tmp_path):
    """Training stops at its budget and waits for a resume: what it trained is on disk
    then, so a crash of the trainer process from there on loses none of it."""
    group, out = make_group(tmp_path, train={"eval_every": 5, "steps": 30, "checkpoint_every": 4})
    group.handle(p.Start())
    group.train_for(10.0)
    assert group.runs["main"].trainer.step == 30 and not group.runs["main"].running
    assert [(s.step, s.periodic) for s in saves(out)] == [(20, True), (30, True)]  # the 4th evaluation; the end
    assert group.runs["main"].keep() is None  # nothing left unsaved


def test_reset_and_switch_save_the_trained_weights_first(tmp_path):
    group, out = make_group(tmp_path)
    group.handle(p.Start())
    group.train_for(10.0, max_rounds=7)
    trained = weights(group)
    first = infos(out)[-1]
    group.handle(p.Reset())
    (kept,) = saves(out)
    assert kept.step == 7 and Path(kept.path) == Path(first.folder) / "step-7.pt"
    saved_core = checkpoint.load(kept.path)["core"]
    assert same_weights({f"core.{k}": v for k, v in saved_core.items()},
                        {k: v for k, v in trained.items() if k.startswith("core.")})
    fresh = infos(out)[-1]
    assert fresh.step == 0 and fresh.uid != first.uid
    group.handle(p.Reset())  # nothing trained since: nothing saved
    assert len(saves(out)) == 1
    group.handle(p.Step())
    group.handle(p.Switch(model={"arch": "gru"}))
    assert saves(out)[-1].step == 1 and saves(out)[-1].path.endswith("step-1.pt")
    reset_folder = Path(saves(out)[-1].path).parent
    assert reset_folder.parent == tmp_path / "runs" and reset_folder != Path(kept.path).parent  # a new run folder
    assert infos(out)[-1].model["arch"] == "gru" and infos(out)[-1].step == 0


def test_no_runs_dir_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    group, out = make_group()
    group.handle(p.Start())
    group.train_for(1.0, max_rounds=6)
    group.handle(p.Reset())
    group.stop()
    assert list(tmp_path.iterdir()) == [] and saves(out) == []
    group, out = make_group()
    group.handle(p.Save())
    assert "give a path" in errors(out)[-1]


def test_load_restores_weights_and_refuses_another_shape(tmp_path):
    group, out = make_group(tmp_path)
    group.handle(p.Start())
    group.train_for(10.0, max_rounds=10)
    group.handle(p.Save(str(tmp_path / "a.pt")))
    assert saves(out)[-1] == p.Saved("main", str(tmp_path / "a.pt"), 10, False)
    trained = weights(group)
    group.handle(p.Reset())
    group.handle(p.Load(str(tmp_path / "a.pt")))
    snap = group.snapshots()[0]
    assert snap.step == 10 and same_weights(weights(group), trained)
    assert infos(out)[-1].step == 10  # the app learns where the weights start
    assert notices(out)[-1].startswith(f"loaded {tmp_path / 'a.pt'} at step 10")

    other, _ = make_group(model={"arch": "gru", "hidden": 8})
    other.handle(p.Save(str(tmp_path / "gru.pt")))
    group.handle(p.Load(str(tmp_path / "gru.pt")))
    assert "a gru 1x8 forecast checkpoint does not fit this lstm 1x8 forecast run" in errors(out)[-1]
    assert group.snapshots()[0].step == 10  # untouched

    truncated = tmp_path / "cut.pt"
    truncated.write_bytes((tmp_path / "a.pt").read_bytes()[:500])
    group.handle(p.Load(str(truncated)))
    assert "not a readable torch tensor file" in errors(out)[-1]
    with pytest.raises(UserError, match="not a readable torch tensor file"):
        checkpoint.load(truncated)


def test_compare_load_picks_the_run_of_the_checkpoint_arch(tmp_path):
    single, _ = make_group(model={"arch": "gru", "hidden": 8})
    single.handle(p.Step())
    single.handle(p.Save(str(tmp_path / "gru.pt")))
    group, _ = make_group(compare=["rnn", "gru"])
    group.handle(p.Load(str(tmp_path / "gru.pt")))
    assert [s.step for s in group.snapshots()] == [0, 1]
    group.handle(p.Save(str(tmp_path / "both.pt")))
    assert (tmp_path / "both-rnn.pt").is_file() and (tmp_path / "both-gru.pt").is_file()


def test_a_save_cut_short_never_leaves_a_corrupt_checkpoint(tmp_path, monkeypatch):
    model = SequenceModel(ModelConfig(hidden=8), "forecast", 1, 1, False)
    target = tmp_path / "run" / "model.pt"
    meta = {"source": {}, "model": {"hidden": 8}, "train": {}}  # what every checkpoint's meta holds
    checkpoint.save(target, model, {**meta, "step": 1})
    before = target.read_bytes()
    real_save, real_replace = torch.save, os.replace
    writes_to_target = []

    def half_then_killed(obj, fh, *a, **k):  # dies halfway through writing
        fh.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", half_then_killed)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(target, model, {**meta, "step": 2})
    assert target.read_bytes() == before and list(target.parent.iterdir()) == [target]

    def spy_replace(src, dst):  # the rename is the only thing that ever touches the target
        writes_to_target.append(dst)
        assert Path(dst).read_bytes() == before  # still the old, complete file right up to it
        return real_replace(src, dst)

    monkeypatch.setattr(torch, "save", real_save)
    monkeypatch.setattr(os, "replace", spy_replace)
    checkpoint.save(target, model, {**meta, "step": 3})
    assert writes_to_target == [target]
    assert checkpoint.load(target)["meta"]["step"] == 3


# ------------------------------------------------------------------ headless train


def test_resuming_a_checkpoint_that_diverges_keeps_the_trained_weights(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # run folders land here
    monkeypatch.setenv("COLUMNS", "1000")  # rich wraps the summary at 80 columns off a terminal, paths too
    ck = str(tmp_path / "ck.pt")
    assert cli_main(["train", "--scenario", "sine", "--steps", "30", "--eval-every", "10", "--save", ck]) == 0
    trained = checkpoint.load(ck)
    assert trained["meta"]["step"] == 30
    code = cli_main(["train", "--checkpoint", ck, "--steps", "50", "--optimizer", "sgd", "--lr", "100",
                     "--clip", "0", "--save", ck])
    err = capsys.readouterr().err
    assert code == 1 and "diverged" in err and f"{ck} kept as it was" in err
    after = checkpoint.load(ck)
    assert after["meta"]["step"] == 30  # the trained step, not a fresh initialisation's 0
    assert same_tensors(after, trained)
    # The restored weights went to the run folder; they are the trained ones, never the seed's.
    folder_ckpts = sorted(Path("runs").glob("*/step-*.pt"), key=os.path.getmtime)
    newest = checkpoint.load(folder_ckpts[-1])
    assert newest["meta"]["step"] >= 30 and all(torch.isfinite(t).all() for t in newest["core"].values())


def test_a_checkpoint_holding_nan_is_refused_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ck = tmp_path / "ck.pt"
    assert cli_main(["train", "--scenario", "sine", "--steps", "5", "--eval-every", "5", "--hidden", "8",
                     "--no-run-folder", "--save", str(ck)]) == 0
    payload = torch.load(ck, weights_only=True)
    payload["core"]["weight_hh_l0"][0, 0] = float("nan")
    torch.save(payload, tmp_path / "nan.pt")
    capsys.readouterr()
    code = cli_main(["train", "--checkpoint", str(tmp_path / "nan.pt"), "--steps", "5"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "core.weight_hh_l0" in err and "NaN" in err
    assert not Path("runs").exists()  # refused before anything was written


def test_headless_train_writes_a_run_folder_unless_told_not_to(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "1000")  # rich wraps the summary at 80 columns off a terminal, paths too
    argv = ["train", "--scenario", "sine", "--steps", "20", "--eval-every", "10", "--hidden", "8"]
    assert cli_main(argv + ["--runs-dir", str(tmp_path / "r")]) == 0
    (folder,) = (tmp_path / "r").iterdir()
    assert folder.name.startswith("sine-lstm-")
    assert [json.loads(line)["step"] for line in (folder / "metrics.jsonl").read_text().splitlines()] == [10, 20]
    assert json.loads((folder / "run.json").read_text())["scenario"] == "sine"
    assert checkpoint.load(folder / "step-20.pt")["meta"]["step"] == 20
    err = capsys.readouterr().err.splitlines()
    assert f"checkpoint: {folder / 'step-20.pt'}" in err and f"run folder: {folder}" in err
    assert cli_main(argv + ["--no-run-folder", "--runs-dir", str(tmp_path / "none")]) == 0
    assert sorted(f.name for f in tmp_path.iterdir()) == ["r"]  # neither --runs-dir nor ./runs


# ------------------------------------------------------------------ snapshots


def test_snapshots_carry_metrics_only_and_the_traced_copy_is_the_trained_model():
    group, out = make_group(model={"hidden": 256})
    group.handle(p.Start())
    group.train_for(10.0, max_rounds=12)
    run = group.runs["main"]
    snap = pickle.loads(pickle.dumps(run.snapshot()))
    assert not hasattr(snap, "weights") and len(pickle.dumps(snap)) < 20_000  # 1 MB of weights stay home
    assert len(snap.grad_norms) == 12 and snap.history[-1]["step"] == 10 and snap.uid == run.uid
    info = pickle.loads(pickle.dumps(infos(out)[-1]))
    assert info.model["hidden"] == 256 and info.parameters == sum(t.numel() for t in run.trainer.model.parameters())
    # What traces and text are made from: a CPU copy that is the trained model, tensor for tensor.
    copy = run.inspector()
    assert same_weights(copy.state_dict(), weights(group))
    data = run.trainer.data
    run.trainer.model.eval()
    x, y = data.val.x[:4], data.val.y[:4]
    assert torch.equal(copy(x), run.trainer.model(x))
    ours, theirs = trace_sequence(copy, x[0], y[0]), trace_sequence(run.trainer.model, x[0], y[0])
    assert (ours.h == theirs.h).all() and (ours.grad_h == theirs.grad_h).all()


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
        client = FakeTrainerClient({"source": SINE, "model": SMALL, "train": {"eval_every": 3}},
                                   compare=["rnn", "gru"], steps_per_poll=2)
        client.start()
        first = client.poll()
        client.send(p.Start())
        for _ in range(4):
            last = client.poll()
        client.send(p.Set({"lr": 0.01}, run="rnn"))
        client.send(p.Pause())
        paused = client.poll()
        assert client.poll() == []  # nothing new while paused
        snaps = lambda events: [m for m in events if isinstance(m, p.Snapshot)]  # noqa: E731
        return first, snaps(last), snaps(paused), client

    a, b = session(), session()
    assert [(m.run, m.model["arch"]) for m in a[0] if isinstance(m, p.RunInfo)] == [("rnn", "rnn"), ("gru", "gru")]
    assert any(isinstance(m, p.Catalog) and m.scenarios for m in a[0])
    assert [s.step for s in a[0] if isinstance(s, p.Snapshot)] == [0, 0] and [s.step for s in a[1]] == [8, 8]
    assert a[2][0].train["lr"] == 0.01 and a[2][1].train["lr"] != 0.01  # Set(run="rnn") reached rnn only
    assert all(s.status == "paused" for s in a[2])
    for x, y in zip(a[1], b[1], strict=True):
        assert x.metrics == y.metrics and x.seq_per_s == y.seq_per_s and x.grad_norms == y.grad_norms
    for label in ("rnn", "gru"):
        assert same_weights(weights(a[3].group, label), weights(b[3].group, label))
    with pytest.raises(TypeError):
        a[3].send("fly")
    assert [type(c).__name__ for c in a[3].sent] == ["Start", "Set", "Pause"]


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
    code = ("import sys; import rnn_tui.training.client, rnn_tui.training.process, rnn_tui.training.fake, "
            "rnn_tui.training.headless, rnn_tui.training.run_group, rnn_tui.training.run, "
            "rnn_tui.training.trainer, rnn_tui.training.run_folder, rnn_tui.training.options, "
            "rnn_tui.training.protocol; sys.exit('textual' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
