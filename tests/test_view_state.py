"""The screen's rules, without Textual or a trainer: which trace may be shown, and when."""

from __future__ import annotations

import numpy as np

from rnn_tui.core.trace_file import Trace
from rnn_tui.training import protocol as p
from rnn_tui.ui.view_state import STEPPING_QUIET_S, ViewState


class Recorder:
    def __init__(self):
        self.sent = []

    def send(self, command):
        self.sent.append(command)


def info(uid=1, run="main", kind="regress", samples=10, arch="lstm") -> p.RunInfo:
    return p.RunInfo(run=run, uid=uid, scenario="adding", title="", kind=kind, model={"arch": arch, "layers": 1,
                     "hidden": 4}, train={}, source={"scenario": "adding"}, vocab=None, class_names=None, joiner="",
                     val_samples=samples, seq_len=5, parameters=10, baseline={"name": "mean", "val_loss": 0.2},
                     goal={"metric": "val_loss", "direction": "below", "goal": 0.01}, folder=None, step=0,
                     checkpoint=None)


def trace() -> Trace:
    z = np.zeros((5, 1, 4))
    return Trace("lstm", "regress", 1, 1, 4, z, {}, np.zeros((5, 1)), np.zeros(5), 0.0, np.zeros((5, 1)),
                 np.zeros(5))


def ready(uid=1, version=1, sample=0, run="main") -> p.TraceReady:
    return p.TraceReady(run, uid, version, sample, trace())


def snap(uid=1, step=5, status="running", run="main") -> p.Snapshot:
    return p.Snapshot(run, uid, step, status, {}, [{"step": step}], [], {}, False, None, 0.0, None, None)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def make():
    clock = Clock()
    return ViewState(Recorder(), clock=clock), clock


def test_the_first_trace_shows_at_once_and_not_twice():
    view, _ = make()
    view.apply([info(), ready()])
    assert view.trace_to_show() is not None
    assert view.trace_to_show() is None  # the same weights and sample: nothing new


def test_a_trace_of_a_replaced_run_is_never_shown():
    view, _ = make()
    view.apply([info(uid=1), ready(uid=1)])
    view.trace_to_show()
    view.apply([info(uid=2), ready(uid=1, version=9)])  # made before the switch, arriving after it
    assert view.trace_to_show() is None
    view.apply([snap(uid=1)])
    assert view.snap is None  # nor its numbers
    view.apply([ready(uid=2)])
    assert view.trace_to_show() is not None


def test_new_weights_wait_while_keys_are_pressed_but_a_new_sample_does_not():
    view, clock = make()
    view.apply([info(), ready(version=1)])
    view.trace_to_show()
    view.key_pressed()
    view.apply([ready(version=2)])
    assert view.trace_to_show() is None  # the picture holds still under the keys
    clock.now += STEPPING_QUIET_S + 0.01
    assert view.trace_to_show() is not None  # and catches up once they are quiet
    view.key_pressed()
    view.move_sample(1)
    assert view.client.sent[-1] == p.Watch(1, run="main")
    view.apply([ready(version=2, sample=0)])  # the old sample's: not what the user asked for
    assert view.trace_to_show() is None
    view.apply([ready(version=2, sample=1)])
    assert view.trace_to_show() is not None  # the asked-for sample, keys or not


def test_samples_wrap_and_the_run_decides_how_many():
    view, _ = make()
    view.apply([info(samples=3)])
    view.move_sample(-1)
    assert view.sample == 2
    view.move_sample(2)
    assert view.sample == 1


def test_fast_switches_build_on_each_other_and_a_refusal_forgets_them():
    view, _ = make()
    view.apply([info(arch="lstm")])
    view.switch(arch="gru")
    assert view.model["arch"] == "gru"  # before the trainer has answered
    view.apply([p.TrainerError("main", "switch: layers must be 1 to 3")])
    assert view.model["arch"] == "lstm"


def test_compare_mode_focuses_the_lstm_and_says_all_runs():
    view = ViewState(Recorder(), compare=True)
    view.apply([info(run="rnn", uid=1, arch="rnn"), info(run="lstm", uid=2), info(run="gru", uid=3, arch="gru")])
    assert view.run.run == "lstm" and "compare rnn vs lstm vs gru" in view.headline(False, 4)
    view.apply([ready(uid=1, run="rnn")])
    assert view.trace_to_show() is None  # only the focused run's traces


def test_saves_and_unsaved_work_are_tracked():
    view, _ = make()
    update = view.apply([info(), p.TrainerError("main", "cannot write metrics", unsaved=True)])
    assert view.unsaved == "cannot write metrics" and update.messages[0][1] == "error"
    update = view.apply([p.Saved("main", "runs/x/step-5.pt", 5)])
    assert view.unsaved is None and update.saved == ["runs/x/step-5.pt"]
    assert update.messages == [("saved runs/x/step-5.pt", "information")]
    assert view.apply([p.Saved("main", "runs/x/step-9.pt", 9, periodic=True)]).messages == []  # quietly


def test_fatal_and_generation_refusal():
    view, _ = make()
    assert view.apply([p.Fatal("--scenario nosuch: not found")]).fatal == "--scenario nosuch: not found"
    view.apply([info(kind="regress")])
    assert "needs a text scenario" in view.generate() and not view.generating
    view.apply([info(uid=2, kind="next_token")])
    assert view.generate() is None and view.client.sent[-1] == p.Generate(None, run="main")
