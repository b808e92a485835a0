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
from rnn_tui.errors import UserError

COMMANDS = ("train", "trace", "sample", "scenarios")

DESCRIPTION = """\
Step a small RNN, LSTM or GRU through a sequence and watch it learn: gates,
hidden states and the per-step gradient ||dL/dh_t||, live in your terminal.

commands:
  rnn-tui [options]            open the app (default scenario: text)
  rnn-tui scenarios            list built-in and ./scenarios/*.toml scenarios
  rnn-tui train [options]      train headless, with a progress bar or --json lines
  rnn-tui trace [options]      export one sequence's states, gates and gradients (.npz)
  rnn-tui sample --checkpoint F    generate text from a trained next-token model

In the app, ? shows every key (the README lists them too) and ctrl+p every command:
learning rate, clipping, optimizer, hidden size, temperature, theme. q quits and
says where the checkpoint went; --checkpoint F goes on from it.

Run `rnn-tui COMMAND --help` for a command's options."""


class Parser(argparse.ArgumentParser):
    """argparse that reports bad options in one line, exit status 2."""

    def error(self, message: str):  # noqa: D401 - argparse's name
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _int_from(low: int, words: str):
    """An argparse type: an integer >= low."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {words}, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {words}, got {value}")
        return value
    return parse


_positive_int = _int_from(1, "a positive integer")
_whole = _int_from(0, "a whole number >= 0")


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _data_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--scenario", metavar="S", help="a built-in name (rnn-tui scenarios) or a .toml file; default text")
    group.add_argument("--text", metavar="FILE", help="any UTF-8 text file as a character-level corpus")
    group.add_argument("--csv", metavar="FILE", help="a CSV file with a numeric column to forecast")
    group.add_argument("--column", metavar="NAME", help="the --csv column to forecast")
    group.add_argument("--fill-missing", choices=("interpolate", "drop"),
                       help="--csv: fill missing values by linear interpolation, or drop those rows")
    group.add_argument("--seq-len", type=_positive_int, metavar="N", help="sequence length (e.g. the adding problem's T)")


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
    group.add_argument("--seed", type=int, metavar="N", help="the same seed gives the same numbers on CPU")
    group.add_argument("--checkpoint-every", type=_whole, metavar="N",
                       help="evaluations between checkpoints in the run folder; 0: only at the end (default 10)")
    group.add_argument("--runs-dir", default="runs", metavar="DIR",
                       help="where each training run keeps metrics.jsonl and checkpoints (default ./runs)")
    return group


def _headless_options(parser: argparse.ArgumentParser) -> None:
    group = _train_options(parser)
    group.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    group.add_argument("--threads", type=_positive_int, metavar="N",
                       help="torch CPU threads (default: all cores; use 1 on a busy machine)")
    group.add_argument("--save", metavar="F", help="also write the final checkpoint to F")
    group.add_argument("--no-run-folder", action="store_true",
                       help="write no run folder (metrics.jsonl and checkpoints under --runs-dir)")
    group.add_argument("--json", action="store_true", help="one JSON object per evaluation, then a final one")


def build_parser(command: str | None) -> argparse.ArgumentParser:
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
        pick.add_argument("--seed", type=int, default=None, help="data and weight seed (default: the scenario's)")
        bare = parser.add_argument_group("a plain torch.nn module instead of a scenario")
        bare.add_argument("--weights", metavar="F", help="torch.save(rnn.state_dict()) of a torch.nn.RNN/LSTM/GRU")
        bare.add_argument("--input", metavar="ARRAY.npy", help="[T, input_size] array; loss L = 1/2 ||h_T||^2 of the last layer")
        parser.add_argument("--out", metavar="F.npz", required=True, help="where to write the trace")
        return parser
    if command == "sample":
        parser = Parser(prog="rnn-tui sample", description="Generate text from a next-token checkpoint.")
        parser.add_argument("--checkpoint", metavar="F", required=True, help="written by rnn-tui train --save")
        parser.add_argument("--temperature", type=_finite_float, metavar="X",
                            help="below 1 safer, above 1 wilder, 0 always the likeliest (default: the scenario's)")
        parser.add_argument("--length", type=_positive_int, metavar="N", help="tokens to generate")
        parser.add_argument("--prompt", metavar="STR", help="text to start from")
        parser.add_argument("--seed", dest="sampling_seed", type=int, default=0, help="the random draws")
        return parser
    parser = Parser(prog="rnn-tui", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"rnn-tui {__version__}")
    parser.add_argument("--no-save", action="store_true", help="do not save a checkpoint on quit")
    parser.add_argument("--device", default="cpu",
                        help="where the trainer process trains: cpu (default), cuda or auto")
    _data_options(parser)
    _model_options(parser)
    _train_options(parser)
    return parser


# ------------------------------------------------------------------ commands


def cmd_scenarios(args) -> int:
    from rnn_tui.data.scenario import builtin_dir, list_scenarios

    for sc in list_scenarios():
        where = "built-in" if sc.path is None or sc.path.parent == builtin_dir() else str(sc.path)
        print(f"{sc.name:<12} {sc.task:<11} {sc.model.arch:<5} {sc.title}  [{where}]")
    return 0


def cmd_train(args) -> int:
    from rnn_tui.training import headless
    from rnn_tui.training.options import resolve
    from rnn_tui.training.run import Run
    from rnn_tui.training.trainer import pick_device

    import torch

    scenario, source, model, train, _ = resolve(args)
    device = pick_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    data = scenario.build_data(train.seed)
    runs_dir = None if args.no_run_folder else args.runs_dir
    run = Run("main", scenario, source, data, model, train, runs_dir, headless.say_errors, time.perf_counter,
              device=device)
    if args.checkpoint:
        run.load(args.checkpoint)
    return headless.run(run, args.save, args.json)


def cmd_trace(args) -> int:
    if args.weights or args.input:
        return _trace_weights(args)
    from rnn_tui.core import checkpoint
    from rnn_tui.core.model import SequenceModel
    from rnn_tui.core.trace import trace_sequence
    from rnn_tui.training.options import resolve

    scenario, _, model_config, train, payload = resolve(args)
    seed = train.seed if args.seed is None else args.seed
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
               "nonlinearity": model_config.nonlinearity}
    tr.save(args.out)
    print(f"wrote {args.out}: {tr.steps} steps, {model_config.arch}, loss {tr.total_loss:.4g}")
    return 0


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
    from rnn_tui.core.trace import trace_core
    from rnn_tui.core.weights import core_from_state_dict, load_input

    if not (args.weights and args.input):
        raise UserError("--weights and --input go together: a state_dict file and a [T, input_size] .npy array")
    if args.scenario or args.checkpoint or args.text or args.csv:
        raise UserError("--weights traces a plain torch.nn module; drop --scenario/--checkpoint/--text/--csv")
    core = core_from_state_dict(args.weights, args.nonlinearity or "tanh")
    tr = trace_core(core, load_input(args.input, core))
    tr.meta = {"nonlinearity": args.nonlinearity or "tanh", "weights": str(args.weights)}
    tr.save(args.out)
    print(f"wrote {args.out}: {tr.steps} steps, {tr.arch} {tr.layers}x{core.hidden_size}"
          f"{' bidirectional' if core.bidirectional else ''}, L = {tr.total_loss:.4g}")
    return 0


def cmd_app(args) -> int:
    """Open the app. The trainer process starts first and checks the options and files
    (that needs torch, which this process never loads); a bad one closes the app with
    one line and exit status 2."""
    # Textual paints on a fixed clock, 60 a second by default: a key could wait up to
    # 17 ms for its frame. Frames are drawn only when something changed, so a faster
    # clock costs nothing while the screen is still. Read when Textual is imported.
    os.environ.setdefault("TEXTUAL_FPS", "120")
    from rnn_tui.training.client import TrainerClient

    if args.device not in ("cpu", "cuda", "auto"):
        raise UserError(f"--device: unknown device {args.device!r}; expected cpu, cuda or auto")
    # Started before Textual takes the terminal: torch loads there while the first frame is drawn.
    client = TrainerClient({"options": args}, runs_dir=args.runs_dir, save_on_quit=not args.no_save,
                           device=args.device)
    client.start()

    from rnn_tui.ui.app import RnnTuiApp

    app = RnnTuiApp(TrainerClient, {"options": args}, runs_dir=args.runs_dir, save_on_quit=not args.no_save,
                    client=client, device=args.device)
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
    if app.view.unsaved and not app.saved and not args.no_save:
        print(f"rnn-tui: nothing was saved: {app.view.unsaved}", file=sys.stderr)
        return 1
    return app.return_code or 0


def _say_where(app) -> None:
    """The run folder and newest checkpoint: what `--checkpoint` needs to go on."""
    info = app.view.run
    try:
        if app.saved:
            print(f"rnn-tui: checkpoint {app.saved[-1]}  (go on: rnn-tui --checkpoint {app.saved[-1]})",
                  file=sys.stderr)
        elif info is not None and info.folder and Path(info.folder).is_dir():
            print(f"rnn-tui: run folder {info.folder}", file=sys.stderr)
    except OSError:  # the terminal is gone (SIGHUP): the files are written all the same
        pass


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv and argv[0] in COMMANDS else None
    args = build_parser(command).parse_args(argv[1:] if command else argv)
    handler = {"train": cmd_train, "trace": cmd_trace, "sample": cmd_sample, "scenarios": cmd_scenarios}.get(command, cmd_app)
    try:
        return handler(args)
    except UserError as err:
        print(f"rnn-tui: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnn-tui: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
