"""One training run: a Trainer plus its status, budget, folder, checkpoints and goal.

The trainer process holds one or more runs (several in compare mode) in a RunGroup;
headless `rnn-tui train` drives one directly. Everything a command can do to a single
run lives here, so the app, the fake client and headless training behave the same.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from rnn_tui.core import checkpoint
from rnn_tui.core.config import ModelConfig, TrainConfig, from_dict
from rnn_tui.core.generate import sample_text
from rnn_tui.core.model import SequenceModel
from rnn_tui.core.trace import trace_sequence
from rnn_tui.data.base import TaskData
from rnn_tui.data.scenario import Scenario
from rnn_tui.errors import UserError
from rnn_tui.training.experiment import ask
from rnn_tui.training.protocol import (INPUT_SAMPLE, ExperimentResult, Generated, Notice, RunInfo, Saved, Snapshot,
                                       TraceReady, TrainerError)
from rnn_tui.training.run_folder import RunFolder, checkpoint_meta
from rnn_tui.training.runs_index import read_rows, summarise
from rnn_tui.training.typed_input import typed_sample
from rnn_tui.training.trainer import Trainer

# Unique across processes too: a restarted trainer's runs never reuse an old run's uid.
RUN_IDS = itertools.count(random.getrandbits(40) << 16)
HISTORY_LIMIT = 1000  # evaluation rows per snapshot; metrics.jsonl keeps them all
GRAD_POINTS = 500  # gradient norms per snapshot
# A checkpoint's weights fit only a model of the same shape.
SHAPE_FIELDS = ("arch", "hidden", "layers", "bidirectional", "nonlinearity", "embed")


def merge_configs(scenario: Scenario, model: dict, train: dict) -> tuple[ModelConfig, TrainConfig]:
    """The scenario's own settings, with the given fields on top (validated)."""
    m = from_dict(ModelConfig, {**asdict(scenario.model), **model}, "model")
    t = from_dict(TrainConfig, {**asdict(scenario.train), **train}, "train")
    return m, t


def data_notes(scenario: Scenario, data: TaskData) -> list[str]:
    """What a person should know about the data as built: a capped vocabulary, a
    scenario's sampling prompt that holds tokens the vocabulary lacks."""
    notes = [data.info["vocab_note"]] if data.info.get("vocab_note") else []
    prompt = scenario.sample.get("prompt")
    unknown = data.unknown(prompt) if prompt and data.vocab is not None else []
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:8]) + (", ..." if len(unknown) > 8 else "")
        notes.append(f"the scenario's [sample] prompt holds {shown}, not in the vocabulary; generated text "
                     "starts from the rest of the prompt")
    return notes


class Run:
    def __init__(self, label: str, scenario: Scenario, source: dict, data: TaskData,
                 model: ModelConfig, train: TrainConfig, runs_dir: str | None,
                 emit: Callable[[object], None], clock: Callable[[], float], device=None):
        self.label, self.scenario, self.source, self.emit, self.clock = label, scenario, source, emit, clock
        self.runs_dir = runs_dir
        self.trainer = Trainer(data, model, train, clock=clock, **({"device": device} if device else {}))
        self.status = "paused"  # the app says when to start
        self.changed = True  # something a snapshot shows is new since the last one
        self.seq_per_s = 0.0
        self.uid = 0  # new for every build, reset and load: see RunInfo
        self.version = 0  # grows with every change of the weights: what a trace is keyed on
        self._evaluations = 0
        self._inspector = None  # a CPU copy of the model in eval mode, for traces and text
        self.typed: tuple | None = None  # (text, x, y, dec_in) of the sequence the user typed
        self._paused_at = clock()
        self._new_run()
        for note in data_notes(scenario, data):
            emit(Notice(label, note))

    def _new_run(self, resumed_from: str | None = None) -> None:
        """Fresh weights or new weights from a file: a new folder (which starts with the
        history the trainer holds), a new budget, no goal met."""
        self.folder = RunFolder(self.runs_dir, self.scenario.name, self.trainer.model_config.arch,
                                history=self.trainer.history, resumed_from=resumed_from) \
            if self.runs_dir is not None else None
        self.budget_from = self.trainer.step
        self.budget = self.budget_from + self.trainer.train_config.steps
        self.solved, self.solved_at, self.saved_step, self.saved = False, None, None, None
        self.changed = True
        self.version += 1
        self.uid = next(RUN_IDS)

    def close(self) -> None:
        if self.folder is not None:
            self.folder.close()

    # -------------------------------------------------------------- training
    @property
    def running(self) -> bool:
        return self.status == "running"

    def train_one(self) -> int:
        """One step (and an evaluation when due). Returns the sequences trained."""
        t = self.trainer
        t.train_step()
        self.changed = True
        self.version += 1
        if t.diverged:
            self._evaluate()  # the restored weights' validation loss, at the step it broke
            self.pause()
            self.status = "diverged"
            d = t.diverged
            self.emit(Notice(self.label, f"diverged at step {d.step}: {d.reason}; weights from step "
                                         f"{d.restored_step} kept. Lower the learning rate or clip, then resume."))
            return 0
        if t.step % t.train_config.eval_every == 0 or t.step == self.budget:
            self._evaluate()
        if t.step >= self.budget and self.running:
            self.pause()
            self.emit(Notice(self.label, f"trained its budget of {t.train_config.steps} steps "
                                         f"(step {t.step}); resume to train as many again"))
            # Nothing trains until a resume: kept now, a crash of this process from here on
            # loses none of it (the periodic checkpoint may be evaluations away).
            if t.train_config.checkpoint_every:
                self._save_periodic()
        return t.train_config.batch_size

    def _evaluate(self) -> None:
        row = self.trainer.evaluate()
        self._evaluations += 1
        if self.folder is not None:
            try:
                self.folder.append(row, self.describe())
            except OSError as err:  # a full disk must not stop the lesson
                self.emit(TrainerError(self.label, f"cannot write metrics ({err}); training goes on "
                                                   "without a run folder, and nothing is saved", unsaved=True))
                self.folder = None
        goal = self.scenario.solved
        self.solved = goal.met(row.get(goal.metric, math.nan))
        if self.solved and self.solved_at is None:
            self.solved_at = row["step"]
            self.emit(Notice(self.label, f"{self.label_text}solved at step {row['step']}: {goal.metric} "
                                         f"{row[goal.metric]:.4g}, goal {goal.direction} {goal.goal:g}"))
        every = self.trainer.train_config.checkpoint_every
        if every and self._evaluations % every == 0:
            self._save_periodic()

    def _save_periodic(self) -> None:
        """A checkpoint in the run folder (the newest two are kept), where there is one."""
        if self.folder is None or self.trainer.diverged or self.saved_step == self.trainer.weights_step:
            return
        try:
            self.save(periodic=True)
        except UserError as err:  # say it, and train on: the lesson goes on
            self.emit(TrainerError(self.label, f"periodic checkpoint failed: {err}", unsaved=True))

    @property
    def label_text(self) -> str:
        """"lstm: " in compare mode, nothing for the one run."""
        return "" if self.label == "main" else f"{self.label}: "

    def note_rate(self, sequences: int, seconds: float) -> None:
        """Throughput per wall second while running (in compare mode, turns included)."""
        if seconds > 0 and sequences:
            rate = sequences / seconds
            self.seq_per_s = rate if not self.seq_per_s else 0.7 * self.seq_per_s + 0.3 * rate

    # -------------------------------------------------------------- commands
    def resume(self) -> None:
        t = self.trainer
        if self.status == "stopped":
            raise UserError("this run stopped after an error; reset or switch to train again")
        if t.diverged:
            t.resume_after_divergence()
        if t.step >= self.budget:
            self.budget_from = t.step
            self.budget = t.step + t.train_config.steps
        if not self.running:
            t.exclude_time(self.clock() - self._paused_at)
            self.status = "running"
            self.changed = True

    def pause(self) -> None:
        if self.running:
            self.status = "paused"
            self._paused_at = self.clock()
            self.changed = True

    def single_step(self) -> None:
        self.pause()
        if self.status == "stopped":
            raise UserError("this run stopped after an error; reset or switch to train again")
        if self.trainer.diverged:
            self.trainer.resume_after_divergence()
            self.status = "paused"
        self.train_one()

    def unsaved(self) -> bool:
        """Trained since the last checkpoint (or never saved)."""
        t = self.trainer
        return t.weights_step > 0 and self.saved_step != t.weights_step

    def keep(self) -> str | None:
        """Save what is unsaved before the weights are thrown away (reset, switch, quit).
        Returns where, or None when there was nothing to save or no folder to save in."""
        if self.folder is None or not self.unsaved():
            return None
        return self.save()

    def reset(self) -> None:
        was_running = self.running
        self.keep()
        self.close()
        self.trainer.reset()
        self.status = "running" if was_running else "paused"
        self._paused_at = self.clock()
        self.seq_per_s = 0.0
        self._new_run()
        self.emit(self.info())

    def configure(self, **changes) -> None:
        self.trainer.configure(**changes)
        if "steps" in changes:  # a new budget counts from where the current one began
            self.budget = self.budget_from + self.trainer.train_config.steps
        self.changed = True

    def save(self, path: str | None = None, periodic: bool = False) -> str:
        """A checkpoint of the current weights (after a divergence: the restored ones)."""
        t = self.trainer
        if path is None and self.folder is None:
            raise UserError("save: this session keeps no run folder; give a path")
        meta = checkpoint_meta(t, self.scenario.name, self.source)
        try:
            written = self.folder.save(t, meta, self.describe(), path, periodic) if self.folder \
                else checkpoint.save(path, t.model, meta)
        except OSError as err:
            where = path or (self.folder.path or self.folder.root)
            raise UserError(f"cannot save a checkpoint to {where}: {err.strerror or err}; "
                            "expected a writable folder with free space") from None
        self.saved_step, self.saved = t.weights_step, str(written)
        self.changed = True
        self.emit(Saved(self.label, str(written), t.weights_step, periodic))
        return str(written)

    def load(self, path: str) -> None:
        """The one way weights from a file enter a run (the app's and headless train's):
        after it, the loaded weights are the last good ones, so a divergence comes back to
        them, never to the seed's initialisation."""
        payload = checkpoint.load(path)
        meta = payload.get("meta", {})
        mine, theirs = asdict(self.trainer.model_config), meta.get("model", {})
        differ = [k for k in SHAPE_FIELDS if k in theirs and theirs[k] != mine[k]]
        if differ or meta.get("task", self.trainer.data.kind) != self.trainer.data.kind:
            raise UserError(
                f"load {path}: a {_shape(theirs)} {meta.get('task', '?')} checkpoint does not fit this "
                f"{_shape(mine)} {self.trainer.data.kind} run; switch to that architecture and size first"
            )
        checkpoint.apply(self.trainer.model, payload, path)  # shapes (e.g. a vocabulary) checked here
        self.close()
        step = int(meta.get("step", 0))
        # the history of the run the checkpoint was saved in, up to its step: the curves go on
        self.trainer.adopt(step, history=read_rows(Path(path).parent, up_to=step, limit=HISTORY_LIMIT * 4))
        self.status = "paused" if self.status in ("diverged", "stopped") else self.status
        self._new_run(resumed_from=str(path))
        if self.trainer.history:
            goal = self.scenario.solved
            self.solved_at = summarise(self.trainer.history, self.goal())["solved_at"]
            self.solved = goal.met(self.trainer.history[-1].get(goal.metric, math.nan))
        trained_on = meta.get("scenario")
        note = f" (trained on {trained_on})" if trained_on and trained_on != self.scenario.name else ""
        self.saved, self.saved_step = str(path), self.trainer.step
        self.emit(self.info())
        self.emit(Notice(self.label, f"{self.label_text}loaded {path} at step {self.trainer.step}{note}"))

    def fail(self, reason: str) -> None:
        """An exception escaped a step: report it and wait for reset or switch."""
        self.pause()
        self.status = "stopped"
        self.changed = True
        self.emit(TrainerError(self.label, f"{reason}; reset or switch to train again"))

    # -------------------------------------------------------------- views
    def goal(self) -> dict:
        goal = self.scenario.solved
        return {"metric": goal.metric, "direction": goal.direction, "goal": goal.goal}

    def describe(self) -> dict:
        return {"run": self.label, "scenario": self.scenario.name, "source": self.source,
                "model": asdict(self.trainer.model_config), "train": asdict(self.trainer.train_config),
                "task": self.trainer.data.kind, "goal": self.goal()}

    def inspector(self) -> SequenceModel:
        """The model's current weights in a CPU copy in eval mode: tracing or sampling
        must neither switch the training model's mode nor wait on another device."""
        t = self.trainer
        if self._inspector is None or self._inspector.config != t.model_config:
            d = t.data
            self._inspector = SequenceModel(t.model_config, d.kind, d.input_size, d.output_size, d.tokens_in).eval()
        self._inspector.load_state_dict({k: v.detach().cpu() for k, v in t.model.state_dict().items()})
        return self._inspector

    def sequence(self, sample: int) -> tuple[int, tuple]:
        """(sample index, (x, y, dec_in)): validation sample `sample` (wrapped to the split's
        length), or the typed input for INPUT_SAMPLE."""
        if sample == INPUT_SAMPLE:
            if self.typed is None:
                raise UserError("no typed input yet: press i and type one")
            return sample, self.typed[1:]
        val = self.trainer.data.val
        i = sample % len(val)
        return i, (val.x[i], val.y[i], None if val.dec_in is None else val.dec_in[i])

    def trace(self, sample: int) -> TraceReady:
        """The sample traced with these weights; the trace carries its vocabulary, class
        names and provenance."""
        t = self.trainer
        i, (x, y, dec) = self.sequence(sample)
        trace = trace_sequence(self.inspector(), x, y, dec)
        trace.vocab, trace.class_names = t.data.vocab, t.data.class_names
        trace.meta = {"scenario": self.scenario.name, "arch": t.model_config.arch, "step": t.weights_step,
                      "sample": i, "run": self.label, "nonlinearity": t.model_config.nonlinearity,
                      "joiner": t.data.joiner, **({"input": self.typed[0]} if i == INPUT_SAMPLE else {})}
        return TraceReady(self.label, self.uid, self.version, i, trace)

    def trace_input(self, text: str) -> None:
        """A typed sequence to trace from now on (in place of a validation sample)."""
        x, y, dec = typed_sample(text, self.trainer.data, self.inspector())
        self.typed = (text, x, y, dec)
        self.version += 1  # a new picture, as new weights would make

    def experiment(self, name: str, params: dict, sample: int) -> ExperimentResult:
        """An experiment on the current weights (see core.experiments); a question it
        cannot answer comes back as the result's `error`."""
        t = self.trainer
        try:
            result = ask(name, params, self.inspector(), t.data, self.sequence(sample)[1])
            error = None
        except UserError as err:
            result, error = None, str(err)
        return ExperimentResult(self.label, self.uid, name, dict(params), t.weights_step, sample, result, error)

    def info(self) -> RunInfo:
        t, d = self.trainer, self.trainer.data
        return RunInfo(
            run=self.label, uid=self.uid, scenario=self.scenario.name, title=self.scenario.title, kind=d.kind,
            model=asdict(t.model_config), train=asdict(t.train_config), source=dict(self.source),
            vocab=d.vocab, class_names=d.class_names, joiner=d.joiner, val_samples=len(d.val),
            seq_len=d.seq_len, parameters=sum(p.numel() for p in t.model.parameters()),
            baseline=dict(t.baseline), goal=self.goal(),
            folder=str(self.folder.where) if self.folder else None, step=t.step, checkpoint=self.saved,
        )

    def generate(self, temperature: float | None = None) -> Generated:
        """Text from the model (next-token scenarios), seeded by the step: the same weights
        give the same text."""
        data, settings = self.trainer.data, self.scenario.sample
        if data.kind != "next_token":
            raise UserError(f"generation needs a text scenario; {self.scenario.name} is {data.kind}")
        temp = settings.get("temperature", 0.8) if temperature is None else float(temperature)
        text = sample_text(self.inspector(), data.vocab, settings.get("prompt", "\n"), settings.get("length", 200),
                           temp, data.joiner, seed=self.trainer.step)
        return Generated(self.label, self.trainer.step, temp, text)

    def snapshot(self) -> Snapshot:
        t = self.trainer
        self.changed = False
        return Snapshot(
            run=self.label,
            uid=self.uid,
            step=t.step,
            status=self.status,
            metrics=dict(t.history[-1]) if t.history else {},
            history=thin(t.history, HISTORY_LIMIT),
            grad_norms=max_pool(list(t.grad_norms), GRAD_POINTS),
            train=asdict(t.train_config),
            solved=self.solved,
            diverged=asdict(t.diverged) if t.diverged else None,
            seq_per_s=self.seq_per_s if self.running else 0.0,
            saved=self.saved,
            saved_step=self.saved_step,
        )


def _shape(model: dict) -> str:
    if not model:
        return "model of unknown shape"
    both = " bidirectional" if model.get("bidirectional") else ""
    return f"{model.get('arch')} {model.get('layers')}x{model.get('hidden')}{both}"


def thin(rows: list[dict], limit: int) -> list[dict]:
    """Every k-th row (k a power of two, so the kept points stay put as rows arrive), plus the last."""
    stride = 1
    while len(rows) > limit * stride:
        stride *= 2
    kept = [dict(r) for r in rows[::stride]]
    if rows and (len(rows) - 1) % stride:
        kept.append(dict(rows[-1]))
    return kept


def max_pool(values: list[float], limit: int) -> list[float]:
    """At most `limit` points, each the largest of its bin: a spike must not vanish."""
    if len(values) <= limit:
        return values
    size = -(-len(values) // limit)
    return [max(values[i:i + size]) for i in range(0, len(values), size)]
