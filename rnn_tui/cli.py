"""Command line: `rnn-tui` (the app), `rnn-tui train`, `rnn-tui trace`, `rnn-tui scenarios`.

Bad input never shows a traceback: every UserError becomes one line on stderr
and exit status 2.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

from rnn_tui import __version__
from rnn_tui.core.config import MAX_SAMPLE_LENGTH, MAX_SEED
from rnn_tui.core.files import cannot_write
from rnn_tui.core.memory import ENV as MEMORY_ENV, parse_limit
from rnn_tui.errors import UserError

COMMANDS = ("train", "trace", "sample", "scenarios", "lessons", "inspect", "runs", "view", "serve")

DESCRIPTION = """\
Step a small RNN, LSTM or GRU through a sequence and watch it learn: gates,
hidden states and the per-step gradient ||dL/dh_t||, live in your terminal.

commands:
  rnn-tui [options]            open the app (default scenario: text)
  rnn-tui scenarios            list built-in and ./scenarios/*.toml scenarios
  rnn-tui lessons              list the guided experiments; rnn-tui --lesson N opens one (b shows it)
  rnn-tui runs [--json]        list the runs under ./runs: scenario, model, steps, best, checkpoint
  rnn-tui train [options]      train headless, with a progress bar or --json lines
  rnn-tui trace [options]      export one sequence's states, gates and gradients (.npz)
  rnn-tui sample --checkpoint F    generate text from a trained next-token model
  rnn-tui inspect horizon|spectrum|units    what-if, the recurrent spectrum, the unit that does X
  rnn-tui view T.npz [U.npz ...]   open saved traces in the app (n/p between them)
  rnn-tui --weights F.pt --input X.npy   open your own torch.nn.RNN/LSTM/GRU in the app
  rnn-tui serve [--port P] [options]   the app as a web page; each open page trains its own model

In the app, ? shows every key (the README lists them too) and ctrl+p every command:
learning rate, clipping, optimizer, hidden size, temperature, theme. q quits and
says where the checkpoint went; --checkpoint F goes on from it.

Run `rnn-tui COMMAND --help` for a command's options."""


class Parser(argparse.ArgumentParser):
    """argparse that reports bad options in one line, exit status 2."""

    def error(self, message: str):  # noqa: D401 - argparse's name
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _int_from(low: int, words: str, high: int | None = None):
    """An argparse type: an integer from low (to high)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {words}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {words}, got {value}")
        return value
    return parse


_positive_int = _int_from(1, "a positive integer")
_whole = _int_from(0, "a whole number >= 0")
_seed = _int_from(0, f"a seed from 0 to {MAX_SEED}", MAX_SEED)
_length = _int_from(1, f"a length from 1 to {MAX_SAMPLE_LENGTH}", MAX_SAMPLE_LENGTH)
_threads = _int_from(1, "a thread count from 1 to 256", 256)  # a million threads never finish starting


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _memory_limit(text: str) -> str:
    try:
        parse_limit(text)
    except UserError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix(f"--memory-limit {text!r}: ")) from None
    return text


def _data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--scenario", metavar="S", help="a built-in name (rnn-tui scenarios) or a .toml file; default text")
    group.add_argument("--text", metavar="FILE", help="any UTF-8 text file as a character-level corpus")
    group.add_argument("--csv", metavar="FILE", help="a CSV file with a numeric column to forecast")
    group.add_argument("--column", metavar="NAME", help="the --csv column to forecast")
    group.add_argument("--fill-missing", choices=("interpolate", "drop"),
                       help="--csv: fill missing values by linear interpolation, or drop those rows")
    group.add_argument("--seq-len", type=_positive_int, metavar="N", help="sequence length (e.g. the adding problem's T)")
    group.add_argument("--max-vocab", type=_positive_int, metavar="N",
                       help="text: keep the N-1 most frequent characters, the rest one unknown token (default 512)")


def _model_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--arch", metavar="A", help="rnn, lstm, gru or esn (echo state network)")
    group.add_argument("--hidden", type=_positive_int, metavar="N", help="hidden units per layer")
    group.add_argument("--layers", type=_positive_int, metavar="N", help="stacked layers, 1 to 3")
    group.add_argument("--bidirectional", action="store_true", default=None,
                       help="read the sequence both ways (not for next-token or forecasting tasks)")
    group.add_argument("--nonlinearity", choices=("tanh", "relu"), help="Elman RNN / ESN activation")
    group.add_argument("--checkpoint", metavar="F", help="start from a checkpoint written by train --save")


def _train_options(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    group = parser.add_argument_group("training")
    group.add_argument("--steps", type=_positive_int, metavar="N", help="optimizer steps (default: the scenario's)")
    group.add_argument("--lr", type=_finite_float, metavar="X", help="learning rate")
    group.add_argument("--clip", type=_finite_float, metavar="X", help="clip the gradient's global norm at X; 0 = off")
    group.add_argument("--optimizer", choices=("adam", "sgd", "rmsprop"))
    group.add_argument("--batch-size", type=_positive_int, metavar="N")
    group.add_argument("--eval-every", type=_positive_int, metavar="N", help="steps between validations")
    group.add_argument("--seed", type=_seed, metavar="N", help="the same seed gives the same numbers on CPU")
    group.add_argument("--checkpoint-every", type=_whole, metavar="N",
                       help="evaluations between checkpoints in the run folder; 0: only at the end (default 10)")
    group.add_argument("--runs-dir", default="runs", metavar="DIR",
                       help="where each training run keeps metrics.jsonl and checkpoints (default ./runs)")
    group.add_argument("--memory-limit", type=_memory_limit, metavar="SIZE",
                       help="refuse a run estimated to need more: e.g. 4G, 500M, or 60%% of the memory "
                            "available (default 75%%; also RNN_TUI_MEMORY_LIMIT)")
    return group


def _headless_options(parser: argparse.ArgumentParser) -> None:
    group = _train_options(parser)
    group.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    group.add_argument("--threads", type=_threads, metavar="N",
                       help="torch CPU threads (default: all cores; use 1 on a busy machine)")
    group.add_argument("--save", metavar="F", help="also write the final checkpoint to F")
    group.add_argument("--no-run-folder", action="store_true",
                       help="write no run folder (metrics.jsonl and checkpoints under --runs-dir)")
    group.add_argument("--json", action="store_true", help="one JSON object per evaluation, then a final one")


def build_parser(command: str | None) -> argparse.ArgumentParser:
    if command == "runs":
        parser = Parser(prog="rnn-tui runs", description="List the training runs, the most recent first: "
                        "scenario, model, steps, the best value of the goal's metric, solved or not, the newest "
                        "checkpoint (what --checkpoint takes to go on) and when it last wrote.")
        parser.add_argument("--runs-dir", default="runs", metavar="DIR", help="the runs folder (default ./runs)")
        parser.add_argument("--json", action="store_true", help="one JSON list of runs")
        return parser
    if command == "view":
        parser = Parser(prog="rnn-tui view", description="Open traces saved by `rnn-tui trace` or the app's `e` "
                        "in the app, inspect-only: every panel, n/p from one file to the next.")
        parser.add_argument("traces", nargs="+", metavar="T.npz", help="trace files")
        return parser
    if command == "lessons":
        return Parser(prog="rnn-tui lessons", description="List the lessons, one line each: built-in, then "
                      "./lessons/*.toml. rnn-tui --lesson N opens the app set up for lesson N, with the lesson "
                      "beside the panels (b shows and hides it).")
    if command == "scenarios":
        return Parser(prog="rnn-tui scenarios", description="List the scenarios, one line each.")
    if command == "train":
        parser = Parser(prog="rnn-tui train", description="Train a scenario headless.")
        _data_options(parser)
        _model_options(parser)
        _headless_options(parser)
        return parser
    if command == "trace":
        parser = Parser(
            prog="rnn-tui trace",
            description="Export what one sequence did inside the network to an .npz file: every h_t "
            "and c_t, every gate, the outputs, per-step loss, ||dL/dh_t|| and ||dL/dx_t|| (keys in README).",
        )
        _data_options(parser)
        _model_options(parser)
        pick = parser.add_argument_group("which sequence")
        pick.add_argument("--sample", type=int, metavar="I", help="index into the validation split (default 0)")
        pick.add_argument("--input-text", metavar="STR", help="trace this text instead (token scenarios)")
        pick.add_argument("--seed", type=_seed, default=None, help="data and weight seed (default: the scenario's)")
        bare = parser.add_argument_group("a plain torch.nn module instead of a scenario")
        bare.add_argument("--weights", metavar="F", help="torch.save(rnn.state_dict()) of a torch.nn.RNN/LSTM/GRU")
        bare.add_argument("--input", metavar="ARRAY.npy", help="[T, input_size] array; loss L = 1/2 ||h_T||^2 of the last layer")
        parser.add_argument("--out", metavar="F.npz", required=True, help="where to write the trace")
        return parser
    if command == "inspect":
        from rnn_tui import inspect_cmd

        parser = Parser(prog="rnn-tui inspect", description=inspect_cmd.DESCRIPTION, epilog=inspect_cmd.epilog(),
                        formatter_class=argparse.RawDescriptionHelpFormatter)
        _data_options(parser)
        _model_options(parser)
        inspect_cmd.add_options(parser, _finite_float, _whole, _positive_int)
        return parser
    if command == "serve":
        from rnn_tui import serve_cmd

        # The app's parser as a parent: serve takes every option the app takes, for its pages.
        parser = Parser(prog="rnn-tui serve", description=serve_cmd.DESCRIPTION, parents=[build_parser(None)],
                        add_help=False, formatter_class=argparse.RawDescriptionHelpFormatter)
        serve_cmd.add_options(parser, _int_from(1, "a port from 1 to 65535", 65535))
        return parser
    if command == "sample":
        parser = Parser(prog="rnn-tui sample", description="Generate text from a next-token checkpoint.")
        parser.add_argument("--checkpoint", metavar="F", required=True, help="written by rnn-tui train --save")
        parser.add_argument("--temperature", type=_finite_float, metavar="X",
                            help="below 1 safer, above 1 wilder, 0 always the likeliest (default: the scenario's)")
        parser.add_argument("--length", type=_length, metavar="N", help="tokens to generate")
        parser.add_argument("--prompt", metavar="STR", help="text to start from")
        parser.add_argument("--seed", dest="sampling_seed", type=_seed, default=0, help="the random draws")
        return parser
    parser = Parser(prog="rnn-tui", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"rnn-tui {__version__}")
    parser.add_argument("--no-save", action="store_true", help="do not save a checkpoint on quit")
    parser.add_argument("--lesson", metavar="N", help="open set up for lesson N (rnn-tui lessons), or a lesson "
                        ".toml file; the options you give win over the lesson's")
    parser.add_argument("--device", default="cpu",
                        help="where the trainer process trains: cpu (default), cuda or auto")
    _data_options(parser)
    _model_options(parser)
    _train_options(parser)
    own = parser.add_argument_group("your own model, inspect-only (see README: Your own model)")
    own.add_argument("--weights", metavar="F", help="torch.save(rnn.state_dict()) of a torch.nn.RNN/LSTM/GRU")
    own.add_argument("--input", metavar="ARRAY.npy",
                     help="its inputs: [T, input_size], or [N, T, input_size] for N sequences (n/p)")
    own.add_argument("--input-text", metavar="STR", help="or a text, one-hot over --vocab")
    own.add_argument("--vocab", metavar="CHARS", help="the characters of --input-text's one-hot columns, in order")
    return parser


# ------------------------------------------------------------------ commands


def cmd_lessons(args) -> int:
    from rnn_tui.ui.lessons import builtin_dir, list_lessons

    for lesson in list_lessons():
        where = "" if lesson.path.parent == builtin_dir() else f"  [{lesson.path}]"
        setup = " ".join(str(lesson.setup[k]) for k in ("scenario", "arch") if k in lesson.setup)
        print(f"{lesson.number:>2}  {lesson.title}  ({setup}){where}")
    print("rnn-tui --lesson N opens one; in the app, b shows and hides it")
    return 0


def cmd_scenarios(args) -> int:
    from rnn_tui.data.scenario import builtin_dir, list_scenarios

    for sc in list_scenarios():
        where = "built-in" if sc.path is None or sc.path.parent == builtin_dir() else str(sc.path)
        print(f"{sc.name:<12} {sc.task:<11} {sc.model.arch:<5} {sc.title}  [{where}]")
    return 0


def cmd_train(args) -> int:
    from rnn_tui.training import footprint, headless
    from rnn_tui.training.options import resolve
    from rnn_tui.training.run import Run, data_notes
    from rnn_tui.training.trainer import pick_device

    import torch

    if args.save:
        _check_target("--save", args.save, make_folders=True)
    scenario, source, model, train, _ = resolve(args)
    device = pick_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    footprint.check_data(scenario)
    data = scenario.build_data(train.seed)
    footprint.check_runs(data, [(model, train)])
    for note in data_notes(scenario, data):
        print(f"rnn-tui: note: {note}", file=sys.stderr)
    runs_dir = None if args.no_run_folder else args.runs_dir
    run = Run("main", scenario, source, data, model, train, runs_dir, headless.say_errors, time.perf_counter,
              device=device)
    if args.checkpoint:
        run.load(args.checkpoint)
    return headless.run(run, args.save, args.json)


def cmd_trace(args) -> int:
    _check_target("--out", args.out)
    if args.weights or args.input:
        return _trace_weights(args)
    from rnn_tui.core import checkpoint
    from rnn_tui.core.model import SequenceModel
    from rnn_tui.core.trace import trace_sequence
    from rnn_tui.training import footprint
    from rnn_tui.training.options import resolve

    scenario, _, model_config, train, payload = resolve(args)
    seed = train.seed if args.seed is None else args.seed
    footprint.check_data(scenario)
    data = scenario.build_data(seed)
    model = SequenceModel(model_config, data.kind, data.input_size, data.output_size, data.tokens_in, seed=seed)
    if payload is not None:
        checkpoint.apply(model, payload, args.checkpoint)
    model.eval()
    if args.input_text is not None:
        x, y, dec_in = _text_sample(args.input_text, data, model)
    else:
        index = 0 if args.sample is None else args.sample
        if not 0 <= index < len(data.val):
            raise UserError(f"--sample {index}: the validation split has samples 0 to {len(data.val) - 1}")
        x, y = data.val.x[index], data.val.y[index]
        dec_in = None if data.val.dec_in is None else data.val.dec_in[index]
    tr = trace_sequence(model, x, y, dec_in)
    tr.vocab, tr.class_names = data.vocab, data.class_names
    step = int(payload["meta"].get("step", 0)) if payload is not None else 0
    tr.meta = {"scenario": scenario.name, "arch": model_config.arch, "step": step,
               "sample": None if args.input_text is not None else index, "run": "main",
               "nonlinearity": model_config.nonlinearity, "joiner": data.joiner}
    _save_trace(tr, args.out)
    print(f"wrote {args.out}: {tr.steps} steps, {model_config.arch}, loss {tr.total_loss:.4g}")
    return 0


def cmd_runs(args) -> int:
    import json

    from rnn_tui.training.runs_index import age, figure, list_runs

    runs = list_runs(args.runs_dir)
    if args.json:
        print(json.dumps([r.to_json() for r in runs], indent=1))
        return 0
    if not runs:
        print(f"no runs under {args.runs_dir} yet: rnn-tui and rnn-tui train write one per training run")
        return 0
    for r in runs:
        solved = f"solved at {r.solved_at:,}" if r.solved_at is not None else "not solved"
        print(f"{r.name}  {r.arch} {r.size}  step {r.step:,}  best {figure(r)}  {solved}  "
              f"{age(r.updated)} ago\n    {r.checkpoint or 'no checkpoint'}")
    return 0


def cmd_inspect(args) -> int:
    from rnn_tui.inspect_cmd import run

    return run(args)


def cmd_serve(args) -> int:
    from rnn_tui.serve_cmd import run

    return run(args, build_parser(None))


def cmd_sample(args) -> int:
    from rnn_tui.core import checkpoint
    from rnn_tui.core.model import SequenceModel
    from rnn_tui.training.headless import sample_from
    from rnn_tui.training.options import resolve

    for key in ("scenario", "text", "csv", "arch", "hidden", "layers", "bidirectional", "nonlinearity"):
        setattr(args, key, None)
    scenario, _, model_config, train, payload = resolve(args)
    data = scenario.build_data(train.seed)
    if data.kind != "next_token":
        raise UserError(f"--checkpoint {args.checkpoint}: a {data.kind} model; sampling needs a next-token one")
    if args.prompt:  # the rule of trace --input-text: unknown characters are refused, by name
        data.encode_text(args.prompt, "--prompt")
    model = SequenceModel(model_config, data.kind, data.input_size, data.output_size, data.tokens_in)
    checkpoint.apply(model, payload, args.checkpoint)
    print(sample_from(model, data, scenario.sample, args.sampling_seed, args.temperature, args.length, args.prompt))
    return 0


def _text_sample(text: str, data, model):
    """Targets for a sequence the user typed: the next token, or the model's own guess."""
    import torch

    if data.kind == "next_token":
        tokens = data.encode_text(text)
        if len(tokens) < 2:
            raise UserError("--input-text: needs at least 2 characters (each step predicts the next)")
        return tokens[:-1], tokens[1:], None
    if data.kind not in ("classify", "tag"):
        raise UserError(f"--input-text: a {data.kind} scenario has no typed input; use --sample I")
    tokens = data.encode_text(text)
    with torch.no_grad():  # no label was typed: explain the model's own decision
        guess = model(tokens[None]).argmax(-1)[0]
    return tokens, guess, None


def _trace_weights(args) -> int:
    import numpy as np

    from rnn_tui.core.trace import check_finite, trace_core
    from rnn_tui.core.weights import core_from_state_dict, load_input

    if not (args.weights and args.input):
        raise UserError("--weights and --input go together: a state_dict file and a [T, input_size] .npy array")
    if args.scenario or args.checkpoint or args.text or args.csv:
        raise UserError("--weights traces a plain torch.nn module; drop --scenario/--checkpoint/--text/--csv")
    core = core_from_state_dict(args.weights, args.nonlinearity or "tanh")
    inputs = load_input(args.input, core)
    with np.errstate(all="ignore"):  # an overflow is said below, in one line
        tr = trace_core(core, inputs)
    check_finite(tr, f"--weights {args.weights} on --input {args.input}")
    tr.meta = {"nonlinearity": args.nonlinearity or "tanh", "weights": str(args.weights)}
    _save_trace(tr, args.out)
    print(f"wrote {args.out}: {tr.steps} steps, {tr.arch} {tr.layers}x{core.hidden_size}"
          f"{' bidirectional' if core.bidirectional else ''}, L = {tr.total_loss:.4g}")
    return 0


def _check_target(option: str, path: str, make_folders: bool = False) -> None:
    """Refuse an output path that cannot be a file before any work is done."""
    why = cannot_write(path, make_folders)
    if why:
        raise UserError(f"{option} {path}: {why}; expected the path of a file to write")


def _save_trace(trace, path: str) -> None:
    try:
        trace.save(path)
    except OSError as err:
        raise UserError(f"--out {path}: cannot write the trace ({err.strerror or err}); "
                        "expected a writable folder with free space") from None


def cmd_view(args) -> int:
    from rnn_tui.training.trace_client import TraceClient

    return _run_app(TraceClient(views=args.traces), args, save=False)


def _own_model_client(args):
    """`--weights F` with `--input X.npy` or `--input-text STR --vocab CHARS`: an inspect-only client."""
    from rnn_tui.training.trace_client import TraceClient

    if not args.weights:
        raise UserError("--input, --input-text and --vocab go with --weights F (a torch.nn state_dict)")
    if bool(args.input) == bool(args.input_text):
        raise UserError("--weights needs its inputs: --input X.npy, or --input-text STR with --vocab CHARS")
    if args.input_text is not None and not args.vocab:
        raise UserError("--input-text needs --vocab CHARS: which character each input column stands for")
    given = [f"--{k.replace('_', '-')}" for k in ("scenario", "text", "csv", "checkpoint", "arch", "hidden", "layers")
             if getattr(args, k, None)]
    if given:
        raise UserError(f"--weights opens a model as it is; drop {', '.join(given)}")
    return TraceClient(weights=args.weights, inputs=args.input, nonlinearity=args.nonlinearity or "tanh",
                       text=args.input_text, vocab=args.vocab)


def cmd_app(args) -> int:
    """Open the app. The trainer process starts first and checks the options and files
    (that needs torch, which this process never loads); a bad one closes the app with
    one line and exit status 2."""
    from rnn_tui.training.client import TrainerClient

    from rnn_tui.ui.lessons import setup_lesson

    if args.device not in ("cpu", "cuda", "auto"):
        raise UserError(f"--device: unknown device {args.device!r}; expected cpu, cuda or auto")
    lesson = setup_lesson(args)  # its scenario and model, under the options given here
    if args.weights or args.input or args.input_text or args.vocab:
        return _run_app(_own_model_client(args), args, save=False)
    # Started before Textual takes the terminal: torch loads there while the first frame is drawn.
    client = TrainerClient({"options": args}, runs_dir=args.runs_dir, save_on_quit=not args.no_save,
                           device=args.device)
    return _run_app(client, args, save=not args.no_save, lesson=lesson)


def _run_app(client, args, save: bool, lesson=None) -> int:
    """Start the client (before Textual takes the terminal), run the app, say where things went."""
    # Textual paints on a fixed clock, 60 a second by default: a key could wait up to
    # 17 ms for its frame. Frames are drawn only when something changed, so a faster
    # clock costs nothing while the screen is still. Read when Textual is imported.
    os.environ.setdefault("TEXTUAL_FPS", "120")
    # Textual hands each frame to a writer thread, which feeds it to the terminal a few KB
    # at a time and needs the GIL back after each piece. With Python's default 5 ms switch
    # interval the main thread, drawing the next frame, held it for up to 5 ms a piece: a
    # 200x60 frame (~70 KB) reached the screen ~15 ms after its first byte; at 1 ms, ~5 ms.
    sys.setswitchinterval(0.001)
    from rnn_tui.training.client import TrainerClient
    from rnn_tui.ui.app import RnnTuiApp

    client.start()
    app = RnnTuiApp(TrainerClient, {"options": args}, runs_dir=getattr(args, "runs_dir", None), save_on_quit=save,
                    client=client, device=getattr(args, "device", "cpu"))
    app.lesson = lesson  # the screen shows it (b); None: no lesson
    try:
        app.run()
    finally:
        last = app.client.close(timeout=5)
    for event in last:
        if type(event).__name__ == "Saved":
            app.saved.append(event.path)
        elif type(event).__name__ == "TrainerError":
            print(f"rnn-tui: {event.reason}", file=sys.stderr)
    if app.exit_message:
        print(f"rnn-tui: {app.exit_message}", file=sys.stderr)
        return app.return_code or 2
    _say_where(app)
    if app.view.unsaved and not app.saved and save:
        print(f"rnn-tui: nothing was saved: {app.view.unsaved}", file=sys.stderr)
        return 1
    return app.return_code or 0


def _say_where(app) -> None:
    """The run folder and newest checkpoint: what `--checkpoint` needs to go on."""
    info = app.view.run
    try:
        if info is not None and info.folder and Path(info.folder).is_dir():
            print(f"rnn-tui: run folder {info.folder}  (rnn-tui runs lists them all)", file=sys.stderr)
        if app.saved:
            print(f"rnn-tui: checkpoint {app.saved[-1]}  (go on: rnn-tui --checkpoint {app.saved[-1]})",
                  file=sys.stderr)
    except OSError:  # the terminal is gone (SIGHUP): the files are written all the same
        pass


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv and argv[0] in COMMANDS else None
    args = build_parser(command).parse_args(argv[1:] if command else argv)
    handler = {"train": cmd_train, "trace": cmd_trace, "sample": cmd_sample, "scenarios": cmd_scenarios,
               "lessons": cmd_lessons, "inspect": cmd_inspect, "runs": cmd_runs, "view": cmd_view, "serve": cmd_serve}.get(command, cmd_app)
    limit = getattr(args, "memory_limit", None)
    before = os.environ.get(MEMORY_ENV)
    if limit:  # where this process and the trainer process it starts read it
        os.environ[MEMORY_ENV] = limit
    try:
        return handler(args)
    except UserError as err:  # one line, even where a file name or a value holds a line break
        print(f"rnn-tui: {' '.join(str(err).splitlines())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnn-tui: interrupted", file=sys.stderr)
        return 130
    finally:
        if limit and before is None:
            del os.environ[MEMORY_ENV]
        elif limit:
            os.environ[MEMORY_ENV] = before


if __name__ == "__main__":
    sys.exit(main())
