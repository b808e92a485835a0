"""`digits`: which digit is this 8x8 handwritten image, read one pixel row per step?

The images are scikit-learn's bundled copy of the UCI digits (1797 of them, no
download). Feeding rows as time steps turns a picture into a sequence: the model
sees the top of the digit first and must hold it until the bottom arrives.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from rnn_tui.data.base import Split, TaskData
from rnn_tui.data.generators.common import FIXED_BYTES, float_in, read_fields
from rnn_tui.errors import UserError

TASK = "classify"
DEFAULTS = {"val_fraction": 0.2}


def check(params: dict) -> dict:
    values = read_fields(params, DEFAULTS)
    float_in(values, "val_fraction", 0.05, 0.5)
    return values


def _images() -> tuple[np.ndarray, np.ndarray]:
    """([1797, 8, 8] pixel values 0..16, [1797] digits), from scikit-learn's own copy.

    Importing sklearn takes a second or more; its bundled CSV reads in milliseconds,
    so the file is read directly when it is where scikit-learn has always kept it.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("scenario digits needs scikit-learn: pip install 'rnn-tui[digits]'")
    bundled = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"
    if bundled.is_file():
        table = np.loadtxt(bundled, delimiter=",")  # 64 pixels, then the digit
        return table[:, :64].reshape(-1, 8, 8), table[:, 64].astype(np.int64)
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images, digits.target.astype(np.int64)


def data_bytes(values: dict) -> int:
    """1797 small images, read and copied a few times: a few megabytes whatever the fields."""
    return FIXED_BYTES + 4 * 2**20


def build(params: dict, seed: int) -> TaskData:
    values = check(params)
    images, labels = _images()
    x = torch.from_numpy((images / 16.0).astype(np.float32))  # [N, 8 rows, 8 pixels] in [0, 1]
    y = torch.from_numpy(labels)
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(y)))
    n_val = round(len(y) * values["val_fraction"])
    val, train = order[:n_val], order[n_val:]
    return TaskData(
        kind=TASK,
        train=Split(x[train], y[train]),
        val=Split(x[val], y[val]),
        input_size=8,
        output_size=10,
        class_names=[str(d) for d in range(10)],
        info={"source": "scikit-learn's copy of the UCI handwritten digits"},
    )
