"""`adding`: Hochreiter & Schmidhuber's adding problem (1997).

Each step carries a random value in [0, 1] and a marker. Exactly two steps are
marked, one in each half of the sequence; the answer, given after the last step,
is the sum of the two marked values. Predicting the average sum (1.0) scores an
MSE of 1/6 ~ 0.167, and a plain tanh RNN rarely does better: the first marked value
must survive dozens of steps of unrelated input, which is what an LSTM's cell is for.
"""

from __future__ import annotations

import numpy as np
import torch

from rnn_tui.data.base import Split, TaskData
from rnn_tui.data.generators.common import (
    FIXED_BYTES,
    block_bytes,
    blocks,
    check_sizes,
    int_in,
    read_fields,
    two_splits,
)

TASK = "regress"
DEFAULTS = {"seq_len": 50, "train_size": 10_000, "val_size": 1000}


def check(params: dict) -> dict:
    values = read_fields(params, DEFAULTS)
    int_in(values, "seq_len", 2, 1000)  # two halves of at least one step each
    check_sizes(values)
    return values


def problems(rng: np.random.Generator, count: int, values: dict) -> Split:
    seq_len = values["seq_len"]
    half = seq_len // 2
    # The stream holds every value (one 64-bit draw each), then the two marked steps. The
    # marks are read first, from a copy of the stream moved past the values, so the values
    # can be drawn a block of rows at a time straight into float32 instead of all at once
    # in float64: the same numbers, a quarter of the memory.
    ahead = type(rng.bit_generator)()
    ahead.state = rng.bit_generator.state
    ahead.advance(count * seq_len)
    marks = np.random.Generator(ahead)
    first = marks.integers(0, half, size=count)
    second = marks.integers(half, seq_len, size=count)
    x = np.zeros((count, seq_len, 2), dtype=np.float32)  # [N, T, 2]: value, marker
    y = np.empty(count, dtype=np.float32)
    for part in blocks(count, seq_len):
        value = rng.uniform(0.0, 1.0, size=(part.stop - part.start, seq_len))
        x[part, :, 0] = value
        at = np.arange(len(value))
        y[part] = value[at, first[part]] + value[at, second[part]]  # summed in float64
    rows = np.arange(count)
    x[rows, first, 1] = 1.0
    x[rows, second, 1] = 1.0
    return Split(torch.from_numpy(x), torch.from_numpy(y))


def data_bytes(values: dict) -> int:
    """The tensors (float32), the marked steps and their row numbers, a block of float64 draws."""
    count = values["train_size"] + values["val_size"]
    block = block_bytes(values, values["seq_len"])
    return FIXED_BYTES + count * (values["seq_len"] * 2 * 4 + 4 + 3 * 8) + 2 * block


def build(params: dict, seed: int) -> TaskData:
    values = check(params)
    return TaskData(
        kind=TASK,
        **two_splits(problems, seed, values),
        input_size=2,
        output_size=1,
        info={"source": "generated adding problems", "features": ["value", "marker"]},
    )
