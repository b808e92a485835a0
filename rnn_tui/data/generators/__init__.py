"""The data generators a scenario's [data] table can name, by `generator = "..."`.

Each generator is a small module with a TASK kind, a `check(params) -> params`
that validates the [data] fields (filling in defaults) and a
`build(params, seed) -> TaskData` that is deterministic for a seed.
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


GENERATORS: dict[str, Generator] = {
    name: Generator(module.TASK, module.build, module.check)
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
