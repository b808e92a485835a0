"""`sine`: forecast the next value of a noisy sine wave.

Each sequence has its own period, phase and amplitude, so the model cannot memorise
one curve: it has to read the wave's speed and height off the first few steps and
carry them in its state.
"""

from __future__ import annotations

import numpy as np
import torch

from rnn_tui.data.base import Split, TaskData
from rnn_tui.data.generators.common import check_sizes, float_in, int_in, read_fields, two_splits
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
    series = amplitude * np.sin(2 * np.pi * t / period + phase)
    series += rng.normal(0.0, values["noise"], size=series.shape)
    series = torch.from_numpy(series.astype(np.float32))
    return Split(series[:, :-1].unsqueeze(-1).contiguous(), series[:, 1:].contiguous())


def build(params: dict, seed: int) -> TaskData:
    values = check(params)
    return TaskData(
        kind=TASK,
        **two_splits(waves, seed, values),
        input_size=1,
        output_size=1,
        info={"source": "generated sine waves"},
    )
