"""`copy`: the copy-memory task: read k symbols, wait, then write them back in order.

Layout of one sequence (k = 3, delay = 4; "_" is blank, ">" the go marker):

    input   C A D _ _ _ _ > _ _ _
    target  . . . . . . . . C A D     ("." = not scored, or "_" with score_blanks)

Only the last k steps hold an answer, so by default only they are scored: accuracy
then measures memory alone instead of the easy blanks. With score_blanks = true
every step counts and the model must also learn to stay quiet (the classic setup).
"""

from __future__ import annotations

import numpy as np
import torch

from rnn_tui.data.base import IGNORE_INDEX, Split, TaskData
from rnn_tui.data.generators.common import FIXED_BYTES, check_sizes, int_in, read_fields, two_splits

TASK = "tag"
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
BLANK, GO = "_", ">"
DEFAULTS = {
    "symbols": 8,  # alphabet size
    "length": 5,  # k: how many symbols to remember
    "delay": 10,  # blanks between the symbols and the go marker
    "score_blanks": False,
    "train_size": 10_000,
    "val_size": 1000,
}


def check(params: dict) -> dict:
    values = read_fields(params, DEFAULTS)
    int_in(values, "symbols", 2, len(ALPHABET))
    int_in(values, "length", 1, 100)
    int_in(values, "delay", 0, 1000)
    check_sizes(values)
    return values


def problems(rng: np.random.Generator, count: int, values: dict) -> Split:
    k, delay, n = values["length"], values["delay"], values["symbols"]
    blank, go = n, n + 1  # ids after the symbols'
    recall = k + delay + 1  # first step that holds an answer
    symbols = rng.integers(0, n, size=(count, k))
    x = np.full((count, recall + k), blank, dtype=np.int64)
    x[:, :k] = symbols
    x[:, recall - 1] = go
    y = np.full_like(x, blank if values["score_blanks"] else IGNORE_INDEX)
    y[:, recall:] = symbols
    return Split(torch.from_numpy(x), torch.from_numpy(y))


def data_bytes(values: dict) -> int:
    """x and y (int64) and the symbols drawn."""
    count = values["train_size"] + values["val_size"]
    k = values["length"]
    return FIXED_BYTES + count * 8 * (2 * (2 * k + values["delay"] + 1) + k)


def build(params: dict, seed: int) -> TaskData:
    values = check(params)
    symbols = list(ALPHABET[: values["symbols"]])
    return TaskData(
        kind=TASK,
        **two_splits(problems, seed, values),
        input_size=len(symbols) + 2,
        output_size=len(symbols) + 1,
        vocab=symbols + [BLANK, GO],  # token ids shared with class_names below
        class_names=symbols + [BLANK],
        joiner="",
        info={"source": "generated copy-memory sequences"},
    )
