"""The runs of one training process, and what each command does to them.

`RunGroup` knows nothing of processes: the trainer process feeds it commands from a
pipe and publishes what it emits; the fake client calls it directly. Runs in one
group take turns a step at a time, so in compare mode they stay at the same step and
their curves line up.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import asdict, fields, replace
from typing import Callable

from rnn_tui.core import checkpoint
from rnn_tui.core.config import ModelConfig
from rnn_tui.data.source import Source
from rnn_tui.errors import UserError
from rnn_tui.training import footprint
from rnn_tui.training import protocol as p
from rnn_tui.training.run import Run, merge_configs
from rnn_tui.training.trainer import pick_device

MAIN = "main"  # the label of the one run outside compare mode
MODEL_FIELDS = tuple(f.name for f in fields(ModelConfig))


def checkpoint_arch(path) -> str | None:
    """Which run of a comparison a checkpoint belongs to."""
    meta = checkpoint.load(path).get("meta", {})
    return meta.get("model", {}).get("arch") if isinstance(meta, dict) else None


def describe_exception(err: BaseException) -> str:
    """One line: the error and where in rnn-tui (or the library) it happened."""
    if isinstance(err, UserError):
        return str(err)
    frames = traceback.extract_tb(err.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    text = (str(err).strip().splitlines() or [""])[0][:200]
    return f"{type(err).__name__}{where}: {text}" if text else f"{type(err).__name__}{where}"


class RunGroup:
    def __init__(self, specs: dict[str, dict], runs_dir: str | None, save_on_quit: bool,
                 compare: bool | list[str], emit: Callable[[object], None], clock: Callable[[], float] = time.perf_counter,
                 device: str = "cpu"):
        """`specs`: label -> {"source": dict, "model": dict, "train": dict} (partial dicts are
        filled from the scenario's own settings). `compare`: every label of the comparison
        (this group may hold some of them; True: all are here), or false outside compare
        mode. A first build that fails is said as a TrainerError; the group then waits for
        a switch or a reset."""
        self.specs, self.runs_dir, self.save_on_quit = dict(specs), runs_dir, save_on_quit
        self.emit, self.clock = emit, clock
        self.compared = list(compare) if isinstance(compare, (list, tuple)) else list(specs) if compare else []
        self.compare = bool(self.compared)
        self.device = pick_device(device)  # a bad device is the caller's UserError
        self.runs: dict[str, Run] = {}
        self.finished = False
        self.watching: dict[str, int] = {}  # run label -> the validation sample the app shows
        self._traces: dict[str, p.TraceReady] = {}  # the latest trace of each watched run
        self._traced: dict[str, tuple] = {}  # what each run's latest trace was made from
        self._trace_failure: dict[str, str] = {}  # the last trace failure said, per run
        self._cache: dict = {}
        self._cache_source = None
        self.build_error: str | None = None  # why the first build failed
        try:
            self._adopt(self._build(self.specs, list(self.specs)))
        except Exception as err:  # a bad first scenario: say so, wait for a switch
            self.build_error = describe_exception(err)
            for label in self.specs:
                self.emit(p.TrainerError(label, self.build_error))

    # -------------------------------------------------------------- building
    def _cached(self, key: tuple, make):
        """The scenario and its tensors are built once for all runs on the same data.
        `key[1]` names the source; only the latest source's are kept."""
        if self._cache_source != key[1]:
            self._cache, self._cache_source = {}, key[1]
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def _build(self, specs: dict[str, dict], labels: list[str]) -> dict[str, Run]:
        """New runs for `labels`, all or none: a failure leaves the old runs untouched.
        What would not fit in memory is refused before it is built (training/footprint)."""
        # The processes of a comparison split the memory budget.
        share = len(self.specs) / len(self.compared) if self.compare else 1.0
        plans = []
        for label in labels:
            spec = specs[label]
            source = Source.from_dict(spec["source"]).to_dict()
            key = json.dumps(source, sort_keys=True, default=str)
            scenario = self._cached(("scenario", key), Source.from_dict(source).load)
            model, train = merge_configs(scenario, spec.get("model", {}), spec.get("train", {}))
            if self.compare:
                model = replace(model, arch=label).validate("compare")

            def make(s=scenario, n=train.seed):
                footprint.check_data(s, share)
                return s.build_data(n)

            data = self._cached(("data", key, train.seed), make)
            plans.append((label, scenario, source, data, model, train))
        for data in {id(plan[3]): plan[3] for plan in plans}.values():
            footprint.check_runs(data, [(m, t) for _, _, _, d, m, t in plans if d is data], share)
        return {label: Run(label, scenario, source, data, model, train, self.runs_dir, self.emit, self.clock,
                           device=self.device)
                for label, scenario, source, data, model, train in plans}

    def _adopt(self, built: dict[str, Run]) -> None:
        """Built runs take their places; the old ones keep their work first."""
        for label, run in built.items():
            old = self.runs.get(label)
            if old is not None:
                self._keep(old)
                old.close()
                if old.running:
                    run.resume()
            self.runs[label] = run
            # What the run was built from, for the next switch (or a reset after a failure).
            self.specs[label] = {"source": run.source, "model": asdict(run.trainer.model_config),
                                 "train": asdict(run.trainer.train_config)}
            self.emit(run.info())

    def _keep(self, run: Run) -> None:
        try:
            run.keep()
        except Exception as err:
            self.emit(p.TrainerError(run.label, f"could not save before replacing the run: "
                                                f"{describe_exception(err)}"))

    # -------------------------------------------------------------- commands
    def handle(self, command: p.Command) -> None:
        target = getattr(command, "run", None)
        labels = [target] if target is not None else list(self.specs)
        try:
            if target is not None and target not in self.specs:
                raise UserError(f"{type(command).__name__.lower()}: no run {target!r}; "
                                f"expected one of {', '.join(self.specs)}")
            self._dispatch(command, labels)
        except Exception as err:  # never a crash: one line for the app, then wait for commands
            self.emit(p.TrainerError(target or ",".join(labels), describe_exception(err)))

    def _dispatch(self, command: p.Command, labels: list[str]) -> None:
        match command:
            case p.Start():
                self._each(labels, Run.resume)
            case p.Pause():
                self._each(labels, Run.pause)
            case p.Step():
                self._each(labels, Run.single_step)
            case p.Set(changes=changes):
                if not changes:
                    raise UserError("set: nothing to change; e.g. Set({'lr': 0.001})")
                self._each(labels, lambda run: run.configure(**changes))
            case p.Reset():
                self._reset(labels)
            case p.Switch():
                self._switch(command, labels)
            case p.Save(path=path):
                self._save(labels, path)
            case p.Load(path=path, run=target):
                self._load(labels, path, everywhere=target is None)
            case p.Open(path=path, train=train):
                self._open(labels, path, train)
            case p.TraceInput(text=text):
                self._each(labels, lambda run: run.trace_input(text))
                for label in labels:
                    self.watching[label] = p.INPUT_SAMPLE
            case p.Experiment(name=name, params=params):
                for label in labels:
                    if label in self.runs:
                        self.emit(self.runs[label].experiment(name, params, self.watching.get(label, 0)))
            case p.Watch(sample=sample):
                if isinstance(sample, bool) or not isinstance(sample, int) or sample < p.INPUT_SAMPLE:
                    raise UserError(f"watch: sample must be a whole number >= 0 (or {p.INPUT_SAMPLE}, the typed "
                                    f"input), got {sample!r}")
                for label in labels:
                    self.watching[label] = sample
            case p.Generate(temperature=temperature):
                self._each(labels, lambda run: self.emit(run.generate(temperature)))
            case p.Stop():
                self.stop()
            case _:
                raise UserError(f"unknown command {command!r}")

    def _each(self, labels, action) -> None:
        """`action` on every run named; one run's failure is its own message, not the others'."""
        if any(label not in self.runs for label in labels):
            raise UserError("no model yet (the last scenario failed to load); switch or reset")
        for label in labels:
            try:
                action(self.runs[label])
            except Exception as err:
                self.emit(p.TrainerError(label, describe_exception(err)))

    def _reset(self, labels) -> None:
        if all(label in self.runs for label in labels):
            self._each(labels, Run.reset)
        else:  # the first build failed (e.g. a file since fixed): try again
            self._adopt(self._build(self.specs, labels))

    def _switch(self, command: p.Switch, labels) -> None:
        source = {"scenario": command.source} if isinstance(command.source, str) else command.source
        model, train = dict(command.model), dict(command.train)
        unknown = sorted(set(model) - set(MODEL_FIELDS))
        if unknown:
            raise UserError(f"switch: unknown model field {unknown[0]!r}; expected one of {', '.join(MODEL_FIELDS)}")
        if self.compare and "arch" in model:
            raise UserError("switch: in compare mode each run's architecture is its label")
        specs = {}
        for label in labels:
            old, run = self.specs[label], self.runs.get(label)
            if source is not None:  # new data: start from the new scenario's own settings
                specs[label] = {"source": source, "model": model, "train": train}
            else:
                current_model = asdict(run.trainer.model_config) if run else old.get("model", {})
                current_train = asdict(run.trainer.train_config) if run else old.get("train", {})
                specs[label] = {"source": old["source"], "model": {**current_model, **model},
                                "train": {**current_train, **train}}
        self._adopt(self._build(specs, labels))

    def _save(self, labels, path: str | None) -> None:
        for label in labels:
            target = path
            if path and self.compare:  # one file per run: name.pt -> name-lstm.pt
                stem, dot, ext = str(path).rpartition(".")
                target = f"{stem}-{label}.{ext}" if dot else f"{path}-{label}"
            self._each([label], lambda run, target=target: run.save(target))

    def _load(self, labels, path: str, everywhere: bool) -> None:
        if not path:
            raise UserError("load: needs a path, a checkpoint file")
        if self.compare and everywhere:  # a comparison: the run of the checkpoint's architecture
            arch = checkpoint_arch(path)
            if arch not in self.compared:
                if self.compared[0] in self.runs:  # said once, by the group of the first run
                    raise UserError(f"load {path}: a {arch} checkpoint, and this comparison trains "
                                    f"{', '.join(self.compared)}")
                return
            if arch not in self.runs:
                return  # another process holds that run
            labels = [arch]
        self._each(labels, lambda run: run.load(path))

    def _open(self, labels, path: str, train: bool) -> None:
        if self.compare:
            raise UserError(f"open {path}: compare mode trains three fresh runs; leave it first (c)")
        meta = checkpoint.load(path)["meta"]
        spec = {"source": meta["source"], "model": meta["model"], "train": meta["train"]}
        self._adopt(self._build({label: spec for label in labels}, labels))
        for label in labels:
            run = self.runs[label]
            run.load(path)
            run.resume() if train else run.pause()

    def stop(self) -> None:
        """Save what was trained since the last save (if asked to; each save is a Notice
        that says where), then finish."""
        for run in self.runs.values():
            if self.save_on_quit:
                try:
                    run.keep()
                except Exception as err:
                    self.emit(p.TrainerError(run.label, f"save on quit failed: {describe_exception(err)}"))
            run.close()
            run.pause()
            run.status = "stopped"
            run.changed = True
        self.finished = True

    # -------------------------------------------------------------- training
    @property
    def busy(self) -> bool:
        return any(run.running for run in self.runs.values())

    def train_for(self, seconds: float, max_rounds: int | None = None) -> None:
        """Steps for every running run in turn until `seconds` pass (or `max_rounds` turns)."""
        start, rounds = self.clock(), 0
        trained = {label: 0 for label in self.runs}
        active = [run for run in self.runs.values() if run.running]
        while active:
            for run in active:
                try:
                    trained[run.label] += run.train_one()
                except Exception as err:
                    run.fail(describe_exception(err))
            rounds += 1
            active = [run for run in active if run.running]
            if (max_rounds is not None and rounds >= max_rounds) or self.clock() - start >= seconds:
                break
        elapsed = self.clock() - start
        for label, sequences in trained.items():
            self.runs[label].note_rate(sequences, elapsed)

    def changed(self) -> bool:
        return any(run.changed for run in self.runs.values())

    def snapshots(self) -> list[p.Snapshot]:
        return [run.snapshot() for run in self.runs.values()]

    # -------------------------------------------------------------- traces
    def _trace_key(self, label: str) -> tuple:
        run = self.runs[label]
        return run.uid, run.version, self.watching[label]

    def _due(self, label: str) -> bool:
        """The run's weights, or the sample it is watched with, changed since its last trace."""
        return label in self.runs and self._traced.get(label) != self._trace_key(label)

    def traces_due(self) -> bool:
        return any(self._due(label) for label in self.watching)

    def traces(self) -> list[p.TraceReady]:
        """The latest trace of every watched run, tracing those that are due. All of them,
        not just the new: on a latest-wins pipe this message replaces the one before."""
        for label in filter(self._due, self.watching):
            self._traced[label] = self._trace_key(label)
            try:
                self._traces[label] = self.runs[label].trace(self.watching[label])
                self._trace_failure.pop(label, None)
            except Exception as err:  # the app keeps its last trace; a failure is said once, not every second
                reason = f"trace failed: {describe_exception(err)}"
                if self._trace_failure.get(label) != reason:
                    self._trace_failure[label] = reason
                    self.emit(p.TrainerError(label, reason))
        return [self._traces[label] for label in self.watching if label in self._traces]
