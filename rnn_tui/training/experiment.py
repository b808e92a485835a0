"""The app's experiments, asked of a run's current weights in the trainer's process.

`ask` turns an Experiment command's name and params into a call of core.experiments on
the sequence on screen (a validation sample or the typed input) or, for `units`, on
validation samples; the answer has the shape `rnn-tui inspect NAME --json` prints.
"""

from __future__ import annotations

from rnn_tui.core import rules
from rnn_tui.core.experiments import horizon, rank_units, spectrum
from rnn_tui.data.base import TaskData
from rnn_tui.errors import UserError
from rnn_tui.training.protocol import EXPERIMENTS

UNIT_SAMPLES = 100  # validation samples a unit search correlates over


def ask(name: str, params: dict, model, data: TaskData, sequence: tuple):
    """The answer to experiment `name`; a UserError says why there is none."""
    if name not in EXPERIMENTS:
        raise UserError(f"experiment {name!r}: unknown; expected one of {', '.join(EXPERIMENTS)}")
    if name == "spectrum":
        return spectrum(model)
    if name == "units":
        rule = params.get("rule")
        if not rule:
            raise UserError(f"units: needs a rule; expected a built-in one ({', '.join(rules.BUILTIN)}) "
                            "or an expression such as count('(') - count(')')")
        return rank_units(model, data.val.x[:UNIT_SAMPLES], rule, data.vocab)
    x, _, dec_in = sequence
    token = params.get("token")
    return horizon(model, x, int(params.get("step", 0)), token=None if token is None else token_id(token, data.vocab),
                   delta=params.get("delta"), value=params.get("value"), feature=int(params.get("feature", 0)),
                   dec_in=dec_in, vocab=data.vocab)


def token_id(text: str, vocab: list[str] | None) -> int:
    """The id of a token given as text (escapes such as \\n understood)."""
    if vocab is None:
        raise UserError("a number scenario changes a value, not a token: give delta or value")
    for candidate in (text, rules.unescape(text)):
        if candidate in vocab:
            return vocab.index(candidate)
    raise UserError(f"token {text!r}: not a token of this model; expected {rules.vocab_hint(vocab)}")
