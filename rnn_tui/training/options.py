"""From command-line options to what a run is built from: scenario, source, configs.

Used by headless `train`, `trace` and `sample`, and by the trainer process for the
app (the app's own process never loads a scenario or a checkpoint). `args` is the
argparse namespace (or any object with the same attributes).
"""

from __future__ import annotations

from dataclasses import replace

from rnn_tui.core import checkpoint
from rnn_tui.core.config import ModelConfig, TrainConfig, from_dict
from rnn_tui.data.source import Source
from rnn_tui.errors import UserError

DATA_OPTIONS = ("seq_len", "max_vocab")  # overrides of the scenario's [data] fields
MODEL_OPTIONS = ("arch", "hidden", "layers", "bidirectional", "nonlinearity")
TRAIN_OPTIONS = ("steps", "lr", "clip", "optimizer", "batch_size", "eval_every", "seed", "checkpoint_every")


def resolve(args) -> tuple:
    """(scenario, source dict, model config, train config, checkpoint payload or None)."""
    payload = None
    data_overrides = {key: getattr(args, key) for key in DATA_OPTIONS if getattr(args, key, None)}
    if args.checkpoint:
        payload = checkpoint.load(args.checkpoint)
        meta = payload["meta"]
        if any(getattr(args, k, None) for k in ("scenario", "text", "csv", *DATA_OPTIONS)):
            raise UserError(f"--checkpoint {args.checkpoint}: already names its data "
                            f"({meta.get('scenario')}); drop --scenario/--text/--csv/--seq-len/--max-vocab")
        where = f"checkpoint {args.checkpoint}: meta"  # checkpoint.load checked the types
        source = Source.from_dict(meta["source"], f"{where}.source")
        model = from_dict(ModelConfig, meta["model"], f"{where}.model")
        train = from_dict(TrainConfig, meta["train"], f"{where}.train")
        for key in MODEL_OPTIONS:
            wanted = getattr(args, key, None)
            if wanted is not None and wanted != getattr(model, key):
                raise UserError(f"--{key} {wanted}: the checkpoint {args.checkpoint} holds a model with "
                                f"{key} {getattr(model, key)}; drop --{key} or train a new one")
    else:
        source = Source(scenario=args.scenario or "text", text=args.text, csv=args.csv,
                        column=args.column, fill_missing=args.fill_missing, data=data_overrides)
    scenario = source.load()
    if payload is None:
        model = with_options(scenario.model, args, MODEL_OPTIONS)
        train = scenario.train
    train = with_options(train, args, TRAIN_OPTIONS)
    return scenario, source.to_dict(), model, train, payload


def with_options(config, args, names: tuple[str, ...]):
    """`config` with the options given in `args`, each checked under its own name
    ("--seed: seed must be ..."), wherever the options came from (the app's too)."""
    for name in names:
        value = getattr(args, name, None)
        if value is not None:
            config = replace(config, **{name: value}).validate(f"--{name.replace('_', '-')}")
    return config
