"""The gradient panel tells the truth: its figures against the trace, and the trace's
gradients against float64 autograd.

The decay per step back is fitted here independently of the panel's code: in each
direction's own reading order (a backward direction reads the sequence from its
end), on ||dL/dh_t|| where the loss comes at the end, or else on the gradient of
the last scored step's loss alone.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from textual.app import App, ComposeResult

from rnn_tui.core import tasks
from rnn_tui.core.config import ModelConfig
from rnn_tui.core.model import SequenceModel
from rnn_tui.core.trace import trace_core, trace_sequence
from rnn_tui.core.trace_file import Trace
from rnn_tui.ui.widgets.gradients import Gradients
from rnn_tui.ui.widgets.unrolled import Unrolled
from tests import reference
from tests.test_app import make_app, settle, shown

GRAD_NOW = re.compile(r"‖∂L/∂h_(\d+)‖ = (\S+)")
DECAY = re.compile(r"(?:(last step's loss|loss): )?(?:(shrinks|grows) )?×([0-9.]+)(?: per step back|/step back)")


# ---------------------------------------------------------------- independent references


def fit(series: np.ndarray) -> float:
    """exp(-slope) of ln(series) against its index: the factor per step back when the
    series runs in reading order and ends at the gradient's source."""
    ok = np.isfinite(series) & (series > 0)
    assert ok.sum() >= 3
    slope = np.polyfit(np.arange(len(series))[ok], np.log(series[ok]), 1)[0]
    return float(np.exp(-slope))


def reading_order(trace: Trace, track: int) -> slice:
    return slice(None, None, -1) if trace.directions == 2 and track % 2 else slice(None)


def expected_decay(trace: Trace, track: int) -> tuple[str, float]:
    """What the panel must say for a track: which gradient, and its decay per step back."""
    order = reading_order(trace, track)
    if trace.kind in ("regress", "classify", "core"):  # the loss reads each direction's final state
        return "loss", fit(trace.grad_h[order, track])
    scored = np.flatnonzero(~np.isnan(trace.loss[order]))
    if scored[0] >= 2:  # three or more steps before the first scored one
        return "loss", fit(trace.grad_h[order, track][: scored[0] + 1])
    return "last step's loss", fit(trace.grad_h_last[order, track][: scored[-1] + 1])


def safe_norm(v: torch.Tensor) -> float:
    """||v|| in float64 with no square underflowing (torch's own norm squares)."""
    v = v.double()
    largest = float(v.abs().max())
    return 0.0 if largest == 0 else largest * float((v / largest).norm())


def probe_norms(rec) -> np.ndarray:
    """[T, L*D] ||dL/dh_t|| off reference.run's probes, without underflow."""
    keys = sorted(rec["probes"])
    return np.array([[safe_norm(rec["probes"][k][t].grad) for k in keys] for t in range(len(rec["probes"][0]))])


# ---------------------------------------------------------------- the panel, on its own


class PanelHost(App):
    """One panel filling a terminal, showing a given trace, step and track."""

    def __init__(self, panel, trace: Trace, step: int = 0, track: int = 0) -> None:
        super().__init__()
        self.panel, self.shown = panel, (trace, step, track)

    def compose(self) -> ComposeResult:
        yield self.panel

    def on_mount(self) -> None:
        self.panel.trace, self.panel.step, self.panel.track = self.shown


async def rendered(panel_type, trace: Trace, step: int = 0, track: int = 0, size=(160, 30)) -> str:
    app = PanelHost(panel_type(), trace, step, track)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        return app.panel.plain


def decay_shown(text: str) -> tuple[str, str, float]:
    found = DECAY.search(text)
    assert found, f"no decay figure in the panel:\n{text}"
    return found.group(1), found.group(2), float(found.group(3))


def hand_made(kind: str, grad_h: np.ndarray, loss: np.ndarray) -> Trace:
    """A one-layer trace with the given gradients, one track per direction."""
    steps, tracks = grad_h.shape
    return Trace("rnn", kind, 1, tracks, 4, h=np.zeros((steps, tracks, 4)), gates={},
                 outputs=np.zeros((steps, 1)), loss=loss, total_loss=1.0, grad_h=grad_h,
                 grad_x=np.ones(steps), inputs=np.zeros((steps, 2)))


# ---------------------------------------------------------------- 1. backward directions


async def test_backward_direction_decay_is_fitted_in_its_reading_order():
    steps = 20
    t = np.arange(steps)
    # The loss reads the forward direction at the last step and the backward one at t = 0:
    # both gradients shrink by their factor for each step they travel away from there.
    grad_h = np.stack([0.8 ** (steps - 1 - t), 0.9**t], axis=1)
    loss = np.full(steps, np.nan)
    loss[-1] = 1.0
    trace = hand_made("regress", grad_h, loss)
    shown = [decay_shown(await rendered(Gradients, trace, track=track)) for track in (0, 1)]
    assert [(word, factor) for _, word, factor in shown] == [("shrinks", 0.8), ("shrinks", 0.9)]
    assert [source for source, _, _ in shown] == ["loss", "loss"]


async def test_backward_direction_of_a_real_bidirectional_core():
    torch.manual_seed(4)
    core = torch.nn.RNN(3, 8, num_layers=2, bidirectional=True)
    trace = trace_core(core, torch.randn(30, 3))
    backward = trace.grad_h[:, 3]  # L2 ←: its final state, read by the loss, is at t = 0
    assert backward[0] > 10 * backward[-1]  # the gradient fades towards later t, as in the issue
    shown = [decay_shown(await rendered(Gradients, trace, step=5, track=track)) for track in range(4)]
    assert [factor for _, _, factor in shown] == [round(expected_decay(trace, k)[1], 3) for k in range(4)]
    assert shown[3][1] == "shrinks" and [source for source, _, _ in shown] == ["loss"] * 4


async def test_the_issue_bidirectional_rnn_on_the_adding_problem():
    # rnn-tui --scenario adding --arch rnn --bidirectional --seq-len 30: L1 ← said "grows ×1.127".
    config = ModelConfig(arch="rnn", hidden=16, layers=1, bidirectional=True)
    model = SequenceModel(config, "regress", input_size=2, output_size=1, tokens_in=False, seed=0)
    g = torch.Generator().manual_seed(0)
    x = torch.stack([torch.rand(30, generator=g), torch.zeros(30)], dim=1)
    x[[3, 20], 1] = 1.0
    trace = trace_sequence(model, x, (x[:, 0] * x[:, 1]).sum())
    assert trace.grad_h[0, 1] > trace.grad_h[-1, 1]
    source, word, factor = decay_shown(await rendered(Gradients, trace, track=1))
    assert (word, factor) == ("shrinks", round(expected_decay(trace, 1)[1], 3)) and factor < 1
    assert source == "loss"


# ---------------------------------------------------------------- 2. no underflow


@pytest.mark.parametrize("dtype,steps", [(torch.float32, 35), (torch.float32, 200), (torch.float64, 200)])
def test_tiny_gradients_are_not_zero(dtype, steps):
    torch.manual_seed(36)
    core = torch.nn.RNN(4, 16, num_layers=3, bidirectional=True, nonlinearity="relu")
    with torch.no_grad():
        for p in core.parameters():
            p.mul_(0.3)
    x = torch.randn(steps, 4)
    trace = trace_core(core.to(dtype), x.to(dtype))

    core64 = torch.nn.RNN(4, 16, num_layers=3, bidirectional=True, nonlinearity="relu").double()
    core64.load_state_dict({k: v.double() for k, v in core.state_dict().items()})
    x64 = x.double().requires_grad_(True)
    rec = reference.run(core64, x64)
    (0.5 * (rec["h_n"][4:] ** 2).sum()).backward()
    truth = probe_norms(rec)
    truth_x = np.array([safe_norm(g) for g in x64.grad])

    # float32 squares underflow below ~1e-19, float64 squares below ~1e-154: both ranges are here
    assert ((truth > 1e-34) & (truth < 1e-23)).any()
    if steps == 200:
        assert (truth[truth > 0] < 1e-160).any()
    # Where the trace's dtype holds the entries (float32: down to ~1e-38) every norm must be there, and right.
    representable = truth > (1e-37 if dtype == torch.float32 else 1e-300)
    if steps == 35:
        assert representable.all()
    assert not (trace.grad_h[representable] == 0).any(), "a gradient norm underflowed to 0"
    rtol = 1e-5 if dtype == torch.float32 else 1e-9
    np.testing.assert_allclose(trace.grad_h[representable], truth[representable], rtol=rtol)
    representable_x = truth_x > (1e-37 if dtype == torch.float32 else 1e-300)
    np.testing.assert_allclose(trace.grad_x[representable_x], truth_x[representable_x], rtol=rtol)


# ---------------------------------------------------------------- 3. every step scored


def model_and_sample(kind: str, arch: str, bidirectional: bool, steps: int = 16):
    tokens_in = kind in ("next_token", "tag", "seq2seq")
    config = ModelConfig(arch=arch, hidden=6, layers=2, bidirectional=bidirectional, embed=4)
    output = 1 if kind == "forecast" else 5
    model = SequenceModel(config, kind, input_size=9 if tokens_in else 3, output_size=output,
                          tokens_in=tokens_in, seed=3).double()
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 9, (steps,), generator=g) if tokens_in else torch.randn(steps, 3, generator=g,
                                                                                 dtype=torch.float64)
    y = torch.randn(steps, generator=g, dtype=torch.float64) if kind == "forecast" else \
        torch.randint(0, 5, (steps,), generator=g)
    dec_in = None
    if kind == "seq2seq":
        dec_in, y = torch.randint(0, 9, (7,), generator=g), y[:7]
    return model, x, y, dec_in


SCORED_EVERYWHERE = [("next_token", False), ("forecast", False), ("tag", True), ("seq2seq", False)]


@pytest.mark.parametrize("kind,bidirectional", SCORED_EVERYWHERE)
@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_last_steps_loss_gradient_matches_autograd(kind, bidirectional, arch):
    model, x, y, dec_in = model_and_sample(kind, arch, bidirectional)
    trace = trace_sequence(model, x, y, dec_in)

    def autograd_norms(step: int) -> np.ndarray:
        """||d loss[step] / dh_t|| by autograd through per-step probes ([T, L*D])."""
        enc = reference.run(model.core, model.encoder(x).detach().double())
        rec = reference.run(model.decoder, model.encoder(dec_in).detach().double(), enc["h_n"], enc["c_n"]) \
            if kind == "seq2seq" else enc
        pred = model.head(rec["out"])
        pred = pred.squeeze(-1) if kind == "forecast" else pred
        tasks.step_losses(kind, pred[None], y[None])[0, step].backward()
        grads = probe_norms(enc)
        return np.concatenate([grads, probe_norms(rec)]) if kind == "seq2seq" else grads

    steps = len(y)
    forward = autograd_norms(steps - 1)  # every step is scored: the last is the last in time
    np.testing.assert_allclose(trace.grad_h_last[:, 0::trace.directions], forward[:, 0::trace.directions],
                               rtol=1e-8, atol=1e-14)
    assert trace.grad_h_last.dtype == np.float64
    if bidirectional:  # a backward direction reads the first step last
        backward = autograd_norms(0)
        np.testing.assert_allclose(trace.grad_h_last[:, 1::2], backward[:, 1::2], rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("kind,bidirectional", SCORED_EVERYWHERE[:3])
async def test_decay_appears_when_every_step_is_scored(kind, bidirectional):
    model, x, y, dec_in = model_and_sample(kind, "lstm", bidirectional)
    trace = trace_sequence(model, x, y, dec_in)
    for track in range(trace.layers * trace.directions):
        source, _, factor = decay_shown(await rendered(Gradients, trace, step=4, track=track))
        want_source, want = expected_decay(trace, track)
        assert (source, factor) == ("last step's loss", round(want, 3)) and want_source == source


def test_grad_h_last_is_saved_and_older_files_still_read(tmp_path):
    model, x, y, _ = model_and_sample("next_token", "gru", False)
    trace = trace_sequence(model, x, y)
    trace.save(tmp_path / "t.npz")
    np.testing.assert_array_equal(Trace.load(tmp_path / "t.npz").grad_h_last, trace.grad_h_last)
    with np.load(tmp_path / "t.npz") as z:
        older = {k: z[k] for k in z.files if k != "grad_h_last"}
    np.savez(tmp_path / "old.npz", **older)
    assert Trace.load(tmp_path / "old.npz").grad_h_last is None


def test_one_scored_step_grad_h_last_is_grad_h():
    config = ModelConfig(arch="lstm", hidden=6, layers=1, bidirectional=True)
    model = SequenceModel(config, "classify", input_size=3, output_size=4, tokens_in=False, seed=1).double()
    trace = trace_sequence(model, torch.randn(9, 3, dtype=torch.float64), torch.tensor(2))
    np.testing.assert_array_equal(trace.grad_h_last, trace.grad_h)


# ---------------------------------------------------------------- 4. time axis, one base


async def test_time_axis_marks_the_current_step_and_numbers_from_one():
    steps = 64
    grad = np.exp(-0.1 * np.arange(steps))[::-1, None]
    loss = np.full(steps, np.nan)
    loss[-1] = 1.0
    trace = hand_made("regress", grad, loss)
    for size, step in [((160, 30), 0), ((160, 30), 9), ((160, 30), 63), ((50, 20), 30), ((50, 20), 62)]:
        text = await rendered(Gradients, trace, step=step, size=size)
        lines = text.split("\n")
        spark_row = next(i for i, line in enumerate(lines) if line.startswith(" ∂L/∂x"))
        axis = lines[spark_row + 1]
        assert axis.startswith("  step ")
        columns = axis[7:]
        markers = [i for i, ch in enumerate(columns) if ch == "▲"]
        assert len(markers) == 1
        # every number starts under its own step's column, 1-based, none cut by the marker
        numbers = [(m.start(), int(m.group())) for m in re.finditer(r"\d+", columns)]
        assert len(numbers) >= 2
        first = numbers[0][1] - 1 - numbers[0][0]  # the step of the window's first column
        assert all(n - 1 - col == first for col, n in numbers)
        assert markers[0] + first == step  # ▲ under the current step
        assert f"‖∂L/∂h_{step + 1}‖ = {trace.grad_h[step, 0]:.2e}" in text


async def test_unrolled_numbers_from_one():
    trace = hand_made("regress", np.ones((5, 1)), np.array([np.nan] * 4 + [1.0]))
    text = await rendered(Unrolled, trace, step=0, size=(120, 20))
    rows = text.split("\n")
    assert rows[0].split() == ["y1", "y2", "y3", "y4", "y5"]
    assert any(row.split() == ["x1", "x2", "x3", "x4", "x5"] for row in rows)


# ---------------------------------------------------------------- 6. the app's figures


@pytest.mark.parametrize("scenario", ["adding", "brackets"])
@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
async def test_the_apps_gradient_figures_are_the_traces(arch, scenario):
    app = make_app("--scenario", scenario, "--arch", arch, "--bidirectional", "--seq-len", "12", "--hidden", "8")
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(app, pilot)
        await pilot.press("right", "right", "right")
        for track in (0, 1):  # L1 →, then L1 ←
            if track:
                await pilot.press("L")
            await pilot.pause()
            panel = app.query_one(Gradients)
            text, trace = panel.plain, panel.trace  # read together: the trace may move on later
            assert trace is shown(app) and (panel.step, panel.track) == (3, track)
            number, value = GRAD_NOW.search(text).groups()
            assert value == f"{trace.grad_h[3, track]:.2e}"
            _, word, factor = decay_shown(text)
            want_source, want = expected_decay(trace, track)
            assert (word, factor) == ("shrinks" if want < 1 else "grows", round(want, 3))
            assert int(number) == 4  # step 4 of 12, as the Sequence panel counts
            assert decay_shown(text)[0] == want_source == ("loss" if scenario == "adding" else "last step's loss")
            assert ("L1 ←" if track else "L1 →") in text
