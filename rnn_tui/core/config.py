"""Model and training settings: plain dataclasses, validated once, on the way in."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from rnn_tui.errors import UserError

ARCHS = ("rnn", "lstm", "gru", "esn")
NONLINEARITIES = ("tanh", "relu")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
# numpy's legacy seeding takes 0 to 2**32 - 1; one range for every seed, wherever it is given.
MAX_SEED = 2**32 - 1
MAX_SAMPLE_LENGTH = 100_000  # tokens one generation may ask for (a [sample] length, sample --length)


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
    init_radius: float = 0.0  # rnn, lstm, gru: W_hh starts at this spectral radius (each gate's block); 0: torch's init

    def validate(self, where: str = "model") -> "ModelConfig":
        _choice(where, "arch", self.arch, ARCHS)
        _choice(where, "nonlinearity", self.nonlinearity, NONLINEARITIES)
        _int_in(where, "hidden", self.hidden, high=4096)
        _int_in(where, "layers", self.layers, high=3)
        _int_in(where, "embed", self.embed, high=4096)
        _finite(where, "dropout", self.dropout, low=0.0, high=0.99)
        _finite(where, "spectral_radius", self.spectral_radius, low=1e-6, high=10.0)
        _finite(where, "input_scale", self.input_scale, low=0.0, high=100.0)
        _finite(where, "init_radius", self.init_radius, low=0.0, high=10.0)
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
        _int_in(where, "steps", self.steps)
        _int_in(where, "batch_size", self.batch_size, high=65536)
        _int_in(where, "eval_every", self.eval_every)
        _finite(where, "lr", self.lr, low=0.0, high=100.0, open_low=True)
        _finite(where, "clip", self.clip, low=0.0, high=1e9)
        _finite(where, "momentum", self.momentum, low=0.0, high=0.9999)
        _finite(where, "weight_decay", self.weight_decay, low=0.0, high=10.0)
        _choice(where, "optimizer", self.optimizer, OPTIMIZERS)
        _int_in(where, "checkpoint_every", self.checkpoint_every, low=0)
        _int_in(where, "seed", self.seed, low=0, high=MAX_SEED)
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


def _int_in(where, name, value, low=1, high=10**9):
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise UserError(f"{where}: {name} must be an integer from {low} to {high}, got {value!r}")


def _finite(where, name, value, low, high, open_low=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > low if open_low else value >= low) and value <= high
    if not ok:
        bound = f"greater than {low}" if open_low else f"from {low}"
        raise UserError(f"{where}: {name} must be a finite number {bound} to {high}, got {value!r}")
