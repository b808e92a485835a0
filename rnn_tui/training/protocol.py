"""The messages between the app and its training process: small, picklable dataclasses.

No torch here: the app's process imports this module and never loads torch.

Commands go to the trainer; each may name `run=` to reach one run of a comparison
(None: every run). The trainer answers with events. The app dispatches on the
event's type (`match`), the trainer on the command's.

Who owns what: the trainer's process owns the data, the weights, the optimizer,
checkpoints and run folders, and computes traces and text. The app learns what it
must label things with from `RunInfo`, sent after every build, switch, reset or
load; `Snapshot`s carry metrics only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rnn_tui.core.trace_file import Trace

STATUSES = ("running", "paused", "stopped", "diverged")
EXPERIMENTS = ("horizon", "spectrum", "units")


# ------------------------------------------------------------------ commands


@dataclass
class Start:
    """Train. After a divergence: a fresh optimizer on the restored weights. At the step
    budget: another budget."""

    run: str | None = None


@dataclass
class Pause:
    """Stop stepping; weights and optimizer state stay."""

    run: str | None = None


@dataclass
class Step:
    """One optimizer step (pausing first if running)."""

    run: str | None = None


@dataclass
class Reset:
    """Fresh weights from the seed, same data and settings; a new run folder. The trained
    weights are saved first (when the run keeps a folder), so no key loses work."""

    run: str | None = None


@dataclass
class Set:
    """Change training settings between steps: lr, clip, optimizer, momentum, weight_decay,
    batch_size, steps, eval_every, dropout."""

    changes: dict
    run: str | None = None


@dataclass
class Switch:
    """Rebuild data and model. `source`: a data.source.Source dict (or a scenario's name);
    with a new source the scenario's own settings are the starting point. `model`/`train`:
    fields on top. The trained weights are saved first."""

    source: dict | str | None = None
    model: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    run: str | None = None


@dataclass
class Save:
    """A checkpoint: at `path`, or <run folder>/step-<N>.pt. In compare mode a path gets
    the arch before its extension."""

    path: str | None = None
    run: str | None = None


@dataclass
class Load:
    """A checkpoint of the same arch and size; in compare mode it goes to the run of its arch."""

    path: str
    run: str | None = None


@dataclass
class Open:
    """A checkpoint as it was trained: the run is rebuilt from the checkpoint's own data,
    model and settings, takes its weights and the history of the run folder it was saved
    in, and waits paused (`train=True`: trains on). The trained weights are saved first.
    Not in compare mode."""

    path: str
    train: bool = False
    run: str | None = None


@dataclass
class TraceInput:
    """Trace an input the user typed with the current weights, and keep tracing it as they
    change (the watched sample becomes INPUT_SAMPLE): `text` for token scenarios; for
    number scenarios, numbers separated by spaces (a trailing * marks a number, for
    `adding`). Refused with a TrainerError that names what could not be read."""

    text: str
    run: str | None = None


@dataclass
class Experiment:
    """Ask the run's current weights a question; the answer is an ExperimentResult.
    `name`: "horizon" (params: step, and token | delta | value, feature) on the watched
    sample; "spectrum" (no params); "units" (params: rule) over validation samples."""

    name: str
    params: dict = field(default_factory=dict)
    run: str | None = None


@dataclass
class Watch:
    """Trace validation sample `sample` with the newest weights, now and again whenever they
    change (at most once a second while training)."""

    sample: int = 0
    run: str | None = None


@dataclass
class Generate:
    """Sample text (next-token scenarios); it arrives as Generated."""

    temperature: float | None = None
    run: str | None = None


@dataclass
class Stop:
    """Save what was trained since the last save (unless told not to), then end."""

    run: str | None = None


Command = (Start | Pause | Step | Reset | Set | Switch | Save | Load | Open | TraceInput | Experiment | Watch
           | Generate | Stop)
COMMANDS = (Start, Pause, Step, Reset, Set, Switch, Save, Load, Open, TraceInput, Experiment, Watch, Generate, Stop)
INPUT_SAMPLE = -1  # the watched "sample" that is the user's own typed input


# ------------------------------------------------------------------ events


@dataclass
class RunInfo:
    """What a run is: everything the screen needs to label it. Sent after every build,
    switch, reset and load. `uid` is new each time: traces carry the uid of the run that
    made them, and one made before a switch is never shown as the new run's."""

    run: str  # the run's label: its arch in compare mode, else "main"
    uid: int
    scenario: str
    title: str
    kind: str  # a core.kinds task kind
    model: dict  # ModelConfig fields
    train: dict  # TrainConfig fields at the start
    source: dict  # data.source.Source fields: what a restarted trainer rebuilds from
    vocab: list[str] | None
    class_names: list[str] | None
    joiner: str  # between tokens when shown: "" for characters, " " for words
    val_samples: int
    seq_len: int
    parameters: int
    baseline: dict  # {"name", "val_loss"[, "accuracy"]}: the naive predictor
    goal: dict  # {"metric", "direction", "goal"}
    folder: str | None  # the run folder (made at its first write)
    step: int  # where the weights start (0, or a checkpoint's step)
    checkpoint: str | None  # the file the weights were loaded from, if they were
    inspect_only: bool = False  # a saved trace or your own weights: shown, never trained

    @property
    def goal_text(self) -> str:
        if not self.goal:
            return "none: nothing trains here" if self.inspect_only else "none"
        return f"{self.goal['metric']} {self.goal['direction']} {self.goal['goal']:g}"


@dataclass
class Snapshot:
    """How a run is doing now: metrics only."""

    run: str
    uid: int
    step: int
    status: str  # one of STATUSES
    metrics: dict  # the last evaluation row ({} before the first)
    history: list[dict]  # evaluation rows so far (thinned evenly past a limit)
    grad_norms: list[float]  # recent pre-clip gradient norms, oldest first
    train: dict  # TrainConfig fields as they are now (after any Set)
    solved: bool  # the last evaluation met the scenario's goal
    diverged: dict | None  # {"step", "reason", "restored_step"} while diverged
    seq_per_s: float  # sequences trained per second of wall time while running
    saved: str | None  # the newest checkpoint written, if any
    saved_step: int | None


@dataclass
class ExperimentResult:
    """An Experiment's answer from the weights at `step`: `result` is what `rnn-tui inspect
    NAME --json` prints, or `error` says why there is none."""

    run: str
    uid: int
    name: str
    params: dict
    step: int
    sample: int
    result: dict | list | None
    error: str | None = None


@dataclass
class TraceReady:
    """The watched sample traced with a run's weights. `trace.meta` says the scenario,
    arch, step and sample; `uid` and `version` say which weights."""

    run: str
    uid: int
    version: int  # grows with every change of the run's weights
    sample: int  # index into the validation split
    trace: Trace


@dataclass
class Generated:
    """Text sampled from a run's weights at `step`."""

    run: str
    step: int
    temperature: float
    text: str


@dataclass
class Notice:
    """Worth a line on screen, e.g. "saved runs/sine-lstm-.../step-1200.pt"."""

    run: str
    text: str


@dataclass
class Saved:
    """A checkpoint was written (by hand, periodically, before a reset or switch, on quit)."""

    run: str
    path: str
    step: int
    periodic: bool = False


@dataclass
class TrainerError:
    """Something went wrong in a run; `reason` is one line a person can act on.
    `unsaved`: training from here on cannot be saved (no writable run folder)."""

    run: str
    reason: str
    unsaved: bool = False


@dataclass
class Fatal:
    """The trainer could not start from what it was given (a bad option or file): the app
    shows `reason` as its one line and exits with status 2."""

    reason: str


@dataclass
class Catalog:
    """The scenarios a user can pick: [{"name", "task", "title", "description", "ref"}]."""

    scenarios: list[dict]


Event = (RunInfo | Snapshot | TraceReady | ExperimentResult | Generated | Saved | Notice | TrainerError | Fatal
         | Catalog)
