"""Helpers every generator shares: reading its [data] fields, files and windows.

Field errors are raised *without* a location ("seq_len must be ..."): the scenario
that owns the [data] table adds its file name in front, so the same generator
reads the same way from a TOML file, a --text option or a test.
File errors name their file themselves, since the file is what the person must fix.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from rnn_tui.core.files import not_a_file
from rnn_tui.errors import UserError

_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}

# Generated files larger than this are almost certainly not what a person meant.
MAX_FILE_BYTES = 20 * 1024 * 1024
# What any build takes beside its arrays, for data_bytes: the libraries' code paged in on
# first use, allocator slack.
FIXED_BYTES = 16 * 2**20
# Random numbers drawn (or characters looked up) at a time when a whole array of them
# in float64 or int64 would take more memory than the result.
BLOCK = 2**20


def read_fields(params: dict, defaults: dict) -> dict:
    """`params` laid over `defaults`: unknown keys rejected, types checked against the defaults'.

    The "generator" key that names the generator in a [data] table is ignored here.
    """
    given = {k: v for k, v in params.items() if k != "generator"}
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        known = ", ".join(defaults) or "no fields"
        raise UserError(f"unknown field {unknown[0]!r}; expected one of {known}")
    values = dict(defaults)
    for key, value in given.items():
        expected = type(defaults[key])
        # TOML writes 1 for 1.0; a whole number is a fine value for a float field.
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise UserError(f"{key} must be {_TYPE_NAMES[expected]}, got {value!r}")
        values[key] = value
    return values


def int_in(values: dict, key: str, low: int, high: int) -> int:
    value = values[key]
    if not low <= value <= high:
        raise UserError(f"{key} must be an integer from {low} to {high}, got {value!r}")
    return value


def float_in(values: dict, key: str, low: float, high: float) -> float:
    value = values[key]
    if not (math.isfinite(value) and low <= value <= high):
        raise UserError(f"{key} must be a number from {low} to {high}, got {value!r}")
    return value


def one_of(values: dict, key: str, options: tuple[str, ...]) -> str:
    value = values[key]
    if value not in options:
        raise UserError(f"{key} must be one of {', '.join(options)}; got {value!r}")
    return value


def split_rngs(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent streams for train and validation, so resizing one leaves the other as it was."""
    return np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])


def check_sizes(values: dict, most: int = 200_000) -> None:
    """train_size and val_size: how many sequences each split holds."""
    int_in(values, "train_size", 1, most)
    int_in(values, "val_size", 1, most)


def two_splits(make, seed: int, values: dict) -> dict:
    """{"train": ..., "val": ...} from make(rng, count, values), each split drawn from its own stream."""
    train_rng, val_rng = split_rngs(seed)
    return {"train": make(train_rng, values["train_size"], values), "val": make(val_rng, values["val_size"], values)}


def block_bytes(values: dict, width: int, itemsize: int = 8) -> int:
    """The bytes of one block of the larger split's rows of `width` items, for data_bytes."""
    rows = max(values["train_size"], values["val_size"])
    return itemsize * min(rows, max(1, BLOCK // width)) * width


def blocks(count: int, width: int = 1) -> Iterator[slice]:
    """Slices that cut `count` rows of `width` items into blocks of about BLOCK items."""
    rows = max(1, BLOCK // width)
    for start in range(0, count, rows):
        yield slice(start, min(start + rows, count))


def draw_rows(draw, count: int, width: int, dtype) -> np.ndarray:
    """[count, width] of `draw(size)` stored as `dtype`, drawn a block of rows at a time.

    The same numbers as one draw of the whole (a stream gives one number after another),
    without the whole in float64 or int64 on the way.
    """
    out = np.empty((count, width), dtype=dtype)
    for part in blocks(count, width):
        out[part] = draw((part.stop - part.start, width))
    return out


def read_text_file(path: Path, what: str = "text") -> str:
    """The file's text, or a UserError naming it: missing, a folder, binary, not UTF-8, empty."""
    path = Path(path)
    expected = f"expected a UTF-8 {what} file"
    why = not_a_file(path)
    if why:
        raise UserError(f"{path}: {why}; {expected}")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        limit = MAX_FILE_BYTES // 2**20
        raise UserError(f"{path}: {size / 2**20:.0f} MB is too large; expected at most {limit} MB")
    raw = path.read_bytes()
    # NUL never appears in text; a file holding one is an image, an archive, a binary.
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise UserError(f"{path}: not UTF-8 text (binary: a NUL byte at offset {nul}); {expected}")
    try:
        text = raw.decode("utf-8-sig")  # -sig drops a BOM some editors write
    except UnicodeDecodeError as err:
        raise UserError(
            f"{path}: not UTF-8 text (undecodable byte at offset {err.start}); {expected}"
        ) from None
    if not text.strip():
        raise UserError(f"{path}: file is empty; expected some {what}")
    return text


def window_pairs(
    series: torch.Tensor, length: int, max_count: int, min_stride: int = 1
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y), each [count, length - 1]: the windows of `length` along a 1-D series, every one
    of them or, past `max_count`, evenly thinned by a wider stride; x is each window but its
    last value, y each window but its first.

    Views into the series, not copies: the windows cost nothing beyond the series itself,
    and a batch (`x[index]`) copies only its own rows.
    """
    count = series.shape[0] - length + 1
    stride = max(min_stride, math.ceil(count / max_count))
    return series[:-1].unfold(0, length - 1, stride), series[1:].unfold(0, length - 1, stride)


def file_size(path: str | Path) -> int:
    """The bytes read_text_file would read: the file's size, or 0 when it refuses the file
    before reading any (missing, not a file, too large)."""
    if not_a_file(path):
        return 0
    size = Path(path).stat().st_size
    return size if size <= MAX_FILE_BYTES else 0
