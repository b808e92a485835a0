"""The loss chart's pure pieces (ticks, scaling, drawing) and the training panel's text.

The chart must never raise: whatever the size (down to 0 rows and 1 column) and the
data (empty, one point, NaN, inf, zeros, negatives, hundreds of decades).
"""

from __future__ import annotations

import math
import random
import re
from types import SimpleNamespace

import numpy as np
import pytest
from rich.segment import Segment

from rnn_tui.ui.widgets.chart import (Series, format_x, log_points, log_ticks, plain, render_chart, scale, x_ticks,
                                      y_range)
from rnn_tui.ui.widgets.training import (TrainingPanel, knobs_line, marker, panel_lines, solved_step,
                                         status_line)

ODD = [math.nan, math.inf, -math.inf, 0.0, -1.0, -0.0, 5e-324, 1e-300, 1e300, 1.7e308, None, "x", 1, True]


def cells(line) -> int:
    return Segment.get_line_length(line)


def check_shape(lines, width: int, height: int) -> None:
    assert len(lines) == max(height, 0)
    if width > 0:
        assert all(cells(line) == width for line in lines), [cells(line) for line in lines]


def decay(n: int = 200, every: int = 10, start: float = 0.7, scale_: float = 1.0):
    xs = [every * (i + 1) for i in range(n)]
    return xs, [scale_ * (start * math.exp(-x / (n * every / 4)) + 0.002) for x in xs]


# ------------------------------------------------------------------ ticks and scaling


@pytest.mark.parametrize("lo,hi,most", [(0, 237, 8), (0, 475, 10), (10, 20_000, 6), (3, 3, 1), (0, 1, 5),
                                        (-50, 50, 4), (0.2, 0.8, 3), (1, 10**12, 5), (7, 9, 100)])
def test_x_ticks_are_whole_numbers_evenly_spaced_and_few_enough(lo, hi, most):
    ticks = x_ticks(lo, hi, most)
    assert 0 < len(ticks) <= most or (hi - lo < 1 and not any(lo <= t <= hi for t in range(math.ceil(lo), 1)))
    assert all(isinstance(t, int) and lo <= t <= hi for t in ticks)
    gaps = {b - a for a, b in zip(ticks, ticks[1:])}
    assert len(gaps) <= 1
    if gaps:
        gap = gaps.pop()
        assert gap >= 1 and re.fullmatch(r"[125]0*", str(gap))


def test_x_ticks_of_odd_ranges():
    assert x_ticks(0, 237, 8) == [0, 50, 100, 150, 200]
    assert x_ticks(5, 5, 3) == [5]
    assert x_ticks(1, 0, 3) == [] and x_ticks(0, 10, 0) == []
    assert x_ticks(math.nan, 1, 3) == [] and x_ticks(0, math.inf, 3) == []
    assert x_ticks(-1e308, 1e308, 5) == []  # wider than a float: no ticks rather than an error
    assert all("." not in format_x(t) for t in x_ticks(0, 10**15, 4))
    assert [format_x(v) for v in (950, 12500, 150_000, 3_000_000, 10**12)] == ["950", "12500", "150k", "3M", "1e12"]


def test_log_ticks_label_decades():
    assert [label for _, label in log_ticks(-3, 1, 10)] == ["0.001", "0.01", "0.1", "1", "10"]
    assert [pos for pos, _ in log_ticks(-3, 1, 10)] == [-3, -2, -1, 0, 1]
    assert [label for _, label in log_ticks(-12, 6, 4)] == ["1e-10", "1e-5", "1", "1e5"]  # every 5th
    assert [label for _, label in log_ticks(-300, 300, 5)] == ["1e-200", "1", "1e200"]


def test_log_ticks_subdivide_a_narrow_range():
    assert [label for _, label in log_ticks(-2.05, -0.05, 8)] == ["0.01", "0.02", "0.05", "0.1", "0.2", "0.5"]
    narrow = log_ticks(math.log10(0.29), math.log10(0.35), 4)  # no decade, no 1-2-5 inside
    assert len(narrow) >= 2 and len({label for _, label in narrow}) == len(narrow)
    assert [label for _, label in narrow] == ["0.30", "0.32", "0.34"]


@pytest.mark.parametrize("seed", range(20))
def test_log_ticks_stay_inside_and_few_enough(seed):
    rng = random.Random(seed)
    for _ in range(200):
        lo = rng.uniform(-330, 310)
        hi = lo + rng.choice([0.0, 1e-6, 0.01, 0.1, 0.5, 1, 2.5, 7, 40, 400]) * rng.random()
        most = rng.randint(1, 20)
        ticks = log_ticks(lo, hi, most)
        assert len(ticks) <= most
        assert all(lo - 1e-6 <= pos <= hi + 1e-6 for pos, _ in ticks)
        assert len({label for _, label in ticks}) == len(ticks)
        assert [pos for pos, _ in ticks] == sorted(pos for pos, _ in ticks)
    assert log_ticks(1, 0, 3) == [] and log_ticks(math.nan, 1, 3) == [] and log_ticks(0, 1, 0) == []


def test_scale_maps_clamps_and_survives_odd_ranges():
    assert scale([0, 5, 10], 0, 10, 11).tolist() == [0, 5, 10]
    assert scale([-5, 15, math.nan], 0, 10, 11).tolist() == [0, 10, 0]
    assert scale([3, 4], 3, 3, 9).tolist() == [4, 4]  # no width: the middle
    assert scale([1.7e308, 1e308, -1.7e308], -1.7e308, 1.7e308, 5).tolist() == [4, 3, 0]  # the width overflows a float
    assert scale([1, 2], 0, 1, 1).tolist() == [0, 0] and scale([1], 0, 1, 0).tolist() == [0]


def test_log_points_keep_what_a_log_scale_can_draw():
    x, ly = log_points([1, 2, 3, 4, 5, 6, 7, 8, "9"], [1, 0, -1, math.nan, math.inf, None, "a", 100, 10])
    assert x.tolist() == [1, 8, 9] and ly.tolist() == [0, 2, 1]


def test_y_range_holds_the_data_and_is_never_flat():
    lo, hi = y_range([-1.3, -1.3])
    assert lo < -1.3 < hi and hi - lo >= 0.1
    lo, hi = y_range([-2.9, 0.1])
    assert lo <= -2.9 and hi >= 0.1 and lo == -3  # a decade close by is reached


# ------------------------------------------------------------------ drawing


def test_single_run_chart_has_log_decades_integer_steps_both_curves_and_the_baseline():
    xs, val = decay(48, 10)  # steps 10..480: plotext labelled them 237.5
    train = [v * 1.3 for v in val]
    lines = render_chart([Series("train", xs, train, "grey62", dashed=True), Series("val", xs, val, "cyan")],
                         70, 12, baseline=0.167)
    check_shape(lines, 70, 12)
    text = plain(lines)
    rows = text.split("\n")
    assert "┄ train" in rows[0] and "━ val" in rows[0] and "naive 0.167" in rows[0]
    x_labels = rows[-1].split()
    assert x_labels[0] == "step" and all(label.isdigit() for label in x_labels[1:]) and len(x_labels) >= 3
    y_labels = [row.split("┤")[0].strip() for row in rows[1:-2] if "┤" in row]
    assert "0.1" in y_labels and "1" in y_labels
    assert any("─" in row and row.rstrip().endswith("naive") for row in rows)
    assert any(row.rstrip().endswith("val") for row in rows) and any(row.rstrip().endswith("train") for row in rows)
    assert any(0x2800 < ord(ch) <= 0x28FF for ch in text)


def test_compare_curves_differ_by_glyph_not_colour_alone():
    series = []
    for i, arch in enumerate(("rnn", "lstm", "gru")):
        xs, ys = decay(100, 10, scale_=1 + 2 * i)
        series.append(Series(arch, xs, ys, color="white", marker=marker(arch)))  # one colour for all
    text = plain(render_chart(series, 100, 14, baseline=0.5))
    legend, *plot = text.split("\n")
    assert "x rnn" in legend and "o lstm" in legend and "+ gru" in legend
    for arch in ("rnn", "lstm", "gru"):
        assert sum(row.count(marker(arch)) for row in plot[:-2]) >= 3  # stamped along the curve
        assert any(row.rstrip().endswith(arch) for row in plot)  # named beside its last point


@pytest.mark.parametrize("width,height", [(0, 0), (1, 1), (1, 0), (0, 5), (3, 2), (8, 3), (12, 4), (20, 5),
                                          (70, 12), (190, 30), (250, 70), (2, 100), (400, 2)])
def test_any_size_gives_exactly_that_size(width, height):
    xs, ys = decay()
    for series in ([], [Series("val", xs, ys)], [Series("val", [1], [0.5])]):
        check_shape(render_chart(series, width, height, baseline=0.3), width, height)


def test_empty_chart_says_so():
    assert "no evaluation yet" in plain(render_chart([Series("val", [], [])], 40, 8))
    assert "no evaluation yet" in plain(render_chart([Series("val", [1, 2], [0, -1])], 40, 8))


def odd_series(rng: random.Random) -> list[Series]:
    out = []
    for k in range(rng.randint(0, 4)):
        n = rng.choice([0, 1, 2, 3, 10, 300, 2000])
        kind = rng.choice(["decay", "odd", "flat", "huge", "tiny", "mixed", "x-odd"])
        xs = sorted(rng.sample(range(0, 10 * n + 10), n)) if n else []
        if kind == "decay":
            ys = [math.exp(-x / 500) + 1e-3 for x in xs]
        elif kind == "odd":
            ys = [rng.choice(ODD) for _ in xs]
        elif kind == "flat":
            ys = [0.25] * n
        elif kind == "huge":
            ys = [10.0 ** rng.uniform(-320, 308) for _ in xs]
        elif kind == "tiny":
            ys = [5e-324 * rng.randint(1, 3) for _ in xs]
        elif kind == "mixed":
            ys = [rng.choice([rng.random(), rng.choice(ODD)]) for _ in xs]
        else:
            xs = [rng.choice([math.nan, math.inf, -1e308, 1e308, 0, 1, None, 2.5]) for _ in xs]
            ys = [rng.random() for _ in xs]
        out.append(Series(f"s{k}", xs, ys, marker=rng.choice(["", "x", "o"]), dashed=rng.random() < 0.3))
    return out


@pytest.mark.parametrize("seed", range(8))
def test_never_raises_on_random_sizes_and_data(seed):
    rng = random.Random(seed)
    for _ in range(150):
        width, height = rng.randint(-2, 260), rng.randint(-2, 75)
        baseline = rng.choice([None, 0.167, 0.0, -1.0, math.nan, math.inf, 1e-300, 1e300, "naive"])
        lines = render_chart(odd_series(rng), width, height, baseline=baseline)
        check_shape(lines, width, height)


def test_huge_ranges_draw():
    xs = list(range(50))
    ys = [10.0 ** (-300 + 12 * i) for i in xs]  # 600 decades
    lines = render_chart([Series("val", xs, ys)], 80, 20)
    check_shape(lines, 80, 20)
    assert "1e" in plain(lines)


# ------------------------------------------------------------------ the training panel's text


def snap(step=1200, val=0.0123, history=None, **extra):
    history = history if history is not None else [
        {"step": 100 * i, "loss": 1 / i, "val_loss": 1.2 / i, "accuracy": 0.1 * i} for i in range(1, 13)]
    base = dict(run="main", uid=1, step=step, status="running", metrics={"val_loss": val, "accuracy": 0.386},
                history=history, grad_norms=[1.0, 2.0, 0.5], solved=False, diverged=None, seq_per_s=5120.0,
                train={"lr": 0.003, "clip": 1.0, "optimizer": "adam", "batch_size": 32, "momentum": 0.9,
                       "weight_decay": 0.0, "dropout": 0.0})
    base.update(extra)
    return SimpleNamespace(**base)


def test_the_knobs_have_their_own_line_and_fit_70_columns():
    line = knobs_line(snap().train).plain
    assert line == "lr 0.003  clip 1  optimizer adam  batch 32"
    sgd = knobs_line({"lr": 0.1, "clip": 0, "optimizer": "sgd", "batch_size": 8, "momentum": 0.9,
                      "weight_decay": 1e-4}).plain
    assert "clip off" in sgd and "momentum 0.9" in sgd and "wd 0.0001" in sgd and len(sgd) <= 70
    lines = [t.plain for t in panel_lines({"main": snap()}, {"val_loss": 0.167}, "main", None, {}, 70, 4)]
    assert lines[0].startswith("step 1,200") and "val 0.0123" in lines[0] and len(lines[0]) <= 70
    assert lines[1] == line


def test_status_line_leaves_out_the_least_important_first():
    s = snap(solved=True)
    wide = status_line(s, {"val_loss": 0.167}, 200, solved_at=800).plain
    assert all(part in wide for part in ("step 1,200", "5,120 seq/s", "✓ SOLVED at 800", "val 0.0123",
                                         "(naive 0.167)", "acc 38.6%", "best 0.1"))
    narrow = status_line(s, {"val_loss": 0.167}, 40, solved_at=800).plain
    assert narrow.startswith("step 1,200") and "✓ SOLVED" in narrow and len(narrow) <= 40
    assert "best" not in narrow and "naive" not in narrow
    assert status_line(s, None, 1).plain == "step 1,200"
    assert status_line(snap(val=math.nan, history=[]), None, 70).plain.startswith("step 1,200")


def test_compare_table_has_a_row_per_arch_with_parameters_and_solved_step():
    runs = {arch: snap(run=arch, val=0.01 * (i + 1), solved=arch == "gru") for i, arch in
            enumerate(("rnn", "lstm", "gru"))}
    infos = {arch: SimpleNamespace(parameters=p, goal={"metric": "val_loss", "direction": "below", "goal": 0.18})
             for arch, p in (("rnn", 321), ("lstm", 12_345), ("gru", 9_876))}
    lines = [t.plain for t in panel_lines(runs, {"val_loss": 0.167}, "lstm", infos, {}, 70, 6)]
    assert lines[0].split() == ["arch", "params", "step", "seq/s", "val", "loss", "best", "val", "solved", "at"]
    assert lines[1].split()[:3] == ["x", "rnn", "321"] and lines[2].split()[:3] == ["o", "lstm", "12.3k"]
    assert "✓ 700" in lines[3]  # the first evaluation below 0.18: 1.2/7 at step 700
    assert lines[4].startswith("lr 0.003") and all(len(line) <= 70 for line in lines)
    # no RunInfo: the parameters are unknown, the solved step the one first seen
    lines = [t.plain for t in panel_lines(runs, None, "lstm", None, {"gru": 1100}, 70, 6)]
    assert "✓ 1,100" in lines[3] and lines[1].split()[2] == "—"
    # three rows of room (a compact terminal): one self-labelled line per arch
    lines = [t.plain for t in panel_lines(runs, None, "lstm", infos, {}, 70, 3)]
    assert [line.split()[1] for line in lines] == ["rnn", "lstm", "gru"] and "val 0.01" in lines[0]


def test_solved_step_reads_the_goal():
    history = [{"step": 10, "accuracy": 0.5}, {"step": 20, "accuracy": 0.95}, {"step": 30, "accuracy": 0.99}]
    assert solved_step(history, {"metric": "accuracy", "direction": "above", "goal": 0.9}) == 20
    assert solved_step(history, {"metric": "accuracy", "direction": "above", "goal": 0.999}) is None
    assert solved_step(history, None) is None and solved_step([], {"metric": "val_loss"}) is None


def test_curves_for_one_run_and_for_three():
    series, base = TrainingPanel.curves({"main": snap()}, {"val_loss": 0.167})
    assert [s.label for s in series] == ["train", "val"] and series[0].dashed and base == 0.167
    long = [{"step": i, "loss": 1.0, "val_loss": 1.0} for i in range(2000)]
    series, _ = TrainingPanel.curves({a: snap(history=long) for a in ("rnn", "lstm", "gru")}, None)
    assert [s.marker for s in series] == ["x", "o", "+"]
    assert all(len(s.xs) <= 301 and s.xs[-1] == 1999 for s in series)  # downsampled, the last point kept
    assert np.all(np.diff(series[0].xs) > 0)


@pytest.mark.parametrize("seed", range(3))
def test_panel_text_never_raises_on_odd_numbers(seed):
    rng = random.Random(seed)
    for _ in range(100):
        n = rng.choice([0, 1, 5])
        runs = {}
        for arch in rng.choice([["main"], ["rnn", "lstm", "gru"]]):
            history = [{"step": i, "loss": rng.choice(ODD), "val_loss": rng.choice(ODD), "accuracy": rng.choice(ODD)}
                       for i in range(n)]
            runs[arch] = snap(run=arch, step=rng.randint(0, 10**7), history=history, solved=rng.random() < 0.5,
                              metrics={"val_loss": rng.choice(ODD), "accuracy": rng.choice(ODD)},
                              seq_per_s=rng.choice([0.0, math.nan, math.inf, 1e12]),
                              grad_norms=[rng.choice(ODD) for _ in range(n)],
                              diverged=rng.choice([None, {"step": 3}]), status=rng.choice(["running", "paused"]))
        infos = rng.choice([None, {a: SimpleNamespace(parameters=rng.choice([None, 10**9, math.nan]),
                                                      goal=rng.choice([None, {}, {"metric": "val_loss", "goal": 1.0}]))
                                   for a in runs}])
        baseline = rng.choice([None, {}, {"val_loss": rng.choice(ODD)}])
        width, rows = rng.randint(0, 200), rng.randint(0, 8)
        lines = panel_lines(runs, baseline, next(iter(runs)), infos, {}, width, rows)
        assert len(lines) <= rows
        TrainingPanel.curves(runs, baseline)
