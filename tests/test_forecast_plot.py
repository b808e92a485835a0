"""Forecasting scenarios draw the series, the one-step predictions and the current step."""

from __future__ import annotations

import numpy as np
from rich.style import Style

from rnn_tui.ui.widgets.sequence import Sequence
from rnn_tui.ui.widgets.series_plot import plot_rows, step_at, value_range
from tests.test_app import main, make_app, settle, shown

MARK = Style(bgcolor="grey30")


def text(rows) -> list[str]:
    return ["".join(seg.text for seg in row) for row in rows]


def test_a_rising_line_goes_from_the_bottom_left_to_the_top_right():
    values = np.linspace(0.0, 1.0, 20)
    rows = text(plot_rows([(values, Style())], width=10, height=4, current=None, lo=0.0, hi=1.0, marker=MARK))
    assert len(rows) == 4 and all(len(r) == 10 for r in rows)
    assert rows[-1][0] != " " and rows[0][-1] != " "  # first point low, last point high
    assert rows[0][0] == " " and rows[-1][-1] == " "


def test_gaps_odd_values_and_tiny_sizes_never_raise():
    values = np.array([np.nan, 1.0, np.inf, -np.inf, 3.0, np.nan])
    for width, height in ((1, 1), (3, 2), (80, 6)):
        rows = plot_rows([(values, Style())], width, height, current=2, lo=0.0, hi=3.0, marker=MARK)
        assert len(rows) == height and all(len(r) == width for r in rows)
    assert value_range(np.array([np.nan])) == (-1.0, 1.0)
    lo, hi = value_range(np.array([2.0, 2.0]))
    assert lo < 2.0 < hi


def test_the_current_steps_column_is_marked_and_a_click_finds_its_step():
    values = np.sin(np.linspace(0, 6, 50))
    rows = plot_rows([(values, Style())], width=25, height=3, current=24, lo=-1.0, hi=1.0, marker=MARK)
    marked = {c for row in rows for c, seg in enumerate(row) if seg.style and seg.style.bgcolor}
    assert marked == {12}  # 50 steps over 50 dot columns: step 24 is in cell 12
    assert step_at(12, 25, 50) in (24, 25)
    assert step_at(0, 25, 50) == 0 and step_at(24, 25, 50) in (48, 49)  # the steps in that cell


async def test_sine_shows_the_plot_with_its_legend_and_the_right_numbers():
    app = make_app("--scenario", "sine", "--hidden", "8")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        await pilot.press("right", "right")
        await pilot.pause(0.2)
        seq = app.query_one(Sequence)
        plain = seq.plain.splitlines()
        assert main(app).has_class("-forecast") and seq.size.height >= 8
        assert "series x_t" in plain[-1] and "predicted, one step ahead" in plain[-1]
        assert any(set(line) - {" "} and all(" " == ch or 0x2800 <= ord(ch) <= 0x28FF for ch in line)
                   for line in plain[1:-1])  # braille rows
        trace = shown(app)
        assert f"predicted {trace.outputs[2, 0]:+.3f}" in plain[0] and "step 3/" in plain[0]
        lo, hi = value_range(trace.inputs[:, 0].astype(float), trace.outputs[:-1, 0].astype(float))
        assert f"y {lo:+.2f}..{hi:+.2f}" in plain[-1]
