"""A sequence the user typed, made into what a model reads: inputs, targets, decoder inputs.

Text for token scenarios (characters, or words where the scenario reads words);
numbers separated by spaces or commas for number scenarios: a series to forecast,
or for `adding` (value, marker) pairs written as values with a trailing * on the
marked ones ("0.3 0.9* 0.1 0.4* 0.7"). What cannot be read is one UserError that
names it and says what was expected.
"""

from __future__ import annotations

import math
import re

import torch

from rnn_tui.data.base import TaskData
from rnn_tui.errors import UserError

NUMBER = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(\*?)$")


def typed_sample(text: str, data: TaskData, model, option: str = "input") -> tuple:
    """(x, y, dec_in) for the typed `text`. Where the text has no target (a sentence's
    label, a bracket string's depths), the target is the model's own answer: the trace
    then explains the model's decision."""
    if data.kind == "seq2seq":
        raise UserError(f"{option}: a seq2seq decoder reads the target, which cannot be typed; "
                        "pick a validation sample with n/p")
    if data.vocab is not None:
        return _tokens(text, data, model, option)
    return _numbers(text, data, option)


def _tokens(text: str, data: TaskData, model, option: str) -> tuple:
    tokens = data.encode_text(text, option)
    if data.kind == "next_token":
        if len(tokens) < 2:
            raise UserError(f"{option}: needs at least 2 tokens (each step predicts the next)")
        return tokens[:-1], tokens[1:], None
    if data.kind not in ("classify", "tag"):
        raise UserError(f"{option}: a {data.kind} scenario takes no typed input; pick a sample with n/p")
    with torch.no_grad():  # no label was typed: explain the model's own decision
        guess = model(tokens[None]).argmax(-1)[0]
    return tokens, guess, None


def _numbers(text: str, data: TaskData, option: str) -> tuple:
    pieces = [p for p in re.split(r"[\s,]+", text.strip()) if p]
    parsed = [NUMBER.match(p) for p in pieces]
    bad = [p for p, m in zip(pieces, parsed) if m is None or not math.isfinite(float(m.group(1)))]
    marks = data.input_size == 2  # adding: a value and its marker
    expected = ("numbers with a * after each marked one, e.g. 0.3 0.9* 0.1 0.4* 0.7" if marks
                else "numbers separated by spaces, e.g. 0.1 0.5 0.9 0.5")
    if bad or not pieces:
        shown = ", ".join(map(repr, bad[:5])) if bad else "nothing"
        raise UserError(f"{option}: {shown} is not a number; expected {expected}")
    values = torch.tensor([float(m.group(1)) for m in parsed])
    starred = torch.tensor([float(bool(m.group(2))) for m in parsed])
    if data.input_size == 1 and data.kind == "forecast":
        if starred.any():
            raise UserError(f"{option}: * marks numbers only in the adding problem; expected {expected}")
        if len(values) < 2:
            raise UserError(f"{option}: needs at least 2 numbers (each step predicts the next)")
        return values[:-1, None], values[1:], None
    if marks and data.kind == "regress":  # the target: the sum of the marked values
        return torch.stack([values, starred], 1), (values * starred).sum(), None
    raise UserError(f"{option}: this scenario reads {data.input_size} numbers per step, which cannot be typed; "
                    "pick a sample with n/p")
