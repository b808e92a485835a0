"""`rnn-tui inspect horizon|spectrum|units`: ask a network questions, from its real weights.

The computing is core.experiments'; this module picks the model and the sequences
from the options, as `rnn-tui trace` does (a scenario or --checkpoint, --sample I
or --input-text; a plain torch.nn core from --weights with --input X.npy), and
prints the result: with --json exactly the experiment's value, else a few lines.
torch is imported only when a command runs, so building the parser stays cheap.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from rnn_tui.core import rules
from rnn_tui.errors import UserError

EXPERIMENTS = ("horizon", "spectrum", "units")
DEFAULT_SAMPLES = 100  # units: validation samples to correlate over
SHOWN_UNITS = 10

DESCRIPTION = """\
Ask the network questions; the answer comes from its real weights.

  horizon   replace the input at --step (--token X, or --delta D / --value V for numbers) and
            show ||h'_s - h_s|| of the last layer and the change of the output at every later
            step; the memory horizon is the number of steps until ||h'_s - h_s|| first falls
            below 1% of its value at the changed step.
  spectrum  eigenvalues, singular values and spectral radius of each layer's weight_hh
            (for an LSTM or GRU, of each gate block).
  units     every hidden unit ranked by the correlation of its h with --rule over the steps of
            the validation samples (or of --input-text / --input): the unit that does X."""


def add_options(parser: argparse.ArgumentParser, number, whole, positive) -> None:
    """inspect's own options; number, whole and positive are the CLI's argparse types."""
    parser.add_argument("experiment", choices=EXPERIMENTS, help="which question to ask")
    pick = parser.add_argument_group("which sequence")
    pick.add_argument("--sample", type=whole, metavar="I",
                      help="index into the validation split (horizon: default 0; units: only this one)")
    pick.add_argument("--samples", type=positive, default=DEFAULT_SAMPLES, metavar="N",
                      help=f"units: the first N validation samples (default {DEFAULT_SAMPLES})")
    pick.add_argument("--input-text", metavar="STR", help="this text instead (token scenarios)")
    change = parser.add_argument_group("horizon: the change")
    change.add_argument("--step", type=whole, default=0, metavar="T", help="the step to change (default 0)")
    one = change.add_mutually_exclusive_group()
    one.add_argument("--token", metavar="X", help="put token X there (token inputs; \\n for a line break)")
    one.add_argument("--delta", type=number, metavar="D", help="add D to the value there (number inputs)")
    one.add_argument("--value", type=number, metavar="V", help="put V there (number inputs)")
    change.add_argument("--feature", type=whole, default=0, metavar="I",
                        help="the input feature --delta or --value changes (default 0, e.g. adding's value)")
    parser.add_argument_group("units").add_argument(
        "--rule", metavar="R", help="a built-in rule or an expression; see 'rules' below")
    bare = parser.add_argument_group("a plain torch.nn module instead of a scenario")
    bare.add_argument("--weights", metavar="F", help="torch.save(rnn.state_dict()) of a torch.nn.RNN/LSTM/GRU")
    bare.add_argument("--input", metavar="ARRAY.npy", help="[T, input_size] array (horizon, units)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def epilog() -> str:
    """The rules' grammar and built-ins, from core.rules' docstring."""
    doc = rules.__doc__ or ""
    return "rules (--rule):\n" + "\n".join("  " + line for line in doc[doc.find("Grammar:"):].splitlines())


@dataclass
class Subject:
    """What an experiment asks: the model, its vocabulary, one sequence and the samples."""

    model: object
    vocab: list[str] | None = None
    x: object = None  # the one sequence: [T] tokens or [T, F] numbers
    dec_in: object = None  # seq2seq: the decoder's input for x
    samples: object = None  # [N, T] or [N, T, F]


def _bare(args) -> Subject:
    from rnn_tui.core.weights import core_from_state_dict, load_input

    if not args.weights:
        raise UserError("--input goes with --weights: a state_dict file and a [T, input_size] .npy array")
    if args.scenario or args.checkpoint or args.text or args.csv or args.input_text:
        raise UserError("--weights inspects a plain torch.nn module; drop --scenario/--checkpoint/--text/--csv"
                        "/--input-text")
    core = core_from_state_dict(args.weights, args.nonlinearity or "tanh").eval()
    x = load_input(args.input, core) if args.input else None
    return Subject(core, x=x, samples=None if x is None else x[None])


def _from_scenario(args) -> Subject:
    from rnn_tui.core import checkpoint
    from rnn_tui.core.model import SequenceModel
    from rnn_tui.training import footprint
    from rnn_tui.training.options import resolve

    scenario, _, config, train, payload = resolve(args)
    footprint.check_data(scenario)
    data = scenario.build_data(train.seed)
    model = SequenceModel(config, data.kind, data.input_size, data.output_size, data.tokens_in, seed=train.seed)
    if payload is not None:
        checkpoint.apply(model, payload, args.checkpoint)
    model.eval()
    if args.input_text is not None:
        if data.kind == "seq2seq":
            raise UserError("--input-text: a seq2seq decoder reads the target, which was not typed; use --sample I")
        x = data.encode_text(args.input_text)
        return Subject(model, data.vocab, x, samples=x[None])
    val = data.val
    index = 0 if args.sample is None else args.sample
    if index >= len(val):
        raise UserError(f"--sample {index}: the validation split has samples 0 to {len(val) - 1}")
    samples = val.x[:args.samples] if args.sample is None else val.x[index:index + 1]
    dec_in = None if val.dec_in is None else val.dec_in[index]
    return Subject(model, data.vocab, val.x[index], dec_in, samples)


def _token_id(text: str | None, vocab: list[str] | None) -> int | None:
    if text is None or vocab is None:  # a number model says what it wants instead
        return None
    for candidate in (text, rules.unescape(text)):
        if candidate in vocab:
            return vocab.index(candidate)
    raise UserError(f"--token {text!r}: not a token of this model; expected {rules.vocab_hint(vocab)}")


def _needs_input(subject: Subject, experiment: str) -> None:
    if subject.x is None:
        raise UserError(f"{experiment} needs a sequence: give --input X.npy with --weights")


def _ask_horizon(args, subject: Subject) -> dict:
    from rnn_tui.core.experiments import horizon

    _needs_input(subject, "horizon")
    return horizon(subject.model, subject.x, args.step, token=_token_id(args.token, subject.vocab),
                   delta=args.delta, value=args.value, feature=args.feature, dec_in=subject.dec_in,
                   vocab=subject.vocab)


def _ask_spectrum(args, subject: Subject) -> list[dict]:
    from rnn_tui.core.experiments import spectrum

    return spectrum(subject.model)


def _ask_units(args, subject: Subject) -> list[dict]:
    from rnn_tui.core.experiments import rank_units

    if args.rule is None:
        raise UserError(f"units needs --rule R; expected a built-in rule ({', '.join(rules.BUILTIN)}) "
                        "or an expression such as \"count('(') - count(')')\"")
    _needs_input(subject, "units")
    return rank_units(subject.model, subject.samples, args.rule, subject.vocab)


# ---------------------------------------------------------------- readable summaries


def _say_horizon(args, result: dict) -> list[str]:
    step, dh, k = result["step"], result["delta_h"], result["horizon"]
    last = step + len(dh) - 1
    reach = "beyond the sequence" if k is None else f"{k} steps (below 1% at step {step + k})"
    return [f"{result['perturbation']} at step {step}",
            f"||h' - h|| of the last layer: {dh[0]:.4g} at step {step}, {dh[-1]:.4g} at step {last}",
            f"memory horizon: {reach}"]


def _direction(d: int) -> str:
    return "backward" if d else "forward"


def _say_spectrum(args, result: list[dict]) -> list[str]:
    lines = []
    for e in result:
        gates = ""
        if "gates" in e:
            each = ", ".join(f"{g} {v['spectral_radius']:.4g}" for g, v in e["gates"].items())
            gates = f" (gate {e['gate']}; per gate: {each})"
        lines.append(f"layer {e['layer']} {_direction(e['direction'])}: spectral radius "
                     f"{e['spectral_radius']:.4g}{gates}, largest singular value {e['singular_values'][0]:.4g}")
    return lines


def _say_units(args, result: list[dict]) -> list[str]:
    lines = [f"rule {rules.expression(args.rule)}: the {min(SHOWN_UNITS, len(result))} of {len(result)} units "
             "whose h follows it best"]
    for u in result[:SHOWN_UNITS]:
        corr = "constant" if u["corr"] is None else f"{u['corr']:+.3f}"
        lines.append(f"  layer {u['layer']} {_direction(u['direction'])} unit {u['unit']:>4}  corr {corr}")
    return lines


ASK = {"horizon": (_ask_horizon, _say_horizon), "spectrum": (_ask_spectrum, _say_spectrum),
       "units": (_ask_units, _say_units)}


def run(args) -> int:
    import torch

    torch.set_num_threads(1)  # small products: a second thread only spin-waits on a busy machine
    subject = _bare(args) if args.weights or args.input else _from_scenario(args)
    ask, say = ASK[args.experiment]
    result = ask(args, subject)
    print(json.dumps(result) if args.json else "\n".join(say(args, result)))
    return 0
