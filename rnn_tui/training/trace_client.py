"""`TraceClient`: the app on a model nobody trains here, inspect-only.

Two sources, one client:
    rnn-tui view T.npz [U.npz ...]                 traces saved by `rnn-tui trace` or `e`
    rnn-tui --weights F.pt --input X.npy           your own torch.nn.RNN/LSTM/GRU state_dict
                                                   and inputs ([T, F] or [N, T, F]: N samples)

It speaks the trainer's protocol, so the app needs no other mode: one RunInfo, then a
TraceReady for each Watch (n/p step through the files or the N input sequences).
Saved traces are read in this process (numpy only). Traces of weights are computed in
a child process that loads torch, one sample at a time as they are watched: the
app's process never loads torch. Training commands are answered with one notice:
nothing trains here.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
from pathlib import Path

from rnn_tui.core.trace_file import Trace
from rnn_tui.errors import UserError
from rnn_tui.training import protocol as p
from rnn_tui.training.client import MAIN, real_stderr

UIDS = itertools.count(1)
INSPECT_ONLY = ("nothing trains here: this is {what}, shown as it is. Train a scenario "
                "(rnn-tui --scenario S) to watch one learn.")


def _trace_weights_loop(weights: str, inputs: str | None, text: str | None, vocab: str | None,
                        nonlinearity: str, requests, replies) -> None:
    """The child process: load the core and the inputs once, then trace each sample asked for."""
    try:
        from rnn_tui.core.trace import check_finite, trace_core
        from rnn_tui.core.weights import core_from_state_dict, load_inputs, one_hot_text

        import numpy as np
        import torch

        torch.set_num_threads(1)
        core = core_from_state_dict(weights, nonlinearity)
        if text is not None:
            tokens, sequence = one_hot_text(text, vocab, core)
            samples = [sequence]
        else:
            tokens, samples = None, load_inputs(inputs, core)
        replies.send(("ready", len(samples), sum(t.numel() for t in core.parameters())))
    except UserError as err:
        replies.send(("fatal", str(err)))
        return
    except Exception as err:  # never a traceback for the user: one line
        replies.send(("fatal", f"--weights {weights}: cannot be traced ({type(err).__name__}: {err})"))
        return
    while True:
        try:
            sample = requests.recv()
        except (EOFError, OSError):
            break
        if sample is None:
            break
        if isinstance(sample, tuple):  # ("experiment", name, params, sample)
            replies.send(_experiment(core, samples, *sample[1:]))
            continue
        try:
            with np.errstate(all="ignore"):  # an overflow is said in one line instead
                trace = trace_core(core, samples[sample])
            check_finite(trace, f"sample {sample + 1}")
            if tokens is not None:  # drawn as the characters typed
                trace.tokens, trace.vocab = tokens, list(vocab)
            trace.meta = {"nonlinearity": nonlinearity, "weights": str(weights), "sample": sample, "joiner": ""}
            replies.send(("trace", sample, trace))
        except UserError as err:
            replies.send(("error", str(err)))
        except Exception as err:
            replies.send(("error", f"sample {sample + 1}: cannot be traced ({type(err).__name__}: {err})"))
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    os._exit(0)


def _experiment(core, samples: list, name: str, params: dict, sample: int) -> tuple:
    """An experiment on the bare core (its output is its last layer's h): the answer, or why
    there is none."""
    from rnn_tui.core.experiments import horizon, rank_units, spectrum

    import torch

    try:
        if name == "spectrum":
            result = spectrum(core)
        elif name == "units":
            result = rank_units(core, torch.stack(samples), params.get("rule") or "")
        elif name == "horizon":
            if "token" in params:
                raise UserError("your weights read vectors: change a value (+0.5 or =1.2), not a token")
            result = horizon(core, samples[sample], int(params.get("step", 0)), delta=params.get("delta"),
                             value=params.get("value"), feature=int(params.get("feature", 0)))
        else:
            raise UserError(f"experiment {name!r}: unknown")
        return ("experiment", name, params, sample, result, None)
    except UserError as err:
        return ("experiment", name, params, sample, None, str(err))
    except Exception as err:  # one line for the screen, never a crash of this process
        return ("experiment", name, params, sample, None, f"{name}: {type(err).__name__}: {err}")


class TraceClient:
    def __init__(self, views: list[str] | None = None, weights: str | None = None, inputs: str | None = None,
                 nonlinearity: str = "tanh", text: str | None = None, vocab: str | None = None):
        self.views, self.weights, self.inputs, self.nonlinearity = views or [], weights, inputs, nonlinearity
        self.text, self.vocab = text, vocab
        self.labels = [MAIN]
        self.uid = next(UIDS)
        self.traces: dict[int, Trace] = {}
        self.count = 0  # samples: files, or input sequences
        self.parameters = 0
        self.info_sent = False
        self._outbox: list = []
        self._asked: int | None = None  # the sample asked of the child and not yet answered
        self._wanted: int | None = None  # the newest sample watched
        self._shown = 0  # the sample last answered: what an experiment asks about
        self._process = self._requests = self._replies = None

    @property
    def what(self) -> str:
        return f"a saved trace ({', '.join(self.views)})" if self.views else f"your weights {self.weights}"

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self.views:
            try:
                for i, path in enumerate(self.views):
                    self.traces[i] = Trace.load(path)
            except UserError as err:
                self._outbox.append(p.Fatal(str(err)))
                return
            self.count = len(self.views)
            self._send_info(self.traces[0])
            return
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        with real_stderr():
            req_in, self._requests = ctx.Pipe(duplex=False)
            self._replies, rep_out = ctx.Pipe(duplex=False)
            self._process = ctx.Process(target=_trace_weights_loop, name="rnn-tui tracer", daemon=True,
                                        args=(self.weights, self.inputs, self.text, self.vocab, self.nonlinearity,
                                              req_in, rep_out))
            self._process.start()
        req_in.close()
        rep_out.close()

    def send(self, command: p.Command) -> None:
        match command:
            case p.Watch(sample=sample):
                self._wanted = sample
                self._ask()
            case p.Start() | p.Pause():
                pass  # the app asks at its start; nothing trains, nothing to say
            case p.Experiment(name=name, params=params):
                self._experiment(name, params)
            case p.TraceInput():
                self._outbox.append(p.TrainerError(MAIN, "typed input needs a scenario's vocabulary; for your weights "
                                                         "give --input-text with --vocab, or --input X.npy"))
            case p.Stop():
                self.stop()
            case _:
                self._outbox.append(p.Notice(MAIN, INSPECT_ONLY.format(what=self.what)))

    def poll(self) -> list:
        self._receive()
        out, self._outbox = self._outbox, []
        return out

    def stop(self) -> None:
        if self._requests is not None:
            with contextlib.suppress(OSError, BrokenPipeError):
                self._requests.send(None)

    def close(self, timeout: float = 3) -> list:
        self.stop()
        if self._process is not None:
            self._process.join(timeout)
            if self._process.is_alive():
                self._process.kill()
        return self.poll()

    @property
    def pids(self) -> list[int]:
        return [self._process.pid] if self._process is not None and self._process.pid else []

    def _experiment(self, name: str, params: dict) -> None:
        sample = (self._wanted if self._wanted is not None else self._shown) % max(1, self.count)
        if self._requests is None:
            self._outbox.append(p.ExperimentResult(MAIN, self.uid, name, dict(params), 0, sample, None,
                                                   "a saved trace holds no weights to ask; open the model with "
                                                   "--weights F --input X.npy for experiments"))
            return
        with contextlib.suppress(OSError, BrokenPipeError):
            self._requests.send(("experiment", name, dict(params), sample))

    # ------------------------------------------------------------ traces
    def _ask(self) -> None:
        """Answer the newest watch: at once for files; for weights, one request at a time."""
        if self._wanted is None or not self.count:
            return
        sample = self._wanted % self.count
        if sample in self.traces:
            self._wanted, self._shown = None, sample
            self._outbox.append(p.TraceReady(MAIN, self.uid, 1, sample, self.traces[sample]))
        elif self._asked is None and self._requests is not None:
            with contextlib.suppress(OSError, BrokenPipeError):
                self._requests.send(sample)
                self._asked = sample

    def _receive(self) -> None:
        if self._replies is None:
            return
        try:
            while self._replies.poll(0):
                self._reply(self._replies.recv())
        except (EOFError, OSError):
            if not self.info_sent:
                self._outbox.append(p.Fatal(f"--weights {self.weights}: the tracer process ended before "
                                            "its first trace"))
            self._replies = None

    def _reply(self, reply: tuple) -> None:
        match reply:
            case ("ready", count, parameters):
                self.count, self.parameters = count, parameters
                if self._wanted is None:
                    self._wanted = 0
                self._ask()
            case ("fatal", reason):
                self._outbox.append(p.Fatal(reason))
            case ("error", reason):
                self._asked = None
                self._outbox.append(p.TrainerError(MAIN, reason))
            case ("experiment", name, params, sample, result, error):
                self._outbox.append(p.ExperimentResult(MAIN, self.uid, name, params, 0, sample, result, error))
            case ("trace", sample, trace):
                self._asked = None
                self.traces[sample] = trace
                if not self.info_sent:
                    self._send_info(trace)
                self._ask()

    def _send_info(self, trace: Trace) -> None:
        self.info_sent = True
        meta = trace.meta or {}
        name = Path(self.views[0]).name if self.views else Path(self.weights).name
        model = {"arch": trace.arch, "hidden": trace.hidden, "layers": trace.layers,
                 "bidirectional": trace.directions == 2, "nonlinearity": meta.get("nonlinearity", "tanh")}
        self._outbox.append(p.RunInfo(
            run=MAIN, uid=self.uid, scenario=str(meta.get("scenario") or name), title=self.what, kind=trace.kind,
            model=model, train={}, source={}, vocab=trace.vocab, class_names=trace.class_names,
            joiner=meta.get("joiner", " " if trace.vocab and any(len(t) > 1 for t in trace.vocab) else ""),
            val_samples=self.count, seq_len=trace.steps, parameters=self.parameters, baseline={},
            goal={}, folder=None, step=int(meta.get("step", 0) or 0), checkpoint=None, inspect_only=True))
