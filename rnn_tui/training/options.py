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


def resolve(args) -> tuple:
    """(scenario, source dict, model config, train config, checkpoint payload or None)."""
    payload = None
    data_overrides = {"seq_len": args.seq_len} if getattr(args, "seq_len", None) else {}
    if args.checkpoint:
        payload = checkpoint.load(args.checkpoint)
        meta = payload["meta"]
        if any(getattr(args, k, None) for k in ("scenario", "text", "csv", "seq_len")):
            raise UserError(f"--checkpoint {args.checkpoint}: already names its data "
                            f"({meta.get('scenario')}); drop --scenario/--text/--csv/--seq-len")
        source = Source.from_dict(meta.get("source", {}))
        model = from_dict(ModelConfig, meta.get("model", {}), f"checkpoint {args.checkpoint}: model")
        train = from_dict(TrainConfig, meta.get("train", {}), f"checkpoint {args.checkpoint}: train")
        for key in ("arch", "hidden", "layers", "bidirectional", "nonlinearity"):
            wanted = getattr(args, key, None)
            if wanted is not None and wanted != getattr(model, key):
                raise UserError(f"--{key} {wanted}: the checkpoint {args.checkpoint} holds a model with "
                                f"{key} {getattr(model, key)}; drop --{key} or train a new one")
    else:
        source = Source(scenario=args.scenario or "text", text=args.text, csv=args.csv,
                        column=args.column, fill_missing=args.fill_missing, data=data_overrides)
    scenario = source.load()
    if payload is None:
        changes = {k: getattr(args, k) for k in ("arch", "hidden", "layers", "bidirectional", "nonlinearity")
                   if getattr(args, k, None) is not None}
        model = replace(scenario.model, **changes).validate("command line")
        train = scenario.train
    tc = {"steps": "steps", "lr": "lr", "clip": "clip", "optimizer": "optimizer", "batch_size": "batch_size",
          "eval_every": "eval_every", "seed": "seed", "checkpoint_every": "checkpoint_every"}
    changes = {field: getattr(args, opt) for opt, field in tc.items() if getattr(args, opt, None) is not None}
    train = replace(train, **changes).validate("command line")
    return scenario, source.to_dict(), model, train, payload
