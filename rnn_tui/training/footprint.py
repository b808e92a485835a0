"""Whether a run fits in memory: checked before its data is built, then before its models are.

Each check raises a UserError that names the estimate, the budget and what to lower
(see core/memory.py), so a configuration that would exhaust the machine is refused
in one line instead of dying in torch's allocator.
"""

from __future__ import annotations

from rnn_tui.core import memory
from rnn_tui.core.config import ModelConfig, TrainConfig
from rnn_tui.data.base import TaskData
from rnn_tui.data.generators import GENERATORS
from rnn_tui.data.scenario import Scenario

def check_data(scenario: Scenario, share: float = 1.0) -> None:
    """Before building: the generator's estimate of the data's peak."""
    need = GENERATORS[scenario.data["generator"]].data_bytes(scenario.data)
    memory.check(memory.Estimate({"data": need}), memory.budget(share=share), memory.DATA_HINT)


def shape_of(data: TaskData) -> memory.Shape:
    return memory.Shape(data.kind, data.input_size, data.output_size, data.tokens_in, data.seq_len)


def data_bytes(data: TaskData) -> int:
    """The memory the data's tensors hold: each storage once (windows are views into a series)."""
    storages = {t.untyped_storage().data_ptr(): t.untyped_storage().nbytes()
                for split in (data.train, data.val) for t in (split.x, split.y, split.dec_in) if t is not None}
    return sum(storages.values())


def check_runs(data: TaskData, configs: list[tuple[ModelConfig, TrainConfig]], share: float = 1.0) -> None:
    """Before building the models: the data as built, plus every run's weights, optimizer
    state, batch, evaluation chunk and trace."""
    shape = shape_of(data)
    estimate = memory.Estimate({"data": data_bytes(data)})
    for model, train in configs:
        estimate += memory.training(model, train, shape)
    model, train = max(configs, key=lambda c: memory.training(c[0], c[1], shape).total)
    memory.check(estimate, memory.budget(share=share), memory.what_to_lower(estimate, model, train, shape))
