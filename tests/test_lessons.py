"""Lessons: the files, `rnn-tui lessons`, `--lesson N`, the live checks, and the exploding scenario."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from rnn_tui.cli import build_parser, main
from rnn_tui.core.model import SequenceModel
from rnn_tui.core.trace import trace_sequence
from rnn_tui.data.scenario import load_scenario
from rnn_tui.errors import UserError
from rnn_tui.training import protocol as p
from rnn_tui.training.fake import FakeTrainerClient
from rnn_tui.ui import lessons
from rnn_tui.ui.app import RnnTuiApp
from rnn_tui.ui.lesson_checks import KIND_FUNCTIONS, Checker
from rnn_tui.ui.widgets.gradients import decay
from rnn_tui.ui.widgets.lesson import LessonPanel
from rnn_tui.ui.widgets.training import SPARK, panel_lines, spark_line

from tests.test_app import settle, shown

# ------------------------------------------------------------------ the files


def test_every_lesson_parses_with_known_kinds_and_options():
    found = lessons.list_lessons()
    assert len(found) >= 7 and [lesson.number for lesson in found] == list(range(1, len(found) + 1))
    app_options = {action.dest for action in build_parser(None)._actions}
    assert set(lessons.SETUP) <= app_options  # [setup] speaks the command line's language
    assert set(KIND_FUNCTIONS) == set(lessons.KINDS)
    for lesson in found:
        assert lesson.title and lesson.steps and lesson.checks
        assert all(check.kind in lessons.KINDS for check in lesson.checks)
        assert load_scenario(lesson.setup["scenario"])  # every lesson names a scenario that exists


@pytest.mark.parametrize("body, error", [
    ('steps = ["x"]\n[[check]]\nkind = "decay"', "missing key 'title'"),
    ('title = "t"\nsteps = ["x"]\n[[check]]\nkind = "magic"', "unknown kind 'magic'"),
    ('title = "t"\nsteps = ["x"]\n[[check]]\nkind = "decay"\nsays = "{__class__}"', "{__class__} is not a figure"),
    ('title = "t"\nsteps = ["x"]\n[[check]]\nkind = "gate_mean"', "missing key 'gate'"),
    ('title = "t"\nsteps = ["x"]\n[[check]]\nkind = "setting"\nname = "speed"', "unknown name 'speed'"),
    ('title = "t"\nsteps = ["x"]\n[setup]\nhidden = "big"\n[[check]]\nkind = "decay"', "hidden must be int"),
    ('title = "t"\nsteps = ["x"]\n[setup]\nwarp = 9\n[[check]]\nkind = "decay"', "unknown key 'warp'"),
    ('title = "t"\nsteps = []\n[[check]]\nkind = "decay"', "steps must be a list of sentences"),
    ('title = "t"\nsteps = ["x"]\ncheck = []', "one or more [[check]] tables"),
    ('title = "t', "not valid TOML"),
])
def test_a_bad_lesson_file_is_one_line_naming_it(tmp_path, body, error):
    path = tmp_path / "mine.toml"
    path.write_text(body)
    with pytest.raises(UserError) as err:
        lessons.load(path, 1)
    assert error in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_a_teachers_own_lessons_come_after_the_builtins(tmp_path):
    (tmp_path / "lessons").mkdir()
    own = lessons.builtin_dir() / "03-long-dependencies.toml"
    (tmp_path / "lessons" / "mine.toml").write_text(own.read_text().replace("Why does", "Why, my class, does"))
    found = lessons.list_lessons(cwd=tmp_path)
    assert found[-1].path == tmp_path / "lessons" / "mine.toml" and found[-1].number == len(found)
    assert lessons.find(str(len(found)), cwd=tmp_path).title.startswith("Why, my class")


# ------------------------------------------------------------------ the command line


def test_lessons_lists_them_numbered(capsys):
    assert main(["lessons"]) == 0
    out = capsys.readouterr().out.splitlines()
    numbered = [line for line in out if line.split()[0].isdigit()]
    assert len(numbered) >= 6 and numbered[0].split()[0] == "1"
    assert "Exploding gradients" in "\n".join(numbered) and "--lesson N" in out[-1]


@pytest.mark.parametrize("bad", ["99", "0", "three", "missing.toml"])
def test_a_bad_lesson_number_is_one_line_and_status_2(capsys, bad):
    assert main(["--lesson", bad]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("--lesson" in err or "missing.toml" in err)


def test_the_lesson_sets_up_and_the_command_line_wins():
    args = build_parser(None).parse_args(["--lesson", "3", "--seq-len", "20"])
    lesson = lessons.setup_lesson(args)
    assert lesson.number == 3
    assert (args.scenario, args.arch, args.seq_len) == ("adding", "rnn", 20)  # 20: given, not the lesson's 50
    args = build_parser(None).parse_args(["--lesson", "3", "--weights", "w.pt"])
    with pytest.raises(UserError, match="--weights"):
        lessons.setup_lesson(args)


# ------------------------------------------------------------------ in the app


def lesson_app(*argv: str) -> RnnTuiApp:
    args = build_parser(None).parse_args(list(argv))
    lesson = lessons.setup_lesson(args)
    app = RnnTuiApp(FakeTrainerClient, {"options": args}, runs_dir=None, save_on_quit=False)
    app.lesson = lesson  # as the command line does
    return app


def checks_shown(app) -> str:
    return str(app.query_one(LessonPanel).checks.render())


async def hold_still(app, pilot):
    """Training paused and the last trace in: the figures on screen stop moving."""
    await pilot.press("t")
    await settle(app, pilot, until=lambda a: a.view.snap is not None and a.view.snap.status == "paused")
    await pilot.pause(1.5)


async def test_lesson_sets_up_the_scenario_and_checks_the_trace_on_screen():
    app = lesson_app("--lesson", "3", "--seq-len", "12", "--hidden", "8")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot, until=lambda a: shown(a) is not None and a.view.snap is not None)
        assert app.view.run.scenario == "adding" and app.view.run.model["arch"] == "rnn"
        assert app.query_one(LessonPanel).display  # shown from the start
        await hold_still(app, pilot)
        trace, track = app.main.trace, app.main.track
        fit = decay(trace, track)
        assert f"×{fit.factor:.3f} per step back" in checks_shown(app)
        await pilot.press("b")
        assert app.query_one(LessonPanel).has_class("-hidden")
        await pilot.press("b")
        assert not app.query_one(LessonPanel).has_class("-hidden")
        await pilot.resize_terminal(120, 40)  # a resize with the lesson open
        await pilot.pause(0.3)
        assert f"×{fit.factor:.3f}" in checks_shown(app)


async def test_a_gate_check_follows_the_step_on_screen():
    app = lesson_app("--lesson", "4", "--seq-len", "12", "--hidden", "8")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot, until=lambda a: shown(a) is not None and a.view.snap is not None)
        await hold_still(app, pilot)
        await pilot.press("right", "right", "right")
        screen = app.main
        f = screen.trace.gates["f"][screen.step, screen.track]
        assert screen.step == 3
        assert f"forget gate's mean over all units at step 4 is {f.mean():.2f}" in checks_shown(app)


async def test_b_without_a_lesson_says_how_to_open_one():
    app = lesson_app("--scenario", "adding", "--seq-len", "12", "--hidden", "8")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("b")
        assert not app.query(LessonPanel)
        assert any("rnn-tui --lesson N" in str(n.message) for n in app._notifications)


# ------------------------------------------------------------------ check kinds, one by one


def fake_view(**snap) -> SimpleNamespace:
    run = SimpleNamespace(uid=1, scenario="s", model={"arch": "lstm"}, goal={"metric": "val_loss", "direction": "below",
                                                                           "goal": 0.1}, parameters=100)
    defaults = dict(step=10, status="running", metrics={}, history=[], grad_norms=[], train={"clip": 0.0},
                    solved=False, diverged=None, seq_per_s=0.0)
    return SimpleNamespace(run=run, snap=SimpleNamespace(**{**defaults, **snap}), compare=False, info={}, snaps={})


def check(kind: str, **fields) -> lessons.Lesson:
    path = lessons.builtin_dir() / "01-why-a-sequence-model.toml"
    c = lessons._check({"kind": kind, **fields}, "test: ")
    return lessons.Lesson(1, path, "t", "", ("x",), {}, (c,))


def one(lesson, view, trace=None, step=0, track=0):
    return Checker(lesson).results(view, trace, step, track)[0]


def tiny_trace(kind="tag", tokens=(0, 1, 0, 1), targets=(0, 1, 1, 0), predicted=(0, 1, 1, 0), arch="lstm"):
    t = len(tokens)
    outputs = np.eye(2)[list(predicted)]
    return SimpleNamespace(kind=kind, tokens=np.array(tokens), targets=np.array(targets), outputs=outputs,
                           loss=np.zeros(t), vocab=["(", ")"], class_names=["0", "1"], arch=arch, steps=t,
                           decoder_start=None, meta={"scenario": "brackets", "sample": 0, "step": 5},
                           h=np.zeros((t, 1, 2)), gates={}, c=None)


def test_context_finds_the_same_token_with_two_right_answers():
    result = one(check("context"), fake_view(), tiny_trace())
    assert result.met and "'(' at steps 1 and 3: right answers 0 and 1, the model says 0 and 1" in result.text
    wrong = one(check("context"), fake_view(), tiny_trace(predicted=(0, 1, 0, 1)))
    assert not wrong.met and "the model says 0 and 0" in wrong.text


def test_shape_solved_diverged_grad_norm_and_setting():
    view = fake_view(history=[{"step": 100, "val_loss": 0.5}, {"step": 200, "val_loss": 0.05}],
                     metrics={"val_loss": 0.05}, solved=True, grad_norms=[0.5, 3e4, 2.0], train={"clip": 1.0})
    assert one(check("shape", **{"is": "many-to-many"}), view, tiny_trace()).text == \
        "brackets is many-to-many: 4 steps in, 4 answers scored"
    assert not one(check("shape", **{"is": "many-to-one"}), view, tiny_trace()).met
    assert one(check("solved"), view).text == "solved at step 200: val_loss 0.05, goal below 0.1"
    assert one(check("grad_norm", above=100), view).text.startswith("‖g‖ before clipping reached 3e+04")
    assert one(check("setting", name="clip", above=0), view).text == "clip is 1"
    off = fake_view(train={"clip": 0.0}, diverged={"step": 59, "reason": "loss is inf"})
    assert not one(check("setting", name="clip", above=0, pending="off"), off).met
    assert one(check("diverged"), off).text == "diverged at step 59: loss is inf"
    assert one(check("solved"), off).text.startswith("not solved yet at step 10")


def test_frozen_compares_with_the_first_trace_of_the_sample():
    lesson, view = check("frozen", below=1e-6), fake_view()
    checker = Checker(lesson)
    first = tiny_trace()
    assert not checker.results(view, first, 0, 0)[0].met  # nothing newer yet
    later = tiny_trace(predicted=(1, 1, 1, 0))
    later.meta = {**first.meta, "step": 105}
    result = checker.results(view, later, 0, 0)[0]
    assert result.met and "since step 5, h moved 0.0e+00 and the outputs 1" in result.text
    later.h = later.h + 0.5  # a network whose states learn too
    assert not checker.results(view, later, 0, 0)[0].met


def test_compare_reads_the_table_of_compare_mode():
    view = fake_view()
    assert one(check("compare", a="gru", b="lstm"), view).text == "compare mode only: press c"
    view.compare = True
    view.info = {"gru": SimpleNamespace(parameters=300), "lstm": SimpleNamespace(parameters=400)}
    view.snaps = {"gru": SimpleNamespace(seq_per_s=1000.0), "lstm": SimpleNamespace(seq_per_s=2000.0)}
    result = one(check("compare", a="gru", b="lstm"), view)
    assert result.met and result.text == "GRU 300 parameters, LSTM 400: ×0.75; GRU 1,000 seq/s, LSTM 2,000"


def test_held_finds_the_unit_whose_gate_stays_open_longest():
    trace = tiny_trace()
    trace.gates = {"f": np.array([[0.5, 0.95], [0.95, 0.95], [0.95, 0.2], [0.95, 0.95]])[:, None, :]}
    result = one(check("held", above=2), fake_view(), trace)
    assert result.met and result.text == "unit 0's f gate stays above the level for 3 steps (2 to 4)"
    assert not one(check("held", above=2, gate="f", level=0.99), fake_view(), trace).met


def test_a_check_for_another_arch_says_which():
    result = one(check("decay", arch="rnn"), fake_view(), tiny_trace())
    assert not result.met and result.text.startswith("for the RNN: this is the LSTM")


# ------------------------------------------------------------------ exploding gradients


def exploding_trace(**model):
    scenario = load_scenario("exploding").with_data(train_size=8, val_size=2)
    data = scenario.build_data(0)
    config = replace(scenario.model, **model).validate()
    net = SequenceModel(config, data.kind, data.input_size, data.output_size, data.tokens_in, seed=0)
    return net, trace_sequence(net.eval(), data.val.x[0], data.val.y[0])


def test_the_exploding_scenario_starts_with_a_loud_recurrent_matrix():
    net, trace = exploding_trace()
    radius = torch.linalg.eigvals(net.core.weight_hh_l0.double()).abs().max().item()
    assert radius == pytest.approx(2.5, rel=1e-5)
    assert decay(trace, 0).factor > 1.05  # the gradient grows as it goes back
    assert trace.grad_h_last[0, 0] > 100 * trace.grad_h_last[-1, 0]
    _, tame = exploding_trace(init_radius=0.0)  # torch's own init: it shrinks
    assert decay(tame, 0).factor < 1


def test_init_radius_scales_each_gate_block():
    net, _ = exploding_trace(arch="lstm", init_radius=1.5)
    hidden = net.config.hidden
    for block in net.core.weight_hh_l0.detach().double().split(hidden):
        assert torch.linalg.eigvals(block).abs().max().item() == pytest.approx(1.5, rel=1e-5)
    with pytest.raises(UserError, match="init_radius"):
        replace(net.config, init_radius=-1.0).validate()


def test_the_clip_threshold_is_drawn_on_the_gradient_sparkline():
    line = spark_line("‖g‖ ", [0.5, 0.8, 40.0, 2.0, 0.3], 80, "yellow", clip=1.0)
    assert "clip 1 at " in line.plain and "2 above" in line.plain
    red = [line.plain[s.start:s.end] for s in line.spans if s.style == "bold red"]
    assert [len(bars) for bars in red if set(bars) <= set(SPARK)] == [2]  # 40 and 2: the two above the threshold
    assert "clip" not in spark_line("‖g‖ ", [0.5, 40.0], 80, "yellow", clip=0.0).plain


def test_the_app_shows_the_threshold_it_trains_with():
    snap = p.Snapshot("main", 1, 5, "running", {}, [], [0.5, 9.0], {"clip": 1.0}, False, None, 0.0, None, None)
    lines = panel_lines({"main": snap}, None, "main", None, {}, 100, 6)
    assert any("‖g‖ pre-clip" in line.plain and "clip 1" in line.plain for line in lines)
