"""`text`: character-level next-character prediction on a UTF-8 file."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from rnn_tui.data.base import Split, TaskData
from rnn_tui.data.generators.common import int_in, read_fields, read_text_file, sliding_windows
from rnn_tui.errors import UserError

TASK = "next_token"
DEFAULTS = {"file": "", "seq_len": 64}
VAL_FRACTION = 0.1
# A long book gives millions of windows; evenly spaced ones cover it just as well.
MAX_TRAIN_WINDOWS = 20_000
MAX_VAL_WINDOWS = 1_000


def check(params: dict) -> dict:
    values = read_fields(params, DEFAULTS)
    if not values["file"]:
        raise UserError("missing field 'file'; expected the path of a UTF-8 text file")
    int_in(values, "seq_len", 2, 1000)
    return values


def read_corpus(path: Path, seq_len: int) -> str:
    """The file's text, checked to hold at least one training and one validation window."""
    text = read_text_file(path)
    needed = 2 * (seq_len + 1)  # one window to train on, one to validate
    if len(text) < needed:
        raise UserError(
            f"{path}: too short: {len(text)} characters; needs at least {needed} for "
            f"seq_len {seq_len} (one window to train on and one to validate)"
        )
    return text


def build(params: dict, seed: int) -> TaskData:
    # The windows are fixed by the file; `seed` has nothing to draw.
    values = check(params)
    path, seq_len = Path(values["file"]), values["seq_len"]
    text = read_corpus(path, seq_len)
    # Code points, sorted: the same order as sorted(set(text)), fast on a long book.
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    unique, ids = np.unique(points, return_inverse=True)
    vocab = [chr(p) for p in unique]
    ids = torch.from_numpy(ids.astype(np.int64))

    window = seq_len + 1  # x = window[:-1], y = window[1:]
    # The last 10% validates, in windows that overlap by one character so each character
    # is predicted once; rounded up to whole windows so they end on the file's last one.
    val_chars = math.ceil((max(len(text) * VAL_FRACTION, window) - 1) / seq_len) * seq_len + 1
    train = sliding_windows(ids[:-val_chars], window, MAX_TRAIN_WINDOWS)
    val = sliding_windows(ids[-val_chars:], window, MAX_VAL_WINDOWS, min_stride=seq_len)
    return TaskData(
        kind=TASK,
        train=Split(train[:, :-1].contiguous(), train[:, 1:].contiguous()),
        val=Split(val[:, :-1].contiguous(), val[:, 1:].contiguous()),
        input_size=len(vocab),
        output_size=len(vocab),
        vocab=vocab,
        joiner="",
        info={"source": path.name, "characters": len(text)},
    )
