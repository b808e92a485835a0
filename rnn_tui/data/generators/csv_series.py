"""`csv`: forecast the next value of one column of a CSV file, row after row in time.

Rows are taken in file order as equally spaced time steps. The first 80% train, the
last 20% validate: a forecaster is judged on a future it has not seen, and the
values are standardised with the training part's mean and spread only, so nothing
about that future leaks into the inputs.
"""

from __future__ import annotations

import array
import csv
import io
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from rnn_tui.data.base import Split, TaskData
from rnn_tui.data.generators.common import (
    FIXED_BYTES,
    file_size,
    int_in,
    one_of,
    read_fields,
    read_text_file,
    window_pairs,
)
from rnn_tui.errors import UserError

TASK = "forecast"
FILL_CHOICES = ("error", "interpolate", "drop")
DEFAULTS = {"file": "", "column": "", "fill_missing": "error", "seq_len": 50}
TRAIN_FRACTION = 0.8
MAX_TRAIN_WINDOWS = 20_000
MAX_VAL_WINDOWS = 5_000
# Cells that spreadsheets and pandas write for "no value".
MISSING_MARKERS = {"", "na", "n/a", "nan", "null", "none", "-", "?", "#n/a"}
SHOWN = 5  # how many bad lines an error lists


def check(params: dict) -> dict:
    values = read_fields(params, DEFAULTS)
    if not values["file"]:
        raise UserError("missing field 'file'; expected the path of a CSV file")
    if not values["column"]:
        raise UserError("missing field 'column'; expected the header name of a numeric column")
    one_of(values, "fill_missing", FILL_CHOICES)
    int_in(values, "seq_len", 2, 1000)
    return values


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) for each non-blank row, counting from 1; the first is the header.

    Read as they are needed, one row at a time: a list of every row of a large file takes
    gigabytes.
    """
    text = read_text_file(path, "CSV")
    try:  # commas, semicolons (European spreadsheets) or tabs
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:  # one column has no delimiter to find
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    del text  # the StringIO holds its own copy
    try:
        for row in reader:
            if any(map(str.strip, row)):
                yield reader.line_num, row
    except csv.Error as err:
        raise UserError(f"{path}: not readable as CSV (line {reader.line_num}: {err})") from None


def _header_error(rows: Iterator, error: UserError) -> UserError:
    """`error`, unless a later row is not readable as CSV: that is said first, as it always was."""
    for _ in rows:
        pass
    return error


def read_column(path: Path, column: str, fill_missing: str) -> tuple[np.ndarray, dict]:
    """The column's numbers in file order, with missing cells filled or dropped as asked."""
    rows = _rows(path)
    first, header = next(rows, (None, None))
    if header is None:
        raise UserError(f"{path}: no rows, only delimiters; expected a header line and numbers")
    header = [c.strip() for c in header]
    if all(_is_number(c) for c in header if c):
        raise _header_error(rows, UserError(
            f"{path}: no header row: line {first} holds numbers ({', '.join(header[:4])}); "
            "expected column names on the first line"
        ))
    if column not in header:
        names = ", ".join(repr(h[:30]) for h in header[:20]) + (" ..." if len(header) > 20 else "")
        raise _header_error(rows, UserError(
            f"{path}: no column {column!r}; the header (line {first}) has {names}"
        ))
    index = header.index(column)

    # 8 bytes a row; of the missing and bad cells only their count and the first few lines.
    numbers = array.array("d")
    missing, bad, missing_lines, bad_cells = 0, 0, [], []
    for line, row in rows:
        try:  # the common case first: a number (float() strips the spaces as str.strip does)
            value = float(row[index])
        except (ValueError, IndexError):
            value = math.nan
        if math.isfinite(value):
            numbers.append(value)
            continue
        cell = row[index].strip() if index < len(row) else ""
        if cell.lower() in MISSING_MARKERS:
            missing += 1
            if missing <= SHOWN:
                missing_lines.append(line)
            numbers.append(math.nan)
            continue
        try:
            value = float(cell)
        except ValueError:
            value = math.inf  # reported below with the other non-numbers
        if not math.isfinite(value):
            bad += 1
            if bad <= SHOWN:
                bad_cells.append(f"line {line}: {cell[:20]!r}{'...' if len(cell) > 20 else ''}")
        numbers.append(value)
    if bad:
        shown = ", ".join(bad_cells) + (", ..." if bad > SHOWN else "")
        raise UserError(
            f"{path}: column {column!r} has {bad} non-numeric value(s) ({shown}); "
            "expected numbers in every row"
        )
    if missing == len(numbers):
        raise UserError(f"{path}: column {column!r} has no numbers; expected a numeric column")
    series = np.frombuffer(numbers, dtype=np.float64)  # the array's own memory, not a copy
    if missing:
        if fill_missing == "error":
            lines = ", ".join(map(str, missing_lines)) + (", ..." if missing > SHOWN else "")
            raise UserError(
                f"{path}: column {column!r} has {missing} missing value(s) (line {lines}); "
                "expected a number in every row, or --fill-missing interpolate or drop"
            )
        present = ~np.isnan(series)
        if fill_missing == "drop":
            series = series[present]
        else:  # a straight line between neighbours; np.interp holds the ends at the nearest value
            steps = np.arange(len(series), dtype=np.float64)
            series = np.interp(steps, steps[present], series[present])
    filled = missing if fill_missing == "interpolate" else 0
    return series, {"filled": filled, "dropped": missing - filled}


def split_point(rows: int) -> int:
    return int(rows * TRAIN_FRACTION)


def _too_few(path: Path, column: str, rows: int, seq_len: int) -> UserError:
    window = seq_len + 1
    need = 2 * window
    while min(split_point(need), need - split_point(need)) < window:
        need += 1
    hint = ""
    longest = min(split_point(rows), rows - split_point(rows)) - 1
    if longest >= 2:
        hint = f"; with {rows} rows use seq_len {longest} or less"
    return UserError(
        f"{path}: column {column!r} has {rows} rows; seq_len {seq_len} needs at least {need} "
        f"(80% to train on, 20% to validate, each at least seq_len + 1 rows){hint}"
    )


def _mean_std(path: Path, column: str, values: np.ndarray) -> tuple[float, float]:
    """The mean and spread, or a UserError when computing them overflows float64."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = float(values.mean()), float(values.std())
    if not (math.isfinite(mean) and math.isfinite(std)):
        raise UserError(f"{path}: column {column!r} spans {values.min():g} to {values.max():g}: its mean "
                        "or spread overflows floating point; expected values within about ±1e150")
    return mean, std


def _standardised(path: Path, column: str, series: np.ndarray, mean: float, std: float) -> torch.Tensor:
    """(series - mean) / std as float32, or a UserError when a value falls past float32's range."""
    with np.errstate(over="ignore"):
        scaled = ((series - mean) / std).astype(np.float32)
    if not np.isfinite(scaled).all():
        raise UserError(f"{path}: column {column!r} has values more than 3e38 standard deviations from "
                        "the mean of its first 80% of rows; expected values of one scale throughout")
    return torch.from_numpy(scaled)


def _line_count(path: Path) -> int:
    with open(path, "rb") as fh:
        return 1 + sum(block.count(b"\n") for block in iter(lambda: fh.read(2**20), b""))


def data_bytes(values: dict) -> int:
    """At most the largest of: the bytes read and the text; the text, its copy being parsed and
    the numbers (up to 4 bytes a character each; 8 a row, twice that while the array grows);
    the numbers with the missing ones filled or dropped, then the float32 series (the windows
    are views into it)."""
    size = file_size(values["file"])
    try:
        rows = _line_count(Path(values["file"])) if size else 0  # every row is a line, at most
    except OSError:  # build says why
        rows = 0
    if not rows:
        return 0
    text = 4 * size
    reading = max(size + text, 2 * text + 16 * rows)
    filling = {"error": 0, "drop": 9 * rows, "interpolate": 33 * rows}[values["fill_missing"]]
    after = 8 * rows + max(filling, 12 * rows)
    return FIXED_BYTES + max(reading, after)


def build(params: dict, seed: int) -> TaskData:
    # A file's rows are what they are; `seed` has nothing to draw.
    values = check(params)
    path, column, seq_len = Path(values["file"]), values["column"], values["seq_len"]
    series, counts = read_column(path, column, values["fill_missing"])
    rows = len(series)
    cut = split_point(rows)
    if min(cut, rows - cut) < seq_len + 1:
        raise _too_few(path, column, rows, seq_len)
    mean, std = _mean_std(path, column, series[:cut])
    if not std > 1e-12 * max(1.0, abs(mean)):
        raise UserError(
            f"{path}: column {column!r} is constant ({mean:g}) in its first 80% of rows; "
            "expected values that change over time"
        )
    scaled = _standardised(path, column, series, mean, std)
    train_x, train_y = window_pairs(scaled[:cut], seq_len + 1, MAX_TRAIN_WINDOWS)
    val_x, val_y = window_pairs(scaled[cut:], seq_len + 1, MAX_VAL_WINDOWS)
    return TaskData(
        kind=TASK,
        train=Split(train_x.unsqueeze(-1), train_y),
        val=Split(val_x.unsqueeze(-1), val_y),
        input_size=1,
        output_size=1,
        info={"source": path.name, "column": column, "mean": mean, "std": std, "rows": rows,
              **counts},
    )
