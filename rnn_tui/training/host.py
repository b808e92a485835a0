"""The runs of one training process and what each command does to them.

`Host` knows nothing of processes: the worker feeds it commands from a pipe and
publishes its snapshots; the fake client calls it directly. Runs in one host take
turns a step at a time, so in compare mode they stay at the same step and their
curves line up.
"""

from __future__ import annotations

import json
import random
import time
import traceback
from dataclasses import asdict, fields, replace
from typing import Callable

from rnn_tui.core.config import ModelConfig
from rnn_tui.data.source import Source
from rnn_tui.errors import UserError
from rnn_tui.training.protocol import COMMANDS, Command, Snapshot, TraceReady, TrainerError
from rnn_tui.training.session import Run, merge_configs

MAIN = "main"  # the label of the one run outside compare mode
MODEL_FIELDS = tuple(f.name for f in fields(ModelConfig))


def checkpoint_arch(path) -> str | None:
    """Which run of a comparison a checkpoint belongs to."""
    from rnn_tui.core import checkpoint

    return checkpoint.load(path).get("meta", {}).get("model", {}).get("arch")


def describe_exception(err: BaseException) -> str:
    """One line: the error and where in rnn-tui (or the library) it happened."""
    if isinstance(err, UserError):
        return str(err)
    frames = traceback.extract_tb(err.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    text = (str(err).strip().splitlines() or [""])[0][:200]
    return f"{type(err).__name__}{where}: {text}" if text else f"{type(err).__name__}{where}"


class Host:
    def __init__(self, specs: dict[str, dict], runs_dir: str | None, save_on_quit: bool,
                 compare: bool, emit: Callable[[object], None], clock: Callable[[], float] = time.perf_counter):
        """`specs`: label -> {"source": dict, "model": dict, "train": dict} (partial dicts are
        filled from the scenario's own settings)."""
        self.specs, self.runs_dir, self.save_on_quit = dict(specs), runs_dir, save_on_quit
        self.compare, self.emit, self.clock = compare, emit, clock
        self.runs: dict[str, Run] = {}
        self.finished = False
        self.watching: dict[str, tuple[int, int]] = {}  # run label -> (sample the app shows, epoch)
        self._traces: dict[str, TraceReady] = {}  # the latest trace of each watched run
        self._traced: dict[str, tuple] = {}  # what each run's latest trace was made from
        self._trace_failure: dict[str, str] = {}  # the last trace failure said, per run
        self._serial = (random.getrandbits(63), 0)  # new for every trace, and for every host
        self._cache: dict = {}
        self._cache_source = None
        try:
            self.runs = self._build(self.specs, list(self.specs))
            self._remember(self.runs)
        except Exception as err:  # a bad first scenario: say so, wait for a switch
            for label in self.specs:
                self.emit(TrainerError(label, describe_exception(err)))

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
        """New runs for `labels`, all or none: a failure leaves the old runs untouched."""
        built = {}
        for label in labels:
            spec = specs[label]
            source = Source.from_dict(spec["source"]).to_dict()
            key = json.dumps(source, sort_keys=True, default=str)
            scenario = self._cached(("scenario", key), Source.from_dict(source).load)
            model, train = merge_configs(scenario, spec.get("model", {}), spec.get("train", {}))
            if self.compare:
                model = replace(model, arch=label).validate("compare")
            seed = train.seed
            data = self._cached(("data", key, seed), lambda s=scenario, n=seed: s.build_data(n))
            built[label] = Run(label, scenario, source, data, model, train, self.runs_dir, self.emit, self.clock)
        return built

    # -------------------------------------------------------------- commands
    def handle(self, command: Command) -> None:
        args = dict(command.args)
        target = args.pop("run", None)
        labels = [target] if target is not None else list(self.specs)
        try:
            if command.name not in COMMANDS:
                raise UserError(f"unknown command {command.name!r}; expected one of {', '.join(COMMANDS)}")
            if target is not None and target not in self.specs:
                raise UserError(f"{command.name}: no run {target!r}; expected one of {', '.join(self.specs)}")
            getattr(self, f"_cmd_{command.name}")(labels, args)
        except Exception as err:  # never a crash: one line for the app, then wait for commands
            self.emit(TrainerError(target or ",".join(labels), describe_exception(err)))

    def _each(self, labels, action) -> None:
        """`action` on every run named; one run's failure is its own message, not the others'."""
        missing = [label for label in labels if label not in self.runs]
        if missing:
            raise UserError("no model yet (the last scenario failed to load); switch or reset")
        for label in labels:
            try:
                action(self.runs[label])
            except Exception as err:
                self.emit(TrainerError(label, describe_exception(err)))

    def _cmd_start(self, labels, args) -> None:
        self._each(labels, Run.resume)

    _cmd_resume = _cmd_start

    def _cmd_pause(self, labels, args) -> None:
        self._each(labels, Run.pause)

    def _cmd_step(self, labels, args) -> None:
        self._each(labels, Run.single_step)

    def _cmd_set(self, labels, args) -> None:
        if not args:
            raise UserError("set: nothing to change; e.g. set(lr=0.001)")
        self._each(labels, lambda run: run.configure(**args))

    def _cmd_reset(self, labels, args) -> None:
        if all(label in self.runs for label in labels):
            self._each(labels, Run.reset)
        else:  # the first build failed (e.g. a file since fixed): try again
            built = self._build(self.specs, labels)
            self.runs.update(built)
            self._remember(built)

    def _cmd_switch(self, labels, args) -> None:
        source = args.pop("source", None)
        if isinstance(source, str):  # a scenario's name or file
            source = {"scenario": source}
        model = dict(args.pop("model", {}) or {})
        train = dict(args.pop("train", {}) or {})
        unknown = sorted(set(args) - set(MODEL_FIELDS))
        if unknown:
            raise UserError(f"switch: unknown field {unknown[0]!r}; expected source, train, model "
                            f"or a model field ({', '.join(MODEL_FIELDS)})")
        model.update(args)
        if self.compare and "arch" in model:
            raise UserError("switch: in compare mode each run's architecture is its label")
        specs = {}
        for label in labels:
            old = self.specs[label]
            run = self.runs.get(label)
            if source is not None:  # new data: start from the new scenario's own settings
                spec = {"source": source, "model": model, "train": train}
            else:
                current_model = asdict(run.trainer.model_config) if run else old.get("model", {})
                current_train = asdict(run.trainer.train_config) if run else old.get("train", {})
                spec = {"source": old["source"], "model": {**current_model, **model},
                        "train": {**current_train, **train}}
            specs[label] = spec
        built = self._build(specs, labels)
        for label, run in built.items():
            old = self.runs.get(label)
            if old is not None:
                old.close()
                if old.running:
                    run.resume()
            self.runs[label] = run
        self._remember(built)

    def _remember(self, runs: dict[str, Run]) -> None:
        """What each run was built from, for the next switch (or a reset after a failure)."""
        for label, run in runs.items():
            self.specs[label] = {"source": run.source, "model": asdict(run.trainer.model_config),
                                 "train": asdict(run.trainer.train_config)}

    def _cmd_save(self, labels, args) -> None:
        path = args.get("path")
        for label in labels:
            target = path
            if path and self.compare:  # one file per run: name.pt -> name-lstm.pt
                stem, dot, ext = str(path).rpartition(".")
                target = f"{stem}-{label}.{ext}" if dot else f"{path}-{label}"
            self._each([label], lambda run, target=target: run.save(target))

    def _cmd_load(self, labels, args) -> None:
        path = args.get("path")
        if not path:
            raise UserError("load: needs path=, a checkpoint file")
        if len(labels) > 1:  # compare mode: the run of the checkpoint's architecture
            arch = checkpoint_arch(path)
            if arch not in labels:
                raise UserError(f"load {path}: a {arch} checkpoint, and this comparison trains "
                                f"{', '.join(labels)}")
            labels = [arch]
        self._each(labels, lambda run: run.load(path))

    def _cmd_watch(self, labels, args) -> None:
        sample, epoch = args.get("sample", 0), args.get("epoch", 0)
        for name, value in (("sample", sample), ("epoch", epoch)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise UserError(f"watch: {name} must be a whole number >= 0, got {value!r}")
        for label in labels:
            self.watching[label] = (sample, epoch)

    def _cmd_generate(self, labels, args) -> None:
        self._each(labels, lambda run: self.emit(run.generate(args.get("temperature"))))

    def _cmd_stop(self, labels, args) -> None:
        self.stop()

    def stop(self) -> None:
        """Save what was trained since the last save (if asked to), then finish."""
        for run in self.runs.values():
            try:
                trained = run.trainer.step > 0 and run.saved_step != run.trainer.step
                if self.save_on_quit and run.folder is not None and trained:
                    run.save()
            except Exception as err:
                self.emit(TrainerError(run.label, f"save on quit failed: {describe_exception(err)}"))
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

    def snapshots(self) -> list[Snapshot]:
        return [run.snapshot() for run in self.runs.values()]

    # -------------------------------------------------------------- traces
    def _trace_key(self, label: str) -> tuple:
        run = self.runs[label]
        return run.uid, run.version, self.watching[label]

    def _due(self, label: str) -> bool:
        """The run's weights, or the sample or epoch it is watched with, changed since its last trace."""
        return label in self.runs and self._traced.get(label) != self._trace_key(label)

    def traces_due(self) -> bool:
        return any(self._due(label) for label in self.watching)

    def traces(self) -> list[TraceReady]:
        """The latest trace of every watched run, tracing those that are due. All of them,
        not just the new: on a latest-wins pipe this message replaces the one before."""
        for label in filter(self._due, self.watching):
            self._traced[label] = self._trace_key(label)
            self._serial = (self._serial[0], self._serial[1] + 1)
            try:
                self._traces[label] = self.runs[label].trace(*self.watching[label], self._serial)
                self._trace_failure.pop(label, None)
            except Exception as err:  # the app keeps its last trace; a failure is said once, not every second
                reason = f"trace failed: {describe_exception(err)}"
                if self._trace_failure.get(label) != reason:
                    self._trace_failure[label] = reason
                    self.emit(TrainerError(label, reason))
        return [self._traces[label] for label in self.watching if label in self._traces]
