"""A training run's folder: metrics.jsonl as it trains, checkpoints when asked.

    runs/<scenario>-<arch>-<YYYYmmdd-HHMMSS>/
        run.json        what was trained: source, model and train settings at the start
        metrics.jsonl   one evaluation row per line (plus its wall-clock "time"), flushed
                        as it is written
        step-<N>.pt     checkpoints (core.checkpoint: atomic, tensors + plain metadata)

The folder is made at the first write, so opening the app and quitting untrained
leaves nothing behind.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import asdict
from pathlib import Path

from rnn_tui.core import checkpoint
from rnn_tui.training.loop import Trainer


def checkpoint_meta(trainer: Trainer, scenario_name: str, source: dict) -> dict:
    """What `rnn-tui trace --checkpoint F` and `rnn-tui train --checkpoint F` read back
    (the same fields `rnn-tui train --save` writes)."""
    row = trainer.history[-1] if trainer.history else {}
    return {"scenario": scenario_name, "source": source, "model": asdict(trainer.model_config),
            "train": asdict(trainer.train_config), "step": trainer.step, "metrics": clean(row),
            "task": trainer.data.kind}


def clean(row: dict) -> dict:
    """JSON has no NaN or inf: write null instead."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}


class RunFolder:
    def __init__(self, runs_dir: str | Path, scenario: str, arch: str, started: float | None = None):
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started or time.time()))
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", scenario).strip("._") or "run"
        self.root = Path(runs_dir)
        self.name = f"{safe}-{arch}-{stamp}"
        self.path: Path | None = None  # chosen at the first write
        self._metrics = None

    def _ensure(self, describe: dict) -> Path:
        if self.path is None:
            self.root.mkdir(parents=True, exist_ok=True)
            for n in range(1, 1000):  # two runs started in the same second get -2, -3, ...
                candidate = self.root / (self.name if n == 1 else f"{self.name}-{n}")
                try:
                    candidate.mkdir()
                    break
                except FileExistsError:
                    continue
            self.path = candidate
            (candidate / "run.json").write_text(json.dumps(describe, indent=2) + "\n")
        return self.path

    def append(self, row: dict, describe: dict) -> None:
        """One evaluation row; flushed now, so a killed app loses at most the row being written."""
        if self._metrics is None:
            self._metrics = open(self._ensure(describe) / "metrics.jsonl", "a", encoding="utf-8")
        self._metrics.write(json.dumps({**clean(row), "time": round(time.time(), 3)}) + "\n")
        self._metrics.flush()

    def save(self, trainer: Trainer, meta: dict, describe: dict, path: str | Path | None = None) -> Path:
        target = Path(path) if path else self._ensure(describe) / f"step-{trainer.step}.pt"
        return checkpoint.save(target, trainer.model, meta)

    def close(self) -> None:
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None
