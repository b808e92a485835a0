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
from rnn_tui.data.generators.common import check_sizes, int_in, read_fields, two_splits

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
    value = rng.uniform(0.0, 1.0, size=(count, seq_len))
    first = rng.integers(0, half, size=count)
    second = rng.integers(half, seq_len, size=count)
    marker = np.zeros((count, seq_len))
    rows = np.arange(count)
    marker[rows, first] = 1.0
    marker[rows, second] = 1.0
    x = np.stack([value, marker], axis=-1).astype(np.float32)  # [N, T, 2]: value, marker
    y = (value[rows, first] + value[rows, second]).astype(np.float32)
    return Split(torch.from_numpy(x), torch.from_numpy(y))


def build(params: dict, seed: int) -> TaskData:
    values = check(params)
    return TaskData(
        kind=TASK,
        **two_splits(problems, seed, values),
        input_size=2,
        output_size=1,
        info={"source": "generated adding problems", "features": ["value", "marker"]},
    )
