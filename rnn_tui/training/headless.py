"""`rnn-tui train`: one Run trained headless, with a progress bar or JSON lines for scripts.

It drives the same `Run` as the app's trainer process, so the evaluation schedule, the
solved check, divergence handling, periodic checkpoints, the run folder and checkpoint
loading exist once. Ctrl-C, SIGTERM and SIGHUP stop it between steps; what was trained is
saved first and the line says where.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from rnn_tui.core.generate import sample_text
from rnn_tui.data.scenario import Scenario
from rnn_tui.errors import UserError
from rnn_tui.training.protocol import TrainerError
from rnn_tui.training.run import Run
from rnn_tui.training.run_folder import clean

END_SIGNALS = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGHUP: 129}  # exit status 128 + signal


def run(run: Run, save: str | None, as_json: bool) -> int:
    """Train `run` for its budget (its train config's steps, from where it starts)."""
    trainer, scenario = run.trainer, run.scenario
    steps = trainer.train_config.steps
    metric = scenario.solved.metric
    start, row, seen = time.perf_counter(), {}, len(trainer.history)
    err = Console(stderr=True)
    progress = None
    if not as_json:
        progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"), TimeRemainingColumn(), console=err,
        )
        progress.start()
        task = progress.add_task(f"{scenario.name} · {trainer.model_config.arch}", total=steps, status="")
    caught: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: caught.append(signum)) for sig in END_SIGNALS}
    first_step = trainer.step
    try:
        run.resume()
        while run.running and not caught:
            run.train_one()
            if len(trainer.history) > seen:
                seen, row = len(trainer.history), dict(trainer.history[-1])
                row["elapsed_s"] = time.perf_counter() - start
                if as_json:
                    print(json.dumps(clean(row)), flush=True)
                else:
                    progress.update(task, completed=trainer.step - first_step, status=_status(row, metric))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if progress is not None:
            progress.stop()
    elapsed = time.perf_counter() - start
    trained = trainer.step - first_step
    final = _final(trainer, scenario, row, run.solved_at, elapsed, trained)
    if trainer.data.kind == "next_token" and not trainer.diverged and not caught:
        final["sample"] = sample_from(trainer.model, trainer.data, scenario.sample, trainer.train_config.seed)
    try:
        final.update(_keep(run, save, err))
    finally:
        run.close()  # the run folder's metrics file, also when --save cannot be written
    if caught:
        final["interrupted"] = signal.Signals(caught[0]).name
    if as_json:
        print(json.dumps(clean(final)), flush=True)
    else:
        _summary(err, final, scenario)
    if caught:
        return END_SIGNALS[caught[0]]
    return 1 if trainer.diverged else 0


def _keep(run: Run, save: str | None, err: Console) -> dict:
    """The run folder's checkpoint, and --save's. A diverged run never writes over an
    existing --save file: the file may hold better weights than the restored ones."""
    out = {}
    if run.folder is not None:
        out["run_folder"] = str(run.folder.where)
        try:
            out["checkpoint"] = run.keep() or run.saved
        except UserError as error:
            err.print(f"rnn-tui: {error}", markup=False, highlight=False)
    if save:
        if run.trainer.diverged and Path(save).exists():
            out["not_saved"] = (f"{save} kept as it was: training diverged, and the restored weights "
                                f"(step {run.trainer.weights_step}) are in the run folder")
        else:
            out["saved"] = run.save(save)
    return out


def say_errors(message) -> None:
    """What a headless Run says: errors go to stderr; notices are in the summary already."""
    if isinstance(message, TrainerError):
        print(f"rnn-tui: {message.reason}", file=sys.stderr)


def _final(trainer, scenario, row, first_solved, elapsed, steps) -> dict:
    row = row or (trainer.history[-1] if trainer.history else {})
    data, cfg = trainer.data, trainer.model_config
    metric = scenario.solved.metric
    final = {
        "final": True,
        "solved": first_solved is not None,  # the goal was met at some evaluation
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


def sample_from(model, data, settings: dict, seed: int, temperature: float | None = None,
                length: int | None = None, prompt: str | None = None) -> str:
    """Text generated by a next-token model, with the scenario's [sample] settings as defaults."""
    return sample_text(
        model, data.vocab, settings.get("prompt", "") if prompt is None else prompt,
        settings.get("length", 200) if length is None else length,
        settings.get("temperature", 0.8) if temperature is None else temperature,
        data.joiner, seed,
    )


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
    if "sample" in final:
        console.print(f"sample at temperature {scenario.sample.get('temperature', 0.8)}:")
        console.print(final["sample"], markup=False, highlight=False)
    if "interrupted" in final:
        console.print(f"[yellow]interrupted[/] ({final['interrupted']}) at step {final['step']}")
    # Paths whole, never wrapped: people copy them, scripts read them.
    for key, label in (("checkpoint", "checkpoint"), ("saved", "saved"), ("run_folder", "run folder")):
        if final.get(key):
            console.print(f"{label}: {final[key]}", markup=False, highlight=False, soft_wrap=True)
    if "not_saved" in final:
        console.print(final["not_saved"], markup=False, highlight=False, soft_wrap=True)
