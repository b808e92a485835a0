"""A plain torch.nn.RNN/LSTM/GRU state_dict: infer the module it came from."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from rnn_tui.core.checkpoint import check_tensors, load_tensors
from rnn_tui.core.files import NPY, not_a_file, what_is_in
from rnn_tui.errors import UserError

GATES_TO_ARCH = {4: "lstm", 3: "gru", 1: "rnn"}
CLASSES = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
_KEY = re.compile(r"^(weight|bias)_(ih|hh)_l(\d+)(_reverse)?$")
PLAIN = "expected the state_dict of a plain torch.nn.RNN, LSTM or GRU (weight_ih_l0, weight_hh_l0, ...)"


@dataclass(frozen=True)
class Shape:
    """What a state_dict's names and first tensors say about the module."""

    arch: str
    input_size: int
    hidden: int
    layers: int
    bidirectional: bool
    bias: bool

    def names(self) -> set[str]:
        kinds = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if self.bias else ())
        suffixes = ("", "_reverse") if self.bidirectional else ("",)
        return {f"{k}_l{layer}{s}" for k in kinds for layer in range(self.layers) for s in suffixes}


def core_from_state_dict(path, nonlinearity: str = "tanh") -> nn.RNNBase:
    """Build the torch.nn module whose state_dict is in `path` and load it strictly.

    Arch comes from the gate count (rows of weight_hh_l0 / hidden size: 4 LSTM,
    3 GRU, 1 RNN), layers from the highest `_l{k}`, directions from `_reverse`.
    An Elman RNN's tanh/relu is not in its tensors: pass nonlinearity. Half-precision
    weights are traced in float32.
    """
    where = f"weights {path}"
    state = load_tensors(path, "weights")
    if isinstance(state, dict) and isinstance(state.get("core"), dict):
        state = state["core"]  # an rnn-tui checkpoint: its core is a torch.nn state_dict
    if not isinstance(state, dict) or not state:
        raise UserError(f"{where}: not a state_dict (a dict of named tensors); "
                        "expected torch.save(module.state_dict()) of a torch.nn.RNN, LSTM or GRU")
    check_tensors(state, where)
    shape = _shape(state, where)
    missing, extra = sorted(shape.names() - set(state)), sorted(set(state) - shape.names())
    if missing or extra:
        what = f"no {missing[0]}" if missing else f"unexpected tensor {extra[0]!r}"
        raise UserError(f"{where}: {what} for a {shape.layers}-layer {shape.arch}; {PLAIN}")
    dtype = torch.float64 if state["weight_hh_l0"].dtype == torch.float64 else torch.float32
    kwargs = dict(input_size=shape.input_size, hidden_size=shape.hidden, num_layers=shape.layers,
                  bidirectional=shape.bidirectional, bias=shape.bias)
    if shape.arch == "rnn":
        kwargs["nonlinearity"] = nonlinearity
    core = CLASSES[shape.arch](**kwargs).to(dtype)
    try:
        core.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise UserError(f"{where}: tensors do not form one {shape.arch} module "
                        f"({str(err).splitlines()[-1].strip()})") from None
    return core


def _shape(state: dict, where: str) -> Shape:
    odd = sorted(k for k in state if not _KEY.match(k))
    if odd:
        raise UserError(f"{where}: unexpected tensor {odd[0]!r}; {PLAIN}")
    for name in ("weight_ih_l0", "weight_hh_l0"):
        if name not in state:
            raise UserError(f"{where}: no {name}; {PLAIN}")
        if state[name].ndim != 2 or 0 in state[name].shape:
            raise UserError(f"{where}: {name} has shape {tuple(state[name].shape)}; expected a matrix, "
                            "[4H, N] (LSTM), [3H, N] (GRU) or [H, N] (RNN) for N inputs and H units")
    rows, hidden = state["weight_hh_l0"].shape
    gates = rows // hidden
    if gates not in GATES_TO_ARCH or gates * hidden != rows:
        raise UserError(f"{where}: weight_hh_l0 has shape {(rows, hidden)}; "
                        "expected [4H, H] (LSTM), [3H, H] (GRU) or [H, H] (RNN)")
    return Shape(GATES_TO_ARCH[gates], input_size=state["weight_ih_l0"].shape[1], hidden=hidden,
                 layers=1 + max(int(_KEY.match(k).group(3)) for k in state),
                 bidirectional=any(k.endswith("_reverse") for k in state), bias="bias_ih_l0" in state)


def load_input(path, core: nn.RNNBase) -> torch.Tensor:
    """An [T, input_size] array of finite real numbers from a .npy file, as the core's dtype."""
    return load_inputs(path, core, many=False)[0]


def load_inputs(path, core: nn.RNNBase, many: bool = True) -> list[torch.Tensor]:
    """The sequences in a .npy file of finite real numbers, as the core's dtype: one
    [T, input_size] array, or (`many`) N of them as [N, T, input_size]."""
    shapes = f"[T, {core.input_size}]" + (f" or [N, T, {core.input_size}]" if many else "")
    expected = f"expected numpy.save of a {shapes} array of real numbers"
    why = not_a_file(path)
    if why is None and (kind := what_is_in(path)) != NPY:
        why = f"it is {kind}, not a .npy array"
    if why:
        raise UserError(f"--input {path}: {why}; {expected}")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise UserError(f"--input {path}: a .npy file numpy cannot read ({err}); {expected}") from None
    if array.ndim == 1 and core.input_size == 1:
        array = array[:, None]
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or (array.ndim == 3 and not many and array.shape[0] != 1) \
            or array.shape[2] != core.input_size or 0 in array.shape[:2]:
        raise UserError(f"--input {path}: shape {array.shape}; the weights expect "
                        f"{shapes} (T steps of input_size {core.input_size})")
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise UserError(f"--input {path}: holds {array.dtype} values; {expected}")
    with np.errstate(over="ignore"):
        inputs = torch.as_tensor(array.astype(np.float64)).to(core.weight_hh_l0.dtype)
    if not bool(inputs.isfinite().all()):
        raise UserError(f"--input {path}: holds NaN or infinite values (or values past "
                        f"{inputs.dtype}'s range); {expected}")
    return list(inputs)


def one_hot_text(text: str, vocab: str, core: nn.RNNBase) -> tuple[np.ndarray, torch.Tensor]:
    """(token ids [T], one-hot inputs [T, len(vocab)]) of `text` over the characters of
    `vocab`, one input column each, in order."""
    if len(vocab) != core.input_size:
        raise UserError(f"--vocab: {len(vocab)} characters for weights of input_size {core.input_size}; "
                        "expected one character per input column")
    if len(set(vocab)) != len(vocab):
        raise UserError(f"--vocab {vocab!r}: a character appears twice; expected each once")
    unknown = sorted(set(text) - set(vocab))
    if unknown:
        raise UserError(f"--input-text: {', '.join(map(repr, unknown))} not in --vocab {vocab!r}; "
                        "expected only the vocabulary's characters")
    if not text:
        raise UserError("--input-text: empty; expected at least one character")
    ids = np.array([vocab.index(ch) for ch in text])
    return ids, torch.eye(len(vocab), dtype=core.weight_hh_l0.dtype)[torch.as_tensor(ids)]
