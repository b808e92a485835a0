"""The messages between the app and its training process: plain, picklable dataclasses.

Commands go in; snapshots, errors and notices come out. Tensors cross the boundary
only as CPU state_dicts, and travel as numpy arrays (pickling a torch tensor goes
through torch.save per storage and costs ~15x more, on the UI's side too).

Commands (`Command(name, args)`; `args` may name `run=` to reach one run of a compare):

    start, resume        train (resume after a divergence starts a fresh optimizer on the
                         restored weights; resume at the step budget adds another budget)
    pause                stop stepping; weights and optimizer state stay
    step                 one optimizer step (pausing first if running)
    reset                fresh weights from the seed, same data and settings; a new run folder
    set                  lr, clip, optimizer, momentum, weight_decay, batch_size, steps,
                         eval_every, dropout (any of them, e.g. set(lr=1e-3, clip=0))
    switch               source={...} (a data.source.Source dict, or a scenario's name),
                         arch=, hidden=, layers=, ... (ModelConfig fields), train={...}:
                         rebuilds the data and the model; with a new source, the
                         scenario's own model and train settings are the starting point
    save                 path= (optional; default <run folder>/step-<N>.pt; in compare
                         mode each run writes <path stem>-<arch>.<ext>)
    load                 path=: a checkpoint of the same arch and size (else refused); in
                         compare mode it goes to the run of the checkpoint's arch
    watch                sample=, epoch= (optional): trace this validation sample with the
                         newest weights, now and again when they change (at most once a
                         second while training); traces arrive as TraceReady on their own
                         latest-wins pipe, carrying the epoch of the watch they answer
    generate             temperature= (optional; default the scenario's): sample text from a
                         next-token model; it arrives as Generated
    stop                 save if save_on_quit, then the process ends
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from rnn_tui.core.trace import Trace

STATUSES = ("running", "paused", "stopped", "diverged")
COMMANDS = ("start", "pause", "resume", "step", "reset", "set", "switch", "save", "load", "watch", "generate",
            "stop")


@dataclass(repr=False)
class Snapshot:
    """What one run looks like now. `weights` load into a SequenceModel built from `model`."""

    run: str  # the run's label: its arch in compare mode
    step: int
    status: str  # one of STATUSES
    metrics: dict  # the last evaluation row ({} before the first)
    history: list[dict]  # evaluation rows so far (thinned evenly past HISTORY_LIMIT)
    grad_norms: list[float]  # recent pre-clip gradient norms, oldest first, <= 500
    weights: dict[str, torch.Tensor]  # model.state_dict(), CPU
    model: dict  # ModelConfig fields
    train: dict  # TrainConfig fields, as they are now (after any `set`)
    source: dict  # data.source.Source fields: Source.from_dict(s).load() gives the scenario
    solved: bool  # the last evaluation met the scenario's goal
    diverged: dict | None  # {"step", "reason", "restored_step"} while diverged
    seq_per_s: float  # sequences trained per second of wall time while running

    def __repr__(self) -> str:  # the weights and history would fill a screen
        return (f"Snapshot(run={self.run!r}, step={self.step}, status={self.status!r}, "
                f"val_loss={self.metrics.get('val_loss')}, solved={self.solved}, "
                f"diverged={self.diverged}, seq_per_s={self.seq_per_s:.0f})")

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["weights"] = {k: v.detach().cpu().numpy() for k, v in self.weights.items()}
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        state["weights"] = {k: torch.from_numpy(np.asarray(v)) for k, v in state["weights"].items()}
        self.__dict__.update(state)


@dataclass
class TrainerError:
    """Something went wrong in a run; `reason` is one line a person can act on."""

    run: str
    reason: str


@dataclass
class Notice:
    """Something worth a line in the app's log, e.g. "saved runs/sine-lstm-.../step-1200.pt"."""

    run: str
    text: str


@dataclass
class TraceReady:
    """The watched sample traced with a run's weights at `step`: computed in the trainer's
    process, so the app's event loop never shares its interpreter with torch work."""

    run: str
    step: int
    sample: int  # index into the validation split
    epoch: int  # the watch's epoch: the app drops traces from before its last switch
    serial: tuple[int, int]  # (the tracing host's random token, its trace count): unique per trace
    trace: Trace


@dataclass
class Generated:
    """Text sampled from a run's weights at `step`."""

    run: str
    step: int
    temperature: float
    text: str


@dataclass
class Command:
    name: str  # one of COMMANDS
    args: dict = field(default_factory=dict)


Message = Snapshot | TrainerError | Notice | TraceReady | Generated
