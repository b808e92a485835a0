"""Checkpoints: one file of tensors plus plain metadata, written atomically.

Layout (a dict, readable with `torch.load(path, weights_only=True)`):

    {"format": "rnn-tui/1",
     "core": {...},      # torch.nn.RNN/LSTM/GRU state_dict: load it into torch.nn directly
     "decoder": {...},   # seq2seq only, same layout
     "encoder": {...}, "head": {...},
     "meta": {"version", "scenario", "source", "model", "train", "step", "metrics", "task",
              "checksum"}}   # sha256 of the tensors, checked on load (older files lack it)

Loading never unpickles arbitrary objects: `weights_only=True` refuses them, and the
whole structure is checked before anything uses it.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from pathlib import Path

import torch

from rnn_tui import __version__
from rnn_tui.core.config import ModelConfig, TrainConfig, from_dict
from rnn_tui.core.files import not_a_file, what_is_in, write_atomically
from rnn_tui.errors import UserError, shown

FORMAT = "rnn-tui/1"
PARTS = ("core", "decoder", "encoder", "head")
WRITTEN_BY = "expected a file written by rnn-tui train --save"
TORCH_SAVED = "expected a file written by torch.save, e.g. rnn-tui train --save"
# What `meta` holds, and which of it every checkpoint has (older ones lack "task" and "checksum").
META = {"version": str, "scenario": str, "source": dict, "model": dict, "train": dict, "step": int,
        "metrics": dict, "task": str, "checksum": str}
META_REQUIRED = ("source", "model", "train", "step")
_KIND_WORDS = {str: "a string", dict: "a table", int: "a whole number"}


def save(path: str | os.PathLike, model: torch.nn.Module, meta: dict) -> Path:
    """Write atomically: a crash mid-save leaves the old file (or none), never half a file.
    Raises OSError when the file cannot be written."""
    payload = {"format": FORMAT}
    for part in PARTS:
        module = getattr(model, part, None)
        if module is not None:
            payload[part] = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
    payload["meta"] = {"version": __version__, **meta, "checksum": checksum(payload)}
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return write_atomically(path, buffer.getvalue())


def checksum(payload: dict) -> str:
    """sha256 over every tensor's name, dtype, shape and bytes, in part and name order."""
    digest = hashlib.sha256()
    for part in PARTS:
        tensors = payload.get(part) or {}
        for name in sorted(tensors):
            tensor = tensors[name].detach().cpu().contiguous()
            digest.update(f"{part}.{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return f"sha256:{digest.hexdigest()}"


def load_tensors(path: str | os.PathLike, what: str = "checkpoint") -> object:
    """torch.load with weights_only=True, every failure as one clear line."""
    why = not_a_file(path)
    if why:
        raise UserError(f"{what} {path}: {why}; {TORCH_SAVED}")
    try:
        with warnings.catch_warnings():  # torch warns about a plain pickle's protocol, then refuses it
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for truncated or foreign files
        raise UserError(f"{what} {path}: not a readable torch tensor file ({_unreadable(path, err)}); "
                        f"{TORCH_SAVED}") from None


def _unreadable(path, err: Exception) -> str:
    """What the file is, and why torch.load refused it."""
    kind = what_is_in(path)
    text = str(err)
    if "Unsupported global" in text:  # weights_only met a class: unpickling it could run code
        return f"{kind} holding Python objects other than tensors, which rnn-tui will not unpickle"
    if kind.startswith(("a Python pickle", "a zip archive")):
        reason = next((line.strip() for line in text.split("WeightsUnpickler error:")[-1].splitlines()
                       if line.strip()), type(err).__name__)
        return f"{kind} that torch.load(weights_only=True) cannot read: {reason[:160]}"
    return f"it is {kind}"


def load(path: str | os.PathLike) -> dict:
    """A checkpoint's payload, its whole structure checked: tensors, metadata, checksum."""
    payload = load_tensors(path)
    where = f"checkpoint {path}"
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(f"{where}: not an rnn-tui checkpoint (no {FORMAT!r} format tag); {WRITTEN_BY}")
    for part in PARTS:
        if part in payload or part == "core":
            check_tensors(payload.get(part), where, part)
    meta = check_meta(payload.get("meta"), where)
    if "checksum" in meta and meta["checksum"] != checksum(payload):
        raise UserError(f"{where}: its tensors do not match the checksum saved with them (the file was "
                        "changed or damaged after it was written); expected an intact checkpoint "
                        "(an earlier one of this run may be intact)")
    return payload


def check_tensors(state, where: str, part: str = "") -> dict:
    """`state` if it is a dict of named, dense, finite floating-point tensors; otherwise a
    UserError naming the first entry that is not."""
    if not isinstance(state, dict):
        what = f"has no {part}" if state is None and part else f"{part or 'it'} is {shown(state)}"
        raise UserError(f"{where}: {what}; expected a dict of named tensors")
    for name, tensor in state.items():
        label = f"{part}.{name}" if part else str(name)
        if not isinstance(name, str):
            raise UserError(f"{where}: a tensor is named {shown(name)}; expected names that are strings")
        if not isinstance(tensor, torch.Tensor):
            raise UserError(f"{where}: {label} is {shown(tensor)}; expected a tensor")
        if tensor.layout != torch.strided:
            raise UserError(f"{where}: {label} is a sparse tensor; expected dense floating-point weights")
        if not tensor.is_floating_point():
            raise UserError(f"{where}: {label} holds {tensor.dtype} values; expected floating-point weights")
        if not bool(tensor.isfinite().all()):
            raise UserError(f"{where}: {label} holds NaN or infinite values; expected finite weights")
    return state


def check_meta(meta, where: str) -> dict:
    """The metadata's fields, their types, the step and the model and train settings."""
    if not isinstance(meta, dict):
        what = "has no meta" if meta is None else f"meta is {shown(meta)}"
        raise UserError(f"{where}: {what}; expected a table of settings, as rnn-tui train --save writes")
    missing = [key for key in META_REQUIRED if key not in meta]
    if missing:
        raise UserError(f"{where}: meta has no {missing[0]!r}; {WRITTEN_BY}")
    for key, kind in META.items():
        value = meta.get(key, kind())
        if not isinstance(value, kind) or isinstance(value, bool):
            raise UserError(f"{where}: meta.{key} is {shown(value)}; expected {_KIND_WORDS[kind]}")
    if meta["step"] < 0:
        raise UserError(f"{where}: meta.step is {meta['step']}; expected a whole number >= 0")
    from_dict(ModelConfig, meta["model"], f"{where}: meta.model")
    from_dict(TrainConfig, meta["train"], f"{where}: meta.train")
    return meta


def apply(model: torch.nn.Module, payload: dict, path) -> None:
    """Load the tensors into a model built from the checkpoint's own metadata: every part
    the model has must be in the checkpoint, and no other."""
    for part in PARTS:
        module = getattr(model, part, None)
        tensors = payload.get(part) or {}
        if module is None:
            if tensors:
                raise UserError(f"checkpoint {path}: has a {part} this {model.task} model does not; {WRITTEN_BY}")
            continue
        try:
            module.load_state_dict(tensors, strict=True)
        except RuntimeError as err:
            detail = " ".join(line.strip() for line in str(err).splitlines()[1:])[:200]
            raise UserError(f"checkpoint {path}: its {part} does not fit this model ({detail})") from None
