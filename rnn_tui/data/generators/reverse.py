"""`reverse`: read a string of symbols, then write it backwards (sequence to sequence).

An encoder RNN reads the source; its final state is all a decoder RNN gets to
write the reversed string, one symbol per step, reading the previous correct symbol
as its input (teacher forcing) behind a start token "<go>". The last symbol read
is the first one written, so the state works like a stack.
"""

from __future__ import annotations

import numpy as np
import torch

from rnn_tui.data.base import Split, TaskData
from rnn_tui.data.generators.common import FIXED_BYTES, check_sizes, int_in, read_fields, two_splits

TASK = "seq2seq"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
START = "<go>"
DEFAULTS = {"seq_len": 8, "symbols": 8, "train_size": 10_000, "val_size": 1000}


def check(params: dict) -> dict:
    values = read_fields(params, DEFAULTS)
    int_in(values, "seq_len", 1, 200)
    int_in(values, "symbols", 2, len(ALPHABET))
    check_sizes(values)
    return values


def problems(rng: np.random.Generator, count: int, values: dict) -> Split:
    start = values["symbols"]  # the id after the symbols'
    x = torch.from_numpy(rng.integers(0, start, size=(count, values["seq_len"])))
    y = x.flip(1)
    dec_in = torch.cat([torch.full((count, 1), start, dtype=torch.long), y[:, :-1]], dim=1)
    return Split(x, y.contiguous(), dec_in)


def data_bytes(values: dict) -> int:
    """x, y and the decoder's input (int64)."""
    count = values["train_size"] + values["val_size"]
    return FIXED_BYTES + count * 8 * (3 * values["seq_len"] + 1)


def build(params: dict, seed: int) -> TaskData:
    values = check(params)
    symbols = list(ALPHABET[: values["symbols"]])
    return TaskData(
        kind=TASK,
        **two_splits(problems, seed, values),
        # One id space: the symbols are both classes and inputs, <go> an input only.
        input_size=len(symbols) + 1,
        output_size=len(symbols),
        vocab=symbols + [START],
        class_names=symbols,
        start_token=len(symbols),
        joiner="",
        info={"source": "generated random strings"},
    )
