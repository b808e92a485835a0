"""`brackets`: how deeply nested is the current position in a string of brackets?

The strings are random walks over "(" and ")", with letters sprinkled in that change
nothing. The walk never closes below depth 0 nor opens past max_depth, so the
target, the depth after each character, is a class "0" .. "max_depth". Predicting
it takes a counter that goes up and down: watch for one in the LSTM's cell.
"""

from __future__ import annotations

import numpy as np
import torch

from rnn_tui.data.base import Split, TaskData
from rnn_tui.data.generators.common import (
    FIXED_BYTES,
    block_bytes,
    check_sizes,
    draw_rows,
    float_in,
    int_in,
    read_fields,
    two_splits,
)

TASK = "tag"
OPEN, CLOSE, LETTERS = "(", ")", ["a", "b", "c"]
DEFAULTS = {
    "seq_len": 40,
    "max_depth": 5,
    "letters": 0.2,  # chance that a step is a letter instead of a bracket
    "train_size": 8000,
    "val_size": 1000,
}


def check(params: dict) -> dict:
    values = read_fields(params, DEFAULTS)
    int_in(values, "seq_len", 1, 1000)
    int_in(values, "max_depth", 1, 20)
    float_in(values, "letters", 0.0, 0.9)
    check_sizes(values)
    return values


def problems(rng: np.random.Generator, count: int, values: dict) -> Split:
    seq_len, top = values["seq_len"], values["max_depth"]
    # Ids: 0 "(", 1 ")", 2.. letters.
    # Drawn a block at a time into one byte a step, not float64 and int64 all at once.
    letter = draw_rows(lambda size: rng.random(size) < values["letters"], count, seq_len, bool)
    letter_id = draw_rows(lambda size: rng.integers(2, 2 + len(LETTERS), size=size), count, seq_len, np.int8)
    wants_open = draw_rows(lambda size: rng.random(size) < 0.5, count, seq_len, bool)
    x = np.empty((count, seq_len), dtype=np.int64)
    y = np.empty((count, seq_len), dtype=np.int64)
    depth = np.zeros(count, dtype=np.int64)
    for t in range(seq_len):  # a walk that bounces off 0 and max_depth
        opens = (wants_open[:, t] | (depth == 0)) & (depth < top)
        x[:, t] = np.where(letter[:, t], letter_id[:, t], np.where(opens, 0, 1))
        depth = depth + np.where(letter[:, t], 0, np.where(opens, 1, -1))
        y[:, t] = depth
    return Split(torch.from_numpy(x), torch.from_numpy(y))


def data_bytes(values: dict) -> int:
    """x and y (int64), three bytes of draws a step, a block of float64 draws and the steps'
    temporaries."""
    count = values["train_size"] + values["val_size"]
    block = block_bytes(values, values["seq_len"])
    return FIXED_BYTES + count * (values["seq_len"] * (2 * 8 + 3) + 6 * 8) + 2 * block


def build(params: dict, seed: int) -> TaskData:
    values = check(params)
    vocab = [OPEN, CLOSE] + LETTERS
    return TaskData(
        kind=TASK,
        **two_splits(problems, seed, values),
        input_size=len(vocab),
        output_size=values["max_depth"] + 1,
        vocab=vocab,
        class_names=[str(d) for d in range(values["max_depth"] + 1)],
        joiner="",
        info={"source": "generated bracket strings"},
    )
