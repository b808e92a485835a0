"""Checkpoints: one file of tensors plus plain metadata, written atomically.

Layout (a dict, readable with `torch.load(path, weights_only=True)`):

    {"format": "rnn-tui/1",
     "core": {...},      # torch.nn.RNN/LSTM/GRU state_dict: load it into torch.nn directly
     "decoder": {...},   # seq2seq only, same layout
     "encoder": {...}, "head": {...},
     "meta": {"version", "scenario", "source", "model", "train", "step", "metrics"}}

Loading never unpickles arbitrary objects: `weights_only=True` refuses them.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import torch

from rnn_tui import __version__
from rnn_tui.errors import UserError

FORMAT = "rnn-tui/1"
PARTS = ("core", "decoder", "encoder", "head")
STALE_TMP_S = 600  # a temp file this old is a save that was killed: removed at the next save


def save(path: str | os.PathLike, model: torch.nn.Module, meta: dict) -> Path:
    """Write atomically: a crash mid-save leaves the old file (or none), never half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "meta": {"version": __version__, **meta}}
    for part in PARTS:
        module = getattr(model, part, None)
        if module is not None:
            payload[part] = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
    _remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _remove_stale_temps(path: Path) -> None:
    for old in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if time.time() - old.stat().st_mtime > STALE_TMP_S:
                old.unlink()
        except OSError:
            pass


def load_tensors(path: str | os.PathLike, what: str = "checkpoint") -> object:
    """torch.load with weights_only=True, every failure as one clear line."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} {path}: no such file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for truncated or foreign files
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "weights_only" in str(err) or "Unsupported global" in str(err):
            reason = "it holds Python objects other than tensors, which rnn-tui will not unpickle"
        raise UserError(
            f"{what} {path}: not a readable torch tensor file ({reason[:160]}); "
            "expected a file written by torch.save, e.g. rnn-tui train --save"
        ) from None


def load(path: str | os.PathLike) -> dict:
    payload = load_tensors(path)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or "core" not in payload:
        raise UserError(
            f"checkpoint {path}: not an rnn-tui checkpoint (no {FORMAT!r} format tag); "
            "expected a file written by rnn-tui train --save"
        )
    for part in PARTS:
        for name, tensor in (payload.get(part) or {}).items():
            if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() and not bool(tensor.isfinite().all()):
                raise UserError(f"checkpoint {path}: {part}.{name} holds NaN or infinite values; "
                                "expected finite weights (an earlier checkpoint of this run may be intact)")
    return payload


def apply(model: torch.nn.Module, payload: dict, path) -> None:
    """Load the tensors into a model built from the checkpoint's own metadata."""
    for part in PARTS:
        module = getattr(model, part, None)
        if module is None or part not in payload:
            continue
        try:
            module.load_state_dict(payload[part], strict=True)
        except RuntimeError as err:
            first = str(err).splitlines()[0]
            raise UserError(f"checkpoint {path}: its {part} does not fit this model ({first})") from None
