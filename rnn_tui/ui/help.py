"""The `?` screen: what each panel shows, the equations, and what to try."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen

EXTRA_KEYS = [("ctrl+p", "command palette: every action, lr, clipping, optimizer, hidden size, temperature, theme")]

HELP = r"""
# rnn-tui — what you are looking at

A recurrent network reads a sequence one token at a time. At each step t it
combines the new input x_t with its memory of everything before, the hidden
state h_{t-1}, into a new state h_t, and reads its answer y_t off h_t. The
**same weights** are used at every step: the network is one cell, unrolled
through time. Meanwhile a background process trains it, so everything you see
changes as it learns: about once a second the trainer traces the current sample
again with its newest weights. While you step with the keys the picture holds
still, so the numbers do not shift under your eyes; it catches up once you have
paused for a second.

## The panels

- **Sequence** — the input, the current step in reverse video, and what the
  model predicted there against the target (top-3 next characters for text,
  predicted vs true value for forecasting, class probabilities as they evolve
  for classification). Tokens are tinted by the *selected unit*: blue negative,
  orange positive. Some units learn to track quotes, brackets or line ends — pick
  one with `[` and `]` and watch the text light up. The sparkline under the tokens
  is that unit's value over time.
- **Unrolled network** — the cells around the current step, numbered from 1 as
  the Sequence panel counts (x1, y1 for the first step). x_t comes in from
  below, h_t (and c_t) passes right, y_t leaves at the top. Each box shows
  ‖∂L/∂h_t‖: watch it fade along the chain.
- **Gates** — every gate's activation per unit at this step, dark = 0, bright = 1
  (or blue = −1, orange = +1 for tanh values), with the share of units
  saturated: a gate near 0 or 1 is a switch.
- **Hidden state** — units (rows, two per text line) × time (columns). Click a
  column to jump there; click a row to select a unit.
- **Gradient** — ‖∂L/∂h_t‖ for every step on a log scale, for the layer and
  direction picked with `L`; the input saliency ‖∂L/∂x_t‖; the step numbers,
  with ▲ under the current step. "shrinks ×0.80 per step back" means the
  gradient is multiplied by 0.8 for each step it travels back from the loss:
  after 50 steps that is 1e-5, and inputs that far back can no longer be
  learned from. Back means back in the direction's own reading order: a
  backward direction (←) reads the sequence from its end, so its step back is a
  step to the *right*, towards later t. The figure is fitted where nothing but
  back-propagation moves the gradient: up to the loss ("loss: …") when the loss
  comes at the end, or before the first scored step. When every step is scored
  (text, sine, brackets) ‖∂L/∂h_t‖ mixes every step's own loss, so the figure
  ("last step's loss: …") is fitted on the gradient of the last scored step's
  loss alone: how far back the last prediction's gradient reaches. For a
  backward direction that is the prediction it reads last, the first scored
  step.
- **Training** — validation (and training) loss on a log scale against the naive
  baseline (orange), steps, speed, learning rate, clipping, and a SOLVED badge
  when the scenario's goal (under the panel) is met. ‖g‖ is the gradient's norm
  before clipping: spikes there are what clipping is for.
- **Generation** (text scenarios) — `g` samples text from the model; it samples
  again after each evaluation, so you can read it improve. Set the temperature
  in the command palette (ctrl+p): low is safe and repetitive, high is wild.

## The equations (PyTorch's gate order)

Elman RNN:

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)

LSTM (gates i, f, g, o):

    i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      input gate
    f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)      forget gate
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)   cell candidate
    o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)      output gate
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    h_t = o_t ⊙ tanh(c_t)

GRU (gates r, z, n):

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)      reset gate
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)      update gate
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}

## Why gradients vanish or explode

Training needs ∂L/∂h_t for every step. Going back one step multiplies it by the
Jacobian ∂h_{t+1}/∂h_t = diag(1 − h²) W_hh for an Elman RNN. Multiply 50 of
those together: if their size is below 1 the product vanishes, above 1 it
explodes. The LSTM's cell state has a path with no such squashing: ∂c_t/∂c_{t-1}
is just f_t, so with the forget gate near 1 the gradient flows back almost
untouched. The GRU's z_t plays the same part. Clipping the gradient's norm
tames explosions; it cannot bring back a vanished gradient.

## Things to try

- Scenario `adding`, switch to `rnn` (`a`), and watch ‖∂L/∂h_t‖ at the first
  steps: it sits orders of magnitude below the last steps, and the loss stays at
  the baseline. Switch back to `lstm` and watch the forget gates saturate near 1.
- Scenario `brackets`: find the unit that counts nesting depth: `u`, enter on
  the rule `depth`, enter on the best unit; the text is tinted by it.
- Scenario `text`: press `g` once and read the samples improve as it trains.
- Compare mode (`c`): RNN, LSTM and GRU on the same data, curves overlaid; then
  `w` at an early step: how long each one remembers a changed input.
- `i`: type your own sentence, brackets or numbers and watch the model read it.
- `x`: the recurrent matrix's eigenvalues against the unit circle, and why the
  gradient shrinks or grows by what it does.
- `rnn-tui lessons` and `rnn-tui --lesson N`: guided experiments that check
  the live figures (`b` shows the lesson).
- `o`: your past runs; open one, or draw their curves beside this one.

## Keys

{keys}
"""


def key_name(binding: Binding) -> str:
    """How a person types the binding's keys: "←/h", "+", "L"."""
    return binding.key_display or "/".join(binding.key.split(","))


def key_table(bindings: list[Binding]) -> str:
    """The keys as a Markdown table, from the bindings themselves (help and README share it)."""
    rows = ["| key | action |", "|---|---|"]
    rows += [f"| {key_name(b)} | {b.tooltip} |" for b in bindings]
    rows += [f"| {key} | {text} |" for key, text in EXTRA_KEYS]
    return "\n".join(rows)


class HelpScreen(ModalScreen):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90%; height: 90%; border: round $accent; background: $surface; }
    """

    def __init__(self, bindings: list[Binding]) -> None:
        super().__init__()
        self.key_bindings = bindings

    def compose(self) -> ComposeResult:
        from textual.widgets import Markdown  # markdown-it and friends: imported when help opens, not at start

        with VerticalScroll():
            yield Markdown(HELP.replace("{keys}", key_table(self.key_bindings)))
