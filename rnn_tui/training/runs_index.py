"""The runs folder read back: one record per run, a run's curves, deleting a run.

What `RunFolder` writes (run.json, metrics.jsonl, summary.json, step-<N>.pt) is read
here with json alone, never torch: `rnn-tui runs` and the app's runs view list a
thousand runs in a fraction of a second. summary.json holds what a listing needs
(last step, best figure, step solved); a folder without one (a run killed before its
first evaluation, or an older version's) is summarised from metrics.jsonl.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rnn_tui.errors import UserError

CHECKPOINT = re.compile(r"step-(\d+)\.pt$")
METRIC_DIRECTION = {"val_loss": "below", "accuracy": "above"}  # for folders without a goal


@dataclass(frozen=True)
class RunRecord:
    path: str
    name: str
    scenario: str
    arch: str
    hidden: int
    layers: int
    bidirectional: bool
    task: str
    step: int  # the newest evaluated step
    metric: str  # the scenario's goal metric: what `best` is
    best: float | None  # its best value over the run's evaluations
    goal: float | None
    solved_at: int | None  # the first evaluated step that met the goal
    checkpoint: str | None  # the newest step-<N>.pt
    updated: float  # when the run last wrote anything (seconds since the epoch)
    started: float  # when its folder was made
    resumed_from: str | None = None

    @property
    def size(self) -> str:
        both = " bi" if self.bidirectional else ""
        return f"{self.layers}×{self.hidden}{both}"

    def to_json(self) -> dict:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def fold(summary: dict | None, row: dict, goal: dict) -> dict:
    """The summary of a run's rows so far, with one more row: last step, best value of the
    goal's metric and the first step that met the goal."""
    metric = goal.get("metric", "val_loss")
    direction = goal.get("direction", METRIC_DIRECTION.get(metric, "below"))
    target = goal.get("goal")
    summary = summary or {"step": 0, "metric": metric, "best": None, "goal": target, "solved_at": None}
    value, step = row.get(metric), row.get("step", 0)
    out = {**summary, "step": step}
    if isinstance(value, (int, float)) and math.isfinite(value):
        better = min if direction == "below" else max
        out["best"] = value if summary["best"] is None else better(summary["best"], value)
        met = target is not None and (value < target if direction == "below" else value > target)
        if met and summary["solved_at"] is None:
            out["solved_at"] = step
    return out


def summarise(rows: list[dict], goal: dict) -> dict:
    summary = fold(None, {}, goal) if not rows else None
    for row in rows:
        summary = fold(summary, row, goal)
    return summary


def _row(line: bytes) -> dict | None:
    try:
        row = json.loads(line)
    except ValueError:  # a line cut short by a kill
        return None
    return row if isinstance(row, dict) else None


def read_rows(folder: str | Path, up_to: int | None = None, limit: int | None = None) -> list[dict]:
    """metrics.jsonl's rows (those up to step `up_to`: the rows are in step order), at most
    about `limit` of them, evenly thinned, the last always kept. Only the kept lines are
    parsed; a line that does not parse is skipped."""
    try:
        lines = Path(folder, "metrics.jsonl").read_bytes().splitlines()
    except OSError:
        return []
    end = len(lines)
    while end and ((row := _row(lines[end - 1])) is None or (up_to is not None and row.get("step", 0) > up_to)):
        end -= 1
    lines = lines[:end]
    stride = 1 if not limit else max(1, -(-len(lines) // limit))
    picked = lines[::stride] + ([lines[-1]] if lines and (len(lines) - 1) % stride else [])
    return [row for row in map(_row, picked) if row is not None]


def _json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def record(folder: str | Path) -> RunRecord | None:
    """The run in `folder`, or None when it is not a run folder (no readable run.json)."""
    folder = Path(folder)
    described = _json(folder / "run.json")
    if not described:
        return None
    model = described.get("model") if isinstance(described.get("model"), dict) else {}
    goal = described.get("goal") if isinstance(described.get("goal"), dict) else {}
    summary = _json(folder / "summary.json") or summarise(read_rows(folder), goal)
    newest, updated, started = None, 0.0, 0.0
    with os.scandir(folder) as entries:
        for entry in entries:
            try:
                mtime = entry.stat().st_mtime
            except OSError:
                continue
            updated = max(updated, mtime)
            if entry.name == "run.json":
                started = mtime
            match = CHECKPOINT.match(entry.name)
            if match and (newest is None or int(match.group(1)) > newest[0]):
                newest = (int(match.group(1)), entry.path)
    return RunRecord(
        path=str(folder), name=folder.name, scenario=str(described.get("scenario", "?")),
        arch=str(model.get("arch", "?")), hidden=int(model.get("hidden", 0) or 0),
        layers=int(model.get("layers", 1) or 1), bidirectional=bool(model.get("bidirectional")),
        task=str(described.get("task", "?")), step=int(summary.get("step", 0) or 0),
        metric=str(summary.get("metric", "val_loss")), best=summary.get("best"), goal=summary.get("goal"),
        solved_at=summary.get("solved_at"), checkpoint=newest[1] if newest else None, updated=updated,
        started=started, resumed_from=described.get("resumed_from"),
    )


def list_runs(runs_dir: str | Path) -> list[RunRecord]:
    """Every run under `runs_dir`, the most recently written first."""
    root = Path(runs_dir)
    if root.exists() and not root.is_dir():
        raise UserError(f"runs folder {runs_dir}: is a file; expected a folder of runs")
    if not root.is_dir():
        return []
    found = []
    with os.scandir(root) as entries:
        for entry in entries:
            if entry.is_dir() and not entry.name.startswith("."):
                rec = record(entry.path)
                if rec is not None:
                    found.append(rec)
    return sorted(found, key=lambda r: r.updated, reverse=True)


def delete_run(folder: str | Path, runs_dir: str | Path) -> None:
    """Remove one run's folder; only a run folder directly under `runs_dir`."""
    folder, root = Path(folder).resolve(), Path(runs_dir).resolve()
    if folder.parent != root or not (folder / "run.json").is_file():
        raise UserError(f"delete {folder}: not a run folder under {runs_dir}")
    shutil.rmtree(folder)


def age(seconds: float, now: float | None = None) -> str:
    """'40 s', '5 min', '3 h', '2 d' ago."""
    ago = max(0.0, (now or time.time()) - seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if ago >= size:
            return f"{ago // size:.0f} {unit}"
    return f"{ago:.0f} s"


def figure(rec: RunRecord, short: bool = False) -> str:
    """The best value of the goal's metric, e.g. 'val_loss 0.0031' or 'accuracy 98.2%'
    ('loss 0.0031', 'acc 98.2%' short)."""
    if rec.best is None:
        return "—" if short else "not evaluated"
    if rec.metric == "accuracy":
        return f"{'acc' if short else 'accuracy'} {rec.best:.1%}"
    return f"{'loss' if short and rec.metric == 'val_loss' else rec.metric} {rec.best:.4g}"
