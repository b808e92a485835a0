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
from dataclasses import dataclass, field, replace

import torch

from rnn_tui.core import tasks
from rnn_tui.core.config import ModelConfig, TrainConfig
from rnn_tui.core.model import SequenceModel
from rnn_tui.data.base import TaskData

EVAL_BATCH = 512


def pick_device(name: str) -> torch.device:
    from rnn_tui.errors import UserError

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

    def __post_init__(self):
        self.baseline = tasks.baseline(self.data)
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
        self.optimizer = make_optimizer(cfg, self.model.parameters())
        self.batches = torch.Generator().manual_seed(cfg.seed + 1)
        self.step, self.diverged, self.history = 0, None, []
        self._good_weights, self._good_step = copy.deepcopy(self.model.state_dict()), 0
        self._window_loss, self._window_n, self._window_start = 0.0, 0, time.perf_counter()
        self.last_grad_norm = math.nan

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.train_config = replace(self.train_config, lr=lr).validate()

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
        return loss_value

    def _diverge(self, what: str, value: float) -> None:
        weights_finite = all(torch.isfinite(p).all() for p in self.model.parameters())
        restored = self.step
        if not weights_finite:
            self.model.load_state_dict(self._good_weights)
            restored = self._good_step
        self.diverged = Diverged(self.step + 1, f"{what} is {value}", restored)

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Validation loss and metrics now; closes the training-loss window."""
        self.model.eval()
        split, kind = self.val_split, self.data.kind
        preds = []
        for start in range(0, len(split), EVAL_BATCH):
            part = split.batch(torch.arange(start, min(start + EVAL_BATCH, len(split)), device=self.device))
            preds.append(self.model(part.x, part.dec_in))
        pred = torch.cat(preds)
        now = time.perf_counter()
        seconds = max(now - self._window_start, 1e-9)
        row = {
            "step": self.step,
            "loss": self._window_loss / self._window_n if self._window_n else math.nan,
            "val_loss": float(tasks.batch_loss(kind, pred, split.y)),
            "grad_norm": self.last_grad_norm,
            "seq_per_s": self._window_n * self.train_config.batch_size / seconds,
        }
        row.update(tasks.metrics(kind, pred.cpu(), split.y.cpu(), self.data.output_size))
        if math.isfinite(row["val_loss"]):
            self._good_weights, self._good_step = copy.deepcopy(self.model.state_dict()), self.step
        self._window_loss, self._window_n, self._window_start = 0.0, 0, time.perf_counter()
        self.history.append(row)
        return row


def _to(split, device):
    if device.type == "cpu":
        return split
    dec = None if split.dec_in is None else split.dec_in.to(device)
    return type(split)(split.x.to(device), split.y.to(device), dec)
