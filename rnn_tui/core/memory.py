"""How much memory a run needs, estimated before it is built, and the budget it must fit.

A run holds its data, its weights several times over (the model, the gradients, the
optimizer's state, the last finite weights kept against a divergence, the CPU copy
the inspector traces), the activations of one training batch kept for the backward
pass, one evaluation chunk and one trace. Each part is a count of numbers times their
width; the factors below were measured (benchmarks/bench_memory.py) and round up.

The budget is a fraction of the memory available when the check runs (what the
kernel calls MemAvailable, or a container's limit when that is lower), or what
`--memory-limit` (or RNN_TUI_MEMORY_LIMIT) says: "4G", "500M", "60%".
"""

from __future__ import annotations

import functools
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from rnn_tui.core.config import ModelConfig, TrainConfig
from rnn_tui.core.kinds import CLASSIFYING, MANY_TO_ONE
from rnn_tui.errors import UserError

ENV = "RNN_TUI_MEMORY_LIMIT"
DEFAULT_FRACTION = 0.75  # of the memory available: the rest is for the app and the machine
GATES = {"rnn": 1, "esn": 1, "lstm": 4, "gru": 3}
FLOAT = 4  # bytes: everything trains in float32
# Copies of the weights a trainer keeps: the model, its gradients, the last finite
# weights (against a divergence) and the inspector's CPU copy, plus the optimizer's state.
WEIGHT_COPIES = 4
OPTIMIZER_COPIES = {"adam": 2, "rmsprop": 1, "sgd": 1}
# Numbers kept per step, per layer and direction, for the backward pass, in units of the
# hidden size (measured: benchmarks/bench_memory.py), plus the layer's input.
SAVED_PER_HIDDEN = {"rnn": 8, "esn": 8, "lstm": 34, "gru": 28}
# What an evaluation chunk may take: the chunk shrinks to fit (see eval_rows).
EVAL_BYTES = 64 * 2**20
EVAL_ROWS = 512
# A trace keeps every gate and state of every step (float32) three times over: the
# trainer's, the one on its way and the app's.
TRACE_PER_HIDDEN = 3 * 4
# Torch's kernels and the optimizer's modules, loaded at the first step.
RUNTIME = 100 * 2**20
DATA_HINT = "the data's size (train_size, val_size or seq_len, or a smaller file)"
UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def size(n: float) -> str:
    """Bytes as a person reads them: 512 MB, 3.2 GB."""
    if n >= 2**30:
        return f"{n / 2**30:.1f} GB"
    return f"{max(n / 2**20, 0.1):.0f} MB" if n >= 2**20 else f"{max(n / 2**20, 0.1):.1f} MB"


# --------------------------------------------------------------------- the budget


@dataclass(frozen=True)
class Budget:
    bytes: float  # math.inf: no limit known or asked for
    how: str  # where the figure comes from, for the message


def parse_limit(text: str, option: str = "--memory-limit") -> tuple[str, float]:
    """("bytes", n) for "4G", "500M", "1.5GB", "800000000"; ("fraction", f) for "60%"."""
    value = str(text).strip().lower()
    percent = re.fullmatch(r"(\d+(?:\.\d+)?)\s*%", value)
    if percent:
        fraction = float(percent.group(1)) / 100
        if not 0 < fraction <= 1:
            raise UserError(f"{option} {text!r}: a share of the memory available must be above 0% and at "
                            "most 100%; expected e.g. 60%")
        return "fraction", fraction
    amount = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?", value)
    if not amount:
        raise UserError(f"{option} {text!r}: not a size; expected e.g. 4G, 500M or 60% (of the memory available)")
    bytes_ = float(amount.group(1)) * UNITS[amount.group(2)]
    if not (math.isfinite(bytes_) and bytes_ >= 2**20):
        raise UserError(f"{option} {text!r}: too small to train anything; expected at least 1M, e.g. 4G")
    return "bytes", bytes_


def available() -> float | None:
    """Bytes this process could still use: the kernel's MemAvailable, or the container's
    limit less its use when that is lower; None where neither can be read."""
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:  # cgroup v2
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            found.append(int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text()))
    except (OSError, ValueError):
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return None
    return float(max(min(found), 0))


def budget(limit: str | None = None, share: float = 1.0) -> Budget:
    """The budget from `limit` (or the environment's RNN_TUI_MEMORY_LIMIT), else
    DEFAULT_FRACTION of the memory available when the process first asked; `share` of
    it where several processes split it (the runs of a comparison)."""
    option = "--memory-limit"
    if limit is None and os.environ.get(ENV):
        limit, option = os.environ[ENV], ENV
    whole = _budget(limit, option)
    if share >= 1:
        return whole
    return Budget(whole.bytes * share, f"{share:.0%} of {whole.how}, one share per process")


@functools.lru_cache(maxsize=8)
def _budget(limit: str | None, option: str) -> Budget:
    """Fixed for the process: what it holds later (its data, its runs) is in the estimate."""
    kind, value = parse_limit(limit, option) if limit is not None else ("fraction", DEFAULT_FRACTION)
    if kind == "bytes":
        return Budget(value, f"a limit of {limit}")
    free = available()
    if free is None:
        return Budget(math.inf, "no limit: the memory available is unknown here")
    return Budget(value * free, f"{value:.0%} of the {size(free)} available at the start")


# --------------------------------------------------------------------- the estimate


@dataclass(frozen=True)
class Shape:
    """What the model is built for, known once the data is (or from the generator's fields)."""

    task: str
    input_size: int  # vocabulary for tokens, features for vectors
    output_size: int
    tokens_in: bool
    seq_len: int


def parameter_count(model: ModelConfig, shape: Shape) -> int:
    """Every number in a SequenceModel: encoder, core (and seq2seq decoder), head."""
    gates, hidden, directions = GATES[model.arch], model.hidden, 2 if model.bidirectional else 1
    core_in = model.embed if shape.tokens_in else shape.input_size
    core = 0
    for layer in range(model.layers):
        width = core_in if layer == 0 else directions * hidden
        core += directions * gates * hidden * (width + hidden + 2)
    cores = 2 if shape.task == "seq2seq" else 1
    encoder = shape.input_size * model.embed if shape.tokens_in else 0
    head = (directions * hidden + 1) * shape.output_size
    return encoder + cores * core + head


def eval_rows(model: ModelConfig, shape: Shape) -> int:
    """Validation sequences per evaluation chunk: at most EVAL_ROWS, fewer when a chunk's
    outputs (a score per class at every step) would pass EVAL_BYTES."""
    per_row = shape.seq_len * _step_numbers(model, shape, saved=False) * FLOAT
    return max(1, min(EVAL_ROWS, EVAL_BYTES // max(per_row, 1)))


def _step_numbers(model: ModelConfig, shape: Shape, saved: bool) -> int:
    """Numbers alive per sequence and step: the layers' (saved for backward when
    `saved`) and the head's scores (with their softmax and gradient when training)."""
    directions = 2 if model.bidirectional else 1
    core_in = model.embed if shape.tokens_in else shape.input_size
    per_hidden = SAVED_PER_HIDDEN[model.arch] if saved else 2
    layers = directions * model.layers * per_hidden * model.hidden + core_in
    if shape.task == "seq2seq":
        layers *= 2
    scored = shape.output_size if shape.task not in MANY_TO_ONE else 0
    return layers + (3 if saved else 1) * scored


@dataclass(frozen=True)
class Estimate:
    parts: dict[str, float] = field(default_factory=dict)  # name -> bytes

    @property
    def total(self) -> float:
        return sum(self.parts.values())

    def __add__(self, other: "Estimate") -> "Estimate":
        merged = dict(self.parts)
        for name, value in other.parts.items():
            merged[name] = merged.get(name, 0) + value
        return Estimate(merged)


def training(model: ModelConfig, train: TrainConfig, shape: Shape) -> Estimate:
    """One run's weights, batch, evaluation chunk and trace (its data is counted once,
    apart: runs compared side by side share it)."""
    params = parameter_count(model, shape)
    copies = WEIGHT_COPIES + OPTIMIZER_COPIES[train.optimizer]
    batch = train.batch_size * shape.seq_len * _step_numbers(model, shape, saved=True) * FLOAT
    if shape.task in MANY_TO_ONE:
        batch += train.batch_size * shape.output_size * 3 * FLOAT
    evaluation = eval_rows(model, shape) * shape.seq_len * _step_numbers(model, shape, saved=False) * FLOAT
    return Estimate({"weights and optimizer": params * copies * FLOAT,
                     "activations": batch + evaluation + RUNTIME, "trace": tracing(model, shape)})


def tracing(model: ModelConfig, shape: Shape) -> float:
    """One traced sequence: every gate and state of every step and layer."""
    directions = 2 if model.bidirectional else 1
    per_step = directions * model.layers * (GATES[model.arch] + 4) * model.hidden + shape.output_size
    cores = 2 if shape.task == "seq2seq" else 1
    return cores * shape.seq_len * per_step * TRACE_PER_HIDDEN


def check(estimate: Estimate, limit: Budget, lower: str) -> None:
    """A UserError naming the estimate, its largest parts, the budget and what to lower."""
    if estimate.total <= limit.bytes:
        return
    parts = sorted(estimate.parts.items(), key=lambda kv: -kv[1])
    shown = ", ".join(f"{name} {size(value)}" for name, value in parts if value >= 0.05 * estimate.total)
    raise UserError(f"this run needs about {size(estimate.total)} of memory ({shown}), more than the budget of "
                    f"{size(limit.bytes)} ({limit.how}); lower {lower}, or raise --memory-limit (or {ENV})")


def what_to_lower(estimate: Estimate, model: ModelConfig, train: TrainConfig, shape: Shape) -> str:
    """The settings behind the largest part, with their values."""
    largest = max(estimate.parts, key=estimate.parts.get)
    if largest == "data":
        return DATA_HINT
    if largest == "activations":
        return f"batch_size ({train.batch_size}), seq_len ({shape.seq_len}) or hidden ({model.hidden})"
    big_vocab = shape.output_size > 16 * model.hidden and shape.task in CLASSIFYING
    if big_vocab:
        return f"the vocabulary ({shape.output_size} classes: max_vocab) or hidden ({model.hidden})"
    return f"hidden ({model.hidden}), layers ({model.layers})" + (" or drop --bidirectional" if model.bidirectional else "")
