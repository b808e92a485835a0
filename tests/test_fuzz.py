"""Property-based: generated scenario files, CSV and text files, state_dicts, .npy inputs and
checkpoint structures, each held to the promise (tests/promise.py): exit status 0 or 2,
never a traceback or a warning, one line on stderr when 2, nothing written on failure,
no temp file left.

The "ci" profile (tests/conftest.py) runs a few hundred examples in all, the same ones
every time; HYPOTHESIS_PROFILE=nightly searches far longer.
"""

from __future__ import annotations

import copy
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import event, given
from hypothesis import strategies as st

from tests.promise import call, check_kept

TINY = ["--steps", "1", "--eval-every", "1", "--no-run-folder", "--json"]


def folder() -> tempfile.TemporaryDirectory:
    """A fresh folder for one example (pytest's tmp_path is one per test, not per example)."""
    return tempfile.TemporaryDirectory(prefix="rnn-tui-fuzz-")


def held_to_promise(argv: list[str], tmp: Path, written: Path):
    result = call(argv)
    check_kept(result, written=written, folder=tmp)
    event(f"exit {result.code}")  # how many examples got past every check: --hypothesis-show-statistics
    return result


# ------------------------------------------------------------------ values of every kind


SCALARS = st.one_of(
    st.integers(-3, 50),
    st.sampled_from([0, -1, 2**31, 2**63 - 1, -(2**63)]),
    st.sampled_from([1000, 4096, 65536, 100_000, 200_000]),  # the largest sizes allowed: refused past 1G
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(["lstm", "gru", "rnn", "esn", "tanh", "relu", "adam", "sgd", "val_loss", "accuracy", "f1",
                     "below", "above", "regress", "tag", "classify", "forecast", "next_token", "seq2seq",
                     "adding", "text", "csv", "digits", "sine", "corpus.txt", ".", "/dev/null", "nope.txt"]),
)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)


# ------------------------------------------------------------------ scenario files


SMALL = {  # generator -> (task, [data] fields small enough to train in milliseconds)
    "adding": ("regress", {"seq_len": 6, "train_size": 16, "val_size": 8}),
    "sine": ("forecast", {"seq_len": 6, "train_size": 16, "val_size": 8}),
    "brackets": ("tag", {"seq_len": 6, "max_depth": 3, "train_size": 16, "val_size": 8}),
    "reverse": ("seq2seq", {"seq_len": 4, "symbols": 4, "train_size": 16, "val_size": 8}),
    "copy": ("tag", {"symbols": 4, "length": 2, "delay": 2, "train_size": 16, "val_size": 8}),
    "sentiment": ("classify", {"seq_len": 16, "train_size": 16, "val_size": 8}),
    "text": ("next_token", {"file": "corpus.txt", "seq_len": 8}),
}
KEYS = {  # table -> keys a mutation picks from (the known ones and a stranger)
    None: ["name", "title", "description", "task", "data", "model", "train", "solved", "sample", "extra"],
    "data": ["generator", "seq_len", "train_size", "val_size", "file", "symbols", "length", "delay", "column",
             "max_depth", "letters", "but", "noise", "min_period", "max_period", "val_fraction", "max_vocab",
             "extra"],
    "model": ["arch", "hidden", "layers", "bidirectional", "nonlinearity", "embed", "dropout",
              "spectral_radius", "input_scale", "extra"],
    "train": ["steps", "lr", "batch_size", "clip", "optimizer", "momentum", "weight_decay", "eval_every",
              "seed", "checkpoint_every", "extra"],
    "solved": ["metric", "goal", "direction", "baseline", "extra"],
    "sample": ["temperature", "length", "prompt", "extra"],
}


def small_scenario(generator: str) -> dict:
    task, data = SMALL[generator]
    return {"title": "t", "description": "d", "task": task, "data": {"generator": generator, **data},
            "model": {"hidden": 8, "embed": 4}, "train": {"batch_size": 4},
            "solved": {"metric": "val_loss", "goal": 0.1, "baseline": "b"}}


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON's escapes are TOML's; a lone surrogate makes bad TOML
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_text(scenario: dict) -> str:
    """Top-level keys first, then one [table] per dict."""
    top = [f"{json.dumps(k)} = {toml_value(v)}" for k, v in scenario.items() if not isinstance(v, dict)]
    tables = [f"[{json.dumps(k)}]\n" + "".join(f"{json.dumps(n)} = {toml_value(v)}\n" for n, v in table.items())
              for k, table in scenario.items() if isinstance(table, dict)]
    return "\n".join(top) + "\n" + "".join(tables)


@st.composite
def scenarios(draw) -> str:
    scenario = small_scenario(draw(st.sampled_from(sorted(SMALL))))
    for _ in range(draw(st.integers(0, 3))):
        table = draw(st.sampled_from(sorted(KEYS, key=str)))
        target = scenario if table is None else scenario.setdefault(table, {})
        if not isinstance(target, dict):
            continue
        key = draw(st.sampled_from(KEYS[table]))
        if draw(st.booleans()) and key in target:
            del target[key]
        else:
            target[key] = draw(VALUES)
    text = toml_text(scenario)
    if draw(st.integers(0, 9)) == 0:  # now and then a byte or two of damage
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.text(max_size=3)) + text[at + draw(st.integers(0, 3)):]
    return text


CORPUS = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n" * 3


@given(scenarios())
def test_scenario_files(text):
    with folder() as name:
        tmp = Path(name)
        (tmp / "corpus.txt").write_text(CORPUS)
        try:
            (tmp / "s.toml").write_text(text, encoding="utf-8")
        except UnicodeEncodeError:  # a lone surrogate: write its bytes as they come
            (tmp / "s.toml").write_bytes(text.encode("utf-8", "surrogatepass"))
        out = tmp / "out.pt"
        held_to_promise(["train", "--scenario", str(tmp / "s.toml"), *TINY, "--memory-limit", "1G",
                         "--save", str(out)], tmp, out)


# ------------------------------------------------------------------ CSV and text files


CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["", "NA", "nan", "-", "?", "inf", "1e308", "-1e308", "1e-320", "x", '"', "1,5"]),
    st.text(max_size=5),
)


@st.composite
def csv_files(draw) -> tuple[str, str]:
    """A numeric column "x", then some damage: strange cells, rows, a header, a delimiter."""
    rows = [[repr(v)] for v in draw(st.lists(st.floats(-1e6, 1e6), min_size=20, max_size=40))]
    header = ["x"]
    for _ in range(draw(st.sampled_from([0, 0, 1, 2, 6]))):
        at = draw(st.integers(0, len(rows)))
        damage = draw(st.sampled_from(["cell", "row", "header"]))
        if damage == "cell":
            rows[at % len(rows)] = [draw(CELLS)]
        elif damage == "row":
            rows.insert(at, draw(st.lists(CELLS, max_size=3)))
        else:
            header = draw(st.lists(st.sampled_from(["x", "y", "date"]) | st.text(max_size=4), max_size=3))
    sep = draw(st.sampled_from([",", ";", "\t"]))
    lines = [sep.join(header)] + [sep.join(row) for row in rows]
    column = draw(st.sampled_from(header + ["x", "y"]))
    return "\n".join(lines) + draw(st.sampled_from(["", "\n"])), column


@given(csv_files(), st.integers(2, 4), st.sampled_from([None, "interpolate", "drop"]))
def test_csv_files(csv, seq_len, fill):
    text, column = csv
    with folder() as name:
        tmp = Path(name)
        (tmp / "d.csv").write_bytes(text.encode("utf-8", "surrogatepass"))
        out = tmp / "out.pt"
        options = ["--fill-missing", fill] if fill else []
        held_to_promise(["train", "--csv", str(tmp / "d.csv"), "--column", column, "--seq-len", str(seq_len),
                         *options, "--hidden", "4", *TINY, "--save", str(out)], tmp, out)


TEXTS = st.one_of(st.binary(max_size=400), st.text(min_size=20, max_size=400).map(
    lambda t: t.encode("utf-8", "surrogatepass")))


@given(TEXTS, st.integers(2, 12))
def test_text_files(raw, seq_len):
    with folder() as name:
        tmp = Path(name)
        (tmp / "t.txt").write_bytes(raw)
        out = tmp / "out.pt"
        held_to_promise(["train", "--text", str(tmp / "t.txt"), "--seq-len", str(seq_len), "--hidden", "8",
                         *TINY, "--save", str(out)], tmp, out)


@pytest.fixture(scope="module")
def text_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("text") / "text.pt"
    result = call(["train", "--scenario", "text", "--hidden", "8", *TINY, "--save", str(path)])
    assert result.code == 0, result.err
    return path


@given(st.text(min_size=2, max_size=30))
def test_typed_text_one_rule_for_trace_and_sample(text_checkpoint, typed):
    with folder() as name:
        tmp = Path(name)
        out = tmp / "t.npz"
        traced = held_to_promise(["trace", "--checkpoint", str(text_checkpoint), "--input-text", typed,
                                  "--out", str(out)], tmp, out)
        sampled = call(["sample", "--checkpoint", str(text_checkpoint), "--prompt", typed, "--length", "2"])
        check_kept(sampled)
        unknown = "vocabulary" in traced.err
        assert unknown == ("vocabulary" in sampled.err), (traced.err, sampled.err)


# ------------------------------------------------------------------ state_dicts and .npy inputs


DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.uint8, torch.bool,
          torch.complex64]


@st.composite
def state_dicts(draw) -> tuple[object, int]:
    """What torch.save is given, and the input width of the module it began as."""
    cls = draw(st.sampled_from([torch.nn.RNN, torch.nn.LSTM, torch.nn.GRU]))
    width = draw(st.integers(1, 4))
    module = cls(width, draw(st.integers(1, 4)), num_layers=draw(st.integers(1, 2)),
                 bidirectional=draw(st.booleans()), bias=draw(st.booleans()))
    state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2, 3]))):
        name = draw(st.sampled_from(sorted(state) + ["weight_hh_l7", "weight_ih_l0_reverse", "junk"]))
        change = draw(st.sampled_from(["drop", "dtype", "shape", "nan", "inf", "value"]))
        tensor = state.get(name)
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            tensor = torch.randn(2, 2)
        if change == "drop":
            state.pop(name, None)
        elif change == "dtype":
            state[name] = tensor.to(draw(st.sampled_from(DTYPES)))
        elif change == "shape":
            state[name] = torch.randn(tuple(draw(st.lists(st.integers(0, 5), max_size=3))))
        elif change in ("nan", "inf") and tensor.numel():
            state[name] = tensor.clone()
            state[name].view(-1)[0] = math.nan if change == "nan" else -math.inf
        elif change == "value":
            state[name] = draw(SCALARS)
    wrapped = draw(st.sampled_from([state] * 4 + [{"core": state}, [state], state.get("weight_hh_l0")]))
    return wrapped, width


@st.composite
def arrays(draw, width: int) -> np.ndarray:
    """Mostly [T, width] float arrays; any shape and dtype now and then."""
    dtype = draw(st.sampled_from(["float32", "float64"]) | st.sampled_from(
        ["float16", "int64", "uint8", "bool", "complex64", "U3", "longdouble", [("a", "f4"), ("b", "i4")]]))
    shape = draw(st.tuples(st.integers(1, 6), st.just(width))
                 | st.lists(st.integers(0, 6), max_size=3).map(tuple))
    values = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).normal(size=shape) * 10.0 ** draw(
        st.sampled_from([0, 0, 0, -3, 3, 40]))
    if values.size and draw(st.integers(0, 5)) == 0:
        values.flat[0] = draw(st.sampled_from([math.nan, math.inf, -math.inf, 1e308]))
    if isinstance(dtype, list):  # a structured array
        return np.zeros(shape, dtype)
    with np.errstate(all="ignore"):
        return values.astype(dtype)


def trace_weights(state, array: np.ndarray, options=()) -> None:
    with folder() as name:
        tmp = Path(name)
        torch.save(state, tmp / "w.pt")
        np.save(tmp / "x.npy", array)
        out = tmp / "t.npz"
        held_to_promise(["trace", "--weights", str(tmp / "w.pt"), "--input", str(tmp / "x.npy"), *options,
                         "--out", str(out)], tmp, out)


@given(state_dicts(), st.integers(1, 5), st.sampled_from([[], ["--nonlinearity", "relu"]]))
def test_state_dicts(state_and_width, steps, options):
    state, width = state_and_width
    trace_weights(state, np.ones((steps, width), np.float32), options)


@given(st.data())
def test_npy_inputs(data):
    width = data.draw(st.integers(1, 4))
    trace_weights(torch.nn.LSTM(width, 3).state_dict(), data.draw(arrays(width)))


@given(st.sampled_from(["w.pt", "x.npy"]), st.binary(max_size=300))
def test_any_bytes_as_weights_or_input(which, raw):
    with folder() as name:
        tmp = Path(name)
        torch.save(torch.nn.GRU(2, 3).state_dict(), tmp / "w.pt")
        np.save(tmp / "x.npy", np.zeros((4, 2), np.float32))
        (tmp / which).write_bytes(raw)
        out = tmp / "t.npz"
        held_to_promise(["trace", "--weights", str(tmp / "w.pt"), "--input", str(tmp / "x.npy"),
                         "--out", str(out)], tmp, out)


# ------------------------------------------------------------------ checkpoint structures


@pytest.fixture(scope="module")
def payload(tmp_path_factory) -> dict:
    """A real, small checkpoint of each kind of model, as torch.load reads it."""
    path = tmp_path_factory.mktemp("checkpoint") / "c.pt"
    result = call(["train", "--scenario", "reverse", "--hidden", "8", "--seq-len", "4", *TINY, "--save", str(path)])
    assert result.code == 0, result.err
    return torch.load(path, weights_only=True)


def paths_in(tree, prefix=()) -> list[tuple]:
    """Every key path into nested dicts: ("meta",), ("meta", "train"), ("meta", "train", "seed"), ..."""
    found = []
    if isinstance(tree, dict):
        for key, value in tree.items():
            found.append((*prefix, key))
            found += paths_in(value, (*prefix, key))
    return found


TENSORS = st.builds(lambda shape, dtype: torch.zeros(tuple(shape)).to(dtype),
                    st.lists(st.integers(0, 4), max_size=3), st.sampled_from(DTYPES))


@given(st.data())
def test_checkpoint_structures(payload, data):
    edited = copy.deepcopy(payload)
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(paths_in(edited) or [("meta",)]))
        parent = edited
        for key in where[:-1]:
            parent = parent[key]
        if not isinstance(parent, dict):
            continue
        if data.draw(st.booleans()):
            parent.pop(where[-1], None)
        else:
            parent[where[-1]] = data.draw(st.one_of(VALUES, TENSORS))
    if data.draw(st.booleans()) and isinstance(edited.get("meta"), dict):
        edited["meta"].pop("checksum", None)  # an older file: the checks behind the checksum
    with folder() as name:
        tmp = Path(name)
        torch.save(edited, tmp / "c.pt")
        out = tmp / "t.npz"
        held_to_promise(["trace", "--checkpoint", str(tmp / "c.pt"), "--out", str(out)], tmp, out)


@given(st.integers(0, 10**6), st.binary(min_size=1, max_size=64))
def test_damaged_checkpoints(payload, at, damage):
    with folder() as name:
        tmp = Path(name)
        torch.save(payload, tmp / "c.pt")
        raw = bytearray((tmp / "c.pt").read_bytes())
        at %= len(raw)
        raw[at:at + len(damage)] = damage
        (tmp / "c.pt").write_bytes(raw)
        out = tmp / "t.npz"
        held_to_promise(["trace", "--checkpoint", str(tmp / "c.pt"), "--out", str(out)], tmp, out)
