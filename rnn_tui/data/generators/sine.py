"""`sine`: forecast the next value of a noisy sine wave.

Each sequence has its own period, phase and amplitude, so the model cannot memorise
one curve: it has to read the wave's speed and height off the first few steps and
carry them in its state.
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
    float_in,
    int_in,
    read_fields,
    two_splits,
)
from rnn_tui.errors import UserError

TASK = "forecast"
DEFAULTS = {
    "seq_len": 50,
    "train_size": 2000,
    "val_size": 400,
    "min_period": 8.0,  # steps per full wave
    "max_period": 40.0,
    "noise": 0.05,  # standard deviation of the Gaussian noise on every value
}


def check(params: dict) -> dict:
    values = read_fields(params, DEFAULTS)
    int_in(values, "seq_len", 2, 1000)
    check_sizes(values, most=100_000)
    float_in(values, "min_period", 2.0, 1000.0)
    float_in(values, "max_period", 2.0, 1000.0)
    float_in(values, "noise", 0.0, 10.0)
    if values["max_period"] < values["min_period"]:
        raise UserError(
            f"max_period must be at least min_period ({values['min_period']}), "
            f"got {values['max_period']}"
        )
    return values


def waves(rng: np.random.Generator, count: int, values: dict) -> Split:
    steps = values["seq_len"] + 1  # one more than the window: the last value is only a target
    period = rng.uniform(values["min_period"], values["max_period"], size=(count, 1))
    phase = rng.uniform(0.0, 2 * np.pi, size=(count, 1))
    amplitude = rng.uniform(0.5, 1.5, size=(count, 1))
    t = np.arange(steps)[None, :]
    x = np.empty((count, steps - 1, 1), dtype=np.float32)
    y = np.empty((count, steps - 1), dtype=np.float32)
    # A block of waves at a time in float64, then float32: the noise is drawn last, row
    # after row, so the numbers are those of the whole drawn at once.
    for part in blocks(count, steps):
        series = amplitude[part] * np.sin(2 * np.pi * t / period[part] + phase[part])
        series += rng.normal(0.0, values["noise"], size=series.shape)
        series = series.astype(np.float32)
        x[part, :, 0] = series[:, :-1]
        y[part] = series[:, 1:]
    return Split(torch.from_numpy(x), torch.from_numpy(y))


def data_bytes(values: dict) -> int:
    """x and y (float32), each wave's period, phase and amplitude, a block of waves being made."""
    count = values["train_size"] + values["val_size"]
    block = block_bytes(values, values["seq_len"] + 1)
    return FIXED_BYTES + count * (values["seq_len"] * 2 * 4 + 3 * 8) + 4 * block


def build(params: dict, seed: int) -> TaskData:
    values = check(params)
    return TaskData(
        kind=TASK,
        **two_splits(waves, seed, values),
        input_size=1,
        output_size=1,
        info={"source": "generated sine waves"},
    )
