"""A plain torch.nn.RNN/LSTM/GRU state_dict: infer the module it came from."""

from __future__ import annotations

import re

import numpy as np
import torch
from torch import nn

from rnn_tui.core.checkpoint import load_tensors
from rnn_tui.errors import UserError

GATES_TO_ARCH = {4: "lstm", 3: "gru", 1: "rnn"}
_KEY = re.compile(r"^(weight|bias)_(ih|hh)_l(\d+)(_reverse)?$")


def core_from_state_dict(path, nonlinearity: str = "tanh") -> nn.RNNBase:
    """Build the torch.nn module whose state_dict is in `path` and load it strictly.

    Arch comes from the gate count (rows of weight_hh_l0 / hidden size: 4 LSTM,
    3 GRU, 1 RNN), layers from the highest `_l{k}`, directions from `_reverse`.
    An Elman RNN's tanh/relu is not in its tensors: pass nonlinearity.
    """
    state = load_tensors(path, "weights")
    if isinstance(state, dict) and "core" in state and isinstance(state["core"], dict):
        state = state["core"]  # an rnn-tui checkpoint: its core is a torch.nn state_dict
    if not isinstance(state, dict) or not state or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise UserError(f"weights {path}: not a state_dict (a dict of named tensors); "
                        "expected torch.save(module.state_dict()) of a torch.nn.RNN, LSTM or GRU")
    odd = sorted(k for k in state if not _KEY.match(k))
    if odd or "weight_hh_l0" not in state:
        what = f"unexpected tensor {odd[0]!r}" if odd else "no weight_hh_l0"
        raise UserError(f"weights {path}: {what}; expected the state_dict of a plain torch.nn.RNN, "
                        "LSTM or GRU (weight_ih_l0, weight_hh_l0, ...)")
    w_hh = state["weight_hh_l0"]
    hidden = w_hh.shape[1]
    gates = w_hh.shape[0] // hidden if hidden else 0
    if w_hh.ndim != 2 or gates not in GATES_TO_ARCH or gates * hidden != w_hh.shape[0]:
        raise UserError(f"weights {path}: weight_hh_l0 has shape {tuple(w_hh.shape)}; "
                        "expected [4H, H] (LSTM), [3H, H] (GRU) or [H, H] (RNN)")
    arch = GATES_TO_ARCH[gates]
    layers = 1 + max(int(_KEY.match(k).group(3)) for k in state)
    kwargs = dict(
        input_size=state["weight_ih_l0"].shape[1] if "weight_ih_l0" in state else 0,
        hidden_size=hidden, num_layers=layers,
        bidirectional=any(k.endswith("_reverse") for k in state),
        bias="bias_ih_l0" in state,
    )
    if arch == "rnn":
        kwargs["nonlinearity"] = nonlinearity
    cls = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[arch]
    core = cls(**kwargs).to(w_hh.dtype)
    try:
        core.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise UserError(f"weights {path}: tensors do not form one {arch} module "
                        f"({str(err).splitlines()[-1].strip()})") from None
    return core


def load_input(path, core: nn.RNNBase) -> torch.Tensor:
    """An [T, input_size] array from a .npy file, as the core's dtype."""
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UserError(f"--input {path}: no such file") from None
    except (ValueError, OSError) as err:
        raise UserError(f"--input {path}: not a .npy array ({err}); expected numpy.save of a "
                        f"[T, {core.input_size}] float array") from None
    if array.ndim == 1 and core.input_size == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] != core.input_size or array.shape[0] < 1:
        raise UserError(f"--input {path}: shape {array.shape}; the weights expect "
                        f"[T, {core.input_size}] (T steps of input_size {core.input_size})")
    if not np.issubdtype(array.dtype, np.number) or not np.isfinite(array).all():
        raise UserError(f"--input {path}: expected finite numbers, got dtype {array.dtype} "
                        "or NaN/inf values")
    return torch.as_tensor(array, dtype=core.weight_hh_l0.dtype)
