"""A training run's folder: metrics.jsonl as it trains, checkpoints when asked.

    runs/<scenario>-<arch>-<YYYYmmdd-HHMMSS>/
        run.json        what was trained: source, model and train settings and the goal
                        at the start (and the checkpoint it was resumed from, if any)
        metrics.jsonl   one evaluation row per line (plus its wall-clock "time"), flushed
                        as it is written; a resumed run's starts with the history of the
                        run it was resumed from, up to the checkpoint's step
        summary.json    last step, best figure and the step the goal was met, rewritten
                        (atomically) at each evaluation: what `rnn-tui runs` lists
        step-<N>.pt     checkpoints (core.checkpoint: atomic, tensors + plain metadata)

The folder is made at the first write, so opening the app and quitting untrained
leaves nothing behind.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from dataclasses import asdict
from pathlib import Path

from rnn_tui.core import checkpoint
from rnn_tui.training.runs_index import fold
from rnn_tui.training.trainer import Trainer

KEEP_PERIODIC = 2  # periodic checkpoints kept per run folder (the newest); saved by hand: all


def checkpoint_meta(trainer: Trainer, scenario_name: str, source: dict) -> dict:
    """What `rnn-tui trace --checkpoint F` and `rnn-tui train --checkpoint F` read back.
    `step` is the weights' own step: after a divergence, that of the restored weights."""
    rows = [r for r in trainer.history if r.get("step", 0) <= trainer.weights_step]
    return {"scenario": scenario_name, "source": source, "model": asdict(trainer.model_config),
            "train": asdict(trainer.train_config), "step": trainer.weights_step,
            "metrics": clean(rows[-1] if rows else {}), "task": trainer.data.kind}


def clean(row: dict) -> dict:
    """JSON has no NaN or inf: write null instead."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}


class RunFolder:
    def __init__(self, runs_dir: str | Path, scenario: str, arch: str, started: float | None = None,
                 history: list[dict] | None = None, resumed_from: str | None = None):
        """`history`: the evaluation rows of the run this one goes on from (resumed from the
        checkpoint `resumed_from`), written at the top of metrics.jsonl."""
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started or time.time()))
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", scenario).strip("._") or "run"
        self.root = Path(runs_dir)
        base = f"{safe}-{arch}-{stamp}"
        # Named now, so the run can say where it will write; two runs started in the same
        # second get -2, -3, ... (the folder itself is made at the first write).
        self.name = next((n for n in (base, *(f"{base}-{i}" for i in range(2, 1000)))
                          if not (self.root / n).exists()), base)
        self.path: Path | None = None  # chosen at the first write
        self._metrics = None
        self._periodic: list[Path] = []  # periodic checkpoints written, oldest first
        self._kept: set[Path] = set()  # saved by hand or on quit: never pruned
        self._carried = [clean(r) for r in history or []]
        self._summary: dict | None = None  # what summary.json says
        self._resumed_from = resumed_from

    @property
    def where(self) -> Path:
        """The folder, or where it will be once something is written."""
        return self.path or self.root / self.name

    def _ensure(self, describe: dict) -> Path:
        if self.path is None:
            self.root.mkdir(parents=True, exist_ok=True)
            for n in range(1, 1000):  # another process took the name meanwhile: -2, -3, ...
                candidate = self.root / (self.name if n == 1 else f"{self.name}-{n}")
                try:
                    candidate.mkdir()
                    break
                except FileExistsError:
                    continue
            self.path = candidate
            resumed = {"resumed_from": self._resumed_from} if self._resumed_from else {}
            (candidate / "run.json").write_text(json.dumps({**describe, **resumed}, indent=2) + "\n")
            if self._carried:
                lines = "".join(json.dumps(r) + "\n" for r in self._carried)
                (candidate / "metrics.jsonl").write_text(lines, encoding="utf-8")
                self._summarise(self._carried, describe)
        return self.path

    def append(self, row: dict, describe: dict) -> None:
        """One evaluation row; flushed now, so a killed app loses at most the row being written."""
        if self._metrics is None:
            self._metrics = open(self._ensure(describe) / "metrics.jsonl", "a", encoding="utf-8")
        row = {**clean(row), "time": round(time.time(), 3)}
        self._metrics.write(json.dumps(row) + "\n")
        self._metrics.flush()
        self._summarise([row], describe)

    def _summarise(self, rows: list[dict], describe: dict) -> None:
        """summary.json with more rows, replaced whole: a reader never sees half of one."""
        for row in rows:
            self._summary = fold(self._summary, row, describe.get("goal", {}))
        temp = self.path / ".summary.json.tmp"
        temp.write_text(json.dumps(clean(self._summary)) + "\n")
        os.replace(temp, self.path / "summary.json")

    def save(self, trainer: Trainer, meta: dict, describe: dict, path: str | Path | None = None,
             periodic: bool = False) -> Path:
        """A checkpoint at `path`, or step-<N>.pt in the folder. Periodic ones beyond the
        newest KEEP_PERIODIC are deleted; one saved by hand (or on quit) is kept."""
        target = Path(path) if path else self._ensure(describe) / f"step-{meta['step']}.pt"
        written = checkpoint.save(target, trainer.model, meta)
        if not periodic:
            self._kept.add(written)
            if written in self._periodic:
                self._periodic.remove(written)
        elif written not in self._kept and written not in self._periodic:
            self._periodic.append(written)
            while len(self._periodic) > KEEP_PERIODIC:
                self._periodic.pop(0).unlink(missing_ok=True)
        return written

    def close(self) -> None:
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None
