"""The gates, heatmap and sequence panels, each alone in a small app with a trace made
here (or a real one): every figure they show is labelled and is the trace's own.

Figures are read off what the panel shows (`.plain`, and the styles of its cells)
and compared with numpy's answer from the trace.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from textual.app import App
from textual.containers import Vertical, VerticalScroll
from textual.content import Content

from rnn_tui.core.trace import trace_core
from rnn_tui.core.trace_file import Trace
from rnn_tui.ui import colors
from rnn_tui.ui.widgets.gates import Gates
from rnn_tui.ui.widgets.heatmap import GUTTER, Heatmap
from rnn_tui.ui.widgets.sequence import Sequence
from tests.test_app import main, make_app, settle, shown

MINUS = "\u2212"
NOT_SCORED = "not scored here; the answer is read at the last step"
# What each architecture's rows are, as (array, label, range): "01" sigmoid, "pm" tanh-like
ROWS = {
    "lstm": [("i", "i input", "01"), ("f", "f forget", "01"), ("g", "g candidate", "pm"),
             ("o", "o output", "01"), ("c", "tanh(c) cell", "pm"), ("h", "h hidden", "pm")],
    "gru": [("r", "r reset", "01"), ("z", "z update", "01"), ("n", "n candidate", "pm"), ("h", "h hidden", "pm")],
    "rnn": [("preact", "tanh(a) pre", "pm"), ("h", "h hidden", "pm")],
}


# ------------------------------------------------------------------ traces made here


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def make_trace(arch="lstm", steps=16, hidden=32, kind="classify", seed=0, nonlinearity="tanh", meta=None,
               tokens=None, vocab=None, inputs=None, class_names=("negative", "positive")) -> Trace:
    """A one-layer trace with the shapes and ranges a real one has (its numbers are random)."""
    rng = np.random.default_rng(seed)
    shape = (steps, 1, hidden)
    c = None
    if arch == "lstm":
        i, f, o = (_sigmoid(rng.normal(0, 3, shape)) for _ in range(3))
        g = np.tanh(rng.normal(0, 2, shape))
        c = np.cumsum(i * g, axis=0)
        h = o * np.tanh(c)
        gates = {"i": i, "f": f, "g": g, "o": o}
    elif arch == "gru":
        r, z = (_sigmoid(rng.normal(0, 3, shape)) for _ in range(2))
        n = np.tanh(rng.normal(0, 2, shape))
        h = (1 - z) * n
        gates = {"r": r, "z": z, "n": n}
    else:
        pre = rng.normal(0, 2, shape)
        h = np.maximum(pre, 0.0) if nonlinearity == "relu" else np.tanh(pre)
        gates = {"preact": pre}
    many_to_one = kind in ("classify", "regress")
    if kind == "regress":
        outputs = rng.normal(0, 1, (steps, 1))
        targets = np.array(0.5)
    else:
        logits = rng.normal(0, 1, (steps, len(class_names)))
        outputs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
        targets = np.array(1) if many_to_one else rng.integers(0, len(class_names), steps)
    loss = np.full(steps, np.nan) if many_to_one else rng.random(steps)
    loss[-1] = 0.3
    if tokens is None and inputs is None:
        inputs = rng.random((steps, 2))
    cast = (lambda a: None if a is None else np.asarray(a, np.float32))
    return Trace(arch=arch, kind=kind, layers=1, directions=1, hidden=hidden, h=cast(h),
                 gates={k: cast(v) for k, v in gates.items()}, outputs=cast(outputs), loss=loss,
                 total_loss=0.3, grad_h=np.ones((steps, 1)), grad_x=np.ones(steps), c=cast(c),
                 inputs=inputs, tokens=None if tokens is None else np.asarray(tokens, np.int64), vocab=vocab,
                 targets=targets, class_names=list(class_names) if kind != "regress" else None,
                 meta=dict(meta or {}))


def relu_rnn_trace(meta=None) -> Trace:
    """A real trace of torch.nn.RNN(nonlinearity="relu"), as `rnn-tui trace --weights` makes one."""
    torch.manual_seed(0)
    core = torch.nn.RNN(3, 24, nonlinearity="relu")
    trace = trace_core(core, 4 * torch.randn(20, 3))
    trace.meta = dict(meta or {})
    return trace


# ------------------------------------------------------------------ a panel alone in an app


class Host(App):
    """One panel, alone or in a bordered box like the app's (a scroll box for the gates)."""

    CSS = "#box { height: 12; border: round white; }"

    def __init__(self, panel, box=None) -> None:
        super().__init__()
        self.panel, self.box = panel, box

    def compose(self):
        if self.box is not None:
            with self.box:
                yield self.panel
        else:
            yield self.panel


async def put(pilot, panel, trace, step=0, unit=0):
    panel.step, panel.unit = step, unit
    panel.trace = trace
    await pilot.pause()


def visible(heatmap) -> str:
    """The heatmap's lines on screen as text (what `Heatmap.plain` gives)."""
    return "\n".join("".join(seg.text for seg in heatmap.render_line(y))
                     for y in range(heatmap.scrollable_content_region.height))


def segment_at(strip, x: int):
    """The segment that covers column x of a rendered line."""
    col = 0
    for seg in strip:
        if col <= x < col + len(seg.text):
            return seg
        col += len(seg.text)
    raise AssertionError(f"no column {x}")


def share_shown_matches(shown: str, share: float) -> bool:
    """A percentage on screen ('3%', '<1%', '>99%') against the share numpy counts."""
    if shown == "<1%":
        return 0 < share < 0.005
    if shown == ">99%":
        return 0.995 <= share < 1
    return abs(int(shown.rstrip("%")) - 100 * share) <= 0.5


def row_values(trace: Trace, key: str, step: int, relu: bool = False) -> np.ndarray:
    """What a gates row draws, from the trace."""
    if key == "h":
        return trace.h[step, 0]
    if key == "c":
        return np.tanh(trace.c[step, 0])
    if key == "preact":
        pre = trace.gates["preact"][step, 0]
        return np.maximum(pre, 0) if relu else np.tanh(pre)
    return trace.gates[key][step, 0]


# ------------------------------------------------------------------ gates


STAT = {  # the spacing tightens in a narrow panel; the words and numbers stay
    "01": re.compile(r"≤0\.05: ?(\S+) +≥0\.95: ?(\S+)\s+unit (\d+): ?([+−]\d+\.\d\d)"),
    "pm": re.compile(r"≤−0\.95: ?(\S+) +≥\+0\.95: ?(\S+)\s+unit (\d+): ?([+−]\d+\.\d\d)"),
    "relu": re.compile(r"at 0 \(dead\): ?(\S+)\s+unit (\d+): ?([+−]\d+\.\d\d)"),
}


@pytest.mark.parametrize("arch", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("width", [32, 44, 100], ids=["narrowest", "narrow", "wide"])
async def test_gates_numbers_are_the_trace(arch, width):
    """Each row's saturation shares are numpy's count, spelled out, and the selected
    unit's value is the trace's."""
    trace = make_trace(arch)
    step, unit = 5, 7
    app = Host(Gates())
    async with app.run_test(size=(width, 40)) as pilot:
        await put(pilot, app.panel, trace, step, unit)
        text = app.panel.plain
    assert "0:0%" not in text and " u7 " not in text  # the old cryptic form
    assert max(len(line) for line in text.splitlines()) <= width  # nothing cut off at the edge
    for key, label, kind in ROWS[arch]:
        assert label in text
        row = text[text.index(label):]
        match = STAT[kind].search(row)
        assert match, f"no numbers under {label!r}:\n{text}"
        values = row_values(trace, key, step)
        low, high, shown_unit, value = match.groups()
        bound = 0.95
        lo_share = np.mean(values <= (-bound if kind == "pm" else 0.05))
        assert share_shown_matches(low, lo_share), (label, low, lo_share)
        assert share_shown_matches(high, np.mean(values >= bound)), (label, high)
        assert int(shown_unit) == unit
        assert float(value.replace(MINUS, "-")) == pytest.approx(float(values[unit]), abs=0.005)


async def test_gates_legend_is_the_cells_colour_scales():
    """A colour bar per scale, with its ends: 0 … 1 for sigmoid gates, −1 … +1 for tanh ones,
    drawn in the very colours the cells use."""
    app = Host(Gates())
    async with app.run_test(size=(60, 40)) as pilot:
        await put(pilot, app.panel, make_trace("lstm"))
        text = app.panel.plain
        legend = app.panel.lines(app.panel.size.width)[0]
    first = text.splitlines()[0]
    assert re.search(r"(^|\s)0 █{3,} 1 sigmoid", first), first
    assert re.search(rf"{MINUS}1 █{{3,}} \+1 tanh", first), first
    bars = [seg.style.color for seg in legend if seg.text == "█"]
    n = len(bars) // 2
    assert bars[0] == colors.sequential()[0] and bars[n - 1] == colors.sequential()[-1]
    assert bars[n] == colors.diverging(True)[0] and bars[-1] == colors.diverging(True)[-1]


@pytest.mark.parametrize("meta", [{}, {"nonlinearity": "relu"}], ids=["inferred", "from-meta"])
async def test_relu_rnn_is_labelled_relu_and_counts_dead_units(meta):
    """relu(a) is unbounded above: no tanh label and no ±1 saturation, but the share of
    units at 0; read from trace.meta when it says, from the trace itself when not."""
    trace = relu_rnn_trace(meta)
    step, unit = 7, 3
    app = Host(Gates())
    async with app.run_test(size=(60, 30)) as pilot:
        await put(pilot, app.panel, trace, step, unit)
        text = app.panel.plain
    assert "relu(a)" in text and "tanh" not in text and "0.95" not in text
    matches = STAT["relu"].findall(text)
    assert len(matches) == 2  # relu(a) and h
    dead = np.mean(trace.h[step, 0] <= 0)
    assert 0 < dead < 1
    for share, shown_unit, value in matches:
        assert share_shown_matches(share, dead) and int(shown_unit) == unit
        assert float(value.replace(MINUS, "-")) == pytest.approx(float(trace.h[step, 0, unit]), abs=0.005)
    top = float(np.maximum(trace.gates["preact"][:, 0], 0).max())
    assert re.search(rf"0 █{{3,}} {top:.3g} relu", text.splitlines()[0])


async def test_a_tanh_rnn_stays_tanh():
    app = Host(Gates())
    async with app.run_test(size=(60, 30)) as pilot:
        await put(pilot, app.panel, make_trace("rnn", meta={"nonlinearity": "tanh"}))
        assert "tanh(a)" in app.panel.plain and "relu" not in app.panel.plain
        await put(pilot, app.panel, make_trace("rnn", seed=3))  # no meta: read off the trace
        assert "tanh(a)" in app.panel.plain and "relu" not in app.panel.plain


async def test_gates_say_how_many_lines_are_below():
    """Rows out of the scroll box's sight are counted in its border, never hidden silently."""
    app = Host(Gates(), VerticalScroll(id="box"))
    async with app.run_test(size=(60, 30)) as pilot:
        await put(pilot, app.panel, make_trace("lstm", hidden=128))
        await pilot.pause()
        box = app.query_one("#box")
        below = app.panel.outer_size.height - box.scrollable_content_region.height
        assert below > 0
        assert str(box.border_subtitle).startswith(f"+{below} lines below (") and "h): scroll" in box.border_subtitle
        box.scroll_end(animate=False)
        await pilot.pause()
        assert not box.border_subtitle  # all in view now


# ------------------------------------------------------------------ heatmap


def legend_and_rows(heatmap) -> tuple[str, list[str]]:
    """The heatmap's legend (its first line, or its box's lower border) and its other lines."""
    lines = visible(heatmap).splitlines()
    if lines and lines[0].startswith("h "):
        return lines[0], lines[1:]
    subtitle = heatmap.parent.border_subtitle
    return (Content.from_markup(subtitle).plain if subtitle else ""), lines


@pytest.mark.parametrize("boxed", [False, True], ids=["alone", "in-a-box"])
async def test_heatmap_legend_and_marker_row_are_the_trace(boxed):
    """The colour bar's ends are ±1 for tanh states, with the selected unit's value; the
    ▶ row is the selected unit's, and its cells are that unit's h in the legend's colours."""
    trace = make_trace("lstm", steps=20, hidden=16)
    app = Host(Heatmap(), Vertical(id="box") if boxed else None)
    async with app.run_test(size=(80, 20)) as pilot:
        await put(pilot, app.panel, trace, step=4, unit=5)
        heatmap = app.panel
        legend, rows = legend_and_rows(heatmap)
        assert re.match(rf"h +{MINUS}1 █{{11}} \+1 .*▶ unit 5, step 5: ", legend), legend
        value = f"{trace.h[4, 0, 5]:+.2f}".replace("-", MINUS)
        assert legend.rstrip().endswith(value)
        assert rows[0].startswith("step ")  # the ruler
        marked = [y for y, line in enumerate(rows) if line.startswith("▶")]
        assert len(marked) == 1 and int(rows[marked[0]][1:4]) == 4  # the row of units 4 and 5
        strip = heatmap.render_line(marked[0] + heatmap.size.height - len(rows))
        scale = colors.diverging(True)
        for t in range(trace.steps):
            cell = segment_at(strip, GUTTER + t * heatmap.zoom)
            assert cell.style.bgcolor == scale[colors.diverging_levels(trace.h[t, 0, 5])]  # the lower half
            assert cell.style.color == scale[colors.diverging_levels(trace.h[t, 0, 4])]
        if not boxed:  # the bar is drawn in the cells' colours, from the lowest level to the highest
            bar = [seg.style.color for seg in heatmap.render_line(0) if seg.text == "█"]
            assert bar[0] == scale[0] and bar[-1] == scale[-1] and bar[len(bar) // 2] == scale[len(scale) // 2]


async def test_heatmap_scale_is_the_datas_range_when_h_is_not_tanh_bounded():
    trace = relu_rnn_trace()
    bound = float(np.abs(trace.h[:, 0]).max())
    assert bound > 1
    app = Host(Heatmap())
    async with app.run_test(size=(80, 20)) as pilot:
        await put(pilot, app.panel, trace, step=3, unit=2)
        legend, rows = legend_and_rows(app.panel)
        assert f"{MINUS}{bound:.3g} ███████████ +{bound:.3g}" in legend
        marked = next(y for y, line in enumerate(rows) if line.startswith("▶"))
        cell = segment_at(app.panel.render_line(marked + 1), GUTTER + 3 * app.panel.zoom)
        assert cell.style.color == colors.diverging(True)[colors.diverging_levels(trace.h[3, 0, 2] / bound)]


def check_ruler(line: str, step: int, zoom: int, scroll_x: int = 0) -> None:
    """Every number on the ruler is whole and 1-based: a tick over its step, or the
    current step's number beside ▼."""
    assert line.startswith("step ")
    body = line[GUTTER:]
    assert body.count("▼") == 1, line
    for match in re.finditer(r"\d+", body):
        number, x = int(match.group()), match.start()
        if body[x - 1 : x] == "▼" or body[match.end() : match.end() + 1] == "▼":
            assert number == step + 1, line
        else:
            assert x == (number - 1) * zoom - scroll_x, (line, number)


@pytest.mark.parametrize("steps,every", [(64, 1), (400, 7)], ids=["fits", "scrolls-across"])
async def test_heatmap_ruler_stays_in_view_one_based_and_whole(steps, every):
    """Scrolled down the units, the legend and the time ruler stay; scrolled across time,
    the ruler's numbers stay whole and 1-based, and ▼ never eats a tick's digits."""
    trace = make_trace("gru", steps=steps, hidden=64)
    app = Host(Heatmap())
    async with app.run_test(size=(80, 12)) as pilot:
        await put(pilot, app.panel, trace)
        heatmap = app.panel
        heatmap.scroll_to(y=10, animate=False)
        await pilot.pause()
        assert heatmap.scroll_offset.y == 10
        for step in [*range(0, steps, every), steps - 1]:
            heatmap.step = step
            await pilot.pause()
            legend, rows = legend_and_rows(heatmap)
            assert f"step {step + 1}:" in legend  # the legend, however far the rows are scrolled
            check_ruler(rows[0], step, heatmap.zoom, heatmap.scroll_offset.x)  # and the ruler
            assert rows[1].startswith(" ") and int(rows[1][1:4]) == 2 * round(heatmap.scroll_offset.y)
        assert heatmap.scroll_offset.x > 0 or steps == 64


async def test_heatmap_follows_the_selected_unit():
    trace = make_trace("lstm", steps=30, hidden=128)
    app = Host(Heatmap())
    async with app.run_test(size=(80, 10)) as pilot:
        await put(pilot, app.panel, trace)
        for unit in (13, 50, 127, 3, 0):
            app.panel.unit = unit
            await pilot.pause()
            marked = [line for line in visible(app.panel).splitlines() if line.startswith("▶")]
            assert marked and int(marked[0][1:4]) == unit - unit % 2, unit


@pytest.mark.parametrize("size,hidden,unit", [((120, 40), 32, 13), ((200, 60), 128, 50)], ids=["120x40", "200x60"])
async def test_heatmap_follows_the_unit_key_in_the_app(size, hidden, unit):
    app = make_app("--scenario", "adding", "--seq-len", "12", "--hidden", str(hidden))
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot, until=lambda a: shown(a) is not None and a.view.snap is not None)
        await pilot.press("t")  # training paused: the in-process fake trainer would slow every key
        await settle(app, pilot, until=lambda a: a.view.snap.status == "paused")
        await pilot.press(*["right_square_bracket"] * unit)
        await pilot.pause()
        assert main(app).unit == unit
        legend, rows = legend_and_rows(app.query_one(Heatmap))
        assert any(row.startswith(f"▶{unit - unit % 2:>3}▕") for row in rows), rows
        assert rows[0].startswith("step ▼1") and f"▶ unit {unit}, step 1:" in legend


# ------------------------------------------------------------------ sequence


def strip_line(panel) -> str:
    return panel.plain.splitlines()[1]


async def test_token_strip_uses_the_free_room():
    """All 64 characters fit in 120 columns: none is scrolled away at the last step; a
    longer text fills the strip wherever the step is, the step always in it."""
    text = ("the quick brown fox jumps over the lazy dog " * 30)
    vocab = sorted(set(text))
    app = Host(Sequence())
    async with app.run_test(size=(120, 6)) as pilot:
        short = make_trace("lstm", steps=64, kind="next_token", tokens=[vocab.index(c) for c in text[:64]],
                           vocab=vocab, class_names=vocab)
        await put(pilot, app.panel, short, step=63)
        assert strip_line(app.panel).rstrip() == text[:64].replace(" ", "␣")
        long = make_trace("lstm", steps=len(text), kind="next_token", tokens=[vocab.index(c) for c in text],
                          vocab=vocab, class_names=vocab)
        for step in (0, 200, len(text) - 1):
            await put(pilot, app.panel, long, step=step)
            spans = app.panel._spans
            assert spans[-1][1] == 120  # every column used
            assert any(s == step for _, _, s in spans)


async def test_words_read_apart_and_padding_is_hidden():
    """Word tokens each get a space ("i never", not "inever"); the sentence's left
    padding folds into one mark that says so, and the step counter still counts it."""
    vocab = ["<pad>", "adored", "ending", "i", "never", "the"]
    words = ["i", "never", "adored", "the", "ending"]
    tokens = [0] * 11 + [vocab.index(w) for w in words]
    trace = make_trace("lstm", steps=16, tokens=tokens, vocab=vocab)
    app = Host(Sequence())
    async with app.run_test(size=(120, 6)) as pilot:
        await put(pilot, app.panel, trace, step=0)
        lines = app.panel.plain.splitlines()
        assert lines[0].startswith("step 1/16  input <pad>")
        assert "i never adored the ending" in lines[1] and "<pad> <pad>" not in lines[1]
        assert "padding hidden" in lines[1] and "11×<pad>" in lines[1]
        await put(pilot, app.panel, trace, step=12)
        assert app.panel.plain.startswith("step 13/16  input never")
        # a click on a word goes to its step
        x0, x1, step = next(span for span in app.panel._spans if span[2] == 13)
        assert lines[1][x0:x1].strip() == "adored"


async def test_characters_stay_compact_and_markers_apart():
    vocab = ["A", "B", "C", "<go>"]
    tokens = [0, 1, 2, 3, 2, 1, 0]
    trace = make_trace("lstm", steps=7, kind="next_token", tokens=tokens, vocab=vocab, class_names=vocab[:3])
    app = Host(Sequence())
    async with app.run_test(size=(80, 6)) as pilot:
        await put(pilot, app.panel, trace)
        assert strip_line(app.panel).rstrip() == "ABC <go> CBA"


@pytest.mark.parametrize("kind", ["classify", "regress"])
async def test_unscored_steps_do_not_look_like_answers(kind):
    trace = make_trace("gru", steps=10, kind=kind)
    app = Host(Sequence())
    async with app.run_test(size=(160, 6)) as pilot:
        for step in range(trace.steps):
            await put(pilot, app.panel, trace, step=step)
            head = app.panel.plain.splitlines()[0]
            scored = not np.isnan(trace.loss[step])
            assert (NOT_SCORED in head) != scored, head
            assert ("target" in head) == scored, head
            if kind == "regress":
                assert f"predicted {trace.outputs[step, 0]:+.3f}" in head


async def test_sentiment_in_the_app_shows_the_sentence():
    app = make_app("--scenario", "sentiment", "--hidden", "8")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        trace = shown(app)
        pads = int(np.sum(trace.tokens == trace.vocab.index("<pad>")))
        lines = app.query_one(Sequence).plain.splitlines()
        assert lines[0].startswith(f"step 1/{trace.steps}") and NOT_SCORED in lines[0]
        sentence = " ".join(trace.vocab[int(t)] for t in trace.tokens[pads:])
        assert f"‹{pads}×<pad>: padding hidden› {sentence}" in lines[1]
