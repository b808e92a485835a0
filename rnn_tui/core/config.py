"""Model and training settings: plain dataclasses, validated once, on the way in."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from rnn_tui.errors import UserError

ARCHS = ("rnn", "lstm", "gru", "esn")
NONLINEARITIES = ("tanh", "relu")
OPTIMIZERS = ("adam", "sgd", "rmsprop")


@dataclass(frozen=True)
class ModelConfig:
    arch: str = "lstm"
    hidden: int = 64
    layers: int = 1
    bidirectional: bool = False
    nonlinearity: str = "tanh"  # Elman RNN and ESN only
    embed: int = 16  # embedding width for token inputs
    dropout: float = 0.0  # between layers, while training
    spectral_radius: float = 0.9  # ESN reservoir
    input_scale: float = 1.0  # ESN input weights

    def validate(self, where: str = "model") -> "ModelConfig":
        _choice(where, "arch", self.arch, ARCHS)
        _choice(where, "nonlinearity", self.nonlinearity, NONLINEARITIES)
        _positive_int(where, "hidden", self.hidden, upper=4096)
        _positive_int(where, "layers", self.layers, upper=3)
        _positive_int(where, "embed", self.embed, upper=4096)
        _finite(where, "dropout", self.dropout, low=0.0, high=0.99)
        _finite(where, "spectral_radius", self.spectral_radius, low=1e-6, high=10.0)
        _finite(where, "input_scale", self.input_scale, low=0.0, high=100.0)
        if not isinstance(self.bidirectional, bool):
            raise UserError(f"{where}: bidirectional must be true or false, got {self.bidirectional!r}")
        return self


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 2000
    lr: float = 3e-3
    batch_size: int = 32
    clip: float = 1.0  # global gradient-norm threshold; 0 turns clipping off
    optimizer: str = "adam"
    momentum: float = 0.9  # SGD
    weight_decay: float = 0.0
    eval_every: int = 100
    seed: int = 0
    checkpoint_every: int = 10  # evaluations between checkpoints in the run folder; 0: only on quit

    def validate(self, where: str = "train") -> "TrainConfig":
        _positive_int(where, "steps", self.steps)
        _positive_int(where, "batch_size", self.batch_size, upper=65536)
        _positive_int(where, "eval_every", self.eval_every)
        _finite(where, "lr", self.lr, low=0.0, high=100.0, open_low=True)
        _finite(where, "clip", self.clip, low=0.0, high=1e9)
        _finite(where, "momentum", self.momentum, low=0.0, high=0.9999)
        _finite(where, "weight_decay", self.weight_decay, low=0.0, high=10.0)
        _choice(where, "optimizer", self.optimizer, OPTIMIZERS)
        if not isinstance(self.checkpoint_every, int) or isinstance(self.checkpoint_every, bool) \
                or not 0 <= self.checkpoint_every <= 10**9:
            raise UserError(f"{where}: checkpoint_every must be an integer from 0 to {10**9}, "
                            f"got {self.checkpoint_every!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise UserError(f"{where}: seed must be an integer, got {self.seed!r}")
        return self


def from_dict(cls, values: dict, where: str):
    """Build a config from a TOML table or a checkpoint's metadata, naming bad fields."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise UserError(f"{where}: unknown field {unknown[0]!r}; expected one of {', '.join(known)}")
    defaults = cls()
    typed = {}
    for key, value in values.items():
        expected = type(getattr(defaults, key))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
            raise UserError(
                f"{where}: {key} must be {expected.__name__}, got {type(value).__name__} {value!r}"
            )
        typed[key] = value
    return replace(defaults, **typed).validate(where)


def to_dict(config) -> dict:
    return asdict(config)


def _choice(where, name, value, options):
    if value not in options:
        raise UserError(f"{where}: unknown {name} {value!r}; expected one of {', '.join(options)}")


def _positive_int(where, name, value, upper=10**9):
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= upper:
        raise UserError(f"{where}: {name} must be an integer from 1 to {upper}, got {value!r}")


def _finite(where, name, value, low, high, open_low=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if open_low else value >= low) and value <= high
    if not ok:
        bound = f"greater than {low}" if open_low else f"from {low}"
        raise UserError(f"{where}: {name} must be a finite number {bound} to {high}, got {value!r}")
