"""The data generators a scenario's [data] table can name, by `generator = "..."`.

Each generator is a small module with a TASK kind, a `check(params) -> params`
that validates the [data] fields (filling in defaults) and a
`build(params, seed) -> TaskData` that is deterministic for a seed, and a
`data_bytes(values) -> int`: an upper estimate of the peak memory that build takes,
from the checked fields alone (and the size of a file it reads), building nothing.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from rnn_tui.data.base import TaskData
from rnn_tui.data.generators import (
    adding,
    brackets,
    copy_memory,
    csv_series,
    digits,
    reverse,
    sentiment,
    sine,
    text,
)


class Generator(NamedTuple):
    task: str  # one of core.kinds.TASK_KINDS
    build: Callable[[dict, int], TaskData]
    check: Callable[[dict], dict]  # the [data] fields, validated, defaults filled in
    data_bytes: Callable[[dict], int]  # checked fields -> peak bytes build takes, at most


GENERATORS: dict[str, Generator] = {
    name: Generator(module.TASK, module.build, module.check, module.data_bytes)
    for name, module in {
        "text": text,
        "sine": sine,
        "csv": csv_series,
        "sentiment": sentiment,
        "digits": digits,
        "adding": adding,
        "copy": copy_memory,
        "brackets": brackets,
        "reverse": reverse,
    }.items()
}
