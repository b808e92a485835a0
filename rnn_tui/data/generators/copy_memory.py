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
from rnn_tui.data.generators.common import int_in, read_fields, split_rngs

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
    int_in(values, "train_size", 1, 200_000)
    int_in(values, "val_size", 1, 200_000)
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


def build(params: dict, seed: int) -> TaskData:
    values = check(params)
    symbols = list(ALPHABET[: values["symbols"]])
    train_rng, val_rng = split_rngs(seed)
    return TaskData(
        kind=TASK,
        train=problems(train_rng, values["train_size"], values),
        val=problems(val_rng, values["val_size"], values),
        input_size=len(symbols) + 2,
        output_size=len(symbols) + 1,
        vocab=symbols + [BLANK, GO],  # token ids shared with class_names below
        class_names=symbols + [BLANK],
        joiner="",
        info={"source": "generated copy-memory sequences"},
    )
