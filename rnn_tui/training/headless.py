"""`rnn-tui train`: the training loop with a progress bar, or JSON lines for scripts."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from rnn_tui.core import checkpoint
from rnn_tui.data.scenario import Scenario
from rnn_tui.training.loop import Trainer


def run(trainer: Trainer, scenario: Scenario, source: dict, save: str | None, as_json: bool) -> int:
    steps, every = trainer.train_config.steps, trainer.train_config.eval_every
    solved, metric = scenario.solved, scenario.solved.metric
    start, first_solved, row = time.perf_counter(), None, {}
    err = Console(stderr=True)
    progress = None
    if not as_json:
        progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"), TimeRemainingColumn(), console=err,
        )
        progress.start()
        task = progress.add_task(f"{scenario.name} · {trainer.model_config.arch}", total=steps, status="")
    try:
        first_step = trainer.step
        while trainer.step - first_step < steps and not trainer.diverged:
            trainer.train_step()
            done = trainer.step - first_step
            if trainer.diverged or done % every == 0 or done == steps:
                row = trainer.evaluate()
                row["elapsed_s"] = time.perf_counter() - start
                if first_solved is None and solved.met(row.get(metric, math.nan)):
                    first_solved = row["step"]
                if as_json:
                    print(json.dumps(_clean(row)), flush=True)
                else:
                    progress.update(task, completed=done, status=_status(row, metric))
    finally:
        if progress is not None:
            progress.stop()
    elapsed = time.perf_counter() - start
    final = _final(trainer, scenario, row, first_solved, elapsed, steps)
    if save:
        meta = {"scenario": scenario.name, "source": source, "model": asdict(trainer.model_config),
                "train": asdict(trainer.train_config), "step": trainer.step, "metrics": _clean(row),
                "task": trainer.data.kind}
        checkpoint.save(save, trainer.model, meta)
        final["saved"] = save
    if as_json:
        print(json.dumps(_clean(final)), flush=True)
    else:
        _summary(err, final, scenario)
    return 1 if trainer.diverged else 0


def _final(trainer, scenario, row, first_solved, elapsed, steps) -> dict:
    data, cfg = trainer.data, trainer.model_config
    metric = scenario.solved.metric
    final = {
        "final": True,
        "solved": bool(scenario.solved.met(row.get(metric, math.nan))),
        "solved_at_step": first_solved,
        "goal": {"metric": metric, scenario.solved.direction: scenario.solved.goal},
        "val_loss": row.get("val_loss", math.nan),
        "baseline": trainer.baseline["val_loss"],
        "baseline_name": trainer.baseline["name"],
        "step": trainer.step,
        "seq_per_s": steps * trainer.train_config.batch_size / elapsed if elapsed else math.nan,
        "elapsed_s": elapsed,
        "config": {"arch": cfg.arch, "hidden": cfg.hidden, "layers": cfg.layers,
                   "bidirectional": cfg.bidirectional, "batch_size": trainer.train_config.batch_size,
                   "seq_len": data.seq_len, "input_size": data.input_size,
                   "device": str(trainer.device)},
    }
    for key in ("accuracy", "precision", "recall", "f1"):
        if key in row:
            final[key] = row[key]
    if "accuracy" in trainer.baseline:
        final["baseline_accuracy"] = trainer.baseline["accuracy"]
    if trainer.diverged:
        d = trainer.diverged
        final["diverged"] = {"step": d.step, "reason": d.reason, "restored_step": d.restored_step}
    return final


def _status(row: dict, metric: str) -> str:
    parts = [f"loss {row['loss']:.4g}", f"val {row['val_loss']:.4g}"]
    if metric != "val_loss" and metric in row:
        parts.append(f"{metric} {row[metric]:.3f}")
    parts.append(f"{row['seq_per_s']:,.0f} seq/s")
    return "  ".join(parts)


def _summary(console: Console, final: dict, scenario: Scenario) -> None:
    goal = final["goal"]
    metric = goal["metric"]
    value = final.get(metric, final["val_loss"])
    mark = "[green]solved[/]" if final["solved"] else "[yellow]not solved yet[/]"
    console.print(
        f"{mark}: {metric} {value:.4g} (goal {scenario.solved.direction} {scenario.solved.goal:g}); "
        f"val_loss {final['val_loss']:.4g} vs {final['baseline']:.4g} for the naive predictor "
        f"({final['baseline_name']}); {final['seq_per_s']:,.0f} seq/s, {final['elapsed_s']:.1f} s"
    )
    if "diverged" in final:
        d = final["diverged"]
        console.print(f"[red]diverged[/] at step {d['step']}: {d['reason']}; "
                      f"weights from step {d['restored_step']} kept. Try a lower --lr or --clip.")
    if "saved" in final:
        console.print(f"checkpoint: {final['saved']}")


def _clean(row: dict) -> dict:
    """JSON has no NaN: write null instead."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
