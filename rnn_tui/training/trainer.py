"""The training loop: torch's fused modules, one optimizer step at a time.

The same `Trainer` serves the headless `rnn-tui train` and the background
worker. It owns the model whose `core` tensors the inspector traces, so what is
shown is what is trained. Each step records the gradient's global norm *before*
clipping (the number that explodes); a NaN or inf stops training and puts back
the last finite weights.
"""

from __future__ import annotations

import copy
import math
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Callable

import torch

from rnn_tui.core import memory, tasks
from rnn_tui.core.config import ModelConfig, TrainConfig
from rnn_tui.core.experiments import spectral_radius
from rnn_tui.core.kinds import CLASSIFYING
from rnn_tui.core.model import SequenceModel
from rnn_tui.data.base import TaskData, baseline
from rnn_tui.errors import UserError

GRAD_NORM_MEMORY = 2000  # recent pre-clip gradient norms kept, one per step
# Settings that can change while training: they take effect at the next step.
LIVE_SETTINGS = ("lr", "clip", "optimizer", "momentum", "weight_decay", "batch_size", "steps", "eval_every",
                 "dropout")


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is visible to torch; expected auto or cpu")
    if name not in ("cpu", "cuda"):
        raise UserError(f"--device: unknown device {name!r}; expected auto, cpu or cuda")
    return torch.device(name)


def make_optimizer(config: TrainConfig, params) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


@dataclass
class Diverged:
    step: int
    reason: str  # e.g. "loss is nan"
    restored_step: int


@dataclass
class Trainer:
    data: TaskData
    model_config: ModelConfig
    train_config: TrainConfig
    device: torch.device = torch.device("cpu")
    step: int = 0
    diverged: Diverged | None = None
    history: list[dict] = field(default_factory=list)
    # Where throughput's seconds come from; a fake clock makes seq/s reproducible in tests.
    clock: Callable[[], float] = time.perf_counter

    def __post_init__(self):
        self.baseline = baseline(self.data)
        self.shape = memory.Shape(self.data.kind, self.data.input_size, self.data.output_size,
                                  self.data.tokens_in, self.data.seq_len)
        self.train_split = _to(self.data.train, self.device)
        self.val_split = _to(self.data.val, self.device)
        self.reset()

    # -------------------------------------------------------------- setup
    def reset(self) -> None:
        """Fresh weights from the seed: the same seed gives the same run."""
        cfg = self.train_config
        self.model = SequenceModel(
            self.model_config, self.data.kind, self.data.input_size, self.data.output_size,
            self.data.tokens_in, seed=cfg.seed,
        ).to(self.device)
        self._optimizer = None  # made at the first step: see `optimizer`
        self.batches = torch.Generator().manual_seed(cfg.seed + 1)
        self.step, self.diverged, self.history = 0, None, []
        self._good_weights, self._good_step = copy.deepcopy(self.model.state_dict()), 0
        self._window_loss, self._window_n, self._window_start = 0.0, 0, self.clock()
        self._window_norm_sum, self._window_norm_max = 0.0, 0.0
        self.last_grad_norm = math.nan
        # The pre-clip norm of every completed step, newest last (a divergent step is not one).
        self.grad_norms: deque[float] = deque(maxlen=GRAD_NORM_MEMORY)

    def configure(self, **changes) -> None:
        """Change training settings between steps (see LIVE_SETTINGS).

        A new learning rate, weight decay or momentum is written into the optimizer's
        param groups, so Adam's moment estimates survive a learning-rate change; only a
        different optimizer type starts from fresh optimizer state.
        """
        unknown = sorted(set(changes) - set(LIVE_SETTINGS))
        if unknown:
            raise UserError(f"set: {unknown[0]!r} cannot change while training; "
                            f"expected one of {', '.join(LIVE_SETTINGS)}")
        dropout = changes.pop("dropout", None)
        new = replace(self.train_config, **changes).validate("set")  # all checked before any applies
        if dropout is not None:
            self.set_dropout(dropout)
        if new.optimizer != self.train_config.optimizer:
            self._optimizer = None  # a fresh one of the new kind at the next step
        elif self._optimizer is not None:
            for group in self._optimizer.param_groups:
                group["lr"], group["weight_decay"] = new.lr, new.weight_decay
                if "momentum" in group and new.optimizer == "sgd":
                    group["momentum"] = new.momentum
        self.train_config = new

    def set_dropout(self, dropout: float) -> None:
        """Dropout between stacked layers (torch applies none after the last layer)."""
        self.model_config = replace(self.model_config, dropout=dropout).validate("set")
        for core in (self.model.core, getattr(self.model, "decoder", None)):
            if core is not None and core.num_layers > 1:
                core.dropout = float(dropout)

    def resume_after_divergence(self) -> None:
        """Train on from the restored weights; the optimizer's state may hold the blow-up."""
        self.diverged = None
        self._optimizer = None

    def adopt(self, step: int, history: list[dict] | None = None) -> None:
        """The model now holds weights from elsewhere (a checkpoint): go on from `step` with a
        fresh optimizer (and the evaluations that led there), and treat these weights as the
        last finite ones."""
        self._optimizer = None
        self.step, self.diverged, self.history = step, None, list(history or [])
        self._good_weights, self._good_step = copy.deepcopy(self.model.state_dict()), step
        self._window_loss, self._window_n, self._window_start = 0.0, 0, self.clock()
        self._window_norm_sum, self._window_norm_max = 0.0, 0.0
        self.grad_norms.clear()
        self.last_grad_norm = math.nan

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """Made when first needed: torch's first optimizer imports torch._dynamo (~1.4 s),
        and a new run's first picture must not wait for that."""
        if self._optimizer is None:
            self._optimizer = make_optimizer(self.train_config, self.model.parameters())
        return self._optimizer

    @property
    def weights_step(self) -> int:
        """The step the model's weights are from: after a divergence, the restored ones'."""
        return self.diverged.restored_step if self.diverged else self.step

    def exclude_time(self, seconds: float) -> None:
        """Leave a pause out of the throughput measured at the next evaluation."""
        self._window_start += seconds

    # -------------------------------------------------------------- steps
    def train_step(self) -> float:
        """One optimizer step on a random batch. Returns the batch loss."""
        if self.diverged:
            return math.nan
        cfg, split = self.train_config, self.train_split
        self.model.train()
        index = torch.randint(len(split), (cfg.batch_size,), generator=self.batches).to(self.device)
        batch = split.batch(index)
        pred = self.model(batch.x, batch.dec_in)
        loss = tasks.batch_loss(self.data.kind, pred, batch.y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        params = [p for p in self.model.parameters() if p.requires_grad]
        limit = cfg.clip if cfg.clip > 0 else math.inf  # inf: measure the norm, change nothing
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, limit))
        loss_value = loss.item()
        self.last_grad_norm = grad_norm
        if not (math.isfinite(loss_value) and math.isfinite(grad_norm)):
            self._diverge("loss" if not math.isfinite(loss_value) else "gradient norm",
                          loss_value if not math.isfinite(loss_value) else grad_norm)
            return loss_value
        self.optimizer.step()
        self.step += 1
        self._window_loss += loss_value
        self._window_n += 1
        self.grad_norms.append(grad_norm)
        self._window_norm_sum += grad_norm
        if grad_norm > self._window_norm_max:
            self._window_norm_max = grad_norm
        return loss_value

    def _diverge(self, what: str, value: float) -> None:
        # Back to the last weights whose validation loss was finite: the current ones may be
        # finite and still overflow the loss, and would diverge again at once.
        self.model.load_state_dict(self._good_weights)
        self.diverged = Diverged(self.step + 1, f"{what} is {value}", self._good_step)

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Validation loss and metrics now; closes the training-loss window.

        The split is scored a chunk at a time, a chunk small enough that its outputs (a
        score per class at every step) stay within memory.EVAL_BYTES; only each
        prediction's class is kept for the metrics."""
        self.model.eval()
        split, kind = self.val_split, self.data.kind
        rows = memory.eval_rows(self.model_config, self.shape)
        total, scored, guesses = 0.0, 0, []
        for start in range(0, len(split), rows):
            part = split.batch(torch.arange(start, min(start + rows, len(split)), device=self.device))
            pred = self.model(part.x, part.dec_in)
            loss, count = tasks.loss_sum(kind, pred, part.y)
            total, scored = total + loss, scored + count
            if kind in CLASSIFYING:
                guesses.append(pred.argmax(-1).cpu())
        now = self.clock()
        seconds = max(now - self._window_start, 1e-9)
        row = {
            "step": self.step,
            "loss": self._window_loss / self._window_n if self._window_n else math.nan,
            "val_loss": total / scored if scored else math.nan,
            "grad_norm": self.last_grad_norm,
            # The steps since the last evaluation: their mean and largest pre-clip norm.
            "grad_norm_mean": self._window_norm_sum / self._window_n if self._window_n else math.nan,
            "grad_norm_max": self._window_norm_max if self._window_n else math.nan,
            "seq_per_s": self._window_n * self.train_config.batch_size / seconds,
            # W_hh's spectral radius (layer 1): how it moves as the network learns
            "spectral_radius": spectral_radius(self.model),
        }
        if guesses:
            row.update(tasks.metrics(kind, torch.cat(guesses), split.y.cpu(), self.data.output_size))
        if math.isfinite(row["val_loss"]):
            self._good_weights, self._good_step = copy.deepcopy(self.model.state_dict()), self.step
        self._window_loss, self._window_n, self._window_start = 0.0, 0, self.clock()
        self._window_norm_sum, self._window_norm_max = 0.0, 0.0
        self.history.append(row)
        return row


def _to(split, device):
    if device.type == "cpu":
        return split
    dec = None if split.dec_in is None else split.dec_in.to(device)
    return type(split)(split.x.to(device), split.y.to(device), dec)
